/* cli: run, list and show. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int cli_opt(const char *cmd, int argc, char **argv, int *i, const char *name, const char **val)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *val = a + n + 1;
        return 1;
    }
    if (a[n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        cli_usage(cmd, "%s needs a value", name);
        return -1;
    }
    *val = argv[++*i];
    return 1;
}

int cli_positional(const char *cmd, const char *arg, const char **slot, const char *what)
{
    if (arg[0] == '-' && arg[1] != '\0')
        return cli_usage(cmd, "unknown option '%s'", arg);
    if (*slot)
        return cli_usage(cmd, "one %s only (got '%s' and '%s')", what, *slot, arg);
    *slot = arg;
    return 0;
}

int cli_real_opt(const char *cmd, int argc, char **argv, int *i, const char *name, double lo,
                 double hi, const char *unit, double *out)
{
    const char *v;
    int m = cli_opt(cmd, argc, argv, i, name, &v);
    if (m <= 0)
        return m;
    if (!cli_real(v, lo, hi, out)) {
        cli_usage(cmd, "%s must be %s in %g..%g, not '%s'", name, unit, lo, hi, v);
        return -1;
    }
    return 1;
}

int cli_set_opt(const char *cmd, int argc, char **argv, int *i, struct cli_sets *s)
{
    const char *v;
    int m = cli_opt(cmd, argc, argv, i, "--set", &v);
    if (m <= 0)
        return m;
    if (s->n >= CLI_MAX_SETS) {
        cli_usage(cmd, "at most %d --set options", CLI_MAX_SETS);
        return -1;
    }
    if (!strchr(v, '=')) {
        cli_usage(cmd, "--set takes key=value, got '%s'", v);
        return -1;
    }
    s->v[s->n++] = v;
    return 1;
}

/* run --format html: the headline figures, the step breakdown, memory, the pipeline
 * timeline from the trace, and the notes and sources. */
static void run_html(const struct us_result *r, const struct us_job *job, const char *trace)
{
    char title[256], lede[512];
    snprintf(title, sizeof title, "%.100s on %d x %.100s", us_job_model_name(job), r->nchips,
             us_job_system_name(job));
    snprintf(lede, sizeof lede, "One training step%s, the layout ultrasim %s, and what sets it.",
             r->has_run ? " and the whole run" : "", r->layout.chosen_mask ? "chose" : "was given");
    FILE *f = stdout;
    cli_html_begin(f, title, lede);
    char lay[512];
    us_layout_format(&r->layout, lay, sizeof lay);
    fprintf(f, "<h2>Headline</h2>\n<table>\n<tr><th>layout</th><td>");
    cli_html_text(f, lay);
    fprintf(f, "</td></tr>\n<tr><th>step time (s)</th><td>");
    cli_html_numf(f, "step_time_s", "%.4g", r->step_time_s, r->step_time_s);
    fprintf(f, "</td></tr>\n<tr><th>MFU (%%)</th><td>");
    cli_html_numf(f, "mfu", "%.1f", 100 * r->mfu, r->mfu);
    fprintf(f, "</td></tr>\n<tr><th>tokens per chip per step</th><td>");
    cli_html_numf(f, "tokens_per_chip_per_step", "%.0f", r->tokens_per_chip_per_step,
                  r->tokens_per_chip_per_step);
    fprintf(f, "</td></tr>\n<tr><th>peak memory (GiB)</th><td>%.1f of %.1f</td></tr>\n",
            r->memory.peak_B / 1073741824.0, r->memory.capacity_B / 1073741824.0);
    fprintf(f, "<tr><th>$ per hour</th><td>");
    cli_html_numf(f, "cost_usd_per_hour", "%.0f", r->cost_usd_per_hour, r->cost_usd_per_hour);
    fprintf(f, "</td></tr>\n");
    if (r->has_run) {
        fprintf(f,
                "<tr><th>time to train (days)</th><td>%.2f</td></tr>\n<tr><th>cost "
                "($M)</th><td>",
                r->time_to_train_s / 86400.0);
        cli_html_numf(f, "cost_usd", "%.2f", r->cost_usd / 1e6, r->cost_usd);
        fprintf(f,
                "</td></tr>\n<tr><th>energy (MWh)</th><td>%.0f</td></tr>\n<tr><th>goodput "
                "(%%)</th><td>",
                r->energy_J / 3.6e9);
        cli_html_numf(f, "goodput", "%.1f", 100 * r->goodput, r->goodput);
        fprintf(f, "</td></tr>\n");
    }
    if (!r->valid || !r->fits) {
        fprintf(f, "<tr><th>infeasible</th><td>");
        cli_html_text(f, r->reason);
        fprintf(f, "</td></tr>\n");
    }
    fprintf(f, "</table>\n<h2>Where the step goes</h2>\n");
    double parts[1][CLI_HTML_PARTS];
    cli_html_parts(&r->breakdown, parts[0]);
    const char *labels[] = {"one step"};
    cli_html_stacked_bars(f, "step breakdown", 1, labels, (const double(*)[CLI_HTML_PARTS])parts,
                          "s");
    fprintf(f, "<h2>Memory per chip</h2>\n");
    cli_html_memory(f, &r->memory);
    fprintf(f, "<h2>Pipeline timeline</h2>\n");
    if (trace)
        cli_html_timeline(f, trace, r->step_time_s);
    else
        fprintf(f, "<p class=\"muted\">(closed form: no event trace, so no timeline)</p>\n");
    fprintf(f, "<h2>Power over the step</h2>\n");
    if (trace)
        cli_html_power(f, trace);
    else
        fprintf(f, "<p class=\"muted\">(closed form: no event trace, so no power trace)</p>\n");
    fprintf(f, "<h2>Assumptions and what is not modelled</h2>\n");
    cli_html_notes(f, r);
    cli_html_sources(f, us_job_system_name(job));
    cli_html_end(f);
}

