/*
 * codes.h — the names every layer of the daemon shares: the interfaces
 * (`api` of SPEC §4), the ops (SPEC §2) and the service's error codes.
 *
 * Error convention (the engine's, extended): functions return 0 on
 * success, a negative code on failure, and FD_SVC_PENDING (positive) when
 * the answer comes later through a callback. Engine codes (fd_error.h,
 * -1 .. -99) pass through unchanged; the service adds one code per error
 * of SPEC §2 (-100 and below). fd_svc_strerror() describes any of them,
 * fd_svc_code_name() gives the SPEC §2 `code` a door answers with.
 */
#ifndef FD_SVC_CODES_H
#define FD_SVC_CODES_H

#include "fd_error.h"

/* The interface that asked (SPEC §4 `api`). */
typedef enum fd_svc_api {
    FD_API_NDJSON = 0,
    FD_API_HTTP,
    FD_API_OPENAI,
    FD_API_AZURE,
    FD_API_LITELLM,
    FD_API_ALIYUN,
    FD_API_PORTKEY,
    FD_API_PROXY,
    FD_API_COUNT
} fd_svc_api;

/* Ops: the rows of the per-api request counters. */
typedef enum fd_svc_op {
    FD_OP_CHECK = 0,
    FD_OP_PING,
    FD_OP_VERSION,
    FD_OP_STATS,
    FD_OP_RELOAD,
    FD_OP_OPEN,
    FD_OP_CHUNK,
    FD_OP_CLOSE,
    FD_OP_COUNT
} fd_svc_op;

/* The answer comes later, through the callback given with the call. */
#define FD_SVC_PENDING 1

/* Errors of SPEC §2, one code each. */
enum {
    FD_SVC_EBASE = -100,
    FD_SVC_EBAD_JSON = -101,
    FD_SVC_EBAD_REQUEST = -102,
    FD_SVC_EBAD_UTF8 = -103,
    FD_SVC_ETOO_LARGE = -104,
    FD_SVC_EUNKNOWN_OP = -105,
    FD_SVC_EUNKNOWN_STREAM = -106,
    FD_SVC_ESTREAM_EXISTS = -107,
    FD_SVC_ESTREAM_BLOCKED = -108,
    FD_SVC_ETOO_MANY_STREAMS = -109,
    FD_SVC_EFORBIDDEN = -110,
    FD_SVC_EBUSY = -111,
    FD_SVC_EBAD_RULES = -112,
    FD_SVC_EAUDIT = -113, /* audit_failed: the record could not be written */
    FD_SVC_EINTERNAL = -114,
};
/* Number of distinct SPEC §2 error codes (index 0 is unused). */
#define FD_SVC_NERR 15

const char *fd_svc_api_name(int api);
const char *fd_svc_op_name(int op);
/* All of them, indexed by fd_svc_api / fd_svc_op (for expositions that
 * take name arrays). */
extern const char *const fd_svc_api_names[FD_API_COUNT];
extern const char *const fd_svc_op_names[FD_OP_COUNT];

/* The SPEC §2 code for ERR (a service or an engine code): FD_EUTF8 is
 * bad_utf8, FD_ETOOBIG too_large, any other engine code internal. */
const char *fd_svc_code_name(int err);
/* Index 1 .. FD_SVC_NERR-1 of ERR's SPEC code (for the error counters). */
int fd_svc_code_index(int err);
/* A human-readable description of any code. */
const char *fd_svc_strerror(int err);

#endif
