/*
 * log.h — the daemon's log: one line per event on stderr.
 *
 * filterd never daemonizes (systemd-style): it runs in the foreground and
 * writes its log to stderr, where a service manager (or the terminal) picks
 * it up. Each line is
 *
 *     2026-11-22T10:15:06.123456Z filterd[PID]: LEVEL: message
 *
 * and is written with a single write(2), so lines from different threads
 * never interleave. Nothing here allocates; messages longer than the line
 * buffer are truncated.
 */
#ifndef FD_LOG_H
#define FD_LOG_H

#include <stdatomic.h>

typedef enum fd_log_level {
    FD_LOG_DEBUG = 0,
    FD_LOG_INFO = 1,
    FD_LOG_WARN = 2,
    FD_LOG_ERROR = 3,
} fd_log_level;

/* Lines below LEVEL are dropped. Default: FD_LOG_INFO. Set once at start. */
void fd_log_set_level(fd_log_level level);

/* Parse "debug" | "info" | "warn" | "error"; returns 0 or -1. */
int fd_log_parse_level(const char *s, fd_log_level *out);

void fd_log(fd_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * A rate limit for a warning that can repeat without bound (one per
 * rejected connection, say): at most FD_LOG_LIMIT_BURST lines per
 * FD_LOG_LIMIT_WINDOW_MS window; the first line of the next window that
 * has one says how many were left out. Any thread; the counts are
 * approximate under races, never the lines themselves.
 */
#define FD_LOG_LIMIT_BURST     5
#define FD_LOG_LIMIT_WINDOW_MS 10000
typedef struct fd_log_limit {
    _Atomic unsigned long long window; /* start of the current window, ms */
    _Atomic unsigned count;            /* lines in this window */
    _Atomic unsigned long long left_out;
} fd_log_limit;
#define FD_LOG_LIMIT_INIT                                                                          \
    {                                                                                              \
        0, 0, 0                                                                                    \
    }

void fd_log_limited(fd_log_limit *l, fd_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define fd_debug(...) fd_log(FD_LOG_DEBUG, __VA_ARGS__)
#define fd_info(...)  fd_log(FD_LOG_INFO, __VA_ARGS__)
#define fd_warn(...)  fd_log(FD_LOG_WARN, __VA_ARGS__)
#define fd_error(...) fd_log(FD_LOG_ERROR, __VA_ARGS__)

#endif
