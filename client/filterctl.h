/*
 * filterctl.h — shared pieces of filterctl's subcommands.
 *
 * Exit statuses (SPEC §1): 0 allow, 1 flag, 2 block (for `check` and `stream`; 0 = ok
 * otherwise), 64 usage error, 69 daemon unreachable, 70 any other error.
 */
#ifndef FILTERCTL_H
#define FILTERCTL_H

#include <stdbool.h>
#include <stdio.h>

#include "filterd/client.h"

#define EXIT_USAGE       64
#define EXIT_UNAVAILABLE 69
#define EXIT_SOFTWARE    70

/* The command line after the global options are taken out. */
typedef struct fctl_args {
    const char *socket; /* --socket, or NULL for the default */
    bool json;          /* --json */
    bool explain;       /* --explain */
    int timeout_ms;     /* --timeout SEC */
    size_t chunk;       /* stream: --chunk BYTES (0: the default) */
    const char *cmd;    /* the subcommand */
    char **pos;         /* its positional arguments */
    int npos;
} fctl_args;

/* Connect as ARGS say; on failure print why and return NULL with *STATUS
 * set to the exit status to use. */
filterd_client *fctl_connect(const fctl_args *args, int *status);

/* Print a library error (with the daemon's code and message, if any) and
 * return the matching exit status. */
int fctl_fail(filterd_client *c, const char *what, int err);

int fctl_cmd_check(const fctl_args *args);
int fctl_cmd_ping(const fctl_args *args);
int fctl_cmd_version(const fctl_args *args);
int fctl_cmd_stats(const fctl_args *args);
int fctl_cmd_reload(const fctl_args *args);
int fctl_cmd_stream(const fctl_args *args);

/* cmd_rules.c: `filterctl rules ACTION DIR`; argv[0] is "rules". */
int filterctl_rules_main(int argc, char **argv);

/* cmd_audit.c: `filterctl audit verify|stats FILE...`; argv[0] is "audit". */
int filterctl_audit_main(int argc, char **argv);

#endif
