/* spec tree: the strict reader. Checks size, UTF-8 and control characters on the raw
 * bytes, then walks libfyaml's event stream into spec_node trees, refusing nesting deeper
 * than SPEC_MAX_DEPTH, anchors, aliases, tags, merge keys, complex or duplicate keys and
 * a second document; libfyaml's own syntax errors are collected, never printed.
 * Typed getters follow docs/SPEC.md. Leaves out: what any key means. */
#include "spec/tree.h"

#include <libfyaml.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- nodes --- */

char *spec_strdup(struct spec_rd *rd, const char *s)
{
    return core_arena_strdup(rd->arena, s ? s : "");
}

struct spec_node *spec_node_new(struct spec_rd *rd, enum spec_node_kind kind, const char *file,
                                int line, int col)
{
    struct spec_node *n = core_arena_alloc(rd->arena, sizeof *n);
    if (!n)
        return NULL;
    n->kind = kind;
    n->text = "";
    n->file = file ? file : "";
    n->line = line;
    n->col = col;
    rd->nodes++;
    return n;
}

static bool text_is_null(const char *s, size_t len)
{
    return len == 0 || (len == 1 && s[0] == '~') ||
           (len == 4 &&
            (memcmp(s, "null", 4) == 0 || memcmp(s, "Null", 4) == 0 || memcmp(s, "NULL", 4) == 0));
}

struct spec_node *spec_node_scalar(struct spec_rd *rd, const char *text, bool plain,
                                   const char *file, int line, int col)
{
    struct spec_node *n = spec_node_new(rd, SPEC_NODE_SCALAR, file, line, col);
    if (!n)
        return NULL;
    n->text = spec_strdup(rd, text);
    if (!n->text)
        return NULL;
    n->len = strlen(n->text);
    n->plain = plain;
    n->null = plain && text_is_null(n->text, n->len);
    return n;
}

static void node_append(struct spec_node *parent, struct spec_node *child)
{
    child->parent = parent;
    child->next = NULL;
    if (parent->last)
        parent->last->next = child;
    else
        parent->first = child;
    parent->last = child;
    parent->count++;
}

struct spec_node *spec_map_add(struct spec_rd *rd, struct spec_node *map, const char *key_text,
                               struct spec_node *value)
{
    struct spec_node *k =
        spec_node_scalar(rd, key_text, true, value->file, value->line, value->col);
    if (!k)
        return NULL;
    k->is_key = true;
    k->parent = map;
    k->index = (int)map->count;
    value->key = k;
    node_append(map, value);
    return value;
}

void spec_node_replace(struct spec_node *old, struct spec_node *value)
{
    struct spec_node *p = old->parent;
    value->parent = p;
    value->key = old->key;
    value->index = old->index;
    value->is_key = false;
    value->next = old->next;
    if (!p)
        return;
    if (p->first == old) {
        p->first = value;
    } else {
        struct spec_node *q = p->first;
        while (q && q->next != old)
            q = q->next;
        if (q)
            q->next = value;
    }
    if (p->last == old)
        p->last = value;
}

/* --- messages --- */

static void quote_bytes(const char *s, size_t len, char *buf, size_t n_B)
{
    enum { SHOWN = 48 };
    size_t o = 0;
    if (n_B < 8) {
        if (n_B)
            buf[0] = '\0';
        return;
    }
    buf[o++] = '\'';
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (i >= SHOWN || o + 8 >= n_B) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        if (ch < 0x20 || ch == 0x7f || ch == '\\' || ch == '\'') {
            o += (size_t)snprintf(buf + o, n_B - o, "\\x%02x", ch);
        } else {
            buf[o++] = (char)ch;
        }
    }
    buf[o++] = '\'';
    buf[o] = '\0';
}

void spec_node_quote(const struct spec_node *n, char *buf, size_t n_B)
{
    quote_bytes(n->text, n->len, buf, n_B);
}

