/*
 * cache.c — compiled-database cache files (see cache.h).
 *
 * File layout (all integers little-endian):
 *   "FDCACHE1"   magic
 *   key          64 hex digits
 *   sha256       64 hex digits over everything after this field
 *   u32 npf, u32 pf[npf]
 *   6 × (u64 size, size bytes of hs_serialize_database output)
 */
#include "cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hash.h"
#include "norm.h"

#define MAGIC  "FDCACHE1"
#define SUFFIX ".fdcache"
#define HDR    (8 + 64 + 64)

int fd_cache_key(const fd_rulelist *rl, char key[65])
{
    hs_platform_info_t plat;
    memset(&plat, 0, sizeof plat);
    hs_populate_platform(&plat);
    fd_sha256_ctx c;
    if (fd_sha256_init(&c))
        return FD_ENOMEM;
    const char *parts[] = {MAGIC, rl->version, hs_version(), fd_norm_version()};
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
        fd_sha256_update(&c, parts[i], strlen(parts[i]) + 1);
    fd_sha256_update(&c, &plat, sizeof plat);
    return fd_sha256_final(&c, key);
}

static void put_u32(char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (char)(v >> (8 * i));
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static char *slurp(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat sb;
    char *buf = NULL;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > HDR &&
        (buf = malloc((size_t)sb.st_size))) {
        size_t n = 0;
        while (n < (size_t)sb.st_size) {
            ssize_t r = read(fd, buf + n, (size_t)sb.st_size - n);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            n += (size_t)r;
        }
        if (n != (size_t)sb.st_size) {
            free(buf);
            buf = NULL;
        }
        *len = n;
    }
    close(fd);
    return buf;
}

int fd_cache_load(const char *dir, const char *key, hs_database_t *db[FD_CACHE_NDB], uint32_t **pf,
                  size_t *npf, const char **reason)
{
    const char *why = "missing";
    char path[4096];
    snprintf(path, sizeof path, "%s/%s" SUFFIX, dir, key);
    for (int i = 0; i < FD_CACHE_NDB; i++)
        db[i] = NULL;
    *pf = NULL;
    *npf = 0;
    size_t len = 0;
    char *buf = slurp(path, &len);
    const unsigned char *u = (const unsigned char *)buf;
    if (!buf)
        goto fail;
    why = "foreign or corrupt";
    if (memcmp(buf, MAGIC, 8) != 0 || memcmp(buf + 8, key, 64) != 0)
        goto fail;
    char sum[65];
    if (fd_sha256_hex(buf + HDR, len - HDR, sum) || memcmp(buf + 72, sum, 64) != 0)
        goto fail;
    size_t off = HDR;
    if (off + 4 > len)
        goto fail;
    size_t n = (size_t)(u[off] | u[off + 1] << 8 | u[off + 2] << 16 | (uint32_t)u[off + 3] << 24);
    off += 4;
    if (n > (len - off) / 4)
        goto fail;
    *pf = malloc((n ? n : 1) * sizeof **pf);
    if (!*pf)
        goto fail;
    for (size_t i = 0; i < n; i++, off += 4)
        (*pf)[i] =
            (uint32_t)(u[off] | u[off + 1] << 8 | u[off + 2] << 16 | (uint32_t)u[off + 3] << 24);
    *npf = n;
    why = "rejected by Hyperscan";
    for (int i = 0; i < FD_CACHE_NDB; i++) {
        if (off + 8 > len)
            goto fail;
        uint64_t sz = get_u64(u + off);
        off += 8;
        if (sz > len - off)
            goto fail;
        if (sz && hs_deserialize_database(buf + off, (size_t)sz, &db[i]) != HS_SUCCESS)
            goto fail;
        off += (size_t)sz;
    }
    if (off != len)
        goto fail;
    free(buf);
    return 0;
fail:
    for (int i = 0; i < FD_CACHE_NDB; i++) {
        hs_free_database(db[i]);
        db[i] = NULL;
    }
    free(*pf);
    *pf = NULL;
    *npf = 0;
    free(buf);
    if (reason)
        *reason = why;
    return FD_EIO;
}

/* Remove all entries but the FD_CACHE_KEEP newest. */
static void prune(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct ent {
        char name[256];
        time_t mtime;
    } e[64];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && n < 64) {
        size_t l = strlen(de->d_name);
        if (l <= strlen(SUFFIX) || strcmp(de->d_name + l - strlen(SUFFIX), SUFFIX) != 0)
            continue;
        char p[4096];
        struct stat sb;
        if (snprintf(p, sizeof p, "%s/%s", dir, de->d_name) >= (int)sizeof p || stat(p, &sb) != 0)
            continue;
        snprintf(e[n].name, sizeof e[n].name, "%s", de->d_name);
        e[n++].mtime = sb.st_mtime;
    }
    closedir(d);
    while (n > FD_CACHE_KEEP) {
        size_t oldest = 0;
        for (size_t i = 1; i < n; i++)
            if (e[i].mtime < e[oldest].mtime)
                oldest = i;
        char p[4096];
        if (snprintf(p, sizeof p, "%s/%s", dir, e[oldest].name) < (int)sizeof p)
            unlink(p);
        e[oldest] = e[--n];
    }
}

int fd_cache_store(const char *dir, const char *key, hs_database_t *const db[FD_CACHE_NDB],
                   const uint32_t *pf, size_t npf)
{
    char *ser[FD_CACHE_NDB] = {0};
    size_t sz[FD_CACHE_NDB] = {0}, total = HDR + 4 + 4 * npf;
    int rc = FD_ENOMEM;
    for (int i = 0; i < FD_CACHE_NDB; i++) {
        if (db[i] && hs_serialize_database(db[i], &ser[i], &sz[i]) != HS_SUCCESS)
            goto out;
        total += 8 + sz[i];
    }
    char *buf = malloc(total);
    if (!buf)
        goto out;
    memcpy(buf, MAGIC, 8);
    memcpy(buf + 8, key, 64);
    size_t off = HDR;
    put_u32(buf + off, (uint32_t)npf);
    off += 4;
    for (size_t i = 0; i < npf; i++, off += 4)
        put_u32(buf + off, pf[i]);
    for (int i = 0; i < FD_CACHE_NDB; i++) {
        for (int k = 0; k < 8; k++)
            buf[off + k] = (char)((uint64_t)sz[i] >> (8 * k));
        off += 8;
        if (sz[i])
            memcpy(buf + off, ser[i], sz[i]);
        off += sz[i];
    }
    char sum[65];
    fd_sha256_hex(buf + HDR, total - HDR, sum);
    memcpy(buf + 72, sum, 64);

    char tmp[4096], path[4096];
    snprintf(tmp, sizeof tmp, "%s/.%s.%d.tmp", dir, key, (int)getpid());
    snprintf(path, sizeof path, "%s/%s" SUFFIX, dir, key);
    rc = FD_EIO;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd >= 0) {
        size_t w = 0;
        while (w < total) {
            ssize_t r = write(fd, buf + w, total - w);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            w += (size_t)r;
        }
        int ok = w == total && fsync(fd) == 0;
        close(fd);
        if (ok && rename(tmp, path) == 0)
            rc = 0;
        else
            unlink(tmp);
    }
    free(buf);
    if (rc == 0)
        prune(dir);
out:
    for (int i = 0; i < FD_CACHE_NDB; i++)
        free(ser[i]);
    return rc;
}
