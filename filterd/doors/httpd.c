/*
 * httpd.c — see httpd.h.
 */
#include "httpd.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aliyun.h"
#include "azure.h"
#include "form.h"
#include "jarena.h"
#include "litellm.h"
#include "log.h"
#include "metrics.h"
#include "openai.h"
#include "portkey.h"
#include "utf8.h"

#define JSON "application/json"

static void rec_done(void *arg, int status);

/* ---- sessions ------------------------------------------------------------ */

int fd_httpd_init(fd_httpd *s, fd_svc_thread *t, const fd_httpd_ops *ops,
                  const fd_httpd_access *access, const struct ucred *peer, size_t body_max,
                  uint64_t serial)
{
    memset(s, 0, sizeof *s);
    s->t = t;
    s->ops = ops;
    if (access)
        s->access = *access;
    fd_svc_owner_init(&s->owner, FD_API_HTTP, peer, serial);
    s->p = fd_http_parser_new(body_max);
    return s->p ? 0 : FD_ENOMEM;
}

bool fd_httpd_busy(const fd_httpd *s)
{
    return !s->done && fd_http_parser_busy(s->p);
}

size_t fd_httpd_ready(const fd_httpd *s)
{
    return s->nwait ? s->wait[s->whead].off : s->out.len;
}

void fd_httpd_take(fd_httpd *s, fd_buf *dst)
{
    size_t n = fd_httpd_ready(s);
    dst->len = 0;
    if (n == 0)
        return;
    if (n == s->out.len) { /* everything: swap the buffers, no copy */
        fd_buf tmp = *dst;
        *dst = s->out;
        s->out = tmp;
        s->out.len = 0;
        return;
    }
    fd_buf_append(dst, s->out.data, n);
    if (dst->oom) {
        dst->oom = false;
        dst->len = 0;
        return; /* try again at the next flush */
    }
    memmove(s->out.data, s->out.data + n, s->out.len - n);
    s->out.len -= n;
    for (size_t i = 0; i < s->nwait; i++)
        s->wait[s->whead + i].off -= n;
}

/* Room for one more waiting response: 0 or -1. */
static int wait_reserve(fd_httpd *s)
{
    if (s->whead + s->nwait < s->capwait)
        return 0;
    if (s->whead) {
        memmove(s->wait, s->wait + s->whead, s->nwait * sizeof *s->wait);
        s->whead = 0;
        return 0;
    }
    size_t cap = s->capwait ? s->capwait * 2 : 16;
    fd_httpd_wait *p = realloc(s->wait, cap * sizeof *p);
    if (!p)
        return -1;
    s->wait = p;
    s->capwait = cap;
    return 0;
}

/* The records of the oldest waiting response are all back and one failed:
 * replace the response, in place, by 503 audit_failed. */
static void fail_oldest(fd_httpd *s)
{
    fd_httpd_wait *w = &s->wait[s->whead];
    fd_buf *out = &s->out;
    /* Whether the client may send more is the original response's word. */
    bool close = memmem(out->data + w->off, w->len, "\r\nConnection: close\r\n", 21) != NULL;
    fd_buf err = FD_BUF_INIT;
    fd_http_error(&err, 503, "audit_failed",
                  "the audit record could not be written; no decision is given", close, NULL,
                  false);
    size_t to = w->off + w->len, rest = out->len - to;
    if (err.oom || (err.len > w->len && fd_buf_reserve(out, err.len - w->len) != 0)) {
        /* Cannot even say so: cut the decision and everything after it;
         * the transport closes a session whose output ran out of memory. */
        out->len = w->off;
        out->oom = true;
        fd_buf_free(&err);
        return;
    }
    memmove(out->data + w->off + err.len, out->data + to, rest);
    memcpy(out->data + w->off, err.data, err.len);
    out->len = w->off + err.len + rest;
    ptrdiff_t delta = (ptrdiff_t)err.len - (ptrdiff_t)w->len;
    for (size_t i = 1; i < s->nwait; i++)
        s->wait[s->whead + i].off = (size_t)((ptrdiff_t)s->wait[s->whead + i].off + delta);
    fd_buf_free(&err);
    fd_svc_count_error(s->t, FD_SVC_EAUDIT);
}

static void maybe_release(fd_httpd *s)
{
    if (s->closed && s->refs == 0 && s->ops && s->ops->release)
        s->ops->release(s);
}

/* A ticket came back: tickets come back in the order they were taken, so
 * it is the oldest waiting response's. */
static void rec_done(void *arg, int status)
{
    fd_httpd *s = arg;
    s->refs--;
    if (s->closed) {
        maybe_release(s);
        return;
    }
    if (s->nwait == 0) {
        fd_error("http %llu: a ticket without a waiting response",
                 (unsigned long long)s->owner.serial);
        return;
    }
    fd_httpd_wait *w = &s->wait[s->whead];
    if (status != 0)
        w->failed = true;
    if (--w->tickets)
        return;
    if (w->failed && !w->final)
        fail_oldest(s);
    s->whead++;
    if (--s->nwait == 0)
        s->whead = 0;
    if (s->ops && s->ops->wake)
        s->ops->wake(s);
}

