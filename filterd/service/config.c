/*
 * config.c — flags, the --config file and defaults (see config.h).
 *
 * One table of settings drives both sources: set_option() is the only
 * place that knows how to interpret a value, so a flag and its config-file
 * line always mean the same thing.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filterd/client.h"

#ifndef FILTERD_VERSION
#define FILTERD_VERSION "0.0.0"
#endif
#ifndef FILTERD_SOURCE_RULES
#define FILTERD_SOURCE_RULES "rules"
#endif
#ifndef FILTERD_INSTALL_RULES
#define FILTERD_INSTALL_RULES "/usr/local/share/filterd/rules"
#endif

enum {
    OPT_RULES = 256,
    OPT_SOCKET,
    OPT_SOCKET_MODE,
    OPT_SOCKET_GROUP,
    OPT_AUDIT,
    OPT_AUDIT_LEVEL,
    OPT_AUDIT_TEXT,
    OPT_AUDIT_FSYNC,
    OPT_THREADS,
    OPT_MAX_REQUEST,
    OPT_MAX_CONNECTIONS,
    OPT_MAX_STREAMS,
    OPT_IDLE_TIMEOUT,
    OPT_STREAM_TIMEOUT,
    OPT_ADMIN_UID,
    OPT_WATCH,
    OPT_CACHE_DIR,
    OPT_CHECK,
    OPT_LOG_LEVEL,
    OPT_HTTP,
    OPT_HTTP_TOKEN,
    OPT_ADMIN_TOKEN,
    OPT_FOREGROUND = 'f',
    OPT_CONFIG = 'c',
    OPT_HELP = 'h',
    OPT_VERSION = 'V',
};

static const struct option long_opts[] = {
    {"config", required_argument, NULL, OPT_CONFIG},
    {"rules", required_argument, NULL, OPT_RULES},
    {"socket", required_argument, NULL, OPT_SOCKET},
    {"socket-mode", required_argument, NULL, OPT_SOCKET_MODE},
    {"socket-group", required_argument, NULL, OPT_SOCKET_GROUP},
    {"audit", required_argument, NULL, OPT_AUDIT},
    {"audit-level", required_argument, NULL, OPT_AUDIT_LEVEL},
    {"audit-text", required_argument, NULL, OPT_AUDIT_TEXT},
    {"audit-fsync", required_argument, NULL, OPT_AUDIT_FSYNC},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"max-request", required_argument, NULL, OPT_MAX_REQUEST},
    {"max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS},
    {"max-streams", required_argument, NULL, OPT_MAX_STREAMS},
    {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
    {"stream-timeout", required_argument, NULL, OPT_STREAM_TIMEOUT},
    {"admin-uid", required_argument, NULL, OPT_ADMIN_UID},
    {"watch", no_argument, NULL, OPT_WATCH},
    {"cache-dir", required_argument, NULL, OPT_CACHE_DIR},
    {"check", no_argument, NULL, OPT_CHECK},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"http", required_argument, NULL, OPT_HTTP},
    {"http-token", required_argument, NULL, OPT_HTTP_TOKEN},
    {"admin-token", required_argument, NULL, OPT_ADMIN_TOKEN},
    {"foreground", no_argument, NULL, OPT_FOREGROUND},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

void fd_config_usage(FILE *out)
{
    fprintf(out,
            "usage: filterd [OPTIONS]\n"
            "\n"
            "Content-safety filter daemon: answers newline-delimited JSON requests on a\n"
            "Unix stream socket (see docs/protocol.md).\n"
            "\n"
            "  -c, --config FILE         read \"name = value\" lines (any option below);\n"
            "                            command-line flags override the file\n"
            "      --rules DIR           rule directory (default: $FILTERD_RULES, else\n"
            "                            %s, else %s)\n"
            "      --socket PATH         listening socket (default: $FILTERD_SOCKET, else\n"
            "                            /run/filterd/filterd.sock as root, else\n"
            "                            ${XDG_RUNTIME_DIR:-/tmp}/filterd.sock)\n"
            "      --socket-mode OCTAL   socket permissions (default 0660)\n"
            "      --socket-group NAME|GID  socket group\n"
            "      --audit PATH          audit log (- = stdout)\n"
            "      --audit-level block|flag|all   (default flag)\n"
            "      --audit-text none|match|full   (default match)\n"
            "      --audit-fsync always|interval|never   (default interval)\n"
            "      --threads N           worker threads (default: number of CPUs)\n"
            "      --max-request BYTES   longest request line (default 1M; K/M/G suffixes)\n"
            "      --max-connections N   (default 1024; more are answered \"busy\" and closed)\n"
            "      --max-streams N       streams per connection (default 64)\n"
            "      --idle-timeout SEC    close connections idle this long (default 60, 0 = never)\n"
            "      --stream-timeout SEC  end streams with no chunk for this long (default 300,\n"
            "                            0 = never); later use gets \"unknown_stream\"\n"
            "      --admin-uid UID[,UID] peers allowed to use control ops (besides root and\n"
            "                            the daemon's own uid)\n"
            "      --watch               reload when a rule file changes\n"
            "      --cache-dir DIR       compiled-database cache\n"
            "      --check               load and compile the rules and config, print a\n"
            "                            summary and exit (0 = ok, 1 = errors)\n"
            "      --log-level LEVEL     debug|info|warn|error (default info)\n"
            "      --http HOST:PORT      also serve HTTP on TCP (repeatable; [::1]:PORT for\n"
            "                            IPv6; loopback only without --http-token). The\n"
            "                            socket speaks HTTP too (see docs/http.md)\n"
            "      --http-token FILE     TCP requests must carry this token (Authorization:\n"
            "                            Bearer, api-key or Ocp-Apim-Subscription-Key)\n"
            "      --admin-token FILE    the token that allows reload over TCP\n"
            "  -f, --foreground          accepted for compatibility: filterd always runs in\n"
            "                            the foreground and logs to stderr\n"
            "  -V, --version             print the version and exit\n"
            "  -h, --help                print this help and exit\n"
            "\n"
            "Signals: SIGTERM/SIGINT stop gracefully, SIGHUP reloads the rules,\n"
            "SIGUSR1 reopens the audit log.\n"
            "Exit status: 0 ok, 1 configuration or rule errors / cannot start, 64 usage.\n",
            FILTERD_INSTALL_RULES, FILTERD_SOURCE_RULES);
}

void fd_config_init(fd_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->socket_mode = 0660;
    cfg->audit_level = FD_AUDIT_FLAG;
    cfg->audit_text = FD_AUDIT_TEXT_MATCH;
    cfg->audit_fsync = FD_FSYNC_INTERVAL;
    cfg->max_request = 1024 * 1024;
    cfg->max_connections = 1024;
    cfg->max_streams = 64;
    cfg->idle_timeout = 60;
    cfg->stream_timeout = 300;
    cfg->log_level = FD_LOG_INFO;
}

void fd_config_free(fd_config *cfg)
{
    free(cfg->config_file);
    free(cfg->rules_dir);
    free(cfg->socket_path);
    free(cfg->socket_group);
    free(cfg->audit_path);
    free(cfg->cache_dir);
    for (size_t i = 0; i < cfg->n_http; i++)
        free(cfg->http[i]);
    free(cfg->http_token_file);
    free(cfg->admin_token_file);
    if (cfg->http_token)
        explicit_bzero(cfg->http_token, cfg->http_token_len);
    if (cfg->admin_token)
        explicit_bzero(cfg->admin_token, cfg->admin_token_len);
    free(cfg->http_token);
    free(cfg->admin_token);
    memset(cfg, 0, sizeof(*cfg));
}

int fd_config_is_admin(const fd_config *cfg, uid_t uid)
{
    if (uid == 0 || uid == geteuid())
        return 1;
    for (size_t i = 0; i < cfg->n_admin_uids; i++)
        if (cfg->admin_uids[i] == uid)
            return 1;
    return 0;
}

/* One definition of the default for the daemon and every client: the
 * client library's (include/filterd/client.h). */
