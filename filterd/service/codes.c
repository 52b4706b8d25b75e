/*
 * codes.c — see codes.h.
 */
#include "codes.h"

const char *const fd_svc_api_names[FD_API_COUNT] = {
    "ndjson", "http", "openai", "azure", "litellm", "aliyun", "portkey", "proxy",
};

const char *const fd_svc_op_names[FD_OP_COUNT] = {
    "check", "ping", "version", "stats", "reload", "open", "chunk", "close",
};

/* SPEC §2 codes and their descriptions, by -(code) - 100. */
static const struct {
    const char *name;
    const char *text;
} errs[FD_SVC_NERR] = {
    {"none", "no error"},
    {"bad_json", "request is not valid JSON"},
    {"bad_request", "bad request"},
    {"bad_utf8", "not valid UTF-8"},
    {"too_large", "too large"},
    {"unknown_op", "unknown op"},
    {"unknown_stream", "no open stream with this id"},
    {"stream_exists", "a stream with this id is already open"},
    {"stream_blocked", "the stream was blocked"},
    {"too_many_streams", "too many open streams"},
    {"forbidden", "not allowed for this peer"},
    {"busy", "busy"},
    {"bad_rules", "the rule set has errors"},
    {"audit_failed", "the audit record could not be written; no decision is given"},
    {"internal", "internal error"},
};

const char *fd_svc_api_name(int api)
{
    return api >= 0 && api < FD_API_COUNT ? fd_svc_api_names[api] : "?";
}

const char *fd_svc_op_name(int op)
{
    return op >= 0 && op < FD_OP_COUNT ? fd_svc_op_names[op] : "?";
}

int fd_svc_code_index(int err)
{
    if (err <= FD_SVC_EBASE - 1 && err > FD_SVC_EBASE - FD_SVC_NERR)
        return FD_SVC_EBASE - err;
    if (err == FD_EUTF8)
        return FD_SVC_EBASE - FD_SVC_EBAD_UTF8;
    if (err == FD_ETOOBIG)
        return FD_SVC_EBASE - FD_SVC_ETOO_LARGE;
    return FD_SVC_EBASE - FD_SVC_EINTERNAL;
}

const char *fd_svc_code_name(int err)
{
    return errs[fd_svc_code_index(err)].name;
}

const char *fd_svc_strerror(int err)
{
    if (err > FD_SVC_EBASE)
        return fd_strerror(err);
    return errs[fd_svc_code_index(err)].text;
}
