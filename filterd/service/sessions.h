/*
 * sessions.h — the daemon-wide session table behind fd_svc_session_check()
 * (service.h), internal to the service.
 *
 * Ownership: fd_service owns the table (fd_svc_sessions_new at init,
 * fd_svc_sessions_free at fini, after every thread has stopped).
 */
#ifndef FD_SVC_SESSIONS_H
#define FD_SVC_SESSIONS_H

#include "service.h"

struct fd_svc_sessions *fd_svc_sessions_new(void);
void fd_svc_sessions_free(struct fd_svc_sessions *s);

#endif