char *fd_config_default_socket(char *buf, size_t len)
{
    return filterd_default_socket(buf, len) == 0 ? buf : NULL;
}

/* ---- value parsers: 0 on success, -1 with a message in err ---------------- */

static int parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
    if (!*s || !isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

/* BYTES with an optional K, M or G suffix (powers of 1024). */
static int parse_size(const char *s, size_t *out)
{
    if (!*s || !isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return -1;
    unsigned shift = 0;
    if (*end == 'K' || *end == 'k')
        shift = 10;
    else if (*end == 'M' || *end == 'm')
        shift = 20;
    else if (*end == 'G' || *end == 'g')
        shift = 30;
    if (shift) {
        end++;
        if (*end == 'i' && end[1] == 'B')
            end += 2;
        else if (*end == 'B')
            end++;
    }
    if (*end || v == 0 || v > (UINT32_MAX >> shift))
        return -1;
    *out = (size_t)(v << shift);
    return 0;
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

static int parse_enum(const char *s, const char *const *names, int n, int *out)
{
    for (int i = 0; i < n; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return 0;
        }
    }
    return -1;
}

static int parse_admin_uids(fd_config *cfg, const char *s, char *err, size_t errlen)
{
    char *copy = strdup(s);
    if (!copy) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    cfg->n_admin_uids = 0;
    int rc = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        unsigned long long v;
        uid_t uid;
        if (parse_uint(tok, UINT32_MAX - 1, &v) == 0) {
            uid = (uid_t)v;
        } else {
            struct passwd *pw = getpwnam(tok);
            if (!pw) {
                snprintf(err, errlen, "admin-uid: unknown user '%s'", tok);
                rc = -1;
                break;
            }
            uid = pw->pw_uid;
        }
        if (cfg->n_admin_uids == FD_MAX_ADMIN_UIDS) {
            snprintf(err, errlen, "admin-uid: at most %d uids", FD_MAX_ADMIN_UIDS);
            rc = -1;
            break;
        }
        cfg->admin_uids[cfg->n_admin_uids++] = uid;
    }
    free(copy);
    return rc;
}

static int set_string(char **dst, const char *value, char *err, size_t errlen)
{
    char *s = strdup(value);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    free(*dst);
    *dst = s;
    return 0;
}

/*
 * Apply option OPT (an OPT_* code) with VALUE (NULL for a boolean flag given
 * on the command line, meaning "true"). Returns 0, or -1 with a message in
 * ERR naming the option.
 */
static int set_option(fd_config *cfg, int opt, const char *name, const char *value, char *err,
                      size_t errlen)
{
    static const char *const levels[] = {"block", "flag", "all"};
    static const char *const texts[] = {"none", "match", "full"};
    static const char *const fsyncs[] = {"always", "interval", "never"};
    unsigned long long u;
    int e;
    bool b = true;

    switch (opt) {
    case OPT_WATCH:
    case OPT_CHECK:
    case OPT_FOREGROUND:
    case OPT_HELP:
    case OPT_VERSION:
        if (value && parse_bool(value, &b) != 0)
            goto bad;
        if (opt == OPT_WATCH)
            cfg->watch = b;
        else if (opt == OPT_CHECK)
            cfg->check = b;
        else if (opt == OPT_FOREGROUND)
            cfg->foreground = b;
        else if (opt == OPT_HELP)
            cfg->help = b;
        else
            cfg->version = b;
        return 0;
    case OPT_CONFIG:
        return set_string(&cfg->config_file, value, err, errlen);
    case OPT_RULES:
        return set_string(&cfg->rules_dir, value, err, errlen);
    case OPT_SOCKET:
        if (!*value)
            goto bad;
        return set_string(&cfg->socket_path, value, err, errlen);
    case OPT_SOCKET_MODE: {
        char *end;
        errno = 0;
        unsigned long m = strtoul(value, &end, 8);
        if (!*value || *end || errno || m > 07777)
            goto bad;
        cfg->socket_mode = (unsigned)m;
        return 0;
    }
    case OPT_SOCKET_GROUP:
        if (!*value)
            goto bad;
        return set_string(&cfg->socket_group, value, err, errlen);
    case OPT_AUDIT:
        if (!*value)
            goto bad;
        return set_string(&cfg->audit_path, value, err, errlen);
    case OPT_AUDIT_LEVEL:
        if (parse_enum(value, levels, 3, &e) != 0)
            goto bad;
        cfg->audit_level = (fd_audit_level)e;
        return 0;
    case OPT_AUDIT_TEXT:
        if (parse_enum(value, texts, 3, &e) != 0)
            goto bad;
        cfg->audit_text = (fd_audit_text)e;
        return 0;
    case OPT_AUDIT_FSYNC:
        if (parse_enum(value, fsyncs, 3, &e) != 0)
            goto bad;
        cfg->audit_fsync = (fd_cfg_audit_fsync)e;
        return 0;
    case OPT_THREADS:
        if (parse_uint(value, 256, &u) != 0 || u == 0)
            goto bad;
        cfg->threads = (unsigned)u;
        return 0;
    case OPT_MAX_REQUEST:
        if (parse_size(value, &cfg->max_request) != 0)
            goto bad;
        return 0;
    case OPT_MAX_CONNECTIONS:
        if (parse_uint(value, 1000000, &u) != 0 || u == 0)
            goto bad;
        cfg->max_connections = (unsigned)u;
        return 0;
    case OPT_MAX_STREAMS:
        if (parse_uint(value, 1000000, &u) != 0)
            goto bad;
        cfg->max_streams = (unsigned)u;
        return 0;
    case OPT_IDLE_TIMEOUT:
        if (parse_uint(value, 86400 * 365, &u) != 0)
            goto bad;
        cfg->idle_timeout = (unsigned)u;
        return 0;
    case OPT_STREAM_TIMEOUT:
        if (parse_uint(value, 86400 * 365, &u) != 0)
            goto bad;
        cfg->stream_timeout = (unsigned)u;
        return 0;
    case OPT_ADMIN_UID:
        return parse_admin_uids(cfg, value, err, errlen);
    case OPT_CACHE_DIR:
        return set_string(&cfg->cache_dir, value, err, errlen);
    case OPT_HTTP:
        if (cfg->n_http == FD_MAX_HTTP) {
            snprintf(err, errlen, "%s: at most %d listeners", name, FD_MAX_HTTP);
            return -1;
        }
        if (!*value || !strrchr(value, ':')) {
            snprintf(err, errlen, "%s: '%s' is not HOST:PORT", name, value);
            return -1;
        }
        cfg->http[cfg->n_http] = NULL;
        if (set_string(&cfg->http[cfg->n_http], value, err, errlen) != 0)
            return -1;
        cfg->n_http++;
        return 0;
    case OPT_HTTP_TOKEN:
        return set_string(&cfg->http_token_file, value, err, errlen);
    case OPT_ADMIN_TOKEN:
        return set_string(&cfg->admin_token_file, value, err, errlen);
    case OPT_LOG_LEVEL:
        if (fd_log_parse_level(value, &cfg->log_level) != 0)
            goto bad;
        return 0;
    default:
        snprintf(err, errlen, "unknown option '%s'", name);
        return -1;
    }
bad:
    snprintf(err, errlen, "invalid value '%s' for %s", value ? value : "", name);
    return -1;
}

static const struct option *find_option(const char *name)
{
    for (const struct option *o = long_opts; o->name; o++)
        if (strcmp(o->name, name) == 0)
            return o;
    return NULL;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/*
 * Read "name = value" lines from PATH into CFG. '#' starts a comment line;
 * a value may be quoted with "…". Reports every bad line as
 * "FILE:LINE: message" on stderr. Returns 0 or -1.
 */
static int load_file(fd_config *cfg, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    unsigned lineno = 0;
    int rc = 0;
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            fprintf(stderr, "%s:%u: expected 'name = value'\n", path, lineno);
            rc = -1;
            continue;
        }
        *eq = '\0';
        char *name = trim(s);
        char *value = trim(eq + 1);
        size_t vl = strlen(value);
        if (vl >= 2 && value[0] == '"' && value[vl - 1] == '"') {
            value[vl - 1] = '\0';
            value++;
        }
        const struct option *o = find_option(name);
        if (!o || o->val == OPT_CONFIG || o->val == OPT_HELP || o->val == OPT_VERSION) {
            fprintf(stderr, "%s:%u: unknown setting '%s'\n", path, lineno, name);
            rc = -1;
            continue;
        }
        char err[256];
        if (set_option(cfg, o->val, name, value, err, sizeof(err)) != 0) {
            fprintf(stderr, "%s:%u: %s\n", path, lineno, err);
            rc = -1;
        }
    }
    free(line);
    fclose(f);
    return rc;
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/*
 * Read a token from PATH into *TOK: the file's first line, without
 * surrounding white space; 1 to 4096 printable ASCII characters. 0, or -1
 * after printing why.
 */
static int load_token(const char *flag, const char *path, char **tok, size_t *len)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "filterd: %s %s: %s\n", flag, path, strerror(errno));
        return -1;
    }
    char buf[4100];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *s = buf, *e;
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    e = s + strcspn(s, "\r\n");
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    size_t l = (size_t)(e - s);
    for (size_t i = 0; i < l; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            l = 0;
    if (l == 0 || n == sizeof buf - 1) {
        explicit_bzero(buf, sizeof buf);
        fprintf(stderr,
                "filterd: %s %s: the file must hold one token of 1 to 4096 printable "
                "characters (no spaces)\n",
                flag, path);
        return -1;
    }
    *tok = strndup(s, l);
    explicit_bzero(buf, sizeof buf);
    if (!*tok) {
        fprintf(stderr, "filterd: out of memory\n");
        return -1;
    }
    *len = l;
    return 0;
}

