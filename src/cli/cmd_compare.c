/* cli: compare - one job on several systems, side by side: first at the job's chip count,
 * then at equal hourly spend (the first system's spend), and which inputs drive the
 * difference. Uses only the public API: each column is the job with system= (and chips=)
 * overridden and its parallel layout chosen again for that system. At equal spend each
 * system gets the chip count, at or under the spend, that is best for the objective among
 * those with a valid layout (one search over a set of candidate counts), not merely the
 * roundest. Every column that has no figures says why. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_SYSTEMS 8
#define DAY_S       86400.0

struct column {
    char system[64];
    long long chips;
    struct us_result r;
    enum us_status st;
    char err[512];      /* why the column has no figures ("" when it has) */
    struct us_ctx *ctx; /* kept for the JSON and CSV writers */
    struct us_job *job; /* the job the column ran (NULL when it did not load) */
};

static void column_free(struct column *c)
{
    us_job_destroy(c->job);
    us_ctx_destroy(c->ctx);
    c->job = NULL;
    c->ctx = NULL;
}

/* Runs the job on `system`; chips > 0 overrides the chip count, e (when not NULL) pins a
 * layout found by search. */
static enum us_status run_one(const char *job_path, const struct cli_sets *base, const char *system,
                              long long chips, const struct us_search_entry *e, struct column *c)
{
    struct cli_sets s = *base;
    char sys_set[128], chips_set[64], lay[CLI_LAYOUT_SETS][64];
    const char *lv[CLI_LAYOUT_SETS];
    snprintf(sys_set, sizeof sys_set, "system=%.63s", system);
    s.v[s.n++] = sys_set;
    if (e) {
        size_t nl = cli_layout_sets(e, lay, lv);
        for (size_t i = 0; i < nl && s.n < CLI_MAX_SETS; i++)
            s.v[s.n++] = lv[i];
    } else if (chips > 0) {
        snprintf(chips_set, sizeof chips_set, "chips=%lld", chips);
        s.v[s.n++] = chips_set;
    }
    snprintf(c->system, sizeof c->system, "%.63s", system);
    c->ctx = us_ctx_create();
    c->job = NULL;
    struct us_diag d;
    c->err[0] = '\0';
    memset(&c->r, 0, sizeof c->r);
    if (!c->ctx)
        return c->st = US_ENOMEM;
    c->st = us_job_load(c->ctx, job_path, s.v, s.n, &c->job, &d);
    if (c->st == US_OK) {
        struct us_run_options opt = {.closed_form_only = false};
        c->st = us_run(c->ctx, c->job, &opt, &c->r, &d);
    }
    if (c->st != US_OK && c->st != US_INFEASIBLE) {
        /* a bad name in --systems is the option's error, not the override made from it */
        if (strcmp(d.file, "--set") == 0 && strcmp(d.path, "system") == 0)
            snprintf(c->err, sizeof c->err, "--systems: '%.60s': %.420s", system, d.msg);
        else
            us_diag_format(&d, c->err, sizeof c->err);
    } else if (c->st == US_INFEASIBLE) {
        snprintf(c->err, sizeof c->err, "%s", c->r.reason[0] ? c->r.reason : "infeasible");
    }
    c->chips = c->r.nchips > 0 ? c->r.nchips : chips;
    return c->st;
}

/* The chip counts tried at equal spend: every m x 2^k (m = 1, 3, 5, 7, 9, 15) from an
 * eighth of `target` up to it, and the roundest count within 10% of it (what compare used
 * to take alone), in increasing order. Returns how many (at most cap). */