bool fd_httpd_close(fd_httpd *s)
{
    if (!s->closed) {
        s->closed = true;
        fd_svc_owner_end(s->t, &s->owner, "disconnect");
        if (s->reload.waiting) {
            fd_svc_reload_cancel(s->t, &s->reload);
            s->refs--;
        }
        s->waiting = false;
    }
    return s->refs == 0;
}

void fd_httpd_free(fd_httpd *s)
{
    fd_buf_free(&s->out);
    fd_http_parser_free(s->p);
    s->p = NULL;
    free(s->wait);
    s->wait = NULL;
    s->nwait = s->capwait = s->whead = 0;
}

bool fd_httpd_token_eq(const char *a, size_t alen, const char *b, size_t blen)
{
    /* Every byte of the expected token B is looked at whatever A holds. */
    volatile unsigned char diff = (unsigned char)(alen != blen);
    for (size_t i = 0; i < blen; i++)
        diff |= (unsigned char)(b[i] ^ (i < alen ? a[i] : (char)~b[i]));
    return diff == 0;
}

/* ---- one request --------------------------------------------------------- */

typedef struct req {
    fd_httpd *s;
    const fd_http_request *hr;
    cJSON *json;
    bool head;  /* HEAD: the headers only */
    bool close; /* Connection: close on the response */
    uint64_t t0;
} req;

static int status_of(int err)
{
    switch (err) {
    case FD_SVC_EBAD_JSON:
    case FD_SVC_EBAD_REQUEST:
    case FD_SVC_EBAD_UTF8:
        return 400;
    case FD_SVC_ETOO_LARGE:
    case FD_ETOOBIG:
        return 413;
    case FD_SVC_EFORBIDDEN:
        return 403;
    case FD_SVC_EBUSY:
    case FD_SVC_EAUDIT:
        return 503;
    case FD_SVC_EBAD_RULES:
        return 422;
    case FD_EUTF8:
        return 400;
    default:
        return 500;
    }
}

/* An error answer for service or engine code ERR. */
static void answer_error(req *r, int err, const char *msg)
{
    fd_svc_count_error(r->s->t, err);
    fd_http_error(&r->s->out, status_of(err), fd_svc_code_name(err),
                  msg ? msg : fd_svc_strerror(err), r->close, NULL, r->head);
}

/* An error of HTTP's own (401, 404, 405): not a service code. */
static void answer_http(req *r, int status, const char *code, const char *msg, const char *extra)
{
    fd_http_error(&r->s->out, status, code, msg, r->close, extra, r->head);
}

/* Whether the request carries token T (any of the three headers). */
static bool carries(const fd_http_request *hr, const char *t, size_t tlen)
{
    bool ok = false;
    for (int i = 0; i < FD_HTTP_NCREDS; i++)
        if (hr->cred[i] && fd_httpd_token_eq(hr->cred[i], hr->cred_len[i], t, tlen))
            ok = true;
    return ok;
}

/* Parse the body as a JSON object, checking what cJSON would let through:
 * invalid UTF-8 anywhere (it must never reach the audit log) and NUL
 * characters (cJSON would cut a string there). 0 or an error answered. */
static int has_nul_escape(const char *s, size_t len)
{
    for (const char *p = s; (p = memmem(p, len - (size_t)(p - s), "\\u0000", 6)); p++) {
        size_t bs = 0;
        for (const char *q = p; q > s && q[-1] == '\\'; q--)
            bs++;
        if (bs % 2 == 0)
            return 1;
    }
    return 0;
}

static int parse_body(req *r)
{
    const fd_http_request *hr = r->hr;
    if (!fd_utf8_valid(hr->body, hr->body_len)) {
        answer_error(r, FD_SVC_EBAD_UTF8, "request body is not valid UTF-8");
        return -1;
    }
    r->json =
        memchr(hr->body, '\0', hr->body_len) ? NULL : cJSON_ParseWithLength(hr->body, hr->body_len);
    if (!r->json) {
        answer_error(r, FD_SVC_EBAD_JSON, "request body is not valid JSON");
        return -1;
    }
    if (!cJSON_IsObject(r->json)) {
        answer_error(r, FD_SVC_EBAD_REQUEST, "request body must be a JSON object");
        return -1;
    }
    if (has_nul_escape(hr->body, hr->body_len)) {
        answer_error(r, FD_SVC_EBAD_REQUEST, "NUL characters (\\u0000) are not supported");
        return -1;
    }
    return 0;
}

/* Write '"id":X,' for a valid id. 0, or -1 for an id SPEC §2 does not allow. */
static int write_id(fd_buf *out, const cJSON *id)
{
    if (!id)
        return 0;
    if (cJSON_IsString(id)) {
        fd_buf_key(out, "id");
        fd_buf_json_str(out, id->valuestring, strlen(id->valuestring));
        fd_buf_putc(out, ',');
        return 0;
    }
    if (cJSON_IsNumber(id)) {
        double d = id->valuedouble;
        if (d != floor(d) || fabs(d) >= 9007199254740992.0) /* 2^53 */
            return -1;
        fd_buf_key(out, "id");
        fd_buf_i64(out, (int64_t)d);
        fd_buf_putc(out, ',');
        return 0;
    }
    return -1;
}

