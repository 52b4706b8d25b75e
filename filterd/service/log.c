/*
 * log.c — see log.h.
 */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static fd_log_level g_level = FD_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void fd_log_set_level(fd_log_level level)
{
    g_level = level;
}

int fd_log_parse_level(const char *s, fd_log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (fd_log_level)i;
            return 0;
        }
    }
    return -1;
}

static void vlog(fd_log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

void fd_log(fd_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(level, fmt, ap);
    va_end(ap);
}

void fd_log_limited(fd_log_limit *l, fd_log_level level, const char *fmt, ...)
{
    if (level < g_level)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    unsigned long long now =
        (unsigned long long)ts.tv_sec * 1000 + (unsigned long long)ts.tv_nsec / 1000000;
    unsigned long long start = atomic_load(&l->window);
    if (now - start >= FD_LOG_LIMIT_WINDOW_MS &&
        atomic_compare_exchange_strong(&l->window, &start, now)) {
        atomic_store(&l->count, 0);
        unsigned long long left = atomic_exchange(&l->left_out, 0);
        if (left)
            fd_log(level, "%llu similar messages left out in the last %llu s", left,
                   (now - start) / 1000);
    }
    if (atomic_fetch_add(&l->count, 1) >= FD_LOG_LIMIT_BURST) {
        atomic_fetch_add(&l->left_out, 1);
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vlog(level, fmt, ap);
    va_end(ap);
}

static void vlog(fd_log_level level, const char *fmt, va_list ap)
{
    if (level < g_level)
        return;

    char line[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);

    int n = snprintf(line, sizeof(line),
                     "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ filterd[%ld]: %s: ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)tv.tv_usec,
                     (long)getpid(), level_names[level]);
    if (n < 0)
        return;
    size_t len = (size_t)n;

    n = vsnprintf(line + len, sizeof(line) - len - 1, fmt, ap);
    if (n < 0)
        return;
    len += (size_t)n;
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2; /* truncated */
    line[len++] = '\n';

    /* One write per line: stderr is shared by all threads. A failed log
     * write has nowhere to be reported, so it is ignored. */
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