int cmd_run(int argc, char **argv)
{
    const char *cmd = "run", *job_path = NULL, *trace = NULL;
    enum us_format fmt = US_FORMAT_TABLE;
    struct cli_sets sets = {{0}, 0};
    struct us_run_options opt = {0};
    bool html = false;
    for (int i = 1; i < argc; i++) {
        int m;
        if ((m = cli_common_opt(cmd, argc, argv, &i, &sets, &fmt, &html)) != 0) {
            if (m < 0)
                return 2;
        } else if ((m = cli_opt(cmd, argc, argv, &i, "--trace", &trace)) != 0) {
            if (m < 0)
                return 2;
        } else if (strcmp(argv[i], "--closed-form") == 0) {
            opt.closed_form_only = true;
        } else if (strcmp(argv[i], "--force") == 0) {
            opt.trace_force = true;
        } else if (cli_positional(cmd, argv[i], &job_path, "job file") != 0) {
            return 2;
        }
    }
    if (!job_path)
        return cli_usage(cmd, "no job file given");
    if (trace && opt.closed_form_only)
        return cli_usage(cmd, "--trace needs the event simulator; drop --closed-form");
    opt.trace_path = trace;
    char tmp_trace[512] = "";
    if (html && !trace && !opt.closed_form_only) { /* the timeline comes from a trace */
        /* mkstemp's template: the six X are replaced by a unique name; $TMPDIR is honoured */
        const char *dir = getenv("TMPDIR");
        int n = snprintf(tmp_trace, sizeof tmp_trace, "%s/ultrasim-trace-XXXXXX",
                         dir && *dir ? dir : "/tmp");
        int fd = n > 0 && (size_t)n < sizeof tmp_trace ? mkstemp(tmp_trace) : -1;
        if (fd < 0)
            tmp_trace[0] = '\0';
        else
            close(fd);
        opt.trace_path = tmp_trace[0] ? tmp_trace : NULL;
    }

    struct us_ctx *ctx = us_ctx_create();
    struct us_diag d;
    struct us_job *job = NULL;
    int rc;
    if (!ctx)
        return cli_fail(3, "out of memory");
    enum us_status st = us_job_load(ctx, job_path, sets.v, sets.n, &job, &d);
    if (st != US_OK) {
        rc = cli_diag(&d);
        goto out;
    }
    struct us_result r;
    st = us_run(ctx, job, &opt, &r, &d);
    if (st != US_OK && st != US_INFEASIBLE) {
        rc = cli_diag(&d);
        goto out;
    }
    if (html)
        run_html(&r, job, opt.trace_path);
    else
        us_result_write(&r, job, fmt, stdout);
    rc = (int)st;
    if (st == US_INFEASIBLE)
        cli_fail(1, "infeasible: %s", r.reason);
out:
    if (tmp_trace[0])
        remove(tmp_trace);
    us_job_destroy(job);
    us_ctx_destroy(ctx);
    return rc;
}

