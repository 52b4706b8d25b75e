/*
 * filterctl.c — the command-line client: option parsing and dispatch.
 *
 * Global options (--socket, --json, --explain, --timeout) are accepted
 * anywhere on the command line, before or after the subcommand, so both
 * `filterctl --socket P check …` and `filterctl check --socket P …` work.
 * Each subcommand lives in its own file (cmd_*.c).
 */
#include <stdlib.h>
#include <string.h>

#include "filterctl.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: filterctl [--socket PATH] COMMAND [ARGS]\n"
            "\n"
            "commands:\n"
            "  check [TEXT|-] [--json] [--explain]\n"
            "                   check TEXT (or stdin); exit 0 allow, 1 flag, 2 block\n"
            "  stream [--chunk BYTES] [--json]\n"
            "                   check stdin as one stream (e.g. a model's answer piped in)\n"
            "                   and write to stdout only the text the daemon releases, as\n"
            "                   soon as it is released; chunks of at most BYTES (default\n"
            "                   64, cut between characters); on block stop and report on\n"
            "                   stderr; exit as check. --json copies responses to stderr\n"
            "  ping             check that the daemon answers\n"
            "  version [--json] daemon, Hyperscan and rule-set versions\n"
            "  stats [--json]   the daemon's counters\n"
            "  reload [--json]  reload the daemon's rules (root, the daemon's user, --admin-uid)\n"
            "  rules check|test DIR, rules lint [--strict] DIR\n"
            "                   check, test or lint a rule directory (no daemon needed;\n"
            "                   see 'filterctl rules --help')\n"
            "  rules import --category ID [--action A] [--rules DIR] [--benign PATH]...\n"
            "               [--benign-max N] LIST|-\n"
            "                   a vendor keyword list as a rule file on stdout, harmful\n"
            "                   keywords dropped, report on stderr (no daemon needed)\n"
            "  audit verify FILE...\n"
            "                   check audit files as one hash chain (no daemon needed)\n"
            "  audit stats FILE... [--since TIME] [--until TIME] [--json] [--rules DIR]\n"
            "                   records per decision, category and rule\n"
            "  audit find FILE... [--id ID] [--sha256 HEX] [--text TEXT] [--since T] [--until T]\n"
            "                   the records of a request or text (JSON lines; plain or .gz)\n"
            "  audit report FILE... [--html OUT] [--json] [--rules DIR] [--since T] [--until T]\n"
            "                   a compliance report (see 'filterctl audit --help')\n"
            "\n"
            "options (before or after the command):\n"
            "  --socket PATH    daemon socket (default: $FILTERD_SOCKET, else\n"
            "                   /run/filterd/filterd.sock as root, else\n"
            "                   ${XDG_RUNTIME_DIR:-/tmp}/filterd.sock)\n"
            "  --json           print the daemon's raw JSON response\n"
            "  --explain        check: also show allow and suppressed matches\n"
            "  --timeout SEC    give up waiting for the daemon (default 60, 0 = never)\n"
            "\n"
            "exit status: 0 ok/allow, 1 flag, 2 block, 64 usage error,\n"
            "69 daemon unreachable, 70 other error\n");
}

static const struct {
    const char *name;
    int (*fn)(const fctl_args *);
} commands[] = {
    {"check", fctl_cmd_check}, {"ping", fctl_cmd_ping},     {"version", fctl_cmd_version},
    {"stats", fctl_cmd_stats}, {"reload", fctl_cmd_reload}, {"stream", fctl_cmd_stream},
};

filterd_client *fctl_connect(const fctl_args *args, int *status)
{
    filterd_client *c;
    int rc = filterd_client_connect(args->socket, &c);
    if (rc != 0) {
        char def[256];
        const char *path = args->socket;
        if (!path)
            path = filterd_default_socket(def, sizeof(def)) == 0 ? def : "(default)";
        fprintf(stderr, "filterctl: %s: %s\n", path, filterd_client_strerror(rc));
        *status = rc == FILTERD_ECONNECT ? EXIT_UNAVAILABLE : EXIT_SOFTWARE;
        return NULL;
    }
    filterd_client_set_timeout(c, args->timeout_ms);
    return c;
}

int fctl_fail(filterd_client *c, const char *what, int err)
{
    if (err == FILTERD_ESERVER)
        fprintf(stderr, "filterctl: %s: %s: %s\n", what, filterd_client_error_code(c),
                filterd_client_error_message(c));
    else
        fprintf(stderr, "filterctl: %s: %s\n", what, filterd_client_strerror(err));
    return err == FILTERD_ECONNECT ? EXIT_UNAVAILABLE : EXIT_SOFTWARE;
}

int main(int argc, char **argv)
{
    /* `rules` needs no daemon and parses its own arguments. */
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] != '-') {
            if (strcmp(argv[i], "rules") == 0)
                return filterctl_rules_main(argc - i, argv + i);
            if (strcmp(argv[i], "audit") == 0)
                return filterctl_audit_main(argc - i, argv + i);
            break;
        }
        if (strcmp(argv[i], "--socket") == 0 || strcmp(argv[i], "--timeout") == 0 ||
            strcmp(argv[i], "--chunk") == 0)
            i++; /* skip the option's value */
    }

    fctl_args args = {.timeout_ms = 60000};
    char **pos = calloc((size_t)argc + 1, sizeof(char *));
    if (!pos)
        return EXIT_SOFTWARE;
    args.pos = pos;
    bool only_pos = false;

    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (only_pos || a[0] != '-' || strcmp(a, "-") == 0) {
            if (!args.cmd)
                args.cmd = a;
            else
                pos[args.npos++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_pos = true;
        } else if (strcmp(a, "--socket") == 0 || strncmp(a, "--socket=", 9) == 0) {
            if (a[8] == '=') {
                args.socket = a + 9;
            } else if (i + 1 < argc) {
                args.socket = argv[++i];
            } else {
                fprintf(stderr, "filterctl: --socket needs a path\n");
                free(pos);
                return EXIT_USAGE;
            }
        } else if (strcmp(a, "--timeout") == 0 && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 0 || v > 86400) {
                fprintf(stderr, "filterctl: bad --timeout '%s'\n", argv[i]);
                free(pos);
                return EXIT_USAGE;
            }
            args.timeout_ms = (int)v * 1000;
        } else if (strcmp(a, "--chunk") == 0 || strncmp(a, "--chunk=", 8) == 0) {
            const char *v = a[7] == '=' ? a + 8 : i + 1 < argc ? argv[++i] : "";
            char *end;
            unsigned long long n = strtoull(v, &end, 10);
            if (!*v || *end || *v == '-' || n == 0 || n > 256 * 1024) {
                fprintf(stderr, "filterctl: bad --chunk '%s' (1 to 262144 bytes)\n", v);
                free(pos);
                return EXIT_USAGE;
            }
            args.chunk = (size_t)n;
        } else if (strcmp(a, "--json") == 0) {
            args.json = true;
        } else if (strcmp(a, "--explain") == 0) {
            args.explain = true;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            free(pos);
            return 0;
        } else {
            fprintf(stderr, "filterctl: unknown option '%s'\n", a);
            usage(stderr);
            free(pos);
            return EXIT_USAGE;
        }
    }
    if (!args.cmd) {
        usage(stderr);
        free(pos);
        return EXIT_USAGE;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(args.cmd, commands[i].name) == 0) {
            int rc = commands[i].fn(&args);
            free(pos);
            return rc;
        }
    }
    fprintf(stderr, "filterctl: unknown command '%s'\n", args.cmd);
    usage(stderr);
    free(pos);
    return EXIT_USAGE;
}
