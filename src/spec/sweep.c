/* spec/sweep: loads a sweep file (a base job and axes of overrides) with the same strict
 * reader as every other spec: unknown keys, wrong types, duplicate keys, bad UTF-8 and
 * oversized or too-deep files are refused with file:line:col and the field path. Each axis
 * value becomes the text of one `--set key=value` override. */
#include <string.h>

#include "spec/tree.h"

static const struct spec_key sweep_schema[] = {
    {"job", SPEC_KEY_LEAF, NULL},
    {"axes", SPEC_KEY_LEAF, NULL}, /* a mapping of free-form field paths; checked below */
    {"engine", SPEC_KEY_LEAF, NULL},
    {NULL, SPEC_KEY_LEAF, NULL}};

/* Writes a scalar as override text: plain scalars as they are, quoted ones re-quoted. */
static char *value_text(struct spec_rd *rd, const struct spec_node *v)
{
    if (v->plain)
        return spec_strdup(rd, v->text);
    size_t n = 2 * v->len + 3, k = 0;
    char *out = core_arena_alloc(rd->arena, n);
    if (!out)
        return NULL;
    out[k++] = '"';
    for (size_t i = 0; i < v->len; i++) {
        char c = v->text[i];
        if (c == '"' || c == '\\')
            out[k++] = '\\';
        out[k++] = c;
    }
    out[k++] = '"';
    out[k] = '\0';
    return out;
}

enum us_status spec_sweep_load(const char *path, struct spec_sweep *s, struct us_diag *d)
{
    memset(s, 0, sizeof *s);
    struct spec_rd rd;
    if (spec_rd_init(&rd, d, path) != US_OK)
        return US_ENOMEM;
    s->arena = rd.arena;
    struct spec_node *root;
    enum us_status st = spec_read_file(&rd, path, &root);
    if (st != US_OK)
        return st;
    SPEC_TRY(&rd, spec_check_map(&rd, root));
    SPEC_TRY(&rd, spec_check_keys(&rd, root, sweep_schema));
    char job[512];
    SPEC_TRY(&rd, spec_get_str(&rd, root, "job", SPEC_REQ, job, sizeof job));
    const char *slash = strrchr(path, '/');
    if (job[0] != '/' && slash)
        core_fmt(s->job_path, sizeof s->job_path, "%.*s/%s", (int)(slash - path), path, job);
    else
        core_strlcpy(s->job_path, job, sizeof s->job_path);
    static const char *const engines[] = {"closed-form", "event"};
    int engine = 0;
    SPEC_TRY(&rd, spec_get_enum(&rd, root, "engine", engines, 2, 0, &engine));
    s->closed_form = engine == 0;
    const struct spec_node *axes = spec_get(root, "axes");
    if (!axes)
        return spec_fail_missing(&rd, root, "axes");
    if (!spec_is_map(axes) || axes->count == 0)
        return spec_fail(&rd, axes,
                         "a mapping of field path to a list of values, e.g. "
                         "{parallel.tp: [4, 8]}");
    s->points = 1;
    for (const struct spec_node *v = axes->first; v; v = v->next) {
        if (s->naxes == SPEC_SWEEP_MAX_AXES)
            return spec_fail(&rd, v->key, "at most %d axes", SPEC_SWEEP_MAX_AXES);
        struct spec_sweep_axis *ax = &s->axes[s->naxes];
        if (v->key->len == 0 || v->key->len >= sizeof ax->key || strchr(v->key->text, '='))
            return spec_fail(&rd, v->key, "an axis is a field path such as parallel.tp");
        core_strlcpy(ax->key, v->key->text, sizeof ax->key);
        if (v->kind != SPEC_NODE_SEQ || v->count < 1 || v->count > SPEC_SWEEP_MAX_VALUES)
            return spec_fail(&rd, v, "a list of 1 to %d values", SPEC_SWEEP_MAX_VALUES);
        ax->values = core_arena_alloc(rd.arena, sizeof(char *) * v->count);
        if (!ax->values)
            return spec_fail_oom(&rd);
        for (const struct spec_node *it = v->first; it; it = it->next) {
            if (it->kind != SPEC_NODE_SCALAR || it->null)
                return spec_fail(&rd, it, "axis values are numbers, names or strings");
            if (strlen(it->text) != it->len)
                return spec_fail(&rd, it, "a value may not contain a NUL byte");
            if (it->len > SPEC_SWEEP_MAX_VALUE_B)
                return spec_fail(&rd, it, "axis values are at most %d bytes",
                                 SPEC_SWEEP_MAX_VALUE_B);
            char *t = value_text(&rd, it);
            if (!t)
                return spec_fail_oom(&rd);
            ax->values[ax->nvalues++] = t;
        }
        s->points *= ax->nvalues;
        if (s->points > SPEC_SWEEP_MAX_POINTS)
            return spec_fail(&rd, v, "the grid has over %lld points", SPEC_SWEEP_MAX_POINTS);
        s->naxes++;
    }
    return US_OK;
}

void spec_sweep_fini(struct spec_sweep *s)
{
    if (s) {
        core_arena_destroy(s->arena);
        s->arena = NULL;
    }
}
