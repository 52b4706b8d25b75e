/*
 * utf8.h — UTF-8 validation and decoding helpers. Stateless; no allocation.
 */
#ifndef FD_UTF8_H
#define FD_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* 1 if BUF is valid UTF-8 (no overlongs, surrogates or code points above
 * U+10FFFF), else 0. */
int fd_utf8_valid(const char *buf, size_t len);

/* Offset of the first invalid byte, or LEN if BUF is valid. */
size_t fd_utf8_check(const char *buf, size_t len);

/* Decode the character at BUF[I] of valid UTF-8; stores its length in *n. */
int32_t fd_utf8_decode(const char *buf, size_t len, size_t i, size_t *n);

/* Start of the character that ends just before I (I > 0) in valid UTF-8. */
size_t fd_utf8_prev(const char *buf, size_t i);

/* Length of the character starting with lead byte C (1 for a stray byte). */
static inline size_t fd_utf8_len(unsigned char c)
{
    return c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

#endif
