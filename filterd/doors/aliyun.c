/*
 * aliyun.c — see aliyun.h.
 */
#include "aliyun.h"

#include <string.h>

#include "form.h"
#include "service.h"
#include "utf8.h"

/* Field NAME from the body, else from the query, into OUT: 1, 0 or < 0. */
static int field(const char *body, size_t blen, const char *query, size_t qlen, const char *name,
                 fd_buf *out)
{
    int rc = fd_form_get(body, blen, name, out);
    if (rc != 0)
        return rc;
    return fd_form_get(query, qlen, name, out);
}

int fd_aliyun_parse(const char *body, size_t blen, const char *query, size_t qlen, fd_aliyun_req *r,
                    const char **err)
{
    memset(r, 0, sizeof *r);
    int rc = field(body, blen, query, qlen, "Service", &r->service);
    if (rc >= 0)
        rc = field(body, blen, query, qlen, "ServiceParameters", &r->params);
    if (rc == FD_FORM_ENOMEM)
        return -2;
    if (rc == FD_FORM_EBAD) {
        *err = "the form fields are malformed (a % not followed by two hex digits)";
        return -1;
    }
    if (rc == 0) {
        *err = "TextModerationPlus needs ServiceParameters (form or query field)";
        return -1;
    }
    if (!fd_utf8_valid(r->service.data ? r->service.data : "", r->service.len) ||
        !fd_utf8_valid(r->params.data, r->params.len)) {
        *err = "Service and ServiceParameters must be UTF-8";
        return -1;
    }
    if (memchr(r->params.data, '\0', r->params.len) ||
        memmem(r->params.data, r->params.len, "\\u0000", 6)) {
        *err = "NUL characters are not supported";
        return -1;
    }
    r->json = cJSON_ParseWithLength(r->params.data, r->params.len);
    if (!cJSON_IsObject(r->json)) {
        *err = "ServiceParameters must be a JSON object";
        return -1;
    }
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(r->json, "content");
    if (!cJSON_IsString(c)) {
        *err = "ServiceParameters needs \"content\" (a string)";
        return -1;
    }
    r->content = c->valuestring;
    r->len = strlen(c->valuestring);
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(r->json, "sessionId");
    if (s && !cJSON_IsNull(s)) {
        size_t n = cJSON_IsString(s) ? strlen(s->valuestring) : 0;
        if (n == 0 || n > 256) {
            *err = "sessionId must be a string of 1 to 256 bytes";
            return -1;
        }
        r->session = s->valuestring;
        r->session_len = n;
    }
    return 0;
}

void fd_aliyun_req_free(fd_aliyun_req *r)
{
    fd_buf_free(&r->service);
    fd_buf_free(&r->params);
    cJSON_Delete(r->json);
    r->json = NULL;
}

void fd_aliyun_meta(fd_buf *out, const fd_aliyun_req *r)
{
    fd_buf_puts(out, "{\"service\":");
    fd_buf_json_str(out, r->service.data ? r->service.data : "", r->service.len);
    if (r->session) {
        fd_buf_puts(out, ",\"sessionId\":");
        fd_buf_json_str(out, r->session, r->session_len);
    }
    fd_buf_putc(out, '}');
}

void fd_aliyun_answer(fd_buf *out, const char *request_id, const fd_ruleset *rs,
                      const fd_result *res, const char *text, size_t len, size_t base,
                      bool blocked_before)
{
    const char *level = res->decision == FD_BLOCK  ? "high"
                        : res->decision == FD_FLAG ? "low"
                                                   : "none";
    fd_buf_puts(out, "{\"Code\":200,\"Message\":\"OK\",\"RequestId\":");
    fd_buf_json_str(out, request_id, strlen(request_id));
    fd_buf_puts(out, ",\"Data\":{\"RiskLevel\":\"");
    fd_buf_puts(out, level);
    fd_buf_puts(out, "\",\"Result\":[");
    bool first = true, own_block = false;
    for (size_t i = 0; i < res->n; i++) {
        const fd_match *m = &res->matches[i];
        if (!fd_svc_counts(m))
            continue;
        const fd_rule *rule = fd_ruleset_rule(rs, m->rule);
        const fd_category *cat = fd_ruleset_category(rs, rule->category);
        own_block |= m->action == FD_BLOCK;
        if (!first)
            fd_buf_putc(out, ',');
        first = false;
        fd_buf_puts(out, "{\"Label\":");
        fd_buf_json_str(out, cat->id, strlen(cat->id));
        fd_buf_puts(out, ",\"RiskWords\":");
        if (m->end <= len && m->start <= m->end)
            fd_buf_json_str(out, text + m->start, m->end - m->start);
        else
            fd_buf_puts(out, "\"\"");
        fd_buf_puts(out, m->action == FD_BLOCK ? ",\"Confidence\":100.0" : ",\"Confidence\":50.0");
        fd_buf_puts(out, ",\"Description\":");
        const char *d = cat->en ? cat->en : cat->id;
        fd_buf_json_str(out, d, strlen(d));
        fd_buf_putc(out, '}');
    }
    if (res->decision == FD_BLOCK && blocked_before && !own_block) {
        if (!first)
            fd_buf_putc(out, ',');
        first = false;
        fd_buf_puts(out, "{\"Label\":\"session_blocked\",\"RiskWords\":\"\",\"Confidence\":100.0,"
                         "\"Description\":\"an earlier piece of this session was blocked\"}");
    } else if (first) {
        /* Higress reads Result[0] when it denies: never leave it empty. */
        fd_buf_puts(out, res->decision == FD_BLOCK
                             ? "{\"Label\":\"filterd\",\"RiskWords\":\"\",\"Confidence\":100.0,"
                               "\"Description\":\"blocked by filterd\"}"
                             : "{\"Label\":\"nonLabel\",\"Description\":\"no risk detected\"}");
    }
    fd_buf_puts(out, "]");
    if (res->decision == FD_BLOCK)
        fd_buf_puts(out, ",\"Advice\":[{\"Answer\":\"This content was blocked by the content "
                         "safety filter.\"}]");
    fd_buf_puts(out, ",\"filterd\":{\"decision\":\"");
    fd_buf_puts(out, fd_action_name(res->decision));
    fd_buf_puts(out, "\",\"matches\":[");
    first = true;
    for (size_t i = 0; i < res->n; i++) {
        if (!fd_svc_counts(&res->matches[i]))
            continue;
        if (!first)
            fd_buf_putc(out, ',');
        first = false;
        fd_match m = res->matches[i]; /* offsets into this piece */
        m.start = m.start > base ? (uint32_t)(m.start - base) : 0;
        m.end = m.end > base ? (uint32_t)(m.end - base) : 0;
        fd_svc_match_json(out, rs, &m, false, NULL, 0);
    }
    fd_buf_puts(out, "]}}}");
}
