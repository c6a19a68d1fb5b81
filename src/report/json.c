/* report/json: streaming writer; see json.h. */
#include "report/json.h"

#include <math.h>

#include "core/core.h"

void json_init(struct json_w *w, FILE *f, bool pretty)
{
    w->f = f;
    w->depth = 0;
    w->first[0] = true;
    w->pretty = pretty;
}

static void json_escape(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned c = *p;
        switch (c) {
        case '"':
            fputs("\\\"", f);
            break;
        case '\\':
            fputs("\\\\", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        case '\r':
            fputs("\\r", f);
            break;
        default:
            if (c < 0x20)
                fprintf(f, "\\u%04x", c);
            else
                fputc((int)c, f);
        }
    }
    fputc('"', f);
}

static void json_sep(struct json_w *w, const char *key)
{
    if (!w->first[w->depth])
        fputc(',', w->f);
    w->first[w->depth] = false;
    if (w->pretty && w->depth > 0) {
        fputc('\n', w->f);
        for (int i = 0; i < w->depth; i++)
            fputs("  ", w->f);
    }
    if (key) {
        json_escape(w->f, key);
        fputs(w->pretty ? ": " : ":", w->f);
    }
}

static void json_open(struct json_w *w, const char *key, char ch)
{
    json_sep(w, key);
    fputc(ch, w->f);
    US_ASSERT(w->depth + 1 < (int)US_ARRAY_LEN(w->first), "JSON nesting too deep");
    w->depth++;
    w->first[w->depth] = true;
}

static void json_close(struct json_w *w, char ch)
{
    bool empty = w->first[w->depth];
    w->depth--;
    if (w->pretty && !empty) {
        fputc('\n', w->f);
        for (int i = 0; i < w->depth; i++)
            fputs("  ", w->f);
    }
    fputc(ch, w->f);
}

void json_obj_begin(struct json_w *w, const char *key)
{
    json_open(w, key, '{');
}

void json_obj_end(struct json_w *w)
{
    json_close(w, '}');
}

void json_arr_begin(struct json_w *w, const char *key)
{
    json_open(w, key, '[');
}

void json_arr_end(struct json_w *w)
{
    json_close(w, ']');
}

void json_str(struct json_w *w, const char *key, const char *v)
{
    json_sep(w, key);
    json_escape(w->f, v ? v : "");
}

void json_num(struct json_w *w, const char *key, double v)
{
    json_sep(w, key);
    if (!isfinite(v)) {
        fputs("null", w->f);
        return;
    }
    if (v == floor(v) && fabs(v) < 1e15)
        fprintf(w->f, "%.0f", v);
    else
        fprintf(w->f, "%.9g", v);
}

void json_int(struct json_w *w, const char *key, int64_t v)
{
    json_sep(w, key);
    fprintf(w->f, "%lld", (long long)v);
}

void json_bool(struct json_w *w, const char *key, bool v)
{
    json_sep(w, key);
    fputs(v ? "true" : "false", w->f);
}

void json_null(struct json_w *w, const char *key)
{
    json_sep(w, key);
    fputs("null", w->f);
}

void json_finish(struct json_w *w)
{
    fputc('\n', w->f);
}
