/*
 * fuzz_proto.c — protocol lines through the daemon's real request handler
 * (fd_proto_handle), on a connection and a worker set up as the server sets
 * them up, minus the sockets: every input is one connection's bytes, split
 * into lines. Each line must get exactly one response line, and every
 * response must be a JSON object. Streams opened by one input are ended
 * when its "connection" ends, as a disconnect would.
 *
 * The peer is an unprivileged uid, so control ops answer `forbidden`
 * instead of starting reloads (which need the main loop).
 */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "conn.h"
#include "proto.h"
#include "ruleset.h"
#include "scan.h"
#include "worker.h"

#define MAX_LINES 64

static fd_config cfg;
static fd_server srv;
static fd_worker w;

static void init_once(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    fd_config_init(&cfg);
    fd_diag d = FD_DIAG_INIT;
    fd_ruleset *rs = NULL;
    if (fd_ruleset_load(FD_SOURCE_DIR "/rules", &rs, &d) != 0) {
        fprintf(stderr, "fuzz_proto: the bundled rules do not load\n");
        abort();
    }
    fd_diag_free(&d);
    srv.cfg = &cfg;
    srv.rs = rs;
    srv.nworkers = 1;
    srv.workers = &w;
    w.srv = &srv;
    fd_result_init(&w.result);
    if (fd_scratch_new(rs, &w.scratch) != 0 || uv_loop_init(&w.loop) != 0)
        abort();
    w.rs = fd_ruleset_ref(rs);
}

/* Count the response lines in C's output and check each is an object. */
static size_t check_responses(const fd_buf *out)
{
    size_t n = 0;
    if (!out->len)
        return 0;
    const char *p = out->data, *end = out->data + out->len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) {
            fprintf(stderr, "fuzz_proto: response without newline\n");
            abort();
        }
        cJSON *j = cJSON_ParseWithLength(p, (size_t)(nl - p));
        if (!cJSON_IsObject(j)) {
            fprintf(stderr, "fuzz_proto: response is not a JSON object: %.*s\n", (int)(nl - p), p);
            abort();
        }
        cJSON_Delete(j);
        n++;
        p = nl + 1;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_once();
    if (size > 1 << 16)
        return 0;
    fd_conn *c = calloc(1, sizeof *c);
    c->w = &w;
    c->peer.pid = 1;
    c->peer.uid = 65534;
    c->peer.gid = 65534;
    const char *p = (const char *)data, *end = p + size;
    size_t lines = 0;
    while (p < end && lines < MAX_LINES) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        size_t before = c->out.len;
        fd_proto_handle(c, p, len);
        lines++;
        if (c->waiting) {
            fprintf(stderr, "fuzz_proto: an op was deferred for an unprivileged peer\n");
            abort();
        }
        if (c->out.len == before) {
            fprintf(stderr, "fuzz_proto: no response to line %zu\n", lines);
            abort();
        }
        p += len + (nl ? 1 : 0);
    }
    if (check_responses(&c->out) != lines) {
        fprintf(stderr, "fuzz_proto: %zu lines, a different number of responses\n", lines);
        abort();
    }
    fd_streams_end_all(c, "disconnect");
    fd_buf_free(&c->out);
    fd_buf_free(&c->in);
    fd_buf_free(&c->defer_id);
    free(c);
    /* Forget the connection in the worker's flush list. */
    w.dirty = NULL;
    return 0;
}