/* Fill in the defaults that depend on the environment (SPEC §1). */
static int resolve_defaults(fd_config *cfg)
{
    char err[256];
    if (!cfg->socket_path) {
        char buf[PATH_MAX];
        if (!fd_config_default_socket(buf, sizeof(buf)) ||
            set_string(&cfg->socket_path, buf, err, sizeof(err)) != 0)
            return -1;
    }
    if (!cfg->rules_dir) {
        const char *env = getenv("FILTERD_RULES");
        const char *dir;
        if (env && *env)
            dir = env;
        else if (is_dir(FILTERD_INSTALL_RULES))
            dir = FILTERD_INSTALL_RULES;
        else if (is_dir(FILTERD_SOURCE_RULES))
            dir = FILTERD_SOURCE_RULES;
        else
            dir = FILTERD_INSTALL_RULES; /* so the error names where we looked */
        if (set_string(&cfg->rules_dir, dir, err, sizeof(err)) != 0)
            return -1;
    }
    if (!cfg->threads) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        cfg->threads = n > 0 ? (unsigned)(n > 256 ? 256 : n) : 1;
    }
    return 0;
}

int fd_config_parse(fd_config *cfg, int argc, char **argv)
{
    /* Pass 1: find --config, so the file can be read before the flags that
     * override it are applied. getopt_long is not used here because it
     * would complain about flags twice. */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0)
            break;
        const char *v = NULL;
        if ((strcmp(a, "--config") == 0 || strcmp(a, "-c") == 0) && i + 1 < argc)
            v = argv[i + 1];
        else if (strncmp(a, "--config=", 9) == 0)
            v = a + 9;
        if (v) {
            char err[256];
            if (set_string(&cfg->config_file, v, err, sizeof(err)) != 0)
                return 1;
        }
    }
    if (cfg->config_file && load_file(cfg, cfg->config_file) != 0)
        return 1;

    /* Pass 2: the command line, overriding the file. */
    optind = 0; /* GNU: full re-initialisation */
    opterr = 0;
    int opt, li = -1;
    while ((opt = getopt_long(argc, argv, ":c:fhV", long_opts, &li)) != -1) {
        if (opt == '?') {
            if (optopt)
                fprintf(stderr, "filterd: unknown option '-%c'\n", optopt);
            else
                fprintf(stderr, "filterd: unknown option '%s'\n", argv[optind - 1]);
            fprintf(stderr, "Try 'filterd --help'.\n");
            return 64;
        }
        if (opt == ':') {
            fprintf(stderr, "filterd: option '%s' needs a value\n", argv[optind - 1]);
            return 64;
        }
        if (opt == OPT_CONFIG)
            continue; /* already read */
        char err[256], name[64];
        if (li >= 0)
            snprintf(name, sizeof(name), "--%s", long_opts[li].name);
        else
            snprintf(name, sizeof(name), "-%c", opt);
        li = -1;
        if (set_option(cfg, opt, name, optarg, err, sizeof(err)) != 0) {
            fprintf(stderr, "filterd: %s\n", err);
            return 64;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "filterd: unexpected argument '%s'\n", argv[optind]);
        return 64;
    }
    if (resolve_defaults(cfg) != 0) {
        fprintf(stderr, "filterd: out of memory\n");
        return 1;
    }
    if (cfg->http_token_file &&
        load_token("--http-token", cfg->http_token_file, &cfg->http_token, &cfg->http_token_len))
        return 1;
    if (cfg->admin_token_file && load_token("--admin-token", cfg->admin_token_file,
                                            &cfg->admin_token, &cfg->admin_token_len))
        return 1;
    return 0;
}
