/*
 * test_stream.c — streams (SPEC §2 open/chunk/close) against the real
 * daemon: matches across chunk boundaries and release values, stream ==
 * check over the socket, every stream error, --max-streams,
 * --stream-timeout, connections ending with streams open, reload while a
 * stream is open, and `filterctl stream` end to end.
 *
 * No fixed sleeps: waits are bounded polls of the daemon's `stats`.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "filterd/client.h"
#include "harness.h"

/* Rules besides the harness's (bomb, 制造炸弹 = zhadan, casino flag,
 * "casino royale" allow): a short Chinese keyword for evasion forms. */
static void setup(void)
{
    fdt_setup();
    fdt_write_file(fdt_d.rules, "stream.rules", "@category A1.4\n@id zh.bomb\n炸弹\n");
}

TestSuite(stream, .init = setup, .fini = fdt_teardown, .timeout = 60);

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Round trip of a printf-formatted request; the parsed response. */
__attribute__((format(printf, 2, 3))) static cJSON *rt(fdt_conn *c, const char *fmt, ...)
{
    char req[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(req, sizeof(req), fmt, ap);
    va_end(ap);
    char *line = fdt_roundtrip(c, req);
    cr_assert(line, "no answer to %s", req);
    cJSON *r = fdt_json(line);
    free(line);
    return r;
}

/* Expect the error CODE for the request. */
#define EXPECT_ERR(c, code, ...)                                                                   \
    do {                                                                                           \
        cJSON *r_ = rt(c, __VA_ARGS__);                                                            \
        const char *got_ = fdt_errcode(r_);                                                        \
        char *txt_ = cJSON_PrintUnformatted(r_);                                                   \
        cr_assert(got_ &&strcmp(got_, code) == 0, "want %s, got %s", code, txt_);                  \
        free(txt_);                                                                                \
        cJSON_Delete(r_);                                                                          \
    } while (0)

static long num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItem(o, key);
    cr_assert(cJSON_IsNumber(v), "no number %s", key);
    return (long)v->valuedouble;
}

/* A chunk or close answer: no error, the stream id echoed. */
static cJSON *ok_stream(cJSON *r, const char *id)
{
    char *txt = cJSON_PrintUnformatted(r);
    cr_assert_null(fdt_errcode(r), "%s", txt);
    cr_assert_str_eq(fdt_str(r, "stream"), id, "%s", txt);
    free(txt);
    return r;
}

/* The "streams" object of a stats reply (into *STATS, caller deletes). */
static const cJSON *stream_stats(fdt_conn *c, cJSON **stats)
{
    *stats = rt(c, "{\"op\":\"stats\"}");
    const cJSON *s = cJSON_GetObjectItem(*stats, "streams");
    cr_assert(cJSON_IsObject(s));
    return s;
}

/* Poll stats (bounded) until streams.KEY == WANT; 1 if it got there. */
static int wait_stream_stat(fdt_conn *c, const char *key, long want)
{
    int64_t deadline = now_ms() + FDT_TIMEOUT_MS;
    for (;;) {
        cJSON *st;
        long v = num(stream_stats(c, &st), key);
        cJSON_Delete(st);
        if (v == want)
            return 1;
        if (now_ms() > deadline)
            return 0;
        poll(NULL, 0, 20); /* poll interval, not a synchronisation */
    }
}

