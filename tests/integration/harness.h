/*
 * harness.h — drive the real filterd from Criterion tests.
 *
 * fdt_start() writes a small rule directory into a fresh temporary
 * directory, starts build/filterd on a socket there with stderr on a pipe,
 * and returns once the daemon has logged its "ready:" line (bounded wait,
 * no sleeps). A reader thread keeps draining the daemon's stderr into a
 * buffer, so the daemon never blocks on logging and tests can wait for a
 * log line with fdt_wait_log().
 *
 * The daemon gets PR_SET_PDEATHSIG(SIGKILL): if a test process dies on an
 * assertion, its daemon dies with it. fdt_teardown() (the suites' .fini)
 * kills it if still running and removes the temporary directory.
 *
 * Every wait here is bounded (FDT_TIMEOUT_MS) so a broken daemon fails a
 * test instead of hanging the suite.
 */
#ifndef FDT_HARNESS_H
#define FDT_HARNESS_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#define FDT_TIMEOUT_MS 10000

typedef struct fdt_daemon {
    pid_t pid;            /* 0 when not running */
    int status;           /* wait status once reaped */
    char dir[PATH_MAX];   /* temporary directory */
    char rules[PATH_MAX]; /* dir/rules */
    char sock[PATH_MAX];  /* dir/filterd.sock */
    int errfd;
    pthread_t reader;
    bool reader_running;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *log; /* stderr so far, NUL-terminated */
    size_t loglen;
    bool log_eof;
} fdt_daemon;

extern fdt_daemon fdt_d; /* the daemon of the current test */

/* Create the temporary directory and rule files (no daemon yet). */
void fdt_setup(void);
/* Kill the daemon if it runs, remove the temporary directory. */
void fdt_teardown(void);

/*
 * Start filterd with --rules, --socket and --threads 2 plus EXTRA (a NULL-
 * terminated list, may be NULL). Returns 0 once it logged "ready:", or -1
 * if it exited first (d->status holds its wait status) or timed out.
 */
int fdt_start_daemon(fdt_daemon *d, const char *const *extra);
int fdt_start(const char *const *extra); /* on fdt_d */

/* 1 once NEEDLE appears in the daemon's stderr within TIMEOUT_MS, else 0. */
int fdt_wait_log(fdt_daemon *d, const char *needle, int timeout_ms);

/* Send SIG and reap the daemon (SIGKILL after the timeout). Returns the
 * exit status, or 128+signal if killed by a signal, or -1. */
int fdt_stop(fdt_daemon *d, int sig);

/* Wait (bounded) for a daemon that exits by itself; like fdt_stop. */
int fdt_wait_exit(fdt_daemon *d);

/* A client connection with a line buffer. */
typedef struct fdt_conn {
    int fd;
    char *buf;
    size_t len, cap;
} fdt_conn;

/* Connect to PATH; aborts the test on failure. */
fdt_conn *fdt_connect(const char *path);
/* Connect; returns NULL on failure (errno set). */
fdt_conn *fdt_try_connect(const char *path);
void fdt_close(fdt_conn *c);
/* Write all of S (N bytes); 0 or -1. */
int fdt_send(fdt_conn *c, const void *s, size_t n);
int fdt_sends(fdt_conn *c, const char *s);
/* Next line without '\n' (malloc'd; caller frees), or NULL on EOF, error
 * or timeout. */
char *fdt_readline(fdt_conn *c, int timeout_ms);
/* 1 if the peer closed the connection (EOF/reset) within TIMEOUT_MS. */
int fdt_wait_eof(fdt_conn *c, int timeout_ms);

/* Send one request line and return its response (caller frees). */
char *fdt_roundtrip(fdt_conn *c, const char *req);

/* VmRSS of PID in KiB, or -1. */
long fdt_rss_kib(pid_t pid);

/* Run BIN with ARGS (NULL-terminated, without argv[0]), STDIN_TEXT on its
 * stdin if not NULL. Returns its exit status; its stdout and stderr go to
 * *OUT and *ERR (malloc'd, NUL-terminated) when those are not NULL. */
int fdt_run(const char *bin, const char *const *args, const char *stdin_text, char **out,
            char **err);
/* fdt_run(FILTERCTL_BIN, …). */
int fdt_filterctl(const char *const *args, const char *stdin_text, char **out);

/* Parse a response line (asserts it is a JSON object); caller deletes. */
struct cJSON *fdt_json(const char *line);
/* The error code of a response, or NULL if it is not an error. */
const char *fdt_errcode(const struct cJSON *resp);
/* The string field KEY of an object, or NULL. */
const char *fdt_str(const struct cJSON *o, const char *key);

/* Write FILE under the daemon's rule directory. */
void fdt_write_file(const char *dir, const char *name, const char *content);

#endif
