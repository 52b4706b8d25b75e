/*
 * test_openai.c — the OpenAI moderation mapping (openai.h): request
 * parsing, the thirteen keys, scores and the category mapping of SPEC §5.
 */
#include <cjson/cJSON.h>

#include "openai.h"
#include "testutil.h"

Test(openai, category_mapping)
{
    struct {
        const char *cat;
        const char *keys[3];
    } cases[] = {
        {"A1.4", {"illicit/violent", "violence"}},
        {"A1.6", {"sexual", "violence"}},
        {"A1.5", {"hate"}},
        {"A2.1", {"hate"}},
        {"A2.9", {"hate"}},
        {"A4.1", {"self-harm"}},
        {"A1.1", {"illicit"}},
        {"A3.2", {"illicit"}},
        {"A4.6", {"illicit"}},
        {"A5.2", {"illicit"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        unsigned got = fd_openai_category_keys(cases[i].cat), want = 0;
        for (int j = 0; j < 3 && cases[i].keys[j]; j++)
            for (int k = 0; k < FD_OPENAI_NKEYS; k++)
                if (strcmp(fd_openai_keys[k], cases[i].keys[j]) == 0)
                    want |= 1u << k;
        cr_assert_eq(got, want, "%s: %#x != %#x", cases[i].cat, got, want);
    }
}

static int parse(const char *json, fd_openai_req *r, const char **err, cJSON **root)
{
    *root = cJSON_Parse(json);
    cr_assert(*root, "%s", json);
    return fd_openai_parse(*root, r, err);
}

Test(openai, inputs)
{
    fd_openai_req r;
    const char *err;
    cJSON *root;
    cr_assert_eq(parse("{\"input\":\"hello\"}", &r, &err, &root), 0);
    cr_assert_eq(r.n, 1);
    cr_assert_str_eq(r.model, "filterd");
    size_t len;
    const cJSON *it = fd_openai_next(&r, NULL);
    cr_assert_str_eq(fd_openai_text(it, &len), "hello");
    cr_assert_eq(len, 5);
    cr_assert_null(fd_openai_next(&r, it));
    cJSON_Delete(root);

    cr_assert_eq(parse("{\"model\":\"omni-moderation-latest\",\"input\":[\"a\",{\"type\":\"text\","
                       "\"text\":\"bb\"},\"ccc\"]}",
                       &r, &err, &root),
                 0);
    cr_assert_eq(r.n, 3);
    cr_assert_str_eq(r.model, "omni-moderation-latest");
    const char *want[] = {"a", "bb", "ccc"};
    size_t i = 0;
    for (it = fd_openai_next(&r, NULL); it; it = fd_openai_next(&r, it), i++) {
        cr_assert_str_eq(fd_openai_text(it, &len), want[i]);
        cr_assert_eq(len, strlen(want[i]));
    }
    cr_assert_eq(i, 3);
    cJSON_Delete(root);

    const char *bad[] = {
        "[]",
        "{}",
        "{\"input\":42}",
        "{\"input\":[]}",
        "{\"input\":[1]}",
        "{\"input\":[{\"type\":\"image_url\",\"image_url\":{\"url\":\"x\"}}]}",
        "{\"input\":[{\"type\":\"text\"}]}",
        "{\"input\":\"x\",\"model\":7}",
    };
    for (size_t j = 0; j < sizeof bad / sizeof *bad; j++) {
        err = NULL;
        cr_assert_eq(parse(bad[j], &r, &err, &root), -1, "%s", bad[j]);
        cr_assert(err && *err);
        cJSON_Delete(root);
    }
}

static void matches_stub(fd_buf *out, const fd_ruleset *rs, const fd_result *res)
{
    (void)rs;
    fd_buf_printf(out, "[%zu]", res->n);
}

/* The result object for TEXT, parsed. */
static cJSON *result_for(fd_ruleset *rs, const char *text)
{
    fd_result res;
    fd_result_init(&res);
    cr_assert_eq(tu_scan(rs, text, &res), 0);
    fd_buf out = FD_BUF_INIT;
    fd_openai_begin(&out, "modr-1", "m");
    fd_openai_result(&out, rs, &res, 1, matches_stub);
    fd_openai_result(&out, rs, &res, 0, matches_stub);
    fd_openai_end(&out);
    fd_buf_putc(&out, '\0');
    cJSON *root = cJSON_Parse(out.data);
    cr_assert(root, "%s", out.data);
    cr_assert_str_eq(cJSON_GetObjectItem(root, "id")->valuestring, "modr-1");
    cr_assert_str_eq(cJSON_GetObjectItem(root, "model")->valuestring, "m");
    cJSON *results = cJSON_GetObjectItem(root, "results");
    cr_assert_eq(cJSON_GetArraySize(results), 2);
    cJSON *r0 = cJSON_DetachItemFromArray(results, 0);
    cJSON_Delete(root);
    fd_buf_free(&out);
    fd_result_free(&res);
    return r0;
}

static void check_keys(cJSON *r, const char *truekeys, const char *halfkeys)
{
    cJSON *cats = cJSON_GetObjectItem(r, "categories");
    cJSON *scores = cJSON_GetObjectItem(r, "category_scores");
    cJSON *types = cJSON_GetObjectItem(r, "category_applied_input_types");
    cr_assert_eq(cJSON_GetArraySize(cats), FD_OPENAI_NKEYS);
    cr_assert_eq(cJSON_GetArraySize(scores), FD_OPENAI_NKEYS);
    cr_assert_eq(cJSON_GetArraySize(types), FD_OPENAI_NKEYS);
    for (int k = 0; k < FD_OPENAI_NKEYS; k++) {
        char key[64];
        snprintf(key, sizeof key, ",%s,", fd_openai_keys[k]);
        bool t = strstr(truekeys, key) != NULL, h = strstr(halfkeys, key) != NULL;
        cJSON *c = cJSON_GetObjectItem(cats, fd_openai_keys[k]);
        cJSON *s = cJSON_GetObjectItem(scores, fd_openai_keys[k]);
        cr_assert(cJSON_IsBool(c) && s && cJSON_IsNumber(s), "%s", fd_openai_keys[k]);
        cr_assert_eq(cJSON_IsTrue(c), t, "%s", fd_openai_keys[k]);
        cr_assert_float_eq(s->valuedouble, t ? 1.0 : h ? 0.5 : 0.0, 1e-9, "%s", fd_openai_keys[k]);
        cJSON *ty = cJSON_GetObjectItem(types, fd_openai_keys[k]);
        cr_assert(cJSON_IsArray(ty) && cJSON_GetArraySize(ty) == 1);
    }
}

Test(openai, results)
{
    fd_ruleset *rs = tu_compile("@category A1.4\nbombmaking\n"
                                "@category A1.6\n@action flag\nnudity\n"
                                "@category A4.6\n@action block\nsecretnumber\n");
    cJSON *r = result_for(rs, "nothing here");
    cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(r, "flagged")));
    check_keys(r, "", "");
    cJSON *fd = cJSON_GetObjectItem(r, "filterd");
    cr_assert_str_eq(cJSON_GetObjectItem(fd, "decision")->valuestring, "allow");
    cJSON_Delete(r);

    r = result_for(rs, "about bombmaking");
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(r, "flagged")));
    check_keys(r, ",violence,illicit/violent,", "");
    fd = cJSON_GetObjectItem(r, "filterd");
    cr_assert_str_eq(cJSON_GetObjectItem(fd, "decision")->valuestring, "block");
    cr_assert_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(fd, "matches"), 0)->valueint, 1);
    cJSON_Delete(r);

    /* flag only: not flagged, scores 0.5 */
    r = result_for(rs, "some nudity");
    cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(r, "flagged")));
    check_keys(r, "", ",violence,sexual,");
    cJSON_Delete(r);

    /* block and flag: the block's keys 1.0, the flag-only keys 0.5 */
    r = result_for(rs, "nudity and secretnumber");
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(r, "flagged")));
    check_keys(r, ",illicit,", ",violence,sexual,");
    cJSON_Delete(r);
    fd_ruleset_unref(rs);
}