/* `meta` as JSON text of at most FD_META_MAX bytes into BUF, or NULL. */
static int get_meta(req *r, char *buf, size_t cap, const char **meta)
{
    *meta = NULL;
    const cJSON *jmeta = cJSON_GetObjectItemCaseSensitive(r->json, "meta");
    if (!jmeta)
        return 0;
    if (!cJSON_IsObject(jmeta)) {
        answer_error(r, FD_SVC_EBAD_REQUEST, "meta must be an object");
        return -1;
    }
    if (!cJSON_PrintPreallocated((cJSON *)jmeta, buf, (int)cap, 0) || strlen(buf) > FD_META_MAX) {
        answer_error(r, FD_SVC_EBAD_REQUEST, "meta must be at most 4096 bytes of JSON");
        return -1;
    }
    *meta = buf;
    return 0;
}

/* Remember the response at [OFF, out.len) as waiting for TICKETS records. */
static void keep_back(fd_httpd *s, size_t off, unsigned tickets, bool final)
{
    s->wait[s->whead + s->nwait++] = (fd_httpd_wait){off, s->out.len - off, tickets, false, final};
    s->refs += tickets;
}

static void write_matches(fd_buf *out, const fd_ruleset *rs, const fd_result *res, bool explain)
{
    fd_buf_putc(out, '[');
    bool first = true;
    for (size_t i = 0; i < res->n; i++) {
        const fd_match *m = &res->matches[i];
        if (!explain && !fd_svc_counts(m))
            continue;
        if (!first)
            fd_buf_putc(out, ',');
        first = false;
        fd_svc_match_json(out, rs, m, false, NULL, 0);
    }
    fd_buf_putc(out, ']');
}

static void counted_matches(fd_buf *out, const fd_ruleset *rs, const fd_result *res)
{
    write_matches(out, rs, res, false);
}

/* The service's context for a check of this session. */
static fd_svc_req svc_req(req *r, const char *id_json, size_t id_len)
{
    return (fd_svc_req){
        .id_json = id_json, .id_len = id_len, .t0 = r->t0, .done = rec_done, .arg = r->s};
}

/* POST /v1/check: as the check op of SPEC §2. */
static void ep_check(req *r)
{
    fd_httpd *s = r->s;
    fd_svc_count(s->t, FD_API_HTTP, FD_OP_CHECK);
    if (parse_body(r) != 0)
        return;
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(r->json, "text");
    if (!cJSON_IsString(text)) {
        answer_error(r, FD_SVC_EBAD_REQUEST, "check needs \"text\" (a string)");
        return;
    }
    const cJSON *jexplain = cJSON_GetObjectItemCaseSensitive(r->json, "explain");
    if (jexplain && !cJSON_IsBool(jexplain)) {
        answer_error(r, FD_SVC_EBAD_REQUEST, "explain must be true or false");
        return;
    }
    char metabuf[FD_META_MAX + 8];
    const char *meta;
    if (get_meta(r, metabuf, sizeof metabuf, &meta) != 0)
        return;
    /* The id, as JSON text, for the answer and the record. */
    fd_buf idj = FD_BUF_INIT;
    if (write_id(&idj, cJSON_GetObjectItemCaseSensitive(r->json, "id")) != 0) {
        fd_buf_free(&idj);
        answer_error(r, FD_SVC_EBAD_REQUEST,
                     "id must be a string or an integer of magnitude below 2^53");
        return;
    }
    if (wait_reserve(s) != 0 || idj.oom) {
        fd_buf_free(&idj);
        answer_error(r, FD_SVC_EINTERNAL, "out of memory");
        return;
    }
    const char *id_json = NULL;
    size_t id_len = 0;
    if (idj.len) { /* '"id":X,' → X */
        id_json = idj.data + 5;
        id_len = idj.len - 6;
    }
    fd_svc_req rq = svc_req(r, id_json, id_len);
    fd_svc_check_out co;
    s->owner.api = FD_API_HTTP;
    int rc =
        fd_svc_check(s->t, &s->owner, text->valuestring, strlen(text->valuestring), meta, &rq, &co);
    if (rc < 0) {
        fd_buf_free(&idj);
        answer_error(r, rc,
                     rc == FD_SVC_EBAD_UTF8    ? "text is not valid UTF-8"
                     : rc == FD_SVC_ETOO_LARGE ? "text too large"
                     : rc == FD_SVC_EAUDIT     ? "the audit record could not be written"
                                               : "scan failed");
        return;
    }
    fd_buf *out = &s->out;
    size_t start = out->len;
    size_t m = fd_http_begin(out, 200, JSON, r->close, NULL);
    fd_buf_putc(out, '{');
    fd_buf_append(out, idj.data, idj.len);
    fd_buf_free(&idj);
    fd_buf_puts(out, "\"decision\":\"");
    fd_buf_puts(out, fd_action_name(co.res->decision));
    fd_buf_puts(out, "\",\"matches\":");
    write_matches(out, co.rs, co.res, cJSON_IsTrue(jexplain));
    if (co.res->dropped) {
        fd_buf_puts(out, ",\"dropped\":");
        fd_buf_u64(out, co.res->dropped);
    }
    fd_buf_puts(out, ",\"rules\":\"");
    fd_buf_puts(out, fd_ruleset_version(co.rs));
    fd_buf_puts(out, "\",\"us\":");
    uint64_t us = (uv_hrtime() - r->t0) / 1000;
    fd_buf_u64(out, us);
    fd_buf_puts(out, "}\n");
    fd_http_end(out, m, r->head);
    fd_svc_count_latency(s->t, us);
    if (rc == FD_SVC_PENDING)
        keep_back(s, start, 1, false);
}

