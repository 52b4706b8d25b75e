/*
 * proto.c — see proto.h.
 */
#include "proto.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "audit.h"
#include "conn.h"
#include "jarena.h"
#include "log.h"
#include "streams.h"

#ifndef FILTERD_VERSION
#define FILTERD_VERSION "0.0.0"
#endif

static const char *const error_names[FD_PERR_COUNT] = {
    [FD_PERR_NONE] = "none",
    [FD_PERR_BAD_JSON] = "bad_json",
    [FD_PERR_BAD_REQUEST] = "bad_request",
    [FD_PERR_BAD_UTF8] = "bad_utf8",
    [FD_PERR_TOO_LARGE] = "too_large",
    [FD_PERR_UNKNOWN_OP] = "unknown_op",
    [FD_PERR_UNKNOWN_STREAM] = "unknown_stream",
    [FD_PERR_STREAM_EXISTS] = "stream_exists",
    [FD_PERR_STREAM_BLOCKED] = "stream_blocked",
    [FD_PERR_TOO_MANY_STREAMS] = "too_many_streams",
    [FD_PERR_FORBIDDEN] = "forbidden",
    [FD_PERR_BUSY] = "busy",
    [FD_PERR_BAD_RULES] = "bad_rules",
    [FD_PERR_AUDIT_FAILED] = "audit_failed",
    [FD_PERR_INTERNAL] = "internal",
};

const char *fd_proto_error_name(int code)
{
    return code > 0 && code < FD_PERR_COUNT ? error_names[code] : "internal";
}

/* One request being handled: what an op handler needs. */
typedef struct req {
    fd_conn *c;
    fd_worker *w;
    const cJSON *json;
    fd_buf *out;
    const char *errmsg; /* set by a handler returning an error */
    uint64_t t0;        /* uv_hrtime() at the start, ns */
    size_t id_start;    /* where '"id":X,' starts in out */
    size_t id_end;
} req;

/* A handler appends its response fields (no braces, no trailing comma) to
 * r->out and returns 0, or returns an fd_perr with r->errmsg set (its
 * output is discarded), or OP_DEFER. */
#define OP_DEFER (-1)
typedef int (*op_fn)(req *r);

static int op_check(req *r);
static int op_ping(req *r);
static int op_version(req *r);
static int op_stats(req *r);
static int op_reload(req *r);
static int op_open(req *r);
static int op_chunk(req *r);
static int op_close(req *r);

#define OP_CONTROL 0x1u

static const struct {
    const char *name;
    unsigned flags;
    op_fn fn;
} op_table[FD_OP_COUNT] = {
    [FD_OP_CHECK] = {"check", 0, op_check},
    [FD_OP_PING] = {"ping", 0, op_ping},
    [FD_OP_VERSION] = {"version", 0, op_version},
    [FD_OP_STATS] = {"stats", 0, op_stats},
    [FD_OP_RELOAD] = {"reload", OP_CONTROL, op_reload},
    [FD_OP_OPEN] = {"open", 0, op_open},
    [FD_OP_CHUNK] = {"chunk", 0, op_chunk},
    [FD_OP_CLOSE] = {"close", 0, op_close},
};

const char *fd_proto_op_name(int op)
{
    return op >= 0 && op < FD_OP_COUNT ? op_table[op].name : "?";
}

static void write_error(fd_buf *out, fd_perr code, const char *msg)
{
    fd_buf_puts(out, "\"error\":{\"code\":\"");
    fd_buf_puts(out, fd_proto_error_name(code));
    fd_buf_puts(out, "\",\"message\":");
    fd_buf_json_str(out, msg, strlen(msg));
    fd_buf_putc(out, '}');
}

void fd_proto_error_noid(fd_conn *c, fd_perr code, const char *message)
{
    fd_stat_add(&c->w->stats.errors[code], 1);
    fd_buf_putc(&c->out, '{');
    write_error(&c->out, code, message);
    fd_buf_puts(&c->out, "}\n");
}

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