static size_t spend_candidates(double target, int64_t *out, size_t cap)
{
    static const int mult[] = {1, 3, 5, 7, 9, 15};
    long long hi = (long long)floor(target), lo = (long long)ceil(target / 8);
    size_t n = 0;
    if (hi > (1LL << 24))
        hi = 1LL << 24; /* the largest chip count a job takes */
    if (lo < 1)
        lo = 1;
    if (hi < 1)
        return 0;
    for (long long p = 1LL << 40; p >= 1; p >>= 1) { /* the roundest within 10% */
        long long c = (hi / p) * p;
        if (c > 0 && (double)c >= 0.9 * target) {
            out[n++] = c;
            break;
        }
    }
    for (size_t m = 0; m < sizeof mult / sizeof mult[0]; m++)
        for (long long c = mult[m]; c <= hi && n < cap; c *= 2)
            if (c >= lo) {
                bool dup = false;
                for (size_t i = 0; i < n; i++)
                    dup = dup || out[i] == c;
                if (!dup)
                    out[n++] = c;
            }
    for (size_t i = 1; i < n; i++) /* insertion sort: a handful of counts */
        for (size_t j = i; j > 0 && out[j] < out[j - 1]; j--) {
            int64_t t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return n;
}

/* The column at equal spend: the best chip count for the objective among the candidates
 * at or under spend_usd_h that have a valid layout that fits, run in full. */
static void spend_column(const char *job_path, const struct cli_sets *sets, const char *system,
                         double usd_per_chip_h, double spend_usd_h, enum us_objective obj,
                         struct column *c)
{
    int64_t cand[64];
    double target = spend_usd_h / usd_per_chip_h;
    size_t n = spend_candidates(target, cand, sizeof cand / sizeof cand[0]);
    memset(c, 0, sizeof *c);
    snprintf(c->system, sizeof c->system, "%.63s", system);
    c->st = US_INFEASIBLE;
    if (n == 0) {
        snprintf(c->err, sizeof c->err,
                 "$%.0f per hour buys %.2f chips at $%.3f per chip-hour: not one chip", spend_usd_h,
                 target, usd_per_chip_h);
        return;
    }
    struct cli_sets s = *sets;
    char sys_set[128];
    snprintf(sys_set, sizeof sys_set, "system=%.63s", system);
    s.v[s.n++] = sys_set;
    struct us_ctx *ctx = us_ctx_create();
    struct us_job *job = NULL;
    struct us_search_result *res = calloc(1, sizeof *res);
    struct us_diag d;
    if (!ctx || !res) {
        c->st = US_ENOMEM;
        snprintf(c->err, sizeof c->err, "out of memory");
        goto out;
    }
    enum us_status st = us_job_load(ctx, job_path, s.v, s.n, &job, &d);
    if (st == US_OK) {
        struct us_search_options so = {.objective = obj, .top_k = 1, .chips = cand, .nchips = n};
        st = us_search(ctx, job, &so, res, &d);
    }
    if (st != US_OK && st != US_INFEASIBLE) {
        c->st = st;
        us_diag_format(&d, c->err, sizeof c->err);
        goto out;
    }
    if (res->ntop == 0) {
        snprintf(c->err, sizeof c->err,
                 "none of %zu chip counts from %lld to %lld (at most $%.0fk/hour at $%.3f per "
                 "chip-hour) has a valid layout that fits: %.300s",
                 n, (long long)cand[0], (long long)cand[n - 1], spend_usd_h / 1e3, usd_per_chip_h,
                 res->nnotes > 0 ? res->notes[0] : "every layout was pruned");
        goto out;
    }
    run_one(job_path, sets, system, res->top[0].chips, &res->top[0], c);
out:
    free(res);
    us_job_destroy(job);
    us_ctx_destroy(ctx);
}

enum row {
    ROW_CHIPS,
    ROW_LAYOUT,
    ROW_STEP,
    ROW_COMPUTE,
    ROW_COMM,
    ROW_DP,
    ROW_BUBBLE,
    ROW_STRAGGLERS,
    ROW_TOKENS,
    ROW_MFU,
    ROW_MEMORY,
    ROW_USD_HOUR,
    ROW_POWER,
    ROW_POWER_SWING,
    ROW_TOK_KWH,
    ROW_DAYS,
    ROW_GOODPUT,
    ROW_FAILURES,
    ROW_MWH,
    ROW_COST,
    ROW_USD_MTOK,
    ROW_BUDGET,
    ROW_DEADLINE,
    ROW_COUNT
};

static const char *const row_label[ROW_COUNT] = {"chips",
                                                 "layout tp/pp/dp/cp/ep",
                                                 "step time (s)",
                                                 "  compute",
                                                 "  exposed TP/CP/EP/PP",
                                                 "  exposed DP",
                                                 "  bubble",
                                                 "  stragglers",
                                                 "tokens/s (M)",
                                                 "MFU (%)",
                                                 "peak memory (GiB)",
                                                 "$ per hour (k)",
                                                 "facility power (MW)",
                                                 "  step peak / swing",
                                                 "tokens per kWh (k)",
                                                 "time to train (days)",
                                                 "goodput (%)",
                                                 "failures expected",
                                                 "energy (MWh)",
                                                 "cost ($M)",
                                                 "$ per million tokens",
                                                 "within budget",
                                                 "within deadline"};

static void cell(const struct column *c, enum row row, double budget, double deadline_days, char *b,
                 size_t n)
{
    const struct us_result *r = &c->r;
    if (c->st != US_OK) {
        snprintf(b, n, "-");
        return;
    }
    if (!r->has_run && row >= ROW_DAYS) {
        snprintf(b, n, "(no tokens)");
        return;
    }
    switch (row) {
    case ROW_CHIPS:
        snprintf(b, n, "%lld", c->chips);
        break;
    case ROW_LAYOUT:
        snprintf(b, n, "%d/%d/%d/%d/%d", r->layout.tp, r->layout.pp, r->layout.dp, r->layout.cp,
                 r->layout.ep);
        break;
    case ROW_STEP:
        snprintf(b, n, "%.3f", r->step_time_s);
        break;
    case ROW_COMPUTE:
        snprintf(b, n, "%.3f", r->breakdown.compute_s);
        break;
    case ROW_COMM:
        snprintf(b, n, "%.3f",
                 r->breakdown.tp_comm_s + r->breakdown.cp_comm_s + r->breakdown.ep_comm_s +
                     r->breakdown.pp_comm_s);
        break;
    case ROW_DP:
        snprintf(b, n, "%.3f", r->breakdown.dp_comm_s);
        break;
    case ROW_BUBBLE:
        snprintf(b, n, "%.3f", r->breakdown.bubble_s);
        break;
    case ROW_STRAGGLERS:
        snprintf(b, n, "%.3f", r->breakdown.straggler_s);
        break;
    case ROW_TOKENS:
        snprintf(b, n, "%.2f", r->tokens_per_s / 1e6);
        break;
    case ROW_MFU:
        snprintf(b, n, "%.1f", 100 * r->mfu);
        break;
    case ROW_MEMORY:
        snprintf(b, n, "%.1f / %.0f", r->memory.peak_B / 1073741824.0,
                 r->memory.capacity_B / 1073741824.0);
        break;
    case ROW_USD_HOUR:
        snprintf(b, n, "%.1f", r->cost_usd_per_hour / 1e3);
        break;
    case ROW_POWER:
        snprintf(b, n, "%.1f", r->facility_power_W / 1e6);
        break;
    case ROW_POWER_SWING:
        snprintf(b, n, "%.1f / %.1f", r->power_peak_W / 1e6,
                 (r->power_peak_W - r->power_min_W) / 1e6);
        break;
    case ROW_TOK_KWH:
        snprintf(b, n, "%.1f", r->tokens_per_kwh / 1e3);
        break;
    case ROW_DAYS:
        snprintf(b, n, "%.1f", r->time_to_train_s / DAY_S);
        break;
    case ROW_GOODPUT:
        snprintf(b, n, "%.1f", 100 * r->goodput);
        break;
    case ROW_FAILURES:
        snprintf(b, n, "%.0f", r->failures_expected);
        break;
    case ROW_MWH:
        snprintf(b, n, "%.0f", r->energy_J / 3.6e9);
        break;
    case ROW_COST:
        snprintf(b, n, "%.1f", r->cost_usd / 1e6);
        break;
    case ROW_USD_MTOK:
        snprintf(b, n, "%.3f", r->usd_per_million_tokens);
        break;
    case ROW_BUDGET:
        snprintf(b, n, "%s", r->cost_usd <= budget ? "yes" : "no");
        break;
    case ROW_DEADLINE:
        snprintf(b, n, "%s", r->time_to_train_s / DAY_S <= deadline_days ? "yes" : "no");
        break;
    case ROW_COUNT:
        break;
    }
}

static void print_columns(const char *title, const struct column *c, int n, double budget,
                          double deadline_days)
{
    printf("\n%s\n  %-22s", title, "");
    for (int i = 0; i < n; i++)
        printf(" %20s", c[i].system);
    printf("\n");
    for (int row = 0; row < ROW_COUNT; row++) {
        if ((row == ROW_BUDGET && budget <= 0) || (row == ROW_DEADLINE && deadline_days <= 0))
            continue;
        printf("  %-22s", row_label[row]);
        for (int i = 0; i < n; i++) {
            char b[64];
            cell(&c[i], (enum row)row, budget, deadline_days, b, sizeof b);
            printf(" %20s", b);
        }
        printf("\n");
    }
    for (int i = 0; i < n; i++) /* a column without figures always says why */
        if (c[i].st != US_OK)
            printf("  %s: no figures: %s\n", c[i].system,
                   c[i].err[0] ? c[i].err : "the run did not complete");
}

/* What `run` prints under its table, for each column: what sets the step that no row
 * shows (launch-bound, tokens per chip, failures, placement, what is not modelled). */
static void print_notes(const char *title, const struct column *c, int n)
{
    bool any = false;
    for (int i = 0; i < n; i++)
        any = any || (c[i].st == US_OK && c[i].r.nwarnings > 0);
    if (!any)
        return;
    printf("\n  notes %s:\n", title);
    for (int i = 0; i < n; i++) {
        if (c[i].st != US_OK || c[i].r.nwarnings == 0)
            continue;
        printf("  %s at %lld chips:\n", c[i].system, c[i].chips);
        for (int w = 0; w < c[i].r.nwarnings && w < US_MAX_WARNINGS; w++)
            printf("    - %s\n", c[i].r.warnings[w]);
    }
}

static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

static const char *status_name(enum us_status st)
{
    return st == US_OK ? "ok" : st == US_INFEASIBLE ? "infeasible" : "error";
}

/* {"system": ..., "status": ..., "reason": ..., "result": {...} | null} */
static void json_columns(const char *key, const struct column *c, int n)
{
    printf("  \"%s\": [\n", key);
    for (int i = 0; i < n; i++) {
        printf("    {\"system\": ");
        json_string(c[i].system);
        printf(", \"chips\": %lld, \"status\": \"%s\", \"reason\": ", c[i].chips,
               status_name(c[i].st));
        if (c[i].st == US_OK)
            printf("null");
        else
            json_string(c[i].err[0] ? c[i].err : "the run did not complete");
        printf(", \"result\": ");
        if ((c[i].st == US_OK || c[i].st == US_INFEASIBLE) && c[i].job)
            us_result_write(&c[i].r, c[i].job, US_FORMAT_JSON, stdout);
        else
            printf("null\n");
        printf("    }%s\n", i + 1 < n ? "," : "");
    }
    printf("  ]");
}

/* CSV: one row per column, "comparison,system,status,reason" before run's CSV fields. */
static void csv_columns(const char *comparison, const struct column *c, int n, bool *header)
{
    for (int i = 0; i < n; i++) {
        char *buf = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&buf, &len);
        if (!m)
            continue;
        if (c[i].job && (c[i].st == US_OK || c[i].st == US_INFEASIBLE))
            us_result_write(&c[i].r, c[i].job, US_FORMAT_CSV, m);
        fclose(m);
        char *row = buf ? strchr(buf, '\n') : NULL;
        if (row && !*header) {
            printf("comparison,system,status,reason,%.*s\n", (int)(row - buf), buf);
            *header = true;
        }
        printf("%s,\"%s\",%s,\"", comparison, c[i].system, status_name(c[i].st));
        for (const char *p = c[i].st == US_OK ? "" : c[i].err; *p; p++) {
            if (*p == '"')
                putchar('"');
            putchar(*p);
        }
        printf("\",%s", row ? row + 1 : "\n");
        free(buf);
    }
}