/* POST /v1/moderations: OpenAI's moderation API (openai.h); every input
 * is one check, audited with api "openai". */
static void ep_moderations(req *r)
{
    fd_httpd *s = r->s;
    fd_svc_count(s->t, FD_API_OPENAI, FD_OP_CHECK);
    if (parse_body(r) != 0)
        return;
    fd_openai_req orq;
    const char *err;
    if (fd_openai_parse(r->json, &orq, &err) != 0) {
        answer_error(r, FD_SVC_EBAD_REQUEST, err);
        return;
    }
    if (wait_reserve(s) != 0) {
        answer_error(r, FD_SVC_EINTERNAL, "out of memory");
        return;
    }
    fd_buf *out = &s->out;
    size_t start = out->len;
    size_t m = fd_http_begin(out, 200, JSON, r->close, NULL);
    char id[40];
    snprintf(id, sizeof id, "modr-%016llx%08x", (unsigned long long)uv_hrtime(),
             (unsigned)(s->owner.serial & 0xffffffffu));
    fd_openai_begin(out, id, orq.model);
    unsigned tickets = 0;
    int rc = 0;
    int first = 1;
    s->owner.api = FD_API_OPENAI;
    for (const cJSON *it = fd_openai_next(&orq, NULL); it; it = fd_openai_next(&orq, it)) {
        size_t len;
        const char *text = fd_openai_text(it, &len);
        fd_svc_req rq = svc_req(r, NULL, 0);
        fd_svc_check_out co;
        rc = fd_svc_check(s->t, &s->owner, text, len, NULL, &rq, &co);
        if (rc < 0)
            break;
        if (rc == FD_SVC_PENDING)
            tickets++;
        fd_openai_result(out, co.rs, co.res, first, counted_matches);
        first = 0;
    }
    s->owner.api = FD_API_HTTP;
    if (rc < 0) {
        out->len = start;
        answer_error(r, rc,
                     rc == FD_SVC_EBAD_UTF8    ? "an input is not valid UTF-8"
                     : rc == FD_SVC_ETOO_LARGE ? "an input is too large"
                     : rc == FD_SVC_EAUDIT     ? "the audit record could not be written"
                                               : "scan failed");
        /* Records already on their way still come back to this response. */
        if (tickets)
            keep_back(s, start, tickets, true);
        return;
    }
    fd_openai_end(out);
    fd_buf_putc(out, '\n');
    fd_http_end(out, m, r->head);
    fd_svc_count_latency(s->t, (uv_hrtime() - r->t0) / 1000);
    if (tickets)
        keep_back(s, start, tickets, false);
}

/* ---- gateway adapters (SPEC §6) ------------------------------------------ */

/* The message for an error of a check made for an adapter. */
static const char *check_error_msg(int rc)
{
    return rc == FD_SVC_EBAD_UTF8      ? "the text is not valid UTF-8"
           : rc == FD_SVC_ETOO_LARGE   ? "the text is too large"
           : rc == FD_SVC_EAUDIT       ? "the audit record could not be written"
           : rc == FD_SVC_EBAD_REQUEST ? "bad request"
                                       : "scan failed";
}

/* A 200 JSON response begins at s->out's end: *START its offset; returns
 * fd_http_begin()'s mark. */
static size_t begin_ok(req *r, size_t *start)
{
    *start = r->s->out.len;
    return fd_http_begin(&r->s->out, 200, JSON, r->close, NULL);
}

/* The response begun at START (mark M) is written: end it, count its
 * latency, keep it back for TICKETS records. */
static void end_ok(req *r, size_t start, size_t m, unsigned tickets)
{
    fd_buf_putc(&r->s->out, '\n');
    fd_http_end(&r->s->out, m, r->head);
    fd_svc_count_latency(r->s->t, (uv_hrtime() - r->t0) / 1000);
    if (tickets)
        keep_back(r->s, start, tickets, false);
}

/* One check of TEXT for adapter API, audited with ID_JSON and META. The
 * result is in *CO; returns 0 or FD_SVC_PENDING, or an error (answered). */
static int adapter_check(req *r, int api, const char *text, size_t len, const char *meta,
                         const char *id_json, size_t id_len, fd_svc_check_out *co)
{
    fd_httpd *s = r->s;
    fd_svc_req rq = svc_req(r, id_json, id_len);
    s->owner.api = api;
    int rc = fd_svc_check(s->t, &s->owner, text, len, meta, &rq, co);
    s->owner.api = FD_API_HTTP;
    if (rc < 0)
        answer_error(r, rc, check_error_msg(rc));
    return rc;
}

