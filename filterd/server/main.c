/*
 * main.c — filterd's entry point: configuration, --check, then the server.
 *
 * filterd does not daemonize: it runs in the foreground under a service
 * manager (systemd, runit, a container runtime) and logs to stderr;
 * --foreground is accepted for compatibility and changes nothing.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "ruleset.h"
#include "stream.h"
#include "scan.h"
#include "server.h"

#ifndef FILTERD_VERSION
#define FILTERD_VERSION "0.0.0"
#endif

static void print_diag(const fd_diag *d, int rc)
{
    for (size_t i = 0; i < d->n; i++)
        fprintf(stderr, "%s\n", d->lines[i]);
    if (d->n == 0)
        fprintf(stderr, "filterd: %s\n", fd_strerror(rc));
}

/*
 * --check: load and compile the rules, print a summary to stdout and
 * return 0; on errors print "FILE:LINE: message" lines to stderr and
 * return 1 (like `nginx -t`).
 */
static int run_check(const fd_config *cfg)
{
    if (fd_server_check_config(cfg) != 0)
        return 1;
    fd_diag diag = FD_DIAG_INIT;
    fd_ruleset *rs = NULL;
    fd_ruleset_opts opts = {.cache_dir = cfg->cache_dir};
    int rc = fd_ruleset_load_opts(cfg->rules_dir, &opts, &rs, &diag);
    if (rc != 0) {
        print_diag(&diag, rc);
        fd_diag_free(&diag);
        fprintf(stderr, "filterd: %s: rule set has errors, not loaded\n", cfg->rules_dir);
        return 1;
    }
    fd_diag_free(&diag);

    const fd_rulelist *rl = fd_ruleset_rules(rs);
    size_t per_action[3] = {0};
    size_t *per_cat = calloc(rl->ncats ? rl->ncats : 1, sizeof(size_t));
    if (!per_cat) {
        fd_ruleset_unref(rs);
        fprintf(stderr, "filterd: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < rl->nrules; i++) {
        if (rl->rules[i].kind == FD_RULE_PART)
            continue; /* counted as their @all rule */
        per_action[rl->rules[i].action]++;
        per_cat[rl->rules[i].category]++;
    }

    printf("directory:  %s\n", cfg->rules_dir);
    printf("socket:     %s (mode %04o%s%s)\n", cfg->socket_path, cfg->socket_mode,
           cfg->socket_group ? ", group " : "", cfg->socket_group ? cfg->socket_group : "");
    printf("threads:    %u\n", cfg->threads);
    printf("version:    %s\n", fd_ruleset_version(rs));
    printf("files:      %zu\n", rl->nfiles);
    printf("rules:      %zu (block %zu, flag %zu, allow %zu; %zu co-occurrence)\n",
           per_action[FD_BLOCK] + per_action[FD_FLAG] + per_action[FD_ALLOW], per_action[FD_BLOCK],
           per_action[FD_FLAG], per_action[FD_ALLOW], fd_ruleset_combos(rs));
    printf("views:      normalized %zu, word %zu, raw %zu\n",
           fd_ruleset_view_rules(rs, FD_VIEW_NORMALIZED), fd_ruleset_view_rules(rs, FD_VIEW_WORD),
           fd_ruleset_view_rules(rs, FD_VIEW_RAW));
    printf("compile:    %.1f ms, %zu bytes of databases%s%s\n", fd_ruleset_compile_ms(rs),
           fd_ruleset_db_bytes(rs), cfg->cache_dir ? "; cache: " : "",
           cfg->cache_dir ? fd_ruleset_cache_note(rs) : "");
    printf("hyperscan:  %s\n", fd_hs_version());
    printf("categories: %zu\n", rl->ncats);
    for (size_t i = 0; i < rl->ncats; i++)
        printf("  %-6s %5zu  %s\n", rl->cats[i].id, per_cat[i], rl->cats[i].en);
    /* Streams hold back, per rule, at most its worst case, and only while a
     * match of it may be in progress (docs/protocol.md): the rules whose
     * worst case is over 48 bytes are listed. */
    size_t hb[4] = {0}, hb_always = 0;
    for (uint32_t i = 0; i < rl->nrules; i++) {
        if (rl->rules[i].kind == FD_RULE_PART)
            continue;
        int always;
        uint32_t h = fd_stream_rule_holdback(rs, i, &always);
        hb_always += (size_t)always;
        hb[h == FD_WIDTH_UNBOUNDED ? 3 : h > 48 ? 2 : h > 16 ? 1 : 0]++;
    }
    printf("hold-back:  worst case per rule: up to 16 bytes %zu, up to 48 %zu, more %zu, "
           "unbounded %zu (capped at %u bytes); %zu held back whatever the text\n",
           hb[0], hb[1], hb[2], hb[3], FD_STREAM_DEFAULT_HOLDBACK, hb_always);
    fd_diag notes = FD_DIAG_INIT;
    fd_stream_holdback_notes(rs, 48, 0, &notes);
    for (size_t i = 0; i < notes.n; i++)
        printf("  %s\n", notes.lines[i]);
    fd_diag_free(&notes);
    printf("configuration OK\n");
    free(per_cat);
    fd_ruleset_unref(rs);
    return 0;
}

int main(int argc, char **argv)
{
    fd_config cfg;
    fd_config_init(&cfg);
    int rc = fd_config_parse(&cfg, argc, argv);
    if (rc != 0) {
        fd_config_free(&cfg);
        return rc;
    }
    if (cfg.help) {
        fd_config_usage(stdout);
        fd_config_free(&cfg);
        return 0;
    }
    if (cfg.version) {
        printf("filterd %s (hyperscan %s)\n", FILTERD_VERSION, fd_hs_version());
        fd_config_free(&cfg);
        return 0;
    }
    fd_log_set_level(cfg.log_level);

    if (cfg.check) {
        rc = run_check(&cfg);
        fd_config_free(&cfg);
        return rc;
    }

    /* Until the server installs its handlers (after the rules compiled),
     * a reload or a log rotation must not kill a daemon that is starting:
     * they have nothing to act on yet. */
    signal(SIGHUP, SIG_IGN);
    signal(SIGUSR1, SIG_IGN);
    fd_info("filterd %s starting: rules %s", FILTERD_VERSION, cfg.rules_dir);
    fd_diag diag = FD_DIAG_INIT;
    fd_ruleset *rs = NULL;
    fd_ruleset_opts opts = {.cache_dir = cfg.cache_dir};
    rc = fd_ruleset_load_opts(cfg.rules_dir, &opts, &rs, &diag);
    if (rc != 0) {
        print_diag(&diag, rc);
        fd_diag_free(&diag);
        fd_error("%s: rule set has errors, refusing to start", cfg.rules_dir);
        fd_config_free(&cfg);
        return 1;
    }
    fd_diag_free(&diag);
    fd_info("loaded %zu rules (version %s) in %.1f ms%s%s", fd_ruleset_nrules(rs),
            fd_ruleset_version(rs), fd_ruleset_compile_ms(rs), cfg.cache_dir ? ", cache: " : "",
            cfg.cache_dir ? fd_ruleset_cache_note(rs) : "");

    rc = fd_server_run(&cfg, rs);
    fd_config_free(&cfg);
    return rc;
}