/* Energy efficiency side by side: tokens per kWh of this job against the peak FLOP/s per W
 * that vendor claims rest on (docs/MODEL.md 7.6). */
static void per_watt(const char *job_path, const struct column *c, int n)
{
    if (n < 2 || c[0].st != US_OK || !(c[0].r.tokens_per_kwh > 0))
        return;
    printf("\n  energy efficiency of %s (%s, facility incl. host, network and PUE):\n", job_path,
           c[0].r.engine ? c[0].r.engine : "");
    for (int i = 0; i < n; i++)
        if (c[i].st == US_OK)
            printf("    %-20s %10.4g tokens per kWh, %.3g J per token; peak %.3g TFLOP/s per kW "
                   "(IT, matrix level)\n",
                   c[i].system, c[i].r.tokens_per_kwh, c[i].r.energy_j_per_token,
                   c[i].r.peak_flops_per_W * 1e3 / 1e12);
    for (int i = 1; i < n; i++)
        if (c[i].st == US_OK && c[0].r.peak_flops_per_W > 0)
            printf("    %s / %s: tokens per kWh x%.3g on this job; peak FLOP/s per W x%.3g\n",
                   c[i].system, c[0].system, c[i].r.tokens_per_kwh / c[0].r.tokens_per_kwh,
                   c[i].r.peak_flops_per_W / c[0].r.peak_flops_per_W);
    printf("    vendor claims: AWS, Trn3 vs Trn2 UltraServer 4x energy efficiency (aiwire_trn3; "
           "a TechCrunch copy says 40%% per chip); NVIDIA gives no GB300 vs GB200 perf per W "
           "figure in our sources. Such claims rest on peak FLOP/s per W, often at FP8/FP4 "
           "and for the server alone; this job's figure is what its model, dtype, layout and "
           "MFU make of the peak, with host, network and PUE counted (docs/MODEL.md 7.6)\n");
}

