/*
 * azure.h — Azure AI Content Safety's `text:analyze` over filterd's
 * decisions (SPEC §6), for Kong's ai-azure-content-safety and LiteLLM's
 * Azure guardrail: `{text, categories?, blocklistNames?,
 * haltOnBlocklistHit?, outputType?}` in, `{blocklistsMatch,
 * categoriesAnalysis}` out.
 *
 * A block gives severity 6 in every category the request lists (all four
 * when it lists none), so any threshold a caller can set (Kong's
 * rejection_level, LiteLLM's severity_threshold, both at most 6 in the
 * four-level scale) rejects it, and its block matches as blocklist hits
 * (blocklistName: the category ID, blocklistItemId: the rule, text: what
 * matched). Allow and flag give severity 0 and no blocklist hit: the
 * caller lets them pass (a flag is in the audit log for review). The
 * answer also carries `filterd: {decision, matches}`; callers ignore
 * members they do not know.
 *
 * Ownership: nothing is kept; pointers in a request point into the
 * caller's cJSON tree.
 */
#ifndef FD_AZURE_H
#define FD_AZURE_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "ruleset.h"
#include "scan.h"

/* Azure's four harm categories, in its order. */
#define FD_AZURE_NCATS 4
extern const char *const fd_azure_categories[FD_AZURE_NCATS];

typedef struct fd_azure_req {
    const char *text; /* NUL-terminated */
    size_t len;
    unsigned cats; /* bit i: fd_azure_categories[i] is asked for */
} fd_azure_req;

/*
 * Check a text:analyze BODY: `text` a string; `categories` absent, null,
 * an empty object (an empty Lua table as Kong encodes it) or an array of
 * the four names; `blocklistNames` absent, null, an empty object or an
 * array of strings; `haltOnBlocklistHit` absent, null or a boolean;
 * `outputType` absent, null, "FourSeverityLevels" or
 * "EightSeverityLevels". 0, or -1 with *ERR set for a bad_request answer.
 */
int fd_azure_parse(const cJSON *body, fd_azure_req *r, const char **err);

/* The answer for R decided as RES by rule set RS (RES's offsets point
 * into r->text). */
void fd_azure_answer(fd_buf *out, const fd_azure_req *r, const fd_ruleset *rs,
                     const fd_result *res);

#endif