Test(stream, session_across_chunks)
{
    cr_assert(fdt_start(NULL) == 0, "%s", fdt_d.log);
    fdt_conn *c = fdt_connect(fdt_d.sock);

    cJSON *r = rt(c, "{\"id\":1,\"op\":\"open\",\"stream\":\"s1\",\"meta\":{\"user\":\"u\"}}");
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(r, "ok")));
    cr_assert_eq(num(r, "id"), 1);
    cr_assert_str_eq(fdt_str(r, "stream"), "s1");
    cJSON_Delete(r);

    /* 这是 制造 | 炸 | ZWSP | 弹，后面: "制造炸弹" and "炸弹" through a
     * zero-width space, each piece in its own chunk. Bytes: 这是 0-6,
     * 制造 6-12, 炸 12-15, ZWSP 15-18, 弹 18-21. */
    const char *chunks[] = {"这是制造", "炸", "\\u200b", "弹，后面"};
    long sent[] = {12, 15, 18, 30};
    long prev = 0;
    for (int i = 0; i < 3; i++) {
        r = ok_stream(rt(c, "{\"op\":\"chunk\",\"stream\":\"s1\",\"text\":\"%s\"}", chunks[i]),
                      "s1");
        cr_assert_str_eq(fdt_str(r, "decision"), "allow");
        cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(r, "matches")), 0);
        long rel = num(r, "release");
        /* monotonic, never past what was sent, never into the keyword
         * that is still incomplete (it starts at byte 6) */
        cr_assert(rel >= prev && rel <= sent[i] && rel <= 6, "chunk %d: release %ld", i, rel);
        prev = rel;
        cJSON_Delete(r);
    }
    r = ok_stream(
        rt(c, "{\"id\":\"c4\",\"op\":\"chunk\",\"stream\":\"s1\",\"text\":\"%s\"}", chunks[3]),
        "s1");
    cr_assert_str_eq(fdt_str(r, "id"), "c4");
    cr_assert_str_eq(fdt_str(r, "decision"), "block");
    cJSON *ms = cJSON_GetObjectItem(r, "matches");
    cr_assert_eq(cJSON_GetArraySize(ms), 2);
    cJSON *m0 = cJSON_GetArrayItem(ms, 0), *m1 = cJSON_GetArrayItem(ms, 1);
    cr_assert_str_eq(fdt_str(m0, "rule"), "zhadan");
    cr_assert_str_eq(fdt_str(m0, "category"), "A1.4");
    cr_assert_str_eq(fdt_str(m0, "action"), "block");
    cr_assert_eq(num(m0, "start"), 6);
    cr_assert_eq(num(m0, "end"), 21);
    cr_assert_str_eq(fdt_str(m1, "rule"), "zh.bomb");
    cr_assert_eq(num(m1, "start"), 12);
    cr_assert_eq(num(m1, "end"), 21);
    long rel = num(r, "release");
    cr_assert(rel >= prev && rel <= 6, "release %ld covers the blocking match", rel);
    cJSON_Delete(r);

    /* finished: more text is refused, the stream stays until closed */
    EXPECT_ERR(c, "stream_blocked", "{\"op\":\"chunk\",\"stream\":\"s1\",\"text\":\"x\"}");
    r = ok_stream(rt(c, "{\"op\":\"close\",\"stream\":\"s1\"}"), "s1");
    cr_assert_str_eq(fdt_str(r, "decision"), "block");
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(r, "matches")), 0, "no new matches");
    cr_assert_eq(num(r, "release"), rel, "close of a blocked stream releases nothing more");
    cJSON_Delete(r);
    EXPECT_ERR(c, "unknown_stream", "{\"op\":\"close\",\"stream\":\"s1\"}");

    /* an ordinary stream: a flag match split over chunks, everything
     * released at close; explain shows the suppressed match */
    r = rt(c, "{\"op\":\"open\",\"stream\":\"s2\"}");
    cJSON_Delete(r);
    r = ok_stream(rt(c, "{\"op\":\"chunk\",\"stream\":\"s2\",\"text\":\"at the cas\"}"), "s2");
    cr_assert_str_eq(fdt_str(r, "decision"), "allow");
    cJSON_Delete(r);
    r = ok_stream(rt(c, "{\"op\":\"chunk\",\"stream\":\"s2\",\"text\":\"ino, casino roy\"}"), "s2");
    /* the first casino is final (no allow span can cover it) */
    cr_assert_str_eq(fdt_str(r, "decision"), "flag");
    m0 = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "matches"), 0);
    cr_assert_str_eq(fdt_str(m0, "rule"), "casino");
    cr_assert_eq(num(m0, "start"), 7);
    cr_assert_eq(num(m0, "end"), 13);
    cJSON_Delete(r);
    /* "casino royale" spans a word gap, so its end needs a boundary: the
     * full stop after it gives one */
    r = ok_stream(rt(c, "{\"op\":\"chunk\",\"stream\":\"s2\",\"text\":\"ale.\",\"explain\":true}"),
                  "s2");
    cJSON *m;
    int suppressed = 0;
    cJSON_ArrayForEach(m, cJSON_GetObjectItem(r, "matches"))
    {
        if (cJSON_IsTrue(cJSON_GetObjectItem(m, "suppressed"))) {
            suppressed++;
            cr_assert_eq(num(m, "start"), 15);
        }
    }
    cJSON_Delete(r);
    r = ok_stream(rt(c, "{\"op\":\"close\",\"stream\":\"s2\"}"), "s2");
    cr_assert_str_eq(fdt_str(r, "decision"), "flag");
    cr_assert_eq(num(r, "release"), 29, "close releases the whole text");
    cJSON_Delete(r);
    cr_assert_eq(suppressed, 1, "explain lists the suppressed casino inside casino royale");

    /* stats: opened 2, one blocked, none open, bytes counted */
    cJSON *st;
    const cJSON *s = stream_stats(c, &st);
    cr_assert_eq(num(s, "current"), 0);
    cr_assert_eq(num(s, "total"), 2);
    cr_assert_eq(num(s, "blocked"), 1);
    cr_assert_eq(num(s, "bytes"), 30 + 29);
    cr_assert_eq(num(s, "memory"), 0);
    cJSON_Delete(st);
    fdt_close(c);
}

/* The matches of a result as "rule@start-end;" lines, sorted. */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void add_matches(char **list, size_t *n, const filterd_result *r)
{
    for (size_t i = 0; i < r->nmatches; i++) {
        char *s;
        cr_assert(asprintf(&s, "%s@%u-%u%s", r->matches[i].rule, r->matches[i].start,
                           r->matches[i].end, r->matches[i].suppressed ? "s" : "") > 0);
        list[(*n)++] = s;
    }
}

static void free_list(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
}

/*
 * Stream TEXT cut at character boundaries every STEP characters (0: one
 * chunk) through the client library and compare with a check of the whole
 * text: same decision, same matches (for a block: the matches reported up
 * to the block are the check's first ones).
 */