/* Which assumptions drive the difference between system a and system b. */
static void explain(const struct column *a, const struct column *b)
{
    if (a->st != US_OK || b->st != US_OK)
        return;
    char buf[4096];
    us_result_explain(&a->r, &b->r, a->system, b->system, buf, sizeof buf);
    printf("\n  what drives %s vs %s:\n", b->system, a->system);
    for (char *line = buf, *e; *line; line = e ? e + 1 : line + strlen(line)) {
        e = strchr(line, '\n');
        if (e)
            *e = '\0';
        if (*line)
            printf("    %s\n", line);
        if (!e)
            break;
    }
}

/* One comparison in the HTML report: step breakdown bars, time/cost/energy side by side,
 * the figures (data-json, in the JSON's order) and each column's notes or reason. */
static void html_section(FILE *f, const char *title, const struct column *c, int n)
{
    double parts[MAX_SYSTEMS][CLI_HTML_PARTS], days[MAX_SYSTEMS], cost[MAX_SYSTEMS],
        mwh[MAX_SYSTEMS];
    const char *labels[MAX_SYSTEMS];
    char lab[MAX_SYSTEMS][96];
    int k = 0;
    fprintf(f, "<h2>");
    cli_html_text(f, title);
    fprintf(f, "</h2>\n<table><tr><th>system</th><th>chips</th><th>layout tp/pp/dp/cp/ep</th>"
               "<th>step (s)</th><th>MFU %%</th><th>$/hour</th><th>days</th><th>cost $M</th>"
               "<th>MWh</th><th>goodput %%</th></tr>\n");
    for (int i = 0; i < n; i++) {
        const struct us_result *r = &c[i].r;
        fprintf(f, "<tr><td>");
        cli_html_text(f, c[i].system);
        if (c[i].st != US_OK) {
            fprintf(f, "</td><td colspan=\"9\" style=\"text-align:left\">no figures: ");
            cli_html_text(f, c[i].err[0] ? c[i].err : "the run did not complete");
            fprintf(f, "</td></tr>\n");
            continue;
        }
        char b[64];
        fprintf(f, "</td><td>%lld</td><td>%d/%d/%d/%d/%d</td><td>", c[i].chips, r->layout.tp,
                r->layout.pp, r->layout.dp, r->layout.cp, r->layout.ep);
        cli_html_numf(f, "step_time_s", "%.3f", r->step_time_s, r->step_time_s);
        fprintf(f, "</td><td>");
        cli_html_numf(f, "mfu", "%.1f", 100 * r->mfu, r->mfu);
        fprintf(f, "</td><td>");
        cli_html_numf(f, "cost_usd_per_hour", "%.0f", r->cost_usd_per_hour, r->cost_usd_per_hour);
        fprintf(f, "</td><td>%.1f</td><td>", r->has_run ? r->time_to_train_s / DAY_S : 0);
        snprintf(b, sizeof b, "%.1f", r->cost_usd / 1e6);
        if (r->has_run)
            cli_html_num(f, "cost_usd", b, r->cost_usd);
        fprintf(f, "</td><td>%.0f</td><td>%.1f</td></tr>\n", r->energy_J / 3.6e9, 100 * r->goodput);
        snprintf(lab[k], sizeof lab[k], "%.60s (%lld)", c[i].system, c[i].chips);
        labels[k] = lab[k];
        cli_html_parts(&r->breakdown, parts[k]);
        days[k] = r->has_run ? r->time_to_train_s / DAY_S : 0;
        cost[k] = r->cost_usd / 1e6;
        mwh[k] = r->energy_J / 3.6e9;
        k++;
    }
    fprintf(f, "</table>\n");
    if (k == 0)
        return;
    cli_html_stacked_bars(f, "step breakdown", k, labels, (const double(*)[CLI_HTML_PARTS])parts,
                          "s");
    cli_html_side_by_side(f, k, labels, days, cost, mwh);
    fprintf(f, "<h3>Notes</h3>\n");
    for (int i = 0; i < n; i++) {
        if (c[i].st != US_OK)
            continue;
        fprintf(f, "<p><b>");
        cli_html_text(f, c[i].system);
        fprintf(f, "</b> at %lld chips:</p>\n", c[i].chips);
        cli_html_notes(f, &c[i].r);
    }
}