void fd_proto_handle(fd_conn *c, const char *line, size_t len)
{
    fd_worker *w = c->w;
    fd_buf *out = &c->out;
    req r = {.c = c, .w = w, .out = out, .t0 = uv_hrtime()};
    size_t mark = out->len;
    fd_perr err = FD_PERR_NONE;
    const char *msg = NULL;

    fd_buf_putc(out, '{');
    r.id_start = r.id_end = out->len;

    /* A raw NUL is not JSON; cJSON would silently cut the string there. */
    cJSON *json = memchr(line, '\0', len) ? NULL : cJSON_ParseWithLength(line, len);
    if (!json) {
        if (!fd_utf8_valid(line, len)) {
            err = FD_PERR_BAD_UTF8;
            msg = "request is not valid UTF-8";
        } else {
            err = FD_PERR_BAD_JSON;
            msg = "request is not valid JSON";
        }
        goto fail;
    }
    r.json = json;
    if (!cJSON_IsObject(json)) {
        err = FD_PERR_BAD_REQUEST;
        msg = "request must be a JSON object";
        goto fail;
    }
    if (write_id(out, cJSON_GetObjectItemCaseSensitive(json, "id")) != 0) {
        err = FD_PERR_BAD_REQUEST;
        msg = "id must be a string or an integer of magnitude below 2^53";
        goto fail;
    }
    r.id_end = out->len;
    if (!fd_utf8_valid(line, len)) {
        err = FD_PERR_BAD_UTF8;
        msg = "request is not valid UTF-8";
        goto fail;
    }
    if (has_nul_escape(line, len)) {
        err = FD_PERR_BAD_REQUEST;
        msg = "NUL characters (\\u0000) are not supported";
        goto fail;
    }

    int op = FD_OP_CHECK;
    const cJSON *jop = cJSON_GetObjectItemCaseSensitive(json, "op");
    if (jop) {
        if (!cJSON_IsString(jop)) {
            err = FD_PERR_BAD_REQUEST;
            msg = "op must be a string";
            goto fail;
        }
        for (op = 0; op < FD_OP_COUNT; op++)
            if (strcmp(op_table[op].name, jop->valuestring) == 0)
                break;
        if (op == FD_OP_COUNT) {
            err = FD_PERR_UNKNOWN_OP;
            msg = "unknown op";
            goto fail;
        }
    }
    fd_stat_add(&w->stats.ops[op], 1);
    if ((op_table[op].flags & OP_CONTROL) && !fd_config_is_admin(w->srv->cfg, c->peer.uid)) {
        err = FD_PERR_FORBIDDEN;
        msg = "this op is for root, the daemon's user and --admin-uid only";
        goto fail;
    }

    int rc = op_table[op].fn(&r);
    if (rc == OP_DEFER) {
        /* Keep the id for the deferred response; nothing is written now. */
        c->defer_id.len = 0;
        fd_buf_append(&c->defer_id, out->data + r.id_start, r.id_end - r.id_start);
        out->len = mark;
        cJSON_Delete(json);
        fd_jarena_reset();
        return;
    }
    if (rc != 0) {
        err = (fd_perr)rc;
        msg = r.errmsg ? r.errmsg : "error";
        goto fail;
    }
    fd_buf_puts(out, "}\n");
    if (out->oom) {
        out->oom = false;
        out->len = mark;
        err = FD_PERR_INTERNAL;
        msg = "out of memory";
        /* try once more: the error line is much shorter */
        fd_buf_putc(out, '{');
        r.id_start = r.id_end = out->len;
        goto fail;
    }
    cJSON_Delete(json);
    fd_jarena_reset();
    return;

fail:
    /* Keep '{' and the id, replace whatever the handler wrote. */
    out->len = r.id_end;
    fd_stat_add(&w->stats.errors[err], 1);
    write_error(out, err, msg);
    fd_buf_puts(out, "}\n");
    cJSON_Delete(json);
    fd_jarena_reset();
}

