/*
 * test_evasion.c — the matching views end to end (rule file → compile →
 * scan): evasion forms that must match with the exact original span, and
 * near-misses that must not.
 */
#include "testutil.h"

static const char *RULES = "@category A1.4\n"
                           "@id zh.bomb\n炸弹\n"
                           "@id zh.make-bomb\n制造炸弹\n"
                           "@id en.bomb\nbomb\n"
                           "@id en.fuck\nfuck\n"
                           "@id en.nail-bomb\nnail bomb\n"
                           "@id trad.pattern\n製造毒品\n"
                           "@id fw.pattern\nＫＩＬＬＥＲ\n"
                           "@match word\n"
                           "@id w.ass\nass\n"
                           "@id w.kill\nkill\n"
                           "@id w.nigger\nnigger\n"
                           "@id w.blowjob\nblow job\n"
                           "@id zh.gun-sale\n出售枪支\n"
                           "@id w.whore\nwhore\n"
                           "@id w.sex\nsex\n"
                           "@id w.falungong\nfalungong\n"
                           "@match normalized\n"
                           "@id zh.meth\n冰毒\n"
                           "@id zh.cover\n覆盖\n"
                           "@id zh.repeat\n反复\n"
                           "@match word\n"
                           "@match normalized\n"
                           "@id re.weapon\n/枪支?(买卖|交易)/\n"
                           "@category A1.6\n"
                           "@id zh.oral\n口交\n"
                           "@action allow\n"
                           "@id allow.junction\n路口交通\n";

static fd_ruleset *rs;
static fd_result res;

static void setup(void)
{
    rs = tu_compile(RULES);
    fd_result_init(&res);
}

static void teardown(void)
{
    fd_result_free(&res);
    fd_ruleset_unref(rs);
}

TestSuite(evasion, .init = setup, .fini = teardown);

typedef struct evasion_case {
    const char *text;
    const char *rule;  /* the rule that must match */
    const char *match; /* exactly the original bytes it must cover */
} evasion_case;

/* Find a counted match of RULE; returns its index or -1. */
static int find(const char *rule)
{
    for (size_t i = 0; i < res.n; i++)
        if (!res.matches[i].suppressed && strcmp(tu_rule_id(rs, &res, i), rule) == 0)
            return (int)i;
    return -1;
}

