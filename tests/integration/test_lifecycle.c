/*
 * test_lifecycle.c — starting and stopping: --check, config file, stale
 * and live sockets, graceful stop on SIGTERM.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"

TestSuite(lifecycle, .init = fdt_setup, .fini = fdt_teardown, .timeout = 60);

Test(lifecycle, check_ok)
{
    char *out, *err;
    const char *args[] = {"--check", "--rules", fdt_d.rules, NULL};
    int rc = fdt_run(FILTERD_BIN, args, NULL, &out, &err);
    cr_assert_eq(rc, 0, "stdout:\n%s\nstderr:\n%s", out, err);
    cr_assert(strstr(out, "configuration OK"), "%s", out);
    cr_assert(strstr(out, "A1.4"), "%s", out);
    cr_assert(strstr(out, "compile:"), "%s", out);
    free(out);
    free(err);
}

Test(lifecycle, check_errors)
{
    fdt_write_file(fdt_d.rules, "bad.rules", "@category A9.9\nfoo\n");
    char *out, *err;
    const char *args[] = {"--check", "--rules", fdt_d.rules, NULL};
    int rc = fdt_run(FILTERD_BIN, args, NULL, &out, &err);
    cr_assert_eq(rc, 1, "stdout:\n%s\nstderr:\n%s", out, err);
    cr_assert(strstr(err, "bad.rules:1:"), "%s", err);
    free(out);
    free(err);

    /* and the daemon refuses to start on it */
    cr_assert(fdt_start(NULL) != 0);
    cr_assert_eq(fdt_wait_exit(&fdt_d), 1);
    cr_assert(strstr(fdt_d.log, "bad.rules:1:"), "%s", fdt_d.log);
    cr_assert_neq(access(fdt_d.sock, F_OK), 0, "socket created anyway");
}

Test(lifecycle, usage_version_help)
{
    char *out;
    const char *bad[] = {"--no-such-flag", NULL};
    cr_assert_eq(fdt_run(FILTERD_BIN, bad, NULL, NULL, NULL), 64);
    const char *badval[] = {"--threads", "zero", NULL};
    cr_assert_eq(fdt_run(FILTERD_BIN, badval, NULL, NULL, NULL), 64);
    const char *ver[] = {"--version", NULL};
    cr_assert_eq(fdt_run(FILTERD_BIN, ver, NULL, &out, NULL), 0);
    cr_assert(strncmp(out, "filterd ", 8) == 0, "%s", out);
    free(out);
    const char *help[] = {"--help", NULL};
    cr_assert_eq(fdt_run(FILTERD_BIN, help, NULL, &out, NULL), 0);
    cr_assert(strstr(out, "--max-connections"), "%s", out);
    free(out);
}

Test(lifecycle, config_file)
{
    /* the file sets a tiny --max-request; the flag on the command line
     * overrides it; the rest comes from the file */
    char conf[8192], path[4200];
    snprintf(conf, sizeof(conf),
             "# test config\n"
             "max-request = 100\n"
             "idle-timeout = 30\n"
             "socket-mode = 0640\n"
             "%s"
             "log-level = \"debug\"\n",
             geteuid() == 0 ? "socket-group = 65534\n" : "");
    fdt_write_file(fdt_d.dir, "filterd.conf", conf);
    snprintf(path, sizeof(path), "%s/filterd.conf", fdt_d.dir);
    const char *extra[] = {"--config", path, "--max-request", "4096", NULL};
    cr_assert(fdt_start(extra) == 0, "%s", fdt_d.log);
    struct stat st;
    cr_assert(stat(fdt_d.sock, &st) == 0);
    cr_assert_eq(st.st_mode & 0777, 0640);
    if (geteuid() == 0)
        cr_assert_eq(st.st_gid, 65534);
    fdt_conn *c = fdt_connect(fdt_d.sock);
    char req[1024];
    int n = snprintf(req, sizeof(req), "{\"text\":\"");
    memset(req + n, 'x', 500);
    strcpy(req + n + 500, "\"}");
    char *line = fdt_roundtrip(c, req);
    cr_assert(strstr(line, "\"decision\":\"allow\""), "%s", line);
    free(line);
    fdt_close(c);
    cr_assert(fdt_wait_log(&fdt_d, "debug:", FDT_TIMEOUT_MS), "log-level from the file");
    fdt_stop(&fdt_d, SIGTERM);

    /* a bad line is reported as FILE:LINE and the daemon does not start */
    fdt_write_file(fdt_d.dir, "filterd.conf", "threads = 2\nmax-request = lots\nbogus = 1\n");
    char *err;
    const char *args[] = {"--config", path, "--rules", fdt_d.rules, "--check", NULL};
    cr_assert_eq(fdt_run(FILTERD_BIN, args, NULL, NULL, &err), 1);
    cr_assert(strstr(err, "filterd.conf:2:") && strstr(err, "filterd.conf:3:"), "%s", err);
    free(err);
}

