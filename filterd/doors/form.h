/*
 * form.h — application/x-www-form-urlencoded fields (a request body or a
 * URL's query string), as the Aliyun adapter receives them: `name=value`
 * pairs joined by '&', '+' for a space, %XX for any byte.
 *
 * The decoder is strict where leniency would hide a broken request: a '%'
 * not followed by two hex digits is an error, never passed through. It
 * does not judge the decoded bytes (the caller checks UTF-8 and JSON).
 *
 * Ownership: nothing is kept; decoded values go into the caller's buffer.
 */
#ifndef FD_FORM_H
#define FD_FORM_H

#include <stddef.h>

#include "buf.h"

/*
 * Find field NAME (compared after decoding) in the form S[0, LEN) and
 * decode its value into OUT (emptied first; NUL-terminated, the NUL not
 * counted in out->len). The first occurrence wins. Returns 1 (found), 0
 * (absent), FD_FORM_EBAD (a malformed escape anywhere in S) or
 * FD_FORM_ENOMEM.
 */
#define FD_FORM_EBAD   (-1)
#define FD_FORM_ENOMEM (-2)
int fd_form_get(const char *s, size_t len, const char *name, fd_buf *out);

/* Check the whole form S[0, LEN): 0 or FD_FORM_EBAD. */
int fd_form_valid(const char *s, size_t len);

#endif
