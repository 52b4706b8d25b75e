/*
 * ndjson.c — see ndjson.h.
 */
#include "ndjson.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "jarena.h"
#include "log.h"
#include "utf8.h"

/* One request being handled: what an op handler needs. */
typedef struct req {
    fd_ndjson *s;
    fd_svc_thread *t;
    const cJSON *json;
    fd_buf *out;
    const char *errmsg; /* set by a handler returning an error */
    uint64_t t0;        /* uv_hrtime() at the start, ns */
    size_t id_start;    /* where '"id":X,' starts in out */
    size_t id_end;
} req;

/*
 * A handler appends its response members (no braces, no trailing comma) to
 * r->out and returns 0 (answer now), FD_SVC_PENDING (answer written, but
 * kept back until its ticket comes back), OP_DEFER (nothing written: the
 * answer comes later, see op_reload), or a negative codes.h error with
 * r->errmsg set (its output is discarded).
 */
#define OP_DEFER 2
typedef int (*op_fn)(req *r);

static int op_check(req *r);
static int op_ping(req *r);
static int op_version(req *r);
static int op_stats(req *r);
static int op_reload(req *r);
static int op_open(req *r);
static int op_chunk(req *r);
static int op_close(req *r);

#define OP_ADMIN 0x1u

static const struct {
    unsigned flags;
    op_fn fn;
} op_table[FD_OP_COUNT] = {
    [FD_OP_CHECK] = {0, op_check},          [FD_OP_PING] = {0, op_ping},
    [FD_OP_VERSION] = {0, op_version},      [FD_OP_STATS] = {0, op_stats},
    [FD_OP_RELOAD] = {OP_ADMIN, op_reload}, [FD_OP_OPEN] = {0, op_open},
    [FD_OP_CHUNK] = {0, op_chunk},          [FD_OP_CLOSE] = {0, op_close},
};

static const char failed_tail[] =
    "\"error\":{\"code\":\"audit_failed\",\"message\":\"the audit record could not be written; "
    "no decision is given\"}}\n";

static void rec_done(void *arg, int status);

void fd_ndjson_init(fd_ndjson *s, fd_svc_thread *t, const fd_ndjson_ops *ops,
                    const struct ucred *peer, uint64_t serial)
{
    memset(s, 0, sizeof *s);
    s->t = t;
    s->ops = ops;
    fd_svc_owner_init(&s->owner, FD_API_NDJSON, peer, serial);
}

static void write_error(fd_buf *out, int err, const char *msg)
{
    fd_buf_puts(out, "\"error\":{\"code\":\"");
    fd_buf_puts(out, fd_svc_code_name(err));
    fd_buf_puts(out, "\",\"message\":");
    fd_buf_json_str(out, msg, strlen(msg));
    fd_buf_putc(out, '}');
}

void fd_ndjson_error_noid(fd_ndjson *s, int err, const char *message)
{
    fd_svc_count_error(s->t, err);
    fd_buf_putc(&s->out, '{');
    write_error(&s->out, err, message);
    fd_buf_puts(&s->out, "}\n");
}

/* ---- responses kept back for their record ------------------------------- */

size_t fd_ndjson_ready(const fd_ndjson *s)
{
    return s->nwait ? s->wait[s->whead].off : s->out.len;
}

/* Room for one more waiting response: 0 or -1. */
static int wait_reserve(fd_ndjson *s)
{
    if (s->whead + s->nwait < s->capwait)
        return 0;
    if (s->whead) { /* slide the live entries down */
        memmove(s->wait, s->wait + s->whead, s->nwait * sizeof *s->wait);
        s->whead = 0;
        return 0;
    }
    size_t cap = s->capwait ? s->capwait * 2 : 16;
    fd_ndjson_wait *p = realloc(s->wait, cap * sizeof *p);
    if (!p)
        return -1;
    s->wait = p;
    s->capwait = cap;
    return 0;
}

