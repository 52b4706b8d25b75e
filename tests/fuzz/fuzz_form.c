/*
 * fuzz_form.c — the form/query decoder (filterd/doors/form.h) and the
 * Aliyun request reader on top of it (aliyun.h).
 *
 * Input: byte 0 selects a field name (ServiceParameters, Service,
 * AccessKeyId, or the name given up to the first '\n'); the rest is a form.
 * Checked against a plain reference decoder written here: the same
 * found/absent answer and the same decoded value, and an error exactly when
 * some '%' lacks two hex digits. Then the round trip: the decoded value,
 * encoded back with %XX for every byte, decodes to itself. The Aliyun
 * reader takes the input as a body and as a query and never crashes; when
 * it accepts, the content it hands out is valid UTF-8 of the length it says.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aliyun.h"
#include "form.h"
#include "fuzz_common.h"
#include "utf8.h"

static int hexv(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Decode S[0, N) into OUT (room for N bytes); -1 on a bad escape. */
static long ref_decode(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            out[o++] = ' ';
        } else if (s[i] == '%') {
            if (n - i < 3)
                return -1;
            int a = hexv((unsigned char)s[i + 1]), b = hexv((unsigned char)s[i + 2]);
            if (a < 0 || b < 0)
                return -1;
            out[o++] = (char)(a * 16 + b);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    return (long)o;
}

/* The reference lookup: 1/0/-1 (bad), value into VAL (*VLEN). */
static int ref_get(const char *s, size_t n, const char *name, char *val, size_t *vlen)
{
    char *key = malloc(n + 1);
    int found = 0;
    /* any bad escape anywhere is an error */
    for (size_t i = 0; i < n; i++)
        if (s[i] == '%' &&
            (n - i < 3 || hexv((unsigned char)s[i + 1]) < 0 || hexv((unsigned char)s[i + 2]) < 0)) {
            free(key);
            return -1;
        }
    size_t i = 0;
    while (!found) {
        size_t end = i;
        while (end < n && s[end] != '&')
            end++;
        size_t eq = i;
        while (eq < end && s[eq] != '=')
            eq++;
        long kl = ref_decode(s + i, eq - i, key);
        if (kl == (long)strlen(name) && memcmp(key, name, (size_t)kl) == 0) {
            long vl = eq < end ? ref_decode(s + eq + 1, end - eq - 1, val) : 0;
            *vlen = (size_t)vl;
            found = 1;
        }
        if (end >= n)
            break;
        i = end + 1;
    }
    free(key);
    return found;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *names[] = {"ServiceParameters", "Service", "AccessKeyId"};
    char custom[64] = "";
    const char *form = (const char *)data + 1;
    size_t flen = size - 1;
    const char *name;
    if (data[0] < 3) {
        name = names[data[0]];
    } else {
        const char *nl = memchr(form, '\n', flen);
        size_t nn = nl ? (size_t)(nl - form) : 0;
        if (nn >= sizeof custom)
            nn = sizeof custom - 1;
        memcpy(custom, form, nn);
        custom[nn] = '\0';
        if (nl) {
            flen -= (size_t)(nl - form) + 1;
            form = nl + 1;
        }
        name = custom;
    }

    fd_buf out = FD_BUF_INIT;
    int rc = fd_form_get(form, flen, name, &out);
    char *val = malloc(flen + 1);
    size_t vlen = 0;
    int ref = ref_get(form, flen, name, val, &vlen);
    FZ_CHECK(rc == ref || (ref == -1 && rc == FD_FORM_EBAD), "fd_form_get %d, reference %d", rc,
             ref);
    FZ_CHECK((fd_form_valid(form, flen) == 0) == (ref != -1), "fd_form_valid disagrees");
    if (rc == 1) {
        FZ_CHECK(out.len == vlen && memcmp(out.data, val, vlen) == 0, "value differs");
        FZ_CHECK(out.data[out.len] == '\0', "value not terminated");
        /* round trip through a full %XX encoding */
        fd_buf enc = FD_BUF_INIT, dec = FD_BUF_INIT;
        fd_buf_puts(&enc, "x=");
        for (size_t i = 0; i < out.len; i++)
            fd_buf_printf(&enc, "%%%02X", (unsigned char)out.data[i]);
        FZ_CHECK(fd_form_get(enc.data, enc.len, "x", &dec) == 1, "round trip lost");
        FZ_CHECK(dec.len == out.len && memcmp(dec.data, out.data, out.len) == 0,
                 "round trip differs");
        fd_buf_free(&enc);
        fd_buf_free(&dec);
    }
    free(val);
    fd_buf_free(&out);

    for (int asq = 0; asq < 2; asq++) {
        fd_aliyun_req r;
        const char *err = NULL;
        int prc = asq ? fd_aliyun_parse("", 0, form, flen, &r, &err)
                      : fd_aliyun_parse(form, flen, "", 0, &r, &err);
        if (prc == 0) {
            FZ_CHECK(r.content && strlen(r.content) == r.len, "content length");
            FZ_CHECK(fd_utf8_valid(r.content, r.len), "content not UTF-8");
            FZ_CHECK(!r.session || (r.session_len > 0 && r.session_len <= 256), "sessionId");
        } else {
            FZ_CHECK(prc == -2 || err, "an error without a message");
        }
        fd_aliyun_req_free(&r);
    }
    return 0;
}
