/*
 * portkey.h — Portkey's webhook guardrail (SPEC §6,
 * `POST /v1/webhooks/portkey`) over filterd's decisions. Portkey posts its
 * hook context — `{request:{json, text, …}, response:{json, text, …},
 * provider, requestType, metadata, eventType?}` — and reads `verdict`:
 * false fails the check (Portkey then denies or only logs, as the guardrail
 * is configured). The text checked is the response's for an
 * afterRequestHook (or when only the response has text), else the
 * request's. verdict is false exactly for a block; the answer also carries
 * `data: {decision, matches}`.
 *
 * Ownership: nothing is kept; pointers point into the caller's cJSON tree.
 */
#ifndef FD_PORTKEY_H
#define FD_PORTKEY_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "ruleset.h"
#include "scan.h"

typedef struct fd_portkey_req {
    const char *text; /* NUL-terminated */
    size_t len;
    const char *hook; /* "beforeRequestHook" | "afterRequestHook" (for meta) */
} fd_portkey_req;

/* Find the text to check in a hook context BODY. 0, or -1 with *ERR set
 * for a bad_request answer (no request.text or response.text string). */
int fd_portkey_parse(const cJSON *body, fd_portkey_req *r, const char **err);

/* The answer for RES (rule set RS). */
void fd_portkey_answer(fd_buf *out, const fd_ruleset *rs, const fd_result *res);

#endif
