/*
 * test_stream.c — streams against whole-text checks. For a corpus of texts
 * (evasion forms, allow suppression, word rules, regexes, prefiltered PII
 * regexes, texts without matches), split at every byte position and at many
 * random multi-way splits: the stream reports exactly the matches and the
 * decision of fd_scan() on the whole text; `release` never decreases, never
 * covers a byte of a match reported later or of a blocking match, and is
 * the whole length at close unless blocked.
 */
#include "testutil.h"

#include "stream.h"

static const char *RULES = "@category A1.4\n"
                           "@id zh.bomb\n炸弹\n"
                           "@id zh.make-bomb\n制造炸弹\n"
                           "@id en.bomb\nbomb\n"
                           "@id en.nail-bomb\nnail bomb\n"
                           "@action flag\n"
                           "@id zh.attack\n恐怖袭击\n"
                           "@match word\n"
                           "@id w.kill\nkill\n"
                           "@id w.ass\nass\n"
                           "@match normalized\n"
                           "@id re.weapon\n/枪支?(买卖|交易)/\n"
                           "@id re.end\n/the end$/\n"
                           "@action allow\n"
                           "@id allow.bath\nbath bomb\n"
                           "@category A1.6\n"
                           "@action block\n"
                           "@id zh.oral\n口交\n"
                           "@action allow\n"
                           "@id allow.junction\n路口交通\n"
                           "@category A4.6\n"
                           "@action flag\n"
                           "@match raw\n"
                           "@id pii.mobile\n/(?<![0-9])1[3-9][0-9]{9}(?![0-9])/\n"
                           "@id raw.unbounded\n/X{3,}Y/\n"
                           "@category A1.4\n"
                           "@action block\n"
                           "@match normalized\n"
                           "@within 8\n"
                           "@id combo.near\n@all 枪支 && 出售\n"
                           "@within 0\n"
                           "@action flag\n"
                           "@id combo.neg\n@all 毒品 && 运输 && !新闻\n"
                           "@match word\n"
                           "@id combo.word\n@all kill && /contract\\s+price/\n";

static const char *CORPUS[] = {
    "今天天气很好，我们去公园散步。",
    "教你製 造-炸\u200b彈，然后 b.o.m.b 和 Ｂ Ｏ Ｍ Ｂ。",
    "a bath bomb is nice, a nail  bomb is not",
    "前方路口交通拥堵，口交",
    "I will kill you. Skill and killer. 我kill你",
    "you ass, class assessment",
    "槍支買賣和枪交易",
    "call 13812345678 now, not 9138123456789",
    "新闻：恐怖袭击，没有炸弹",
    "and that was the end",
    "the end is not here",
    "XXXXXXY and XXY and XXXXXXXXXXXXXXXXXXXXY",
    "f.u.c.k b o m b 𝐛𝐨𝐦𝐛 ⓑⓞⓜⓑ",
    "炸。\n弹 and bo. Mb",
    "",
    "\u200b\u200b炸\u200b\u200b弹\u200b\u200b",
    "出售很多很多很多很多枪支，然后枪支出售",
    "毒品运输",
    "毒品和运输的新闻",
    "the contract  price of a kill, skill",
    "call 138123456789 now", /* 12 digits: the look-ahead must see the last one */
    "phone 13812345678",     /* the look-ahead is decided by the end of the text */
    "kill",                  /* a word rule at the very end */
    "the end",
    /* word-view noise, gap boundaries, the ASCII clause comma */
    "k.i.l.l you, s k i l l, a s s, c l a s s, the town of Uckfield",
    "I kill; a-s-s! snail bombs, nail bomb, nail bombs, nail bomb.",
    "出售,枪支 and 爆炸,弹片 or 炸 弹 k i l l",
    "ass",
    "a s s",
    /* look-alike letters, Japanese and variant Han forms */
    "a bоmb (Cyrillic о), ｂοｍｂ, 制造炸弾 and 製 造 炸弾, k.і.l.l",
};

static fd_ruleset *rs;
static fd_scratch *scratch;
static fd_result whole, part;

static void setup(void)
{
    rs = tu_compile(RULES);
    cr_assert_eq(fd_scratch_new(rs, &scratch), 0);
    fd_result_init(&whole);
    fd_result_init(&part);
}

