/*
 * config.h — filterd's settings: command-line flags, the --config file and
 * the defaults of SPEC §1.
 *
 * Every long flag NAME can also be written as "NAME = value" in the file
 * given by --config (booleans: "yes|no|true|false|on|off|1|0"); flags on the
 * command line override the file. fd_config_parse() does both and then
 * resolves the defaults that depend on the environment (socket path, rule
 * directory, thread count).
 *
 * Ownership: the fd_config owns every string in it; fd_config_free()
 * releases them. The struct itself belongs to the caller.
 */
#ifndef FD_CONFIG_H
#define FD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "log.h"

typedef enum fd_audit_level { FD_AUDIT_BLOCK, FD_AUDIT_FLAG, FD_AUDIT_ALL } fd_audit_level;
typedef enum fd_audit_text {
    FD_AUDIT_TEXT_NONE,
    FD_AUDIT_TEXT_MATCH,
    FD_AUDIT_TEXT_FULL
} fd_audit_text;
/* Named apart from the engine's fd_audit_fsync (auditlog.h), which audit.c
 * includes together with this header. */
typedef enum fd_cfg_audit_fsync {
    FD_FSYNC_ALWAYS,
    FD_FSYNC_INTERVAL,
    FD_FSYNC_NEVER
} fd_cfg_audit_fsync;

#define FD_MAX_ADMIN_UIDS 32
#define FD_MAX_HTTP       16

typedef struct fd_config {
    char *config_file; /* --config, or NULL */
    char *rules_dir;   /* resolved: never NULL after fd_config_parse() */
    char *socket_path; /* resolved: never NULL after fd_config_parse() */
    unsigned socket_mode;
    char *socket_group; /* name or numeric gid as given, or NULL */
    char *audit_path;   /* NULL: no audit log */
    fd_audit_level audit_level;
    fd_audit_text audit_text;
    fd_cfg_audit_fsync audit_fsync;
    unsigned threads; /* resolved: the number of CPUs unless given */
    size_t max_request;
    unsigned max_connections;
    unsigned max_streams;
    unsigned idle_timeout;   /* seconds; 0 = none */
    unsigned stream_timeout; /* seconds without a chunk before a stream ends; 0 = none */
    uid_t admin_uids[FD_MAX_ADMIN_UIDS];
    size_t n_admin_uids;
    bool watch;
    char *cache_dir;
    bool check;
    bool foreground;
    bool version;
    bool help;
    fd_log_level log_level;
    /* HTTP (SPEC §5): TCP listeners "HOST:PORT" / "[V6]:PORT" (repeatable;
     * the config file's and the command line's add up), and the tokens read
     * from --http-token / --admin-token files (NULL: none). */
    char *http[FD_MAX_HTTP];
    size_t n_http;
    char *http_token_file, *admin_token_file;
    char *http_token, *admin_token;
    size_t http_token_len, admin_token_len;
} fd_config;

/* Defaults of SPEC §1 (environment not consulted yet). */
void fd_config_init(fd_config *cfg);
void fd_config_free(fd_config *cfg);

/*
 * Parse ARGV (and the --config file it names) into CFG, then resolve the
 * environment-dependent defaults. Returns 0 on success; on a usage error
 * (unknown flag, bad value on the command line) prints a message to stderr
 * and returns 64 (EX_USAGE); on an error in the config file prints
 * "FILE:LINE: message" lines to stderr and returns 1.
 */
int fd_config_parse(fd_config *cfg, int argc, char **argv);

/* The --help text. */
void fd_config_usage(FILE *out);

/* 1 if UID may use control ops: root, the daemon's own uid, --admin-uid. */
int fd_config_is_admin(const fd_config *cfg, uid_t uid);

/* The default socket path of SPEC §1, written into BUF (returns BUF, or NULL
 * if it does not fit). Shared logic with the client library. */
char *fd_config_default_socket(char *buf, size_t len);

#endif