/* A parsed JSON body and room for a waiting response: 0, or answered. */
static int adapter_begin(req *r, int api)
{
    fd_svc_count(r->s->t, api, FD_OP_CHECK);
    if (parse_body(r) != 0)
        return -1;
    if (wait_reserve(r->s) != 0) {
        answer_error(r, FD_SVC_EINTERNAL, "out of memory");
        return -1;
    }
    return 0;
}

/* POST /contentsafety/text:analyze (any api-version): Azure AI Content
 * Safety (azure.h), audited with api "azure". */
static void ep_azure(req *r)
{
    if (adapter_begin(r, FD_API_AZURE) != 0)
        return;
    fd_azure_req arq;
    const char *err;
    if (fd_azure_parse(r->json, &arq, &err) != 0) {
        answer_error(r, FD_SVC_EBAD_REQUEST, err);
        return;
    }
    fd_svc_check_out co;
    int rc = adapter_check(r, FD_API_AZURE, arq.text, arq.len, NULL, NULL, 0, &co);
    if (rc < 0)
        return;
    size_t start, m = begin_ok(r, &start);
    fd_azure_answer(&r->s->out, &arq, co.rs, co.res);
    end_ok(r, start, m, rc == FD_SVC_PENDING);
}

/* POST /beta/litellm_basic_guardrail_api: LiteLLM's generic guardrail API
 * (litellm.h); every text one check audited with api "litellm" and the
 * litellm_call_id as its id. */
static void ep_litellm(req *r)
{
    if (adapter_begin(r, FD_API_LITELLM) != 0)
        return;
    fd_litellm_req lrq;
    const char *err;
    if (fd_litellm_parse(r->json, &lrq, &err) != 0) {
        answer_error(r, FD_SVC_EBAD_REQUEST, err);
        return;
    }
    fd_buf idj = FD_BUF_INIT;
    if (lrq.call_id)
        fd_buf_json_str(&idj, lrq.call_id->valuestring, strlen(lrq.call_id->valuestring));
    fd_litellm_acc acc = {0};
    unsigned tickets = 0;
    int rc = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, lrq.texts)
    {
        fd_svc_check_out co;
        size_t len = strlen(t->valuestring);
        fd_svc_req rq = svc_req(r, idj.len ? idj.data : NULL, idj.len);
        r->s->owner.api = FD_API_LITELLM;
        rc = fd_svc_check(r->s->t, &r->s->owner, t->valuestring, len, NULL, &rq, &co);
        r->s->owner.api = FD_API_HTTP;
        if (rc < 0)
            break;
        if (rc == FD_SVC_PENDING)
            tickets++;
        fd_litellm_add(&acc, co.rs, co.res, t->valuestring, len);
    }
    fd_buf_free(&idj);
    size_t start = r->s->out.len;
    if (rc < 0) {
        answer_error(r, rc, check_error_msg(rc));
        /* Records already on their way still come back to this response. */
        if (tickets)
            keep_back(r->s, start, tickets, true);
        fd_litellm_acc_free(&acc);
        return;
    }
    size_t m = begin_ok(r, &start);
    fd_litellm_answer(&r->s->out, &acc);
    fd_litellm_acc_free(&acc);
    end_ok(r, start, m, tickets);
}

/* POST /v1/webhooks/portkey: Portkey's webhook guardrail (portkey.h),
 * audited with api "portkey". */
static void ep_portkey(req *r)
{
    if (adapter_begin(r, FD_API_PORTKEY) != 0)
        return;
    fd_portkey_req prq;
    const char *err;
    if (fd_portkey_parse(r->json, &prq, &err) != 0) {
        answer_error(r, FD_SVC_EBAD_REQUEST, err);
        return;
    }
    char meta[64];
    snprintf(meta, sizeof meta, "{\"hook\":\"%s\"}", prq.hook);
    fd_svc_check_out co;
    int rc = adapter_check(r, FD_API_PORTKEY, prq.text, prq.len, meta, NULL, 0, &co);
    if (rc < 0)
        return;
    size_t start, m = begin_ok(r, &start);
    fd_portkey_answer(&r->s->out, co.rs, co.res);
    end_ok(r, start, m, rc == FD_SVC_PENDING);
}

/* POST / with form or query fields: Aliyun TextModerationPlus (aliyun.h),
 * audited with api "aliyun"; pieces with a sessionId go through the
 * service's sessions. */
