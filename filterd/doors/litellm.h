/*
 * litellm.h — LiteLLM's generic guardrail API (SPEC §6,
 * `POST /beta/litellm_basic_guardrail_api`) over filterd's decisions:
 * `{texts:[…], input_type, litellm_call_id, …}` in, `{action, blocked_reason}`
 * out. LiteLLM raises (blocks the call) exactly when action is "BLOCKED";
 * "NONE" lets it through unchanged (no `texts` in the answer: filterd never
 * rewrites a text). Every text is one check; the answer is BLOCKED when any
 * of them is a block, and `blocked_reason` names the rules. The answer
 * also carries `filterd: {decision, results:[{decision, matches}]}`.
 *
 * Ownership: nothing is kept; pointers point into the caller's cJSON tree
 * or buffers.
 */
#ifndef FD_LITELLM_H
#define FD_LITELLM_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "ruleset.h"
#include "scan.h"

typedef struct fd_litellm_req {
    const cJSON *texts;   /* an array of strings, or NULL (nothing to check) */
    const cJSON *call_id; /* litellm_call_id when a string (the audit id), else NULL */
} fd_litellm_req;

/* Check a guardrail BODY: `texts` absent, null or an array of strings;
 * `litellm_call_id` and `input_type` absent, null or strings. 0, or -1
 * with *ERR set for a bad_request answer. */
int fd_litellm_parse(const cJSON *body, fd_litellm_req *r, const char **err);

/* Accumulates the per-text results of one request. */
typedef struct fd_litellm_acc {
    fd_action worst;
    size_t ntexts;
    fd_buf results; /* `{…},{…}` */
    fd_buf reason;  /* blocked_reason's text */
} fd_litellm_acc;

/* Add the result RES (rule set RS) of the next text TEXT (LEN bytes). */
void fd_litellm_add(fd_litellm_acc *a, const fd_ruleset *rs, const fd_result *res, const char *text,
                    size_t len);

/* The answer for everything added to A. */
void fd_litellm_answer(fd_buf *out, const fd_litellm_acc *a);

/* Free A's buffers. */
void fd_litellm_acc_free(fd_litellm_acc *a);

#endif
