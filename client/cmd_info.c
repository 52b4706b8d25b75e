/*
 * cmd_info.c — `filterctl ping | version | stats | reload`.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "filterctl.h"

static int no_args(const fctl_args *args)
{
    if (args->npos) {
        fprintf(stderr, "filterctl: %s takes no arguments\n", args->cmd);
        return EXIT_USAGE;
    }
    return 0;
}

int fctl_cmd_ping(const fctl_args *args)
{
    int status = no_args(args);
    if (status)
        return status;
    filterd_client *c = fctl_connect(args, &status);
    if (!c)
        return status;
    int rc = filterd_client_ping(c);
    status = rc ? fctl_fail(c, "ping", rc) : 0;
    if (!rc)
        printf("ok\n");
    filterd_client_close(c);
    return status;
}

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "?";
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

int fctl_cmd_version(const fctl_args *args)
{
    int status = no_args(args);
    if (status)
        return status;
    filterd_client *c = fctl_connect(args, &status);
    if (!c)
        return status;
    char *json;
    int rc = filterd_client_version(c, &json);
    if (rc) {
        status = fctl_fail(c, "version", rc);
    } else if (args->json) {
        printf("%s\n", json);
    } else {
        cJSON *v = cJSON_Parse(json);
        printf("filterd %s\nhyperscan %s\nrules %s (%.0f rules)\n", str(v, "version"),
               str(v, "hyperscan"), str(v, "rules"), num(v, "rule_count"));
        cJSON_Delete(v);
    }
    free(json);
    filterd_client_close(c);
    return status;
}

/* Print a JSON object as "a.b.c: value" lines. */
static void print_flat(const cJSON *o, char *prefix, size_t plen, size_t cap)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, o)
    {
        if (!it->string)
            continue;
        int n = snprintf(prefix + plen, cap - plen, "%s%s", plen ? "." : "", it->string);
        if (n < 0 || (size_t)n >= cap - plen)
            continue;
        if (cJSON_IsObject(it)) {
            print_flat(it, prefix, plen + (size_t)n, cap);
        } else if (cJSON_IsString(it)) {
            printf("%s: %s\n", prefix, it->valuestring);
        } else if (cJSON_IsNumber(it)) {
            printf("%s: %.0f\n", prefix, it->valuedouble);
        } else if (cJSON_IsBool(it)) {
            printf("%s: %s\n", prefix, cJSON_IsTrue(it) ? "true" : "false");
        }
        prefix[plen] = '\0';
    }
}

int fctl_cmd_stats(const fctl_args *args)
{
    int status = no_args(args);
    if (status)
        return status;
    filterd_client *c = fctl_connect(args, &status);
    if (!c)
        return status;
    char *json;
    int rc = filterd_client_stats(c, &json);
    if (rc) {
        status = fctl_fail(c, "stats", rc);
    } else if (args->json) {
        printf("%s\n", json);
    } else {
        cJSON *v = cJSON_Parse(json);
        cJSON_DeleteItemFromObjectCaseSensitive(v, "id");
        char prefix[256] = "";
        print_flat(v, prefix, 0, sizeof(prefix));
        cJSON_Delete(v);
    }
    free(json);
    filterd_client_close(c);
    return status;
}

/* Exit status: 0 reloaded, 1 the new rules have errors (old rules kept). */
int fctl_cmd_reload(const fctl_args *args)
{
    int status = no_args(args);
    if (status)
        return status;
    filterd_client *c = fctl_connect(args, &status);
    if (!c)
        return status;
    char *json;
    int rc = filterd_client_reload(c, &json);
    if (rc == FILTERD_ESERVER && strcmp(filterd_client_error_code(c), "bad_rules") == 0) {
        fprintf(stderr, "%s\nfilterctl: reload failed, the daemon keeps its rules\n",
                filterd_client_error_message(c));
        status = 1;
    } else if (rc) {
        status = fctl_fail(c, "reload", rc);
    } else if (args->json) {
        printf("%s\n", json);
    } else {
        cJSON *v = cJSON_Parse(json);
        printf("reloaded: rules %s (%.0f rules)\n", str(v, "rules"), num(v, "rule_count"));
        cJSON_Delete(v);
    }
    free(json);
    filterd_client_close(c);
    return status;
}