static void ep_aliyun(req *r)
{
    fd_httpd *s = r->s;
    fd_svc_count(s->t, FD_API_ALIYUN, FD_OP_CHECK);
    if (wait_reserve(s) != 0) {
        answer_error(r, FD_SVC_EINTERNAL, "out of memory");
        return;
    }
    fd_aliyun_req arq;
    const char *err = NULL;
    int prc =
        fd_aliyun_parse(r->hr->body, r->hr->body_len, r->hr->query, r->hr->query_len, &arq, &err);
    if (prc != 0) {
        answer_error(r, prc == -1 ? FD_SVC_EBAD_REQUEST : FD_SVC_EINTERNAL,
                     prc == -1 ? err : "out of memory");
        fd_aliyun_req_free(&arq);
        return;
    }
    fd_buf meta = FD_BUF_INIT;
    fd_aliyun_meta(&meta, &arq);
    fd_buf_putc(&meta, '\0');
    char id[48];
    snprintf(id, sizeof id, "filterd-%016llx-%08x", (unsigned long long)uv_hrtime(),
             (unsigned)(s->nreq & 0xffffffffu));
    char idj[64];
    snprintf(idj, sizeof idj, "\"%s\"", id);
    if (meta.oom || meta.len - 1 > FD_META_MAX) {
        answer_error(r, meta.oom ? FD_SVC_EINTERNAL : FD_SVC_EBAD_REQUEST,
                     meta.oom ? "out of memory" : "Service or sessionId too long");
        fd_buf_free(&meta);
        fd_aliyun_req_free(&arq);
        return;
    }
    fd_svc_req rq = svc_req(r, idj, strlen(idj));
    int rc;
    const fd_result *res;
    const fd_ruleset *rs;
    const char *text = arq.content;
    size_t len = arq.len, base = 0;
    bool before = false;
    s->owner.api = FD_API_ALIYUN;
    if (arq.session) {
        fd_svc_session_out so;
        rc = fd_svc_session_check(s->t, &s->owner, arq.session, arq.session_len, arq.content,
                                  arq.len, meta.data, &rq, &so);
        res = so.res;
        rs = so.rs;
        text = so.text;
        len = so.len;
        base = so.base;
        before = so.was_blocked;
    } else {
        fd_svc_check_out co;
        rc = fd_svc_check(s->t, &s->owner, arq.content, arq.len, meta.data, &rq, &co);
        res = co.res;
        rs = co.rs;
    }
    s->owner.api = FD_API_HTTP;
    fd_buf_free(&meta);
    if (rc < 0) {
        answer_error(r, rc, check_error_msg(rc));
        fd_aliyun_req_free(&arq);
        return;
    }
    size_t start, m = begin_ok(r, &start);
    fd_aliyun_answer(&s->out, id, rs, res, text, len, base, before);
    fd_aliyun_req_free(&arq);
    end_ok(r, start, m, rc == FD_SVC_PENDING);
}

static void ep_health(req *r)
{
    fd_svc_count(r->s->t, FD_API_HTTP, FD_OP_PING);
    size_t m = fd_http_begin(&r->s->out, 200, JSON, r->close, NULL);
    fd_buf_puts(&r->s->out, "{\"ok\":true}\n");
    fd_http_end(&r->s->out, m, r->head);
}

/* One snapshot per thread: too large for a stack frame. */
static _Thread_local fd_stats_snapshot snap;

static void ep_ready(req *r)
{
    fd_svc_count(r->s->t, FD_API_HTTP, FD_OP_PING);
    fd_svc_stats_snapshot(r->s->t, &snap);
    const char *why = NULL;
    if (!r->s->t->rs || !snap.x.rules_count)
        why = "no rules are loaded";
    else if (snap.x.audit_enabled && snap.x.audit_failing)
        why = "the audit log is not writable";
    if (why) {
        answer_http(r, 503, "busy", why, NULL);
        return;
    }
    size_t m = fd_http_begin(&r->s->out, 200, JSON, r->close, NULL);
    fd_buf_puts(&r->s->out, "{\"ok\":true}\n");
    fd_http_end(&r->s->out, m, r->head);
}

static void ep_version(req *r)
{
    fd_svc_count(r->s->t, FD_API_HTTP, FD_OP_VERSION);
    size_t m = fd_http_begin(&r->s->out, 200, JSON, r->close, NULL);
    fd_buf_putc(&r->s->out, '{');
    fd_svc_version(r->s->t, &r->s->out);
    fd_buf_puts(&r->s->out, "}\n");
    fd_http_end(&r->s->out, m, r->head);
}

static void ep_stats(req *r)
{
    fd_svc_count(r->s->t, FD_API_HTTP, FD_OP_STATS);
    size_t m = fd_http_begin(&r->s->out, 200, JSON, r->close, NULL);
    fd_buf_putc(&r->s->out, '{');
    fd_svc_stats(r->s->t, &r->s->out);
    fd_buf_puts(&r->s->out, "}\n");
    fd_http_end(&r->s->out, m, r->head);
}