void fd_ndjson_take(fd_ndjson *s, fd_buf *dst)
{
    size_t n = fd_ndjson_ready(s);
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

/*
 * The record of the oldest waiting response failed: turn that response,
 * in place, into audit_failed (keeping '{' and its id), and move the later
 * waiting responses' offsets by the change in length.
 */
static void fail_oldest(fd_ndjson *s)
{
    const fd_ndjson_wait *p = &s->wait[s->whead];
    fd_buf *out = &s->out;
    const size_t tl = sizeof failed_tail - 1;
    if (p->off + 1 + p->idlen > out->len)
        return;
    char *line = out->data + p->off;
    char *nl = memchr(line, '\n', out->len - p->off);
    if (!nl || line[0] != '{')
        return;
    size_t from = p->off + 1 + p->idlen;
    size_t to = (size_t)(nl - out->data) + 1;
    size_t rest = out->len - to;
    if (tl > to - from && fd_buf_reserve(out, tl - (to - from)) != 0) {
        /* Cannot even say so: cut the decision and everything after it;
         * the transport closes a session whose output ran out of memory. */
        out->len = p->off;
        out->oom = true;
        return;
    }
    memmove(out->data + from + tl, out->data + to, rest);
    memcpy(out->data + from, failed_tail, tl);
    out->len = from + tl + rest;
    ptrdiff_t delta = (ptrdiff_t)(from + tl) - (ptrdiff_t)to;
    for (size_t i = 1; i < s->nwait; i++)
        s->wait[s->whead + i].off = (size_t)((ptrdiff_t)s->wait[s->whead + i].off + delta);
    fd_svc_count_error(s->t, FD_SVC_EAUDIT);
}

static void maybe_release(fd_ndjson *s)
{
    if (s->closed && s->refs == 0 && s->ops && s->ops->release)
        s->ops->release(s);
}

/* A ticket came back for the oldest waiting response. */
static void rec_done(void *arg, int status)
{
    fd_ndjson *s = arg;
    s->refs--;
    if (s->closed) {
        maybe_release(s);
        return;
    }
    if (s->nwait == 0) {
        fd_error("ndjson %llu: a ticket without a waiting response",
                 (unsigned long long)s->owner.serial);
        return;
    }
    if (status != 0)
        fail_oldest(s);
    s->whead++;
    if (--s->nwait == 0)
        s->whead = 0;
    if (s->ops && s->ops->wake)
        s->ops->wake(s);
}

bool fd_ndjson_close(fd_ndjson *s)
{
    if (!s->closed) {
        s->closed = true;
        /* No request of this session will be handled any more: its streams
         * end now (audited "disconnect"). */
        fd_svc_owner_end(s->t, &s->owner, "disconnect");
        if (s->reload.waiting) {
            fd_svc_reload_cancel(s->t, &s->reload);
            s->refs--;
        }
        s->waiting = false;
    }
    return s->refs == 0;
}

void fd_ndjson_free(fd_ndjson *s)
{
    fd_buf_free(&s->out);
    fd_buf_free(&s->defer_id);
    free(s->wait);
    s->wait = NULL;
    s->nwait = s->capwait = s->whead = 0;
}

/* ---- requests ------------------------------------------------------------ */

/*
 * Write '"id":X,' for the request's id if it is valid. Returns 0 (written,
 * or no id), or -1 if the id has a type or value SPEC §2 does not allow.
 */
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

/*
 * 1 if the JSON text holds a "\u0000" escape inside a string: cJSON stores
 * strings NUL-terminated, so such a text would be scanned only up to the
 * NUL while a gateway would deliver all of it. Rejected, never truncated.
 */
static int has_nul_escape(const char *s, size_t len)
{
    for (const char *p = s; (p = memmem(p, len - (size_t)(p - s), "\\u0000", 6)); p++) {
        size_t bs = 0; /* backslashes before p: an even run leaves p an escape */
        for (const char *q = p; q > s && q[-1] == '\\'; q--)
            bs++;
        if (bs % 2 == 0)
            return 1;
    }
    return 0;
}

void fd_ndjson_line(fd_ndjson *s, const char *line, size_t len)
{
    fd_svc_thread *t = s->t;
    fd_buf *out = &s->out;
    req r = {.s = s, .t = t, .out = out, .t0 = uv_hrtime()};
    size_t mark = out->len;
    int err = 0;
    const char *msg = NULL;

    fd_buf_putc(out, '{');
    r.id_start = r.id_end = out->len;

    /* A raw NUL is not JSON; cJSON would silently cut the string there. */
    cJSON *json = memchr(line, '\0', len) ? NULL : cJSON_ParseWithLength(line, len);
    if (!json) {
        if (!fd_utf8_valid(line, len)) {
            err = FD_SVC_EBAD_UTF8;
            msg = "request is not valid UTF-8";
        } else {
            err = FD_SVC_EBAD_JSON;
            msg = "request is not valid JSON";
        }
        goto fail;
    }
    r.json = json;
    if (!cJSON_IsObject(json)) {
        err = FD_SVC_EBAD_REQUEST;
        msg = "request must be a JSON object";
        goto fail;
    }
    if (write_id(out, cJSON_GetObjectItemCaseSensitive(json, "id")) != 0) {
        err = FD_SVC_EBAD_REQUEST;
        msg = "id must be a string or an integer of magnitude below 2^53";
        goto fail;
    }
    r.id_end = out->len;
    /* The whole line, not only `text`: invalid UTF-8 in `meta` or `id`
     * must never reach the audit log (cJSON copies such bytes through). */
    if (!fd_utf8_valid(line, len)) {
        /* echo the id only if it is itself valid */
        if (!fd_utf8_valid(out->data + r.id_start, r.id_end - r.id_start))
            r.id_end = r.id_start;
        err = FD_SVC_EBAD_UTF8;
        msg = "request is not valid UTF-8";
        goto fail;
    }
    if (has_nul_escape(line, len)) {
        err = FD_SVC_EBAD_REQUEST;
        msg = "NUL characters (\\u0000) are not supported";
        goto fail;
    }

    int op = FD_OP_CHECK;
    const cJSON *jop = cJSON_GetObjectItemCaseSensitive(json, "op");
    if (jop) {
        if (!cJSON_IsString(jop)) {
            err = FD_SVC_EBAD_REQUEST;
            msg = "op must be a string";
            goto fail;
        }
        for (op = 0; op < FD_OP_COUNT; op++)
            if (strcmp(fd_svc_op_name(op), jop->valuestring) == 0)
                break;
        if (op == FD_OP_COUNT) {
            err = FD_SVC_EUNKNOWN_OP;
            msg = "unknown op";
            goto fail;
        }
    }
    fd_svc_count(t, FD_API_NDJSON, op);
    if ((op_table[op].flags & OP_ADMIN) && !fd_svc_is_admin(t->svc, s->owner.peer.uid)) {
        err = FD_SVC_EFORBIDDEN;
        msg = "this op is for root, the daemon's user and --admin-uid only";
        goto fail;
    }
    /* Room to remember a response kept back for its record, before the
     * service takes a ticket for it. */
    if (wait_reserve(s) != 0) {
        err = FD_SVC_EINTERNAL;
        msg = "out of memory";
        goto fail;
    }

    int rc = op_table[op].fn(&r);
    if (rc == OP_DEFER) {
        /* Keep the id for the deferred response; nothing is written now. */
        s->defer_id.len = 0;
        fd_buf_append(&s->defer_id, out->data + r.id_start, r.id_end - r.id_start);
        out->len = mark;
        cJSON_Delete(json);
        fd_jarena_reset();
        return;
    }
    if (rc < 0) {
        err = rc;
        msg = r.errmsg ? r.errmsg : fd_svc_strerror(rc);
        goto fail;
    }
    fd_buf_puts(out, "}\n");
    if (out->oom) {
        /* Try once more: the error line is much shorter. A decision kept
         * back stays kept back (its ticket will find this line). */
        out->oom = false;
        out->len = mark;
        fd_buf_putc(out, '{');
        fd_svc_count_error(t, FD_SVC_EINTERNAL);
        write_error(out, FD_SVC_EINTERNAL, "out of memory");
        fd_buf_puts(out, "}\n");
        r.id_end = r.id_start;
    }
    if (rc == FD_SVC_PENDING) {
        s->wait[s->whead + s->nwait++] = (fd_ndjson_wait){mark, r.id_end - r.id_start};
        s->refs++;
    }
    cJSON_Delete(json);
    fd_jarena_reset();
    return;

fail:
    /* Keep '{' and the id, replace whatever the handler wrote. */
    out->len = r.id_end;
    fd_svc_count_error(t, err);
    write_error(out, err, msg);
    fd_buf_puts(out, "}\n");
    cJSON_Delete(json);
    fd_jarena_reset();
}

/* ---- ops ---------------------------------------------------------------- */

/* The optional boolean "explain" into *EXPLAIN: 0 or FD_SVC_EBAD_REQUEST. */
static int get_explain(req *r, bool *explain)
{
    const cJSON *jexplain = cJSON_GetObjectItemCaseSensitive(r->json, "explain");
    if (jexplain && !cJSON_IsBool(jexplain)) {
        r->errmsg = "explain must be true or false";
        return FD_SVC_EBAD_REQUEST;
    }
    *explain = cJSON_IsTrue(jexplain);
    return 0;
}

/*
 * The optional "meta": an object whose JSON text is at most 4 KiB, kept as
 * text for the audit record. *META points into BUF (FD_META_MAX + 8 bytes)
 * or is NULL. cJSON_PrintPreallocated fails when it does not fit (it wants
 * 5 bytes of slack), which bounds the work done here. 0 or
 * FD_SVC_EBAD_REQUEST.
 */
static int get_meta(req *r, char *buf, size_t cap, const char **meta)
{
    *meta = NULL;
    const cJSON *jmeta = cJSON_GetObjectItemCaseSensitive(r->json, "meta");
    if (!jmeta)
        return 0;
    if (!cJSON_IsObject(jmeta)) {
        r->errmsg = "meta must be an object";
        return FD_SVC_EBAD_REQUEST;
    }
    if (!cJSON_PrintPreallocated((cJSON *)jmeta, buf, (int)cap, 0) || strlen(buf) > FD_META_MAX) {
        r->errmsg = "meta must be at most 4096 bytes of JSON";
        return FD_SVC_EBAD_REQUEST;
    }
    *meta = buf;
    return 0;
}

/* The request's context for the service: its id as JSON text (the value
 * only, for the audit record), start time and completion. */
static fd_svc_req svc_req(const req *r)
{
    size_t n = r->id_end - r->id_start; /* '"id":ID,' in out, or 0 */
    return (fd_svc_req){
        .id_json = n ? r->out->data + r->id_start + 5 : NULL,
        .id_len = n ? n - 6 : 0,
        .t0 = r->t0,
        .done = rec_done,
        .arg = r->s,
    };
}

/* The matches of RES: those that count, or all of them with EXPLAIN. */
static void write_matches(fd_buf *out, const fd_ruleset *rs, const fd_result *res, bool explain)
{
    fd_buf_puts(out, "\"matches\":[");
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
    if (res->dropped) {
        fd_buf_puts(out, ",\"dropped\":");
        fd_buf_u64(out, res->dropped);
    }
}

/*
 * check: scan `text`, answer the decision and the matches that count
 * (all matches with "explain": true).
 */
static int op_check(req *r)
{
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(r->json, "text");
    if (!cJSON_IsString(text)) {
        r->errmsg = "check needs \"text\" (a string)";
        return FD_SVC_EBAD_REQUEST;
    }
    bool explain;
    int rc = get_explain(r, &explain);
    if (rc)
        return rc;
    char metabuf[FD_META_MAX + 8];
    const char *meta;
    rc = get_meta(r, metabuf, sizeof(metabuf), &meta);
    if (rc)
        return rc;

    fd_svc_req rq = svc_req(r);
    fd_svc_check_out co;
    rc = fd_svc_check(r->t, &r->s->owner, text->valuestring, strlen(text->valuestring), meta, &rq,
                      &co);
    if (rc < 0) {
        r->errmsg = rc == FD_SVC_EBAD_UTF8    ? "text is not valid UTF-8"
                    : rc == FD_SVC_ETOO_LARGE ? "text too large"
                    : rc == FD_SVC_EAUDIT     ? "the audit record could not be written"
                                              : "scan failed";
        return rc;
    }
    fd_buf *out = r->out;
    fd_buf_puts(out, "\"decision\":\"");
    fd_buf_puts(out, fd_action_name(co.res->decision));
    fd_buf_puts(out, "\",");
    write_matches(out, co.rs, co.res, explain);
    fd_buf_puts(out, ",\"rules\":\"");
    fd_buf_puts(out, fd_ruleset_version(co.rs));
    fd_buf_puts(out, "\",\"us\":");
    uint64_t us = (uv_hrtime() - r->t0) / 1000;
    fd_buf_u64(out, us);
    fd_svc_count_latency(r->t, us);
    return rc;
}

/* ---- streams (SPEC §2 open/chunk/close; state in the service) ---------- */

/* The "stream" id of a stream request: a string of 1 to FD_STREAM_ID_MAX
 * bytes. 0 or FD_SVC_EBAD_REQUEST. */
static int get_stream_id(req *r, const char **id, size_t *len)
{
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(r->json, "stream");
    if (!cJSON_IsString(js)) {
        r->errmsg = "stream ops need \"stream\" (a string id)";
        return FD_SVC_EBAD_REQUEST;
    }
    *id = js->valuestring;
    *len = strlen(js->valuestring);
    if (*len == 0 || *len > FD_STREAM_ID_MAX) {
        r->errmsg = "stream id must be 1 to 256 bytes";
        return FD_SVC_EBAD_REQUEST;
    }
    return 0;
}

/* The message of a stream op's error RC. */
static const char *stream_errmsg(int rc)
{
    switch (rc) {
    case FD_SVC_EUNKNOWN_STREAM:
        return "no open stream with this id on this connection (never opened, closed, or "
               "ended by --stream-timeout)";
    case FD_SVC_ESTREAM_EXISTS:
        return "a stream with this id is already open on this connection";
    case FD_SVC_ETOO_MANY_STREAMS:
        return "too many open streams on this connection (--max-streams)";
    case FD_SVC_ESTREAM_BLOCKED:
        return "the stream was blocked; close it";
    case FD_SVC_EBAD_UTF8:
        return "text is not valid UTF-8";
    case FD_SVC_ETOO_LARGE:
        return "stream too large (streams end at 4 GiB)";
    case FD_SVC_EAUDIT:
        return "the audit record of this stream could not be written; no decision is given";
    default:
        return "stream failed";
    }
}

/*
 * The body of a chunk or close response: stream id, decision, the new
 * matches that count (all with explain) with spans from the stream's
 * start, and the release point.
 */
static void write_stream_result(req *r, const char *id, size_t idlen, const fd_svc_stream_out *so,
                                bool explain)
{
    fd_buf *out = r->out;
    fd_buf_key(out, "stream");
    fd_buf_json_str(out, id, idlen);
    fd_buf_puts(out, ",\"decision\":\"");
    fd_buf_puts(out, fd_action_name(so->res->decision));
    fd_buf_puts(out, "\",");
    write_matches(out, so->rs, so->res, explain);
    fd_buf_puts(out, ",\"release\":");
    fd_buf_u64(out, so->release);
}

/*
 * open: start stream `stream` on this connection with the current rules.
 * Errors: stream_exists, too_many_streams (--max-streams), bad_request.
 */
static int op_open(req *r)
{
    const char *id;
    size_t idlen;
    int rc = get_stream_id(r, &id, &idlen);
    if (rc)
        return rc;
    char metabuf[FD_META_MAX + 8];
    const char *meta;
    rc = get_meta(r, metabuf, sizeof(metabuf), &meta);
    if (rc)
        return rc;
    const char *version;
    rc = fd_svc_stream_open(r->t, &r->s->owner, id, idlen, meta, &version);
    if (rc < 0) {
        r->errmsg = stream_errmsg(rc);
        return rc;
    }
    fd_buf *out = r->out;
    fd_buf_key(out, "stream");
    fd_buf_json_str(out, id, idlen);
    fd_buf_puts(out, ",\"ok\":true,\"rules\":\"");
    fd_buf_puts(out, version);
    fd_buf_putc(out, '"');
    return 0;
}

/*
 * chunk: feed `text` to the stream; answer the new matches, the decision
 * so far and the release point. A block finishes the stream: it is
 * audited now (the answer waits for the record), later chunks get
 * stream_blocked, close still answers.
 */
static int op_chunk(req *r)
{
    const char *id;
    size_t idlen;
    int rc = get_stream_id(r, &id, &idlen);
    if (rc)
        return rc;
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(r->json, "text");
    if (!cJSON_IsString(text)) {
        r->errmsg = "chunk needs \"text\" (a string)";
        return FD_SVC_EBAD_REQUEST;
    }
    bool explain;
    rc = get_explain(r, &explain);
    if (rc)
        return rc;
    fd_svc_req rq = svc_req(r);
    fd_svc_stream_out so;
    rc = fd_svc_stream_chunk(r->t, &r->s->owner, id, idlen, text->valuestring,
                             strlen(text->valuestring), &rq, &so);
    if (rc < 0) {
        r->errmsg = stream_errmsg(rc);
        return rc;
    }
    write_stream_result(r, id, idlen, &so, explain);
    return rc;
}

/*
 * close: end of the stream's text. Answers the last matches, the final
 * decision and the release point (everything unless blocked); the stream
 * is gone afterwards, also after an error.
 */
static int op_close(req *r)
{
    const char *id;
    size_t idlen;
    int rc = get_stream_id(r, &id, &idlen);
    if (rc)
        return rc;
    bool explain;
    int perr = get_explain(r, &explain);
    fd_svc_req rq = svc_req(r);
    fd_svc_stream_out so;
    rc = fd_svc_stream_close(r->t, &r->s->owner, id, idlen, &rq, &so);
    if (rc < 0) {
        r->errmsg = stream_errmsg(rc);
        return rc;
    }
    if (perr) {
        /* The stream is closed (and recorded) all the same; the answer is
         * the error, kept back like the decision would have been when
         * the record is on its way. */
        fd_svc_count_error(r->t, perr);
        write_error(r->out, perr, r->errmsg);
        return rc;
    }
    write_stream_result(r, id, idlen, &so, explain);
    return rc;
}

static int op_ping(req *r)
{
    fd_buf_puts(r->out, "\"ok\":true");
    return 0;
}

static int op_version(req *r)
{
    fd_svc_version(r->t, r->out);
    return 0;
}

static int op_stats(req *r)
{
    fd_svc_stats(r->t, r->out);
    return 0;
}

/* The answer of a deferred reload (see op_reload). */
static void reload_done(void *arg, int status, const fd_reload_result *res, const char *msg)
{
    fd_ndjson *s = arg;
    s->refs--;
    if (s->closed) {
        maybe_release(s);
        return;
    }
    fd_buf *out = &s->out;
    fd_buf_putc(out, '{');
    fd_buf_append(out, s->defer_id.data, s->defer_id.len);
    if (status != 0) {
        fd_svc_count_error(s->t, status);
        write_error(out, status, msg ? msg : fd_svc_strerror(status));
    } else {
        fd_buf_puts(out, "\"ok\":true,\"rules\":\"");
        fd_buf_puts(out, res->version);
        fd_buf_puts(out, "\",\"rule_count\":");
        fd_buf_u64(out, res->nrules);
    }
    fd_buf_puts(out, "}\n");
    s->waiting = false;
    if (s->ops && s->ops->wake)
        s->ops->wake(s);
}

/*
 * reload: ask for the rules to be loaded again; the answer comes when a
 * reload that started after this request has finished (reload_done).
 */
static int op_reload(req *r)
{
    int rc = fd_svc_reload(r->t, &r->s->reload, reload_done, r->s);
    if (rc == FD_SVC_EBUSY) {
        r->errmsg = "the daemon is shutting down";
        return rc;
    }
    r->s->refs++;
    r->s->waiting = true;
    return OP_DEFER;
}