/* ---- ops ---------------------------------------------------------------- */

static void write_match(fd_buf *out, const fd_ruleset *rs, const fd_match *m)
{
    const fd_rule *rule = fd_ruleset_rule(rs, m->rule);
    const fd_category *cat = fd_ruleset_category(rs, rule->category);
    fd_buf_puts(out, "{\"rule\":");
    fd_buf_json_str(out, rule->id, strlen(rule->id));
    fd_buf_puts(out, ",\"category\":");
    fd_buf_json_str(out, cat->id, strlen(cat->id));
    fd_buf_puts(out, ",\"action\":\"");
    fd_buf_puts(out, fd_action_name((fd_action)m->action));
    fd_buf_puts(out, "\",\"start\":");
    fd_buf_u64(out, m->start);
    fd_buf_puts(out, ",\"end\":");
    fd_buf_u64(out, m->end);
    if (m->suppressed)
        fd_buf_puts(out, ",\"suppressed\":true");
    fd_buf_putc(out, '}');
}

/* The optional boolean "explain" into *EXPLAIN: 0 or FD_PERR_BAD_REQUEST. */
static int get_explain(req *r, bool *explain)
{
    const cJSON *jexplain = cJSON_GetObjectItemCaseSensitive(r->json, "explain");
    if (jexplain && !cJSON_IsBool(jexplain)) {
        r->errmsg = "explain must be true or false";
        return FD_PERR_BAD_REQUEST;
    }
    *explain = cJSON_IsTrue(jexplain);
    return 0;
}

/*
 * The optional "meta": an object whose JSON text is at most 4 KiB, kept as
 * text for the audit record. *META points into BUF (FD_META_MAX + 8 bytes)
 * or is NULL. cJSON_PrintPreallocated fails when it does not fit (it wants
 * 5 bytes of slack), which bounds the work done here. 0 or
 * FD_PERR_BAD_REQUEST.
 */
static int get_meta(req *r, char *buf, size_t cap, const char **meta)
{
    *meta = NULL;
    const cJSON *jmeta = cJSON_GetObjectItemCaseSensitive(r->json, "meta");
    if (!jmeta)
        return 0;
    if (!cJSON_IsObject(jmeta)) {
        r->errmsg = "meta must be an object";
        return FD_PERR_BAD_REQUEST;
    }
    if (!cJSON_PrintPreallocated((cJSON *)jmeta, buf, (int)cap, 0) || strlen(buf) > FD_META_MAX) {
        r->errmsg = "meta must be at most 4096 bytes of JSON";
        return FD_PERR_BAD_REQUEST;
    }
    *meta = buf;
    return 0;
}

/*
 * check: scan `text`, answer the decision and the matches that count
 * (all matches with "explain": true).
 */
