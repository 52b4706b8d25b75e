/*
 * streams.c — see streams.h.
 */
#include "streams.h"

#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "fd_error.h"
#include "hash.h"
#include "log.h"
#include "stream.h"

enum { REC_NONE, REC_PENDING, REC_OK, REC_FAILED };

struct fd_svc_stream {
    fd_svc_stream *hnext;               /* hash chain */
    fd_svc_stream *lru_prev, *lru_next; /* least recently used first */
    fd_svc_thread *t;
    fd_stream *st;
    fd_sha256_ctx sha; /* over every byte the engine took */
    uint64_t bytes;    /* bytes the engine took */
    uint64_t last_active;
    size_t mem;        /* fd_stream_bytes() as counted in the stats */
    char *meta;        /* `meta` of open as JSON text, or NULL */
    fd_match *matches; /* counted matches, for the audit record */
    uint32_t *exoff;   /* excerpt offsets: nmatches + 1 of them */
    size_t nmatches, capmatches;
    uint64_t dropped;
    fd_buf excerpts;
    char *tail; /* the last <= FD_CSTREAM_TAIL bytes taken, or NULL when
                   excerpts are not wanted */
    size_t ntail;
    struct ucred peer; /* the owner's, for the record (the owner may go first) */
    int api;
    int rec;                /* REC_*: this stream's one record */
    bool linked;            /* in its owner's table */
    fd_svc_done_fn wait_cb; /* the answer waiting on the record */
    void *wait_arg;
    fd_svc_done_fn close_cb; /* a close that came while the record was on its way */
    void *close_arg;
    uint32_t hash;
    size_t idlen;
    char id[]; /* NUL-terminated */
};

/* FNV-1a: ids are short and chosen by one client, whose own streams are
 * all a collision could slow down. */
static uint32_t id_hash(const char *id, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)id[i];
        h *= 16777619u;
    }
    return h;
}