static void compare(filterd_client *c, const char *text, size_t step, int nth)
{
    size_t len = strlen(text);
    filterd_result whole, r;
    cr_assert_eq(filterd_client_check(c, text, len, NULL, 0, &whole), 0);
    char *want[64], *got[64];
    size_t nwant = 0, ngot = 0;
    add_matches(want, &nwant, &whole);

    char id[32];
    snprintf(id, sizeof(id), "cmp-%d", nth);
    cr_assert_eq(filterd_client_stream_open(c, id, "{\"case\":1}"), 0, "%s",
                 filterd_client_error_message(c));
    filterd_decision dec = FILTERD_ALLOW;
    uint64_t prev = 0;
    size_t pos = 0;
    bool blocked = false;
    while (pos < len && !blocked) {
        size_t end = len;
        if (step) { /* STEP characters further */
            end = pos;
            for (size_t k = 0; k < step && end < len; k++) {
                end++;
                while (end < len && ((unsigned char)text[end] & 0xC0) == 0x80)
                    end++;
            }
        }
        cr_assert_eq(filterd_client_stream_chunk(c, id, text + pos, end - pos, &r), 0, "%s: %s",
                     text, filterd_client_error_message(c));
        cr_assert(r.release >= prev && r.release <= end, "%s: release %lu", text,
                  (unsigned long)r.release);
        prev = r.release;
        add_matches(got, &ngot, &r);
        dec = r.decision;
        blocked = dec == FILTERD_BLOCK;
        filterd_result_free(&r);
        pos = end;
    }
    cr_assert_eq(filterd_client_stream_close(c, id, &r), 0);
    add_matches(got, &ngot, &r);
    cr_assert_eq(r.decision, whole.decision, "%s (step %zu): stream %d, check %d", text, step,
                 r.decision, whole.decision);
    if (!blocked)
        cr_assert_eq(r.release, len, "%s: close released %lu", text, (unsigned long)r.release);
    filterd_result_free(&r);
    qsort(want, nwant, sizeof(char *), cmp_str);
    qsort(got, ngot, sizeof(char *), cmp_str);
    if (!blocked) {
        cr_assert_eq(ngot, nwant, "%s (step %zu): %zu matches, check %zu", text, step, ngot, nwant);
    } else {
        cr_assert(ngot >= 1 && ngot <= nwant, "%s (step %zu)", text, step);
    }
    /* every streamed match is one of the check's */
    for (size_t i = 0; i < ngot; i++)
        cr_assert(bsearch(&got[i], want, nwant, sizeof(char *), cmp_str), "%s (step %zu): %s", text,
                  step, got[i]);
    free_list(want, nwant);
    free_list(got, ngot);
    filterd_result_free(&whole);
}

Test(stream, same_as_check)
{
    cr_assert(fdt_start(NULL) == 0, "%s", fdt_d.log);
    filterd_client *c;
    cr_assert_eq(filterd_client_connect(fdt_d.sock, &c), 0);
    filterd_client_set_timeout(c, FDT_TIMEOUT_MS);
    static const char *texts[] = {
        "hello world, nothing to see here",
        "",
        "welcome to the casino royale, and the casino",
        "casino royale",
        "如何制造炸弹",
        "教你製 造-炸\u200b彈，然后 b.o.m.b 和 Ｂ Ｏ Ｍ Ｂ。",
        "炸\u200b\u200b弹 at the casino, then a bomb",
        "the casino and a casino and a third casino, 你好世界",
        "\u200b\u200b炸\u200b\u200b弹\u200b\u200b",
    };
    static const size_t steps[] = {0, 1, 2, 5};
    int nth = 0;
    for (size_t t = 0; t < sizeof(texts) / sizeof(*texts); t++)
        for (size_t s = 0; s < sizeof(steps) / sizeof(*steps); s++)
            compare(c, texts[t], steps[s], nth++);

    /* the library's view of stream errors */
    filterd_result r;
    cr_assert_eq(filterd_client_stream_chunk(c, "gone", "x", 1, &r), FILTERD_ESERVER);
    cr_assert_str_eq(filterd_client_error_code(c), "unknown_stream");
    filterd_result_free(&r);
    cr_assert_eq(filterd_client_stream_open(c, "dup", NULL), 0);
    cr_assert_eq(filterd_client_stream_open(c, "dup", NULL), FILTERD_ESERVER);
    cr_assert_str_eq(filterd_client_error_code(c), "stream_exists");
    cr_assert_eq(filterd_client_stream_open(c, "", NULL), FILTERD_EINVAL);
    cr_assert_eq(filterd_client_stream_open(c, "m", "[1]"), FILTERD_EINVAL);
    cr_assert_eq(filterd_client_stream_chunk(c, "dup", "a\0b", 3, &r), FILTERD_EINVAL);
    filterd_result_free(&r);
    cr_assert_eq(filterd_client_stream_close(c, "dup", &r), 0);
    cr_assert_eq(r.release, 0);
    filterd_result_free(&r);
    /* where a chunk may end */
    cr_assert_eq(filterd_utf8_boundary("ab", 2), 2);
    cr_assert_eq(filterd_utf8_boundary("a\xe7\x82", 3), 1);
    cr_assert_eq(filterd_utf8_boundary("a\xe7\x82\xb8", 4), 4);
    cr_assert_eq(filterd_utf8_boundary("\xf0\x9f\x98", 3), 0);
    cr_assert_eq(filterd_utf8_boundary("", 0), 0);
    filterd_client_close(c);
}

