/*
 * test_validate.c — check-digit validators, alone and attached to rules
 * with @validate: random digit strings fire the ID rule only when region,
 * date and check digit are all valid.
 */
#include "testutil.h"

#include <time.h>

#include "validate.h"

Test(validate, names)
{
    cr_assert_eq(fd_validator_find("cn-id", 5), FD_VALIDATE_CN_ID);
    cr_assert_eq(fd_validator_find("luhn", 4), FD_VALIDATE_LUHN);
    cr_assert_eq(fd_validator_find("cn-uscc", 7), FD_VALIDATE_CN_USCC);
    cr_assert_eq(fd_validator_find("none", 4), FD_VALIDATE_NONE);
    cr_assert_eq(fd_validator_find("iban", 4), -1);
    cr_assert_str_eq(fd_validator_name(FD_VALIDATE_LUHN), "luhn");
}

Test(validate, resident_id)
{
    cr_assert(fd_validate(FD_VALIDATE_CN_ID, "11010519491231002X", 18));   /* TAXONOMY.md */
    cr_assert(fd_validate(FD_VALIDATE_CN_ID, "11010519491231002x", 18));   /* lower-case x */
    cr_assert(fd_validate(FD_VALIDATE_CN_ID, "110105 19491231 002X", 20)); /* separators */
    cr_assert(!fd_validate(FD_VALIDATE_CN_ID, "110105194912310021", 18));  /* check digit */
    cr_assert(!fd_validate(FD_VALIDATE_CN_ID, "99010519491231002X", 18));  /* province 99 */
    cr_assert(!fd_validate(FD_VALIDATE_CN_ID, "110105194902300020", 18));  /* 30 February */
    cr_assert(!fd_validate(FD_VALIDATE_CN_ID, "11010519491231002", 17));   /* too short */
    cr_assert(!fd_validate(FD_VALIDATE_CN_ID, "1101051949123100X2", 18));  /* X inside */
}

Test(validate, luhn)
{
    cr_assert(fd_validate(FD_VALIDATE_LUHN, "4111111111111111", 16));
    cr_assert(fd_validate(FD_VALIDATE_LUHN, "6222 0212 3456 7890 128", 23) ==
              fd_validate(FD_VALIDATE_LUHN, "6222021234567890128", 19));
    cr_assert(!fd_validate(FD_VALIDATE_LUHN, "4111111111111112", 16));
    cr_assert(!fd_validate(FD_VALIDATE_LUHN, "41111111111", 11)); /* too short */
    cr_assert(!fd_validate(FD_VALIDATE_LUHN, "4111a11111111111", 16));
}

Test(validate, uscc)
{
    cr_assert(fd_validate(FD_VALIDATE_CN_USCC, "91440300708461136T", 18)); /* TAXONOMY.md */
    cr_assert(!fd_validate(FD_VALIDATE_CN_USCC, "91440300708461136U", 18));
    cr_assert(!fd_validate(FD_VALIDATE_CN_USCC, "9144030070846113IT", 18)); /* I not allowed */
    cr_assert(!fd_validate(FD_VALIDATE_CN_USCC, "91440300708461136", 17));
    /* structure: a resident ID whose last digit happens to be a valid
     * GB 32100 check character is not a credit code */
    cr_assert(!fd_validate(FD_VALIDATE_CN_USCC, "310104195509140609", 18));
    /* each of these has a valid check character: only the structure fails;
     * authority 9 (工商) has types 1-3 only; authority B does not exist */
    cr_assert(!fd_validate(FD_VALIDATE_CN_USCC, "95440300708461136E", 18));
    cr_assert(!fd_validate(FD_VALIDATE_CN_USCC, "B1440300708461136Q", 18));
    /* division 99xxxx: no such province; a letter in the division code */
    cr_assert(!fd_validate(FD_VALIDATE_CN_USCC, "919903007084611361", 18));
    cr_assert(!fd_validate(FD_VALIDATE_CN_USCC, "9144A300708461136N", 18));
}

/* The reference check of GB 11643, written out independently of the code
 * under test, for the random strings below. */