/* Double the buckets (at least 8) and rehash. 0 or FD_ENOMEM. */
static int grow(fd_svc_owner *t)
{
    size_t nb = t->nbuckets ? t->nbuckets * 2 : 8;
    fd_svc_stream **b = calloc(nb, sizeof(*b));
    if (!b)
        return FD_ENOMEM;
    for (size_t i = 0; i < t->nbuckets; i++) {
        fd_svc_stream *cs = t->buckets[i], *next;
        for (; cs; cs = next) {
            next = cs->hnext;
            cs->hnext = b[cs->hash & (nb - 1)];
            b[cs->hash & (nb - 1)] = cs;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = nb;
    return 0;
}

static void lru_unlink(fd_svc_owner *t, fd_svc_stream *cs)
{
    if (cs->lru_prev)
        cs->lru_prev->lru_next = cs->lru_next;
    else
        t->lru_head = cs->lru_next;
    if (cs->lru_next)
        cs->lru_next->lru_prev = cs->lru_prev;
    else
        t->lru_tail = cs->lru_prev;
    cs->lru_prev = cs->lru_next = NULL;
}

static void lru_append(fd_svc_owner *t, fd_svc_stream *cs)
{
    cs->lru_prev = t->lru_tail;
    cs->lru_next = NULL;
    if (t->lru_tail)
        t->lru_tail->lru_next = cs;
    else
        t->lru_head = cs;
    t->lru_tail = cs;
}

/*
 * Copy the bytes [start, end) of the stream into the excerpt store, from
 * the current chunk (CHUNK, starting at stream offset CSTART) or the tail
 * before it. Too long, no longer at hand or over the per-stream budget:
 * an empty excerpt (the audit record still has the span and the rule).
 */
static void keep_excerpt(fd_svc_stream *cs, uint64_t start, uint64_t end, const char *chunk,
                         size_t clen, uint64_t cstart)
{
    uint64_t tstart = cstart - cs->ntail;
    if (end - start <= FD_CSTREAM_EXCERPT_MAX && start >= tstart && end <= cstart + clen &&
        cs->excerpts.len + (end - start) <= FD_CSTREAM_EXCERPTS_MAX) {
        for (uint64_t x = start; x < end; x++)
            fd_buf_putc(&cs->excerpts, x >= cstart ? chunk[x - cstart] : cs->tail[x - tstart]);
        if (cs->excerpts.oom) { /* keep the offsets consistent */
            cs->excerpts.oom = false;
            cs->excerpts.len = cs->exoff[cs->nmatches];
        }
    }
    cs->exoff[cs->nmatches + 1] = (uint32_t)cs->excerpts.len;
}

/*
 * Keep the counted matches of RES for the audit record (CHUNK: the text
 * just fed, starting at stream offset CSTART, for excerpts; NULL at close).
 */
static void keep_matches(fd_svc_stream *cs, const fd_result *res, const char *chunk, size_t clen,
                         uint64_t cstart)
{
    for (size_t i = 0; i < res->n; i++) {
        const fd_match *m = &res->matches[i];
        if (!fd_svc_counts(m))
            continue;
        uint32_t cat = fd_ruleset_rule(fd_stream_ruleset(cs->st), m->rule)->category;
        if (cat < FD_STATS_MAX_CATS)
            fd_stat_add(&cs->t->stats.matches[cat][m->action == FD_BLOCK], 1);
        if (cs->nmatches == FD_CSTREAM_MAX_MATCHES) {
            cs->dropped++;
            continue;
        }
        if (cs->nmatches == cs->capmatches) {
            size_t cap = cs->capmatches ? cs->capmatches * 2 : 4;
            if (cap > FD_CSTREAM_MAX_MATCHES)
                cap = FD_CSTREAM_MAX_MATCHES;
            fd_match *p = realloc(cs->matches, cap * sizeof(*p));
            if (!p) {
                cs->dropped++;
                continue;
            }
            cs->matches = p;
            uint32_t *o = realloc(cs->exoff, (cap + 1) * sizeof(*o));
            if (!o) {
                cs->dropped++;
                continue;
            }
            if (!cs->exoff)
                o[0] = 0;
            cs->exoff = o;
            cs->capmatches = cap;
        }
        if (cs->tail)
            keep_excerpt(cs, m->start, m->end, chunk, chunk ? clen : 0, cstart);
        else
            cs->exoff[cs->nmatches + 1] = cs->exoff[cs->nmatches];
        cs->matches[cs->nmatches++] = *m;
    }
}

/* Remember the last FD_CSTREAM_TAIL bytes taken, for later excerpts. */
static void push_tail(fd_svc_stream *cs, const char *text, size_t len)
{
    if (len >= FD_CSTREAM_TAIL) {
        memcpy(cs->tail, text + len - FD_CSTREAM_TAIL, FD_CSTREAM_TAIL);
        cs->ntail = FD_CSTREAM_TAIL;
        return;
    }
    size_t keep = cs->ntail + len > FD_CSTREAM_TAIL ? FD_CSTREAM_TAIL - len : cs->ntail;
    memmove(cs->tail, cs->tail + cs->ntail - keep, keep);
    memcpy(cs->tail + keep, text, len);
    cs->ntail = keep + len;
}

void fd_svc_owner_init(fd_svc_owner *o, int api, const struct ucred *peer, uint64_t serial)
{
    memset(o, 0, sizeof *o);
    o->api = api;
    o->serial = serial;
    if (peer) {
        o->peer = *peer;
    } else { /* nobody: never an admin */
        o->peer.uid = (uid_t)-1;
        o->peer.gid = (gid_t)-1;
    }
}

static fd_svc_stream *find(fd_svc_owner *t, const char *id, size_t idlen)
{
    if (!t->n)
        return NULL;
    uint32_t h = id_hash(id, idlen);
    for (fd_svc_stream *cs = t->buckets[h & (t->nbuckets - 1)]; cs; cs = cs->hnext)
        if (cs->hash == h && cs->idlen == idlen && memcmp(cs->id, id, idlen) == 0)
            return cs;
    return NULL;
}

/* Keep the open streams' memory in the stats current. */
static void account_mem(fd_svc_thread *t, fd_svc_stream *cs)
{
    size_t now = cs->st && cs->linked ? fd_stream_bytes(cs->st) : 0;
    if (now > cs->mem)
        fd_stat_add(&t->stats.streams_mem, now - cs->mem);
    else if (now < cs->mem)
        fd_stat_sub(&t->stats.streams_mem, cs->mem - now);
    cs->mem = now;
}

/* Free CS and everything it owns (not linked anywhere any more). */
static void stream_free(fd_svc_stream *cs)
{
    if (cs->sha.evp) {
        char hex[65];
        fd_sha256_final(&cs->sha, hex); /* releases the context */
    }
    fd_stream_free(cs->st);
    free(cs->meta);
    free(cs->matches);
    free(cs->exoff);
    fd_buf_free(&cs->excerpts);
    free(cs->tail);
    free(cs);
}

/* Free CS once nothing refers to it any more. */
static void maybe_free(fd_svc_stream *cs)
{
    if (!cs->linked && cs->rec != REC_PENDING && !cs->close_cb)
        stream_free(cs);
}

/* Take CS out of its owner's table (its id is free again). */
static void unlink_stream(fd_svc_owner *t, fd_svc_stream *cs)
{
    for (fd_svc_stream **p = &t->buckets[cs->hash & (t->nbuckets - 1)]; *p; p = &(*p)->hnext) {
        if (*p == cs) {
            *p = cs->hnext;
            break;
        }
    }
    lru_unlink(t, cs);
    t->n--;
    cs->linked = false;
    fd_stat_sub(&cs->t->stats.streams_current, 1);
    account_mem(cs->t, cs);
}

/* The ticket of CS's record came back. */
static void record_done(void *arg, int status)
{
    fd_svc_stream *cs = arg;
    cs->rec = status == 0 ? REC_OK : REC_FAILED;
    if (cs->wait_cb) {
        fd_svc_done_fn cb = cs->wait_cb;
        cs->wait_cb = NULL;
        cb(cs->wait_arg, status);
    }
    maybe_free(cs);
}

/* A close that waited behind CS's record: answer it with that record's
 * outcome. */
static void close_done(void *arg, int status)
{
    (void)status; /* the barrier's own; the record's is in cs->rec */
    fd_svc_stream *cs = arg;
    fd_svc_done_fn cb = cs->close_cb;
    cs->close_cb = NULL;
    if (cb)
        cb(cs->close_arg, cs->rec == REC_OK ? 0 : FD_SVC_EAUDIT);
    maybe_free(cs);
}

/*
 * Queue CS's record with END unless it has one; CB/ARG: the answer that
 * waits on it (NULL: none). Returns 0 (not recorded at this level, or
 * recorded already), FD_SVC_PENDING, or FD_ENOMEM.
 */
static int record(fd_svc_stream *cs, const char *end, const fd_svc_req *rq, fd_svc_done_fn cb,
                  void *arg)
{
    if (cs->rec != REC_NONE)
        return 0;
    char hex[65];
    if (fd_sha256_final(&cs->sha, hex) != 0) {
        memset(hex, '0', 64); /* out of memory in libcrypto: no digest */
        hex[64] = '\0';
    }
    uint32_t zero = 0;
    fd_svc_rec r = {
        .op = "stream",
        .api = cs->api,
        .id_json = rq ? rq->id_json : NULL,
        .id_len = rq && rq->id_json ? rq->id_len : 0,
        .stream = cs->id,
        .stream_len = cs->idlen,
        .end = end,
        .decision = fd_stream_decision(cs->st),
        .matches = cs->matches,
        .nmatches = cs->nmatches,
        .dropped = cs->dropped,
        .excerpts = cs->excerpts.data ? cs->excerpts.data : "",
        .exoff = cs->exoff ? cs->exoff : &zero,
        .sha256 = hex,
        .bytes = cs->bytes,
        .rs = fd_stream_ruleset(cs->st),
        .meta = cs->meta,
        .peer = &cs->peer,
        .us = rq ? (uv_hrtime() - rq->t0) / 1000 : 0,
    };
    int rc = fd_svc_audit_record(cs->t, &r, record_done, cs);
    if (rc == FD_SVC_PENDING) {
        cs->rec = REC_PENDING;
        cs->wait_cb = cb;
        cs->wait_arg = arg;
    } else if (rc == 0) {
        cs->rec = REC_OK; /* not audited at this level: nothing to wait for */
    }
    return rc;
}

/* End CS: record it with END if it has no record yet (errors logged; no
 * answer waits), take it out of the table, free it when nothing waits. */
static void end_stream(fd_svc_owner *o, fd_svc_stream *cs, const char *end)
{
    int rc = record(cs, end, NULL, NULL, NULL);
    if (rc < 0)
        fd_error("owner %llu: stream audit record (%s) could not be queued: %s",
                 (unsigned long long)o->serial, end, fd_strerror(rc));
    unlink_stream(o, cs);
    maybe_free(cs);
}

int fd_svc_stream_open(fd_svc_thread *t, fd_svc_owner *o, const char *id, size_t idlen,
                       const char *meta, const char **version)
{
    if (idlen == 0 || idlen > FD_STREAM_ID_MAX)
        return FD_SVC_EBAD_REQUEST;
    if (find(o, id, idlen))
        return FD_SVC_ESTREAM_EXISTS;
    if (o->n >= t->svc->cfg->max_streams)
        return FD_SVC_ETOO_MANY_STREAMS;
    if (o->n >= o->nbuckets && grow(o) != 0) /* load factor <= 1 */
        return FD_ENOMEM;
    fd_svc_stream *cs = calloc(1, sizeof(*cs) + idlen + 1);
    if (!cs)
        return FD_ENOMEM;
    memcpy(cs->id, id, idlen);
    cs->idlen = idlen;
    cs->hash = id_hash(id, idlen);
    cs->t = t;
    cs->peer = o->peer;
    cs->api = o->api;
    /* Excerpts only matter when an audit log will print them. */
    const fd_config *cfg = t->svc->cfg;
    bool want_text = t->svc->audit && cfg->audit_text != FD_AUDIT_TEXT_NONE;
    int rc = FD_ENOMEM;
    if (meta && !(cs->meta = strdup(meta)))
        goto fail;
    if (want_text && !(cs->tail = malloc(FD_CSTREAM_TAIL)))
        goto fail;
    if (fd_sha256_init(&cs->sha) != 0)
        goto fail;
    rc = fd_stream_open(t->rs, t->scratch, 0, &cs->st);
    if (rc != 0)
        goto fail;

    size_t b = cs->hash & (o->nbuckets - 1);
    cs->hnext = o->buckets[b];
    o->buckets[b] = cs;
    o->n++;
    cs->linked = true;
    cs->last_active = uv_now(t->loop);
    lru_append(o, cs);
    fd_stat_add(&t->stats.streams_current, 1);
    fd_stat_add(&t->stats.streams_total, 1);
    account_mem(t, cs);
    *version = fd_ruleset_version(fd_stream_ruleset(cs->st));
    return 0;
fail:
    stream_free(cs);
    return rc;
}

int fd_svc_stream_chunk(fd_svc_thread *t, fd_svc_owner *o, const char *id, size_t idlen,
                        const char *text, size_t len, const fd_svc_req *rq, fd_svc_stream_out *out)
{
    fd_svc_stream *cs = find(o, id, idlen);
    if (!cs)
        return FD_SVC_EUNKNOWN_STREAM;
    if (fd_stream_blocked(cs->st))
        return FD_SVC_ESTREAM_BLOCKED;
    fd_result *res = &t->result;
    int rc = fd_stream_feed(cs->st, t->scratch, text, len, res, &out->release);
    cs->last_active = uv_now(t->loop);
    lru_unlink(o, cs);
    lru_append(o, cs);
    if (rc == FD_ENOMEM || rc == FD_EHS || rc == FD_ESTATE) {
        fd_error("stream: %s", fd_strerror(rc));
        end_stream(o, cs, "error"); /* broken: nothing more can be done with it */
        return FD_SVC_EINTERNAL;
    }
    if (rc != 0) /* bad UTF-8, too large: nothing of the chunk was taken */
        return rc == FD_EUTF8 ? FD_SVC_EBAD_UTF8 : FD_SVC_ETOO_LARGE;
    uint64_t cstart = cs->bytes;
    fd_sha256_update(&cs->sha, text, len);
    cs->bytes += len;
    fd_stat_add(&t->stats.streams_bytes, len);
    keep_matches(cs, res, text, len, cstart);
    if (cs->tail)
        push_tail(cs, text, len);
    account_mem(t, cs);
    out->res = res;
    out->rs = fd_stream_ruleset(cs->st);
    if (res->decision != FD_BLOCK)
        return 0;
    fd_stat_add(&t->stats.streams_blocked, 1);
    /* The stream ends here: its decision leaves with its record. */
    rc = record(cs, "block", rq, rq->done, rq->arg);
    if (rc < 0) {
        cs->rec = REC_FAILED; /* no record will come: no decision either */
        return FD_SVC_EAUDIT;
    }
    return rc;
}

/* Keep CS's rule set alive past the stream for the answer (until the next
 * close on T). */
static void hold_rules(fd_svc_thread *t, fd_svc_stream *cs)
{
    fd_ruleset *rs = fd_ruleset_ref((fd_ruleset *)fd_stream_ruleset(cs->st));
    if (t->hold)
        fd_ruleset_unref(t->hold);
    t->hold = rs;
}

int fd_svc_stream_close(fd_svc_thread *t, fd_svc_owner *o, const char *id, size_t idlen,
                        const fd_svc_req *rq, fd_svc_stream_out *out)
{
    fd_svc_stream *cs = find(o, id, idlen);
    if (!cs)
        return FD_SVC_EUNKNOWN_STREAM;
    fd_result *res = &t->result;
    bool was_blocked = fd_stream_blocked(cs->st);
    int rc = fd_stream_close(cs->st, t->scratch, res, &out->release);
    if (rc == 0 || rc == FD_EUTF8)
        keep_matches(cs, res, NULL, 0, cs->bytes);
    if (rc == 0 && !was_blocked && res->decision == FD_BLOCK)
        fd_stat_add(&t->stats.streams_blocked, 1);
    hold_rules(t, cs);
    out->res = res;
    out->rs = t->hold;
    if (rc != 0) {
        end_stream(o, cs, "close"); /* e.g. the text ended inside a character */
        return rc == FD_EUTF8 ? FD_SVC_EBAD_UTF8 : FD_SVC_EINTERNAL;
    }
    switch (cs->rec) {
    case REC_FAILED:
        end_stream(o, cs, "close");
        return FD_SVC_EAUDIT;
    case REC_OK:
        end_stream(o, cs, "close");
        return 0;
    case REC_PENDING:
        /* A block's record is on its way: answer behind it, with its
         * outcome. */
        if (fd_svc_audit_barrier(t, close_done, cs) != FD_SVC_PENDING) {
            end_stream(o, cs, "close");
            return FD_SVC_EAUDIT;
        }
        cs->close_cb = rq->done;
        cs->close_arg = rq->arg;
        end_stream(o, cs, "close");
        return FD_SVC_PENDING;
    default:
        break;
    }
    rc = record(cs, "close", rq, rq->done, rq->arg);
    if (rc < 0)
        cs->rec = REC_FAILED;
    end_stream(o, cs, "close");
    return rc < 0 ? FD_SVC_EAUDIT : rc;
}

void fd_svc_owner_sweep(fd_svc_thread *t, fd_svc_owner *o, uint64_t timeout_ms)
{
    uint64_t now = uv_now(t->loop);
    fd_svc_stream *cs;
    while ((cs = o->lru_head) && now - cs->last_active >= timeout_ms) {
        fd_debug("owner %llu: stream idle for %llu ms, ending it", (unsigned long long)o->serial,
                 (unsigned long long)(now - cs->last_active));
        fd_stat_add(&t->stats.streams_expired, 1);
        end_stream(o, cs, "timeout");
    }
}

void fd_svc_owner_end(fd_svc_thread *t, fd_svc_owner *o, const char *end)
{
    (void)t;
    fd_svc_stream *cs;
    while ((cs = o->lru_head))
        end_stream(o, cs, end);
    free(o->buckets);
    o->buckets = NULL;
    o->nbuckets = 0;
    o->n = 0;
}
