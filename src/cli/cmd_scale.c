/* cli: scale - scaling curves. For each system, each global batch and each chip count
 * (powers of two by default), the job's best layout (us_run chooses every open parallel
 * field by search) and its time to train, cost, energy, MFU, goodput and tokens per chip;
 * then the knee: the chip count past which doubling the chips cuts time to train by less
 * than 25% at that batch (docs/MODEL.md section 9). Beside it, the largest batch published
 * practice supports, with its source, so no batch is used silently. Uses only the public
 * API: each point is the job loaded with system=, chips= and training.global_batch=. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "cli.h"

#define MAX_SYSTEMS 8
#define MAX_CHIPS   32
#define MAX_BATCHES 8
#define DAY_S       86400.0
/* The knee: doubling the chips cuts time to train by less than this fraction. */
#define KNEE_CUT 0.25

/* Published batch practice (tokens per step), the anchors `scale` reports:
 *  - DeepSeek LLM (Bi et al. 2024, arXiv:2401.02954, sec. 3.1, eq. 1): the near-optimal
 *    batch fitted against compute, B_opt = 0.2920 * C^0.3271 tokens, C in FLOPs.
 *  - DeepSeek-V3 (arXiv:2412.19437, sec. 4.2): the largest batch a published frontier run
 *    used, 15,360 sequences of 4,096 tokens = 62.9M tokens (reached after 469B tokens).
 *  - Llama 3 (arXiv:2407.21783, sec. 3.4.1): 405B trained at up to 16M tokens per step. */
#define BOPT_COEF         0.2920
#define BOPT_EXP          0.3271
#define DSV3_BATCH_TOKENS (15360.0 * 4096.0)
#define LLAMA3_BATCH_TOK  16777216.0

struct point {
    long long chips;
    enum us_status st;
    char err[512];
    struct us_result r;
    double time_s; /* time to train (per_run) or step time */
};

struct curve {
    char system[64];
    long long batch; /* sequences per step; 0 = the job's */
    double tokens_per_step;
    int n;
    struct point p[MAX_CHIPS];
    int knee;            /* index of the knee point; -1 = not reached within the range */
    double knee_cut;     /* how much time to train falls from the knee to twice its chips */
    bool per_run;        /* time is time to train (else step time: no training.tokens) */
    double compute_flop; /* model FLOPs of the whole run, C in the DeepSeek LLM fit */
};

/* "8K", "1M", "65536": K = 1024, M = 1048576. */
static bool parse_count(const char *s, size_t len, long long *out)
{
    char tok[32];
    if (len == 0 || len >= sizeof tok)
        return false;
    memcpy(tok, s, len);
    tok[len] = '\0';
    long long mul = 1;
    char last = tok[len - 1];
    if (last == 'K' || last == 'k' || last == 'M' || last == 'm') {
        mul = (last == 'K' || last == 'k') ? 1024 : 1048576;
        tok[len - 1] = '\0';
    }
    long long v;
    if (!cli_int(tok, 1, 1LL << 24, &v) || v * mul > (1LL << 24))
        return false;
    *out = v * mul;
    return true;
}

/* --chips LO..HI (every power of two from LO, doubling, up to HI) or N,N,... */
static int parse_chips(const char *cmd, const char *s, long long *out, int *n)
{
    const char *dots = strstr(s, "..");
    *n = 0;
    if (dots) {
        long long lo, hi;
        if (!parse_count(s, (size_t)(dots - s), &lo) ||
            !parse_count(dots + 2, strlen(dots + 2), &hi) || lo > hi)
            return cli_usage(
                cmd, "--chips LO..HI needs 1 <= LO <= HI <= 16M (K, M allowed), not '%s'", s);
        for (long long c = lo; c <= hi; c *= 2) {
            if (*n == MAX_CHIPS)
                return cli_usage(cmd, "--chips: at most %d counts", MAX_CHIPS);
            out[(*n)++] = c;
        }
        return 0;
    }
    for (const char *p = s; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (*n == MAX_CHIPS || !parse_count(p, len, &out[*n]))
            return cli_usage(cmd,
                             "--chips takes LO..HI or up to %d counts (K, M allowed), not '%s'",
                             MAX_CHIPS, s);
        if (*n > 0 && out[*n] <= out[*n - 1])
            return cli_usage(cmd, "--chips: counts must increase ('%s')", s);
        (*n)++;
        p = e ? e + 1 : p + len;
    }
    return 0;
}

