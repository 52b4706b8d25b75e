/*
 * client.c — libfilterd-client (see include/filterd/client.h).
 *
 * One blocking Unix-socket connection per client. Requests are built and
 * responses parsed with cJSON; each typed request carries an increasing
 * integer id that the response must echo, so a desynchronised stream is
 * detected (FILTERD_EPROTO) instead of pairing answers with the wrong
 * questions.
 */
#include "filterd/client.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct filterd_client {
    int fd;
    int timeout_ms;
    int64_t next_id;
    char *rbuf; /* received bytes not yet returned as lines */
    size_t rlen, rcap;
    char err_code[32];
    char *err_msg;
};

int filterd_default_socket(char *buf, size_t len)
{
    const char *env = getenv("FILTERD_SOCKET");
    int n;
    if (env && *env) {
        n = snprintf(buf, len, "%s", env);
    } else if (geteuid() == 0) {
        n = snprintf(buf, len, "/run/filterd/filterd.sock");
    } else {
        const char *xdg = getenv("XDG_RUNTIME_DIR");
        n = snprintf(buf, len, "%s/filterd.sock", xdg && *xdg ? xdg : "/tmp");
    }
    return n < 0 || (size_t)n >= len ? FILTERD_EINVAL : 0;
}

const char *filterd_client_strerror(int err)
{
    switch (err) {
    case FILTERD_OK:
        return "success";
    case FILTERD_ECONNECT:
        return "the daemon is unreachable";
    case FILTERD_EIO:
        return "connection to the daemon failed";
    case FILTERD_EPROTO:
        return "unexpected answer from the daemon";
    case FILTERD_ESERVER:
        return "the daemon answered with an error";
    case FILTERD_ENOMEM:
        return "out of memory";
    case FILTERD_EINVAL:
        return "invalid argument";
    case FILTERD_ETIMEDOUT:
        return "timed out waiting for the daemon";
    default:
        return "unknown error";
    }
}

int filterd_client_connect(const char *path, filterd_client **out)
{
    char def[sizeof(((struct sockaddr_un *)0)->sun_path)];
    *out = NULL;
    if (!path) {
        if (filterd_default_socket(def, sizeof(def)) != 0)
            return FILTERD_EINVAL;
        path = def;
    }
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t pl = strlen(path);
    if (pl == 0 || pl >= sizeof(sa.sun_path))
        return FILTERD_EINVAL;
    memcpy(sa.sun_path, path, pl + 1);

    filterd_client *c = calloc(1, sizeof(*c));
    if (!c)
        return FILTERD_ENOMEM;
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        free(c);
        return FILTERD_ECONNECT;
    }
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(c->fd);
        free(c);
        return FILTERD_ECONNECT;
    }
    c->next_id = 1;
    *out = c;
    return 0;
}

void filterd_client_close(filterd_client *c)
{
    if (!c)
        return;
    close(c->fd);
    free(c->rbuf);
    free(c->err_msg);
    free(c);
}

void filterd_client_set_timeout(filterd_client *c, int ms)
{
    c->timeout_ms = ms > 0 ? ms : 0;
}

int filterd_client_fd(const filterd_client *c)
{
    return c->fd;
}

const char *filterd_client_error_code(const filterd_client *c)
{
    return c->err_code;
}

const char *filterd_client_error_message(const filterd_client *c)
{
    return c->err_msg ? c->err_msg : "";
}

static void clear_error(filterd_client *c)
{
    c->err_code[0] = '\0';
    free(c->err_msg);
    c->err_msg = NULL;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until FD is ready for EVENTS or the deadline (0: none) passes. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    if (!deadline)
        return 0;
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return FILTERD_ETIMEDOUT;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)left);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return FILTERD_EIO;
    }
}

