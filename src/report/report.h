/* report: writers shared by the result, search, compare and validate outputs. */
#ifndef US_REPORT_H
#define US_REPORT_H

#include <stdio.h>

#include "report/json.h"
#include "spec/spec.h"
#include "ultrasim.h"

const char *report_field_name(enum us_field f);
/* "tp 8 pp 16 ... micro-batch 1 x 16"; fields chosen by ultrasim carry a '*'. */
void report_layout_line(const struct us_layout *l, char *buf, size_t n);
/* Writes the members of a result object (caller opens and closes the object). */
void report_result_json_fields(struct json_w *w, const struct us_result *r);
void report_csv_header(FILE *f);
/* One CSV field, quoted, with inner quotes doubled (RFC 4180). */
void report_csv_str(FILE *f, const char *s);
void report_csv_row(const struct us_result *r, const struct spec_job *j, FILE *f);
/* us_result_write's body: a result of job j as a table, one JSON object or CSV. */
void report_result_write(const struct us_result *r, const struct spec_job *j, enum us_format fmt,
                         FILE *out);

#endif
