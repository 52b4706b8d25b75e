/*
 * audit_util.h — helpers of the audit-log integration tests
 * (test_audit*.c): reading audit files, and checking their hash chain
 * independently of the code under test (SHA-256 straight from OpenSSL's
 * EVP interface, not through the engine's hash.c or auditlog.c).
 */
#ifndef FDT_AUDIT_UTIL_H
#define FDT_AUDIT_UTIL_H

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FDT_ZEROS "0000000000000000000000000000000000000000000000000000000000000000"

/* The lines of an audit file. */
typedef struct fdt_lines {
    char **l; /* complete lines, without '\n' */
    size_t n;
    size_t torn; /* bytes after the last '\n' (a torn tail) */
} fdt_lines;

static inline void fdt_sha256(const void *data, size_t len, char hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    cr_assert(c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
              EVP_DigestUpdate(c, data, len) == 1 && EVP_DigestFinal_ex(c, md, &n) == 1 && n == 32);
    EVP_MD_CTX_free(c);
    for (unsigned i = 0; i < 32; i++)
        sprintf(hex + 2 * i, "%02x", md[i]);
}

/* The whole file (malloc'd, NUL-terminated; *LEN its size), or NULL. */
static inline char *fdt_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0, r;
    char *buf = malloc(cap + 1);
    cr_assert(buf);
    while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
            cr_assert(buf);
        }
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

static inline fdt_lines fdt_read_lines(const char *path)
{
    fdt_lines r = {NULL, 0, 0};
    size_t len;
    char *buf = fdt_slurp(path, &len);
    if (!buf)
        return r;
    size_t cap = 64;
    r.l = malloc(cap * sizeof(char *));
    char *p = buf, *end = buf + len;
    for (char *nl; (nl = memchr(p, '\n', (size_t)(end - p))); p = nl + 1) {
        if (r.n == cap)
            r.l = realloc(r.l, (cap *= 2) * sizeof(char *));
        r.l[r.n++] = strndup(p, (size_t)(nl - p));
    }
    r.torn = (size_t)(end - p);
    free(buf);
    return r;
}

static inline void fdt_lines_free(fdt_lines *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->l[i]);
    free(r->l);
    r->l = NULL;
    r->n = 0;
}

/*
 * Check LINES[0..n) as one chain segment: each a JSON object, seq one more
 * than the line before, prev the SHA-256 of the line before (PREV0 for the
 * first line: 64 zeros for a new chain, NULL: not checked). Returns the
 * index of the first bad line, or -1. *LAST receives the hash of the last
 * line when not NULL.
 */
static inline long fdt_check_chain(char *const *lines, size_t n, const char *prev0, char last[65])
{
    char prev[65];
    double seq = -1;
    if (prev0)
        memcpy(prev, prev0, 65);
    for (size_t i = 0; i < n; i++) {
        cJSON *j = cJSON_Parse(lines[i]);
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "seq");
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "prev");
        bool ok = cJSON_IsObject(j) && cJSON_IsNumber(s) && cJSON_IsString(p) &&
                  (i == 0 || s->valuedouble == seq + 1) &&
                  ((i == 0 && !prev0) || strcmp(p->valuestring, prev) == 0);
        if (ok)
            seq = s->valuedouble;
        cJSON_Delete(j);
        if (!ok)
            return (long)i;
        fdt_sha256(lines[i], strlen(lines[i]), prev);
    }
    if (last)
        memcpy(last, prev, 65);
    return -1;
}

/* The record (parsed; caller deletes) among LINES whose "id" is the number
 * ID, or NULL. */
static inline cJSON *fdt_record_by_id(const fdt_lines *r, long id)
{
    char key[32];
    snprintf(key, sizeof key, "\"id\":%ld,", id);
    for (size_t i = 0; i < r->n; i++)
        if (strstr(r->l[i], key))
            return cJSON_Parse(r->l[i]);
    return NULL;
}

/* Write LINES[0..n) (each plus '\n') to PATH. */
static inline void fdt_write_lines(const char *path, char *const *lines, size_t n)
{
    FILE *f = fopen(path, "w");
    cr_assert(f, "%s: %s", path, strerror(errno));
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s\n", lines[i]);
    fclose(f);
}

#endif