Test(lifecycle, stale_socket_replaced)
{
    /* a socket file nobody listens on, as left by a crashed daemon */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    cr_assert(strlen(fdt_d.sock) < sizeof(sa.sun_path));
    memcpy(sa.sun_path, fdt_d.sock, strlen(fdt_d.sock) + 1);
    cr_assert(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    close(fd);
    cr_assert_eq(access(fdt_d.sock, F_OK), 0);

    cr_assert(fdt_start(NULL) == 0, "%s", fdt_d.log);
    cr_assert(strstr(fdt_d.log, "stale socket"), "%s", fdt_d.log);
    fdt_conn *c = fdt_connect(fdt_d.sock);
    char *line = fdt_roundtrip(c, "{\"op\":\"ping\"}");
    cr_assert_str_eq(line, "{\"ok\":true}");
    free(line);
    fdt_close(c);
}

Test(lifecycle, live_daemon_refusal)
{
    cr_assert(fdt_start(NULL) == 0, "%s", fdt_d.log);
    fdt_daemon second;
    memset(&second, 0, sizeof(second));
    memcpy(second.dir, fdt_d.dir, sizeof(second.dir));
    memcpy(second.rules, fdt_d.rules, sizeof(second.rules));
    memcpy(second.sock, fdt_d.sock, sizeof(second.sock));
    second.errfd = -1;
    pthread_mutex_init(&second.mu, NULL);
    pthread_cond_init(&second.cv, NULL);
    cr_assert(fdt_start_daemon(&second, NULL) != 0, "second daemon started");
    cr_assert_eq(fdt_wait_exit(&second), 1);
    cr_assert(strstr(second.log, "already listening"), "%s", second.log);
    free(second.log);

    /* the first one is untouched */
    fdt_conn *c = fdt_connect(fdt_d.sock);
    char *line = fdt_roundtrip(c, "{\"op\":\"ping\"}");
    cr_assert_str_eq(line, "{\"ok\":true}");
    free(line);
    fdt_close(c);

    /* a regular file in the way is never deleted */
    cr_assert_eq(fdt_stop(&fdt_d, SIGTERM), 0);
    fdt_write_file(fdt_d.dir, "filterd.sock", "not a socket\n");
    cr_assert(fdt_start(NULL) != 0);
    cr_assert_eq(fdt_wait_exit(&fdt_d), 1);
    cr_assert(strstr(fdt_d.log, "not a socket"), "%s", fdt_d.log);
    cr_assert_eq(access(fdt_d.sock, F_OK), 0);
}

Test(lifecycle, sigterm_drain)
{
    cr_assert(fdt_start(NULL) == 0, "%s", fdt_d.log);
    fdt_conn *c = fdt_connect(fdt_d.sock);
    char *line = fdt_roundtrip(c, "{\"op\":\"ping\"}"); /* accepted by now */
    free(line);

    enum { N = 2000 };
    size_t cap = (size_t)N * 48, len = 0;
    char *all = malloc(cap);
    for (int i = 0; i < N; i++)
        len += (size_t)snprintf(all + len, cap - len, "{\"id\":%d,\"text\":\"%s\"}\n", i,
                                i % 3 ? "fine" : "bomb");
    cr_assert(fdt_send(c, all, len) == 0);
    free(all);
    cr_assert_eq(kill(fdt_d.pid, SIGTERM), 0);

    for (int i = 0; i < N; i++) {
        line = fdt_readline(c, FDT_TIMEOUT_MS);
        cr_assert(line, "response %d missing after SIGTERM", i);
        char want[48];
        snprintf(want, sizeof(want), "{\"id\":%d,\"decision\":\"%s\"", i,
                 i % 3 ? "allow" : "block");
        cr_assert(strncmp(line, want, strlen(want)) == 0, "%d: %s", i, line);
        free(line);
    }
    cr_assert(fdt_wait_eof(c, FDT_TIMEOUT_MS), "connection not closed after drain");
    fdt_close(c);
    cr_assert_eq(fdt_wait_exit(&fdt_d), 0, "%s", fdt_d.log);
    cr_assert_neq(access(fdt_d.sock, F_OK), 0, "socket file left behind");
    cr_assert(strstr(fdt_d.log, "stopped"), "%s", fdt_d.log);
}

Test(lifecycle, sigint_idle_stop)
{
    cr_assert(fdt_start(NULL) == 0, "%s", fdt_d.log);
    fdt_conn *c = fdt_connect(fdt_d.sock); /* an idle client does not hold up the stop */
    char *line = fdt_roundtrip(c, "{\"op\":\"ping\"}");
    free(line);
    cr_assert_eq(fdt_stop(&fdt_d, SIGINT), 0, "%s", fdt_d.log);
    cr_assert(fdt_wait_eof(c, FDT_TIMEOUT_MS));
    fdt_close(c);
    cr_assert_neq(access(fdt_d.sock, F_OK), 0);
}

/*
 * Graceful stop answers what the client had already sent, also requests
 * read but not yet handled: the daemon is stopped (SIGSTOP) while the
 * client sends a reload and three checks, then gets SIGTERM and SIGCONT.
 * The checks sit behind the reload (a connection takes no request while
 * a reload is pending), in the connection's buffer or still in the
 * socket, when the stop begins. Whichever comes first when the daemon runs
 * again — the worker reading the burst or the stop — the reload is
 * answered with an error ("shutting down": no reload starts during a stop)
 * and every check with its decision, in order; then the connection closes
 * and the daemon exits 0. (Without the drain's handling of buffered lines,
 * the checks go unanswered: verified by deleting it.)
 */
Test(lifecycle, sigterm_answers_requests_behind_a_reload)
{
    cr_assert(fdt_start(NULL) == 0, "%s", fdt_d.log);
    fdt_conn *c = fdt_connect(fdt_d.sock);
    char *line = fdt_roundtrip(c, "{\"op\":\"ping\"}"); /* accepted by now */
    free(line);
    cr_assert_eq(kill(fdt_d.pid, SIGSTOP), 0);
    const char *burst = "{\"id\":1,\"op\":\"reload\"}\n"
                        "{\"id\":2,\"text\":\"bomb\"}\n"
                        "{\"id\":3,\"text\":\"fine\"}\n"
                        "{\"id\":4,\"text\":\"casino\"}\n";
    cr_assert(fdt_send(c, burst, strlen(burst)) == 0);
    cr_assert_eq(kill(fdt_d.pid, SIGTERM), 0);
    cr_assert_eq(kill(fdt_d.pid, SIGCONT), 0);

    line = fdt_readline(c, FDT_TIMEOUT_MS);
    cr_assert(line, "no answer to the reload\n%s", fdt_d.log);
    cJSON *r = fdt_json(line);
    cr_assert_eq(cJSON_GetObjectItem(r, "id")->valueint, 1, "%s", line);
    cr_assert(fdt_errcode(r), "a reload during a stop: %s", line);
    cr_assert(strstr(line, "shutting down"), "%s", line);
    cJSON_Delete(r);
    free(line);
    static const char *const want[] = {"{\"id\":2,\"decision\":\"block\"",
                                       "{\"id\":3,\"decision\":\"allow\"",
                                       "{\"id\":4,\"decision\":\"flag\""};
    for (int i = 0; i < 3; i++) {
        line = fdt_readline(c, FDT_TIMEOUT_MS);
        cr_assert(line, "check %d not answered during the stop\n%s", i + 2, fdt_d.log);
        cr_assert(strncmp(line, want[i], strlen(want[i])) == 0, "%s", line);
        free(line);
    }
    cr_assert(fdt_wait_eof(c, FDT_TIMEOUT_MS), "connection not closed after the drain");
    fdt_close(c);
    cr_assert_eq(fdt_wait_exit(&fdt_d), 0, "%s", fdt_d.log);
}
