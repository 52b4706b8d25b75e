/*
 * jarena.c — see jarena.h.
 */
#include "jarena.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>

#define ARENA_SIZE (64 * 1024)

#if defined(__SANITIZE_ADDRESS__)
/* Sanitizer builds: plain malloc/free, checked one by one. */
void fd_jarena_install(void)
{
}
void fd_jarena_reset(void)
{
}
void fd_jarena_thread_free(void)
{
}
#else

static _Thread_local char *arena;
static _Thread_local size_t used;

static void *arena_malloc(size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (!arena)
        arena = malloc(ARENA_SIZE);
    if (arena && n <= ARENA_SIZE - used) {
        void *p = arena + used;
        used += n;
        return p;
    }
    return malloc(n);
}

static void arena_free(void *p)
{
    uintptr_t a = (uintptr_t)arena, q = (uintptr_t)p;
    if (arena && q >= a && q < a + ARENA_SIZE)
        return; /* released in bulk by fd_jarena_reset() */
    free(p);
}

void fd_jarena_install(void)
{
    cJSON_Hooks hooks = {arena_malloc, arena_free};
    cJSON_InitHooks(&hooks);
}

void fd_jarena_reset(void)
{
    used = 0;
}

void fd_jarena_thread_free(void)
{
    free(arena);
    arena = NULL;
    used = 0;
}
#endif
