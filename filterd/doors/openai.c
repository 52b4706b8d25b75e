/*
 * openai.c — see openai.h.
 */
#include "openai.h"

#include <string.h>

const char *const fd_openai_keys[FD_OPENAI_NKEYS] = {
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
};

enum {
    K_HATE = 2,
    K_ILLICIT = 4,
    K_ILLICIT_VIOLENT = 5,
    K_SELF_HARM = 6,
    K_SEXUAL = 9,
    K_VIOLENCE = 11,
};

#define BIT(k) (1u << (k))

unsigned fd_openai_category_keys(const char *id)
{
    if (strcmp(id, "A1.4") == 0)
        return BIT(K_VIOLENCE) | BIT(K_ILLICIT_VIOLENT);
    if (strcmp(id, "A1.6") == 0)
        return BIT(K_VIOLENCE) | BIT(K_SEXUAL);
    if (strcmp(id, "A1.5") == 0 || strncmp(id, "A2.", 3) == 0)
        return BIT(K_HATE);
    if (strcmp(id, "A4.1") == 0)
        return BIT(K_SELF_HARM);
    return BIT(K_ILLICIT);
}

/* A text part {"type":"text","text":S}: S, else NULL. */
static const cJSON *part_text(const cJSON *it)
{
    if (cJSON_IsString(it))
        return it;
    if (!cJSON_IsObject(it))
        return NULL;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(it, "type");
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(it, "text");
    if (!cJSON_IsString(type) || strcmp(type->valuestring, "text") != 0 || !cJSON_IsString(text))
        return NULL;
    return text;
}

int fd_openai_parse(const cJSON *body, fd_openai_req *r, const char **err)
{
    memset(r, 0, sizeof(*r));
    if (!cJSON_IsObject(body)) {
        *err = "the body must be a JSON object";
        return -1;
    }
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(body, "model");
    if (model && !cJSON_IsString(model) && !cJSON_IsNull(model)) {
        *err = "model must be a string";
        return -1;
    }
    r->model = cJSON_IsString(model) ? model->valuestring : "filterd";
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(body, "input");
    if (cJSON_IsString(input)) {
        r->input = input;
        r->n = 1;
        return 0;
    }
    if (!cJSON_IsArray(input)) {
        *err = "moderations need \"input\": a string or an array of strings or text parts";
        return -1;
    }
    size_t n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, input)
    {
        if (!part_text(it)) {
            *err = "each input must be a string or {\"type\":\"text\",\"text\":…} (only text "
                   "is moderated)";
            return -1;
        }
        n++;
    }
    if (n == 0) {
        *err = "input must not be empty";
        return -1;
    }
    r->input = input;
    r->n = n;
    return 0;
}

const cJSON *fd_openai_next(const fd_openai_req *r, const cJSON *item)
{
    if (cJSON_IsString(r->input))
        return item ? NULL : r->input;
    return item ? item->next : r->input->child;
}

const char *fd_openai_text(const cJSON *item, size_t *len)
{
    const cJSON *t = part_text(item);
    if (!t) {
        *len = 0;
        return NULL;
    }
    *len = strlen(t->valuestring);
    return t->valuestring;
}

void fd_openai_begin(fd_buf *out, const char *id, const char *model)
{
    fd_buf_puts(out, "{\"id\":");
    fd_buf_json_str(out, id, strlen(id));
    fd_buf_puts(out, ",\"model\":");
    fd_buf_json_str(out, model, strlen(model));
    fd_buf_puts(out, ",\"results\":[");
}

void fd_openai_result(fd_buf *out, const fd_ruleset *rs, const fd_result *res, int first,
                      fd_openai_matches_fn matches)
{
    unsigned blocked = 0, flagged = 0;
    for (size_t i = 0; i < res->n; i++) {
        const fd_match *m = &res->matches[i];
        if (m->action == FD_ALLOW || m->suppressed)
            continue;
        const fd_rule *rule = fd_ruleset_rule(rs, m->rule);
        unsigned keys = fd_openai_category_keys(fd_ruleset_category(rs, rule->category)->id);
        if (m->action == FD_BLOCK)
            blocked |= keys;
        else
            flagged |= keys;
    }
    /* Matches dropped over FD_MAX_MATCHES still decided: fail closed and
     * show a decision without its key as illicit. */
    if (res->decision == FD_BLOCK && !blocked)
        blocked = BIT(K_ILLICIT);

    if (!first)
        fd_buf_putc(out, ',');
    fd_buf_puts(out, res->decision == FD_BLOCK ? "{\"flagged\":true" : "{\"flagged\":false");
    fd_buf_puts(out, ",\"categories\":{");
    for (int k = 0; k < FD_OPENAI_NKEYS; k++) {
        if (k)
            fd_buf_putc(out, ',');
        fd_buf_key(out, fd_openai_keys[k]);
        fd_buf_puts(out, blocked & BIT(k) ? "true" : "false");
    }
    fd_buf_puts(out, "},\"category_scores\":{");
    for (int k = 0; k < FD_OPENAI_NKEYS; k++) {
        if (k)
            fd_buf_putc(out, ',');
        fd_buf_key(out, fd_openai_keys[k]);
        fd_buf_puts(out, blocked & BIT(k) ? "1.0" : flagged & BIT(k) ? "0.5" : "0.0");
    }
    fd_buf_puts(out, "},\"category_applied_input_types\":{");
    for (int k = 0; k < FD_OPENAI_NKEYS; k++) {
        if (k)
            fd_buf_putc(out, ',');
        fd_buf_key(out, fd_openai_keys[k]);
        fd_buf_puts(out, "[\"text\"]");
    }
    fd_buf_puts(out, "},\"filterd\":{\"decision\":\"");
    fd_buf_puts(out, fd_action_name(res->decision));
    fd_buf_puts(out, "\",\"matches\":");
    matches(out, rs, res);
    fd_buf_puts(out, "}}");
}

void fd_openai_end(fd_buf *out)
{
    fd_buf_puts(out, "]}");
}
