/*
 * utf8.c — strict UTF-8 validation (RFC 3629) with an 8-byte ASCII fast
 * path, because every request passes through it before Hyperscan does
 * (Hyperscan's UTF-8 mode has undefined behaviour on invalid input).
 */
#include "utf8.h"

#include <string.h>

size_t fd_utf8_check(const char *buf, size_t len)
{
    const unsigned char *s = (const unsigned char *)buf;
    size_t i = 0;
    while (i < len) {
        if (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (!(w & 0x8080808080808080ull)) {
                i += 8;
                continue;
            }
        }
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        unsigned lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            n = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 3;
            if (c == 0xE0)
                lo = 0xA0; /* overlong */
            else if (c == 0xED)
                hi = 0x9F; /* surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 4;
            if (c == 0xF0)
                lo = 0x90; /* overlong */
            else if (c == 0xF4)
                hi = 0x8F; /* above U+10FFFF */
        } else {
            return i;
        }
        if (i + n > len)
            return i;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return i;
        for (size_t k = 2; k < n; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
        i += n;
    }
    return len;
}

int fd_utf8_valid(const char *buf, size_t len)
{
    return fd_utf8_check(buf, len) == len;
}

int32_t fd_utf8_decode(const char *buf, size_t len, size_t i, size_t *n)
{
    const unsigned char *s = (const unsigned char *)buf + i;
    size_t l = fd_utf8_len(s[0]);
    if (i + l > len)
        l = 1;
    *n = l;
    switch (l) {
    case 1:
        return s[0];
    case 2:
        return ((s[0] & 0x1F) << 6) | (s[1] & 0x3F);
    case 3:
        return ((s[0] & 0x0F) << 12) | ((s[1] & 0x3F) << 6) | (s[2] & 0x3F);
    default:
        return ((s[0] & 0x07) << 18) | ((s[1] & 0x3F) << 12) | ((s[2] & 0x3F) << 6) | (s[3] & 0x3F);
    }
}

size_t fd_utf8_prev(const char *buf, size_t i)
{
    const unsigned char *s = (const unsigned char *)buf;
    size_t k = i - 1;
    while (k > 0 && (s[k] & 0xC0) == 0x80 && i - k < 4)
        k--;
    return k;
}
