/*
 * validate.c — check digits of Chinese personal-information numbers.
 * Formats and weights are those of TAXONOMY.md (GB 11643, GB 32100) and
 * the Luhn algorithm of ISO/IEC 7812.
 */
#include "validate.h"

#include <string.h>
#include <time.h>

static const char *const names[FD_VALIDATE_MAX] = {"none", "cn-id", "luhn", "cn-uscc"};

int fd_validator_find(const char *name, size_t len)
{
    for (int i = 0; i < FD_VALIDATE_MAX; i++)
        if (strlen(names[i]) == len && memcmp(names[i], name, len) == 0)
            return i;
    return -1;
}

const char *fd_validator_name(fd_validator v)
{
    return (unsigned)v < FD_VALIDATE_MAX ? names[v] : "?";
}

/* Copy the significant characters of S (dropping separators and a leading
 * "+86" style prefix is the regex's business) upper-cased into OUT, at most
 * CAP; returns their number, or CAP + 1 if there are more. */
static size_t compact(const char *s, size_t n, char *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == ' ' || c == '-' || c == '.')
            continue;
        if (k == cap)
            return cap + 1;
        out[k++] = c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
    }
    return k;
}

static int all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static int num(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

/*
 * Province-level codes of GB/T 2260, the first two digits of every
 * resident ID (11 Beijing … 65 Xinjiang, 71 Taiwan, 81/82 Hong Kong and
 * Macao). The full county-level list changes yearly and no Debian package
 * ships it, so only the province is checked.
 */
static int valid_province(int p)
{
    switch (p) {
    case 11:
    case 12:
    case 13:
    case 14:
    case 15:
    case 21:
    case 22:
    case 23:
    case 31:
    case 32:
    case 33:
    case 34:
    case 35:
    case 36:
    case 37:
    case 41:
    case 42:
    case 43:
    case 44:
    case 45:
    case 46:
    case 50:
    case 51:
    case 52:
    case 53:
    case 54:
    case 61:
    case 62:
    case 63:
    case 64:
    case 65:
    case 71:
    case 81:
    case 82:
        return 1;
    }
    return 0;
}

/* A real calendar date from 1900 up to the current year. */
static int valid_date(int y, int m, int d)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    if (y < 1900 || y > tm.tm_year + 1900 || m < 1 || m > 12 || d < 1)
        return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= days[m - 1] + (m == 2 && leap);
}

/* GB 11643: 6-digit region, YYYYMMDD, 3-digit sequence, check character
 * by ISO 7064 MOD 11-2. */
static int cn_id(const char *s, size_t n)
{
    static const int w[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    char c[18];
    if (compact(s, n, c, 18) != 18 || !all_digits(c, 17))
        return 0;
    if (!valid_province(num(c, 2)) || !valid_date(num(c + 6, 4), num(c + 10, 2), num(c + 12, 2)))
        return 0;
    int sum = 0;
    for (int i = 0; i < 17; i++)
        sum += (c[i] - '0') * w[i];
    return c[17] == "10X98765432"[sum % 11];
}

static int luhn(const char *s, size_t n)
{
    char c[19];
    size_t k = compact(s, n, c, 19);
    if (k < 12 || k > 19 || !all_digits(c, k))
        return 0;
    int sum = 0;
    for (size_t i = 0; i < k; i++) {
        int d = c[k - 1 - i] - '0';
        if (i & 1) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
    }
    return sum % 10 == 0;
}

/*
 * GB 32100 character 1 (registration authority) and 2 (organisation type):
 * the pairs its code table assigns (1 机构编制: 1 机关, 2 事业单位, 3 群众团体,
 * 9 其他; 2 外交; 3 司法行政; 4 文化; 5 民政: 1 社会团体, 2 民办非企业单位,
 * 3 基金会; 6 旅游; 7 宗教; 8 工会; 9 工商: 1 企业, 2 个体工商户, 3 农民专业
 * 合作社; A 军队; N 农业; Y 其他). Each string is an authority followed by
 * its types.
 */
static int valid_authority_type(char a, char t)
{
    static const char *const pairs[] = {"11239", "219", "3123459", "419", "51239", "6129",
                                        "7129",  "819", "9123",    "A19", "N1239", "Y1"};
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++)
        if (pairs[i][0] == a)
            return strchr(pairs[i] + 1, t) != NULL && t != '\0';
    return 0;
}

/* GB 32100: 18 characters of 0-9A-HJ-NPQRTUWXY (no I, O, S, V, Z): the
 * registration authority and organisation type (a pair of its table), the
 * 6-digit administrative division of GB/T 2260 (whose province part is
 * checked as for resident IDs), the 9-character organisation code, and a
 * check character 31 - (Σ value·weight mod 31), 31 written as 0. The check
 * character alone passes 1 in 31 random numbers, resident IDs with a typo
 * among them; the structure rejects most of those (310104195509140609 has
 * a valid authority/type pair, 3 1, but no province 01). */
static int cn_uscc(const char *s, size_t n)
{
    static const char alphabet[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
    static const int w[17] = {1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28};
    char c[18];
    if (compact(s, n, c, 18) != 18)
        return 0;
    if (!valid_authority_type(c[0], c[1]) || !all_digits(c + 2, 6) ||
        !valid_province(num(c + 2, 2)))
        return 0;
    int v[18];
    for (int i = 0; i < 18; i++) {
        const char *p = c[i] ? strchr(alphabet, c[i]) : NULL;
        if (!p)
            return 0;
        v[i] = (int)(p - alphabet);
    }
    int sum = 0;
    for (int i = 0; i < 17; i++)
        sum += v[i] * w[i];
    int check = 31 - sum % 31;
    if (check == 31)
        check = 0;
    return v[17] == check;
}

int fd_validate(fd_validator v, const char *s, size_t n)
{
    switch (v) {
    case FD_VALIDATE_NONE:
        return 1;
    case FD_VALIDATE_CN_ID:
        return cn_id(s, n);
    case FD_VALIDATE_LUHN:
        return luhn(s, n);
    case FD_VALIDATE_CN_USCC:
        return cn_uscc(s, n);
    default:
        return 0;
    }
}
