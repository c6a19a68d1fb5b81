/* cli: search - the best layout for a job: the winner's full run output, then the top K,
 * the Pareto front on request, and how many candidates each phase saw and how long it took.
 * Progress goes to stderr only when stderr is a terminal. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static void progress(void *user, const char *phase, uint64_t done, uint64_t total)
{
    (void)user;
    fprintf(stderr, "\r%-10s %llu / %llu", phase, (unsigned long long)done,
            (unsigned long long)total);
    if (done >= total)
        fputc('\n', stderr);
    fflush(stderr);
}

size_t cli_layout_sets(const struct us_search_entry *e, char buf[][64], const char **v)
{
    const struct us_layout *l = &e->layout;
    size_t n = 0;
    snprintf(buf[n++], 64, "chips=%lld", (long long)e->chips);
    snprintf(buf[n++], 64, "parallel.tp=%d", l->tp);
    snprintf(buf[n++], 64, "parallel.pp=%d", l->pp);
    snprintf(buf[n++], 64, "parallel.dp=%d", l->dp);
    snprintf(buf[n++], 64, "parallel.cp=%d", l->cp);
    snprintf(buf[n++], 64, "parallel.ep=%d", l->ep);
    snprintf(buf[n++], 64, "parallel.vpp=%d", l->vpp);
    snprintf(buf[n++], 64, "parallel.zero=%d", l->zero);
    snprintf(buf[n++], 64, "parallel.sequence_parallel=%s",
             l->sequence_parallel ? "true" : "false");
    snprintf(buf[n++], 64, "parallel.recompute=%s", us_recompute_name(l->recompute));
    snprintf(buf[n++], 64, "parallel.schedule=%s", us_schedule_name(l->schedule));
    snprintf(buf[n++], 64, "parallel.first_stage_layers=%d", l->first_stage_layers);
    snprintf(buf[n++], 64, "parallel.last_stage_layers=%d", l->last_stage_layers);
    snprintf(buf[n++], 64, "training.micro_batch=%d", l->micro_batch);
    if (l->tp_overlap != US_OVERLAP_JOB)
        snprintf(buf[n++], 64, "parallel.tp_comm_overlap=%s",
                 l->tp_overlap == US_OVERLAP_ON ? "true" : "false");
    for (size_t i = 0; i < n; i++)
        v[i] = buf[i];
    return n;
}

/* A figure that may be unbounded (a layout that never finishes): "never" in tables. */
static void fig(char *b, size_t n, const char *fmt, double v)
{
    if (isfinite(v))
        snprintf(b, n, fmt, v);
    else
        snprintf(b, n, "never");
}

static void entry_table(const struct us_search_entry *e, int rank, bool per_run)
{
    char line[512], t[32], c[32], en[32];
    struct us_layout l = e->layout;
    l.chosen_mask = 0;
    us_layout_format(&l, line, sizeof line);
    fig(t, sizeof t, "%.3g", per_run ? e->time_s / 86400.0 : e->time_s);
    fig(c, sizeof c, "%.4g", e->cost_usd);
    fig(en, sizeof en, "%.3g", e->energy_J / 3.6e9);
    printf("  %2d  %8lld  %9.4g  %6.1f%%  %8s  %10s  %9s  %5.1f/%-5.0f  %-11s %s\n", rank,
           (long long)e->chips, e->step_time_s, 100 * e->mfu, t, c, en,
           e->peak_memory_B / 1073741824.0, e->capacity_B / 1073741824.0, e->engine, line);
}

/* JSON has no infinity: an unbounded figure is null (and "finishes" is false). */
static void json_num(char *b, size_t n, double v)
{
    if (isfinite(v))
        snprintf(b, n, "%.9g", v);
    else
        snprintf(b, n, "null");
}

static void entry_json(FILE *f, const struct us_search_entry *e, bool last)
{
    const struct us_layout *l = &e->layout;
    char t[32], c[32], en[32];
    json_num(t, sizeof t, e->time_s);
    json_num(c, sizeof c, e->cost_usd);
    json_num(en, sizeof en, e->energy_J);
    fprintf(f,
            "    {\"chips\": %lld, \"tp\": %d, \"pp\": %d, \"dp\": %d, \"cp\": %d, \"ep\": %d, "
            "\"vpp\": %d, \"zero\": %d, \"sequence_parallel\": %s, \"recompute\": \"%s\", "
            "\"schedule\": \"%s\", \"micro_batch\": %d, \"first_stage_layers\": %d, "
            "\"last_stage_layers\": %d, \"tp_overlap\": \"%s\", \"engine\": \"%s\", "
            "\"step_time_s\": %.9g, "
            "\"closed_form_step_time_s\": %.9g, \"finishes\": %s, \"time_s\": %s, "
            "\"cost_usd\": %s, \"energy_j\": %s, \"mfu\": %.6g, \"peak_memory_gib\": %.6g, "
            "\"pareto\": %s}%s\n",
            (long long)e->chips, l->tp, l->pp, l->dp, l->cp, l->ep, l->vpp, l->zero,
            l->sequence_parallel ? "true" : "false", us_recompute_name(l->recompute),
            us_schedule_name(l->schedule), l->micro_batch, l->first_stage_layers,
            l->last_stage_layers,
            l->tp_overlap == US_OVERLAP_JOB  ? "job"
            : l->tp_overlap == US_OVERLAP_ON ? "on"
                                             : "off",
            e->engine, e->step_time_s, e->closed_form_step_time_s,
            isfinite(e->time_s) ? "true" : "false", t, c, en, e->mfu,
            e->peak_memory_B / 1073741824.0, e->pareto ? "true" : "false", last ? "" : ",");
}

