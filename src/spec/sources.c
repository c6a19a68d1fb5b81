/* spec sources: the comment a preset (or a user's file) writes beside each value - its
 * source key, derivation or assumption (docs/CATALOG.md) - paired with the field path the
 * line sets, so `show` can print every number with where it came from. The YAML is read by
 * the strict reader (tree.c); only the comment after a value, which YAML discards, is taken
 * from the line the reader placed that value on. Leaves out: comments on lines of their own
 * (file headers) and values that span lines. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "spec/tree.h"

struct src_walk {
    const char *text; /* the file's raw text */
    size_t len;
    size_t *line_start; /* offset of line l + 1 at [l]; one pass over the text, not per node */
    int nlines;
    int last_line; /* one entry per line: the first field on it */
    struct spec_source *out;
    size_t n, cap;
    bool oom;
};

/* The bytes of 1-based line `line` of the text, or NULL. */
static const char *line_at(const struct src_walk *w, int line, size_t *n)
{
    if (line < 1 || line > w->nlines)
        return NULL;
    const char *p = w->text + w->line_start[line - 1], *end = w->text + w->len;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    *n = nl ? (size_t)(nl - p) : (size_t)(end - p);
    return p;
}

/* Indexes the starts of the text's lines; false when out of memory. */
static bool index_lines(struct src_walk *w)
{
    size_t count = 1;
    for (size_t i = 0; i < w->len; i++)
        count += w->text[i] == '\n';
    if (count > (size_t)INT_MAX)
        count = (size_t)INT_MAX;
    w->line_start = malloc(count * sizeof *w->line_start);
    if (!w->line_start)
        return false;
    w->line_start[0] = 0;
    w->nlines = 1;
    for (size_t i = 0; i < w->len && w->nlines < (int)count; i++)
        if (w->text[i] == '\n')
            w->line_start[w->nlines++] = i + 1;
    return true;
}

/* Offset of the comment's '#' in s[from..n) - a '#' after blank space and outside quotes,
 * as YAML 1.2 sec. 6.6 starts one - or n when the line has none. */
static size_t comment_at(const char *s, size_t n, size_t from)
{
    char quote = 0;
    for (size_t i = from; i < n; i++) {
        char c = s[i];
        if (quote) {
            if (c == quote)
                quote = 0;
        } else if (c == '"' || c == '\'') {
            quote = c;
        } else if (c == '#' && (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t')) {
            return i;
        }
    }
    return n;
}

static void copy_trimmed(char *dst, size_t cap, const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        n--;
    if (n >= cap) { /* cut on a UTF-8 character boundary: never before a continuation byte */
        n = cap - 1;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(dst, s, n);
    dst[n] = '\0';
}

/* Records node n (a mapping value or sequence item) when its line carries a comment. */
static void note_node(struct src_walk *w, const struct spec_node *n)
{
    const struct spec_node *anchor = n->key ? n->key : n;
    if (anchor->line <= 0 || anchor->line == w->last_line)
        return;
    size_t ln = 0;
    const char *s = line_at(w, anchor->line, &ln);
    if (!s)
        return;
    /* the value starts on the key's line for scalars and flow collections; a block
     * collection starts below, and the key line's comment describes all of it */
    bool inline_value = n->line == anchor->line && n->col > 0;
    size_t from = inline_value ? (size_t)(n->col - 1) : (size_t)(anchor->col > 0 ? anchor->col : 1);
    if (from > ln)
        return;
    size_t hash = comment_at(s, ln, from);
    if (hash >= ln)
        return;
    w->last_line = anchor->line;
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 32;
        struct spec_source *p = realloc(w->out, cap * sizeof *p);
        if (!p) {
            w->oom = true;
            return;
        }
        w->out = p;
        w->cap = cap;
    }
    struct spec_source *e = &w->out[w->n++];
    spec_node_path(n, e->path, sizeof e->path);
    e->value[0] = '\0';
    if (inline_value)
        copy_trimmed(e->value, sizeof e->value, s + from, hash - from);
    size_t skip = hash + 1;
    copy_trimmed(e->note, sizeof e->note, s + skip, ln - skip);
}

static void walk(struct src_walk *w, const struct spec_node *n)
{
    for (const struct spec_node *c = n->first; c && !w->oom; c = c->next) {
        note_node(w, c);
        if (c->kind != SPEC_NODE_SCALAR)
            walk(w, c);
    }
}

enum us_status spec_sources_load(const char *name_or_path, bool model, struct spec_source **out,
                                 size_t *n, struct us_diag *d)
{
    *out = NULL;
    *n = 0;
    struct spec_rd rd;
    if (spec_rd_init(&rd, d, NULL) != US_OK)
        return US_ENOMEM;
    const char *name = name_or_path ? name_or_path : "";
    struct spec_node *root = NULL;
    enum us_status st = spec_resolve(&rd, model, name, "", NULL, &root);
    char *file_text = NULL;
    struct src_walk w = {0};
    if (st == US_OK) {
        const struct catalog_entry *e =
            spec_is_path(name)
                ? NULL
                : catalog_find(model ? CATALOG_KIND_MODEL : CATALOG_KIND_SYSTEM, name);
        if (e) {
            w.text = e->text;
            w.len = e->len;
        } else {
            st = core_read_file(name, SPEC_MAX_FILE_B, &file_text, &w.len, d);
            w.text = file_text;
        }
    }
    if (st == US_OK && root && root->kind != SPEC_NODE_SCALAR) {
        if (index_lines(&w))
            walk(&w, root);
        else
            w.oom = true;
        if (w.oom) {
            free(w.out);
            w.out = NULL;
            w.n = 0;
            st = core_diag_status(d, US_ENOMEM, NULL, 0, 0, NULL, "out of memory");
        }
    }
    free(w.line_start);
    free(file_text);
    core_arena_destroy(rd.arena);
    if (st != US_OK) {
        free(w.out);
        return st;
    }
    *out = w.out;
    *n = w.n;
    return US_OK;
}
