/*
 * hash.h — SHA-256 through OpenSSL's libcrypto (EVP), for rule-set
 * versions, derived rule ids and (later) the audit chain.
 *
 * fd_sha256_ctx is caller-owned; fd_sha256_init() allocates the EVP
 * context that fd_sha256_final() releases (also on failure).
 */
#ifndef FD_HASH_H
#define FD_HASH_H

#include <stddef.h>

typedef struct fd_sha256_ctx {
    void *evp; /* EVP_MD_CTX * */
} fd_sha256_ctx;

int fd_sha256_init(fd_sha256_ctx *c);
void fd_sha256_update(fd_sha256_ctx *c, const void *data, size_t len);
/* Writes 64 lowercase hex digits and a NUL into hex[65]; frees the context. */
int fd_sha256_final(fd_sha256_ctx *c, char hex[65]);

/*
 * Many one-shot digests on one thread without allocating per digest: the
 * context and the fetched algorithm are made once and reset for each
 * digest (libcrypto allocates in EVP_MD_CTX_new and may look the algorithm
 * up on every init otherwise). Not thread-safe: one per thread. An
 * all-zero fd_sha256_reuse is unset; fd_sha256_reuse_free() accepts it.
 */
typedef struct fd_sha256_reuse {
    void *evp; /* EVP_MD_CTX * */
    void *md;  /* EVP_MD * (fetched) */
} fd_sha256_reuse;

int fd_sha256_reuse_init(fd_sha256_reuse *r);
/* hex[65] = SHA-256(data) with R. Returns 0 or FD_ENOMEM. */
int fd_sha256_reuse_hex(fd_sha256_reuse *r, const void *data, size_t len, char hex[65]);
void fd_sha256_reuse_free(fd_sha256_reuse *r);

/* One-shot: hex[65] = SHA-256(data). Returns 0 or FD_ENOMEM. */
int fd_sha256_hex(const void *data, size_t len, char hex[65]);

#endif