Test(stream, errors)
{
    const char *extra[] = {"--max-request", "1024", NULL};
    cr_assert(fdt_start(extra) == 0, "%s", fdt_d.log);
    fdt_conn *c = fdt_connect(fdt_d.sock);

    /* bad_request: missing or invalid fields */
    EXPECT_ERR(c, "bad_request", "{\"op\":\"open\"}");
    EXPECT_ERR(c, "bad_request", "{\"op\":\"open\",\"stream\":7}");
    EXPECT_ERR(c, "bad_request", "{\"op\":\"open\",\"stream\":\"\"}");
    char longid[400];
    memset(longid, 'x', 300);
    longid[300] = '\0';
    EXPECT_ERR(c, "bad_request", "{\"op\":\"open\",\"stream\":\"%s\"}", longid);
    EXPECT_ERR(c, "bad_request", "{\"op\":\"open\",\"stream\":\"a\",\"meta\":[1]}");
    EXPECT_ERR(c, "bad_request", "{\"op\":\"chunk\",\"text\":\"x\"}");
    EXPECT_ERR(c, "bad_request", "{\"op\":\"close\"}");

    /* unknown_stream: never opened */
    EXPECT_ERR(c, "unknown_stream", "{\"op\":\"chunk\",\"stream\":\"nope\",\"text\":\"x\"}");
    EXPECT_ERR(c, "unknown_stream", "{\"op\":\"close\",\"stream\":\"nope\"}");

    cJSON *r = rt(c, "{\"op\":\"open\",\"stream\":\"a\"}");
    cr_assert_null(fdt_errcode(r));
    cJSON_Delete(r);
    EXPECT_ERR(c, "stream_exists", "{\"id\":3,\"op\":\"open\",\"stream\":\"a\"}");
    EXPECT_ERR(c, "bad_request", "{\"op\":\"chunk\",\"stream\":\"a\"}");
    EXPECT_ERR(c, "bad_request", "{\"op\":\"chunk\",\"stream\":\"a\",\"text\":5}");
    EXPECT_ERR(c, "bad_request",
               "{\"op\":\"chunk\",\"stream\":\"a\",\"text\":\"x\",\"explain\":1}");

    /* bad_utf8 and too_large leave the stream usable */
    const char bad[] = "{\"op\":\"chunk\",\"stream\":\"a\",\"text\":\"ab\xff\"}";
    EXPECT_ERR(c, "bad_utf8", "%s", bad);
    char big[2100];
    memset(big, 'y', 2000);
    big[2000] = '\0';
    EXPECT_ERR(c, "too_large", "{\"op\":\"chunk\",\"stream\":\"a\",\"text\":\"%s\"}", big);
    r = ok_stream(rt(c, "{\"op\":\"chunk\",\"stream\":\"a\",\"text\":\"a bo\"}"), "a");
    cJSON_Delete(r);
    r = ok_stream(rt(c, "{\"op\":\"chunk\",\"stream\":\"a\",\"text\":\"mb\"}"), "a");
    cr_assert_str_eq(fdt_str(r, "decision"), "block");
    cr_assert_eq(num(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "matches"), 0), "start"), 2,
                 "offsets count only the chunks taken");
    cJSON_Delete(r);
    EXPECT_ERR(c, "stream_blocked", "{\"op\":\"chunk\",\"stream\":\"a\",\"text\":\"more\"}");
    EXPECT_ERR(c, "stream_blocked", "{\"op\":\"chunk\",\"stream\":\"a\",\"text\":\"\"}");
    r = ok_stream(rt(c, "{\"op\":\"close\",\"stream\":\"a\"}"), "a");
    cJSON_Delete(r);
    /* the id is free again */
    r = rt(c, "{\"op\":\"open\",\"stream\":\"a\"}");
    cr_assert_null(fdt_errcode(r));
    cJSON_Delete(r);

    /* every error was counted */
    cJSON *st = rt(c, "{\"op\":\"stats\"}");
    cJSON *errs = cJSON_GetObjectItem(cJSON_GetObjectItem(st, "requests"), "errors");
    cr_assert_eq(num(errs, "unknown_stream"), 2);
    cr_assert_eq(num(errs, "stream_exists"), 1);
    cr_assert_eq(num(errs, "stream_blocked"), 2);
    cJSON_Delete(st);
    fdt_close(c);
}

