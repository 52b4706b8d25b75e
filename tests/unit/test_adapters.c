/*
 * test_adapters.c — the gateway adapters' translations (SPEC §6) with the
 * engine alone: the form decoder, request parsing (what is accepted, what
 * is refused) and the answers each gateway's decision rule reads.
 */
#include <cjson/cJSON.h>

#include "aliyun.h"
#include "azure.h"
#include "form.h"
#include "litellm.h"
#include "portkey.h"
#include "testutil.h"

static const char rules[] = "@category A1.4\n@id bomb\nbomb\n"
                            "@category A4.6\n@action flag\n@id casino\ncasino\n";

static cJSON *parse_out(fd_buf *out)
{
    fd_buf_putc(out, '\0');
    cr_assert(!out->oom);
    cJSON *j = cJSON_Parse(out->data);
    cr_assert(j, "not JSON: %s", out->data);
    return j;
}

Test(adapters, form_decoder)
{
    fd_buf v = FD_BUF_INIT;
    const char *f = "a=1&Service=llm+query%2Fmoderation&empty=&noeq&a=2&k%20y=%E4%B8%AD";
    cr_assert_eq(fd_form_get(f, strlen(f), "Service", &v), 1);
    cr_assert_str_eq(v.data, "llm query/moderation");
    cr_assert_eq(fd_form_get(f, strlen(f), "a", &v), 1);
    cr_assert_str_eq(v.data, "1", "the first occurrence wins");
    cr_assert_eq(fd_form_get(f, strlen(f), "empty", &v), 1);
    cr_assert_eq(v.len, 0);
    cr_assert_eq(fd_form_get(f, strlen(f), "noeq", &v), 1);
    cr_assert_eq(fd_form_get(f, strlen(f), "k y", &v), 1, "names are decoded too");
    cr_assert_str_eq(v.data, "中");
    cr_assert_eq(fd_form_get(f, strlen(f), "missing", &v), 0);
    cr_assert_eq(fd_form_get("a=%4", 4, "a", &v), FD_FORM_EBAD);
    cr_assert_eq(fd_form_get("a=1&b=%G0", 9, "a", &v), FD_FORM_EBAD, "bad anywhere is bad");
    cr_assert_eq(fd_form_get("", 0, "a", &v), 0);
    fd_buf_free(&v);
}

Test(adapters, azure)
{
    fd_ruleset *rs = tu_compile(rules);
    const char *reqs[] = {
        "{\"text\":\"a bomb\"}",
        "{\"text\":\"a bomb\",\"categories\":[\"Hate\",\"Violence\"],\"blocklistNames\":{},"
        "\"haltOnBlocklistHit\":true,\"outputType\":\"FourSeverityLevels\"}",
        "{\"text\":\"casino\",\"categories\":[\"Sexual\"],\"blocklistNames\":null}",
    };
    int ncats[] = {4, 2, 1}, sev[] = {6, 6, 0}, nbl[] = {1, 1, 0};
    for (int i = 0; i < 3; i++) {
        cJSON *body = cJSON_Parse(reqs[i]);
        fd_azure_req r;
        const char *err;
        cr_assert_eq(fd_azure_parse(body, &r, &err), 0, "%s", reqs[i]);
        fd_result res;
        fd_result_init(&res);
        cr_assert_eq(tu_scan(rs, r.text, &res), 0);
        fd_buf out = FD_BUF_INIT;
        fd_azure_answer(&out, &r, rs, &res);
        cJSON *j = parse_out(&out);
        cJSON *ca = cJSON_GetObjectItem(j, "categoriesAnalysis");
        cr_assert_eq(cJSON_GetArraySize(ca), ncats[i], "%s", out.data);
        cJSON *c;
        cJSON_ArrayForEach(c, ca)
            cr_assert_eq(cJSON_GetObjectItem(c, "severity")->valueint, sev[i]);
        cJSON *bl = cJSON_GetObjectItem(j, "blocklistsMatch");
        cr_assert_eq(cJSON_GetArraySize(bl), nbl[i], "%s", out.data);
        if (nbl[i]) {
            cJSON *b = cJSON_GetArrayItem(bl, 0);
            cr_assert_str_eq(cJSON_GetObjectItem(b, "blocklistName")->valuestring, "A1.4");
            cr_assert_str_eq(cJSON_GetObjectItem(b, "blocklistItemId")->valuestring, "bomb");
            cr_assert_str_eq(cJSON_GetObjectItem(b, "blocklistItemText")->valuestring, "bomb");
        }
        cJSON_Delete(j);
        cJSON_Delete(body);
        fd_buf_free(&out);
        fd_result_free(&res);
    }
    const char *bad[] = {"{}",
                         "{\"text\":\"x\",\"categories\":[\"hate\"]}",
                         "{\"text\":\"x\",\"categories\":\"Hate\"}",
                         "{\"text\":\"x\",\"blocklistNames\":[1]}",
                         "{\"text\":\"x\",\"haltOnBlocklistHit\":1}",
                         "{\"text\":\"x\",\"outputType\":\"x\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cJSON *body = cJSON_Parse(bad[i]);
        fd_azure_req r;
        const char *err = NULL;
        cr_assert_eq(fd_azure_parse(body, &r, &err), -1, "%s", bad[i]);
        cr_assert(err);
        cJSON_Delete(body);
    }
    fd_ruleset_unref(rs);
}

