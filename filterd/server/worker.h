/*
 * worker.h — the daemon's shared internal types: the server (main thread)
 * and its workers (one libuv loop per thread). Used by server.c, conn.c and
 * proto.c; not a public interface.
 *
 * Threading: everything in an fd_worker except the fields marked "cross
 * thread" is touched only by that worker's thread. The main thread talks
 * to a worker by storing into one of those fields (new connections go
 * through the lock-free fd_handoff ring) and calling
 * uv_async_send(&w->wake); workers talk to the main thread the same way
 * through srv->reload_async. No lock is taken anywhere.
 *
 * Ownership: the server owns the workers array and its rule-set reference
 * `rs`; each worker owns one reference to the rule set it scans with, its
 * scratch, result and connections (freed in their close callbacks).
 */
#ifndef FD_WORKER_H
#define FD_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "config.h"
#include "ruleset.h"
#include "scan.h"
#include "stats.h"

typedef struct fd_server fd_server;
typedef struct fd_worker fd_worker;
typedef struct fd_conn fd_conn;
typedef struct fd_audit fd_audit;

/*
 * The outcome of one reload, handed from the main thread to every worker.
 * Reference-counted (one reference per worker it was given to). It covers
 * every reload request whose generation is <= gen: those requests were made
 * before this reload started reading the rule files.
 */
typedef struct fd_reload_result {
    atomic_int refs;
    uint64_t gen;
    fd_ruleset *rs; /* the new rule set (a reference), NULL if the reload failed */
    char *errors;   /* "FILE:LINE: message" lines joined by '\n' when it failed */
    char version[65];
    size_t nrules;
} fd_reload_result;

void fd_reload_result_release(fd_reload_result *r);

/*
 * Accepted connections on their way from the acceptor (main thread, the
 * only producer) to one worker (the only consumer): a single-producer,
 * single-consumer ring of file descriptors. head and tail only grow.
 */
#define FD_HANDOFF_CAP 1024
typedef struct fd_handoff {
    int fds[FD_HANDOFF_CAP];
    _Atomic size_t head; /* next slot the worker takes */
    _Atomic size_t tail; /* next slot the acceptor fills */
} fd_handoff;

/* Producer side: 0, or -1 if the ring is full. */
static inline int fd_handoff_push(fd_handoff *h, int fd)
{
    size_t t = atomic_load_explicit(&h->tail, memory_order_relaxed);
    if (t - atomic_load_explicit(&h->head, memory_order_acquire) == FD_HANDOFF_CAP)
        return -1;
    h->fds[t % FD_HANDOFF_CAP] = fd;
    atomic_store_explicit(&h->tail, t + 1, memory_order_release);
    return 0;
}

/* Consumer side: an fd, or -1 if the ring is empty. */
static inline int fd_handoff_pop(fd_handoff *h)
{
    size_t hd = atomic_load_explicit(&h->head, memory_order_relaxed);
    if (hd == atomic_load_explicit(&h->tail, memory_order_acquire))
        return -1;
    int fd = h->fds[hd % FD_HANDOFF_CAP];
    atomic_store_explicit(&h->head, hd + 1, memory_order_release);
    return fd;
}

static inline size_t fd_handoff_len(fd_handoff *h)
{
    return atomic_load_explicit(&h->tail, memory_order_relaxed) -
           atomic_load_explicit(&h->head, memory_order_relaxed);
}

struct fd_worker {
    fd_server *srv;
    unsigned idx;
    uv_thread_t thread;
    uv_loop_t loop;
    uv_async_t wake;  /* the main thread has something for us */
    uv_check_t flush; /* end of each loop iteration: audit, then writes */
    uv_timer_t sweep; /* idle timeout, once a second */
    uv_timer_t drain_timer;

    fd_ruleset *rs; /* our reference to the rule set we scan with */
    fd_scratch *scratch;
    fd_result result;
    fd_stats stats;                /* read by other threads (relaxed) */
    struct fd_audit_worker *audit; /* audit.c: this worker's batch, NULL without --audit */

    /* cross thread: set by the main thread, then wake is sent */
    fd_handoff handoff; /* newly accepted connections */
    bool handed;        /* main thread only: got connections in this batch */
    _Atomic(fd_reload_result *) pending_reload;
    atomic_int drain_req;

    fd_conn *conns; /* every open connection of this worker */
    unsigned nconns;
    fd_conn *dirty;   /* connections with responses to write this iteration */
    fd_conn *waiters; /* connections waiting for a reload to finish */
    bool draining;
    bool finished;
    bool loop_ok; /* loop initialised: worker_free() must close it */
};

struct fd_server {
    const fd_config *cfg;
    int listen_fd;
    uv_loop_t *loop; /* the main thread's loop: accept, signals, reloads */
    uv_poll_t accept_poll;
    uv_timer_t accept_retry; /* out of file descriptors: accept again later */
    unsigned next_worker;    /* round-robin start for tie-breaking */
    uv_signal_t sig_term, sig_int, sig_hup, sig_usr1;
    uv_async_t reload_async;

    fd_worker *workers;
    unsigned nworkers;

    fd_ruleset *rs;     /* main thread: the current rule set */
    fd_audit *audit;    /* audit.c: the audit log, NULL without --audit */
    atomic_uint nconns; /* all workers: for --max-connections */
    _Atomic uint64_t reloads_ok;
    _Atomic uint64_t reloads_failed;
    /* The last reload, for `stats` (written by the main thread): when (unix
     * seconds, 0 = none yet), whether it worked, and how long the compile or
     * the cache load took. */
    _Atomic uint64_t last_reload_at;
    atomic_int last_reload_ok;
    _Atomic uint64_t last_reload_us;
    atomic_int last_reload_cached;
    struct fd_watch *watch;          /* --watch, or NULL */
    _Atomic uint64_t reload_req_gen; /* bumped by every reload request */
    uint64_t reload_started_gen;     /* main thread */
    bool reload_running;             /* main thread */
    uv_work_t reload_work;
    fd_ruleset *reload_new; /* result of the background load */
    char *reload_errors;
    uint64_t start_ms;
    bool stopping;
};

/* Called when a connection of a draining worker has closed: once none is
 * left, the worker closes its remaining handles and its loop ends. */
void fd_worker_maybe_finish(fd_worker *w);

/* Ask the main thread for a reload; returns the request's generation.
 * Callable from any thread. */
uint64_t fd_server_request_reload(fd_server *srv);

#endif