static void run_point(const char *job_path, const struct cli_sets *base, const char *system,
                      long long batch, int threads, struct point *pt)
{
    struct cli_sets s = *base;
    char sys_set[96], chips_set[64], batch_set[64];
    snprintf(sys_set, sizeof sys_set, "system=%.63s", system);
    snprintf(chips_set, sizeof chips_set, "chips=%lld", pt->chips);
    s.v[s.n++] = sys_set;
    s.v[s.n++] = chips_set;
    if (batch > 0) {
        snprintf(batch_set, sizeof batch_set, "training.global_batch=%lld", batch);
        s.v[s.n++] = batch_set;
    }
    struct us_ctx *ctx = us_ctx_create();
    struct us_job *job = NULL;
    struct us_diag d;
    memset(&pt->r, 0, sizeof pt->r);
    pt->err[0] = '\0';
    pt->st = ctx ? us_job_load(ctx, job_path, s.v, s.n, &job, &d) : US_ENOMEM;
    if (pt->st == US_OK) {
        struct us_run_options opt = {.closed_form_only = false, .threads = threads};
        pt->st = us_run(ctx, job, &opt, &pt->r, &d);
    }
    if (pt->st == US_INFEASIBLE)
        snprintf(pt->err, sizeof pt->err, "%s", pt->r.reason[0] ? pt->r.reason : "infeasible");
    else if (pt->st != US_OK)
        us_diag_format(&d, pt->err, sizeof pt->err);
    pt->time_s = pt->r.has_run ? pt->r.time_to_train_s : pt->r.step_time_s;
    us_job_destroy(job);
    us_ctx_destroy(ctx);
}

/* The points of every curve, shared by the threads: each takes the next one; each point's
 * run is single-threaded and its answer does not depend on which thread ran it. */
struct pool {
    const char *job_path;
    const struct cli_sets *sets;
    struct curve *cv;
    int ncurves, npoints; /* points per curve */
    atomic_int next;
};

static void *pool_main(void *arg)
{
    struct pool *pl = arg;
    for (;;) {
        int k = atomic_fetch_add(&pl->next, 1);
        if (k >= pl->ncurves * pl->npoints)
            return NULL;
        struct curve *c = &pl->cv[k / pl->npoints];
        run_point(pl->job_path, pl->sets, c->system, c->batch, 1, &c->p[k % pl->npoints]);
    }
}

/* The knee: the first point whose doubling (the next point, at twice its chips) cuts the
 * time by less than KNEE_CUT. Only exact doublings count; a point past which the time
 * grows is a knee too. */
static void find_knee(struct curve *c)
{
    c->knee = -1;
    for (int i = 0; i + 1 < c->n; i++) {
        const struct point *a = &c->p[i], *b = &c->p[i + 1];
        if (b->chips != 2 * a->chips || a->st != US_OK || b->st != US_OK || !(a->time_s > 0) ||
            !isfinite(a->time_s) || !isfinite(b->time_s))
            continue;
        double cut = 1.0 - b->time_s / a->time_s;
        if (cut < KNEE_CUT) {
            c->knee = i;
            c->knee_cut = cut;
            return;
        }
    }
}

static double batch_fit_tokens(double compute_flop)
{
    return compute_flop > 0 ? BOPT_COEF * pow(compute_flop, BOPT_EXP) : 0;
}

static void fmt_tokens(char *b, size_t n, double t)
{
    snprintf(b, n, t >= 1e6 ? "%.1fM" : "%.0fk", t >= 1e6 ? t / 1e6 : t / 1e3);
}