static void html_entries(FILE *f, const struct us_search_entry *v, int n, bool per_run)
{
    fprintf(f,
            "<table><tr><th>#</th><th>chips</th><th>layout</th><th>step (s)</th><th>MFU "
            "%%</th><th>%s</th><th>engine</th></tr>\n",
            per_run ? "days" : "time (s)");
    for (int i = 0; i < n; i++) {
        char line[512];
        struct us_layout l = v[i].layout;
        l.chosen_mask = 0;
        us_layout_format(&l, line, sizeof line);
        fprintf(f, "<tr><td>%d</td><td>%lld</td><td style=\"text-align:left\">", i + 1,
                (long long)v[i].chips);
        cli_html_text(f, line);
        fprintf(f, "</td><td>");
        cli_html_numf(f, "step_time_s", "%.4g", v[i].step_time_s, v[i].step_time_s);
        if (isfinite(v[i].time_s))
            fprintf(f, "</td><td>%.1f</td><td>%.4g</td><td>%s</td></tr>\n", 100 * v[i].mfu,
                    per_run ? v[i].time_s / 86400.0 : v[i].time_s, v[i].engine);
        else
            fprintf(f, "</td><td>%.1f</td><td>never</td><td>%s</td></tr>\n", 100 * v[i].mfu,
                    v[i].engine);
    }
    fprintf(f, "</table>\n");
}

/* search --format html: the winner (figures, breakdown, memory), the top K as bars and a
 * table, the Pareto front, the notes and the system's sources. */
static void search_html(const char *job_path, const struct us_result *r,
                        const struct us_search_result *res, const char *system)
{
    FILE *f = stdout;
    char title[256], lede[256], lay[512];
    snprintf(title, sizeof title, "Best layout for %.150s", job_path);
    snprintf(lede, sizeof lede,
             "Search by %s: %llu layouts in the space, %llu priced, %llu "
             "simulated.",
             us_objective_name(res->objective), (unsigned long long)res->space,
             (unsigned long long)res->estimated, (unsigned long long)res->simulated);
    cli_html_begin(f, title, lede);
    us_layout_format(&r->layout, lay, sizeof lay);
    fprintf(f, "<h2>The winner</h2>\n<p>");
    cli_html_text(f, lay);
    fprintf(f, "</p>\n<table><tr><th>step time (s)</th><td>");
    cli_html_numf(f, "step_time_s", "%.4g", r->step_time_s, r->step_time_s);
    fprintf(f, "</td></tr><tr><th>MFU (%%)</th><td>");
    cli_html_numf(f, "mfu", "%.1f", 100 * r->mfu, r->mfu);
    fprintf(f, "</td></tr></table>\n");
    double parts[1][CLI_HTML_PARTS];
    cli_html_parts(&r->breakdown, parts[0]);
    const char *one[] = {"best layout"};
    cli_html_stacked_bars(f, "step breakdown", 1, one, (const double(*)[CLI_HTML_PARTS])parts, "s");
    cli_html_memory(f, &r->memory);
    fprintf(f, "<h2>Top %d</h2>\n", res->ntop);
    char lab[US_SEARCH_MAX_TOP][16];
    const char *labels[US_SEARCH_MAX_TOP];
    double v[US_SEARCH_MAX_TOP];
    for (int i = 0; i < res->ntop; i++) {
        snprintf(lab[i], sizeof lab[i], "#%d", i + 1);
        labels[i] = lab[i];
        v[i] = res->top[i].step_time_s;
    }
    fprintf(f, "<figure><svg class=\"chart\" role=\"img\" viewBox=\"0 0 960 230\" width=\"960\" "
               "height=\"230\"><title>step time of the top layouts</title>\n");
    cli_html_bars(f, "step time", res->ntop, labels, v, "s", 0, 960);
    fprintf(f, "</svg></figure>\n");
    html_entries(f, res->top, res->ntop, res->per_run);
    fprintf(f, "<h2>Pareto front over time, cost and energy</h2>\n");
    html_entries(f, res->pareto, res->npareto, res->per_run);
    fprintf(f, "<h2>Notes</h2>\n<ul class=\"notes\">\n");
    for (int i = 0; i < res->nnotes; i++) {
        fprintf(f, "<li>");
        cli_html_text(f, res->notes[i]);
        fprintf(f, "</li>\n");
    }
    fprintf(f, "</ul>\n");
    cli_html_notes(f, r);
    cli_html_sources(f, system);
    cli_html_end(f);
}

