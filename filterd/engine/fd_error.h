/*
 * fd_error.h — error codes and diagnostics shared by every engine module.
 *
 * Engine functions return 0 on success or one of the negative FD_E* codes;
 * fd_strerror() gives a static, human-readable string for any code.
 *
 * fd_diag collects "FILE:LINE: message" lines (the format of SPEC §3.2) so a
 * loader can report every error of a rule set, not just the first. The diag
 * owns its strings; the caller owns the fd_diag itself and calls
 * fd_diag_free() when done.
 */
#ifndef FD_ERROR_H
#define FD_ERROR_H

#include <stddef.h>

enum {
    FD_OK = 0,
    FD_ENOMEM = -1,  /* out of memory */
    FD_EIO = -2,     /* a file could not be read */
    FD_ERULES = -3,  /* the rule set has errors (see the fd_diag) */
    FD_EHS = -4,     /* Hyperscan failed at run time */
    FD_EUTF8 = -5,   /* the text is not valid UTF-8 */
    FD_EINVAL = -6,  /* bad argument */
    FD_ETOOBIG = -7, /* input exceeds a limit */
    FD_ESTATE = -8,  /* object used in the wrong state */
};

const char *fd_strerror(int err);

typedef struct fd_diag {
    char **lines; /* "FILE:LINE: message", each malloc'd, owned by the diag */
    size_t n;
    size_t cap;
} fd_diag;

#define FD_DIAG_INIT                                                                               \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void fd_diag_init(fd_diag *d);
void fd_diag_free(fd_diag *d);

/* Append "FILE:LINE: message" (LINE is 0 for a file-level error; just
 * the message when file is NULL). Allocation failure is swallowed: the diag
 * then simply holds fewer lines, and callers still see the error code. */
void fd_diag_add(fd_diag *d, const char *file, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Join all lines with '\n' into one malloc'd string (caller frees);
 * NULL if there are none or on allocation failure. */
char *fd_diag_join(const fd_diag *d);

#endif
