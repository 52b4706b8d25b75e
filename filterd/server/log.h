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

#define fd_debug(...) fd_log(FD_LOG_DEBUG, __VA_ARGS__)
#define fd_info(...)  fd_log(FD_LOG_INFO, __VA_ARGS__)
#define fd_warn(...)  fd_log(FD_LOG_WARN, __VA_ARGS__)
#define fd_error(...) fd_log(FD_LOG_ERROR, __VA_ARGS__)

#endif
