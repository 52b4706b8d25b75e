/*
 * auditlog.c — the audit log's chain, its writes, and its verification.
 *
 * Why a combining writer: every decision must be on disk (write(2)
 * returned) before its response leaves, and there is one chain for all
 * threads. A thread that finds the log busy queues its batch and waits;
 * the thread writing takes every queued batch into its next write. So the
 * cost of auditing is one system call per group of decisions, not per
 * decision, and the chain order is simply the write order.
 */
#include "auditlog.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hash.h"

#define ZEROS "0000000000000000000000000000000000000000000000000000000000000000"

typedef struct waiter {
    fd_audit_batch *b;
    int done;
    int status;
    struct waiter *next;
} waiter;

struct fd_auditlog {
    char *path; /* NULL: standard output */
    int fd;
    fd_audit_fsync mode;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int writing;         /* a thread is writing (it alone touches the chain) */
    waiter *head, *tail; /* batches waiting for the next write */
    char prev[65];       /* SHA-256 of the last line in the file */
    uint64_t next_seq;
    off_t size;         /* file size after the last good write */
    fd_sha256_reuse dg; /* the writer's digest of each line (one context, reused) */
    char *wbuf;         /* the writer's assembly buffer */
    size_t wcap;
    fd_auditlog_stats st;
};

void fd_audit_batch_init(fd_audit_batch *b)
{
    memset(b, 0, sizeof *b);
}

void fd_audit_batch_free(fd_audit_batch *b)
{
    free(b->buf);
    free(b->rec);
    fd_audit_batch_init(b);
}

void fd_audit_batch_clear(fd_audit_batch *b)
{
    b->len = 0;
    b->n = 0;
}

int fd_audit_batch_add(fd_audit_batch *b, const char *head, size_t hl, const char *body, size_t bl)
{
    if (b->len + hl + bl > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + hl + bl)
            cap *= 2;
        char *p = realloc(b->buf, cap);
        if (!p)
            return FD_ENOMEM;
        b->buf = p;
        b->cap = cap;
    }
    if (3 * (b->n + 1) > b->rcap) {
        size_t cap = b->rcap ? b->rcap * 2 : 48;
        size_t *p = realloc(b->rec, cap * sizeof *p);
        if (!p)
            return FD_ENOMEM;
        b->rec = p;
        b->rcap = cap;
    }
    b->rec[3 * b->n] = b->len;
    b->rec[3 * b->n + 1] = hl;
    b->rec[3 * b->n + 2] = bl;
    memcpy(b->buf + b->len, head, hl);
    memcpy(b->buf + b->len + hl, body, bl);
    b->len += hl + bl;
    b->n++;
    return 0;
}

