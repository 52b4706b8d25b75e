/*
 * notify.h — the sd_notify protocol, without libsystemd: one datagram to
 * the socket named by $NOTIFY_SOCKET, so that a `Type=notify` unit knows
 * when filterd is ready (rules loaded, socket listening), reloading or
 * stopping. Without $NOTIFY_SOCKET every call does nothing.
 */
#ifndef FD_NOTIFY_H
#define FD_NOTIFY_H

/* Send STATE ("READY=1", "STOPPING=1", "RELOADING=1", "STATUS=…", several
 * separated by '\n'). Returns 0, or a negative errno value. */
int fd_notify(const char *state);

#endif