Test(stream, max_streams)
{
    const char *extra[] = {"--max-streams", "3", NULL};
    cr_assert(fdt_start(extra) == 0, "%s", fdt_d.log);
    fdt_conn *c = fdt_connect(fdt_d.sock), *c2 = fdt_connect(fdt_d.sock);
    for (int i = 0; i < 3; i++) {
        cJSON *r = rt(c, "{\"op\":\"open\",\"stream\":\"s%d\"}", i);
        cr_assert_null(fdt_errcode(r));
        cJSON_Delete(r);
    }
    EXPECT_ERR(c, "too_many_streams", "{\"op\":\"open\",\"stream\":\"s3\"}");
    /* per connection: another one has its own, with the same ids */
    for (int i = 0; i < 3; i++) {
        cJSON *r = rt(c2, "{\"op\":\"open\",\"stream\":\"s%d\"}", i);
        cr_assert_null(fdt_errcode(r));
        cJSON_Delete(r);
    }
    cJSON *st;
    cr_assert_eq(num(stream_stats(c, &st), "current"), 6);
    cr_assert_gt(num(cJSON_GetObjectItem(st, "streams"), "memory"), 0);
    cJSON_Delete(st);
    /* closing one makes room */
    cJSON *r = ok_stream(rt(c, "{\"op\":\"close\",\"stream\":\"s1\"}"), "s1");
    cJSON_Delete(r);
    r = rt(c, "{\"op\":\"open\",\"stream\":\"s3\"}");
    cr_assert_null(fdt_errcode(r));
    cJSON_Delete(r);
    EXPECT_ERR(c, "too_many_streams", "{\"op\":\"open\",\"stream\":\"s4\"}");
    fdt_close(c);
    fdt_close(c2);
}

/* Many streams on one connection, pipelined: the table grows and finds
 * every one of them. */
Test(stream, many_streams_pipelined)
{
    const char *extra[] = {"--max-streams", "300", NULL};
    cr_assert(fdt_start(extra) == 0, "%s", fdt_d.log);
    fdt_conn *c = fdt_connect(fdt_d.sock);
    enum { N = 300 };
    static char batch[N * 96];
    size_t len = 0;
    for (int i = 0; i < N; i++)
        len += (size_t)snprintf(batch + len, sizeof(batch) - len,
                                "{\"id\":%d,\"op\":\"open\",\"stream\":\"stream-%d\"}\n", i, i);
    cr_assert_eq(fdt_send(c, batch, len), 0);
    for (int i = 0; i < N; i++) {
        char *line = fdt_readline(c, FDT_TIMEOUT_MS);
        cr_assert(line);
        cJSON *r = fdt_json(line);
        cr_assert_eq(num(r, "id"), i, "%s", line);
        cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(r, "ok")), "%s", line);
        cJSON_Delete(r);
        free(line);
    }
    EXPECT_ERR(c, "too_many_streams", "{\"op\":\"open\",\"stream\":\"one-more\"}");
    /* in reverse order: every third blocks, the others are clean */
    len = 0;
    for (int i = N - 1; i >= 0; i--)
        len += (size_t)snprintf(batch + len, sizeof(batch) - len,
                                "{\"op\":\"chunk\",\"stream\":\"stream-%d\",\"text\":\"%s\"}\n", i,
                                i % 3 ? "fine" : "bomb");
    cr_assert_eq(fdt_send(c, batch, len), 0);
    for (int i = N - 1; i >= 0; i--) {
        char *line = fdt_readline(c, FDT_TIMEOUT_MS);
        cr_assert(line);
        cJSON *r = fdt_json(line);
        char id[32];
        snprintf(id, sizeof(id), "stream-%d", i);
        ok_stream(r, id);
        cr_assert_str_eq(fdt_str(r, "decision"), i % 3 ? "allow" : "block", "%s", line);
        cJSON_Delete(r);
        free(line);
    }
    cJSON *st;
    const cJSON *s = stream_stats(c, &st);
    cr_assert_eq(num(s, "current"), N);
    cr_assert_eq(num(s, "blocked"), N / 3);
    cJSON_Delete(st);
    for (int i = 0; i < N; i += 2) {
        cJSON *r = rt(c, "{\"op\":\"close\",\"stream\":\"stream-%d\"}", i);
        cr_assert_str_eq(fdt_str(r, "decision"), i % 3 ? "allow" : "block");
        cJSON_Delete(r);
    }
    cr_assert_eq(num(stream_stats(c, &st), "current"), N / 2);
    cJSON_Delete(st);
    fdt_close(c);
}

Test(stream, idle_timeout)
{
    /* set in the config file, as every flag can be */
    fdt_write_file(fdt_d.dir, "filterd.conf", "# streams expire fast\nstream-timeout = 1\n");
    char conf[4200];
    snprintf(conf, sizeof(conf), "%s/filterd.conf", fdt_d.dir);
    const char *extra[] = {"--config", conf, NULL};
    cr_assert(fdt_start(extra) == 0, "%s", fdt_d.log);
    fdt_conn *c = fdt_connect(fdt_d.sock);
    cJSON *r = rt(c, "{\"op\":\"open\",\"stream\":\"idle\"}");
    cJSON_Delete(r);
    r = rt(c, "{\"op\":\"open\",\"stream\":\"busy\"}");
    cJSON_Delete(r);
    r = ok_stream(rt(c, "{\"op\":\"chunk\",\"stream\":\"idle\",\"text\":\"at the cas\"}"), "idle");
    cJSON_Delete(r);

    /* Keep "busy" fed while waiting (bounded) for "idle" to expire. */
    int64_t start = now_ms(), deadline = start + FDT_TIMEOUT_MS;
    long expired = 0;
    while (!expired && now_ms() < deadline) {
        r = ok_stream(rt(c, "{\"op\":\"chunk\",\"stream\":\"busy\",\"text\":\"more \"}"), "busy");
        cJSON_Delete(r);
        cJSON *st;
        expired = num(stream_stats(c, &st), "expired");
        cJSON_Delete(st);
        if (!expired)
            poll(NULL, 0, 50); /* poll interval, not a synchronisation */
    }
    cr_assert_eq(expired, 1, "the idle stream did not expire");
    cr_assert_geq(now_ms() - start, 900, "expired too early");
    EXPECT_ERR(c, "unknown_stream", "{\"op\":\"chunk\",\"stream\":\"idle\",\"text\":\"ino\"}");
    r = ok_stream(rt(c, "{\"op\":\"close\",\"stream\":\"busy\"}"), "busy");
    cr_assert_str_eq(fdt_str(r, "decision"), "allow");
    cJSON_Delete(r);
    /* the id of an expired stream can be used again */
    r = rt(c, "{\"op\":\"open\",\"stream\":\"idle\"}");
    cr_assert_null(fdt_errcode(r));
    cJSON_Delete(r);
    fdt_close(c);
}