static void print_table(const struct curve *c)
{
    char tok[32];
    fmt_tokens(tok, sizeof tok, c->tokens_per_step);
    printf("\n%s, global batch %s tokens per step (%s):\n", c->system, tok,
           c->per_run ? "time to train in days" : "no training.tokens: time is one step, s");
    printf("  %9s  %-18s %9s %9s %9s %10s %6s %8s %11s %8s\n", "chips", "tp/pp/dp/cp/ep",
           "step (s)", c->per_run ? "days" : "time (s)", "cost $M", "energy MWh", "MFU %",
           "goodput%", "tokens/chip", "doubling");
    for (int i = 0; i < c->n; i++) {
        const struct point *p = &c->p[i];
        if (p->st != US_OK) {
            printf("  %9lld  no layout: %s\n", p->chips, p->err);
            continue;
        }
        const struct us_result *r = &p->r;
        char lay[48], dbl[24] = "";
        snprintf(lay, sizeof lay, "%d/%d/%d/%d/%d", r->layout.tp, r->layout.pp, r->layout.dp,
                 r->layout.cp, r->layout.ep);
        if (i + 1 < c->n && c->p[i + 1].chips == 2 * p->chips && c->p[i + 1].st == US_OK &&
            p->time_s > 0)
            snprintf(dbl, sizeof dbl, "%+.0f%%", 100 * (c->p[i + 1].time_s / p->time_s - 1));
        printf("  %9lld  %-18s %9.3f %9.3g %9.1f %10.0f %6.1f %8.1f %11.0f %8s%s\n", p->chips, lay,
               r->step_time_s, c->per_run ? p->time_s / DAY_S : p->time_s, r->cost_usd / 1e6,
               r->energy_J / 3.6e9, 100 * r->mfu, 100 * r->goodput, r->tokens_per_chip_per_step,
               dbl, i == c->knee ? "  <- knee" : "");
    }
    if (c->knee >= 0)
        printf("  knee: %lld chips - doubling to %lld cuts the %s by %.0f%%, less than %.0f%%\n",
               c->p[c->knee].chips, 2 * c->p[c->knee].chips,
               c->per_run ? "time to train" : "step time", 100 * c->knee_cut, 100 * KNEE_CUT);
    else
        printf("  knee: not reached - every doubling in the range cuts the time by %.0f%% or "
               "more (or the range has no doubling)\n",
               100 * KNEE_CUT);
}

static void print_batch_practice(const struct curve *c)
{
    char fit[32], v3[32], l3[32], cur[32];
    double f = batch_fit_tokens(c->compute_flop);
    fmt_tokens(fit, sizeof fit, f);
    fmt_tokens(v3, sizeof v3, DSV3_BATCH_TOKENS);
    fmt_tokens(l3, sizeof l3, LLAMA3_BATCH_TOK);
    fmt_tokens(cur, sizeof cur, c->tokens_per_step);
    double most = fmax(f, DSV3_BATCH_TOKENS);
    printf("\nbatch: published practice supports at most about %s tokens per step: ",
           most == f ? fit : v3);
    if (f > 0)
        printf("the DeepSeek LLM fit B_opt = 0.292 C^0.327 (arXiv:2401.02954 eq. 1) gives %s at "
               "this run's C = %.3g FLOPs; ",
               fit, c->compute_flop);
    printf("the largest published run batch is DeepSeek-V3's %s (arXiv:2412.19437 sec. 4.2; "
           "Llama 3 405B: %s, arXiv:2407.21783 sec. 3.4.1).\n",
           v3, l3);
    if (c->tokens_per_step > most)
        printf("  the job's %s tokens per step is beyond that: a larger batch moves the knee "
               "out, but whether it reaches the same loss in the same tokens is not "
               "modelled.\n",
               cur);
}

