/* cli: shared helpers of the ultrasim subcommands. The command line is a client of
 * include/ultrasim.h only. */
#ifndef US_CLI_H
#define US_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "ultrasim.h"

#define CLI_MAX_SETS 64

/* Prints "ultrasim: (code) message" to stderr and returns code. */
int cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A usage error: message, a hint, exit code 2. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints the diagnostic as one line and returns its status (2 for input errors). */
int cli_diag(const struct us_diag *d);
/* Parses --format; returns -1 after printing a usage error. */
int cli_format(const char *cmd, const char *s, enum us_format *out);
/* Handles --format at argv[*i]: 1 matched, 0 not, -1 error (printed). */
int cli_format_opt(const char *cmd, int argc, char **argv, int *i, enum us_format *fmt);
/* Strict integer and real options. */
bool cli_int(const char *s, long long lo, long long hi, long long *out);
bool cli_real(const char *s, double lo, double hi, double *out);

/* Matches option `name` at argv[*i] as "--name VALUE" or "--name=VALUE". Returns 1 and
 * sets *val (advancing *i) on a match, 0 when argv[*i] is another option, -1 (after a usage
 * error) when the value is missing. */
int cli_opt(const char *cmd, int argc, char **argv, int *i, const char *name, const char **val);

/* The last branch of every option loop: an unknown option is a usage error, the first
 * positional argument goes into *slot, a second one is refused. Returns 0, or 2 after
 * printing the usage error. */
int cli_positional(const char *cmd, const char *arg, const char **slot, const char *what);
/* A real-valued option in [lo, hi] ("--deadline 30"): 1 matched and read, 0 not this
 * option, -1 after a usage error naming `unit`. */
int cli_real_opt(const char *cmd, int argc, char **argv, int *i, const char *name, double lo,
                 double hi, const char *unit, double *out);

/* Common job options: --set (repeatable), collected here. */
struct cli_sets {
    const char *v[CLI_MAX_SETS];
    size_t n;
};
/* Handles --set at argv[*i]: 1 matched, 0 not, -1 error (printed). */
int cli_set_opt(const char *cmd, int argc, char **argv, int *i, struct cli_sets *s);

/* A search entry as --set overrides (chips and every layout field), so `run` reproduces it
 * exactly; buf holds at least CLI_LAYOUT_SETS strings, v points into it. Returns the count. */
#define CLI_LAYOUT_SETS 16
size_t cli_layout_sets(const struct us_search_entry *e, char buf[][64], const char **v);

/* --- the HTML report (html.c): one self-contained file, inline CSS and SVG, no script --- */
#define CLI_HTML_PARTS 10
extern const char *const cli_html_part_color[CLI_HTML_PARTS];
extern const char *const cli_html_part_name[CLI_HTML_PARTS];
/* Handles "--format html" at argv[*i] (before cli_format_opt): 1 matched, 0 not. */
int cli_html_opt(int argc, char **argv, int *i, bool *html);
/* The options every reporting command shares, at argv[*i]: --format html (into *html),
 * --format table|json|csv and --set. 1 matched, 0 not, -1 error (printed). */
int cli_common_opt(const char *cmd, int argc, char **argv, int *i, struct cli_sets *sets,
                   enum us_format *fmt, bool *html);
void cli_html_begin(FILE *f, const char *title, const char *lede);
void cli_html_end(FILE *f);
void cli_html_text(FILE *f, const char *s); /* escaped */
/* A figure the test compares with the JSON output: data-json="key", data-value="%.9g". */
void cli_html_num(FILE *f, const char *key, const char *shown, double v);
/* cli_html_num with the shown text printed from `shown` by the one-number format fmt. */
void cli_html_numf(FILE *f, const char *key, const char *fmt, double shown, double v);
void cli_html_parts(const struct us_breakdown *b, double *v);
void cli_html_legend(FILE *f);
void cli_html_stacked_bars(FILE *f, const char *title, int rows, const char *const *labels,
                           const double (*parts)[CLI_HTML_PARTS], const char *unit);
void cli_html_bars(FILE *f, const char *title, int n, const char *const *labels, const double *v,
                   const char *unit, int x0, int w);
void cli_html_side_by_side(FILE *f, int n, const char *const *labels, const double *days,
                           const double *cost_musd, const double *mwh);
void cli_html_lines(FILE *f, const char *title, int nseries, const char *const *names, int npoints,
                    const double *x, const double *y, const int *knee, const char *unit);
void cli_html_notes(FILE *f, const struct us_result *r);
void cli_html_sources(FILE *f, const char *system);
void cli_html_timeline(FILE *f, const char *trace_path, double step_s);
/* The facility power over the step, from the trace's "facility power" counter (MW). */
void cli_html_power(FILE *f, const char *trace_path);
void cli_html_memory(FILE *f, const struct us_memory *m);

int cmd_run(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_scale(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_collective(int argc, char **argv);
int cmd_validate(int argc, char **argv);

#endif
