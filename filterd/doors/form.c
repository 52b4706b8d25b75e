/*
 * form.c — see form.h.
 */
#include "form.h"

#include <string.h>

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode S[0, LEN) (one name or value) into OUT, appending. 0 or
 * FD_FORM_EBAD. */
static int decode(const char *s, size_t len, fd_buf *out)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '+') {
            fd_buf_putc(out, ' ');
        } else if (c == '%') {
            if (len - i < 3)
                return FD_FORM_EBAD;
            int a = hexval((unsigned char)s[i + 1]), b = hexval((unsigned char)s[i + 2]);
            if (a < 0 || b < 0)
                return FD_FORM_EBAD;
            fd_buf_putc(out, (char)(a * 16 + b));
            i += 2;
        } else {
            fd_buf_putc(out, (char)c);
        }
    }
    return 0;
}

int fd_form_valid(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '%')
            continue;
        if (len - i < 3 || hexval((unsigned char)s[i + 1]) < 0 ||
            hexval((unsigned char)s[i + 2]) < 0)
            return FD_FORM_EBAD;
        i += 2;
    }
    return 0;
}

int fd_form_get(const char *s, size_t len, const char *name, fd_buf *out)
{
    out->len = 0;
    if (fd_form_valid(s, len) != 0)
        return FD_FORM_EBAD;
    size_t nlen = strlen(name);
    fd_buf key = FD_BUF_INIT;
    int found = 0;
    for (size_t i = 0; i <= len && !found;) {
        const char *amp = memchr(s + i, '&', len - i);
        size_t end = amp ? (size_t)(amp - s) : len;
        const char *eq = memchr(s + i, '=', end - i);
        size_t kend = eq ? (size_t)(eq - s) : end;
        key.len = 0;
        decode(s + i, kend - i, &key);
        if (key.oom) {
            fd_buf_free(&key);
            return FD_FORM_ENOMEM;
        }
        if (key.len == nlen && (nlen == 0 || memcmp(key.data, name, nlen) == 0)) {
            if (eq)
                decode(eq + 1, end - kend - 1, out);
            found = 1;
        }
        if (!amp)
            break;
        i = end + 1;
    }
    fd_buf_free(&key);
    fd_buf_putc(out, '\0');
    if (out->oom)
        return FD_FORM_ENOMEM;
    out->len--;
    return found;
}