/* Read N bytes at OFF. */
static int pread_all(int fd, char *buf, size_t n, off_t off)
{
    while (n) {
        ssize_t r = pread(fd, buf, n, off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        buf += r;
        n -= (size_t)r;
        off += r;
    }
    return 0;
}

static int write_all(int fd, const char *buf, size_t n)
{
    while (n) {
        ssize_t r = write(fd, buf, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        buf += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Offset of the last '\n' in [0, end) of FD, or -1; reads backwards. */
static off_t last_newline(int fd, off_t end)
{
    char buf[8192];
    while (end > 0) {
        size_t n = end > (off_t)sizeof buf ? sizeof buf : (size_t)end;
        if (pread_all(fd, buf, n, end - (off_t)n))
            return -2;
        for (size_t i = n; i-- > 0;)
            if (buf[i] == '\n')
                return end - (off_t)n + (off_t)i;
        end -= (off_t)n;
    }
    return -1;
}

/*
 * Pick the chain up where an existing file ends: the last complete line
 * gives prev (its hash) and seq. Bytes after the last newline are a record
 * torn by a crash: no response was ever sent for it (responses wait for
 * write(2) to return), so it is moved aside to PATH.torn and cut off,
 * rather than left to corrupt the next line.
 */
static int recover(fd_auditlog *a, fd_diag *warn)
{
    struct stat sb;
    if (fstat(a->fd, &sb) != 0)
        return FD_EIO;
    off_t size = sb.st_size;
    if (size == 0)
        return 0;
    int rfd = open(a->path, O_RDONLY | O_CLOEXEC);
    if (rfd < 0) {
        fd_diag_add(warn, a->path, 0, "cannot read to continue the chain: %s", strerror(errno));
        return FD_EIO;
    }
    int rc = 0;
    off_t nl = last_newline(rfd, size);
    if (nl == -2) {
        rc = FD_EIO;
        goto out;
    }
    if (nl + 1 < size) {
        size_t tl = (size_t)(size - nl - 1);
        char *torn = malloc(tl);
        char tpath[4096];
        snprintf(tpath, sizeof tpath, "%s.torn", a->path);
        int tfd = open(tpath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (!torn || pread_all(rfd, torn, tl, nl + 1) || tfd < 0 || write_all(tfd, torn, tl) ||
            write_all(tfd, "\n", 1) || ftruncate(a->fd, nl + 1) != 0) {
            fd_diag_add(warn, a->path, 0, "torn last line (%zu bytes) could not be set aside", tl);
            rc = FD_EIO;
        } else {
            fd_diag_add(warn, a->path, 0,
                        "torn last line (%zu bytes, a write cut short by a crash) moved to %s", tl,
                        tpath);
        }
        free(torn);
        if (tfd >= 0)
            close(tfd);
        if (rc)
            goto out;
        size = nl + 1;
    }
    a->size = size;
    if (nl < 0)
        goto out; /* nothing complete: a new chain */
    off_t pnl = last_newline(rfd, nl);
    if (pnl == -2) {
        rc = FD_EIO;
        goto out;
    }
    size_t ll = (size_t)(nl - pnl - 1);
    char *line = malloc(ll + 1);
    if (!line || pread_all(rfd, line, ll, pnl + 1)) {
        free(line);
        rc = FD_EIO;
        goto out;
    }
    line[ll] = '\0';
    fd_sha256_hex(line, ll, a->prev);
    cJSON *j = cJSON_ParseWithLength(line, ll);
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(j, "seq");
    if (cJSON_IsNumber(seq) && seq->valuedouble >= 0) {
        a->next_seq = (uint64_t)seq->valuedouble + 1;
    } else {
        fd_diag_add(warn, a->path, 0,
                    "last line has no seq: the chain goes on from its hash, seq from 1");
    }
    cJSON_Delete(j);
    free(line);
out:
    close(rfd);
    return rc;
}

int fd_auditlog_open(const char *path, fd_audit_fsync mode, fd_auditlog **out, fd_diag *warn)
{
    fd_auditlog *a = calloc(1, sizeof *a);
    if (!a)
        return FD_ENOMEM;
    a->mode = mode;
    a->next_seq = 1;
    if (fd_sha256_reuse_init(&a->dg) != 0) {
        free(a);
        return FD_ENOMEM;
    }
    memcpy(a->prev, ZEROS, 65);
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    if (strcmp(path, "-") == 0) {
        a->fd = STDOUT_FILENO;
        *out = a;
        return 0;
    }
    a->path = strdup(path);
    a->fd = a->path ? open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640) : -1;
    if (a->fd < 0) {
        int rc = a->path ? FD_EIO : FD_ENOMEM; /* before close frees a */
        fd_diag_add(warn, path, 0, "cannot open the audit log: %s", strerror(errno));
        fd_auditlog_close(a);
        return rc;
    }
    int r = recover(a, warn);
    if (r) {
        fd_auditlog_close(a);
        return r;
    }
    *out = a;
    return 0;
}

int fd_auditlog_reopen(fd_auditlog *a, fd_diag *warn)
{
    if (!a->path)
        return 0;
    int fd = open(a->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        fd_diag_add(warn, a->path, 0, "cannot reopen the audit log: %s", strerror(errno));
        return FD_EIO;
    }
    struct stat sb;
    fstat(fd, &sb);
    pthread_mutex_lock(&a->mu);
    while (a->writing)
        pthread_cond_wait(&a->cv, &a->mu);
    int old = a->fd;
    a->fd = fd;
    a->size = sb.st_size;
    pthread_mutex_unlock(&a->mu);
    if (a->mode != FD_AUDIT_FSYNC_NEVER)
        fdatasync(old);
    close(old);
    return 0;
}

/* Format one line of batch B, record I, into the writer's buffer at *pos,
 * chaining it to a->prev / seq; advances them tentatively in *prev, *seq. */
static int assemble(fd_auditlog *a, const fd_audit_batch *b, size_t i, size_t *pos, char prev[65],
                    uint64_t *seq)
{
    const char *head = b->buf + b->rec[3 * i];
    size_t hl = b->rec[3 * i + 1], bl = b->rec[3 * i + 2];
    size_t need = *pos + hl + bl + 128;
    if (need > a->wcap) {
        size_t cap = a->wcap ? a->wcap : 65536;
        while (cap < need)
            cap *= 2;
        char *p = realloc(a->wbuf, cap);
        if (!p)
            return FD_ENOMEM;
        a->wbuf = p;
        a->wcap = cap;
    }
    char *line = a->wbuf + *pos, *o = line;
    *o++ = '{';
    memcpy(o, head, hl);
    o += hl;
    o += sprintf(o, ",\"seq\":%llu,", (unsigned long long)*seq);
    memcpy(o, head + hl, bl);
    o += bl;
    o += sprintf(o, ",\"prev\":\"%s\"}", prev);
    if (fd_sha256_reuse_hex(&a->dg, line, (size_t)(o - line), prev))
        return FD_ENOMEM;
    *o++ = '\n';
    *pos = (size_t)(o - a->wbuf);
    (*seq)++;
    return 0;
}

/*
 * Write the waiting batches W (a list taken off the queue) as one write.
 * Called by the one writing thread, without the lock: the chain state is
 * its alone until it clears a->writing.
 */
static int write_batches(fd_auditlog *a, waiter *w)
{
    char prev[65];
    memcpy(prev, a->prev, 65);
    uint64_t seq = a->next_seq;
    size_t pos = 0, nrec = 0;
    for (waiter *x = w; x; x = x->next) {
        x->b->first_seq = seq;
        for (size_t i = 0; i < x->b->n; i++)
            if (assemble(a, x->b, i, &pos, prev, &seq))
                return FD_ENOMEM;
        nrec += x->b->n;
    }
    if (write_all(a->fd, a->wbuf, pos) != 0 ||
        (a->mode == FD_AUDIT_FSYNC_ALWAYS && a->path && fdatasync(a->fd) != 0)) {
        /* Cut back whatever part reached the file: a batch is all or
         * nothing, so the chain on disk stays whole. */
        if (a->path && ftruncate(a->fd, a->size) != 0) {
            /* Nothing more to do: the next recovery cuts a torn tail. */
        }
        return FD_EIO;
    }
    memcpy(a->prev, prev, 65);
    a->next_seq = seq;
    a->size += (off_t)pos;
    a->st.records += nrec;
    a->st.writes++;
    return 0;
}

int fd_auditlog_commit(fd_auditlog *a, fd_audit_batch *batch)
{
    if (!batch->n)
        return 0;
    waiter me = {batch, 0, 0, NULL};
    pthread_mutex_lock(&a->mu);
    if (a->tail)
        a->tail->next = &me;
    else
        a->head = &me;
    a->tail = &me;
    while (!me.done) {
        if (a->writing) {
            pthread_cond_wait(&a->cv, &a->mu);
            continue;
        }
        a->writing = 1;
        waiter *w = a->head;
        a->head = a->tail = NULL;
        pthread_mutex_unlock(&a->mu);
        int rc = write_batches(a, w);
        pthread_mutex_lock(&a->mu);
        if (rc)
            a->st.errors++;
        for (waiter *x = w, *next; x; x = next) {
            next = x->next; /* x may be gone once done is set */
            x->status = rc;
            x->done = 1;
        }
        a->writing = 0;
        pthread_cond_broadcast(&a->cv);
    }
    pthread_mutex_unlock(&a->mu);
    return me.status ? FD_EIO : 0;
}

/* The sync runs on a duplicate of the descriptor, outside the lock:
 * writers must not wait for a disk flush (and a reopen meanwhile only
 * means the old file is synced once more). */
int fd_auditlog_sync(fd_auditlog *a)
{
    if (!a->path)
        return 0;
    pthread_mutex_lock(&a->mu);
    int fd = dup(a->fd);
    pthread_mutex_unlock(&a->mu);
    if (fd < 0)
        return FD_EIO;
    int r = fdatasync(fd);
    close(fd);
    return r ? FD_EIO : 0;
}

void fd_auditlog_get_stats(fd_auditlog *a, fd_auditlog_stats *st)
{
    pthread_mutex_lock(&a->mu);
    *st = a->st;
    st->next_seq = a->next_seq;
    pthread_mutex_unlock(&a->mu);
}

void fd_auditlog_close(fd_auditlog *a)
{
    if (!a)
        return;
    if (a->path && a->fd >= 0) {
        if (a->mode != FD_AUDIT_FSYNC_NEVER)
            fdatasync(a->fd);
        close(a->fd);
    }
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
    fd_sha256_reuse_free(&a->dg);
    free(a->path);
    free(a->wbuf);
    free(a);
}

/* ---- verification ---- */

static int is_hex64(const char *s)
{
    if (strlen(s) != 64)
        return 0;
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

int fd_audit_verify(const char *const *paths, size_t n, fd_diag *diag, uint64_t *lines)
{
    *lines = 0;
    char prev[65] = "";
    double last_seq = -1;
    int first = 1;
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    for (size_t f = 0; f < n && !rc; f++) {
        FILE *fp = fopen(paths[f], "r");
        if (!fp) {
            fd_diag_add(diag, paths[f], 0, "cannot open: %s", strerror(errno));
            rc = FD_EIO;
            break;
        }
        unsigned lineno = 0;
        ssize_t len;
        while (!rc && (len = getline(&line, &cap, fp)) >= 0) {
            lineno++;
            if (len == 0 || line[len - 1] != '\n') {
                fd_diag_add(diag, paths[f], lineno,
                            "torn last line (no newline): a write cut short by a crash");
                rc = FD_ERULES;
                break;
            }
            line[--len] = '\0';
            cJSON *j = cJSON_ParseWithLength(line, (size_t)len);
            const cJSON *seq = cJSON_GetObjectItemCaseSensitive(j, "seq");
            const cJSON *pv = cJSON_GetObjectItemCaseSensitive(j, "prev");
            if (!cJSON_IsObject(j)) {
                fd_diag_add(diag, paths[f], lineno, "not a JSON object");
                rc = FD_ERULES;
            } else if (!cJSON_IsNumber(seq)) {
                fd_diag_add(diag, paths[f], lineno, "no numeric \"seq\"");
                rc = FD_ERULES;
            } else if (!cJSON_IsString(pv) || !is_hex64(pv->valuestring)) {
                fd_diag_add(diag, paths[f], lineno, "no \"prev\" of 64 lowercase hex digits");
                rc = FD_ERULES;
            } else if (!first && seq->valuedouble <= last_seq) {
                fd_diag_add(diag, paths[f], lineno, "seq %.0f does not follow %.0f",
                            seq->valuedouble, last_seq);
                rc = FD_ERULES;
            } else if (!first && strcmp(pv->valuestring, prev) != 0) {
                fd_diag_add(diag, paths[f], lineno,
                            "chain broken: prev is not the SHA-256 of the line before (%s)",
                            strcmp(pv->valuestring, ZEROS) == 0
                                ? "a new chain starts here"
                                : "changed, deleted or moved lines");
                rc = FD_ERULES;
            }
            if (!rc) {
                last_seq = seq->valuedouble;
                fd_sha256_hex(line, (size_t)len, prev);
                first = 0;
                (*lines)++;
            }
            cJSON_Delete(j);
        }
        fclose(fp);
    }
    free(line);
    return rc;
}