static void json_curve(const struct curve *c, bool last)
{
    printf("    {\"system\": \"%s\", \"global_batch\": %lld, \"tokens_per_step\": %.9g, "
           "\"per_run\": %s, \"knee_chips\": ",
           c->system, c->batch, c->tokens_per_step, c->per_run ? "true" : "false");
    if (c->knee >= 0)
        printf("%lld, \"knee_cut\": %.6g", c->p[c->knee].chips, c->knee_cut);
    else
        printf("null, \"knee_cut\": null");
    printf(", \"compute_flop\": %.6g, \"batch_fit_tokens\": %.6g,\n     \"points\": [\n",
           c->compute_flop, batch_fit_tokens(c->compute_flop));
    for (int i = 0; i < c->n; i++) {
        const struct point *p = &c->p[i];
        const struct us_result *r = &p->r;
        printf("      {\"chips\": %lld, \"status\": \"%s\"", p->chips,
               p->st == US_OK           ? "ok"
               : p->st == US_INFEASIBLE ? "infeasible"
                                        : "error");
        if (p->st != US_OK) {
            printf(", \"reason\": \"");
            for (const char *s = p->err; *s; s++) {
                if (*s == '"' || *s == '\\')
                    putchar('\\');
                putchar((unsigned char)*s < 0x20 ? ' ' : *s);
            }
            printf("\"}%s\n", i + 1 < c->n ? "," : "");
            continue;
        }
        printf(", \"tp\": %d, \"pp\": %d, \"dp\": %d, \"cp\": %d, \"ep\": %d, \"step_time_s\": "
               "%.9g, \"time_to_train_s\": %.9g, \"cost_usd\": %.9g, \"energy_j\": %.9g, \"mfu\": "
               "%.6g, \"goodput\": %.6g, \"tokens_per_chip_per_step\": %.9g, \"knee\": %s}%s\n",
               r->layout.tp, r->layout.pp, r->layout.dp, r->layout.cp, r->layout.ep, r->step_time_s,
               r->has_run ? r->time_to_train_s : 0.0, r->cost_usd, r->energy_J, r->mfu, r->goodput,
               r->tokens_per_chip_per_step, i == c->knee ? "true" : "false",
               i + 1 < c->n ? "," : "");
    }
    printf("     ]}%s\n", last ? "" : ",");
}

static void csv_curve(const struct curve *c)
{
    for (int i = 0; i < c->n; i++) {
        const struct point *p = &c->p[i];
        const struct us_result *r = &p->r;
        printf("\"%s\",%.0f,%lld,%s", c->system, c->tokens_per_step, p->chips,
               p->st == US_OK           ? "ok"
               : p->st == US_INFEASIBLE ? "infeasible"
                                        : "error");
        if (p->st == US_OK)
            printf(",%d,%d,%d,%d,%d,%.9g,%.9g,%.9g,%.9g,%.6g,%.6g,%.9g,%s\n", r->layout.tp,
                   r->layout.pp, r->layout.dp, r->layout.cp, r->layout.ep, r->step_time_s,
                   r->has_run ? r->time_to_train_s / DAY_S : 0.0, r->cost_usd, r->energy_J / 3.6e9,
                   r->mfu, r->goodput, r->tokens_per_chip_per_step,
                   i == c->knee ? "true" : "false");
        else
            printf(",,,,,,,,,,,,,false\n");
    }
}

/* scale --format html: the curves (time to train, cost, energy, MFU against chips, the knee
 * circled), one table per curve (data-json figures in the JSON's order), the batch note. */