static int send_all(filterd_client *c, const char *p, size_t n, int64_t deadline)
{
    while (n) {
        int rc = wait_fd(c->fd, POLLOUT, deadline);
        if (rc)
            return rc;
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return FILTERD_EIO;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/*
 * Read one response line into *LINE (malloc'd, NUL-terminated, without
 * '\n'). Bytes after it stay buffered for the next call.
 */
static int read_line(filterd_client *c, char **line, int64_t deadline)
{
    size_t scanned = 0;
    for (;;) {
        char *nl = c->rlen > scanned ? memchr(c->rbuf + scanned, '\n', c->rlen - scanned) : NULL;
        if (nl) {
            size_t len = (size_t)(nl - c->rbuf);
            char *s = malloc(len + 1);
            if (!s)
                return FILTERD_ENOMEM;
            memcpy(s, c->rbuf, len);
            s[len] = '\0';
            memmove(c->rbuf, nl + 1, c->rlen - len - 1);
            c->rlen -= len + 1;
            *line = s;
            return 0;
        }
        scanned = c->rlen;
        if (c->rcap - c->rlen < 4096) {
            size_t cap = c->rcap ? c->rcap * 2 : 8192;
            char *p = realloc(c->rbuf, cap);
            if (!p)
                return FILTERD_ENOMEM;
            c->rbuf = p;
            c->rcap = cap;
        }
        int rc = wait_fd(c->fd, POLLIN, deadline);
        if (rc)
            return rc;
        ssize_t n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return FILTERD_EIO;
        c->rlen += (size_t)n;
    }
}

static int64_t deadline_of(const filterd_client *c)
{
    return c->timeout_ms ? now_ms() + c->timeout_ms : 0;
}

int filterd_client_request(filterd_client *c, const char *request_json, char **response)
{
    *response = NULL;
    clear_error(c);
    size_t n = strlen(request_json);
    if (memchr(request_json, '\n', n))
        return FILTERD_EINVAL;
    int64_t deadline = deadline_of(c);
    char *line = malloc(n + 1);
    if (!line)
        return FILTERD_ENOMEM;
    memcpy(line, request_json, n);
    line[n] = '\n';
    int rc = send_all(c, line, n + 1, deadline);
    free(line);
    if (rc)
        return rc;
    return read_line(c, response, deadline);
}

/*
 * Send REQ (an object; an id is added) and parse the answer into *RESP
 * (caller deletes) and, optionally, the raw line into *RAW. An error
 * response is stored in the client and returned as FILTERD_ESERVER.
 */
static int roundtrip(filterd_client *c, cJSON *req, cJSON **resp, char **raw)
{
    *resp = NULL;
    if (raw)
        *raw = NULL;
    int64_t id = c->next_id++;
    if (!cJSON_AddNumberToObject(req, "id", (double)id))
        return FILTERD_ENOMEM;
    char *text = cJSON_PrintUnformatted(req);
    if (!text)
        return FILTERD_ENOMEM;
    char *line = NULL;
    int rc = filterd_client_request(c, text, &line);
    free(text);
    if (rc)
        return rc;
    cJSON *r = cJSON_Parse(line);
    if (!r || !cJSON_IsObject(r)) {
        cJSON_Delete(r);
        free(line);
        return FILTERD_EPROTO;
    }
    const cJSON *jid = cJSON_GetObjectItemCaseSensitive(r, "id");
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(r, "error");
    if (err) {
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(err, "code");
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(err, "message");
        snprintf(c->err_code, sizeof(c->err_code), "%s",
                 cJSON_IsString(code) ? code->valuestring : "internal");
        c->err_msg = strdup(cJSON_IsString(msg) ? msg->valuestring : "");
        rc = FILTERD_ESERVER;
    }
    /* An error about the line itself (too_large, bad_json) has no id. */
    if (!err && (!cJSON_IsNumber(jid) || jid->valuedouble != (double)id)) {
        cJSON_Delete(r);
        free(line);
        return FILTERD_EPROTO;
    }
    *resp = r;
    if (raw)
        *raw = line;
    else
        free(line);
    return rc;
}

static int simple_op(filterd_client *c, const char *op, char **json)
{
    if (json)
        *json = NULL;
    cJSON *req = cJSON_CreateObject();
    if (!req || !cJSON_AddStringToObject(req, "op", op)) {
        cJSON_Delete(req);
        return FILTERD_ENOMEM;
    }
    cJSON *resp;
    char *raw;
    int rc = roundtrip(c, req, &resp, &raw);
    cJSON_Delete(req);
    cJSON_Delete(resp);
    if (json && rc == 0)
        *json = raw;
    else
        free(raw);
    return rc;
}

int filterd_client_ping(filterd_client *c)
{
    return simple_op(c, "ping", NULL);
}

int filterd_client_version(filterd_client *c, char **json)
{
    return simple_op(c, "version", json);
}

int filterd_client_stats(filterd_client *c, char **json)
{
    return simple_op(c, "stats", json);
}

int filterd_client_reload(filterd_client *c, char **json)
{
    return simple_op(c, "reload", json);
}

static int parse_action(const char *s, filterd_decision *out)
{
    if (strcmp(s, "allow") == 0)
        *out = FILTERD_ALLOW;
    else if (strcmp(s, "flag") == 0)
        *out = FILTERD_FLAG;
    else if (strcmp(s, "block") == 0)
        *out = FILTERD_BLOCK;
    else
        return -1;
    return 0;
}

/* Fill RES from a check response R. */
static int parse_check(const cJSON *r, filterd_result *res)
{
    const cJSON *dec = cJSON_GetObjectItemCaseSensitive(r, "decision");
    const cJSON *matches = cJSON_GetObjectItemCaseSensitive(r, "matches");
    const cJSON *rules = cJSON_GetObjectItemCaseSensitive(r, "rules");
    const cJSON *us = cJSON_GetObjectItemCaseSensitive(r, "us");
    if (!cJSON_IsString(dec) || parse_action(dec->valuestring, &res->decision) != 0 ||
        !cJSON_IsArray(matches))
        return FILTERD_EPROTO;
    if (cJSON_IsString(rules))
        snprintf(res->rules, sizeof(res->rules), "%s", rules->valuestring);
    if (cJSON_IsNumber(us) && us->valuedouble >= 0)
        res->us = (uint64_t)us->valuedouble;
    size_t n = (size_t)cJSON_GetArraySize(matches);
    if (n == 0)
        return 0;
    res->matches = calloc(n, sizeof(filterd_match));
    if (!res->matches)
        return FILTERD_ENOMEM;
    const cJSON *m;
    cJSON_ArrayForEach(m, matches)
    {
        const cJSON *rule = cJSON_GetObjectItemCaseSensitive(m, "rule");
        const cJSON *cat = cJSON_GetObjectItemCaseSensitive(m, "category");
        const cJSON *act = cJSON_GetObjectItemCaseSensitive(m, "action");
        const cJSON *start = cJSON_GetObjectItemCaseSensitive(m, "start");
        const cJSON *end = cJSON_GetObjectItemCaseSensitive(m, "end");
        filterd_match *fm = &res->matches[res->nmatches];
        if (!cJSON_IsString(rule) || !cJSON_IsString(cat) || !cJSON_IsString(act) ||
            !cJSON_IsNumber(start) || !cJSON_IsNumber(end) ||
            parse_action(act->valuestring, &fm->action) != 0)
            return FILTERD_EPROTO;
        fm->rule = strdup(rule->valuestring);
        fm->category = strdup(cat->valuestring);
        res->nmatches++;
        if (!fm->rule || !fm->category)
            return FILTERD_ENOMEM;
        fm->start = (uint32_t)start->valuedouble;
        fm->end = (uint32_t)end->valuedouble;
        fm->suppressed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "suppressed"));
    }
    return 0;
}

