/*
 * audit_find.c — `filterctl audit find FILE... [--id ID] [--sha256 HEX]
 * [--text TEXT] [--since T] [--until T]` (SPEC §4): the look-up a
 * complaint handler needs ("what was decided on this answer, by which
 * rule, under which rule set?").
 *
 * The files are read in the order given (oldest first, plain or .gz), each
 * line once; a record that matches every filter given is printed exactly
 * as stored (its bytes, so `sha256sum` of it still chains to the next
 * line). A line that is not a JSON record is reported on stderr as
 * FILE:LINE and the search goes on: a damaged line must not hide the
 * records after it. Every line is parsed (no substring pre-filter), so
 * every damaged line is reported whatever the filters. Memory: one line
 * at a time.
 *
 *   --id ID      the request's id: a string equal to ID, or a number equal
 *                to ID; a stream's record also matches on its stream id.
 *   --sha256 HEX the text's digest (any case).
 *   --text TEXT  hashed here; the same as --sha256 of TEXT's UTF-8 bytes.
 *   --since T / --until T   ts in [since, until).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "audit_common.h"
#include "filterctl.h"

static bool id_matches(const cJSON *v, const char *id)
{
    if (cJSON_IsString(v))
        return strcmp(v->valuestring, id) == 0;
    if (cJSON_IsNumber(v)) {
        char *end;
        errno = 0;
        double d = strtod(id, &end);
        return *id && !*end && errno == 0 && isfinite(d) && d == v->valuedouble;
    }
    return cJSON_IsNull(v) && strcmp(id, "null") == 0;
}

static bool sha_matches(const cJSON *j, const char *hex)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "sha256"));
    return s && strcasecmp(s, hex) == 0;
}

/* Does the record J pass every filter of O? */
static bool matches(const fa_opts *o, const cJSON *j)
{
    if (o->id && !id_matches(cJSON_GetObjectItemCaseSensitive(j, "id"), o->id) &&
        !id_matches(cJSON_GetObjectItemCaseSensitive(j, "stream"), o->id))
        return false;
    if (o->have_sha256 && !sha_matches(j, o->sha256))
        return false;
    if (o->have_text && !sha_matches(j, o->text_hex))
        return false;
    if (o->since != FA_NO_TIME || o->until != FA_NO_TIME) {
        const char *ts = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "ts"));
        int64_t t;
        if (!ts || fa_parse_time(ts, &t) != 0)
            return false;
        if ((o->since != FA_NO_TIME && t < o->since) || (o->until != FA_NO_TIME && t >= o->until))
            return false;
    }
    return true;
}

int fa_find(const fa_opts *o)
{
    static char obuf[1 << 16];
    setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
    uint64_t found = 0, corrupt = 0;
    int status = 0;
    for (int f = 0; f < o->nfiles; f++) {
        fa_reader r;
        if (fa_reader_open(&r, o->files[f]) != 0) {
            fprintf(stderr, "filterctl: %s: %s\n", o->files[f], strerror(errno));
            status = EXIT_SOFTWARE;
            continue;
        }
        int rc;
        while ((rc = fa_reader_next(&r)) > 0) {
            if (r.too_long) {
                fprintf(stderr, "filterctl: %s:%llu: line longer than %u bytes, skipped\n", r.path,
                        (unsigned long long)r.lineno, FA_MAX_LINE);
                corrupt++;
                continue;
            }
            if (r.len == 0)
                continue;
            cJSON *j = cJSON_ParseWithLength(r.line, r.len);
            if (!cJSON_IsObject(j)) {
                fprintf(stderr, "filterctl: %s:%llu: %s, skipped\n", r.path,
                        (unsigned long long)r.lineno,
                        r.torn ? "torn last line (no newline)" : "not a JSON record");
                corrupt++;
            } else if (matches(o, j)) {
                fwrite(r.line, 1, r.len, stdout);
                putchar('\n');
                found++;
            }
            cJSON_Delete(j);
        }
        if (rc < 0) {
            fprintf(stderr, "filterctl: %s:%llu: %s; the rest of this file was not searched\n",
                    r.path, (unsigned long long)r.lineno + 1, r.err);
            status = EXIT_SOFTWARE;
        }
        fa_reader_close(&r);
    }
    fflush(stdout);
    if (corrupt)
        fprintf(stderr,
                "filterctl: %llu damaged line%s skipped (see above; 'filterctl audit verify' "
                "checks the chain)\n",
                (unsigned long long)corrupt, corrupt == 1 ? "" : "s");
    if (ferror(stdout)) {
        fprintf(stderr, "filterctl: write error on standard output\n");
        return EXIT_SOFTWARE;
    }
    return status ? status : found ? 0 : 1;
}
