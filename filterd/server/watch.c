/*
 * watch.c — rule-directory watching with libuv fs events (see watch.h).
 */
#include "watch.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_DIRS 1024 /* a rule tree wider than this is a mistake */

typedef struct fd_watch fd_watch;

typedef struct dwatch {
    uv_fs_event_t h;
    fd_watch *w;
    char *path;
    int seen; /* found by the latest scan */
} dwatch;

struct fd_watch {
    char *root;
    unsigned debounce_ms;
    void (*cb)(void *);
    void *arg;
    uv_loop_t *loop;
    uv_timer_t timer;
    dwatch *dirs[MAX_DIRS];
    unsigned ndirs;
    int stopping;
    int open_handles; /* the struct is freed when the last one has closed */
};

static void release(fd_watch *w)
{
    if (--w->open_handles == 0) {
        free(w->root);
        free(w);
    }
}

static void on_dir_closed(uv_handle_t *h)
{
    dwatch *d = h->data;
    fd_watch *w = d->w;
    free(d->path);
    free(d);
    release(w);
}

static void on_timer_closed(uv_handle_t *h)
{
    release(h->data);
}

static void on_quiet(uv_timer_t *t);

/* Any event restarts the quiet period. */
static void on_event(uv_fs_event_t *h, const char *name, int events, int status)
{
    (void)name, (void)events, (void)status;
    dwatch *d = h->data;
    fd_watch *w = d->w;
    if (!w->stopping)
        uv_timer_start(&w->timer, on_quiet, w->debounce_ms, 0);
}

static dwatch *find(fd_watch *w, const char *path)
{
    for (unsigned i = 0; i < w->ndirs; i++)
        if (strcmp(w->dirs[i]->path, path) == 0)
            return w->dirs[i];
    return NULL;
}

/* Start watching PATH unless it is watched already. */
static int add_dir(fd_watch *w, const char *path)
{
    dwatch *d = find(w, path);
    if (d) {
        d->seen = 1;
        return 0;
    }
    if (w->ndirs == MAX_DIRS)
        return UV_ENOSPC;
    d = calloc(1, sizeof *d);
    if (!d || !(d->path = strdup(path))) {
        free(d);
        return UV_ENOMEM;
    }
    d->w = w;
    d->seen = 1;
    uv_fs_event_init(w->loop, &d->h);
    d->h.data = d;
    w->open_handles++;
    int r = uv_fs_event_start(&d->h, on_event, path, 0);
    if (r) {
        uv_close((uv_handle_t *)&d->h, on_dir_closed);
        return r;
    }
    w->dirs[w->ndirs++] = d;
    return 0;
}

/* Watch PATH and the directories below it (hidden ones skipped, as the
 * rule loader skips them). */
static void scan(fd_watch *w, const char *path, int depth)
{
    if (add_dir(w, path) || depth > 32)
        return;
    DIR *dir = opendir(path);
    if (!dir)
        return;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char sub[4096];
        struct stat sb;
        if (snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) >= (int)sizeof sub)
            continue;
        if (stat(sub, &sb) == 0 && S_ISDIR(sb.st_mode))
            scan(w, sub, depth + 1);
    }
    closedir(dir);
}

/* Bring the set of watched directories up to date with the tree. */
static void rescan(fd_watch *w)
{
    for (unsigned i = 0; i < w->ndirs; i++)
        w->dirs[i]->seen = 0;
    scan(w, w->root, 0);
    unsigned k = 0;
    for (unsigned i = 0; i < w->ndirs; i++) {
        dwatch *d = w->dirs[i];
        if (d->seen) {
            w->dirs[k++] = d;
        } else {
            uv_fs_event_stop(&d->h);
            uv_close((uv_handle_t *)&d->h, on_dir_closed);
        }
    }
    w->ndirs = k;
}

static void on_quiet(uv_timer_t *t)
{
    fd_watch *w = t->data;
    rescan(w);
    w->cb(w->arg);
}

int fd_watch_start(uv_loop_t *loop, const char *dir, unsigned debounce_ms, void (*cb)(void *),
                   void *arg, fd_watch **out)
{
    fd_watch *w = calloc(1, sizeof *w);
    if (!w || !(w->root = strdup(dir))) {
        free(w);
        return UV_ENOMEM;
    }
    w->loop = loop;
    w->debounce_ms = debounce_ms;
    w->cb = cb;
    w->arg = arg;
    uv_timer_init(loop, &w->timer);
    w->timer.data = w;
    w->open_handles = 1;
    int r = add_dir(w, dir);
    if (r) {
        fd_watch_stop(w);
        return r;
    }
    scan(w, dir, 0);
    *out = w;
    return 0;
}

unsigned fd_watch_count(const fd_watch *w)
{
    return w->ndirs;
}

void fd_watch_stop(fd_watch *w)
{
    if (!w || w->stopping)
        return;
    w->stopping = 1;
    for (unsigned i = 0; i < w->ndirs; i++) {
        uv_fs_event_stop(&w->dirs[i]->h);
        uv_close((uv_handle_t *)&w->dirs[i]->h, on_dir_closed);
    }
    w->ndirs = 0;
    uv_timer_stop(&w->timer);
    uv_close((uv_handle_t *)&w->timer, on_timer_closed);
}