static void scale_html(FILE *f, const char *job_path, const struct curve *cv, int ncurves)
{
    char title[256], lede[512];
    snprintf(title, sizeof title, "Scaling %.150s", job_path);
    snprintf(lede, sizeof lede,
             "The best layout at each chip count. The knee (circled) is the chip count past "
             "which doubling the chips cuts the time to train by less than %.0f%% at that batch "
             "(docs/MODEL.md section 9).",
             100 * KNEE_CUT);
    cli_html_begin(f, title, lede);
    int np = cv[0].n;
    double x[MAX_CHIPS];
    for (int i = 0; i < np; i++)
        x[i] = (double)cv[0].p[i].chips;
    double *y = calloc((size_t)ncurves * (size_t)np * 4, sizeof *y);
    const char **names = calloc((size_t)ncurves, sizeof *names);
    char(*lab)[96] = calloc((size_t)ncurves, sizeof *lab);
    int *knee = calloc((size_t)ncurves, sizeof *knee);
    if (!y || !names || !lab || !knee) {
        free(y);
        free(names);
        free(lab);
        free(knee);
        fprintf(f, "<p>out of memory</p>\n");
        cli_html_end(f);
        return;
    }
    bool per_run = false;
    for (int c = 0; c < ncurves; c++) {
        char tok[32];
        fmt_tokens(tok, sizeof tok, cv[c].tokens_per_step);
        snprintf(lab[c], sizeof lab[c], "%.63s, %.16s tok", cv[c].system, tok);
        names[c] = lab[c];
        knee[c] = cv[c].knee;
        per_run = per_run || cv[c].per_run;
        for (int i = 0; i < np; i++) {
            const struct point *p = &cv[c].p[i];
            bool ok = p->st == US_OK;
            y[(0 * ncurves + c) * np + i] =
                ok ? (cv[c].per_run ? p->time_s / DAY_S : p->time_s) : 0;
            y[(1 * ncurves + c) * np + i] = ok ? p->r.cost_usd / 1e6 : 0;
            y[(2 * ncurves + c) * np + i] = ok ? p->r.energy_J / 3.6e9 : 0;
            y[(3 * ncurves + c) * np + i] = ok ? 100 * p->r.mfu : 0;
        }
    }
    fprintf(f, "<h2>Scaling curves</h2>\n");
    cli_html_lines(f, per_run ? "time to train" : "step time", ncurves, names, np, x, y, knee,
                   per_run ? "days" : "s");
    fprintf(f, "<h2>Cost, energy and MFU</h2>\n");
    cli_html_lines(f, "cost", ncurves, names, np, x, y + ncurves * np, knee, "$M");
    cli_html_lines(f, "energy", ncurves, names, np, x, y + 2 * ncurves * np, knee, "MWh");
    cli_html_lines(f, "MFU", ncurves, names, np, x, y + 3 * ncurves * np, knee, "%");
    for (int c = 0; c < ncurves; c++) {
        const struct curve *cu = &cv[c];
        fprintf(f, "<h3>");
        cli_html_text(f, names[c]);
        fprintf(f, " per step: knee ");
        if (cu->knee >= 0) {
            cli_html_numf(f, "knee_chips", "%.0f", (double)cu->p[cu->knee].chips,
                          (double)cu->p[cu->knee].chips);
            fprintf(f, " chips (doubling cuts the time by %.0f%%)", 100 * cu->knee_cut);
        } else {
            fprintf(f, "not reached in this range");
        }
        fprintf(f,
                "</h3>\n<table><tr><th>chips</th><th>tp/pp/dp/cp/ep</th><th>step (s)</th>"
                "<th>%s</th><th>cost $M</th><th>MWh</th><th>MFU %%</th><th>goodput %%</th>"
                "<th>tokens/chip</th></tr>\n",
                cu->per_run ? "days" : "time (s)");
        for (int i = 0; i < cu->n; i++) {
            const struct point *p = &cu->p[i];
            const struct us_result *r = &p->r;
            fprintf(f, "<tr%s><td>%lld</td>", i == cu->knee ? " class=\"knee\"" : "", p->chips);
            if (p->st != US_OK) {
                fprintf(f, "<td colspan=\"8\" style=\"text-align:left\">no layout: ");
                cli_html_text(f, p->err);
                fprintf(f, "</td></tr>\n");
                continue;
            }
            fprintf(f, "<td>%d/%d/%d/%d/%d</td><td>", r->layout.tp, r->layout.pp, r->layout.dp,
                    r->layout.cp, r->layout.ep);
            cli_html_numf(f, "step_time_s", "%.3f", r->step_time_s, r->step_time_s);
            fprintf(f, "</td><td>");
            double tt = r->has_run ? r->time_to_train_s : 0.0;
            cli_html_numf(f, "time_to_train_s", "%.3g", cu->per_run ? tt / DAY_S : r->step_time_s,
                          tt);
            fprintf(f, "</td><td>");
            cli_html_numf(f, "cost_usd", "%.1f", r->cost_usd / 1e6, r->cost_usd);
            fprintf(f, "</td><td>%.0f</td><td>", r->energy_J / 3.6e9);
            cli_html_numf(f, "mfu", "%.1f", 100 * r->mfu, r->mfu);
            fprintf(f, "</td><td>%.1f</td><td>%.0f</td></tr>\n", 100 * r->goodput,
                    r->tokens_per_chip_per_step);
        }
        fprintf(f, "</table>\n");
    }
    fprintf(f, "<h2>Batch</h2>\n<p>");
    int at = 0;
    for (int c = 0; c < ncurves; c++)
        if (cv[c].tokens_per_step > cv[at].tokens_per_step)
            at = c;
    char fit[32], v3[32], l3[32];
    fmt_tokens(fit, sizeof fit, batch_fit_tokens(cv[at].compute_flop));
    fmt_tokens(v3, sizeof v3, DSV3_BATCH_TOKENS);
    fmt_tokens(l3, sizeof l3, LLAMA3_BATCH_TOK);
    fprintf(f,
            "A larger batch moves the knee out, but past the critical batch size more tokens "
            "are needed for the same loss (not modelled). Published practice: the DeepSeek LLM "
            "fit B_opt = 0.292 C<sup>0.327</sup> (arXiv:2401.02954, eq. 1) gives %s tokens per "
            "step at this run's C = %.3g FLOPs; the largest published run batch is "
            "DeepSeek-V3's %s tokens (arXiv:2412.19437, sec. 4.2); Llama 3 405B used %s "
            "(arXiv:2407.21783, sec. 3.4.1).</p>\n",
            fit, cv[at].compute_flop, v3, l3);
    fprintf(f, "<h2>Notes at the largest chip count</h2>\n");
    for (int c = 0; c < ncurves; c++) {
        const struct point *p = &cv[c].p[cv[c].n - 1];
        if (p->st != US_OK)
            continue;
        fprintf(f, "<p><b>");
        cli_html_text(f, names[c]);
        fprintf(f, "</b> at %lld chips:</p>\n", p->chips);
        cli_html_notes(f, &p->r);
    }
    fprintf(f, "<h2>Sources</h2>\n");
    for (int c = 0; c < ncurves; c++)
        if (c == 0 || strcmp(cv[c].system, cv[c - 1].system) != 0)
            cli_html_sources(f, cv[c].system);
    cli_html_end(f);
    free(y);
    free(names);
    free(lab);
    free(knee);
}

