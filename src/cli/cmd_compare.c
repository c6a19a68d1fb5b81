/* cli: compare - one job on several systems, side by side: first at the job's chip count,
 * then at equal hourly spend (the first system's spend), and which inputs drive the
 * difference. Uses only the public API: each column is the job with system= (and chips=)
 * overridden and its parallel layout chosen again for that system. */
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
    char err[512];
};

static enum us_status run_one(const char *job_path, const struct cli_sets *base, const char *system,
                              long long chips, struct column *c)
{
    struct cli_sets s = *base;
    char sys_set[128], chips_set[64];
    snprintf(sys_set, sizeof sys_set, "system=%s", system);
    s.v[s.n++] = sys_set;
    if (chips > 0) {
        snprintf(chips_set, sizeof chips_set, "chips=%lld", chips);
        s.v[s.n++] = chips_set;
    }
    snprintf(c->system, sizeof c->system, "%s", system);
    struct us_ctx *ctx = us_ctx_create();
    struct us_job *job = NULL;
    struct us_diag d;
    c->err[0] = '\0';
    memset(&c->r, 0, sizeof c->r);
    if (!ctx)
        return c->st = US_ENOMEM;
    c->st = us_job_load(ctx, job_path, s.v, s.n, &job, &d);
    if (c->st == US_OK) {
        struct us_run_options opt = {.closed_form_only = false};
        c->st = us_run(ctx, job, &opt, &c->r, &d);
    }
    if (c->st != US_OK && c->st != US_INFEASIBLE) {
        /* a bad name in --systems is the option's error, not the override made from it */
        if (strcmp(d.file, "--set") == 0 && strcmp(d.path, "system") == 0)
            snprintf(c->err, sizeof c->err, "--systems: '%.60s': %.420s", system, d.msg);
        else
            us_diag_format(&d, c->err, sizeof c->err);
    } else if (c->st == US_INFEASIBLE)
        snprintf(c->err, sizeof c->err, "%s", c->r.reason);
    c->chips = c->r.nchips;
    us_job_destroy(job);
    us_ctx_destroy(ctx);
    return c->st;
}

/* A chip count near `target` (at most target, at least 90% of it) that factorises well:
 * a multiple of the largest power of two that keeps it within range. */
static long long round_chips(double target)
{
    if (target < 1)
        return 1;
    long long t = (long long)floor(target);
    for (long long p = 1LL << 40; p >= 1; p >>= 1) {
        long long n = (t / p) * p;
        if (n >= (long long)ceil(0.9 * target) && n > 0)
            return n;
    }
    return t;
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
    for (int i = 0; i < n; i++)
        if (c[i].st != US_OK)
            printf("  %s: %s\n", c[i].system, c[i].err);
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

int cmd_compare(int argc, char **argv)
{
    const char *cmd = "compare", *job_path = NULL, *systems = NULL;
    struct cli_sets sets = {{0}, 0};
    double budget = 0, deadline = 0;
    for (int i = 1; i < argc; i++) {
        int m;
        if ((m = cli_set_opt(cmd, argc, argv, &i, &sets)) != 0) {
            if (m < 0)
                return 2;
        } else if ((m = cli_opt(cmd, argc, argv, &i, "--systems", &systems)) != 0) {
            if (m < 0)
                return 2;
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
    if (sets.n + 2 > CLI_MAX_SETS)
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
        enum us_status st = run_one(job_path, &sets, names[i], 0, &eq[i]);
        if (st == US_EINPUT || st == US_EIO || st == US_ENOMEM) {
            rc = cli_fail((int)st, "%s", eq[i].err);
            goto out;
        }
    }
    printf("%s: the same job on %d systems\n", job_path, n);
    print_columns("at equal chip count", eq, n, budget, deadline);
    per_watt(job_path, eq, n);
    for (int i = 1; i < n; i++)
        explain(&eq[0], &eq[i]);

    /* equal hourly spend: every system gets the first one's $/hour */
    if (eq[0].st == US_OK && eq[0].r.cost_usd_per_hour > 0) {
        double spend_usd_h = eq[0].r.cost_usd_per_hour;
        spend[0] = eq[0];
        for (int i = 1; i < n; i++) {
            if (eq[i].st != US_OK || eq[i].r.cost_usd_per_hour <= 0) {
                spend[i] = eq[i];
                continue;
            }
            double price = eq[i].r.cost_usd_per_hour / (double)eq[i].chips;
            long long chips = round_chips(spend_usd_h / price);
            run_one(job_path, &sets, names[i], chips, &spend[i]);
        }
        char title[160];
        snprintf(title, sizeof title, "at equal hourly spend ($%.0fk/hour, %s's)",
                 spend_usd_h / 1e3, names[0]);
        print_columns(title, spend, n, budget, deadline);
    }
    printf("\n  notes: layouts are chosen per system by search; prices, power and failure rates "
           "are the presets' (see 'ultrasim show SYSTEM' and docs/CATALOG.md for which are "
           "assumptions).\n");
    for (int i = 0; i < n; i++) /* what sets a system's step that no column shows */
        for (int w = 0; eq[i].st == US_OK && w < eq[i].r.nwarnings; w++)
            if (strncmp(eq[i].r.warnings[w], "launch-bound", 12) == 0)
                printf("  %s: %s\n", names[i], eq[i].r.warnings[w]);
    for (int i = 0; i < n; i++)
        if (eq[i].st != US_OK)
            rc = rc ? rc : 1;
out:
    free(eq);
    free(spend);
    return rc;
}