static void teardown(void)
{
    fd_result_free(&whole);
    fd_result_free(&part);
    fd_scratch_free(scratch);
    fd_ruleset_unref(rs);
}

TestSuite(stream, .init = setup, .fini = teardown);

/* The matches a stream reports: block and flag ones, suppressed included. */
typedef struct mlist {
    fd_match m[512];
    size_t n;
} mlist;

static void expected(const char *text, mlist *out, fd_action *decision)
{
    cr_assert_eq(fd_scan(rs, scratch, text, strlen(text), &whole), 0);
    out->n = 0;
    for (size_t i = 0; i < whole.n; i++)
        if (whole.matches[i].action != FD_ALLOW)
            out->m[out->n++] = whole.matches[i];
    *decision = whole.decision;
}

static int cmp_match(const void *a, const void *b)
{
    const fd_match *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return (x->rule > y->rule) - (x->rule < y->rule);
}

/* Stream TEXT cut at the sorted offsets CUTS[0..NCUTS) and compare. */
static void check_split(const char *text, const size_t *cuts, size_t ncuts, const mlist *want,
                        fd_action want_decision, const char *what)
{
    size_t len = strlen(text);
    fd_stream *st = NULL;
    cr_assert_eq(fd_stream_open(rs, scratch, 0, &st), 0);
    mlist got = {.n = 0};
    uint64_t rel = 0, prev_rel = 0;
    uint64_t releases[64];
    size_t found_at[512]; /* index of the response that reported each match */
    size_t nresp = 0, pos = 0;
    int blocked = 0;
    for (size_t k = 0; k <= ncuts && !blocked; k++) {
        size_t end = k < ncuts ? cuts[k] : len;
        int r = fd_stream_feed(st, scratch, text + pos, end - pos, &part, &rel);
        cr_assert_eq(r, 0, "%s: feed %zu: %s", what, k, fd_strerror(r));
        pos = end;
        cr_assert_geq(rel, prev_rel, "%s: release went back", what);
        cr_assert_leq(rel, pos, "%s: released unseen bytes", what);
        cr_assert(rel == len || ((unsigned char)text[rel] & 0xC0) != 0x80,
                  "%s: release %lu inside a character", what, (unsigned long)rel);
        prev_rel = rel;
        for (size_t i = 0; i < part.n; i++) {
            found_at[got.n] = nresp;
            got.m[got.n++] = part.matches[i];
        }
        releases[nresp++] = rel;
        blocked = fd_stream_blocked(st);
    }
    if (!blocked) {
        cr_assert_eq(fd_stream_close(st, scratch, &part, &rel), 0);
        for (size_t i = 0; i < part.n; i++) {
            found_at[got.n] = nresp;
            got.m[got.n++] = part.matches[i];
        }
        releases[nresp++] = rel;
        if (part.decision != FD_BLOCK)
            cr_assert_eq(rel, len, "%s: close released %lu of %zu", what, (unsigned long)rel, len);
    }
    /* Nothing released may belong to a match reported later, nor to a
     * blocking match ever. */
    for (size_t i = 0; i < got.n; i++) {
        for (size_t r = 0; r < found_at[i]; r++)
            cr_assert_leq(releases[r], got.m[i].start,
                          "%s: release %lu before match [%u,%u) was reported", what,
                          (unsigned long)releases[r], got.m[i].start, got.m[i].end);
        if (got.m[i].action == FD_BLOCK && !got.m[i].suppressed)
            cr_assert_leq(rel, got.m[i].start, "%s: released a blocking match", what);
    }
    fd_action dec = fd_stream_decision(st);
    fd_stream_free(st);
    if (blocked) {
        /* A block ends the stream: what was reported is a prefix of the
         * whole-text matches, the decision is block. */
        cr_assert_eq(want_decision, FD_BLOCK, "%s: stream blocked, check did not", what);
        cr_assert_eq(dec, FD_BLOCK);
        return;
    }
    cr_assert_eq(dec, want_decision, "%s: decision %s, want %s", what, fd_action_name(dec),
                 fd_action_name(want_decision));
    qsort(got.m, got.n, sizeof *got.m, cmp_match);
    cr_assert_eq(got.n, want->n, "%s: %zu matches, want %zu", what, got.n, want->n);
    for (size_t i = 0; i < got.n; i++) {
        const fd_match *a = &got.m[i], *b = &want->m[i];
        cr_assert(a->rule == b->rule && a->start == b->start && a->end == b->end &&
                      a->suppressed == b->suppressed,
                  "%s: match %zu is %s [%u,%u)%s, want %s [%u,%u)%s", what, i,
                  fd_ruleset_rule(rs, a->rule)->id, a->start, a->end, a->suppressed ? "s" : "",
                  fd_ruleset_rule(rs, b->rule)->id, b->start, b->end, b->suppressed ? "s" : "");
    }
}