static void ep_metrics(req *r)
{
    fd_svc_count(r->s->t, FD_API_HTTP, FD_OP_STATS);
    fd_svc_stats_snapshot(r->s->t, &snap);
    static _Thread_local const char *api_names[FD_API_COUNT], *op_names[FD_OP_COUNT];
    static _Thread_local uint64_t requests[FD_API_COUNT * FD_OP_COUNT];
    static _Thread_local uint64_t matches[FD_STATS_MAX_CATS * 2];
    for (int a = 0; a < FD_API_COUNT; a++)
        api_names[a] = fd_svc_api_name(a);
    for (int o = 0; o < FD_OP_COUNT; o++)
        op_names[o] = fd_svc_op_name(o);
    for (int a = 0; a < FD_API_COUNT; a++)
        for (int o = 0; o < FD_OP_COUNT; o++)
            requests[a * FD_OP_COUNT + o] = snap.ops[a][o];
    for (size_t c = 0; c < snap.x.ncats; c++) {
        matches[c * 2] = snap.matches[c][0];
        matches[c * 2 + 1] = snap.matches[c][1];
    }
    fd_metrics mx = {
        .apis = api_names,
        .napis = FD_API_COUNT,
        .ops = op_names,
        .nops = FD_OP_COUNT,
        .requests = requests,
        .decisions = {snap.decisions[0], snap.decisions[1], snap.decisions[2]},
        .cats = snap.x.cat_ids,
        .ncats = snap.x.ncats,
        .matches = matches,
        .lat_sum_us = snap.lat_sum_us,
        .bytes_scanned = snap.bytes,
        .connections = snap.conns_current,
        .streams = snap.streams_current,
        .rules = snap.x.rules_count,
        .ruleset_version = snap.x.rules_version,
        .reloads_ok = snap.x.reloads_ok,
        .reloads_failed = snap.x.reloads_failed,
        .audit_records = snap.x.audit_records,
        .audit_failures = snap.x.audit_errors,
        .version = FILTERD_VERSION,
        .hyperscan = fd_hs_version(),
    };
    for (int b = 0; b <= FD_METRICS_BUCKETS; b++)
        mx.lat[b] = snap.hist[b];
    size_t m =
        fd_http_begin(&r->s->out, 200, "text/plain; version=0.0.4; charset=utf-8", r->close, NULL);
    fd_metrics_write(&r->s->out, &mx);
    fd_http_end(&r->s->out, m, r->head);
}

/* The answer of a deferred reload (see ep_reload). */
static void reload_done(void *arg, int status, const fd_reload_result *res, const char *msg)
{
    fd_httpd *s = arg;
    s->refs--;
    if (s->closed) {
        maybe_release(s);
        return;
    }
    req r = {.s = s, .head = s->reload_head, .close = s->reload_close};
    if (status != 0) {
        answer_error(&r, status, msg);
    } else {
        size_t m = fd_http_begin(&s->out, 200, JSON, r.close, NULL);
        fd_buf_puts(&s->out, "{\"ok\":true,\"rules\":\"");
        fd_buf_puts(&s->out, res->version);
        fd_buf_puts(&s->out, "\",\"rule_count\":");
        fd_buf_u64(&s->out, res->nrules);
        fd_buf_puts(&s->out, "}\n");
        fd_http_end(&s->out, m, r.head);
    }
    s->waiting = false;
    if (s->ops && s->ops->wake)
        s->ops->wake(s);
}

/* POST /v1/reload: over the Unix socket for admin peers (SPEC §2), over
 * TCP with the --admin-token only. */
static void ep_reload(req *r)
{
    fd_httpd *s = r->s;
    fd_svc_count(s->t, FD_API_HTTP, FD_OP_RELOAD);
    bool ok;
    if (s->access.tcp)
        ok = s->access.admin && carries(r->hr, s->access.admin, s->access.admin_len);
    else
        ok = fd_svc_is_admin(s->t->svc, s->owner.peer.uid);
    if (!ok) {
        answer_error(r, FD_SVC_EFORBIDDEN,
                     s->access.tcp ? "reload over TCP needs the --admin-token"
                                   : "reload is for root, the daemon's user and --admin-uid only");
        return;
    }
    int rc = fd_svc_reload(s->t, &s->reload, reload_done, s);
    if (rc == FD_SVC_EBUSY) {
        answer_error(r, rc, "the daemon is shutting down");
        return;
    }
    s->refs++;
    s->waiting = true;
    s->reload_head = r->head;
    s->reload_close = r->close;
}

/* ---- routing ------------------------------------------------------------- */

typedef void (*ep_fn)(req *r);

static const struct route {
    const char *path;
    fd_http_method method; /* GET also answers HEAD */
    ep_fn fn;
} routes[] = {
    {"/v1/check", FD_HTTP_POST, ep_check},
    {"/v1/moderations", FD_HTTP_POST, ep_moderations},
    {"/healthz", FD_HTTP_GET, ep_health},
    {"/readyz", FD_HTTP_GET, ep_ready},
    {"/metrics", FD_HTTP_GET, ep_metrics},
    {"/v1/version", FD_HTTP_GET, ep_version},
    {"/v1/stats", FD_HTTP_GET, ep_stats},
    {"/v1/reload", FD_HTTP_POST, ep_reload},
    {"/contentsafety/text:analyze", FD_HTTP_POST, ep_azure},
    {"/beta/litellm_basic_guardrail_api", FD_HTTP_POST, ep_litellm},
    {"/v1/webhooks/portkey", FD_HTTP_POST, ep_portkey},
    {"/", FD_HTTP_POST, ep_aliyun},
};