static int parse_chips(const char *cmd, const char *s, int64_t *out, size_t *n)
{
    *n = 0;
    for (const char *p = s; *p;) {
        const char *e = strchr(p, ',');
        char tok[32];
        size_t len = e ? (size_t)(e - p) : strlen(p);
        long long v;
        if (len == 0 || len >= sizeof tok || *n == 64)
            return cli_usage(cmd, "--chips takes up to 64 comma-separated counts, not '%s'", s);
        memcpy(tok, p, len);
        tok[len] = '\0';
        if (!cli_int(tok, 1, 1LL << 24, &v))
            return cli_usage(cmd, "--chips: '%s' is not a chip count in 1..16777216", tok);
        out[(*n)++] = v;
        p = e ? e + 1 : p + len;
    }
    return 0;
}

int cmd_search(int argc, char **argv)
{
    const char *cmd = "search", *job_path = NULL, *v;
    enum us_format fmt = US_FORMAT_TABLE;
    struct cli_sets sets = {{0}, 0};
    struct us_search_options opt = {0};
    int64_t chips[64];
    size_t nchips = 0;
    bool pareto = false, html = false;
    long long iv;
    double dv;
    for (int i = 1; i < argc; i++) {
        int m;
        if ((m = cli_common_opt(cmd, argc, argv, &i, &sets, &fmt, &html)) != 0) {
            if (m < 0)
                return 2;
        } else if ((m = cli_opt(cmd, argc, argv, &i, "--objective", &v)) != 0) {
            if (m < 0)
                return 2;
            if (strcmp(v, "time") == 0)
                opt.objective = US_OBJECTIVE_TIME;
            else if (strcmp(v, "cost") == 0)
                opt.objective = US_OBJECTIVE_COST;
            else if (strcmp(v, "energy") == 0)
                opt.objective = US_OBJECTIVE_ENERGY;
            else
                return cli_usage(cmd, "--objective must be time, cost or energy, not '%s'", v);
        } else if ((m = cli_opt(cmd, argc, argv, &i, "--top", &v)) != 0) {
            if (m < 0 || !cli_int(v, 1, US_SEARCH_MAX_TOP, &iv))
                return m < 0
                           ? 2
                           : cli_usage(cmd, "--top must be 1..%d, not '%s'", US_SEARCH_MAX_TOP, v);
            opt.top_k = (int)iv;
        } else if ((m = cli_opt(cmd, argc, argv, &i, "--threads", &v)) != 0) {
            if (m < 0 || !cli_int(v, 1, 256, &iv))
                return m < 0 ? 2 : cli_usage(cmd, "--threads must be 1..256, not '%s'", v);
            opt.threads = (int)iv;
        } else if ((m = cli_opt(cmd, argc, argv, &i, "--chips", &v)) != 0) {
            if (m < 0 || parse_chips(cmd, v, chips, &nchips))
                return 2;
            opt.chips = chips;
            opt.nchips = nchips;
        } else if ((m = cli_real_opt(cmd, argc, argv, &i, "--deadline", 0.001, 1e5, "days", &dv)) !=
                   0) {
            if (m < 0)
                return 2;
            opt.deadline_s = dv * 86400.0;
        } else if ((m = cli_real_opt(cmd, argc, argv, &i, "--budget", 1, 1e15, "USD", &dv)) != 0) {
            if (m < 0)
                return 2;
            opt.budget_usd = dv;
        } else if (strcmp(argv[i], "--pareto") == 0) {
            pareto = true;
        } else if (strcmp(argv[i], "--closed-form") == 0) {
            opt.closed_form_only = true;
        } else if (cli_positional(cmd, argv[i], &job_path, "job file") != 0) {
            return 2;
        }
    }
    if (!job_path)
        return cli_usage(cmd, "no job file given");
    if (isatty(STDERR_FILENO))
        opt.progress = progress;

    struct us_ctx *ctx = us_ctx_create();
    struct us_job *job = NULL, *best = NULL;
    struct us_search_result *res = calloc(1, sizeof *res);
    struct us_diag d;
    int rc = 0;
    if (!ctx || !res) {
        rc = cli_fail(3, "out of memory");
        goto out;
    }
    enum us_status st = us_job_load(ctx, job_path, sets.v, sets.n, &job, &d);
    if (st == US_OK)
        st = us_search(ctx, job, &opt, res, &d);
    if (st != US_OK && st != US_INFEASIBLE) {
        rc = cli_diag(&d);
        goto out;
    }
    if (res->ntop == 0) {
        rc = cli_fail(1, "no valid layout fits: %llu candidates, %llu pruned for memory",
                      (unsigned long long)res->space,
                      (unsigned long long)res->pruned[US_PRUNE_MEMORY]);
        goto out;
    }
    /* the winner, run in full with its layout pinned */
    char buf[CLI_MAX_SETS][64];
    const char *v2[CLI_MAX_SETS];
    struct cli_sets all = sets;
    size_t nl = cli_layout_sets(&res->top[0], buf, v2);
    if (all.n + nl > CLI_MAX_SETS) {
        rc = cli_usage(cmd, "too many --set options");
        goto out;
    }
    for (size_t i = 0; i < nl; i++)
        all.v[all.n++] = v2[i];
    struct us_result r;
    st = us_job_load(ctx, job_path, all.v, all.n, &best, &d);
    if (st == US_OK)
        st = us_run(ctx, best, NULL, &r, &d);
    if (st != US_OK && st != US_INFEASIBLE) {
        rc = cli_diag(&d);
        goto out;
    }
    r.layout.chosen_mask = res->top[0].layout.chosen_mask;
    if (html) {
        search_html(job_path, &r, res, us_job_system_name(best));
        goto out;
    }
    if (fmt == US_FORMAT_JSON) {
        printf("{\n  \"objective\": \"%s\",\n  \"best\": ", us_objective_name(res->objective));
        us_result_write(&r, best, US_FORMAT_JSON, stdout);
        printf("  ,\"top\": [\n");
        for (int i = 0; i < res->ntop; i++)
            entry_json(stdout, &res->top[i], i == res->ntop - 1);
        printf("  ],\n  \"pareto\": [\n");
        for (int i = 0; i < res->npareto; i++)
            entry_json(stdout, &res->pareto[i], i == res->npareto - 1);
        printf("  ],\n  \"space\": %llu, \"estimated\": %llu, \"simulated\": %llu,\n",
               (unsigned long long)res->space, (unsigned long long)res->estimated,
               (unsigned long long)res->simulated);
        printf("  \"pruned\": {");
        for (int p = 0; p < US_PRUNE_COUNT; p++)
            printf("%s\"%s\": %llu", p ? ", " : "", us_prune_name((enum us_prune)p),
                   (unsigned long long)res->pruned[p]);
        printf("},\n  \"seconds\": {\"enumerate\": %.6g, \"estimate\": %.6g, \"simulate\": "
               "%.6g, \"total\": %.6g},\n  \"threads\": %d\n}\n",
               res->enumerate_s, res->estimate_s, res->simulate_s, res->total_s, res->threads);
        goto out;
    }
    if (fmt == US_FORMAT_CSV) {
        us_result_write(&r, best, US_FORMAT_CSV, stdout);
        goto out;
    }
    printf("best layout by %s (full prediction):\n", us_objective_name(res->objective));
    us_result_write(&r, best, US_FORMAT_TABLE, stdout);
    printf("\ntop %d by %s (%s: time = %s):\n", res->ntop, us_objective_name(res->objective),
           res->per_run ? "whole run" : "one step", res->per_run ? "days" : "seconds");
    printf("   #     chips  step (s)     MFU      time    cost ($)  energy MWh  mem GiB      "
           "engine      layout\n");
    for (int i = 0; i < res->ntop; i++)
        entry_table(&res->top[i], i + 1, res->per_run);
    if (pareto) {
        printf("\npareto front over (time, cost, energy), %d layouts%s:\n", res->npareto,
               res->pareto_truncated ? " (truncated)" : "");
        for (int i = 0; i < res->npareto; i++)
            entry_table(&res->pareto[i], i + 1, res->per_run);
    }
    printf("\ncandidates: %llu in the space, %llu estimated (closed form), %llu simulated "
           "(event)\n",
           (unsigned long long)res->space, (unsigned long long)res->estimated,
           (unsigned long long)res->simulated);
    printf("pruned:    ");
    for (int p = 0; p < US_PRUNE_COUNT; p++)
        printf(" %s %llu", us_prune_name((enum us_prune)p), (unsigned long long)res->pruned[p]);
    printf("\nseconds:    enumerate %.3f, estimate %.3f, simulate %.3f, total %.3f on %d "
           "threads\n",
           res->enumerate_s, res->estimate_s, res->simulate_s, res->total_s, res->threads);
    for (int i = 0; i < res->nnotes; i++)
        printf("note:       %s\n", res->notes[i]);
out:
    us_job_destroy(best);
    us_job_destroy(job);
    us_ctx_destroy(ctx);
    free(res);
    return rc;
}