static int reference_id(const char *s)
{
    static const int p[] = {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42,
                            43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82};
    int prov = (s[0] - '0') * 10 + (s[1] - '0'), okp = 0;
    for (size_t i = 0; i < sizeof p / sizeof *p; i++)
        okp |= p[i] == prov;
    int y = 0, m = 0, d = 0;
    for (int i = 6; i < 10; i++)
        y = y * 10 + s[i] - '0';
    m = (s[10] - '0') * 10 + s[11] - '0';
    d = (s[12] - '0') * 10 + s[13] - '0';
    int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (((y % 4 == 0 && y % 100) || y % 400 == 0))
        mdays[1] = 29;
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    int okd =
        y >= 1900 && y <= tm.tm_year + 1900 && m >= 1 && m <= 12 && d >= 1 && d <= mdays[m - 1];
    int w[] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}, sum = 0;
    for (int i = 0; i < 17; i++)
        sum += (s[i] - '0') * w[i];
    return okp && okd && s[17] == "10X98765432"[sum % 11];
}

Test(validate, random_ids_fire_only_when_valid)
{
    fd_ruleset *rs = tu_compile("@category A4.6\n@action flag\n@match raw\n@validate cn-id\n"
                                "@id pii.cn-id\n/(?<![0-9])[0-9]{17}[0-9Xx](?![0-9Xx])/\n");
    fd_result res;
    fd_result_init(&res);
    uint64_t x = 12345;
    int valid = 0, fired = 0;
    char text[64], id[19];
    for (int i = 0; i < 1000; i++) {
        /* Half the strings are made plausible (real province, date in range,
         * right check digit) so the valid branch is exercised too. */
        for (int k = 0; k < 18; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            id[k] = (char)('0' + x % 10);
        }
        if (i % 2) {
            memcpy(id, "3201", 4);
            int y = 1950 + (int)(x % 70), m = 1 + (int)(x / 70 % 12), d = 1 + (int)(x / 840 % 31);
            char date[9];
            snprintf(date, sizeof date, "%04d%02d%02d", y, m, d);
            memcpy(id + 6, date, 8);
            int w[] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}, sum = 0;
            for (int k = 0; k < 17; k++)
                sum += (id[k] - '0') * w[k];
            id[17] = "10X98765432"[sum % 11];
        }
        id[18] = '\0';
        snprintf(text, sizeof text, "身份证号：%s。", id);
        cr_assert_eq(tu_scan(rs, text, &res), 0);
        int want = reference_id(id);
        valid += want;
        fired += res.n > 0;
        cr_assert_eq(res.n > 0, want, "id %s: fired %zu, valid %d", id, res.n, want);
    }
    cr_assert_gt(valid, 100, "too few valid ids to test: %d", valid);
    cr_assert_lt(valid, 900);
    cr_assert_eq(fired, valid);
    fd_result_free(&res);
    fd_ruleset_unref(rs);
}

Test(validate, directive_errors_and_scope)
{
    char *e = tu_compile_error("@category A4.6\n@validate iban\n/[0-9]{20}/\n");
    cr_assert_str_eq(e, "test.rules:2: unknown validator 'iban' (cn-id, luhn, cn-uscc or none)");
    free(e);
    /* @validate applies until changed; "none" turns it off */
    fd_ruleset *rs = tu_compile("@category A4.6\n@match raw\n@validate luhn\n@id card\n"
                                "/[0-9]{16}/\n@validate none\n@id any16\n/x[0-9]{16}/\n");
    fd_result res;
    fd_result_init(&res);
    cr_assert_eq(tu_scan(rs, "card 4111111111111111 x4111111111111112", &res), 0);
    size_t card = 0, any = 0;
    for (size_t i = 0; i < res.n; i++) {
        card += strcmp(tu_rule_id(rs, &res, i), "card") == 0;
        any += strcmp(tu_rule_id(rs, &res, i), "any16") == 0;
    }
    cr_assert_eq(card, 1); /* only the Luhn-valid number */
    cr_assert_eq(any, 1);
    fd_result_free(&res);
    fd_ruleset_unref(rs);
}