Test(stream, whole_text_in_one_chunk)
{
    for (size_t t = 0; t < sizeof CORPUS / sizeof *CORPUS; t++) {
        mlist want;
        fd_action d;
        expected(CORPUS[t], &want, &d);
        check_split(CORPUS[t], NULL, 0, &want, d, CORPUS[t]);
    }
}

Test(stream, split_at_every_byte)
{
    char what[256];
    for (size_t t = 0; t < sizeof CORPUS / sizeof *CORPUS; t++) {
        mlist want;
        fd_action d;
        expected(CORPUS[t], &want, &d);
        size_t len = strlen(CORPUS[t]);
        for (size_t cut = 0; cut <= len; cut++) {
            snprintf(what, sizeof what, "text %zu cut at %zu", t, cut);
            check_split(CORPUS[t], &cut, 1, &want, d, what);
        }
    }
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

Test(stream, random_multiway_splits)
{
    char what[256];
    for (size_t t = 0; t < sizeof CORPUS / sizeof *CORPUS; t++) {
        mlist want;
        fd_action d;
        expected(CORPUS[t], &want, &d);
        size_t len = strlen(CORPUS[t]);
        for (int round = 0; round < 200; round++) {
            size_t cuts[32];
            size_t n = 1 + next_rand() % 30;
            for (size_t i = 0; i < n; i++)
                cuts[i] = len ? next_rand() % (len + 1) : 0;
            qsort(cuts, n, sizeof *cuts, cmp_size);
            snprintf(what, sizeof what, "text %zu round %d", t, round);
            check_split(CORPUS[t], cuts, n, &want, d, what);
        }
    }
}

Test(stream, byte_at_a_time)
{
    for (size_t t = 0; t < sizeof CORPUS / sizeof *CORPUS; t++) {
        mlist want;
        fd_action d;
        expected(CORPUS[t], &want, &d);
        size_t len = strlen(CORPUS[t]), cuts[512];
        for (size_t i = 0; i < len && i < 512; i++)
            cuts[i] = i;
        check_split(CORPUS[t], cuts, len < 512 ? len : 512, &want, d, "byte at a time");
    }
}

Test(stream, release_holds_back_only_what_rules_need)
{
    /* One 4-byte rule: a stream holds back only a suffix that could still
     * grow into "bomb", not the rule's width. */
    fd_ruleset *small = tu_compile("@category A1.4\nbomb\n");
    fd_scratch *s2 = NULL;
    cr_assert_eq(fd_scratch_new(small, &s2), 0);
    fd_stream *st = NULL;
    cr_assert_eq(fd_stream_open(small, s2, 0, &st), 0);
    uint64_t rel;
    cr_assert_eq(fd_stream_feed(st, s2, "hello world", 11, &part, &rel), 0);
    cr_assert_eq(rel, 11); /* no suffix of "helloworld" begins "bomb" */
    cr_assert_eq(fd_stream_feed(st, s2, " and mo", 7, &part, &rel), 0);
    cr_assert_eq(rel, 18);
    cr_assert_eq(fd_stream_feed(st, s2, "re bo", 5, &part, &rel), 0);
    /* separators inside a keyword are noise, so "more bo" reads "morebo":
     * "bo" may become "bomb", held back from its "b" (offset 21) */
    cr_assert_eq(rel, 21);
    cr_assert_eq(fd_stream_feed(st, s2, "mb!", 3, &part, &rel), 0);
    cr_assert_eq(part.decision, FD_BLOCK);
    cr_assert_eq(part.n, 1);
    cr_assert_eq(part.matches[0].start, 21);
    cr_assert_eq(rel, 21); /* stops right before the blocking match */
    cr_assert(fd_stream_blocked(st));
    cr_assert_eq(fd_stream_feed(st, s2, "x", 1, &part, &rel), FD_ESTATE);
    fd_stream_free(st);

    /* The widest-rule policy (the bench's baseline) holds back 3 bytes of
     * the normalized text whatever it is. */
    cr_assert_eq(fd_stream_open(small, s2, 0, &st), 0);
    fd_stream_set_policy(st, FD_STREAM_WIDEST);
    cr_assert_eq(fd_stream_feed(st, s2, "hello world", 11, &part, &rel), 0);
    cr_assert_eq(rel, 8);
    fd_stream_free(st);
    fd_scratch_free(s2);
    fd_ruleset_unref(small);
}

Test(stream, invalid_utf8_chunk_rejected_stream_goes_on)
{
    fd_stream *st = NULL;
    cr_assert_eq(fd_stream_open(rs, scratch, 0, &st), 0);
    uint64_t rel;
    cr_assert_eq(fd_stream_feed(st, scratch, "ok \xff", 4, &part, &rel), FD_EUTF8);
    cr_assert_eq(fd_stream_length(st), 0);
    /* a character split across chunks is fine */
    cr_assert_eq(fd_stream_feed(st, scratch, "炸\xe5", 4, &part, &rel), 0);
    cr_assert_eq(fd_stream_feed(st, scratch, "\xbc\xb9", 2, &part, &rel), 0);
    cr_assert_eq(fd_stream_length(st), 6);
    cr_assert_eq(fd_stream_decision(st), FD_BLOCK);
    fd_stream_free(st);
    /* a stream that ends inside a character */
    cr_assert_eq(fd_stream_open(rs, scratch, 0, &st), 0);
    cr_assert_eq(fd_stream_feed(st, scratch, "a\xe5\xbc", 3, &part, &rel), 0);
    cr_assert_eq(fd_stream_close(st, scratch, &part, &rel), FD_EUTF8);
    fd_stream_free(st);
}

Test(stream, keeps_its_ruleset)
{
    /* A rule set whose only other reference is dropped while the stream is
     * open, as a reload drops the old rules: the stream's own reference
     * keeps it alive (under ASan a use after free would abort here). */
    fd_ruleset *old = tu_compile("@category A1.4\n制造炸弹\n");
    cr_assert_eq(fd_scratch_update(scratch, old), 0);
    fd_stream *st = NULL;
    cr_assert_eq(fd_stream_open(old, scratch, 0, &st), 0);
    cr_assert_eq(fd_stream_ruleset(st), old);
    fd_ruleset_unref(old);
    uint64_t rel;
    cr_assert_eq(fd_stream_feed(st, scratch, "制造炸", 9, &part, &rel), 0);
    cr_assert_eq(fd_stream_feed(st, scratch, "弹", 3, &part, &rel), 0);
    cr_assert_eq(part.decision, FD_BLOCK);
    cr_assert_gt(fd_stream_bytes(st), 0);
    fd_stream_free(st); /* the last reference: frees the rule set */
}

/* Bytes of the next chunk of 3 characters at POS. */
static size_t three_chars(const char *t, size_t len, size_t pos)
{
    size_t e = pos;
    for (int k = 0; k < 3 && e < len; k++)
        e += fd_utf8_len((unsigned char)t[e]);
    return e - pos;
}

Test(stream, a_wide_rule_holds_back_only_text_it_could_match)
{
    /* A JWT-like rule 1 KB wide: Chinese prose can never start it, so it
     * holds nothing back there; a keyword prefix holds back itself only. */
    fd_ruleset *r2 = tu_compile("@category A1.4\n制造炸弹\n"
                                "@category A4.6\n@action flag\n@match raw\n"
                                "/eyJ[A-Za-z0-9_-]{10,500}\\.[A-Za-z0-9_-]{10,500}/\n");
    fd_scratch *s2 = NULL;
    cr_assert_eq(fd_scratch_new(r2, &s2), 0);
    const char *t = "今天天气很好，我们去公园散步。然后我们回家。制造炸弹的人被抓了。";
    size_t len = strlen(t), kw = strstr(t, "制造炸弹") - t, kw_end = kw + strlen("制造炸弹");
    for (int pol = 0; pol < 2; pol++) {
        fd_stream *st = NULL;
        cr_assert_eq(fd_stream_open(r2, s2, 0, &st), 0);
        fd_stream_set_policy(st, pol ? FD_STREAM_WIDEST : FD_STREAM_EXACT);
        uint64_t rel = 0;
        size_t pos = 0, blocked_at = 0;
        while (pos < len && !fd_stream_blocked(st)) {
            size_t n = three_chars(t, len, pos);
            cr_assert_eq(fd_stream_feed(st, s2, t + pos, n, &part, &rel), 0);
            pos += n;
            if (fd_stream_blocked(st))
                blocked_at = pos;
            else if (pol == 0 && pos <= kw)
                cr_assert_eq(rel, pos, "exact: released %lu of %zu", (unsigned long)rel, pos);
            else if (pol == 0 && pos < kw_end)
                cr_assert_eq(rel, kw, "exact: the prefix of 制造炸弹 is held back from %zu", kw);
            else if (pol == 1)
                cr_assert_eq(rel, 0, "widest: the 1 KB rule holds everything back");
        }
        cr_assert(fd_stream_blocked(st));
        cr_assert(pol ? rel == 0 : rel == kw, "released %lu at the block", (unsigned long)rel);
        if (pol == 0)
            cr_assert_leq(blocked_at, kw_end + 9, "exact: block reported at %zu, match ends %zu",
                          blocked_at, kw_end);
        fd_stream_free(st);
    }
    fd_scratch_free(s2);
    fd_ruleset_unref(r2);
}

Test(stream, allow_phrase_in_progress_delays_a_block_until_it_is_decided)
{
    /* 口交 lies inside the allow phrase 路口交通: after 路口交 the block
     * waits; the next character decides it either way. */
    fd_stream *st = NULL;
    uint64_t rel;
    cr_assert_eq(fd_stream_open(rs, scratch, 0, &st), 0);
    cr_assert_eq(fd_stream_feed(st, scratch, "前方路口交", 15, &part, &rel), 0);
    cr_assert_eq(part.n, 0);
    cr_assert_leq(rel, 6); /* 路 may begin the allow phrase */
    cr_assert_eq(fd_stream_feed(st, scratch, "通", 3, &part, &rel), 0);
    cr_assert_eq(part.n, 1);
    cr_assert(part.matches[0].suppressed);
    cr_assert_eq(part.decision, FD_ALLOW);
    fd_stream_free(st);
    cr_assert_eq(fd_stream_open(rs, scratch, 0, &st), 0);
    cr_assert_eq(fd_stream_feed(st, scratch, "前方路口交", 15, &part, &rel), 0);
    cr_assert_eq(fd_stream_feed(st, scratch, "了", 3, &part, &rel), 0);
    cr_assert_eq(part.decision, FD_BLOCK);
    cr_assert_eq(rel, 9); /* up to the blocking match */
    fd_stream_free(st);
}

static const char *BENIGN[] = {
    "春天来了，公园里的花都开了。孩子们在草地上放风筝，老人们坐在长椅上聊天。我们沿着湖边散步，"
    "看见几只白鹭从水面飞过。中午我们在附近的小饭馆吃了面条，下午又去博物馆看了一个关于丝绸之路的"
    "展览。回家的路上下起了小雨，大家都说这是很好的一天。",
    "The committee met on Tuesday to review the budget for the new library. After a long "
    "discussion, members agreed to fund the reading room and postpone the parking garage until "
    "next year. The chair thanked the volunteers, who had counted every book by hand, and "
    "reminded everyone that the next meeting would be held in the town hall at seven.",
    "他说：“这个问题其实很简单。”然后拿出一张纸，画了三个圆圈，又写下几个数字：3、14、15。"
    "我们看了半天也没明白，他笑着说 it is just pi, nothing more, 然后把纸折成了一只小船。",
};

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

Test(stream, bundled_rules_lag_and_block_report_targets)
{
    /* The gateway's view with the bundled rules: benign text in chunks of
     * 3 characters trails by at most 48 bytes, 12 at the median; every
     * block literal inserted into benign text is reported no later than
     * the chunk that brings 64 bytes past its end. */
    fd_ruleset *b = NULL;
    fd_diag diag = FD_DIAG_INIT;
    cr_assert_eq(fd_ruleset_load(FD_SOURCE_DIR "/rules", &b, &diag), 0);
    fd_diag_free(&diag);
    fd_scratch *s2 = NULL;
    cr_assert_eq(fd_scratch_new(b, &s2), 0);
    uint64_t lags[1024];
    size_t nl = 0;
    for (size_t t = 0; t < sizeof BENIGN / sizeof *BENIGN; t++) {
        const char *x = BENIGN[t];
        size_t len = strlen(x);
        fd_stream *st = NULL;
        cr_assert_eq(fd_stream_open(b, s2, 0, &st), 0);
        uint64_t rel;
        for (size_t pos = 0; pos < len;) {
            size_t n = three_chars(x, len, pos);
            cr_assert_eq(fd_stream_feed(st, s2, x + pos, n, &part, &rel), 0);
            pos += n;
            cr_assert_eq(part.decision, FD_ALLOW, "benign text %zu is not allowed", t);
            cr_assert_leq(pos - rel, 48, "text %zu: lag %lu at %zu: [%.*s]", t,
                          (unsigned long)(pos - rel), pos, (int)(pos - rel), x + rel);
            cr_assert_lt(nl, 1024);
            lags[nl++] = pos - rel;
        }
        fd_stream_free(st);
    }
    qsort(lags, nl, sizeof *lags, cmp_u64);
    cr_assert_leq(lags[nl / 2], 12, "median lag %lu", (unsigned long)lags[nl / 2]);

    const fd_rulelist *rl = fd_ruleset_rules(b);
    char text[2048];
    size_t tested = 0;
    for (size_t i = 0; i < rl->nrules; i++) {
        const fd_rule *r = &rl->rules[i];
        if (r->kind != FD_RULE_PATTERN || r->regex || r->action != FD_BLOCK ||
            r->view == FD_VIEW_RAW)
            continue;
        const char *host = BENIGN[i % 2];
        size_t cut = 40 + i % 60; /* a character boundary in both hosts: */
        while (((unsigned char)host[cut] & 0xC0) == 0x80)
            cut++;
        int len = snprintf(text, sizeof text, "%.*s%s%s", (int)cut, host, r->pattern, host + cut);
        cr_assert_lt((size_t)len, sizeof text);
        cr_assert_eq(fd_scan(b, s2, text, (size_t)len, &whole), 0);
        if (whole.decision != FD_BLOCK)
            continue; /* an allow phrase around the cut takes it */
        uint32_t e = UINT32_MAX;
        for (size_t m = 0; m < whole.n; m++)
            if (whole.matches[m].action == FD_BLOCK && !whole.matches[m].suppressed &&
                whole.matches[m].end < e)
                e = whole.matches[m].end;
        fd_stream *st = NULL;
        cr_assert_eq(fd_stream_open(b, s2, 0, &st), 0);
        uint64_t rel;
        size_t pos = 0;
        while (pos < (size_t)len && !fd_stream_blocked(st)) {
            size_t n = three_chars(text, (size_t)len, pos);
            cr_assert(pos < e + 64, "%s:%u (%s): block not reported by byte %zu, match ends %u",
                      fd_ruleset_file(b, r->file), r->line, r->pattern, pos, e);
            cr_assert_eq(fd_stream_feed(st, s2, text + pos, n, &part, &rel), 0);
            pos += n;
        }
        if (!fd_stream_blocked(st))
            cr_assert_eq(fd_stream_close(st, s2, &part, &rel), 0);
        cr_assert_eq(fd_stream_decision(st), FD_BLOCK);
        fd_stream_free(st);
        tested++;
    }
    cr_assert_gt(tested, 100, "only %zu block literals tested", tested);
    fd_scratch_free(s2);
    fd_ruleset_unref(b);
}
