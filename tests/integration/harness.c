/*
 * harness.c — see harness.h.
 */
#include "harness.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

fdt_daemon fdt_d;

static const char categories_tsv[] =
    "A1.4\t宣扬恐怖主义、极端主义\tPromoting terrorism or extremism\t(1)\n"
    "A1.8\t其他法律、行政法规禁止的内容\tOther prohibited content\t(1)\n"
    "A2.1\t民族歧视内容\tEthnic discrimination\t(2)\n";

static const char test_rules[] = "# integration-test rules\n"
                                 "@category A1.4\n"
                                 "@id bomb\n"
                                 "bomb\n"
                                 "@id zhadan\n"
                                 "制造炸弹\n"
                                 "@category A1.8\n"
                                 "@action flag\n"
                                 "@id casino\n"
                                 "casino\n"
                                 "@action allow\n"
                                 "@id casino-royale\n"
                                 "casino royale\n";

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void fdt_write_file(const char *dir, const char *name, const char *content)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert(f, "cannot write %s: %s", path, strerror(errno));
    fputs(content, f);
    fclose(f);
}

static void daemon_init(fdt_daemon *d, const char *dir)
{
    memset(d, 0, sizeof(*d));
    d->errfd = -1;
    snprintf(d->dir, sizeof(d->dir), "%s", dir);
    snprintf(d->rules, sizeof(d->rules), "%s/rules", dir);
    snprintf(d->sock, sizeof(d->sock), "%s/filterd.sock", dir);
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
}

