/*
 * aliyun.h — Aliyun Content Moderation's TextModerationPlus (SPEC §6,
 * `POST /`) over filterd's decisions, for Higress's ai-security-guard and
 * APISIX's ai-aliyun-content-moderation.
 *
 * The request: form fields, in the body (application/x-www-form-urlencoded)
 * or the query string — APISIX sends everything in the body with the RPC
 * signature fields (AccessKeyId, Signature, SignatureMethod=HMAC-SHA1, …);
 * Higress sends `Service` in the query, `ServiceParameters` in the body and
 * signs with ACS3-HMAC-SHA256 headers. Signatures are accepted, not
 * checked. `ServiceParameters` is JSON: `content` (the text), `sessionId`
 * (optional: pieces with one sessionId are one text, see
 * fd_svc_session_check), anything else ignored.
 *
 * The answer: `{Code:200, Message:"OK", RequestId, Data:{RiskLevel,
 * Result:[{Label, RiskWords, Confidence, Description}], Advice}}`.
 * RiskLevel is high for block (both gateways block at high by default),
 * low for flag, none for allow; a Result per counted match (Label: the
 * category ID, RiskWords: the matched text), or one `nonLabel` entry when
 * there is none; Advice (high only) a short answer naming the categories.
 * Data also carries `filterd: {decision, matches}`.
 *
 * Ownership: an fd_aliyun_req owns its decoded fields until
 * fd_aliyun_req_free().
 */
#ifndef FD_ALIYUN_H
#define FD_ALIYUN_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "ruleset.h"
#include "scan.h"

typedef struct fd_aliyun_req {
    fd_buf service;      /* decoded `Service` (may be empty) */
    fd_buf params;       /* decoded `ServiceParameters` */
    cJSON *json;         /* ServiceParameters parsed */
    const char *content; /* NUL-terminated, in json */
    size_t len;
    const char *session; /* sessionId, or NULL */
    size_t session_len;
} fd_aliyun_req;

/*
 * Read the fields from the form BODY[0, BLEN) and the QUERY[0, QLEN) (the
 * body's fields first). 0; -1 with *ERR set for a bad_request answer
 * (malformed form, no ServiceParameters, not JSON, no content string,
 * invalid UTF-8, a NUL character, a sessionId that is not a string of 1 to
 * 256 bytes); -2 for no memory. Free R afterwards whatever it returned.
 */
int fd_aliyun_parse(const char *body, size_t blen, const char *query, size_t qlen, fd_aliyun_req *r,
                    const char **err);
void fd_aliyun_req_free(fd_aliyun_req *r);

/* `meta` for the audit record: {"service":…,"sessionId":…}. */
void fd_aliyun_meta(fd_buf *out, const fd_aliyun_req *r);

/*
 * The answer with id REQUEST_ID for RES (rule set RS; offsets into
 * TEXT[0, LEN), whose piece starts at BASE: `filterd` gives offsets into
 * the piece, a match begun in an earlier piece from 0). BLOCKED_BEFORE: an earlier piece of the
 * session blocked (named in Result when this piece has no block match of its own).
 */
void fd_aliyun_answer(fd_buf *out, const char *request_id, const fd_ruleset *rs,
                      const fd_result *res, const char *text, size_t len, size_t base,
                      bool blocked_before);

#endif