static int op_check(req *r)
{
    fd_worker *w = r->w;
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(r->json, "text");
    if (!cJSON_IsString(text)) {
        r->errmsg = "check needs \"text\" (a string)";
        return FD_PERR_BAD_REQUEST;
    }
    bool explain;
    int perr = get_explain(r, &explain);
    if (perr)
        return perr;
    char metabuf[FD_META_MAX + 8];
    const char *meta;
    perr = get_meta(r, metabuf, sizeof(metabuf), &meta);
    if (perr)
        return perr;

    const char *s = text->valuestring;
    size_t len = strlen(s);
    int rc = fd_scan(w->rs, w->scratch, s, len, &w->result);
    if (rc == FD_EUTF8) {
        r->errmsg = "text is not valid UTF-8";
        return FD_PERR_BAD_UTF8;
    }
    if (rc == FD_ETOOBIG) {
        r->errmsg = "text too large";
        return FD_PERR_TOO_LARGE;
    }
    if (rc != 0) {
        fd_error("scan failed: %s", fd_strerror(rc));
        r->errmsg = "scan failed";
        return FD_PERR_INTERNAL;
    }
    const fd_result *res = &w->result;
    uint64_t us = (uv_hrtime() - r->t0) / 1000;

    size_t idn = r->id_end - r->id_start; /* '"id":ID,' in out, or 0 */
    fd_audit_input ai = {
        .op = "check",
        .id_json = idn ? r->out->data + r->id_start + 5 : NULL, /* the value only */
        .id_len = idn ? idn - 6 : 0,
        .text = s,
        .len = len,
        .res = res,
        .meta = meta,
        .peer = &r->c->peer,
        .us = us,
        .conn = r->c,
        .resp_off = r->id_start - 1, /* its response's '{' */
    };
    if (fd_audit_decision(w, &ai) != 0) {
        r->errmsg = "the audit record could not be written";
        return FD_PERR_AUDIT_FAILED;
    }

    /* counters: the decision, each category with a counted match once */
    fd_stat_add(&w->stats.decisions[res->decision], 1);
    fd_stat_add(&w->stats.bytes, len);
    uint64_t seen[FD_STATS_MAX_CATS / 64] = {0};

    fd_buf *out = r->out;
    fd_buf_puts(out, "\"decision\":\"");
    fd_buf_puts(out, fd_action_name(res->decision));
    fd_buf_puts(out, "\",\"matches\":[");
    bool first = true;
    for (size_t i = 0; i < res->n; i++) {
        const fd_match *m = &res->matches[i];
        bool counts = m->action != FD_ALLOW && !m->suppressed;
        if (counts) {
            uint32_t cat = fd_ruleset_rule(w->rs, m->rule)->category;
            if (cat < FD_STATS_MAX_CATS && !(seen[cat / 64] & (1ull << (cat % 64)))) {
                seen[cat / 64] |= 1ull << (cat % 64);
                fd_stat_add(&w->stats.categories[cat], 1);
            }
        }
        if (!counts && !explain)
            continue;
        if (!first)
            fd_buf_putc(out, ',');
        first = false;
        write_match(out, w->rs, m);
    }
    fd_buf_putc(out, ']');
    if (res->dropped) {
        fd_buf_puts(out, ",\"dropped\":");
        fd_buf_u64(out, res->dropped);
    }
    fd_buf_puts(out, ",\"rules\":\"");
    fd_buf_puts(out, fd_ruleset_version(w->rs));
    fd_buf_puts(out, "\",\"us\":");
    us = (uv_hrtime() - r->t0) / 1000;
    fd_buf_u64(out, us);
    fd_stats_latency(&w->stats, us);
    return 0;
}

/* ---- streams (SPEC §2 open/chunk/close; state in streams.h) ------------- */

/* The "stream" id of a stream request: a string of 1 to FD_CSTREAM_ID_MAX
 * bytes. 0 or FD_PERR_BAD_REQUEST. */
static int get_stream_id(req *r, const char **id, size_t *len)
{
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(r->json, "stream");
    if (!cJSON_IsString(js)) {
        r->errmsg = "stream ops need \"stream\" (a string id)";
        return FD_PERR_BAD_REQUEST;
    }
    *id = js->valuestring;
    *len = strlen(js->valuestring);
    if (*len == 0 || *len > FD_CSTREAM_ID_MAX) {
        r->errmsg = "stream id must be 1 to 256 bytes";
        return FD_PERR_BAD_REQUEST;
    }
    return 0;
}

/* The request's id as JSON text ("x" or 7, without the key), for audit
 * records: *LEN = 0 and NULL without one. */
static const char *id_json(const req *r, size_t *len)
{
    size_t n = r->id_end - r->id_start;
    if (n < 7) { /* '"id":' + a value + ',' */
        *len = 0;
        return NULL;
    }
    *len = n - 6;
    return r->out->data + r->id_start + 5;
}

