/*
 * log.c — see log.h.
 */
#include "log.h"

#include <stdarg.h>
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

void fd_log(fd_log_level level, const char *fmt, ...)
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

    va_list ap;
    va_start(ap, fmt);
    n = vsnprintf(line + len, sizeof(line) - len - 1, fmt, ap);
    va_end(ap);
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
