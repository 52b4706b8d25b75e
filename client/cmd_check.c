/*
 * cmd_check.c — `filterctl check [TEXT|-]`.
 *
 * Prints the decision and each match: action, category (id and name, the
 * names taken from the daemon's `version` reply), rule, byte span and the
 * matched text. Exit status is the decision: 0 allow, 1 flag, 2 block.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "filterctl.h"

/* Read all of stdin into a malloc'd buffer. */
static char *read_stdin(size_t *len)
{
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    for (;;) {
        if (n == cap) {
            char *p = realloc(buf, cap *= 2);
            if (!p) {
                free(buf);
                return NULL;
            }
            buf = p;
        }
        size_t r = fread(buf + n, 1, cap - n, stdin);
        n += r;
        if (r == 0)
            break;
    }
    if (ferror(stdin)) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* The daemon's categories ({"id","zh","en"} objects) from `version`, or NULL. */
static cJSON *fetch_categories(filterd_client *c)
{
    char *json = NULL;
    if (filterd_client_version(c, &json) != 0)
        return NULL;
    cJSON *v = cJSON_Parse(json);
    free(json);
    return v;
}

static const char *category_name(const cJSON *version, const char *id)
{
    const char *lang = getenv("LC_ALL");
    if (!lang || !*lang)
        lang = getenv("LANG");
    const char *key = lang && strncmp(lang, "zh", 2) == 0 ? "zh" : "en";
    const cJSON *cats = cJSON_GetObjectItemCaseSensitive(version, "categories");
    const cJSON *cat;
    cJSON_ArrayForEach(cat, cats)
    {
        const cJSON *cid = cJSON_GetObjectItemCaseSensitive(cat, "id");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(cat, key);
        if (cJSON_IsString(cid) && strcmp(cid->valuestring, id) == 0 && cJSON_IsString(name))
            return name->valuestring;
    }
    return "";
}

/* Print TEXT[start, end) quoted, control characters escaped. */
static void print_excerpt(const char *text, size_t len, uint32_t start, uint32_t end)
{
    if (start > end || end > len) {
        fputs("?", stdout);
        return;
    }
    putchar('"');
    for (uint32_t i = start; i < end; i++) {
        unsigned char ch = (unsigned char)text[i];
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20 || ch == 0x7f)
            printf("\\x%02x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

static const char *const action_names[] = {"allow", "flag", "block"};

int fctl_cmd_check(const fctl_args *args)
{
    if (args->npos > 1) {
        fprintf(stderr, "filterctl: check takes one TEXT argument (quote it) or '-' for stdin\n");
        return EXIT_USAGE;
    }
    char *text;
    size_t len;
    char *owned = NULL;
    if (args->npos == 0 || strcmp(args->pos[0], "-") == 0) {
        owned = text = read_stdin(&len);
        if (!text) {
            fprintf(stderr, "filterctl: cannot read stdin\n");
            return EXIT_SOFTWARE;
        }
    } else {
        text = args->pos[0];
        len = strlen(text);
    }

    int status;
    filterd_client *c = fctl_connect(args, &status);
    if (!c) {
        free(owned);
        return status;
    }
    filterd_result res;
    int rc =
        filterd_client_check(c, text, len, NULL, args->explain ? FILTERD_CHECK_EXPLAIN : 0, &res);
    if (rc != 0) {
        if (args->json && res.raw)
            printf("%s\n", res.raw);
        status = fctl_fail(c, "check", rc);
        goto out;
    }
    status = (int)res.decision;
    if (args->json) {
        printf("%s\n", res.raw);
        goto out;
    }

    cJSON *version = res.nmatches ? fetch_categories(c) : NULL;
    printf("%s\n", action_names[res.decision]);
    for (size_t i = 0; i < res.nmatches; i++) {
        const filterd_match *m = &res.matches[i];
        printf("  %-5s %-6s %s  rule %s  bytes %u-%u  ", action_names[m->action], m->category,
               version ? category_name(version, m->category) : "", m->rule, m->start, m->end);
        print_excerpt(text, len, m->start, m->end);
        if (m->suppressed)
            fputs("  (suppressed)", stdout);
        putchar('\n');
    }
    cJSON_Delete(version);
out:
    filterd_result_free(&res);
    filterd_client_close(c);
    free(owned);
    return status;
}