int filterd_client_check(filterd_client *c, const char *text, size_t len, const char *meta,
                         int flags, filterd_result *res)
{
    memset(res, 0, sizeof(*res));
    if (memchr(text, '\0', len)) /* not representable through cJSON */
        return FILTERD_EINVAL;
    cJSON *jmeta = NULL;
    if (meta) {
        jmeta = cJSON_Parse(meta);
        if (!cJSON_IsObject(jmeta)) {
            cJSON_Delete(jmeta);
            return FILTERD_EINVAL;
        }
    }
    char *copy = malloc(len + 1); /* cJSON wants a NUL-terminated string */
    cJSON *req = cJSON_CreateObject();
    int rc = FILTERD_ENOMEM;
    if (!copy || !req)
        goto out;
    memcpy(copy, text, len);
    copy[len] = '\0';
    if (!cJSON_AddStringToObject(req, "op", "check") || !cJSON_AddStringToObject(req, "text", copy))
        goto out;
    if (jmeta) {
        cJSON_AddItemToObject(req, "meta", jmeta);
        jmeta = NULL;
    }
    if ((flags & FILTERD_CHECK_EXPLAIN) && !cJSON_AddTrueToObject(req, "explain"))
        goto out;
    cJSON *resp;
    rc = roundtrip(c, req, &resp, &res->raw);
    if (rc == 0)
        rc = parse_check(resp, res);
    cJSON_Delete(resp);
out:
    cJSON_Delete(jmeta);
    cJSON_Delete(req);
    free(copy);
    return rc;
}