Test(adapters, litellm)
{
    fd_ruleset *rs = tu_compile(rules);
    const char *texts[][3] = {{"hello", "a bomb", NULL}, {"casino", "hello", NULL}, {NULL}};
    const char *action[] = {"BLOCKED", "NONE", "NONE"};
    for (int i = 0; i < 3; i++) {
        fd_litellm_acc a = {0};
        for (int k = 0; texts[i][k]; k++) {
            fd_result res;
            fd_result_init(&res);
            cr_assert_eq(tu_scan(rs, texts[i][k], &res), 0);
            fd_litellm_add(&a, rs, &res, texts[i][k], strlen(texts[i][k]));
            fd_result_free(&res);
        }
        fd_buf out = FD_BUF_INIT;
        fd_litellm_answer(&out, &a);
        fd_litellm_acc_free(&a);
        cJSON *j = parse_out(&out);
        cr_assert_str_eq(cJSON_GetObjectItem(j, "action")->valuestring, action[i], "%s", out.data);
        cJSON *reason = cJSON_GetObjectItem(j, "blocked_reason");
        if (i == 0)
            cr_assert_str_eq(
                reason->valuestring,
                "blocked by filterd: rule bomb (A1.4 Promoting terrorism or extremism): \"bomb\"",
                "%s", out.data);
        else
            cr_assert(cJSON_IsNull(reason));
        cr_assert_null(cJSON_GetObjectItem(j, "texts"), "never rewrites");
        cJSON_Delete(j);
        fd_buf_free(&out);
    }
    fd_litellm_req r;
    const char *err;
    cJSON *b = cJSON_Parse("{\"texts\":[\"a\"],\"litellm_call_id\":\"c1\",\"input_type\":"
                           "\"response\",\"images\":null}");
    cr_assert_eq(fd_litellm_parse(b, &r, &err), 0);
    cr_assert_str_eq(r.call_id->valuestring, "c1");
    cJSON_Delete(b);
    b = cJSON_Parse("{\"texts\":\"a\"}");
    cr_assert_eq(fd_litellm_parse(b, &r, &err), -1);
    cJSON_Delete(b);
    fd_ruleset_unref(rs);
}