static const evasion_case hits[] = {
    /* each form alone */
    {"这是炸彈吗", "zh.bomb", "炸彈"},                         /* traditional */
    {"这是炸 弹吗", "zh.bomb", "炸 弹"},                       /* space */
    {"这是炸\u200b弹吗", "zh.bomb", "炸\u200b弹"},             /* zero-width space */
    {"这是炸\u200d\u2060弹吗", "zh.bomb", "炸\u200d\u2060弹"}, /* ZWJ + word joiner */
    {"这是炸\u00ad弹吗", "zh.bomb", "炸\u00ad弹"},             /* soft hyphen */
    {"这是炸\u202e弹吗", "zh.bomb", "炸\u202e弹"},             /* bidi override */
    {"这是炸*弹吗", "zh.bomb", "炸*弹"},                       /* symbol */
    {"制 造-炸*弹", "zh.make-bomb", "制 造-炸*弹"},            /* mixed noise */
    {"a ＢＯＭＢ!", "en.bomb", "ＢＯＭＢ"},                    /* full-width */
    {"a BoMb!", "en.bomb", "BoMb"},                            /* case */
    {"a b.o.m.b!", "en.bomb", "b.o.m.b"},                      /* dotted */
    {"a b o m b!", "en.bomb", "b o m b"},                      /* spaced */
    {"f.u.c.k this", "en.fuck", "f.u.c.k"},
    {"f. u. c. k this", "en.fuck", "f. u. c. k"},
    {"a 𝐛𝐨𝐦𝐛 here", "en.bomb", "𝐛𝐨𝐦𝐛"}, /* mathematical bold */
    {"a ⓑⓞⓜⓑ here", "en.bomb", "ⓑⓞⓜⓑ"}, /* circled */
    /* a trailing mark produces nothing, so the span ends before it */
    {"a b\u0336o\u0336m\u0336b\u0336 here", "en.bomb", "b\u0336o\u0336m\u0336b"},
    {"a bómb here", "en.bomb", "bómb"},             /* diacritic */
    {"a bo\ufe0fmb here", "en.bomb", "bo\ufe0fmb"}, /* variation selector */
    {"the NAIL  BOMB", "en.nail-bomb", "NAIL  BOMB"},
    {"the nailbomb", "en.nail-bomb", "nailbomb"},
    /* combined */
    {"教你製 造-炸\u200b彈", "zh.make-bomb", "製 造-炸\u200b彈"},
    {"Ｂ.Ｏ.\u200bＭ.Ｂ", "en.bomb", "Ｂ.Ｏ.\u200bＭ.Ｂ"},
    {"a Ｂ o m ｂ", "en.bomb", "Ｂ o m ｂ"},
    /* pattern written traditional / full-width matches simplified / ASCII text */
    {"如何制造毒品", "trad.pattern", "制造毒品"},
    {"serial killer", "fw.pattern", "killer"},
    {"SERIAL KILLER", "fw.pattern", "KILLER"},
    /* word view, normalized */
    {"you ASS!", "w.ass", "ASS"},
    {"ＫＩＬＬ them", "w.kill", "ＫＩＬＬ"},
    {"我kill你", "w.kill", "kill"},
    /* word view, separator noise inside the term (boundaries still hold) */
    {"I will k.i.l.l you", "w.kill", "k.i.l.l"},
    {"I kill you", "w.kill", "kill"},
    {"the k i l l", "w.kill", "k i l l"},
    {"call him a n-i-g-g-e-r", "w.nigger", "n-i-g-g-e-r"},
    {"I k i l l", "w.kill", "k i l l"},
    {"about Fa-Lun-Gong.", "w.falungong", "Fa-Lun-Gong"},
    {"the fa lun gong", "w.falungong", "fa lun gong"},
    {"you a s s", "w.ass", "a s s"},
    {"a-s-s!", "w.ass", "a-s-s"},
    {"n-i-g-g-e-r", "w.nigger", "n-i-g-g-e-r"},
    {"ｋ.ｉ.ｌ.ｌ it", "w.kill", "ｋ.ｉ.ｌ.ｌ"},
    {"k.\u200bi.l.l", "w.kill", "k.\u200bi.l.l"},
    {"a blow-job", "w.blowjob", "blow-job"},
    {"a blowjob", "w.blowjob", "blowjob"},
    /* look-alike letters from other scripts (UTS #39 confusables) */
    {"fuск you", "en.fuck", "fuск"},     /* Cyrillic с, к */
    {"a whοrε", "w.whore", "whοrε"},     /* Greek ο, ε */
    {"ѕех now", "w.sex", "ѕех"},         /* Cyrillic ѕ е х */
    {"a ɑss", "w.ass", "ɑss"},           /* Latin alpha */
    {"ᴋɪʟʟ them", "w.kill", "ᴋɪʟʟ"},     /* small capitals */
    {"Ｆ.u.с.К", "en.fuck", "Ｆ.u.с.К"}, /* full-width + Cyrillic + dots */
    {"a whο-rε", "w.whore", "whο-rε"},   /* Greek + noise */
    /* Japanese and variant Han forms (OpenCC JPVariantsRev, Unihan variants) */
    {"制造炸弾", "zh.make-bomb", "制造炸弾"}, /* 弾 → 彈 → 弹 */
    {"买氷毒", "zh.meth", "氷毒"},            /* 氷 → 冰 */
    {"製 造-炸\u200b弾", "zh.make-bomb", "製 造-炸\u200b弾"},
    /* one-to-many traditional characters are left alone, not guessed */
    {"覆蓋全國", "zh.cover", "覆蓋"},
    /* a normalized literal across a word gap needs both word boundaries */
    {"f uck you", "en.fuck", "f uck"},
    {"fu ck you", "en.fuck", "fu ck"},
    /* regex on normalized text (traditional, full-width) */
    {"槍支買賣", "re.weapon", "槍支買賣"},
    {"枪交易", "re.weapon", "枪交易"},
};

Test(evasion, forms_match_with_original_span)
{
    for (size_t i = 0; i < sizeof hits / sizeof *hits; i++) {
        const evasion_case *c = &hits[i];
        cr_assert_eq(tu_scan(rs, c->text, &res), 0, "scan failed: %s", c->text);
        int k = find(c->rule);
        cr_assert_geq(k, 0, "case %zu: '%s' does not match rule %s (%zu matches)", i, c->text,
                      c->rule, res.n);
        const fd_match *m = &res.matches[k];
        const char *at = strstr(c->text, c->match);
        cr_assert(at, "case %zu: bad test", i);
        size_t want_s = (size_t)(at - c->text), want_e = want_s + strlen(c->match);
        cr_assert(m->start == want_s && m->end == want_e,
                  "case %zu: '%s' rule %s span [%u,%u), want [%zu,%zu) ('%s')", i, c->text, c->rule,
                  m->start, m->end, want_s, want_e, c->match);
    }
}

typedef struct miss_case {
    const char *text;
    const char *rule; /* must not match (NULL: nothing may count) */
} miss_case;

