/*
 * buf.c — see buf.h.
 */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fd_buf_free(fd_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->oom = false;
}

int fd_buf_reserve(fd_buf *b, size_t extra)
{
    if (b->oom)
        return -1;
    if (b->cap - b->len >= extra)
        return 0;
    size_t need = b->len + extra;
    if (need < b->len) {
        b->oom = true;
        return -1;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->oom = true;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void fd_buf_append(fd_buf *b, const void *p, size_t n)
{
    if (n == 0 || fd_buf_reserve(b, n) != 0)
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void fd_buf_puts(fd_buf *b, const char *s)
{
    fd_buf_append(b, s, strlen(s));
}

void fd_buf_putc(fd_buf *b, char c)
{
    if (fd_buf_reserve(b, 1) != 0)
        return;
    b->data[b->len++] = c;
}

void fd_buf_printf(fd_buf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(small)) {
        fd_buf_append(b, small, (size_t)n);
        return;
    }
    if (fd_buf_reserve(b, (size_t)n + 1) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void fd_buf_u64(fd_buf *b, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    fd_buf_append(b, tmp + i, sizeof(tmp) - i);
}

void fd_buf_i64(fd_buf *b, int64_t v)
{
    if (v < 0) {
        fd_buf_putc(b, '-');
        fd_buf_u64(b, (uint64_t)0 - (uint64_t)v);
    } else {
        fd_buf_u64(b, (uint64_t)v);
    }
}

void fd_buf_json_str(fd_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    /* Worst case every byte becomes \u00XX: reserve once, then write
     * without per-byte checks. */
    if (fd_buf_reserve(b, n * 6 + 2) != 0)
        return;
    char *o = b->data + b->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f) {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"':
            *o++ = '"';
            break;
        case '\\':
            *o++ = '\\';
            break;
        case '\n':
            *o++ = 'n';
            break;
        case '\r':
            *o++ = 'r';
            break;
        case '\t':
            *o++ = 't';
            break;
        case '\b':
            *o++ = 'b';
            break;
        case '\f':
            *o++ = 'f';
            break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
}

void fd_buf_key(fd_buf *b, const char *key)
{
    fd_buf_putc(b, '"');
    fd_buf_puts(b, key);
    fd_buf_putc(b, '"');
    fd_buf_putc(b, ':');
}