Test(stream, disconnect_with_streams_open)
{
    cr_assert(fdt_start(NULL) == 0, "%s", fdt_d.log);
    fdt_conn *watch = fdt_connect(fdt_d.sock);
    for (int round = 0; round < 3; round++) {
        fdt_conn *c = fdt_connect(fdt_d.sock);
        for (int i = 0; i < 5; i++) {
            cJSON *r = rt(c, "{\"op\":\"open\",\"stream\":\"s%d\"}", i);
            cJSON_Delete(r);
            char id[8];
            snprintf(id, sizeof(id), "s%d", i);
            r = ok_stream(rt(c, "{\"op\":\"chunk\",\"stream\":\"%s\",\"text\":\"%s\"}", id,
                             i == 2 ? "a bomb" : "some text 制造"),
                          id);
            cJSON_Delete(r);
        }
        /* the last request is not even answered: pipelined, then gone */
        if (round == 1)
            fdt_sends(c, "{\"op\":\"chunk\",\"stream\":\"s0\",\"text\":\"x\"}\n");
        fdt_close(c);
        cr_assert(wait_stream_stat(watch, "current", 0), "streams of a closed connection stay");
    }
    cJSON *st;
    const cJSON *s = stream_stats(watch, &st);
    cr_assert_eq(num(s, "total"), 15);
    cr_assert_eq(num(s, "memory"), 0);
    cr_assert_eq(num(cJSON_GetObjectItem(st, "connections"), "current"), 1);
    cJSON_Delete(st);
    /* healthy */
    cJSON *r = rt(watch, "{\"text\":\"a bomb\"}");
    cr_assert_str_eq(fdt_str(r, "decision"), "block");
    cJSON_Delete(r);

    /* daemon stop with streams open: clean exit (the sanitizer build checks
     * that they were freed) */
    r = rt(watch, "{\"op\":\"open\",\"stream\":\"left\"}");
    cJSON_Delete(r);
    r = ok_stream(rt(watch, "{\"op\":\"chunk\",\"stream\":\"left\",\"text\":\"abc\"}"), "left");
    cJSON_Delete(r);
    cr_assert_eq(fdt_stop(&fdt_d, SIGTERM), 0, "%s", fdt_d.log);
    fdt_close(watch);
}

Test(stream, reload_keeps_rules_of_open_streams)
{
    fdt_write_file(fdt_d.rules, "extra.rules", "@category A1.4\n@id dynamite\ndynamite\n");
    cr_assert(fdt_start(NULL) == 0, "%s", fdt_d.log);
    fdt_conn *c = fdt_connect(fdt_d.sock);
    cJSON *r = rt(c, "{\"op\":\"open\",\"stream\":\"old\"}");
    char oldv[80];
    snprintf(oldv, sizeof(oldv), "%s", fdt_str(r, "rules"));
    cJSON_Delete(r);
    r = ok_stream(rt(c, "{\"op\":\"chunk\",\"stream\":\"old\",\"text\":\"some dyna\"}"), "old");
    cr_assert_str_eq(fdt_str(r, "decision"), "allow");
    cJSON_Delete(r);

    /* dynamite goes, tnt and many more rules come (the scratch grows) */
    char rules[8192] = "@category A1.4\n@id tnt\ntnt\n";
    for (int i = 0; i < 200; i++) {
        size_t n = strlen(rules);
        snprintf(rules + n, sizeof(rules) - n, "keyword%03d\n", i);
    }
    fdt_write_file(fdt_d.rules, "extra.rules", rules);
    r = rt(c, "{\"op\":\"reload\"}");
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(r, "ok")), "%s", fdt_d.log);
    cr_assert_str_neq(fdt_str(r, "rules"), oldv);
    cJSON_Delete(r);

    /* the old stream still has dynamite, and not tnt */
    r = ok_stream(rt(c, "{\"op\":\"chunk\",\"stream\":\"old\",\"text\":\"mite\"}"), "old");
    cr_assert_str_eq(fdt_str(r, "decision"), "block");
    cr_assert_str_eq(fdt_str(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "matches"), 0), "rule"),
                     "dynamite");
    cJSON_Delete(r);
    r = ok_stream(rt(c, "{\"op\":\"close\",\"stream\":\"old\"}"), "old");
    cr_assert_str_eq(fdt_str(r, "decision"), "block");
    cJSON_Delete(r);

    /* a stream opened after the reload uses the new rules */
    r = rt(c, "{\"op\":\"open\",\"stream\":\"new\"}");
    cr_assert_str_neq(fdt_str(r, "rules"), oldv);
    cJSON_Delete(r);
    r = ok_stream(rt(c, "{\"op\":\"chunk\",\"stream\":\"new\",\"text\":\"dynamite and t\"}"),
                  "new");
    cr_assert_str_eq(fdt_str(r, "decision"), "allow");
    cJSON_Delete(r);
    r = ok_stream(rt(c, "{\"op\":\"chunk\",\"stream\":\"new\",\"text\":\"nt, keyword123\"}"),
                  "new");
    cr_assert_str_eq(fdt_str(r, "decision"), "block");
    cr_assert_str_eq(fdt_str(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "matches"), 0), "rule"),
                     "tnt");
    cJSON_Delete(r);
    r = ok_stream(rt(c, "{\"op\":\"close\",\"stream\":\"new\"}"), "new");
    cJSON_Delete(r);

    /* an old stream left open across two reloads, then the connection
     * ends: its rule set is released with it (sanitizer build) */
    r = rt(c, "{\"op\":\"open\",\"stream\":\"keep\"}");
    cJSON_Delete(r);
    r = rt(c, "{\"op\":\"reload\"}");
    cJSON_Delete(r);
    fdt_write_file(fdt_d.rules, "extra.rules", "@category A1.4\n@id tnt\ntnt\n");
    r = rt(c, "{\"op\":\"reload\"}");
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(r, "ok")));
    cJSON_Delete(r);
    r = ok_stream(rt(c, "{\"op\":\"chunk\",\"stream\":\"keep\",\"text\":\"keyword007\"}"), "keep");
    cr_assert_str_eq(fdt_str(r, "decision"), "block", "the stream has the 200 keywords");
    cJSON_Delete(r);
    fdt_close(c);
}

