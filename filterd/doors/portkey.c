/*
 * portkey.c — see portkey.h.
 */
#include "portkey.h"

#include <string.h>

#include "service.h"

/* context.SIDE.text when it is a string, else NULL. */
static const cJSON *side_text(const cJSON *body, const char *side)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(body, side);
    const cJSON *t = cJSON_IsObject(s) ? cJSON_GetObjectItemCaseSensitive(s, "text") : NULL;
    return cJSON_IsString(t) ? t : NULL;
}

int fd_portkey_parse(const cJSON *body, fd_portkey_req *r, const char **err)
{
    memset(r, 0, sizeof *r);
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(body, "eventType");
    const cJSON *req = side_text(body, "request"), *resp = side_text(body, "response");
    bool after;
    if (cJSON_IsString(ev) && strcmp(ev->valuestring, "afterRequestHook") == 0)
        after = true;
    else if (cJSON_IsString(ev) && strcmp(ev->valuestring, "beforeRequestHook") == 0)
        after = false;
    else /* older gateways send no eventType: a response text means after */
        after = resp && resp->valuestring[0];
    const cJSON *t = after ? resp : req;
    if (!t) {
        *err = after ? "the hook context has no response.text (a string)"
                     : "the hook context has no request.text (a string)";
        return -1;
    }
    r->text = t->valuestring;
    r->len = strlen(t->valuestring);
    r->hook = after ? "afterRequestHook" : "beforeRequestHook";
    return 0;
}

void fd_portkey_answer(fd_buf *out, const fd_ruleset *rs, const fd_result *res)
{
    fd_buf_puts(out, res->decision == FD_BLOCK ? "{\"verdict\":false" : "{\"verdict\":true");
    fd_buf_puts(out, ",\"data\":{\"decision\":\"");
    fd_buf_puts(out, fd_action_name(res->decision));
    fd_buf_puts(out, "\",\"matches\":[");
    bool first = true;
    for (size_t i = 0; i < res->n; i++) {
        if (!fd_svc_counts(&res->matches[i]))
            continue;
        if (!first)
            fd_buf_putc(out, ',');
        first = false;
        fd_svc_match_json(out, rs, &res->matches[i], false, NULL, 0);
    }
    fd_buf_puts(out, "]}}");
}
