/*
 * test_client.c — libfilterd-client against the real daemon: default
 * socket resolution, check results, error reporting, raw requests.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filterd/client.h"
#include "harness.h"

TestSuite(client, .init = fdt_setup, .fini = fdt_teardown, .timeout = 60);

Test(client, check_and_errors)
{
    cr_assert(fdt_start(NULL) == 0, "%s", fdt_d.log);
    /* NULL path: the default, here from $FILTERD_SOCKET */
    setenv("FILTERD_SOCKET", fdt_d.sock, 1);
    char def[256];
    cr_assert_eq(filterd_default_socket(def, sizeof(def)), 0);
    cr_assert_str_eq(def, fdt_d.sock);
    filterd_client *c;
    cr_assert_eq(filterd_client_connect(NULL, &c), 0);
    filterd_client_set_timeout(c, FDT_TIMEOUT_MS);
    cr_assert_eq(filterd_client_ping(c), 0);

    filterd_result r;
    const char *text = "如何制造炸弹 at the casino";
    cr_assert_eq(filterd_client_check(c, text, strlen(text), "{\"user\":\"u1\"}", 0, &r), 0);
    cr_assert_eq(r.decision, FILTERD_BLOCK);
    cr_assert_eq(r.nmatches, 2);
    cr_assert_str_eq(r.matches[0].rule, "zhadan");
    cr_assert_str_eq(r.matches[0].category, "A1.4");
    cr_assert_eq(r.matches[0].action, FILTERD_BLOCK);
    cr_assert_eq(r.matches[0].start, 6);
    cr_assert_eq(r.matches[0].end, 18);
    cr_assert_eq(r.matches[1].action, FILTERD_FLAG);
    cr_assert_eq(strlen(r.rules), 64);
    cr_assert(r.raw && r.raw[0] == '{');
    filterd_result_free(&r);

    cr_assert_eq(filterd_client_check(c, "casino royale", 13, NULL, FILTERD_CHECK_EXPLAIN, &r), 0);
    cr_assert_eq(r.decision, FILTERD_ALLOW);
    cr_assert_eq(r.nmatches, 2);
    cr_assert(r.matches[0].suppressed || r.matches[1].suppressed);
    filterd_result_free(&r);

    /* the daemon's error, then the connection is still usable */
    cr_assert_eq(filterd_client_check(c, "bad \xff", 5, NULL, 0, &r), FILTERD_ESERVER);
    cr_assert_str_eq(filterd_client_error_code(c), "bad_utf8");
    cr_assert(strlen(filterd_client_error_message(c)) > 0);
    filterd_result_free(&r);
    cr_assert_eq(filterd_client_check(c, "x", 1, "[1]", 0, &r), FILTERD_EINVAL);
    filterd_result_free(&r);
    cr_assert_eq(filterd_client_check(c, "a\0b", 3, NULL, 0, &r), FILTERD_EINVAL);
    filterd_result_free(&r);

    char *json;
    cr_assert_eq(filterd_client_version(c, &json), 0);
    cr_assert(strstr(json, "\"hyperscan\""), "%s", json);
    free(json);
    cr_assert_eq(filterd_client_stats(c, &json), 0);
    cr_assert(strstr(json, "\"latency_us\""), "%s", json);
    free(json);
    cr_assert_eq(filterd_client_request(c, "{\"op\":\"nope\",\"id\":\"z\"}", &json), 0);
    cr_assert(strstr(json, "unknown_op") && strstr(json, "\"id\":\"z\""), "%s", json);
    free(json);
    cr_assert_eq(filterd_client_reload(c, &json), 0); /* we run as root or as the daemon's uid */
    free(json);
    filterd_client_close(c);

    char nosock[4200];
    snprintf(nosock, sizeof(nosock), "%s/none.sock", fdt_d.dir);
    cr_assert_eq(filterd_client_connect(nosock, &c), FILTERD_ECONNECT);
    cr_assert_null(c);
    cr_assert_str_eq(filterd_client_strerror(FILTERD_ECONNECT), "the daemon is unreachable");
}

Test(client, daemon_goes_away)
{
    cr_assert(fdt_start(NULL) == 0, "%s", fdt_d.log);
    filterd_client *c;
    cr_assert_eq(filterd_client_connect(fdt_d.sock, &c), 0);
    cr_assert_eq(filterd_client_ping(c), 0);
    cr_assert_eq(fdt_stop(&fdt_d, SIGTERM), 0);
    cr_assert_eq(filterd_client_ping(c), FILTERD_EIO);
    filterd_client_close(c);
}

Test(client, default_paths_from_environment)
{
    /* filterd resolves $FILTERD_RULES and $FILTERD_SOCKET like filterctl */
    setenv("FILTERD_RULES", fdt_d.rules, 1);
    char *out;
    const char *args[] = {"--check", NULL};
    cr_assert_eq(fdt_run(FILTERD_BIN, args, NULL, &out, NULL), 0);
    cr_assert(strstr(out, fdt_d.rules), "%s", out);
    free(out);
}
