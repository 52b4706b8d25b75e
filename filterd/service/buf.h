/*
 * buf.h — growable byte buffers and the JSON writer used for responses.
 *
 * Responses are written straight into a connection's reusable output
 * buffer instead of being built as cJSON trees and printed: once a buffer
 * has grown to its working size, writing a response allocates nothing.
 *
 * Errors are sticky: when a buffer cannot grow, `oom` is set, every later
 * append is a no-op, and the owner checks `oom` once at the end (and may
 * truncate back to a mark to write an error instead).
 *
 * Ownership: the caller owns the fd_buf and frees its data with
 * fd_buf_free(). An fd_buf initialised with FD_BUF_INIT (all zero) is empty.
 */
#ifndef FD_BUF_H
#define FD_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fd_buf {
    char *data;
    size_t len;
    size_t cap;
    bool oom;
} fd_buf;

#define FD_BUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0, false                                                                          \
    }

void fd_buf_free(fd_buf *b);

/* Make room for EXTRA more bytes after len. 0 or -1 (oom set). */
int fd_buf_reserve(fd_buf *b, size_t extra);

void fd_buf_append(fd_buf *b, const void *p, size_t n);
void fd_buf_puts(fd_buf *b, const char *s);
void fd_buf_putc(fd_buf *b, char c);
void fd_buf_printf(fd_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fd_buf_u64(fd_buf *b, uint64_t v);
void fd_buf_i64(fd_buf *b, int64_t v);

/* S (N bytes, assumed UTF-8) as a quoted JSON string: '"', '\\' and control
 * characters escaped, everything else copied. */
void fd_buf_json_str(fd_buf *b, const char *s, size_t n);

/* "KEY": with KEY a plain ASCII literal (no escaping). */
void fd_buf_key(fd_buf *b, const char *key);

#endif
