/*
 * openai.h — OpenAI's moderation API over filterd's decisions (SPEC §5):
 * the request's inputs in, `{"id":"modr-…","model":M,"results":[…]}` out.
 *
 * Mapping of the TC260 categories onto OpenAI's thirteen keys: A1.4 →
 * violence, illicit/violent; A1.6 → violence, sexual; A1.5 and A2.* → hate;
 * A4.1 → self-harm; every other category → illicit. A key is true when a
 * block match maps to it; its score is 1.0 for a block match, 0.5 for a
 * flag match only, else 0. `flagged` is true exactly when the decision is
 * block (a flag is for human review, not a refusal).
 *
 * Ownership: nothing is kept; pointers handed out point into the caller's
 * cJSON tree.
 */
#ifndef FD_OPENAI_H
#define FD_OPENAI_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "ruleset.h"
#include "scan.h"

#define FD_OPENAI_NKEYS 13

/* The keys, in OpenAI's order. */
extern const char *const fd_openai_keys[FD_OPENAI_NKEYS];

/* The keys category ID maps to: bit i = fd_openai_keys[i]. */
unsigned fd_openai_category_keys(const char *id);

/* A parsed moderation request. */
typedef struct fd_openai_req {
    const cJSON *input; /* a string, or an array of strings or text parts */
    const char *model;  /* the request's model, or "filterd" */
    size_t n;           /* number of inputs (>= 1) */
} fd_openai_req;

/*
 * Check a moderation request BODY (a parsed JSON object): `input` a
 * string, or a non-empty array of strings or of {"type":"text","text":S}
 * parts; `model` absent or a string. 0, or -1 with *ERR set to a message
 * for a bad_request answer.
 */
int fd_openai_parse(const cJSON *body, fd_openai_req *r, const char **err);

/* The I-th input's text (I < r->n; only after fd_openai_parse() accepted
 * R): NUL-terminated, *LEN its length. Linear in I for arrays: walk them
 * with fd_openai_next() instead. */
const char *fd_openai_text(const cJSON *item, size_t *len);

/* The first input item (I == 0) or the one after ITEM. */
const cJSON *fd_openai_next(const fd_openai_req *r, const cJSON *item);

/* Writes the counted matches of a result as a JSON array (the door's, so
 * that a match looks the same on every interface). */
typedef void (*fd_openai_matches_fn)(fd_buf *out, const fd_ruleset *rs, const fd_result *res);

/* `{"id":ID,"model":MODEL,"results":[` */
void fd_openai_begin(fd_buf *out, const char *id, const char *model);

/* One result object for RES (decided by rule set RS); FIRST: no comma
 * before it. */
void fd_openai_result(fd_buf *out, const fd_ruleset *rs, const fd_result *res, int first,
                      fd_openai_matches_fn matches);

/* `]}` */
void fd_openai_end(fd_buf *out);

#endif
