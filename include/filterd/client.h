/*
 * filterd/client.h — C client library for the filterd daemon.
 *
 * A filterd_client is one blocking connection to the daemon's Unix socket,
 * speaking the newline-delimited JSON protocol of docs/protocol.md. Use one
 * client per thread (a client is not thread-safe; separate clients are
 * independent). Link with libfilterd-client.a and -lcjson.
 *
 * Errors: every function returning int returns 0 on success or a negative
 * FILTERD_E* code; filterd_client_strerror() describes it. When the daemon
 * answered with an error object (FILTERD_ESERVER), filterd_client_error_code()
 * and filterd_client_error_message() give its `code` (e.g. "bad_utf8") and
 * `message` until the next call on that client.
 *
 * Ownership: the caller owns what it passes in; the library never keeps a
 * pointer to it. Results filled by the library belong to the caller and are
 * released with filterd_result_free() / free() as stated per function.
 *
 *     filterd_client *c;
 *     if (filterd_client_connect(NULL, &c) == 0) {
 *         filterd_result r;
 *         if (filterd_client_check(c, text, len, NULL, 0, &r) == 0 &&
 *             r.decision == FILTERD_BLOCK)
 *             ...;
 *         filterd_result_free(&r);
 *         filterd_client_close(c);
 *     }
 */
#ifndef FILTERD_CLIENT_H
#define FILTERD_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    FILTERD_OK = 0,
    FILTERD_ECONNECT = -1, /* the daemon is unreachable (no socket, refused) */
    FILTERD_EIO = -2,      /* the connection failed or was closed mid-request */
    FILTERD_EPROTO = -3,   /* the daemon's answer is not what the protocol says */
    FILTERD_ESERVER = -4,  /* the daemon answered with an error object */
    FILTERD_ENOMEM = -5,   /* out of memory */
    FILTERD_EINVAL = -6,   /* bad argument (e.g. meta is not a JSON object) */
    FILTERD_ETIMEDOUT = -7 /* no answer within the timeout */
};

typedef enum filterd_decision {
    FILTERD_ALLOW = 0,
    FILTERD_FLAG = 1,
    FILTERD_BLOCK = 2
} filterd_decision;

typedef struct filterd_match {
    char *rule;              /* rule id */
    char *category;          /* category id, e.g. "A1.4" */
    filterd_decision action; /* the rule's action */
    uint32_t start, end;     /* byte span in the checked text */
    int suppressed;          /* 1: inside an allow match (explain only) */
} filterd_match;

typedef struct filterd_result {
    filterd_decision decision;
    filterd_match *matches;
    size_t nmatches;
    char rules[72];   /* the rule-set version (check only; "" for streams) */
    uint64_t us;      /* server time in µs (check only) */
    char *raw;        /* the response line as received (no '\n') */
    uint64_t release; /* streams: bytes from the stream's start that may be
                         delivered now (0 for check) */
} filterd_result;

/* Flags of filterd_client_check(). */
#define FILTERD_CHECK_EXPLAIN 0x1 /* also list allow and suppressed matches */

typedef struct filterd_client filterd_client;

/*
 * Write the default socket path (SPEC §1: $FILTERD_SOCKET, else
 * /run/filterd/filterd.sock as root, else ${XDG_RUNTIME_DIR:-/tmp}/filterd.sock)
 * into BUF. Returns 0 or FILTERD_EINVAL if it does not fit.
 */
int filterd_default_socket(char *buf, size_t len);

/*
 * Connect to the daemon at PATH (NULL: the default socket). On success
 * *OUT is a new client, to be released with filterd_client_close().
 * Returns 0, FILTERD_ECONNECT, FILTERD_EINVAL or FILTERD_ENOMEM.
 */
int filterd_client_connect(const char *path, filterd_client **out);

/* Close the connection and free the client (NULL is a no-op). */
void filterd_client_close(filterd_client *c);

/* Give up waiting for an answer after MS milliseconds (0 = wait forever,
 * the default). A timed-out client must be closed. */
void filterd_client_set_timeout(filterd_client *c, int ms);

