/* report/json: a small streaming JSON writer (objects, arrays, escaped strings, finite
 * numbers). It only writes; reading JSON is libfyaml's job. Non-finite numbers are
 * written as null so output is always valid JSON (callers keep numbers finite). */
#ifndef US_REPORT_JSON_H
#define US_REPORT_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct json_w {
    FILE *f;
    int depth;
    bool first[64]; /* per nesting level: no element written yet */
    bool pretty;
};

void json_init(struct json_w *w, FILE *f, bool pretty);
void json_obj_begin(struct json_w *w, const char *key); /* key NULL inside arrays / at top */
void json_obj_end(struct json_w *w);
void json_arr_begin(struct json_w *w, const char *key);
void json_arr_end(struct json_w *w);
void json_str(struct json_w *w, const char *key, const char *v);
void json_num(struct json_w *w, const char *key, double v);
void json_int(struct json_w *w, const char *key, int64_t v);
void json_bool(struct json_w *w, const char *key, bool v);
void json_null(struct json_w *w, const char *key);
/* Ends the document with a newline. */
void json_finish(struct json_w *w);

#endif
