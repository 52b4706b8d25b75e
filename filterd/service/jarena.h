/*
 * jarena.h — cJSON's allocations from a per-thread bump arena.
 *
 * Parsing a request with cJSON allocates a handful of small nodes and
 * strings. With the arena installed, those come from a 64 KiB block owned
 * by the calling thread and are all released at once by fd_jarena_reset()
 * after the request's tree has been deleted: the request path does not
 * call malloc for ordinary requests. Allocations that do not fit (large
 * texts) fall back to malloc/free transparently.
 *
 * Sanitizer builds do not install the arena, so AddressSanitizer keeps
 * checking every cJSON allocation individually.
 *
 * Ownership: each thread's block is allocated on first use and released by
 * fd_jarena_thread_free(), which that thread calls before it exits.
 */
#ifndef FD_JARENA_H
#define FD_JARENA_H

/* Route cJSON's allocations through the arena (process-wide; call once,
 * before any thread parses JSON). */
void fd_jarena_install(void);

/* Forget every arena allocation of this thread. Only call when no cJSON
 * tree built on this thread is alive any more. */
void fd_jarena_reset(void);

/* Release this thread's block. */
void fd_jarena_thread_free(void);

#endif
