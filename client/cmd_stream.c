/*
 * cmd_stream.c — `filterctl stream [--chunk BYTES]`: stdin as one stream.
 *
 * A filter for a pipe: `some-model-cli | filterctl stream` passes through
 * exactly the text the daemon releases, as soon as it is released. Input
 * is sent as it arrives (whatever read(2) returns), in chunks of at most
 * BYTES (default 64) cut on UTF-8 character boundaries (a chunk is one
 * character longer than BYTES only when BYTES is smaller than that
 * character). After each answer the newly released bytes go to stdout
 * with write(2), unbuffered. At end of input the stream is closed and the
 * rest is written, unless blocked.
 *
 * On block: the text released before the blocking match is written, nothing
 * after it (the blocked bytes never reach stdout),
 * the blocking matches are reported on stderr and the exit status is 2.
 * Otherwise as `check`: 0 allow, 1 flag (flag matches reported on stderr),
 * 64 usage, 69 daemon unreachable, 70 other errors (e.g. input that is not
 * UTF-8). With --json every daemon response line is copied to stderr.
 *
 * Memory: the text not yet released is kept (the daemon holds back about
 * as much as its longest rule can span), plus one chunk.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "filterctl.h"

/* The text received but not yet written: [base, base + len) of the stream. */
typedef struct held {
    char *p;
    size_t len, cap;
    uint64_t base;
} held;

static int held_add(held *h, const char *s, size_t n)
{
    if (h->len + n > h->cap) {
        size_t cap = h->cap ? h->cap : 4096;
        while (cap < h->len + n)
            cap *= 2;
        char *p = realloc(h->p, cap);
        if (!p)
            return -1;
        h->p = p;
        h->cap = cap;
    }
    memcpy(h->p + h->len, s, n);
    h->len += n;
    return 0;
}

/* Write the held bytes up to stream offset UPTO to stdout. 0 or -1. */
static int held_release(held *h, uint64_t upto)
{
    if (upto <= h->base)
        return 0;
    size_t n = (size_t)(upto - h->base);
    if (n > h->len)
        n = h->len; /* never more than we sent */
    for (size_t off = 0; off < n;) {
        ssize_t w = write(STDOUT_FILENO, h->p + off, n - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        off += (size_t)w;
    }
    memmove(h->p, h->p + n, h->len - n);
    h->len -= n;
    h->base += n;
    return 0;
}

/* Report the counted matches of RES with action ACTION on stderr. */
static void report(const filterd_result *res, filterd_decision action)
{
    for (size_t i = 0; i < res->nmatches; i++) {
        const filterd_match *m = &res->matches[i];
        if (m->action != action || m->suppressed)
            continue;
        fprintf(stderr, "filterctl: %s: rule %s, category %s, bytes %u-%u of the stream\n",
                action == FILTERD_BLOCK ? "blocked" : "flagged", m->rule, m->category, m->start,
                m->end);
    }
}

/*
 * One answer: copy it to stderr with --json, report matches, write what it
 * releases (nothing once blocked). Returns -1 if stdout failed.
 */
static int handle(const fctl_args *args, held *h, const filterd_result *res)
{
    if (args->json && res->raw)
        fprintf(stderr, "%s\n", res->raw);
    report(res, FILTERD_FLAG);
    report(res, FILTERD_BLOCK);
    /* Even with a block: the daemon never releases a byte of a blocking
     * match, so what it released before it is safe to deliver. */
    return held_release(h, res->release);
}

/* Length of the UTF-8 character starting with LEAD (1 for a bad byte). */
static size_t char_len(unsigned char lead)
{
    return lead >= 0xF0 && lead < 0xF8 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
}

int fctl_cmd_stream(const fctl_args *args)
{
    if (args->npos > 0) {
        fprintf(stderr, "filterctl: stream reads stdin and takes no arguments\n");
        return EXIT_USAGE;
    }
    size_t chunk = args->chunk ? args->chunk : 64;
    int status;
    filterd_client *c = fctl_connect(args, &status);
    if (!c)
        return status;

    char id[64];
    snprintf(id, sizeof(id), "filterctl-%ld", (long)getpid());
    size_t cap = chunk < 4 ? 4 : chunk;
    char *in = malloc(cap);
    held h = {0};
    filterd_result res = {0};
    filterd_decision decision = FILTERD_ALLOW;
    int rc = in ? filterd_client_stream_open(c, id, NULL) : FILTERD_ENOMEM;
    if (rc != 0) {
        status = fctl_fail(c, "stream", rc);
        goto out;
    }

    size_t n = 0; /* bytes in `in` not sent yet (an unfinished character) */
    bool eof = false;
    while (!eof) {
        ssize_t r = read(STDIN_FILENO, in + n, cap - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "filterctl: stream: reading stdin: %s\n", strerror(errno));
            status = EXIT_SOFTWARE;
            goto out;
        }
        if (r == 0)
            eof = true;
        n += (size_t)r;
        /* Send every complete character read so far. */
        while (n) {
            size_t cut = filterd_utf8_boundary(in, n < chunk ? n : chunk);
            if (cut == 0) {
                size_t cl = char_len((unsigned char)in[0]);
                if (n >= cl)
                    cut = cl; /* one character longer than --chunk */
                else if (eof)
                    cut = n; /* input ends inside a character: the daemon says bad_utf8 */
                else
                    break; /* wait for the rest of the character */
            }
            if (held_add(&h, in, cut) != 0) {
                fprintf(stderr, "filterctl: stream: out of memory\n");
                status = EXIT_SOFTWARE;
                goto out;
            }
            rc = filterd_client_stream_chunk(c, id, in, cut, &res);
            if (rc != 0) {
                if (args->json && res.raw)
                    fprintf(stderr, "%s\n", res.raw);
                status = fctl_fail(c, "stream", rc);
                goto out;
            }
            memmove(in, in + cut, n - cut);
            n -= cut;
            decision = res.decision;
            if (handle(args, &h, &res) != 0)
                goto stdout_failed;
            if (decision == FILTERD_BLOCK) {
                /* The stream is finished: free it in the daemon, say why. */
                filterd_result_free(&res);
                filterd_client_stream_close(c, id, &res);
                status = 2;
                goto out;
            }
            filterd_result_free(&res);
        }
    }

    rc = filterd_client_stream_close(c, id, &res);
    if (rc != 0) {
        if (args->json && res.raw)
            fprintf(stderr, "%s\n", res.raw);
        status = fctl_fail(c, "stream", rc);
        goto out;
    }
    decision = res.decision;
    if (handle(args, &h, &res) != 0)
        goto stdout_failed;
    status = (int)decision;
    goto out;

stdout_failed:
    fprintf(stderr, "filterctl: stream: writing stdout: %s\n", strerror(errno));
    status = EXIT_SOFTWARE;
out:
    filterd_result_free(&res);
    filterd_client_close(c);
    free(h.p);
    free(in);
    return status;
}