/* The headline a capacity planner can forward: each system at its knee and at the largest
 * chip count, then why MFU falls past the knee in the model's own words (run's notes at
 * the largest count: tokens per chip, launch-bound, what dominates the step). */
static void print_headline(const char *job_path, const struct curve *cv, int ncurves, int nb,
                           const char *report)
{
    char tok[32];
    fmt_tokens(tok, sizeof tok, cv[0].tokens_per_step);
    printf("HEADLINE: %s, %s tokens per step%s\n", job_path, tok,
           cv[0].per_run ? "" : " (no training.tokens: times are one step)");
    for (int c = 0; c < ncurves; c += nb) { /* the first batch of each system */
        const struct curve *cu = &cv[c];
        const struct point *last = &cu->p[cu->n - 1];
        printf("  %-18s ", cu->system);
        if (cu->knee >= 0) {
            const struct point *k = &cu->p[cu->knee];
            printf("knee at %lld chips: %.3g %s, $%.1fM, MFU %.1f%%; ", k->chips,
                   cu->per_run ? k->time_s / DAY_S : k->time_s, cu->per_run ? "days" : "s",
                   k->r.cost_usd / 1e6, 100 * k->r.mfu);
        } else {
            printf("no knee up to %lld chips; ", last->chips);
        }
        if (last->st == US_OK)
            printf("at %lld chips: %.3g %s, $%.1fM, MFU %.1f%%\n", last->chips,
                   cu->per_run ? last->time_s / DAY_S : last->time_s, cu->per_run ? "days" : "s",
                   last->r.cost_usd / 1e6, 100 * last->r.mfu);
        else
            printf("at %lld chips: no layout (%s)\n", last->chips, last->err);
    }
    printf("  Why MFU falls past the knee: the batch is fixed, so doubling the chips halves "
           "each chip's share of it; the kernels shrink until launches, exposed communication "
           "and failures set the step instead of the math. At the largest count:\n");
    for (int c = 0; c < ncurves; c += nb) {
        const struct point *last = &cv[c].p[cv[c].n - 1];
        if (last->st != US_OK)
            continue;
        for (int w = 0; w < last->r.nwarnings && w < US_MAX_WARNINGS; w++) {
            const char *m = last->r.warnings[w];
            bool mfu = strncmp(m, "MFU ", 4) == 0 && m[4] >= '0' && m[4] <= '9';
            bool share = m[0] >= '0' && m[0] <= '9' && strstr(m, " tokens per chip per step:");
            if (strncmp(m, "launch-bound", 12) == 0 || mfu || share)
                printf("    %s: %s\n", cv[c].system, m);
        }
    }
    if (report)
        printf("  report: %s (open it in a browser; it prints to PDF)\n", report);
}