/*
 * Check TEXT (LEN bytes of UTF-8). META is NULL or the text of a JSON
 * object attached to the audit record. FLAGS: FILTERD_CHECK_EXPLAIN.
 * Fills *RES, which the caller releases with filterd_result_free() whatever
 * the return value (it is zeroed on entry).
 */
int filterd_client_check(filterd_client *c, const char *text, size_t len, const char *meta,
                         int flags, filterd_result *res);

void filterd_result_free(filterd_result *res);

/* Round trip with the `ping` op. */
int filterd_client_ping(filterd_client *c);

/* The `version` and `stats` replies as JSON text (malloc'd; the caller
 * frees with free()). */
int filterd_client_version(filterd_client *c, char **json);
int filterd_client_stats(filterd_client *c, char **json);

/* Ask the daemon to reload its rules (`reload` op; root, the daemon's uid
 * and --admin-uid only). On FILTERD_ESERVER with code "bad_rules" the
 * message lists the errors as FILE:LINE: message lines. */
int filterd_client_reload(filterd_client *c, char **json);

/*
 * Streams: one text checked while it is produced (e.g. a model's answer),
 * chunk by chunk, on this client's connection (docs/protocol.md, "Streams").
 *
 *     filterd_client_stream_open(c, "s1", NULL);
 *     for each piece of the answer:
 *         filterd_client_stream_chunk(c, "s1", piece, n, &r);
 *         deliver the answer's bytes [delivered, r.release), then
 *         delivered = r.release; stop if r.decision == FILTERD_BLOCK;
 *         filterd_result_free(&r);
 *     filterd_client_stream_close(c, "s1", &r);   (deliver up to r.release)
 *
 * STREAM is the stream's id (1 to 256 bytes, unique among the streams open
 * on this connection); a stream lives on the connection it was opened on
 * and ends with it. The daemon answers errors with FILTERD_ESERVER and
 * filterd_client_error_code(): "unknown_stream" (never opened, closed, or
 * ended by the daemon's --stream-timeout), "stream_exists",
 * "stream_blocked" (a chunk after a block), "too_many_streams"
 * (--max-streams), "bad_utf8", "bad_request", "too_large".
 */

/* Open stream STREAM. META: NULL or the text of a JSON object for the
 * audit record. Returns 0 or a FILTERD_E* code. */
int filterd_client_stream_open(filterd_client *c, const char *stream, const char *meta);

/*
 * Send the next LEN bytes of the stream's text. A chunk must end on a
 * UTF-8 character boundary (the protocol is JSON): cut with
 * filterd_utf8_boundary(). Fills *RES (zeroed on entry; release it with
 * filterd_result_free() whatever the return value): the decision over the
 * stream so far, the matches found with this chunk (spans are byte offsets
 * from the stream's start), and `release`. After a block the stream takes
 * no more chunks; close it.
 */
int filterd_client_stream_chunk(filterd_client *c, const char *stream, const char *text, size_t len,
                                filterd_result *res);

/*
 * End the stream's text and free it in the daemon: *RES gets the final
 * decision of the whole stream, the last matches, and `release` (the whole
 * length unless blocked). As filterd_client_stream_chunk for *RES.
 */
int filterd_client_stream_close(filterd_client *c, const char *stream, filterd_result *res);

/* The longest prefix of TEXT[0, LEN) that ends on a UTF-8 character
 * boundary (LEN itself when TEXT does not end inside a character). Only
 * the last character is looked at: validity is the daemon's business. */
size_t filterd_utf8_boundary(const char *text, size_t len);

/*
 * Send one request REQUEST_JSON (a JSON object, no newline) and return the
 * response line in *RESPONSE (malloc'd, no '\n'; the caller frees). The
 * library sets no id. An error response is not an error of this function:
 * it returns 0 and the response.
 */
int filterd_client_request(filterd_client *c, const char *request_json, char **response);

const char *filterd_client_strerror(int err);

/* The daemon's error `code` and `message` after FILTERD_ESERVER, else "". */
const char *filterd_client_error_code(const filterd_client *c);
const char *filterd_client_error_message(const filterd_client *c);

/* The file descriptor of the connection (e.g. for poll). */
int filterd_client_fd(const filterd_client *c);

#ifdef __cplusplus
}
#endif

#endif
