/*
 * stream_audit.c — streams' audit records: the stream code's view of a
 * finished stream (stream_audit.h) handed to the audit log (audit.h),
 * which writes it like a check's record plus "stream" and "end".
 */
#include "stream_audit.h"

#include "audit.h"

int fd_stream_audit(fd_worker *w, const fd_stream_audit_input *in)
{
    fd_audit_stream_input ai = {
        .id_json = in->id_json,
        .id_len = in->id_len,
        .stream = in->stream,
        .stream_len = in->stream_len,
        .end = in->end,
        .decision = in->decision,
        .matches = in->matches,
        .nmatches = in->nmatches,
        .dropped = in->dropped,
        .excerpts = in->excerpts,
        .exoff = in->exoff,
        .rs = in->rs,
        .sha256 = in->sha256,
        .bytes = in->bytes,
        .text = NULL, /* the daemon never keeps a stream's text */
        .len = 0,
        .meta = in->meta,
        .peer = in->peer,
        .us = in->us,
        .conn = in->conn,
        .resp_off = in->resp_off,
    };
    return fd_audit_stream(w, &ai);
}
