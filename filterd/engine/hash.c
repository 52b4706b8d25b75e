/*
 * hash.c — SHA-256 via libcrypto's EVP interface (the low-level SHA256_*
 * functions are deprecated in OpenSSL 3).
 */
#include "hash.h"

#include <openssl/evp.h>

#include "fd_error.h"

int fd_sha256_init(fd_sha256_ctx *c)
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    if (!m)
        return FD_ENOMEM;
    if (EVP_DigestInit_ex(m, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(m);
        return FD_ENOMEM;
    }
    c->evp = m;
    return 0;
}

void fd_sha256_update(fd_sha256_ctx *c, const void *data, size_t len)
{
    if (len)
        EVP_DigestUpdate(c->evp, data, len);
}

static void to_hex(const unsigned char *md, char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = '\0';
}

int fd_sha256_reuse_init(fd_sha256_reuse *r)
{
    r->md = EVP_MD_fetch(NULL, "SHA256", NULL);
    r->evp = EVP_MD_CTX_new();
    if (!r->md || !r->evp) {
        fd_sha256_reuse_free(r);
        return FD_ENOMEM;
    }
    return 0;
}

int fd_sha256_reuse_hex(fd_sha256_reuse *r, const void *data, size_t len, char hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!r->evp || EVP_DigestInit_ex(r->evp, r->md, NULL) != 1 ||
        EVP_DigestUpdate(r->evp, data, len) != 1 || EVP_DigestFinal_ex(r->evp, md, &n) != 1 ||
        n != 32)
        return FD_ENOMEM;
    to_hex(md, hex);
    return 0;
}

void fd_sha256_reuse_free(fd_sha256_reuse *r)
{
    EVP_MD_CTX_free(r->evp);
    EVP_MD_free(r->md);
    r->evp = r->md = NULL;
}

int fd_sha256_final(fd_sha256_ctx *c, char hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    int ok = EVP_DigestFinal_ex(c->evp, md, &n) == 1 && n == 32;
    EVP_MD_CTX_free(c->evp);
    c->evp = NULL;
    if (!ok)
        return FD_ENOMEM;
    to_hex(md, hex);
    return 0;
}

int fd_sha256_hex(const void *data, size_t len, char hex[65])
{
    fd_sha256_ctx c;
    int r = fd_sha256_init(&c);
    if (r)
        return r;
    fd_sha256_update(&c, data, len);
    return fd_sha256_final(&c, hex);
}