void fdt_setup(void)
{
    char tmpl[] = "/tmp/filterd-it-XXXXXX";
    cr_assert(mkdtemp(tmpl), "mkdtemp: %s", strerror(errno));
    chmod(tmpl, 0755); /* reachable by the unprivileged client of the forbidden test */
    daemon_init(&fdt_d, tmpl);
    cr_assert(mkdir(fdt_d.rules, 0755) == 0);
    fdt_write_file(fdt_d.rules, "categories.tsv", categories_tsv);
    fdt_write_file(fdt_d.rules, "test.rules", test_rules);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void reap(fdt_daemon *d)
{
    if (d->pid > 0) {
        kill(d->pid, SIGKILL);
        waitpid(d->pid, &d->status, 0);
        d->pid = 0;
    }
    if (d->reader_running) {
        pthread_join(d->reader, NULL);
        d->reader_running = false;
    }
    if (d->errfd >= 0)
        close(d->errfd);
    d->errfd = -1;
}

void fdt_teardown(void)
{
    /* Stop gracefully so that a sanitizer build reports leaks and errors
     * at exit; a test fails if the daemon did not exit cleanly. */
    int status = 0;
    if (fdt_d.pid > 0)
        status = fdt_stop(&fdt_d, SIGTERM);
    bool sanitizer = fdt_d.log && strstr(fdt_d.log, "Sanitizer");
    reap(&fdt_d);
    if (sanitizer || status != 0)
        fprintf(stderr, "---- daemon log ----\n%s\n--------\n", fdt_d.log ? fdt_d.log : "");
    free(fdt_d.log);
    fdt_d.log = NULL;
    if (fdt_d.dir[0])
        nftw(fdt_d.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    cr_expect(!sanitizer && status == 0, "daemon did not exit cleanly (status %d)", status);
}

static void *reader_main(void *arg)
{
    fdt_daemon *d = arg;
    char buf[4096];
    for (;;) {
        ssize_t n = read(d->errfd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        pthread_mutex_lock(&d->mu);
        if (n <= 0) {
            d->log_eof = true;
            pthread_cond_broadcast(&d->cv);
            pthread_mutex_unlock(&d->mu);
            return NULL;
        }
        char *p = realloc(d->log, d->loglen + (size_t)n + 1);
        if (p) {
            memcpy(p + d->loglen, buf, (size_t)n);
            d->loglen += (size_t)n;
            p[d->loglen] = '\0';
            d->log = p;
        }
        pthread_cond_broadcast(&d->cv);
        pthread_mutex_unlock(&d->mu);
        if (getenv("FDT_VERBOSE"))
            fwrite(buf, 1, (size_t)n, stderr);
    }
}

/* Wait until NEEDLE is in the log (1), the log ended (0) or timeout (0). */
static int wait_log(fdt_daemon *d, const char *needle, int timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    int found = 0;
    pthread_mutex_lock(&d->mu);
    for (;;) {
        if (needle && d->log && strstr(d->log, needle)) {
            found = 1;
            break;
        }
        if (d->log_eof)
            break;
        if (pthread_cond_timedwait(&d->cv, &d->mu, &ts) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&d->mu);
    return found;
}

int fdt_wait_log(fdt_daemon *d, const char *needle, int timeout_ms)
{
    return wait_log(d, needle, timeout_ms);
}

int fdt_start_daemon(fdt_daemon *d, const char *const *extra)
{
    const char *argv[64];
    int n = 0;
    argv[n++] = FILTERD_BIN;
    argv[n++] = "--rules";
    argv[n++] = d->rules;
    argv[n++] = "--socket";
    argv[n++] = d->sock;
    argv[n++] = "--threads";
    argv[n++] = "2";
    for (int i = 0; extra && extra[i] && n < 62; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;

    int p[2];
    cr_assert(pipe2(p, O_CLOEXEC) == 0);
    pid_t parent = getpid();
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        dup2(p[1], STDERR_FILENO);
        int devnull = open("/dev/null", O_RDWR);
        dup2(devnull, STDIN_FILENO);
        dup2(devnull, STDOUT_FILENO);
        execv(FILTERD_BIN, (char *const *)argv);
        _exit(127);
    }
    close(p[1]);
    d->pid = pid;
    d->errfd = p[0];
    d->log_eof = false;
    free(d->log);
    d->log = NULL;
    d->loglen = 0;
    cr_assert(pthread_create(&d->reader, NULL, reader_main, d) == 0);
    d->reader_running = true;
    if (wait_log(d, "info: ready:", FDT_TIMEOUT_MS))
        return 0;
    /* exited (or hung): reap it */
    fdt_wait_exit(d);
    return -1;
}

int fdt_start(const char *const *extra)
{
    return fdt_start_daemon(&fdt_d, extra);
}

static int decode(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -1;
}

int fdt_wait_exit(fdt_daemon *d)
{
    if (d->pid <= 0)
        return decode(d->status);
    /* The daemon's stderr closes when it exits: wait for that, bounded. */
    wait_log(d, NULL, FDT_TIMEOUT_MS);
    int hung = !d->log_eof;
    if (hung)
        kill(d->pid, SIGKILL);
    waitpid(d->pid, &d->status, 0);
    d->pid = 0;
    if (d->reader_running) {
        pthread_join(d->reader, NULL);
        d->reader_running = false;
    }
    close(d->errfd);
    d->errfd = -1;
    cr_expect(!(d->log && strstr(d->log, "Sanitizer")), "sanitizer report:\n%s", d->log);
    return hung ? -1 : decode(d->status);
}

int fdt_stop(fdt_daemon *d, int sig)
{
    if (d->pid <= 0)
        return -1;
    kill(d->pid, sig);
    return fdt_wait_exit(d);
}

/* ---- client connections ------------------------------------------------- */

fdt_conn *fdt_try_connect(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return NULL;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return NULL;
    }
    fdt_conn *c = calloc(1, sizeof(*c));
    cr_assert(c);
    c->fd = fd;
    return c;
}

fdt_conn *fdt_connect(const char *path)
{
    fdt_conn *c = fdt_try_connect(path);
    cr_assert(c, "connect %s: %s", path, strerror(errno));
    return c;
}

void fdt_close(fdt_conn *c)
{
    if (!c)
        return;
    close(c->fd);
    free(c->buf);
    free(c);
}

int fdt_send(fdt_conn *c, const void *s, size_t n)
{
    const char *p = s;
    int64_t deadline = now_ms() + FDT_TIMEOUT_MS;
    while (n) {
        struct pollfd pf = {.fd = c->fd, .events = POLLOUT};
        int left = (int)(deadline - now_ms());
        if (left <= 0 || poll(&pf, 1, left) <= 0)
            return -1;
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EAGAIN || errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int fdt_sends(fdt_conn *c, const char *s)
{
    return fdt_send(c, s, strlen(s));
}

/* Read more bytes into c->buf; 1 read, 0 EOF/error, -1 timeout. */
static int fill(fdt_conn *c, int64_t deadline)
{
    if (c->cap - c->len < 65536) {
        size_t cap = c->cap ? c->cap * 2 : 131072;
        char *p = realloc(c->buf, cap);
        cr_assert(p);
        c->buf = p;
        c->cap = cap;
    }
    for (;;) {
        int left = (int)(deadline - now_ms());
        if (left <= 0)
            return -1;
        struct pollfd pf = {.fd = c->fd, .events = POLLIN};
        int r = poll(&pf, 1, left);
        if (r == 0)
            return -1;
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return 0;
        }
        ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n <= 0)
            return 0;
        c->len += (size_t)n;
        return 1;
    }
}

char *fdt_readline(fdt_conn *c, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    size_t scanned = 0;
    for (;;) {
        char *nl = c->len > scanned ? memchr(c->buf + scanned, '\n', c->len - scanned) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - c->buf);
            char *s = malloc(n + 1);
            cr_assert(s);
            memcpy(s, c->buf, n);
            s[n] = '\0';
            memmove(c->buf, nl + 1, c->len - n - 1);
            c->len -= n + 1;
            return s;
        }
        scanned = c->len;
        if (fill(c, deadline) != 1)
            return NULL;
    }
}

int fdt_wait_eof(fdt_conn *c, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        c->len = 0; /* discard anything still arriving */
        int r = fill(c, deadline);
        if (r == 0)
            return 1;
        if (r < 0)
            return 0;
    }
}