/* Aliyun's callers cannot send a bearer token: on POST / their AccessKeyId
 * stands for one — the Credential of Higress's ACS3-HMAC-SHA256
 * Authorization, or APISIX's AccessKeyId form field (body or query). */
static bool aliyun_carries(const fd_http_request *hr, const char *t, size_t tlen)
{
    if (hr->method != FD_HTTP_POST || hr->path_len != 1 || hr->path[0] != '/')
        return false;
    if (hr->auth && hr->auth_len > 17 && strncmp(hr->auth, "ACS3-HMAC-SHA256 ", 17) == 0) {
        const char *c = memmem(hr->auth, hr->auth_len, "Credential=", 11);
        if (c) {
            c += 11;
            size_t n = 0;
            while (c + n < hr->auth + hr->auth_len && c[n] != ',')
                n++;
            if (fd_httpd_token_eq(c, n, t, tlen))
                return true;
        }
    }
    fd_buf v = FD_BUF_INIT;
    bool ok = false;
    if (fd_form_get(hr->body, hr->body_len, "AccessKeyId", &v) == 1 ||
        fd_form_get(hr->query, hr->query_len, "AccessKeyId", &v) == 1)
        ok = fd_httpd_token_eq(v.data, v.len, t, tlen);
    fd_buf_free(&v);
    return ok;
}

static bool authorized(const fd_httpd *s, const fd_http_request *hr)
{
    const fd_httpd_access *a = &s->access;
    if (!a->tcp || !a->token)
        return true;
    return carries(hr, a->token, a->token_len) ||
           (a->admin && carries(hr, a->admin, a->admin_len)) ||
           aliyun_carries(hr, a->token, a->token_len);
}

static void route(req *r)
{
    const fd_http_request *hr = r->hr;
    fd_httpd *s = r->s;
    if (!authorized(s, hr)) {
        answer_http(r, 401, "unauthorized",
                    "this listener needs a token (Authorization: Bearer, api-key or "
                    "Ocp-Apim-Subscription-Key)",
                    "WWW-Authenticate: Bearer\r\n");
        return;
    }
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
        const struct route *rt = &routes[i];
        if (hr->path_len != strlen(rt->path) || memcmp(hr->path, rt->path, hr->path_len) != 0)
            continue;
        if (hr->method == rt->method || (rt->method == FD_HTTP_GET && hr->method == FD_HTTP_HEAD)) {
            rt->fn(r);
            return;
        }
        answer_http(r, 405, "method_not_allowed",
                    rt->method == FD_HTTP_GET ? "use GET or HEAD" : "use POST",
                    rt->method == FD_HTTP_GET ? "Allow: GET, HEAD\r\n" : "Allow: POST\r\n");
        return;
    }
    answer_http(r, 404, "not_found", "no such endpoint (see docs/http.md)", NULL);
}

static void handle(fd_httpd *s, const fd_http_request *hr)
{
    req r = {
        .s = s,
        .hr = hr,
        .head = hr->method == FD_HTTP_HEAD,
        .close = !hr->keep_alive,
        .t0 = uv_hrtime(),
    };
    size_t mark = s->out.len;
    s->nreq++;
    route(&r);
    if (s->out.oom) {
        /* Try once more: the error is much shorter. A response kept back
         * stays kept back (its tickets will find it). */
        s->out.oom = false;
        bool kept = s->nwait && s->wait[s->whead + s->nwait - 1].off >= mark;
        s->out.len = mark;
        r.close = true;
        answer_error(&r, FD_SVC_EINTERNAL, "out of memory");
        if (kept) {
            fd_httpd_wait *w = &s->wait[s->whead + s->nwait - 1];
            w->len = s->out.len - w->off;
            w->final = true;
        }
    }
    if (r.close)
        s->done = true;
    cJSON_Delete(r.json);
    fd_jarena_reset();
}

size_t fd_httpd_feed(fd_httpd *s, const char *data, size_t len)
{
    size_t off = 0;
    while (off < len && !s->done && !s->waiting && !s->closed && s->out.len < FD_HTTPD_OUT_HIGH) {
        size_t used;
        fd_http_event ev = fd_http_parser_feed(s->p, data + off, len - off, &used);
        off += used;
        if (ev == FD_HTTP_MORE)
            break;
        if (ev == FD_HTTP_CONTINUE) {
            fd_http_continue(&s->out);
            continue;
        }
        if (ev == FD_HTTP_ERROR) {
            const char *code, *msg;
            int status = fd_http_parser_error(s->p, &code, &msg);
            fd_svc_count_error(s->t, status == 413 || status == 431 ? FD_SVC_ETOO_LARGE
                                                                    : FD_SVC_EBAD_REQUEST);
            fd_http_error(&s->out, status, code, msg, true, NULL, false);
            s->done = true;
            off = len; /* the framing is lost: nothing more is read */
            break;
        }
        handle(s, fd_http_parser_request(s->p));
        fd_http_parser_next(s->p);
    }
    return off;
}

void fd_httpd_refuse(fd_httpd *s, const char *message)
{
    fd_svc_count_error(s->t, FD_SVC_EBUSY);
    fd_http_error(&s->out, 503, "busy", message, true, NULL, false);
    s->done = true;
}
