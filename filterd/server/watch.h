/*
 * watch.h — `--watch`: reload the rules when a file below the rule
 * directory changes.
 *
 * Every directory below the rule directory is watched (Linux has no
 * recursive watches), not the files themselves: editors that save by
 * writing a temporary file and renaming it over the old one, files added
 * and files removed all show up as events on a directory. Events are
 * debounced: the callback runs once, after a quiet period, however many
 * events a save or a `git pull` produced. Directories created later are
 * picked up at that point.
 *
 * Threads: everything runs on the loop given (the main loop). Ownership:
 * fd_watch_stop() closes the handles; the memory is released by their
 * close callbacks, so the loop must run once more after it.
 */
#ifndef FD_WATCH_H
#define FD_WATCH_H

#include <uv.h>

typedef struct fd_watch fd_watch;

/* Watch DIR. After a change and DEBOUNCE_MS without further changes, call
 * CB(ARG). Returns 0 or a negative libuv error (DIR cannot be watched). */
int fd_watch_start(uv_loop_t *loop, const char *dir, unsigned debounce_ms, void (*cb)(void *),
                   void *arg, fd_watch **out);

/* Number of directories being watched (for logs and tests). */
unsigned fd_watch_count(const fd_watch *w);

void fd_watch_stop(fd_watch *w);

#endif