/* Appends text to buf, keeping it terminated; control bytes become '?'. */
static void path_put(char *buf, size_t n_B, size_t *o, const char *s, size_t len)
{
    for (size_t i = 0; i < len && *o + 1 < n_B; i++) {
        unsigned char ch = (unsigned char)s[i];
        buf[(*o)++] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    buf[*o] = '\0';
}

void spec_node_path(const struct spec_node *n, char *buf, size_t n_B)
{
    enum { CHAIN = 160 };
    const struct spec_node *chain[CHAIN];
    int k = 0;
    size_t o = 0;
    if (!n_B)
        return;
    buf[0] = '\0';
    for (const struct spec_node *p = n; p && k < CHAIN; p = p->parent)
        chain[k++] = p;
    for (int i = k - 1; i >= 0; i--) {
        const struct spec_node *p = chain[i];
        const struct spec_node *key = p->is_key ? p : p->key;
        if (key) {
            if (o)
                path_put(buf, n_B, &o, ".", 1);
            path_put(buf, n_B, &o, key->text, key->len);
        } else if (p->parent && p->parent->kind == SPEC_NODE_SEQ) {
            char idx[24];
            int m = snprintf(idx, sizeof idx, "[%d]", p->index);
            path_put(buf, n_B, &o, idx, (size_t)m);
        }
    }
}

enum us_status spec_fail(struct spec_rd *rd, const struct spec_node *n, const char *fmt, ...)
{
    char path[256];
    spec_node_path(n, path, sizeof path);
    va_list ap;
    va_start(ap, fmt);
    core_diag_vset(rd->d, US_EINPUT, n->file, n->line, n->col, path, fmt, ap);
    va_end(ap);
    rd->status = US_EINPUT;
    return US_EINPUT;
}

enum us_status spec_fail_missing(struct spec_rd *rd, const struct spec_node *map, const char *key)
{
    char path[256], full[300];
    spec_node_path(map, path, sizeof path);
    core_fmt(full, sizeof full, "%s%s%s", path, path[0] ? "." : "", key);
    /* point at "chip:" rather than at the first key inside chip, unless the mapping is a
     * whole file that its key names (model: config.json): then at the file itself */
    const struct spec_node *at =
        map->key && strcmp(map->key->file, map->file) == 0 ? map->key : map;
    rd->status = US_EINPUT;
    return core_diag_set(rd->d, at->file, at->line, at->col, full, "missing required key '%s'",
                         key);
}

enum us_status spec_fail_oom(struct spec_rd *rd)
{
    rd->status = US_ENOMEM;
    return core_diag_status(rd->d, US_ENOMEM, NULL, 0, 0, NULL, "out of memory");
}

/* --- the reader --- */

static void diag_sink(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
    /* libfyaml must not print: errors are collected and reported through us_diag */
    (void)diag;
    (void)user;
    (void)buf;
    (void)len;
}

/* Line and column (in characters) of byte offset off; both 1-based. */
static void text_pos(const char *text, size_t off, int *line, int *col)
{
    int l = 1, c = 1;
    for (size_t i = 0; i < off; i++) {
        unsigned char ch = (unsigned char)text[i];
        if (ch == '\n') {
            l++;
            c = 1;
        } else if ((ch & 0xC0u) != 0x80u) {
            c++;
        }
    }
    *line = l;
    *col = c;
}

struct frame {
    struct spec_node *node;
    struct spec_node *key; /* a mapping's key waiting for its value */
};

struct reader {
    struct spec_rd *rd;
    const char *text;
    size_t len;
    const char *file;
    int col_off;
    struct frame st[SPEC_MAX_DEPTH];
    int depth;
    int docs;
    struct spec_node *root;
};

static int key_cmp(const void *a, const void *b)
{
    const struct spec_node *x = *(const struct spec_node *const *)a;
    const struct spec_node *y = *(const struct spec_node *const *)b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->text, y->text, n);
    if (c)
        return c;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Sorting keeps a mapping with many keys at n log n instead of n^2. */
static enum us_status check_duplicates(struct reader *r, struct spec_node *map)
{
    if (map->count < 2)
        return US_OK;
    struct spec_node **keys = core_arena_alloc(r->rd->arena, map->count * sizeof *keys);
    if (!keys)
        return spec_fail_oom(r->rd);
    size_t k = 0;
    for (struct spec_node *v = map->first; v; v = v->next)
        keys[k++] = v->key;
    qsort(keys, k, sizeof *keys, key_cmp);
    for (size_t i = 1; i < k; i++) {
        if (keys[i]->len == keys[i - 1]->len &&
            memcmp(keys[i]->text, keys[i - 1]->text, keys[i]->len) == 0) {
            char q[80];
            spec_node_quote(keys[i], q, sizeof q);
            return spec_fail(r->rd, keys[i], "duplicate key %s (first at line %d)", q,
                             keys[i - 1]->line);
        }
    }
    return US_OK;
}

static void event_pos(struct reader *r, struct fy_event *e, int *line, int *col)
{
    const struct fy_mark *m = fy_event_start_mark(e);
    if (m) {
        *line = m->line + 1;
        *col = m->column + 1;
        struct fy_token *t = e->type == FYET_SCALAR ? fy_event_get_token(e) : NULL;
        if (t) {
            enum fy_scalar_style s = fy_token_scalar_style(t);
            /* libfyaml marks a quoted scalar at its first character, not the quote */
            if ((s == FYSS_SINGLE_QUOTED || s == FYSS_DOUBLE_QUOTED) && *col > 1)
                (*col)--;
        }
        if (*line == 1)
            *col += r->col_off;
        return;
    }
    /* an empty value has no mark: use its key, else its parent */
    if (r->depth > 0) {
        const struct frame *f = &r->st[r->depth - 1];
        const struct spec_node *at = f->key ? f->key : f->node;
        *line = at->line;
        *col = at->col;
    } else {
        *line = 1;
        *col = 1 + r->col_off;
    }
}

static bool is_white(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* Appends a piece of a single-quoted line to out, '' becoming '. */
static size_t put_unquoted(char *out, size_t o, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        out[o++] = s[i];
        if (s[i] == '\'' && i + 1 < n && s[i + 1] == '\'')
            i++;
    }
    return o;
}

/* The value of a single-quoted scalar from its source text between the quotes (YAML 1.2.2,
 * section 7.3.2): '' is one quote; a line break folds to one space, or to one newline per
 * empty line when empty lines follow it; white space around a break is dropped. Done here
 * rather than by fy_token_get_text, which in libfyaml 0.7.12 leaks its chunk buffer on runs
 * of '' (found by fuzz_spec; fuzz/corpus/fuzz_spec/leak-quotes.yaml). The value is never
 * longer than its source. NULL when out of memory. */
static char *single_quoted_text(struct spec_rd *rd, const char *s, size_t n, size_t *len)
{
    char *out = core_arena_alloc(rd->arena, n + 1);
    if (!out)
        return NULL;
    size_t o = 0, i = 0, empties = 0;
    bool first = true;
    for (;;) {
        size_t a = i, b;
        while (i < n && s[i] != '\n' && s[i] != '\r')
            i++;
        b = i;
        bool last = i >= n;
        if (!last)
            i += (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n') ? 2 : 1;
        if (!first)
            while (a < b && is_white(s[a]))
                a++;
        if (!last)
            while (b > a && is_white(s[b - 1]))
                b--;
        if (!first) {
            if (!last && a == b) {
                empties++;
                continue;
            }
            if (empties)
                for (; empties; empties--)
                    out[o++] = '\n';
            else
                out[o++] = ' ';
        }
        o = put_unquoted(out, o, s + a, b - a);
        first = false;
        if (last)
            break;
    }
    out[o] = '\0';
    *len = o;
    return out;
}

/* The value of any other scalar, read chunk by chunk. fy_token_get_text would do it, but in
 * libfyaml 0.7.12 it leaks its chunk buffer and returns NULL whenever its own length estimate
 * is short of the chunks, which fuzz_hfconfig found for lone carriage returns in a
 * double-quoted string (fuzz/corpus/fuzz_hfconfig/leak-cr.json). Reading the chunks here
 * leaks nothing, and a disagreement with the estimate sets *bad: the scalar is refused rather
 * than read one of two ways. src_B bounds any sane estimate. NULL when out of memory. */
static char *scalar_text(struct spec_rd *rd, struct fy_token *t, size_t src_B, size_t *len,
                         bool *bad)
{
    size_t want = fy_token_get_text_length(t);
    *len = 0;
    if (want > 2 * src_B + 16) { /* escapes such as \L grow 2 bytes into 3; never more */
        *bad = true;
        return NULL;
    }
    char *out = core_arena_alloc(rd->arena, want + 1);
    struct fy_token_iter *it = out ? fy_token_iter_create(t) : NULL;
    if (!it)
        return NULL;
    size_t o = 0;
    int err = 0;
    const struct fy_iter_chunk *ic = NULL;
    while ((ic = fy_token_iter_chunk_next(it, ic, &err)) != NULL) {
        if (ic->len > want - o) {
            *bad = true;
            break;
        }
        memcpy(out + o, ic->str, ic->len);
        o += ic->len;
    }
    fy_token_iter_destroy(it);
    if (err != 0 || o != want)
        *bad = true;
    *len = o;
    return out;
}

/* An anchor, alias or tag name for a message: printable and short, without quotes. */
static void token_text(struct fy_token *t, char *what, size_t n_B)
{
    size_t len = 0, o = 0;
    const char *s = t ? fy_token_get_text(t, &len) : NULL;
    for (size_t i = 0; s && i < len && i < 40 && o + 1 < n_B; i++) {
        unsigned char ch = (unsigned char)s[i];
        what[o++] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    if (n_B)
        what[o] = '\0';
}

/* Moves a message to where an anchor or tag is written, when libfyaml knows. */
static void token_pos(const struct reader *r, struct fy_token *t, struct spec_node *at)
{
    const struct fy_mark *m = fy_token_start_mark(t);
    if (!m)
        return;
    at->line = m->line + 1;
    at->col = m->column + 1 + (m->line == 0 ? r->col_off : 0);
}

/* Places a new node under the open collection (or makes it the root). */
static enum us_status attach(struct reader *r, struct spec_node *n)
{
    if (r->depth == 0) {
        if (r->root)
            return spec_fail(r->rd, n, "more than one value at the top level");
        r->root = n;
        return US_OK;
    }
    struct frame *f = &r->st[r->depth - 1];
    if (f->node->kind == SPEC_NODE_SEQ) {
        n->index = (int)f->node->count;
        node_append(f->node, n);
        return US_OK;
    }
    if (!f->key) {
        n->parent = f->node;
        n->is_key = true;
        n->index = (int)f->node->count;
        if (n->kind != SPEC_NODE_SCALAR)
            return spec_fail(r->rd, n, "a mapping key must be a plain string, not a %s",
                             n->kind == SPEC_NODE_MAP ? "mapping" : "sequence");
        if (n->null)
            return spec_fail(r->rd, n, "a mapping key must not be empty or null");
        if (n->plain && n->len == 2 && memcmp(n->text, "<<", 2) == 0)
            return spec_fail(r->rd, n, "merge keys (<<) are not allowed; write the keys out");
        f->key = n;
        return US_OK;
    }
    n->key = f->key;
    f->key = NULL;
    node_append(f->node, n);
    return US_OK;
}

static enum us_status on_node_event(struct reader *r, struct fy_event *e)
{
    struct spec_rd *rd = r->rd;
    int line, col;
    event_pos(r, e, &line, &col);
    struct spec_node at = {.file = r->file, .line = line, .col = col};
    if (r->depth > 0) {
        /* for messages before the node exists: its would-be parent and key */
        at.parent = r->st[r->depth - 1].node;
        at.key = r->st[r->depth - 1].key;
        if (!at.key && at.parent->kind == SPEC_NODE_SEQ)
            at.index = (int)at.parent->count;
    }
    char what[80];
    struct fy_token *anchor = fy_event_get_anchor_token(e);
    if (anchor) {
        token_text(anchor, what, sizeof what);
        token_pos(r, anchor, &at);
        if (at.col > 1)
            at.col--; /* libfyaml marks the name; point at the '&' */
        return spec_fail(rd, &at, "anchors (&%s) are not allowed; write the value out", what);
    }
    struct fy_token *tag = fy_event_get_tag_token(e);
    if (tag) {
        token_text(tag, what, sizeof what);
        token_pos(r, tag, &at);
        return spec_fail(rd, &at, "tags (%s) are not allowed", what);
    }
    if (rd->nodes >= SPEC_MAX_NODES)
        return spec_fail(rd, &at, "more than %d nodes in one spec", SPEC_MAX_NODES);

    struct spec_node *n;
    if (e->type == FYET_SCALAR) {
        n = spec_node_new(rd, SPEC_NODE_SCALAR, r->file, line, col);
        if (!n)
            return spec_fail_oom(rd);
        struct fy_token *t = fy_event_get_token(e);
        size_t len = 0;
        char *copy = NULL;
        if (t && fy_token_scalar_style(t) == FYSS_SINGLE_QUOTED) {
            const struct fy_mark *m0 = fy_token_start_mark(t), *m1 = fy_token_end_mark(t);
            if (m0 && m1 && m0->input_pos <= m1->input_pos && m1->input_pos <= r->len)
                copy = single_quoted_text(rd, r->text + m0->input_pos,
                                          m1->input_pos - m0->input_pos, &len);
            else
                return spec_fail(rd, &at, "a single-quoted string the reader cannot place");
        } else if (t) {
            bool bad = false;
            copy = scalar_text(rd, t, r->len, &len, &bad);
            if (bad)
                return spec_fail(rd, &at,
                                 "the YAML reader cannot read this scalar reliably (libfyaml "
                                 "disagrees with itself about its length); write it on one "
                                 "line with \\n line breaks");
        } else {
            copy = core_arena_alloc(rd->arena, 1); /* an empty value */
        }
        if (!copy)
            return spec_fail_oom(rd);
        copy[len] = '\0';
        n->text = copy;
        n->len = len;
        n->plain = !t || fy_token_scalar_style(t) == FYSS_PLAIN;
        n->null = n->plain && text_is_null(copy, len);
    } else {
        n = spec_node_new(rd, e->type == FYET_MAPPING_START ? SPEC_NODE_MAP : SPEC_NODE_SEQ,
                          r->file, line, col);
        if (!n)
            return spec_fail_oom(rd);
    }
    enum us_status st = attach(r, n);
    if (st != US_OK)
        return st;
    if (n->kind != SPEC_NODE_SCALAR) {
        if (r->depth >= SPEC_MAX_DEPTH)
            return spec_fail(rd, n, "nesting deeper than %d levels", SPEC_MAX_DEPTH);
        r->st[r->depth].node = n;
        r->st[r->depth].key = NULL;
        r->depth++;
    }
    return US_OK;
}

static enum us_status on_event(struct reader *r, struct fy_event *e)
{
    switch (e->type) {
    case FYET_DOCUMENT_START:
        if (++r->docs > 1) {
            int line, col;
            event_pos(r, e, &line, &col);
            return core_diag_set(r->rd->d, r->file, line, col, NULL,
                                 "a second document starts here; a spec is one document");
        }
        return US_OK;
    case FYET_ALIAS: {
        int line, col;
        char what[80];
        event_pos(r, e, &line, &col);
        token_text(fy_event_get_token(e), what, sizeof what);
        struct spec_node at = {.file = r->file, .line = line, .col = col};
        if (r->depth > 0) {
            at.parent = r->st[r->depth - 1].node;
            at.key = r->st[r->depth - 1].key;
        }
        return spec_fail(r->rd, &at, "aliases (*%s) are not allowed; write the value out", what);
    }
    case FYET_SCALAR:
    case FYET_MAPPING_START:
    case FYET_SEQUENCE_START:
        return on_node_event(r, e);
    case FYET_MAPPING_END:
    case FYET_SEQUENCE_END: {
        if (r->depth == 0)
            return US_OK;
        struct spec_node *n = r->st[--r->depth].node;
        return n->kind == SPEC_NODE_MAP ? check_duplicates(r, n) : US_OK;
    }
    default:
        return US_OK;
    }
}

/* libfyaml places errors at the end of input one line past the last; put them at the end
 * of the last line instead. */
static void clamp_pos(const char *text, size_t len, int *line, int *col)
{
    int lines = 1;
    size_t last = 0; /* offset where the last line starts */
    for (size_t i = 0; i < len; i++)
        if (text[i] == '\n' && i + 1 < len) {
            lines++;
            last = i + 1;
        }
    if (*line <= lines)
        return;
    size_t end = len;
    while (end > last && (text[end - 1] == '\n' || text[end - 1] == '\r'))
        end--;
    int l, c;
    text_pos(text + last, end - last, &l, &c);
    *line = lines;
    *col = c;
}

static enum us_status syntax_error(struct reader *r, struct fy_diag *diag)
{
    void *it = NULL;
    struct fy_diag_error *err;
    while ((err = fy_diag_errors_iterate(diag, &it)) != NULL) {
        if (err->type < FYET_ERROR)
            continue;
        /* collected errors are already 1-based */
        int line = err->line > 0 ? err->line : 0;
        int col = err->column > 0 ? err->column : 0;
        clamp_pos(r->text, r->len, &line, &col);
        if (line == 1)
            col += r->col_off;
        char msg[300];
        core_strlcpy(msg, err->msg ? err->msg : "invalid YAML", sizeof msg);
        for (char *p = msg; *p; p++)
            if ((unsigned char)*p < 0x20)
                *p = ' ';
        return core_diag_set(r->rd->d, r->file, line, col, NULL, "syntax error: %s", msg);
    }
    return core_diag_set(r->rd->d, r->file, 0, 0, NULL, "syntax error");
}

static enum us_status check_bytes(struct spec_rd *rd, const char *file, const char *text,
                                  size_t len, int col_off)
{
    int line, col;
    if (len > SPEC_MAX_FILE_B)
        return core_diag_set(rd->d, file, 0, 0, NULL, "input is %zu bytes, over the limit of %u",
                             len, SPEC_MAX_FILE_B);
    size_t bad = core_utf8_check((const unsigned char *)text, len);
    if (bad < len) {
        text_pos(text, bad, &line, &col);
        if (line == 1)
            col += col_off;
        return core_diag_set(rd->d, file, line, col, NULL, "invalid UTF-8 (byte 0x%02x)",
                             (unsigned char)text[bad]);
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)text[i];
        if ((ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') || ch == 0x7f) {
            text_pos(text, i, &line, &col);
            if (line == 1)
                col += col_off;
            return core_diag_set(rd->d, file, line, col, NULL,
                                 "control character 0x%02x is not allowed", ch);
        }
    }
    return US_OK;
}

enum us_status spec_read_text(struct spec_rd *rd, const char *file, const char *text, size_t len,
                              int col_off, bool allow_empty, struct spec_node **root)
{
    *root = NULL;
    file = spec_strdup(rd, file);
    if (!file)
        return spec_fail_oom(rd);
    enum us_status st = check_bytes(rd, file, text, len, col_off);
    if (st != US_OK)
        return rd->status = st;

    struct reader r;
    memset(&r, 0, sizeof r);
    r.rd = rd;
    r.text = text;
    r.len = len;
    r.file = file;
    r.col_off = col_off;

    if (len > 0) {
        struct fy_diag_cfg dc;
        fy_diag_cfg_default(&dc);
        dc.fp = NULL;
        dc.output_fn = diag_sink;
        dc.user = NULL;
        dc.level = FYET_ERROR;
        dc.colorize = false;
        struct fy_diag *diag = fy_diag_create(&dc);
        if (!diag)
            return spec_fail_oom(rd);
        fy_diag_set_collect_errors(diag, true);
        struct fy_parse_cfg pc;
        memset(&pc, 0, sizeof pc);
        pc.flags = (enum fy_parse_cfg_flags)(FYPCF_QUIET | FYPCF_DISABLE_MMAP_OPT);
        pc.diag = diag;
        struct fy_parser *p = fy_parser_create(&pc);
        if (!p) {
            fy_diag_destroy(diag);
            return spec_fail_oom(rd);
        }
        if (fy_parser_set_string(p, text, len) != 0) {
            fy_parser_destroy(p);
            fy_diag_destroy(diag);
            return spec_fail_oom(rd);
        }
        for (;;) {
            struct fy_event *e = fy_parser_parse(p);
            if (!e)
                break;
            st = on_event(&r, e);
            fy_parser_event_free(p, e);
            if (st != US_OK)
                break;
        }
        if (st == US_OK && fy_parser_get_stream_error(p))
            st = syntax_error(&r, diag);
        fy_parser_destroy(p);
        fy_diag_destroy(diag);
        if (st != US_OK)
            return rd->status = st;
    }
    if (!r.root) {
        if (!allow_empty)
            return rd->status = core_diag_set(rd->d, file, 0, 0, NULL, "empty document");
        r.root = spec_node_scalar(rd, "", true, file, 1, 1 + col_off);
        if (!r.root)
            return spec_fail_oom(rd);
    }
    *root = r.root;
    return US_OK;
}

enum us_status spec_read_file(struct spec_rd *rd, const char *path, struct spec_node **root)
{
    char *buf = NULL;
    size_t len = 0;
    *root = NULL;
    enum us_status st = core_read_file(path, SPEC_MAX_FILE_B, &buf, &len, rd->d);
    if (st != US_OK)
        return rd->status = st;
    st = spec_read_text(rd, path, buf, len, 0, false, root);
    free(buf);
    return st;
}

/* --- lookups --- */

struct spec_node *spec_get(const struct spec_node *map, const char *key)
{
    if (!map || map->kind != SPEC_NODE_MAP)
        return NULL;
    size_t kl = strlen(key);
    for (struct spec_node *v = map->first; v; v = v->next)
        if (v->key && v->key->len == kl && memcmp(v->key->text, key, kl) == 0)
            return v;
    return NULL;
}

bool spec_is_map(const struct spec_node *n)
{
    return n && n->kind == SPEC_NODE_MAP;
}

/* --- typed getters --- */

/* What a node is, for "expected X, got Y". */
static void describe(const struct spec_node *n, char *buf, size_t n_B)
{
    if (n->kind == SPEC_NODE_MAP) {
        core_strlcpy(buf, "a mapping", n_B);
    } else if (n->kind == SPEC_NODE_SEQ) {
        core_strlcpy(buf, "a sequence", n_B);
    } else if (n->null) {
        core_strlcpy(buf, "null", n_B);
    } else {
        char q[80];
        spec_node_quote(n, q, sizeof q);
        core_fmt(buf, n_B, "%s%s", n->plain ? "" : "the quoted string ", q);
    }
}

/* Common checks for numbers and booleans: a plain, non-null scalar. */
static int want_plain(struct spec_rd *rd, const struct spec_node *n, const char *what)
{
    char got[120];
    if (n->kind != SPEC_NODE_SCALAR || n->null) {
        describe(n, got, sizeof got);
        spec_fail(rd, n, "expected %s, got %s", what, got);
        return -1;
    }
    if (!n->plain) {
        describe(n, got, sizeof got);
        spec_fail(rd, n, "expected %s, got %s (write it without quotes)", what, got);
        return -1;
    }
    return 0;
}

static bool all_digits(const char *s)
{
    if (*s == '-')
        s++;
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

int spec_as_int(struct spec_rd *rd, const struct spec_node *n, int64_t lo, int64_t hi,
                unsigned flags, int64_t *out)
{
    if (want_plain(rd, n, "an integer"))
        return -1;
    char q[80];
    spec_node_quote(n, q, sizeof q);
    int64_t v = 0;
    if (core_parse_i64(n->text, &v) != 0) {
        double x = 0;
        if (all_digits(n->text)) {
            spec_fail(rd, n, "%s is out of range (%lld..%lld)", q, (long long)lo, (long long)hi);
            return -1;
        }
        /* 1e6-style counts: whole numbers only, and only where the field allows them */
        bool has_exp = strchr(n->text, 'e') || strchr(n->text, 'E');
        if (!(flags & SPEC_EXP) || !has_exp || core_parse_double(n->text, &x) != 0 ||
            x != floor(x)) {
            spec_fail(rd, n, "expected an integer, got %s", q);
            return -1;
        }
        if (x < (double)lo || x > (double)hi) {
            spec_fail(rd, n, "%s is out of range (%lld..%lld)", q, (long long)lo, (long long)hi);
            return -1;
        }
        v = (int64_t)x;
    }
    if (v < lo) {
        if (lo == 1 && v <= 0)
            spec_fail(rd, n, "%lld must be positive (at least 1)", (long long)v);
        else if (lo == 0)
            spec_fail(rd, n, "%lld must not be negative", (long long)v);
        else
            spec_fail(rd, n, "%lld is below the minimum of %lld", (long long)v, (long long)lo);
        return -1;
    }
    if (v > hi) {
        spec_fail(rd, n, "%lld is above the maximum of %lld", (long long)v, (long long)hi);
        return -1;
    }
    *out = v;
    return 1;
}

int spec_as_real(struct spec_rd *rd, const struct spec_node *n, double lo, double hi,
                 unsigned flags, double *out)
{
    if (want_plain(rd, n, "a number"))
        return -1;
    char q[80];
    spec_node_quote(n, q, sizeof q);
    double v = 0;
    if (core_parse_double(n->text, &v) != 0) {
        spec_fail(rd, n, "expected a number, got %s", q);
        return -1;
    }
    bool open = (flags & SPEC_LO_OPEN) != 0;
    if (open ? !(v > lo) : !(v >= lo)) {
        if (lo == 0.0 && open)
            spec_fail(rd, n, "%s must be positive (greater than 0)", q);
        else if (lo == 0.0)
            spec_fail(rd, n, "%s must not be negative", q);
        else
            spec_fail(rd, n, "%s is below the minimum of %s%g", q, open ? "(exclusive) " : "", lo);
        return -1;
    }
    if (v > hi) {
        spec_fail(rd, n, "%s is above the maximum of %g", q, hi);
        return -1;
    }
    *out = v;
    return 1;
}

int spec_as_bool(struct spec_rd *rd, const struct spec_node *n, bool *out)
{
    if (want_plain(rd, n, "true or false"))
        return -1;
    if (strcmp(n->text, "true") == 0) {
        *out = true;
    } else if (strcmp(n->text, "false") == 0) {
        *out = false;
    } else {
        char q[80];
        spec_node_quote(n, q, sizeof q);
        spec_fail(rd, n, "expected true or false, got %s", q);
        return -1;
    }
    return 1;
}

int spec_as_str(struct spec_rd *rd, const struct spec_node *n, char *out, size_t n_B)
{
    if (n->kind != SPEC_NODE_SCALAR || n->null) {
        char got[120];
        describe(n, got, sizeof got);
        spec_fail(rd, n, "expected a string, got %s", got);
        return -1;
    }
    if (n->len + 1 > n_B) {
        spec_fail(rd, n, "string is %zu bytes, over the limit of %zu", n->len, n_B - 1);
        return -1;
    }
    for (size_t i = 0; i < n->len; i++) {
        unsigned char ch = (unsigned char)n->text[i];
        if (ch < 0x20 || ch == 0x7f) {
            spec_fail(rd, n, "control character 0x%02x in a string", ch);
            return -1;
        }
    }
    memcpy(out, n->text, n->len + 1);
    return 1;
}

int spec_as_enum(struct spec_rd *rd, const struct spec_node *n, const char *const *names, int count,
                 int *out)
{
    char known[256];
    size_t o = 0;
    known[0] = '\0';
    for (int i = 0; i < count; i++) {
        if (n->kind == SPEC_NODE_SCALAR && !n->null && strcmp(n->text, names[i]) == 0 &&
            strlen(names[i]) == n->len) {
            *out = i;
            return 1;
        }
        o += (size_t)snprintf(known + o, o < sizeof known ? sizeof known - o : 0, "%s%s",
                              i ? ", " : "", names[i]);
        if (o >= sizeof known)
            o = sizeof known - 1;
    }
    char got[120];
    describe(n, got, sizeof got);
    spec_fail(rd, n, "unknown value %s (expected one of: %s)", got, known);
    return -1;
}

int spec_check_map(struct spec_rd *rd, const struct spec_node *n)
{
    if (n->kind == SPEC_NODE_MAP)
        return 0;
    char got[120];
    describe(n, got, sizeof got);
    spec_fail(rd, n, "expected a mapping, got %s", got);
    return -1;
}

int spec_check_keys(struct spec_rd *rd, const struct spec_node *n, const struct spec_key *schema)
{
    if (spec_check_map(rd, n))
        return -1;
    for (const struct spec_node *v = n->first; v; v = v->next) {
        const struct spec_node *k = v->key;
        bool ok = false;
        for (const struct spec_key *s = schema; s->key && !ok; s++)
            ok = strlen(s->key) == k->len && memcmp(s->key, k->text, k->len) == 0;
        if (ok)
            continue;
        char known[320], q[80];
        size_t o = 0;
        known[0] = '\0';
        for (const struct spec_key *s = schema; s->key; s++) {
            o += (size_t)snprintf(known + o, o < sizeof known ? sizeof known - o : 0, "%s%s",
                                  s == schema ? "" : ", ", s->key);
            if (o >= sizeof known)
                o = sizeof known - 1;
        }
        spec_node_quote(k, q, sizeof q);
        spec_fail(rd, k, "unknown key %s (known: %s)", q, known);
        return -1;
    }
    return 0;
}

/* Looks a key up for a getter: 1 found (*n set), 0 absent, -1 error (missing and required). */
static int lookup(struct spec_rd *rd, const struct spec_node *map, const char *key, unsigned flags,
                  const struct spec_node **n)
{
    *n = spec_get(map, key);
    if (*n && (flags & SPEC_NULL_OK) && (*n)->null)
        *n = NULL;
    if (*n)
        return 1;
    if (flags & SPEC_REQ) {
        spec_fail_missing(rd, map, key);
        return -1;
    }
    return 0;
}

int spec_get_int(struct spec_rd *rd, const struct spec_node *map, const char *key, int64_t lo,
                 int64_t hi, unsigned flags, int64_t *out)
{
    const struct spec_node *n;
    int r = lookup(rd, map, key, flags, &n);
    return r == 1 ? spec_as_int(rd, n, lo, hi, flags, out) : r;
}

int spec_get_i32(struct spec_rd *rd, const struct spec_node *map, const char *key, int lo, int hi,
                 unsigned flags, int *out)
{
    int64_t v = 0;
    int r = spec_get_int(rd, map, key, lo, hi, flags, &v);
    if (r == 1)
        *out = (int)v;
    return r;
}

int spec_get_real(struct spec_rd *rd, const struct spec_node *map, const char *key, double lo,
                  double hi, unsigned flags, double *out)
{
    const struct spec_node *n;
    int r = lookup(rd, map, key, flags, &n);
    return r == 1 ? spec_as_real(rd, n, lo, hi, flags, out) : r;
}

int spec_get_bool(struct spec_rd *rd, const struct spec_node *map, const char *key, unsigned flags,
                  bool *out)
{
    const struct spec_node *n;
    int r = lookup(rd, map, key, flags, &n);
    return r == 1 ? spec_as_bool(rd, n, out) : r;
}

int spec_get_str(struct spec_rd *rd, const struct spec_node *map, const char *key, unsigned flags,
                 char *out, size_t n_B)
{
    const struct spec_node *n;
    int r = lookup(rd, map, key, flags, &n);
    return r == 1 ? spec_as_str(rd, n, out, n_B) : r;
}

int spec_get_enum(struct spec_rd *rd, const struct spec_node *map, const char *key,
                  const char *const *names, int count, unsigned flags, int *out)
{
    const struct spec_node *n;
    int r = lookup(rd, map, key, flags, &n);
    return r == 1 ? spec_as_enum(rd, n, names, count, out) : r;
}

/* --- names --- */

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

bool spec_is_path(const char *name)
{
    return strchr(name, '/') || ends_with(name, ".yaml") || ends_with(name, ".yml") ||
           ends_with(name, ".json");
}

void spec_base_name(const char *path, char *out, size_t n_B)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t len = strlen(base);
    if (strcmp(base, "config.json") == 0 && slash && slash > path) {
        /* HuggingFace layout: the folder names the model */
        const char *end = slash;
        const char *start = end;
        while (start > path && start[-1] != '/')
            start--;
        base = start;
        len = (size_t)(end - start);
    } else {
        static const char *const suffixes[] = {".yaml", ".yml", ".json"};
        for (size_t i = 0; i < US_ARRAY_LEN(suffixes); i++) {
            size_t sl = strlen(suffixes[i]);
            if (len > sl && memcmp(base + len - sl, suffixes[i], sl) == 0) {
                len -= sl;
                break;
            }
        }
    }
    if (len == 0) {
        core_strlcpy(out, "model", n_B);
        return;
    }
    if (n_B == 0)
        return;
    if (len >= n_B)
        len = n_B - 1;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)base[i];
        out[i] = (ch < 0x20 || ch == 0x7f) ? '_' : (char)ch;
    }
    out[len] = '\0';
}

int spec_get_map(struct spec_rd *rd, const struct spec_node *map, const char *key,
                 const struct spec_key *schema, unsigned flags, const struct spec_node **out)
{
    int r = lookup(rd, map, key, flags, out);
    if (r != 1)
        return r;
    return spec_check_keys(rd, *out, schema) ? -1 : 1;
}

int spec_get_ints(struct spec_rd *rd, const struct spec_node *map, const char *key, int min_n,
                  int max_n, int lo, int hi, unsigned flags, int *out, int *n)
{
    const struct spec_node *s;
    int r = lookup(rd, map, key, flags, &s);
    if (r != 1)
        return r;
    if (s->kind != SPEC_NODE_SEQ) {
        char got[120];
        describe(s, got, sizeof got);
        spec_fail(rd, s, "expected a sequence of %d to %d integers, got %s", min_n, max_n, got);
        return -1;
    }
    if (s->count < (size_t)min_n || s->count > (size_t)max_n) {
        if (min_n == max_n)
            spec_fail(rd, s, "expected %d integers, got %zu", min_n, s->count);
        else
            spec_fail(rd, s, "expected %d to %d integers, got %zu", min_n, max_n, s->count);
        return -1;
    }
    int i = 0;
    for (const struct spec_node *v = s->first; v; v = v->next) {
        int64_t x = 0;
        if (spec_as_int(rd, v, lo, hi, 0, &x) < 0)
            return -1;
        out[i++] = (int)x;
    }
    *n = i;
    return 1;
}

int spec_get_flags(struct spec_rd *rd, const struct spec_node *map, const char *key,
                   const char *const *names, int count, unsigned flags, unsigned *out)
{
    const struct spec_node *s;
    int r = lookup(rd, map, key, flags, &s);
    if (r != 1)
        return r;
    if (s->kind != SPEC_NODE_SEQ) {
        char got[120];
        describe(s, got, sizeof got);
        spec_fail(rd, s, "expected a sequence of names, got %s", got);
        return -1;
    }
    unsigned bits = 0;
    for (const struct spec_node *v = s->first; v; v = v->next) {
        int k = 0;
        if (spec_as_enum(rd, v, names, count, &k) < 0)
            return -1;
        if (bits & (1u << k)) {
            spec_fail(rd, v, "'%s' is listed twice", names[k]);
            return -1;
        }
        bits |= 1u << k;
    }
    *out = bits;
    return 1;
}

void spec_default_name(const struct spec_node *n, const char *hint, const char *fallback, char *out,
                       size_t n_B)
{
    const char *path = hint ? hint : (!n->parent && n->file && n->file[0] ? n->file : NULL);
    if (!path) {
        core_strlcpy(out, fallback, n_B);
        return;
    }
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t len = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    core_fmt(out, n_B, "%.*s", (int)len, base);
}

enum us_status spec_rd_init(struct spec_rd *rd, struct us_diag *d, const char *file)
{
    memset(rd, 0, sizeof *rd);
    rd->d = d;
    rd->status = US_EINPUT;
    rd->arena = core_arena_create(64 * 1024);
    if (!rd->arena)
        return core_diag_status(d, US_ENOMEM, file, 0, 0, NULL, "out of memory");
    return US_OK;
}