static void compare_html(const char *job_path, const struct column *eq, const struct column *spend,
                         int n, double spend_usd_h, enum us_objective obj)
{
    FILE *f = stdout;
    char title[256], lede[512];
    snprintf(title, sizeof title, "%.120s on %d systems", job_path, n);
    snprintf(lede, sizeof lede,
             "The same job on each system, first at the job's chip count, then at equal hourly "
             "spend (%s's $%.0fk/hour; per system the chip count at or under it that is best "
             "for %s). Layouts are chosen per system by search.",
             eq[0].system, spend_usd_h / 1e3, us_objective_name(obj));
    cli_html_begin(f, title, lede);
    html_section(f, "At equal chip count", eq, n);
    if (spend_usd_h > 0)
        html_section(f, "At equal hourly spend", spend, n);
    fprintf(f, "<h2>Sources</h2>\n");
    for (int i = 0; i < n; i++)
        cli_html_sources(f, eq[i].system);
    cli_html_end(f);
}

int cmd_compare(int argc, char **argv)
{
    const char *cmd = "compare", *job_path = NULL, *systems = NULL, *v;
    struct cli_sets sets = {{0}, 0};
    enum us_format fmt = US_FORMAT_TABLE;
    enum us_objective obj = US_OBJECTIVE_TIME;
    double budget = 0, deadline = 0;
    bool html = false;
    for (int i = 1; i < argc; i++) {
        int m;
        if ((m = cli_common_opt(cmd, argc, argv, &i, &sets, &fmt, &html)) != 0) {
            if (m < 0)
                return 2;
        } else if ((m = cli_opt(cmd, argc, argv, &i, "--systems", &systems)) != 0) {
            if (m < 0)
                return 2;
        } else if ((m = cli_opt(cmd, argc, argv, &i, "--objective", &v)) != 0) {
            if (m < 0)
                return 2;
            if (strcmp(v, "time") == 0)
                obj = US_OBJECTIVE_TIME;
            else if (strcmp(v, "cost") == 0)
                obj = US_OBJECTIVE_COST;
            else if (strcmp(v, "energy") == 0)
                obj = US_OBJECTIVE_ENERGY;
            else
                return cli_usage(cmd, "--objective must be time, cost or energy, not '%s'", v);
        } else if ((m = cli_real_opt(cmd, argc, argv, &i, "--budget", 1, 1e15, "USD", &budget)) !=
                   0) {
            if (m < 0)
                return 2;
        } else if ((m = cli_real_opt(cmd, argc, argv, &i, "--deadline", 0.001, 1e5, "days",
                                     &deadline)) != 0) {
            if (m < 0)
                return 2;
        } else if (cli_positional(cmd, argv[i], &job_path, "job file") != 0) {
            return 2;
        }
    }
    if (!job_path)
        return cli_usage(cmd, "no job file given");
    if (!systems)
        return cli_usage(cmd, "--systems a,b,... is required");
    if (sets.n + 1 + CLI_LAYOUT_SETS > CLI_MAX_SETS)
        return cli_usage(cmd, "too many --set options");
    char names[MAX_SYSTEMS][64];
    int n = 0;
    for (const char *p = systems; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 0 || len >= sizeof names[0])
            return cli_usage(cmd, "--systems: bad name in '%s'", systems);
        if (n == MAX_SYSTEMS)
            return cli_usage(cmd, "--systems: at most %d systems", MAX_SYSTEMS);
        memcpy(names[n], p, len);
        names[n][len] = '\0';
        n++;
        p = e ? e + 1 : p + len;
    }
    struct column *eq = calloc((size_t)n, sizeof *eq), *spend = calloc((size_t)n, sizeof *spend);
    if (!eq || !spend) {
        free(eq);
        free(spend);
        return cli_fail(3, "out of memory");
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        enum us_status st = run_one(job_path, &sets, names[i], 0, NULL, &eq[i]);
        if (st == US_EINPUT || st == US_EIO || st == US_ENOMEM) {
            rc = cli_fail((int)st, "%s", eq[i].err);
            goto out;
        }
    }

    /* equal hourly spend: every system gets the first one's $/hour, and within it the chip
     * count that is best for the objective */
    double spend_usd_h = eq[0].st == US_OK ? eq[0].r.cost_usd_per_hour : 0;
    for (int i = 0; i < n; i++) {
        snprintf(spend[i].system, sizeof spend[i].system, "%.63s", names[i]);
        spend[i].st = US_INFEASIBLE;
        if (!(spend_usd_h > 0)) {
            snprintf(spend[i].err, sizeof spend[i].err,
                     "no spend to match: %.60s has no price at the job's chip count (%.380s)",
                     names[0], eq[0].err[0] ? eq[0].err : "no cost per hour");
            continue;
        }
        if (eq[i].st != US_OK || !(eq[i].r.cost_usd_per_hour > 0) || eq[i].chips < 1) {
            snprintf(spend[i].err, sizeof spend[i].err,
                     "no price per chip-hour: the run at %lld chips gave none (%.400s)",
                     eq[i].chips, eq[i].err[0] ? eq[i].err : "no cost per hour");
            continue;
        }
        double price = eq[i].r.cost_usd_per_hour / (double)eq[i].chips;
        spend_column(job_path, &sets, names[i], price, spend_usd_h, obj, &spend[i]);
        if (spend[i].st == US_EIO || spend[i].st == US_ENOMEM || spend[i].st == US_EINPUT) {
            rc = cli_fail((int)spend[i].st, "%s", spend[i].err);
            goto out;
        }
    }

    if (html) {
        compare_html(job_path, eq, spend, n, spend_usd_h, obj);
    } else if (fmt == US_FORMAT_JSON) {
        printf("{\n  \"job\": ");
        json_string(job_path);
        printf(",\n  \"objective\": \"%s\",\n", us_objective_name(obj));
        json_columns("equal_chips", eq, n);
        printf(",\n  \"equal_spend_usd_per_hour\": %.9g,\n", spend_usd_h);
        json_columns("equal_spend", spend, n);
        printf("\n}\n");
    } else if (fmt == US_FORMAT_CSV) {
        bool header = false;
        csv_columns("equal_chips", eq, n, &header);
        csv_columns("equal_spend", spend, n, &header);
    } else {
        printf("%s: the same job on %d systems\n", job_path, n);
        print_columns("at equal chip count", eq, n, budget, deadline);
        per_watt(job_path, eq, n);
        for (int i = 1; i < n; i++)
            explain(&eq[0], &eq[i]);
        print_notes("at equal chip count", eq, n);
        if (spend_usd_h > 0) {
            char title[200];
            snprintf(title, sizeof title,
                     "at equal hourly spend ($%.0fk/hour, %s's; per system the chip count at or "
                     "under it that is best for %s)",
                     spend_usd_h / 1e3, names[0], us_objective_name(obj));
            print_columns(title, spend, n, budget, deadline);
            print_notes("at equal hourly spend", spend, n);
        } else {
            printf("\nat equal hourly spend: %s\n", spend[0].err);
        }
        printf("\n  layouts are chosen per system by search; prices, power and failure rates "
               "are the presets' (see 'ultrasim show SYSTEM' and docs/CATALOG.md for which are "
               "assumptions).\n");
    }
    for (int i = 0; i < n; i++)
        if (eq[i].st != US_OK)
            rc = rc ? rc : 1;
out:
    for (int i = 0; i < n; i++) {
        column_free(&eq[i]);
        column_free(&spend[i]);
    }
    free(eq);
    free(spend);
    return rc;
}
