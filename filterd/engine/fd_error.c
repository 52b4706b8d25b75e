/*
 * fd_error.c — error strings and the "FILE:LINE: message" diagnostics list.
 */
#include "fd_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *fd_strerror(int err)
{
    switch (err) {
    case FD_OK:
        return "success";
    case FD_ENOMEM:
        return "out of memory";
    case FD_EIO:
        return "I/O error";
    case FD_ERULES:
        return "the rule set has errors";
    case FD_EHS:
        return "Hyperscan error";
    case FD_EUTF8:
        return "invalid UTF-8";
    case FD_EINVAL:
        return "invalid argument";
    case FD_ETOOBIG:
        return "input too large";
    case FD_ESTATE:
        return "invalid state";
    }
    return "unknown error";
}

void fd_diag_init(fd_diag *d)
{
    d->lines = NULL;
    d->n = d->cap = 0;
}

void fd_diag_free(fd_diag *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->lines[i]);
    free(d->lines);
    fd_diag_init(d);
}

void fd_diag_add(fd_diag *d, const char *file, unsigned line, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        char **p = realloc(d->lines, cap * sizeof *p);
        if (!p)
            return;
        d->lines = p;
        d->cap = cap;
    }
    char *s = NULL;
    int r = file ? asprintf(&s, "%s:%u: %s", file, line, msg) : asprintf(&s, "%s", msg);
    if (r < 0)
        return;
    d->lines[d->n++] = s;
}

char *fd_diag_join(const fd_diag *d)
{
    size_t total = 0;
    for (size_t i = 0; i < d->n; i++)
        total += strlen(d->lines[i]) + 1;
    if (!total)
        return NULL;
    char *s = malloc(total);
    if (!s)
        return NULL;
    char *p = s;
    for (size_t i = 0; i < d->n; i++) {
        size_t l = strlen(d->lines[i]);
        memcpy(p, d->lines[i], l);
        p += l;
        *p++ = '\n';
    }
    p[-1] = '\0';
    return s;
}
