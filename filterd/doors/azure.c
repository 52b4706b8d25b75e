/*
 * azure.c — see azure.h.
 */
#include "azure.h"

#include <string.h>

#include "service.h"

const char *const fd_azure_categories[FD_AZURE_NCATS] = {"Hate", "SelfHarm", "Sexual", "Violence"};

/* An empty JSON object: how Lua's cjson writes an empty table. */
static int empty_object(const cJSON *j)
{
    return cJSON_IsObject(j) && j->child == NULL;
}

int fd_azure_parse(const cJSON *body, fd_azure_req *r, const char **err)
{
    memset(r, 0, sizeof *r);
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(body, "text");
    if (!cJSON_IsString(text)) {
        *err = "text:analyze needs \"text\" (a string)";
        return -1;
    }
    r->text = text->valuestring;
    r->len = strlen(text->valuestring);

    const cJSON *cats = cJSON_GetObjectItemCaseSensitive(body, "categories");
    if (cJSON_IsArray(cats)) {
        const cJSON *c;
        cJSON_ArrayForEach(c, cats)
        {
            int k = -1;
            for (int i = 0; i < FD_AZURE_NCATS && cJSON_IsString(c); i++)
                if (strcmp(c->valuestring, fd_azure_categories[i]) == 0)
                    k = i;
            if (k < 0) {
                *err = "categories must name Hate, SelfHarm, Sexual or Violence";
                return -1;
            }
            r->cats |= 1u << k;
        }
    } else if (cats && !cJSON_IsNull(cats) && !empty_object(cats)) {
        *err = "categories must be an array";
        return -1;
    }
    if (!r->cats)
        r->cats = (1u << FD_AZURE_NCATS) - 1;

    const cJSON *bl = cJSON_GetObjectItemCaseSensitive(body, "blocklistNames");
    if (cJSON_IsArray(bl)) {
        const cJSON *b;
        cJSON_ArrayForEach(b, bl)
        {
            if (!cJSON_IsString(b)) {
                *err = "blocklistNames must be strings";
                return -1;
            }
        }
    } else if (bl && !cJSON_IsNull(bl) && !empty_object(bl)) {
        *err = "blocklistNames must be an array";
        return -1;
    }
    const cJSON *halt = cJSON_GetObjectItemCaseSensitive(body, "haltOnBlocklistHit");
    if (halt && !cJSON_IsNull(halt) && !cJSON_IsBool(halt)) {
        *err = "haltOnBlocklistHit must be true or false";
        return -1;
    }
    const cJSON *ot = cJSON_GetObjectItemCaseSensitive(body, "outputType");
    if (ot && !cJSON_IsNull(ot) &&
        !(cJSON_IsString(ot) && (strcmp(ot->valuestring, "FourSeverityLevels") == 0 ||
                                 strcmp(ot->valuestring, "EightSeverityLevels") == 0))) {
        *err = "outputType must be FourSeverityLevels or EightSeverityLevels";
        return -1;
    }
    return 0;
}

void fd_azure_answer(fd_buf *out, const fd_azure_req *r, const fd_ruleset *rs, const fd_result *res)
{
    bool block = res->decision == FD_BLOCK;
    fd_buf_puts(out, "{\"blocklistsMatch\":[");
    bool first = true;
    for (size_t i = 0; block && i < res->n; i++) {
        const fd_match *m = &res->matches[i];
        if (!fd_svc_counts(m) || m->action != FD_BLOCK)
            continue;
        const fd_rule *rule = fd_ruleset_rule(rs, m->rule);
        const fd_category *cat = fd_ruleset_category(rs, rule->category);
        if (!first)
            fd_buf_putc(out, ',');
        first = false;
        fd_buf_puts(out, "{\"blocklistName\":");
        fd_buf_json_str(out, cat->id, strlen(cat->id));
        fd_buf_puts(out, ",\"blocklistItemId\":");
        fd_buf_json_str(out, rule->id, strlen(rule->id));
        fd_buf_puts(out, ",\"blocklistItemText\":");
        if (m->end <= r->len && m->start <= m->end)
            fd_buf_json_str(out, r->text + m->start, m->end - m->start);
        else
            fd_buf_puts(out, "\"\"");
        fd_buf_putc(out, '}');
    }
    fd_buf_puts(out, "],\"categoriesAnalysis\":[");
    first = true;
    for (int i = 0; i < FD_AZURE_NCATS; i++) {
        if (!(r->cats & (1u << i)))
            continue;
        if (!first)
            fd_buf_putc(out, ',');
        first = false;
        fd_buf_puts(out, "{\"category\":\"");
        fd_buf_puts(out, fd_azure_categories[i]);
        fd_buf_puts(out, block ? "\",\"severity\":6}" : "\",\"severity\":0}");
    }
    fd_buf_puts(out, "],\"filterd\":{\"decision\":\"");
    fd_buf_puts(out, fd_action_name(res->decision));
    fd_buf_puts(out, "\",\"matches\":[");
    first = true;
    for (size_t i = 0; i < res->n; i++) {
        if (!fd_svc_counts(&res->matches[i]))
            continue;
        if (!first)
            fd_buf_putc(out, ',');
        first = false;
        fd_svc_match_json(out, rs, &res->matches[i], false, NULL, 0);
    }
    fd_buf_puts(out, "]}}");
}