/* Look up the stream of a chunk or close: 0 and *CS, or unknown_stream. */
static int find_stream(req *r, fd_cstream **cs)
{
    const char *id;
    size_t idlen;
    int perr = get_stream_id(r, &id, &idlen);
    if (perr)
        return perr;
    *cs = fd_streams_find(r->c, id, idlen);
    if (!*cs) {
        r->errmsg = "no open stream with this id on this connection (never opened, "
                    "closed, or ended by --stream-timeout)";
        return FD_PERR_UNKNOWN_STREAM;
    }
    return 0;
}

/*
 * The body of a chunk or close response: stream id, decision, the new
 * matches that count (suppressed ones too with explain) with spans from
 * the stream's start, and the release point.
 */
static void write_stream_result(req *r, const fd_cstream *cs, const fd_result *res,
                                uint64_t release, bool explain)
{
    fd_buf *out = r->out;
    const fd_ruleset *rs = fd_stream_ruleset(cs->st);
    fd_buf_key(out, "stream");
    fd_buf_json_str(out, cs->id, cs->idlen);
    fd_buf_puts(out, ",\"decision\":\"");
    fd_buf_puts(out, fd_action_name(res->decision));
    fd_buf_puts(out, "\",\"matches\":[");
    bool first = true;
    for (size_t i = 0; i < res->n; i++) {
        const fd_match *m = &res->matches[i];
        if ((m->action == FD_ALLOW || m->suppressed) && !explain)
            continue;
        if (!first)
            fd_buf_putc(out, ',');
        first = false;
        write_match(out, rs, m);
    }
    fd_buf_putc(out, ']');
    if (res->dropped) {
        fd_buf_puts(out, ",\"dropped\":");
        fd_buf_u64(out, res->dropped);
    }
    fd_buf_puts(out, ",\"release\":");
    fd_buf_u64(out, release);
}

/* Map an engine error of a stream op to a response error. */
static int stream_error(req *r, int rc)
{
    switch (rc) {
    case FD_EUTF8:
        r->errmsg = "text is not valid UTF-8";
        return FD_PERR_BAD_UTF8;
    case FD_ETOOBIG:
        r->errmsg = "stream too large (streams end at 4 GiB)";
        return FD_PERR_TOO_LARGE;
    default:
        fd_error("stream: %s", fd_strerror(rc));
        r->errmsg = "stream failed";
        return FD_PERR_INTERNAL;
    }
}

/*
 * open: start stream `stream` on this connection with the current rules.
 * Errors: stream_exists, too_many_streams (--max-streams), bad_request.
 */
static int op_open(req *r)
{
    fd_conn *c = r->c;
    const char *id;
    size_t idlen;
    int perr = get_stream_id(r, &id, &idlen);
    if (perr)
        return perr;
    char metabuf[FD_META_MAX + 8];
    const char *meta;
    perr = get_meta(r, metabuf, sizeof(metabuf), &meta);
    if (perr)
        return perr;
    if (fd_streams_find(c, id, idlen)) {
        r->errmsg = "a stream with this id is already open on this connection";
        return FD_PERR_STREAM_EXISTS;
    }
    if (c->streams.n >= r->w->srv->cfg->max_streams) {
        r->errmsg = "too many open streams on this connection (--max-streams)";
        return FD_PERR_TOO_MANY_STREAMS;
    }
    fd_cstream *cs;
    int rc = fd_cstream_open(c, id, idlen, meta, &cs);
    if (rc != 0)
        return stream_error(r, rc);
    fd_buf *out = r->out;
    fd_buf_key(out, "stream");
    fd_buf_json_str(out, id, idlen);
    fd_buf_puts(out, ",\"ok\":true,\"rules\":\"");
    fd_buf_puts(out, fd_ruleset_version(fd_stream_ruleset(cs->st)));
    fd_buf_putc(out, '"');
    return 0;
}

/*
 * chunk: feed `text` to the stream; answer the new matches, the decision
 * so far and the release point. A block finishes the stream: it is
 * audited now, later chunks get stream_blocked, close still answers.
 */