static void quoted(const char *s, char q)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || (q == '\\' && *s == '\\'))
            putchar(q);
        putchar(*s);
    }
    putchar('"');
}

int cmd_list(int argc, char **argv)
{
    const char *cmd = "list", *what = NULL;
    enum us_format fmt = US_FORMAT_TABLE;
    for (int i = 1; i < argc; i++) {
        int m;
        if ((m = cli_format_opt(cmd, argc, argv, &i, &fmt)) != 0) {
            if (m < 0)
                return 2;
        } else if (cli_positional(cmd, argv[i], &what, "kind") != 0) {
            return 2;
        }
    }
    enum us_kind kind;
    if (!what)
        return cli_usage(cmd, "say 'list systems' or 'list models'");
    if (strcmp(what, "systems") == 0)
        kind = US_KIND_SYSTEM;
    else if (strcmp(what, "models") == 0)
        kind = US_KIND_MODEL;
    else
        return cli_usage(cmd, "say 'list systems' or 'list models', not '%s'", what);
    size_t n = us_catalog_count(kind);
    if (fmt == US_FORMAT_JSON)
        printf("[\n");
    else if (fmt == US_FORMAT_CSV)
        printf("name,description\n");
    for (size_t i = 0; i < n; i++) {
        char desc[256];
        if (!us_catalog_describe(kind, i, desc, sizeof desc))
            snprintf(desc, sizeof desc, "(preset does not parse: run 'ultrasim show %s')",
                     us_catalog_name(kind, i));
        if (fmt == US_FORMAT_JSON) {
            printf("  {\"name\": ");
            quoted(us_catalog_name(kind, i), '\\');
            printf(", \"description\": ");
            quoted(desc, '\\');
            printf("}%s\n", i + 1 < n ? "," : "");
        } else if (fmt == US_FORMAT_CSV) {
            quoted(us_catalog_name(kind, i), '"');
            putchar(',');
            quoted(desc, '"');
            putchar('\n');
        } else {
            printf("%-18s %s\n", us_catalog_name(kind, i), desc);
        }
    }
    if (fmt == US_FORMAT_JSON)
        printf("]\n");
    return 0;
}

int cmd_show(int argc, char **argv)
{
    const char *cmd = "show", *name = NULL, *v;
    enum us_format fmt = US_FORMAT_TABLE;
    long long seq = 0;
    for (int i = 1; i < argc; i++) {
        int m;
        if ((m = cli_format_opt(cmd, argc, argv, &i, &fmt)) != 0) {
            if (m < 0)
                return 2;
        } else if ((m = cli_opt(cmd, argc, argv, &i, "--seq", &v)) != 0) {
            if (m < 0)
                return 2;
            if (!cli_int(v, 1, 1 << 24, &seq))
                return cli_usage(cmd, "--seq must be an integer in 1..16777216, not '%s'", v);
        } else if (cli_positional(cmd, argv[i], &name, "name or file") != 0) {
            return 2;
        }
    }
    if (!name)
        return cli_usage(cmd, "give a preset name or a file (see 'ultrasim list systems')");
    struct us_ctx *ctx = us_ctx_create();
    struct us_diag d;
    if (!ctx)
        return cli_fail(3, "out of memory");
    enum us_status st = us_show(ctx, name, fmt, (int)seq, stdout, &d);
    us_ctx_destroy(ctx);
    return st == US_OK ? 0 : cli_diag(&d);
}