char *fdt_roundtrip(fdt_conn *c, const char *req)
{
    cr_assert(fdt_sends(c, req) == 0);
    cr_assert(fdt_sends(c, "\n") == 0);
    char *line = fdt_readline(c, FDT_TIMEOUT_MS);
    cr_assert(line, "no response to %s", req);
    return line;
}

long fdt_rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long v = -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld kB", &v) == 1)
            break;
    fclose(f);
    return v;
}

static char *slurp_fd(int fd)
{
    char *buf = NULL;
    size_t len = 0;
    char tmp[4096];
    ssize_t r;
    lseek(fd, 0, SEEK_SET);
    while ((r = read(fd, tmp, sizeof(tmp))) > 0) {
        buf = realloc(buf, len + (size_t)r + 1);
        cr_assert(buf);
        memcpy(buf + len, tmp, (size_t)r);
        len += (size_t)r;
    }
    if (!buf)
        buf = calloc(1, 1);
    else
        buf[len] = '\0';
    return buf;
}

int fdt_run(const char *bin, const char *const *args, const char *stdin_text, char **out,
            char **err)
{
    const char *argv[32];
    int n = 0;
    argv[n++] = bin;
    for (int i = 0; args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    /* stdin through a pipe, stdout/stderr into anonymous files: no pipe
     * can fill up and block the child. */
    int in[2];
    cr_assert(pipe2(in, O_CLOEXEC) == 0);
    int ofd = memfd_create("out", MFD_CLOEXEC), efd = memfd_create("err", MFD_CLOEXEC);
    cr_assert(ofd >= 0 && efd >= 0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(in[0], STDIN_FILENO);
        dup2(ofd, STDOUT_FILENO);
        dup2(efd, STDERR_FILENO);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(in[0]);
    if (stdin_text) {
        ssize_t w = write(in[1], stdin_text, strlen(stdin_text));
        (void)w;
    }
    close(in[1]);
    int status;
    waitpid(pid, &status, 0);
    if (out)
        *out = slurp_fd(ofd);
    if (err)
        *err = slurp_fd(efd);
    close(ofd);
    close(efd);
    return decode(status);
}

int fdt_filterctl(const char *const *args, const char *stdin_text, char **out)
{
    return fdt_run(FILTERCTL_BIN, args, stdin_text, out, NULL);
}

cJSON *fdt_json(const char *line)
{
    cr_assert(line, "no response");
    cJSON *j = cJSON_Parse(line);
    cr_assert(cJSON_IsObject(j), "response is not a JSON object: %s", line);
    return j;
}

const char *fdt_errcode(const cJSON *resp)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(resp, "error");
    return e ? fdt_str(e, "code") : NULL;
}

const char *fdt_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}