static int op_chunk(req *r)
{
    fd_conn *c = r->c;
    fd_cstream *cs;
    int perr = find_stream(r, &cs);
    if (perr)
        return perr;
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(r->json, "text");
    if (!cJSON_IsString(text)) {
        r->errmsg = "chunk needs \"text\" (a string)";
        return FD_PERR_BAD_REQUEST;
    }
    bool explain;
    perr = get_explain(r, &explain);
    if (perr)
        return perr;
    if (fd_stream_blocked(cs->st)) {
        r->errmsg = "the stream was blocked; close it";
        return FD_PERR_STREAM_BLOCKED;
    }
    uint64_t release;
    fd_result *res = &r->w->result;
    int rc = fd_cstream_feed(c, cs, text->valuestring, strlen(text->valuestring), res, &release);
    if (rc == FD_ENOMEM || rc == FD_EHS || rc == FD_ESTATE) {
        fd_cstream_end(c, cs, "error"); /* broken: nothing more can be done with it */
        return stream_error(r, rc);
    }
    if (rc != 0)
        return stream_error(r, rc); /* nothing of the chunk was taken */
    if (res->decision == FD_BLOCK) {
        /* AUDIT HOOK (block): the stream ends here; fail closed. */
        size_t idl;
        const char *idj = id_json(r, &idl);
        if (fd_cstream_audit(c, cs, "block", idj, idl, (uv_hrtime() - r->t0) / 1000,
                             r->id_start - 1 /* its response's { */) != 0) {
            r->errmsg = "the audit record could not be written";
            return FD_PERR_AUDIT_FAILED;
        }
    }
    write_stream_result(r, cs, res, release, explain);
    return 0;
}

/*
 * close: end of the stream's text. Answers the last matches, the final
 * decision and the release point (everything unless blocked), and frees
 * the stream, also after an error.
 */
static int op_close(req *r)
{
    fd_conn *c = r->c;
    fd_cstream *cs;
    int perr = find_stream(r, &cs);
    if (perr)
        return perr;
    bool explain;
    perr = get_explain(r, &explain);
    if (perr) {
        fd_cstream_end(c, cs, "close");
        return perr;
    }
    uint64_t release;
    fd_result *res = &r->w->result;
    int rc = fd_cstream_close(c, cs, res, &release);
    if (rc != 0) {
        perr = stream_error(r, rc);
        fd_cstream_end(c, cs, "close");
        return perr;
    }
    /* AUDIT HOOK (close): unless a block already audited the stream. */
    size_t idl;
    const char *idj = id_json(r, &idl);
    if (fd_cstream_audit(c, cs, "close", idj, idl, (uv_hrtime() - r->t0) / 1000,
                         r->id_start - 1 /* its response's { */) != 0) {
        r->errmsg = "the audit record could not be written";
        fd_cstream_end(c, cs, "close");
        return FD_PERR_AUDIT_FAILED;
    }
    /* The matches name rules of the stream's rule set: write them before
     * the stream (and its reference to that set) goes. */
    write_stream_result(r, cs, res, release, explain);
    fd_cstream_end(c, cs, "close");
    return 0;
}

static int op_ping(req *r)
{
    fd_buf_puts(r->out, "\"ok\":true");
    return 0;
}

static int op_version(req *r)
{
    fd_buf *out = r->out;
    const fd_ruleset *rs = r->w->rs;
    const fd_rulelist *rl = fd_ruleset_rules(rs);
    const char *hs = fd_hs_version();
    fd_buf_puts(out, "\"version\":\"" FILTERD_VERSION "\",\"hyperscan\":");
    fd_buf_json_str(out, hs, strlen(hs));
    fd_buf_puts(out, ",\"rules\":\"");
    fd_buf_puts(out, fd_ruleset_version(rs));
    fd_buf_puts(out, "\",\"rule_count\":");
    fd_buf_u64(out, fd_ruleset_nrules(rs));
    /* The taxonomy, so clients can name categories without the rule files. */
    fd_buf_puts(out, ",\"categories\":[");
    for (size_t i = 0; i < rl->ncats; i++) {
        const fd_category *cat = &rl->cats[i];
        if (i)
            fd_buf_putc(out, ',');
        fd_buf_puts(out, "{\"id\":");
        fd_buf_json_str(out, cat->id, strlen(cat->id));
        fd_buf_puts(out, ",\"zh\":");
        fd_buf_json_str(out, cat->zh, strlen(cat->zh));
        fd_buf_puts(out, ",\"en\":");
        fd_buf_json_str(out, cat->en, strlen(cat->en));
        fd_buf_putc(out, '}');
    }
    fd_buf_putc(out, ']');
    return 0;
}