Test(adapters, portkey)
{
    struct {
        const char *body, *text, *hook;
    } ok[] = {
        {"{\"request\":{\"text\":\"q\"},\"response\":{\"text\":\"\"}}", "q", "beforeRequestHook"},
        {"{\"request\":{\"text\":\"q\"},\"response\":{\"text\":\"a\"}}", "a", "afterRequestHook"},
        {"{\"eventType\":\"beforeRequestHook\",\"request\":{\"text\":\"q\"},\"response\":{\"text\":"
         "\"a\"}}",
         "q", "beforeRequestHook"},
        {"{\"eventType\":\"afterRequestHook\",\"request\":{\"text\":\"q\"},\"response\":{\"text\":"
         "\"\"}}",
         "", "afterRequestHook"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        cJSON *b = cJSON_Parse(ok[i].body);
        fd_portkey_req r;
        const char *err;
        cr_assert_eq(fd_portkey_parse(b, &r, &err), 0, "%s", ok[i].body);
        cr_assert_str_eq(r.text, ok[i].text);
        cr_assert_str_eq(r.hook, ok[i].hook);
        cJSON_Delete(b);
    }
    cJSON *b = cJSON_Parse("{\"eventType\":\"afterRequestHook\",\"request\":{\"text\":\"q\"}}");
    fd_portkey_req r;
    const char *err;
    cr_assert_eq(fd_portkey_parse(b, &r, &err), -1);
    cJSON_Delete(b);

    fd_ruleset *rs = tu_compile(rules);
    const char *texts[] = {"a bomb", "casino", "hi"};
    for (int i = 0; i < 3; i++) {
        fd_result res;
        fd_result_init(&res);
        cr_assert_eq(tu_scan(rs, texts[i], &res), 0);
        fd_buf out = FD_BUF_INIT;
        fd_portkey_answer(&out, rs, &res);
        cJSON *j = parse_out(&out);
        cr_assert_eq(cJSON_IsTrue(cJSON_GetObjectItem(j, "verdict")), i != 0, "%s", out.data);
        cJSON_Delete(j);
        fd_buf_free(&out);
        fd_result_free(&res);
    }
    fd_ruleset_unref(rs);
}

Test(adapters, aliyun)
{
    fd_aliyun_req r;
    const char *err = NULL;
    const char *body = "ServiceParameters=%7B%22content%22%3A%22a+bomb%22%2C%22sessionId%22%3A%22s"
                       "%22%7D&Service=body";
    cr_assert_eq(fd_aliyun_parse(body, strlen(body), "Service=query", 13, &r, &err), 0, "%s", err);
    cr_assert_str_eq(r.content, "a bomb");
    cr_assert_str_eq(r.service.data, "body", "the body's fields first");
    cr_assert_eq(r.session_len, 1);
    fd_buf meta = FD_BUF_INIT;
    fd_aliyun_meta(&meta, &r);
    fd_buf_putc(&meta, '\0');
    cr_assert_str_eq(meta.data, "{\"service\":\"body\",\"sessionId\":\"s\"}");
    fd_buf_free(&meta);

    fd_ruleset *rs = tu_compile(rules);
    struct {
        const char *text;
        size_t base;
        bool before;
        const char *level, *label, *words;
    } cases[] = {
        {"a bomb", 0, false, "high", "A1.4", "bomb"},
        {"xxbomb", 4, false, "high", "A1.4", "bomb"}, /* began in the carry: named whole */
        {"casino", 0, false, "low", "A4.6", "casino"},
        {"hi", 0, false, "none", "nonLabel", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        fd_result res;
        fd_result_init(&res);
        cr_assert_eq(tu_scan(rs, cases[i].text, &res), 0);
        fd_buf out = FD_BUF_INIT;
        fd_aliyun_answer(&out, "rid", rs, &res, cases[i].text, strlen(cases[i].text), cases[i].base,
                         cases[i].before);
        cJSON *j = parse_out(&out);
        cr_assert_eq(cJSON_GetObjectItem(j, "Code")->valueint, 200);
        cJSON *d = cJSON_GetObjectItem(j, "Data");
        cr_assert_str_eq(cJSON_GetObjectItem(d, "RiskLevel")->valuestring, cases[i].level);
        cJSON *r0 = cJSON_GetArrayItem(cJSON_GetObjectItem(d, "Result"), 0);
        cr_assert(r0, "Result[0] always exists: %s", out.data);
        cr_assert_str_eq(cJSON_GetObjectItem(r0, "Label")->valuestring, cases[i].label);
        if (cases[i].words)
            cr_assert_str_eq(cJSON_GetObjectItem(r0, "RiskWords")->valuestring, cases[i].words);
        cr_assert_eq(cJSON_GetObjectItem(d, "Advice") != NULL, cases[i].level[0] == 'h');
        if (cases[i].base) { /* filterd's offsets are into the piece */
            cJSON *m = cJSON_GetArrayItem(
                cJSON_GetObjectItem(cJSON_GetObjectItem(d, "filterd"), "matches"), 0);
            cr_assert_eq(cJSON_GetObjectItem(m, "start")->valueint, 0);
            cr_assert_eq(cJSON_GetObjectItem(m, "end")->valueint, 2);
        }
        cJSON_Delete(j);
        fd_buf_free(&out);
        fd_result_free(&res);
    }
    /* a clean piece after the session blocked */
    fd_result res;
    fd_result_init(&res);
    res.decision = FD_BLOCK;
    fd_buf out = FD_BUF_INIT;
    fd_aliyun_answer(&out, "rid", rs, &res, "hi", 2, 0, true);
    cr_assert(strstr(out.data, "\"RiskLevel\":\"high\",\"Result\":[{\"Label\":\"session_blocked\""),
              "%s", out.data);
    fd_buf_free(&out);
    fd_result_free(&res);
    fd_ruleset_unref(rs);
    fd_aliyun_req_free(&r);

    const char *bad[] = {
        "Service=x",
        "ServiceParameters=%7B%7D",
        "ServiceParameters=x",
        "ServiceParameters=%7B%22content%22%3A1%7D",
        "ServiceParameters=%7B%22content%22%3A%22%5Cu0000%22%7D",
        "ServiceParameters=%7B%22content%22%3A%22a%22%2C%22sessionId%22%3A%22%22%7D",
        "ServiceParameters=%C3%28"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err = NULL;
        cr_assert_eq(fd_aliyun_parse(bad[i], strlen(bad[i]), "", 0, &r, &err), -1, "%s", bad[i]);
        cr_assert(err);
        fd_aliyun_req_free(&r);
    }
}