/* ---- filterctl stream --------------------------------------------------- */

/* Run `filterctl stream --socket S ARGS…` on INPUT; stdout, stderr, status. */
static int fctl_stream(const char *input, const char *chunk, char **out, char **err)
{
    const char *args[] = {"stream", "--socket", fdt_d.sock, "--chunk", chunk, NULL};
    return fdt_run(FILTERCTL_BIN, args, input, out, err);
}

Test(stream, filterctl_stream)
{
    cr_assert(fdt_start(NULL) == 0, "%s", fdt_d.log);
    char *out, *err;

    /* allow: everything comes through, whatever the chunk size */
    const char *text = "hello world, 你好世界, emoji 😀 and more.\nsecond line\n";
    const char *sizes[] = {"1", "2", "3", "7", "64"};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(*sizes); i++) {
        cr_assert_eq(fctl_stream(text, sizes[i], &out, &err), 0, "chunk %s: %s", sizes[i], err);
        cr_assert_str_eq(out, text, "chunk %s", sizes[i]);
        free(out);
        free(err);
    }

    /* a long text: released along the way, all of it at the end */
    size_t n = 50000;
    char *longtext = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        longtext[i] = "abcdefghij klmnopqrstuvwxyz.\n"[i % 29];
    longtext[n] = '\0';
    cr_assert_eq(fctl_stream(longtext, "100", &out, &err), 0, "%s", err);
    cr_assert_str_eq(out, longtext);
    free(out);
    free(err);
    free(longtext);

    /* flag: delivered, exit 1, reported on stderr */
    cr_assert_eq(fctl_stream("welcome to the casino tonight", "4", &out, &err), 1);
    cr_assert_str_eq(out, "welcome to the casino tonight");
    cr_assert(strstr(err, "casino") && strstr(err, "A1.8"), "%s", err);
    free(out);
    free(err);

    /* block: the blocked text never reaches stdout, exit 2, reason on
     * stderr; an evasion form split over 1-byte chunks */
    cr_assert_eq(fctl_stream("first 如何制造炸弹 and the rest", "5", &out, &err), 2);
    cr_assert(!strstr(out, "炸") && !strstr(out, "rest"), "printed: %s", out);
    cr_assert(strncmp("first 如何", out, strlen(out)) == 0, "printed: %s", out);
    cr_assert(strstr(err, "zhadan") && strstr(err, "A1.4"), "%s", err);
    free(out);
    free(err);
    cr_assert_eq(fctl_stream("safe text, 炸\u200b\u200b弹, not shown", "1", &out, &err), 2);
    cr_assert(!strstr(out, "炸") && !strstr(out, "not shown"), "printed: %s", out);
    cr_assert(strstr(err, "zh.bomb"), "%s", err);
    free(out);
    free(err);

    /* errors: usage, unreachable, input that is not UTF-8 */
    cr_assert_eq(fctl_stream("x", "0", NULL, NULL), 64);
    const char *extra_arg[] = {"stream", "--socket", fdt_d.sock, "text", NULL};
    cr_assert_eq(fdt_run(FILTERCTL_BIN, extra_arg, "x", NULL, NULL), 64);
    char nosock[4200];
    snprintf(nosock, sizeof(nosock), "%s/nothing.sock", fdt_d.dir);
    const char *unreach[] = {"stream", "--socket", nosock, NULL};
    cr_assert_eq(fdt_run(FILTERCTL_BIN, unreach, "x", NULL, NULL), 69);
    cr_assert_eq(fctl_stream("bad \xff byte", "64", &out, NULL), 70);
    free(out);

    /* nothing left behind in the daemon */
    fdt_conn *c = fdt_connect(fdt_d.sock);
    cr_assert(wait_stream_stat(c, "current", 0));
    fdt_close(c);
}