void filterd_result_free(filterd_result *res)
{
    for (size_t i = 0; i < res->nmatches; i++) {
        free(res->matches[i].rule);
        free(res->matches[i].category);
    }
    free(res->matches);
    free(res->raw);
    memset(res, 0, sizeof(*res));
}

/* ---- streams ------------------------------------------------------------ */

int filterd_client_stream_open(filterd_client *c, const char *stream, const char *meta)
{
    cJSON *jmeta = NULL;
    if (!stream || !*stream)
        return FILTERD_EINVAL;
    if (meta) {
        jmeta = cJSON_Parse(meta);
        if (!cJSON_IsObject(jmeta)) {
            cJSON_Delete(jmeta);
            return FILTERD_EINVAL;
        }
    }
    cJSON *req = cJSON_CreateObject();
    int rc = FILTERD_ENOMEM;
    if (!req || !cJSON_AddStringToObject(req, "op", "open") ||
        !cJSON_AddStringToObject(req, "stream", stream))
        goto out;
    if (jmeta) {
        cJSON_AddItemToObject(req, "meta", jmeta);
        jmeta = NULL;
    }
    cJSON *resp;
    rc = roundtrip(c, req, &resp, NULL);
    if (rc == 0 && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "ok")))
        rc = FILTERD_EPROTO;
    cJSON_Delete(resp);
out:
    cJSON_Delete(jmeta);
    cJSON_Delete(req);
    return rc;
}

/* Fill RES from a chunk or close response R. */
static int parse_stream(const cJSON *r, filterd_result *res)
{
    const cJSON *rel = cJSON_GetObjectItemCaseSensitive(r, "release");
    if (!cJSON_IsNumber(rel) || rel->valuedouble < 0)
        return FILTERD_EPROTO;
    res->release = (uint64_t)rel->valuedouble;
    return parse_check(r, res);
}

/* A chunk (TEXT != NULL) or a close of STREAM. */
static int stream_op(filterd_client *c, const char *op, const char *stream, const char *text,
                     size_t len, filterd_result *res)
{
    memset(res, 0, sizeof(*res));
    if (!stream || !*stream || (text && memchr(text, '\0', len)))
        return FILTERD_EINVAL;
    char *copy = NULL;
    cJSON *req = cJSON_CreateObject();
    int rc = FILTERD_ENOMEM;
    if (!req || !cJSON_AddStringToObject(req, "op", op) ||
        !cJSON_AddStringToObject(req, "stream", stream))
        goto out;
    if (text) {
        copy = malloc(len + 1); /* cJSON wants a NUL-terminated string */
        if (!copy)
            goto out;
        memcpy(copy, text, len);
        copy[len] = '\0';
        if (!cJSON_AddStringToObject(req, "text", copy))
            goto out;
    }
    cJSON *resp;
    rc = roundtrip(c, req, &resp, &res->raw);
    if (rc == 0)
        rc = parse_stream(resp, res);
    cJSON_Delete(resp);
out:
    cJSON_Delete(req);
    free(copy);
    return rc;
}

int filterd_client_stream_chunk(filterd_client *c, const char *stream, const char *text, size_t len,
                                filterd_result *res)
{
    if (!text) {
        memset(res, 0, sizeof(*res));
        return FILTERD_EINVAL;
    }
    return stream_op(c, "chunk", stream, text, len, res);
}

int filterd_client_stream_close(filterd_client *c, const char *stream, filterd_result *res)
{
    return stream_op(c, "close", stream, NULL, 0, res);
}

size_t filterd_utf8_boundary(const char *text, size_t len)
{
    /* Walk back over at most 3 continuation bytes to the last lead byte. */
    size_t i = len, k = 0;
    while (i > 0 && k < 3 && ((unsigned char)text[i - 1] & 0xC0) == 0x80) {
        i--;
        k++;
    }
    if (i == 0)
        return len; /* only continuation bytes: not ours to judge */
    unsigned char lead = (unsigned char)text[i - 1];
    size_t need = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    return k + 1 >= need ? len : i - 1;
}