/* Writes the HTML report to path atomically: a temporary beside it, then rename. */
static int write_report(const char *path, const char *job_path, const struct curve *cv, int ncurves)
{
    char tmp[1024];
    if (snprintf(tmp, sizeof tmp, "%s.part", path) >= (int)sizeof tmp)
        return cli_usage("scale", "--report: path too long");
    FILE *f = fopen(tmp, "w");
    if (!f)
        return cli_fail(4, "%s: cannot create the report", tmp);
    scale_html(f, job_path, cv, ncurves);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        remove(tmp);
        return cli_fail(4, "%s: cannot write the report", path);
    }
    return 0;
}

static int split_names(const char *cmd, const char *list, char names[][64], int max)
{
    int n = 0;
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 0 || len >= 64 || n == max)
            return cli_usage(cmd, "--systems: up to %d names, not '%s'", max, list), -1;
        memcpy(names[n], p, len);
        names[n][len] = '\0';
        n++;
        p = e ? e + 1 : p + len;
    }
    return n;
}

int cmd_scale(int argc, char **argv)
{
    const char *cmd = "scale", *job_path = NULL, *systems = NULL, *chips_s = NULL, *batch_s = NULL,
               *report = NULL;
    enum us_format fmt = US_FORMAT_TABLE;
    struct cli_sets sets = {{0}, 0};
    const char *v;
    long long iv;
    int threads = 0;
    bool html = false;
    for (int i = 1; i < argc; i++) {
        int m;
        if ((m = cli_common_opt(cmd, argc, argv, &i, &sets, &fmt, &html)) != 0 ||
            (m = cli_opt(cmd, argc, argv, &i, "--systems", &systems)) != 0 ||
            (m = cli_opt(cmd, argc, argv, &i, "--chips", &chips_s)) != 0 ||
            (m = cli_opt(cmd, argc, argv, &i, "--batch", &batch_s)) != 0 ||
            (m = cli_opt(cmd, argc, argv, &i, "--report", &report)) != 0) {
            if (m < 0)
                return 2;
        } else if ((m = cli_opt(cmd, argc, argv, &i, "--threads", &v)) != 0) {
            if (m < 0 || !cli_int(v, 1, 64, &iv))
                return m < 0 ? 2 : cli_usage(cmd, "--threads must be 1..64, not '%s'", v);
            threads = (int)iv;
        } else if (cli_positional(cmd, argv[i], &job_path, "job file") != 0) {
            return 2;
        }
    }
    if (!job_path)
        return cli_usage(cmd, "no job file given");
    if (sets.n + 3 > CLI_MAX_SETS)
        return cli_usage(cmd, "too many --set options");
    char names[MAX_SYSTEMS][64];
    int ns = 0;
    if (systems && (ns = split_names(cmd, systems, names, MAX_SYSTEMS)) < 0)
        return 2;
    long long chips[MAX_CHIPS];
    int nc = 0;
    if (parse_chips(cmd, chips_s ? chips_s : "8K..1M", chips, &nc))
        return 2;
    long long batches[MAX_BATCHES] = {0};
    int nb = 1;
    if (batch_s) {
        nb = 0;
        for (const char *p = batch_s; *p;) {
            const char *e = strchr(p, ',');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            char tok[32];
            if (len == 0 || len >= sizeof tok || nb == MAX_BATCHES)
                return cli_usage(cmd, "--batch takes up to %d global batches, not '%s'",
                                 MAX_BATCHES, batch_s);
            memcpy(tok, p, len);
            tok[len] = '\0';
            if (!cli_int(tok, 1, 1LL << 30, &batches[nb]))
                return cli_usage(cmd, "--batch: '%s' is not a number of sequences", tok);
            nb++;
            p = e ? e + 1 : p + len;
        }
    }
    if (ns == 0) { /* the job's own system */
        struct us_ctx *ctx = us_ctx_create();
        struct us_job *job = NULL;
        struct us_diag d;
        enum us_status st = ctx ? us_job_load(ctx, job_path, sets.v, sets.n, &job, &d) : US_ENOMEM;
        if (st == US_OK)
            snprintf(names[ns++], sizeof names[0], "%.63s", us_job_system_name(job));
        us_job_destroy(job);
        us_ctx_destroy(ctx);
        if (st != US_OK)
            return st == US_ENOMEM ? cli_fail(3, "out of memory") : cli_diag(&d);
    }

    int ncurves = ns * nb, rc = 0;
    struct curve *cv = calloc((size_t)ncurves, sizeof *cv);
    if (!cv)
        return cli_fail(3, "out of memory");
    for (int s = 0; s < ns; s++)
        for (int b = 0; b < nb; b++) {
            struct curve *c = &cv[s * nb + b];
            snprintf(c->system, sizeof c->system, "%.63s", names[s]);
            c->batch = batches[b];
            c->n = nc;
            for (int i = 0; i < nc; i++)
                c->p[i].chips = chips[i];
        }
    struct pool pl = {job_path, &sets, cv, ncurves, nc, 0};
    atomic_init(&pl.next, 0);
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int nth = threads > 0 ? threads : (online < 1 ? 1 : (online > 64 ? 64 : (int)online));
    pthread_t th[64];
    bool started[64] = {false};
    for (int t = 1; t < nth; t++)
        started[t] = pthread_create(&th[t], NULL, pool_main, &pl) == 0;
    pool_main(&pl); /* a thread that did not start leaves its share to this one */
    for (int t = 1; t < nth; t++)
        if (started[t])
            pthread_join(th[t], NULL);
    for (int i = 0; i < ncurves; i++) {
        struct curve *c = &cv[i];
        for (int k = 0; k < c->n; k++) {
            const struct point *p = &c->p[k];
            if (p->st == US_EINPUT || p->st == US_EIO || p->st == US_ENOMEM) {
                rc = cli_fail((int)p->st, "%s", p->err);
                goto out;
            }
            if (p->st == US_OK) {
                c->tokens_per_step = p->r.tokens_per_step;
                c->per_run = p->r.has_run;
                if (p->r.has_run && p->r.tokens_per_step > 0)
                    c->compute_flop =
                        p->r.model_flop_per_step / p->r.tokens_per_step * p->r.run_tokens;
            }
        }
        find_knee(c);
    }

    if (html) {
        scale_html(stdout, job_path, cv, ncurves);
    } else if (fmt == US_FORMAT_JSON) {
        printf("{\n  \"job\": \"%s\",\n  \"knee_definition\": \"the chip count past which "
               "doubling the chips cuts time to train by less than %.0f%%\",\n",
               job_path, 100 * KNEE_CUT);
        printf("  \"batch_practice\": {\"deepseek_llm_fit\": \"B_opt = 0.2920 C^0.3271 tokens "
               "(arXiv:2401.02954 eq. 1)\", \"largest_published_tokens\": %.9g, "
               "\"largest_published_source\": \"DeepSeek-V3, arXiv:2412.19437 sec. 4.2\"},\n",
               DSV3_BATCH_TOKENS);
        printf("  \"curves\": [\n");
        for (int i = 0; i < ncurves; i++)
            json_curve(&cv[i], i + 1 == ncurves);
        printf("  ]\n}\n");
    } else if (fmt == US_FORMAT_CSV) {
        printf("system,tokens_per_step,chips,status,tp,pp,dp,cp,ep,step_time_s,"
               "time_to_train_days,cost_usd,energy_mwh,mfu,goodput,tokens_per_chip_per_step,"
               "knee\n");
        for (int i = 0; i < ncurves; i++)
            csv_curve(&cv[i]);
    } else {
        printf("%s: the best layout at each chip count; the knee is the chip count past which "
               "doubling the chips cuts the time to train by less than %.0f%% "
               "(docs/MODEL.md section 9)\n",
               job_path, 100 * KNEE_CUT);
        print_headline(job_path, cv, ncurves, nb, report);
        for (int i = 0; i < ncurves; i++)
            print_table(&cv[i]);
        double most = 0;
        int at = 0;
        for (int i = 0; i < ncurves; i++)
            if (cv[i].tokens_per_step > most) {
                most = cv[i].tokens_per_step;
                at = i;
            }
        print_batch_practice(&cv[at]);
    }
    if (report && (rc = write_report(report, job_path, cv, ncurves)) != 0)
        goto out;
    bool any = false; /* exit 1 only when no chip count of any curve has a layout */
    for (int i = 0; i < ncurves; i++)
        for (int k = 0; k < cv[i].n; k++)
            any = any || cv[i].p[k].st == US_OK;
    rc = any ? 0 : 1;
out:
    free(cv);
    return rc;
}