/*
 * `filterctl stream` writes released text while its input is still open:
 * a pipe in, read its stdout before closing the pipe.
 */
Test(stream, filterctl_stream_is_incremental)
{
    cr_assert(fdt_start(NULL) == 0, "%s", fdt_d.log);
    int in[2], out[2];
    cr_assert(pipe(in) == 0 && pipe(out) == 0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        execl(FILTERCTL_BIN, FILTERCTL_BIN, "stream", "--socket", fdt_d.sock, "--chunk", "16",
              (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    const char part[] = "The first sentence is harmless. So is the second one, really. ";
    cr_assert_eq(write(in[1], part, strlen(part)), (ssize_t)strlen(part));
    /* some of it must come out before the input ends (bounded wait) */
    struct pollfd pf = {.fd = out[0], .events = POLLIN};
    cr_assert_eq(poll(&pf, 1, FDT_TIMEOUT_MS), 1, "nothing released while input is open");
    char buf[256];
    ssize_t got = read(out[0], buf, sizeof(buf));
    cr_assert_gt(got, 0);
    cr_assert(strncmp(buf, part, (size_t)got) == 0);
    close(in[1]);
    size_t total = (size_t)got;
    while ((got = read(out[0], buf, sizeof(buf))) > 0)
        total += (size_t)got;
    close(out[0]);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    cr_assert_eq(total, strlen(part));
}

/*
 * With an audit log and excerpts wanted, each stream keeps its matches and
 * their excerpts for the record: bounded (FD_CSTREAM_MAX_MATCHES), also
 * with chunks larger than the kept tail; memory goes back to 0 (the
 * sanitizer build checks the bookkeeping).
 */
Test(stream, audit_material_bounded)
{
    char audit[4200];
    snprintf(audit, sizeof(audit), "%s/audit.log", fdt_d.dir);
    const char *extra[] = {"--audit", audit, "--audit-level", "all", NULL};
    cr_assert(fdt_start(extra) == 0, "%s", fdt_d.log);
    fdt_conn *c = fdt_connect(fdt_d.sock);
    cJSON *r = rt(c, "{\"op\":\"open\",\"stream\":\"many\",\"meta\":{\"k\":\"v\"}}");
    cr_assert_null(fdt_errcode(r));
    cJSON_Delete(r);
    /* 400 flag matches: in small chunks, then one chunk of 3 KiB */
    long found = 0;
    for (int i = 0; i < 300; i++) {
        r = ok_stream(rt(c, "{\"op\":\"chunk\",\"stream\":\"many\",\"text\":\"a casino, \"}"),
                      "many");
        found += cJSON_GetArraySize(cJSON_GetObjectItem(r, "matches"));
        cJSON_Delete(r);
    }
    char big[4096] = "";
    for (int i = 0; i < 100; i++)
        strcat(big, "casino and 炸 some words around it, ");
    r = ok_stream(rt(c, "{\"op\":\"chunk\",\"stream\":\"many\",\"text\":\"%s\"}", big), "many");
    found += cJSON_GetArraySize(cJSON_GetObjectItem(r, "matches"));
    cJSON_Delete(r);
    r = ok_stream(rt(c, "{\"op\":\"close\",\"stream\":\"many\"}"), "many");
    found += cJSON_GetArraySize(cJSON_GetObjectItem(r, "matches"));
    cr_assert_str_eq(fdt_str(r, "decision"), "flag");
    cJSON_Delete(r);
    cr_assert_eq(found, 400);

    /* a block whose match began two chunks earlier, and a stream left open */
    r = rt(c, "{\"op\":\"open\",\"stream\":\"b\"}");
    cJSON_Delete(r);
    r = ok_stream(rt(c, "{\"op\":\"chunk\",\"stream\":\"b\",\"text\":\"制\"}"), "b");
    cJSON_Delete(r);
    r = ok_stream(rt(c, "{\"op\":\"chunk\",\"stream\":\"b\",\"text\":\"造炸\"}"), "b");
    cJSON_Delete(r);
    r = ok_stream(rt(c, "{\"op\":\"chunk\",\"stream\":\"b\",\"text\":\"弹\"}"), "b");
    cr_assert_str_eq(fdt_str(r, "decision"), "block");
    cJSON_Delete(r);
    r = rt(c, "{\"op\":\"open\",\"stream\":\"left\"}");
    cJSON_Delete(r);
    r = ok_stream(rt(c, "{\"op\":\"chunk\",\"stream\":\"left\",\"text\":\"the casino\"}"), "left");
    cJSON_Delete(r);
    fdt_close(c);
    fdt_conn *w = fdt_connect(fdt_d.sock);
    cr_assert(wait_stream_stat(w, "current", 0));
    cJSON *st;
    cr_assert_eq(num(stream_stats(w, &st), "memory"), 0);
    cJSON_Delete(st);
    fdt_close(w);
}