static int op_stats(req *r)
{
    fd_server *srv = r->w->srv;
    const fd_ruleset *rs = r->w->rs;
    const fd_rulelist *rl = fd_ruleset_rules(rs);
    fd_stats *threads[256];
    const char *cat_ids[FD_STATS_MAX_CATS];
    size_t n = srv->nworkers < 256 ? srv->nworkers : 256;
    for (size_t i = 0; i < n; i++)
        threads[i] = &srv->workers[i].stats;
    size_t ncats = rl->ncats < FD_STATS_MAX_CATS ? rl->ncats : FD_STATS_MAX_CATS;
    for (size_t i = 0; i < ncats; i++)
        cat_ids[i] = rl->cats[i].id;
    fd_stats_extra x = {
        .rules_version = fd_ruleset_version(rs),
        .rules_count = fd_ruleset_nrules(rs),
        .cat_ids = cat_ids,
        .ncats = ncats,
        .reloads_ok = atomic_load(&srv->reloads_ok),
        .reloads_failed = atomic_load(&srv->reloads_failed),
        .last_reload_at = atomic_load(&srv->last_reload_at),
        .last_reload_ok = atomic_load(&srv->last_reload_ok),
        .last_reload_us = atomic_load(&srv->last_reload_us),
        .last_reload_cached = atomic_load(&srv->last_reload_cached),
        .rules_load_ms = fd_ruleset_compile_ms(rs),
        .rules_cached = fd_ruleset_cached(rs),
        .uptime_s = (uv_hrtime() / 1000000 - srv->start_ms) / 1000,
        .threads = srv->nworkers,
    };
    fd_audit_stats(srv, &x);
    fd_stats_write(r->out, threads, n, &x);
    return 0;
}

/*
 * reload: ask the main thread to load the rules again; the answer comes
 * when a reload that started after this request has finished (see
 * fd_reload_result), through fd_proto_reload_done().
 */
static int op_reload(req *r)
{
    fd_conn *c = r->c;
    if (r->w->draining) {
        r->errmsg = "the daemon is shutting down";
        return FD_PERR_BUSY;
    }
    c->defer_gen = fd_server_request_reload(r->w->srv);
    c->waiting = true;
    c->wait_next = r->w->waiters;
    r->w->waiters = c;
    return OP_DEFER;
}

void fd_proto_reload_done(fd_conn *c, const fd_reload_result *res)
{
    fd_buf *out = &c->out;
    fd_buf_putc(out, '{');
    fd_buf_append(out, c->defer_id.data, c->defer_id.len);
    if (!res) {
        fd_stat_add(&c->w->stats.errors[FD_PERR_INTERNAL], 1);
        write_error(out, FD_PERR_INTERNAL, "the daemon is shutting down");
    } else if (!res->rs) {
        fd_stat_add(&c->w->stats.errors[FD_PERR_BAD_RULES], 1);
        write_error(out, FD_PERR_BAD_RULES, res->errors ? res->errors : "reload failed");
    } else {
        fd_buf_puts(out, "\"ok\":true,\"rules\":\"");
        fd_buf_puts(out, res->version);
        fd_buf_puts(out, "\",\"rule_count\":");
        fd_buf_u64(out, res->nrules);
    }
    fd_buf_puts(out, "}\n");
    fd_conn_resume(c);
}
