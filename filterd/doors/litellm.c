/*
 * litellm.c — see litellm.h.
 */
#include "litellm.h"

#include <string.h>

#include "service.h"

/* At most this many rules are named in blocked_reason (all are in
 * `filterd`). */
#define REASON_MAX_RULES 8

static int opt_string(const cJSON *j)
{
    return !j || cJSON_IsNull(j) || cJSON_IsString(j);
}

int fd_litellm_parse(const cJSON *body, fd_litellm_req *r, const char **err)
{
    memset(r, 0, sizeof *r);
    const cJSON *texts = cJSON_GetObjectItemCaseSensitive(body, "texts");
    if (cJSON_IsArray(texts)) {
        const cJSON *t;
        cJSON_ArrayForEach(t, texts)
        {
            if (!cJSON_IsString(t)) {
                *err = "texts must be an array of strings";
                return -1;
            }
        }
        r->texts = texts;
    } else if (texts && !cJSON_IsNull(texts)) {
        *err = "texts must be an array of strings";
        return -1;
    }
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(body, "litellm_call_id");
    if (!opt_string(id) || !opt_string(cJSON_GetObjectItemCaseSensitive(body, "input_type"))) {
        *err = "litellm_call_id and input_type must be strings";
        return -1;
    }
    r->call_id = cJSON_IsString(id) ? id : NULL;
    return 0;
}

void fd_litellm_add(fd_litellm_acc *a, const fd_ruleset *rs, const fd_result *res, const char *text,
                    size_t len)
{
    if (res->decision > a->worst)
        a->worst = res->decision;
    if (a->ntexts++)
        fd_buf_putc(&a->results, ',');
    fd_buf_puts(&a->results, "{\"decision\":\"");
    fd_buf_puts(&a->results, fd_action_name(res->decision));
    fd_buf_puts(&a->results, "\",\"matches\":[");
    bool first = true;
    for (size_t i = 0; i < res->n; i++) {
        const fd_match *m = &res->matches[i];
        if (!fd_svc_counts(m))
            continue;
        if (!first)
            fd_buf_putc(&a->results, ',');
        first = false;
        fd_svc_match_json(&a->results, rs, m, false, NULL, 0);
        if (m->action != FD_BLOCK)
            continue;
        /* "rule bomb (A1.4 Promoting terrorism or extremism): "bomb"" */
        size_t named = 0;
        for (const char *p = a->reason.data; p && p < a->reason.data + a->reason.len; p++)
            named += *p == ';';
        if (named >= REASON_MAX_RULES)
            continue;
        const fd_rule *rule = fd_ruleset_rule(rs, m->rule);
        const fd_category *cat = fd_ruleset_category(rs, rule->category);
        bool en = cat->en && cat->en[0];
        fd_buf_printf(&a->reason, "rule %s (%s%s%s)", rule->id, cat->id, en ? " " : "",
                      en ? cat->en : "");
        if (m->end <= len && m->start < m->end && m->end - m->start <= 64) {
            fd_buf_puts(&a->reason, ": \"");
            fd_buf_append(&a->reason, text + m->start, m->end - m->start);
            fd_buf_putc(&a->reason, '"');
        }
        fd_buf_puts(&a->reason, ";");
    }
    fd_buf_puts(&a->results, "]}");
}

void fd_litellm_answer(fd_buf *out, const fd_litellm_acc *a)
{
    if (a->worst == FD_BLOCK) {
        fd_buf_puts(out, "{\"action\":\"BLOCKED\",\"blocked_reason\":");
        fd_buf r = FD_BUF_INIT;
        fd_buf_puts(&r, "blocked by filterd: ");
        size_t n = a->reason.len;
        if (n && a->reason.data[n - 1] == ';')
            n--; /* no separator after the last rule */
        for (size_t i = 0; i < n; i++) {
            fd_buf_putc(&r, a->reason.data[i]);
            if (a->reason.data[i] == ';')
                fd_buf_putc(&r, ' ');
        }
        if (r.oom)
            fd_buf_puts(out, "\"blocked by filterd\"");
        else
            fd_buf_json_str(out, r.data, r.len);
        fd_buf_free(&r);
    } else {
        fd_buf_puts(out, "{\"action\":\"NONE\",\"blocked_reason\":null");
    }
    fd_buf_puts(out, ",\"filterd\":{\"decision\":\"");
    fd_buf_puts(out, fd_action_name(a->worst));
    fd_buf_puts(out, "\",\"results\":[");
    if (a->results.len)
        fd_buf_append(out, a->results.data, a->results.len);
    fd_buf_puts(out, "]}}");
    if (a->results.oom || a->reason.oom)
        out->oom = true;
}

void fd_litellm_acc_free(fd_litellm_acc *a)
{
    fd_buf_free(&a->results);
    fd_buf_free(&a->reason);
}
