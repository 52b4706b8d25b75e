/*
 * server.h — run the daemon: the listening socket, the worker threads
 * (one libuv loop each), signals, reloads and the graceful stop.
 */
#ifndef FD_SERVER_H
#define FD_SERVER_H

#include "config.h"
#include "ruleset.h"

/*
 * Serve CFG with the rule set RS until SIGTERM/SIGINT. Takes over the
 * caller's reference to RS. Logs "ready: …" once the socket accepts
 * connections. Returns the process exit status: 0 after a graceful stop,
 * 1 if the daemon could not start (socket in use, bind failure, …).
 */
int fd_server_run(const fd_config *cfg, fd_ruleset *rs);

/*
 * The checks of fd_server_run() that need no socket (for --check): the
 * socket path fits a sockaddr_un and --socket-group names a group. Prints
 * each problem to stderr; returns 0 or -1.
 */
int fd_server_check_config(const fd_config *cfg);

#endif
