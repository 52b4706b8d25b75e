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

/* One-shot: hex[65] = SHA-256(data). Returns 0 or FD_ENOMEM. */
int fd_sha256_hex(const void *data, size_t len, char hex[65]);

#endif
