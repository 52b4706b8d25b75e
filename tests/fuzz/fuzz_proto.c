/*
 * fuzz_proto.c — the NDJSON door (filterd/doors/ndjson.c) with the service
 * and the engine alone: no server, no sockets, no fake connection. Every
 * input is one session's bytes, split into lines and handed to
 * fd_ndjson_line() as the transport would. Each line must get exactly one
 * response line, every response must be a JSON object, and every response
 * must be ready to leave (no audit log: nothing is kept back). Streams
 * opened by one input are ended when its session closes, as a disconnect
 * would.
 *
 * The peer is an unprivileged uid, so admin ops answer `forbidden`
 * instead of starting reloads.
 */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ndjson.h"
#include "ruleset.h"
#include "service.h"

#define MAX_LINES 64

static fd_config cfg;
static fd_service svc;
static fd_svc_thread t;
static uv_loop_t loop;

/* Set up once, before the first input: compiling the bundled rules takes
 * tens of seconds under the sanitizers on a loaded machine, which must not
 * count against the first input's -timeout. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fd_config_init(&cfg);
    fd_log_set_level(FD_LOG_ERROR);
    fd_diag d = FD_DIAG_INIT;
    fd_ruleset *rs = NULL;
    if (fd_ruleset_load(FD_SOURCE_DIR "/rules", &rs, &d) != 0) {
        fprintf(stderr, "fuzz_proto: the bundled rules do not load\n");
        abort();
    }
    fd_diag_free(&d);
    if (uv_loop_init(&loop) != 0 || fd_service_init(&svc, &cfg, 1, NULL) != 0 ||
        fd_svc_thread_init(&svc, &t, 0, &loop, rs) != 0)
        abort();
    fd_ruleset_unref(rs); /* the thread holds its own reference */
    return 0;
}

/* Count the response lines in OUT and check each is an object. */
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

static void wake(fd_ndjson *s)
{
    (void)s;
    fprintf(stderr, "fuzz_proto: a wake-up without an audit log or a reload\n");
    abort();
}

static void release(fd_ndjson *s)
{
    (void)s;
}

static const fd_ndjson_ops ops = {wake, release};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16)
        return 0;
    fd_ndjson s;
    struct ucred peer = {.pid = 1, .uid = 65534, .gid = 65534};
    fd_ndjson_init(&s, &t, &ops, &peer, 1);
    const char *p = (const char *)data, *end = p + size;
    size_t lines = 0;
    while (p < end && lines < MAX_LINES) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        size_t before = s.out.len;
        fd_ndjson_line(&s, p, len);
        lines++;
        if (s.waiting) {
            fprintf(stderr, "fuzz_proto: an op was deferred for an unprivileged peer\n");
            abort();
        }
        if (s.out.len == before) {
            fprintf(stderr, "fuzz_proto: no response to line %zu\n", lines);
            abort();
        }
        if (fd_ndjson_ready(&s) != s.out.len) {
            fprintf(stderr, "fuzz_proto: a response kept back without an audit log\n");
            abort();
        }
        p += len + (nl ? 1 : 0);
    }
    if (check_responses(&s.out) != lines) {
        fprintf(stderr, "fuzz_proto: %zu lines, a different number of responses\n", lines);
        abort();
    }
    if (!fd_ndjson_close(&s)) {
        fprintf(stderr, "fuzz_proto: callbacks outstanding after close\n");
        abort();
    }
    fd_ndjson_free(&s);
    return 0;
}
