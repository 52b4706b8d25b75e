/*
 * cache.h — the compiled-database cache (`--cache-dir`): Hyperscan
 * databases serialized to disk, so that starting or reloading an unchanged
 * rule set of 100,000 keywords takes a file read instead of a compile.
 *
 * An entry is keyed by a hash of the rule files (the rule-set version), the
 * Hyperscan version, the CPU features it compiled for, the normalizer's
 * version and the cache format. An entry is trusted only if its key and a
 * SHA-256 over its contents check out and Hyperscan accepts every database;
 * anything else is ignored (and rebuilt by the caller). Entries are written
 * to a temporary file and renamed into place, so a reader never sees half
 * of one; older entries are pruned.
 */
#ifndef FD_CACHE_H
#define FD_CACHE_H

#include <hs.h>
#include <stddef.h>
#include <stdint.h>

#include "rules.h"

#define FD_CACHE_NDB  6 /* block and stream database of each of the three buffers */
#define FD_CACHE_KEEP 3 /* entries kept in a cache directory */

/* KEY[65] = the cache key of RL on this machine. */
int fd_cache_key(const fd_rulelist *rl, char key[65]);

/*
 * Load the entry KEY from DIR into DB[] (NULL where the rule set has no such
 * database) and the indices of the rules that were compiled as prefilters
 * into *PF (malloc'd, *NPF of them). Returns 0, or FD_EIO when there is no
 * valid entry (REASON, if not NULL, says why: "missing", "corrupt", …).
 */
int fd_cache_load(const char *dir, const char *key, hs_database_t *db[FD_CACHE_NDB], uint32_t **pf,
                  size_t *npf, const char **reason);

/* Store DB[] and the prefilter indices as entry KEY in DIR. Returns 0 or
 * FD_EIO / FD_ENOMEM; a failure to cache is never fatal for the caller. */
int fd_cache_store(const char *dir, const char *key, hs_database_t *const db[FD_CACHE_NDB],
                   const uint32_t *pf, size_t npf);

#endif