static const miss_case misses[] = {
    /* sentence and clause breaks are not noise */
    {"我们去爆炸。弹片", "zh.bomb"},
    {"用于爆炸，弹片飞溅", "zh.bomb"},
    {"炸。\n弹", "zh.bomb"},
    {"炸\n弹", "zh.bomb"},
    {"...bo. Mb...", "en.bomb"},
    {"Ask the limbo. Mbira players know.", NULL},
    {"the limbo. Mb is a unit", "en.bomb"},
    /* long separator runs are breaks */
    {"bo -- -- mb", "en.bomb"},
    /* Scunthorpe-style: word rules need word boundaries */
    {"a first class assessment", "w.ass"},
    {"skill and killer instinct", "w.kill"},
    {"passage", "w.ass"},
    {"Scunthorpe", NULL},
    {"c l a s s", "w.ass"},
    {"s k i l l", "w.kill"},
    {"s.k.i.l.l", "w.kill"},
    {"b a s s", "w.ass"},
    {"killer", "w.kill"},
    {"was sick", "w.ass"},
    {"has sent", "w.ass"},
    {"a snowblow jobs", "w.blowjob"},
    /* precision: a Latin literal does not match across a word gap */
    {"the town of Uckfield", "en.fuck"},
    {"snail bombs", "en.nail-bomb"},
    {"jumbo mbira", "en.bomb"},
    /* confusables fold letters only, and Russian or Greek prose stays clean */
    {"Привет, как дела? Сегодня хорошая погода, мы гуляем в парке.", NULL},
    {"Καλημέρα κόσμε, ο καιρός είναι ωραίος σήμερα.", NULL},
    {"это сосна и хор", NULL},
    /* 覆 is not 复: 覆盖 does not read as 复盖, 反覆 not as 反复 */
    {"反覆", "zh.repeat"},
    /* an ASCII comma or semicolon between Chinese clauses is a break */
    {"出售,枪支", "zh.gun-sale"},
    {"出售;枪支", "zh.gun-sale"},
    {"爆炸,弹片飞溅", "zh.bomb"},
    /* allow suppression works on normalized text too */
    {"前方路口交通拥堵", NULL},
    {"前方路口交通拥堵", "zh.oral"},
    {"前方路口交通拥堵", "zh.oral"},
    {"前方路 口-交通拥堵", "zh.oral"},
    {"前方路口交通擁堵", "zh.oral"},
    /* ordinary text */
    {"今天天气很好，我们去公园散步。", NULL},
    {"The weather is nice today.", NULL},
};

Test(evasion, near_misses_do_not_match)
{
    for (size_t i = 0; i < sizeof misses / sizeof *misses; i++) {
        const miss_case *c = &misses[i];
        cr_assert_eq(tu_scan(rs, c->text, &res), 0);
        if (c->rule) {
            cr_assert_lt(find(c->rule), 0, "case %zu: '%s' matched %s", i, c->text, c->rule);
        } else {
            cr_assert_eq(res.decision, FD_ALLOW, "case %zu: '%s' gave %s", i, c->text,
                         fd_action_name(res.decision));
        }
    }
}

Test(evasion, offsets_on_character_boundaries)
{
    const char *texts[] = {"教你製 造-炸\u200b彈和ＢＯＭＢ，还有b.o.m.b和𝐛𝐨𝐦𝐛",
                           "前方路口交通拥堵，口交", "ＫＩＬＬ kill 我kill你 槍支買賣",
                           "\u200b\u200b炸\u200b\u200b弹\u200b\u200b", "①②③ ﬁ ß 炸彈炸彈炸彈"};
    for (size_t t = 0; t < sizeof texts / sizeof *texts; t++) {
        const char *s = texts[t];
        size_t len = strlen(s);
        cr_assert_eq(tu_scan(rs, s, &res), 0);
        cr_assert_gt(res.n, 0, "text %zu: no match", t);
        for (size_t i = 0; i < res.n; i++) {
            const fd_match *m = &res.matches[i];
            cr_assert_lt(m->start, m->end);
            cr_assert_leq(m->end, len);
            cr_assert_neq((unsigned char)s[m->start] & 0xC0, 0x80, "text %zu: start mid-char", t);
            cr_assert(m->end == len || ((unsigned char)s[m->end] & 0xC0) != 0x80,
                      "text %zu: end mid-char", t);
        }
    }
}

Test(evasion, empty_after_normalization_rejected)
{
    char *e = tu_compile_error("@category A1.4\n\u200b\u200b\n");
    cr_assert(strstr(e, "test.rules:2: literal is empty after normalization"), "%s", e);
    free(e);
}
