/* cli: plan - supply and price scenarios. A scenario (us_scenario_load) gives per system a
 * delivery ramp, a price schedule and a site power cap. plan prices the job at every
 * power-of-two chip count each system's deliveries allow (us_run: the best layout at that
 * count), then considers every plan of the form "start on one system with n chips as soon
 * as they are delivered, and at most once - at a delivery or a price change - move to
 * another system or resize, losing move_restart_hours (paid) but keeping the progress".
 * A job never runs on two vendors at once. It answers the earliest finish, the cheapest
 * plan that meets the deadline, and, with --delay / --price-shock, what the shock does to
 * both answers and to each vendor's own best plan; each answer in a paragraph. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define MAX_GRID 12
#define DAY_S    86400.0

struct cpoint {
    long long chips;
    enum us_status st;
    double T_s;          /* time to train on these chips alone, failures included */
    double power_W;      /* facility power while training */
    double preset_usd_h; /* the preset's price per chip-hour */
    char err[256];
};

struct sys {
    struct us_scenario_system s; /* the scenario's, shocks applied */
    int n;
    struct cpoint p[MAX_GRID];
};

struct plan {
    int sa, ia;    /* first phase: system, grid index */
    double t1;     /* start, s */
    int sb, ib;    /* second phase (sb < 0: none) */
    double move;   /* when it moves, s */
    double finish; /* s */
    double cost;   /* USD */
    bool valid;
};

static double step_at(const struct us_scenario_step *v, int n, double day, double dflt)
{
    double x = dflt;
    for (int i = 0; i < n && v[i].day <= day + 1e-9; i++)
        x = v[i].value;
    return x;
}

static double price_at(const struct sys *y, int i, double t_s)
{
    return step_at(y->s.prices, y->s.nprices, t_s / DAY_S, y->p[i].preset_usd_h);
}

/* USD for n chips of system y from a to b (s): the price schedule integrated. */
static double cost_of(const struct sys *y, int i, double a, double b)
{
    double c = 0, t = a;
    while (t < b) {
        double next = b;
        for (int k = 0; k < y->s.nprices; k++)
            if (y->s.prices[k].day * DAY_S > t + 1e-6 && y->s.prices[k].day * DAY_S < next)
                next = y->s.prices[k].day * DAY_S;
        c += (double)y->p[i].chips * price_at(y, i, t) * (next - t) / 3600.0;
        t = next;
    }
    return c;
}

/* The first delivery day (s) from which n chips are available; < 0 = never. */
static double first_avail(const struct sys *y, long long n)
{
    for (int k = 0; k < y->s.ndeliveries; k++)
        if (y->s.deliveries[k].value >= (double)n)
            return y->s.deliveries[k].day * DAY_S;
    return -1;
}

static bool usable(const struct sys *y, int i)
{
    const struct cpoint *p = &y->p[i];
    return p->st == US_OK && p->T_s > 0 && isfinite(p->T_s) &&
           (y->s.power_cap_W <= 0 || p->power_W <= y->s.power_cap_W);
}

/* Every plan; only = -1 any system, else only that one. Returns the earliest and, when
 * deadline_s > 0, the cheapest meeting it. */
static int plans(const struct sys *ys, int ns, double restart_s, double deadline_s, int only,
                 struct plan *earliest, struct plan *cheapest)
{
    double ev[US_SCENARIO_MAX_SYSTEMS * 2 * US_SCENARIO_MAX_STEPS];
    int ne = 0, count = 0;
    for (int s = 0; s < ns; s++) {
        for (int k = 0; k < ys[s].s.ndeliveries; k++)
            ev[ne++] = ys[s].s.deliveries[k].day * DAY_S;
        for (int k = 0; k < ys[s].s.nprices; k++)
            ev[ne++] = ys[s].s.prices[k].day * DAY_S;
    }
    memset(earliest, 0, sizeof *earliest);
    memset(cheapest, 0, sizeof *cheapest);
    for (int sa = 0; sa < ns; sa++)
        for (int ia = 0; ia < ys[sa].n; ia++) {
            if ((only >= 0 && sa != only) || !usable(&ys[sa], ia))
                continue;
            double t1 = first_avail(&ys[sa], ys[sa].p[ia].chips);
            if (t1 < 0)
                continue;
            double Ta = ys[sa].p[ia].T_s;
            for (int e = -1; e < ne; e++) { /* e = -1: no move */
                if (e >= 0 && !(ev[e] > t1 && ev[e] < t1 + Ta))
                    continue;
                for (int sb = e < 0 ? -1 : 0; sb < (e < 0 ? 0 : ns); sb++)
                    for (int ib = 0; ib < (sb < 0 ? 1 : ys[sb].n); ib++) {
                        struct plan p = {sa, ia, t1, sb, sb < 0 ? -1 : ib, 0, 0, 0, true};
                        if (sb >= 0) {
                            if ((only >= 0 && sb != only) || (sb == sa && ib == ia) ||
                                !usable(&ys[sb], ib) ||
                                step_at(ys[sb].s.deliveries, ys[sb].s.ndeliveries, ev[e] / DAY_S,
                                        0) < (double)ys[sb].p[ib].chips)
                                continue;
                            double done = (ev[e] - t1) / Ta;
                            p.move = ev[e];
                            p.finish = ev[e] + restart_s + (1 - done) * ys[sb].p[ib].T_s;
                            p.cost = cost_of(&ys[sa], ia, t1, ev[e]) +
                                     cost_of(&ys[sb], ib, ev[e], p.finish);
                        } else {
                            p.finish = t1 + Ta;
                            p.cost = cost_of(&ys[sa], ia, t1, p.finish);
                        }
                        count++;
                        if (!earliest->valid || p.finish < earliest->finish - 1e-6 ||
                            (fabs(p.finish - earliest->finish) <= 1e-6 && p.cost < earliest->cost))
                            *earliest = p;
                        if (deadline_s > 0 && p.finish <= deadline_s &&
                            (!cheapest->valid || p.cost < cheapest->cost - 1e-6 ||
                             (fabs(p.cost - cheapest->cost) <= 1e-6 &&
                              p.finish < cheapest->finish)))
                            *cheapest = p;
                    }
            }
        }
    return count;
}

static void describe(const struct sys *ys, const struct plan *p, double restart_s, char *b,
                     size_t n)
{
    if (!p->valid) {
        snprintf(b, n, "no plan");
        return;
    }
    const struct sys *a = &ys[p->sa];
    int k = snprintf(b, n,
                     "start on day %.1f on %lld %s chips (delivered by then, %.3g MW at the "
                     "site, $%.2f per chip-hour)",
                     p->t1 / DAY_S, a->p[p->ia].chips, a->s.name, a->p[p->ia].power_W / 1e6,
                     price_at(a, p->ia, p->t1));
    if (p->sb >= 0 && k > 0 && (size_t)k < n) {
        const struct sys *c = &ys[p->sb];
        k += snprintf(b + k, n - (size_t)k,
                      "; on day %.1f, with %.0f%% of the job done, %s to %lld %s chips (%.0f "
                      "hours lost to the restart, paid)",
                      p->move / DAY_S, 100 * (p->move - p->t1) / a->p[p->ia].T_s,
                      p->sb == p->sa ? "resize" : "move", c->p[p->ib].chips, c->s.name,
                      restart_s / 3600);
    }
    if (k > 0 && (size_t)k < n)
        snprintf(b + k, n - (size_t)k, "; finish on day %.1f for $%.3gM", p->finish / DAY_S,
                 p->cost / 1e6);
}

struct pool {
    const char *job_path;
    const struct cli_sets *sets;
    struct sys *ys;
    int ns;
    atomic_int next;
};

static void *pool_main(void *arg)
{
    struct pool *pl = arg;
    for (;;) {
        int k = atomic_fetch_add(&pl->next, 1);
        if (k >= pl->ns * MAX_GRID)
            return NULL;
        struct sys *y = &pl->ys[k / MAX_GRID];
        int i = k % MAX_GRID;
        if (i >= y->n)
            continue;
        struct cpoint *p = &y->p[i];
        struct cli_sets s = *pl->sets;
        char sys_set[96], chips_set[64];
        snprintf(sys_set, sizeof sys_set, "system=%.63s", y->s.name);
        snprintf(chips_set, sizeof chips_set, "chips=%lld", p->chips);
        s.v[s.n++] = sys_set;
        s.v[s.n++] = chips_set;
        struct us_ctx *ctx = us_ctx_create();
        struct us_job *job = NULL;
        struct us_diag d;
        struct us_result *r = calloc(1, sizeof *r);
        p->st = ctx && r ? us_job_load(ctx, pl->job_path, s.v, s.n, &job, &d) : US_ENOMEM;
        if (p->st == US_OK) {
            struct us_run_options opt = {.threads = 1};
            p->st = us_run(ctx, job, &opt, r, &d);
        }
        if (p->st == US_OK && !r->has_run) {
            p->st = US_EINPUT;
            snprintf(p->err, sizeof p->err,
                     "%s: a scenario needs training.tokens in the job (the time to train)",
                     pl->job_path);
        } else if (p->st == US_OK) {
            p->T_s = r->time_to_train_s;
            p->power_W = r->facility_power_W;
            p->preset_usd_h = r->cost_usd_per_hour / (double)p->chips;
        } else if (p->st == US_INFEASIBLE) {
            snprintf(p->err, sizeof p->err, "%.250s", r->reason);
        } else if (r) {
            us_diag_format(&d, p->err, sizeof p->err);
        }
        free(r);
        us_job_destroy(job);
        us_ctx_destroy(ctx);
    }
}

/* --delay SYSTEM:DAYS, --price-shock SYSTEM:FACTOR[@DAY] */
static int find_sys(const struct sys *ys, int ns, const char *name, size_t len)
{
    for (int s = 0; s < ns; s++)
        if (strlen(ys[s].s.name) == len && strncmp(ys[s].s.name, name, len) == 0)
            return s;
    return -1;
}

static void json_plan(const char *key, const struct sys *ys, const struct plan *p, bool comma)
{
    printf("  \"%s\": ", key);
    if (!p->valid) {
        printf("null%s\n", comma ? "," : "");
        return;
    }
    printf("{\"system\": \"%s\", \"chips\": %lld, \"start_day\": %.6g", ys[p->sa].s.name,
           ys[p->sa].p[p->ia].chips, p->t1 / DAY_S);
    if (p->sb >= 0)
        printf(", \"move_day\": %.6g, \"move_system\": \"%s\", \"move_chips\": %lld",
               p->move / DAY_S, ys[p->sb].s.name, ys[p->sb].p[p->ib].chips);
    printf(", \"finish_day\": %.9g, \"cost_usd\": %.9g}%s\n", p->finish / DAY_S, p->cost,
           comma ? "," : "");
}

/* One plan as a CSV row (answer,valid,system,chips,start_day,move_day,move_system,
 * move_chips,finish_day,cost_usd; empty fields where the plan has no move or no answer). */
static void csv_plan(const char *key, const struct sys *ys, const struct plan *p)
{
    printf("%s,", key);
    if (!p->valid) {
        printf("false,,,,,,,,\n");
        return;
    }
    printf("true,%s,%lld,%.6g,", ys[p->sa].s.name, ys[p->sa].p[p->ia].chips, p->t1 / DAY_S);
    if (p->sb >= 0)
        printf("%.6g,%s,%lld,", p->move / DAY_S, ys[p->sb].s.name, ys[p->sb].p[p->ib].chips);
    else
        printf(",,,");
    printf("%.9g,%.9g\n", p->finish / DAY_S, p->cost);
}

/* One plan as a bar per phase on a day axis, with its finish and cost (data-json, in the
 * JSON's order). */
static void html_plan_row(FILE *f, const struct sys *ys, const struct plan *p, int row, double span,
                          const char *label)
{
    const int l = 230, w = 960 - l - 20, y = 30 + row * 44;
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", l - 8, y + 17);
    cli_html_text(f, label);
    fprintf(f, "</text>\n");
    if (!p->valid) {
        fprintf(f, "<text x=\"%d\" y=\"%d\">no plan</text>\n", l, y + 17);
        return;
    }
    double a = p->t1, b = p->sb >= 0 ? p->move : p->finish;
    for (int ph = 0; ph < (p->sb >= 0 ? 2 : 1); ph++) {
        int s = ph ? p->sb : p->sa, i = ph ? p->ib : p->ia;
        double x0 = l + a / span * w, x1 = l + b / span * w;
        fprintf(f,
                "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"26\" fill=\"%s\"><title>%s, "
                "%lld chips, day %.1f to %.1f</title></rect>\n<text x=\"%.1f\" y=\"%d\" "
                "fill=\"#fff\">%lld</text>\n",
                x0, y, x1 - x0 > 1 ? x1 - x0 : 1, cli_html_part_color[s % CLI_HTML_PARTS],
                ys[s].s.name, ys[s].p[i].chips, a / DAY_S, b / DAY_S, x0 + 4, y + 17,
                ys[s].p[i].chips);
        a = b;
        b = p->finish;
    }
}

static void html_plan_cell(FILE *f, const struct plan *p)
{
    if (!p->valid) {
        fprintf(f, "<td>-</td><td>-</td>");
        return;
    }
    fprintf(f, "<td>");
    cli_html_numf(f, "finish_day", "%.1f", p->finish / DAY_S, p->finish / DAY_S);
    fprintf(f, "</td><td>");
    cli_html_numf(f, "cost_usd", "%.2f", p->cost / 1e6, p->cost);
    fprintf(f, "</td>");
}

static void plan_html(const char *path, const struct sys *ys, const struct sys *shocked, int ns,
                      const struct plan *pl, const char *const *names, const char *const *text,
                      int np, double deadline_s)
{
    FILE *f = stdout;
    char title[256];
    snprintf(title, sizeof title, "Supply plan: %.200s", path);
    cli_html_begin(f, title,
                   "Each system priced at every power-of-two chip count its deliveries allow; "
                   "plans start when chips are delivered and may move or resize once.");
    double span = deadline_s;
    for (int k = 0; k < np; k++)
        if (pl[k].valid)
            span = fmax(span, pl[k].finish);
    for (int s = 0; s < ns; s++)
        for (int k = 0; k < ys[s].s.ndeliveries; k++)
            span =
                fmax(span, fmax(ys[s].s.deliveries[k].day, shocked[s].s.deliveries[k].day) * DAY_S);
    span *= 1.12;
    if (!(span > 0))
        span = DAY_S;
    int h = 30 + (np + ns) * 44 + 40;
    fprintf(f,
            "<h2>Scenario timeline</h2>\n<figure><svg class=\"chart\" role=\"img\" viewBox=\"0 "
            "0 960 %d\" width=\"960\" height=\"%d\"><title>plans and deliveries over "
            "time</title>\n",
            h, h);
    for (int k = 0; k < np; k++)
        html_plan_row(f, k < 2 ? ys : shocked, &pl[k], k, span, names[k]);
    for (int s = 0; s < ns; s++) { /* the delivery ramps */
        int y = 30 + (np + s) * 44;
        fprintf(f, "<text x=\"222\" y=\"%d\" text-anchor=\"end\">", y + 17);
        cli_html_text(f, ys[s].s.name);
        fprintf(f, " deliveries</text>\n");
        for (int k = 0; k < shocked[s].s.ndeliveries; k++) {
            double x = 230 + shocked[s].s.deliveries[k].day * DAY_S / span * 710;
            fprintf(f,
                    "<circle cx=\"%.1f\" cy=\"%d\" r=\"5\" fill=\"%s\"><title>day %.1f: %.0f "
                    "chips</title></circle><text x=\"%.1f\" y=\"%d\">%.0f</text>\n",
                    x, y + 13, cli_html_part_color[s % CLI_HTML_PARTS],
                    shocked[s].s.deliveries[k].day, shocked[s].s.deliveries[k].value, x + 7, y + 17,
                    shocked[s].s.deliveries[k].value);
        }
    }
    if (deadline_s > 0) {
        double x = 230 + deadline_s / span * 710;
        fprintf(f,
                "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"20\" y2=\"%d\" stroke=\"#d1496b\" "
                "stroke-dasharray=\"4 3\"/><text x=\"%.1f\" y=\"14\" "
                "text-anchor=\"middle\">deadline</text>\n",
                x, x, h - 30, x);
    }
    for (int d = 0; d <= (int)(span / DAY_S); d += (span / DAY_S > 60 ? 10 : 2))
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%d</text>\n",
                230 + d * DAY_S / span * 710, h - 12, d);
    fprintf(f,
            "</svg></figure>\n<p class=\"muted\">days; bars are the plans' phases (chips on "
            "each), dots the deliveries%s.</p>\n",
            np > 2 ? " after the shock" : "");
    fprintf(f, "<h2>Answers</h2>\n<table><tr><th>answer</th><th>finish (day)</th><th>cost "
               "($M)</th></tr>\n");
    for (int k = 0; k < np; k++) {
        fprintf(f, "<tr><td>");
        cli_html_text(f, names[k]);
        fprintf(f, "</td>");
        html_plan_cell(f, &pl[k]);
        fprintf(f, "</tr>\n");
    }
    fprintf(f, "</table>\n");
    for (int k = 0; k < np; k++) {
        fprintf(f, "<p><b>");
        cli_html_text(f, names[k]);
        fprintf(f, ":</b> ");
        cli_html_text(f, text[k]);
        fprintf(f, ".</p>\n");
    }
    fprintf(f, "<h2>Sources</h2>\n<p>Deliveries, prices and power caps are the scenario's "
               "(assumptions unless its comments cite a contract); prices a system leaves out "
               "and everything else are the presets':</p>\n");
    for (int s = 0; s < ns; s++)
        cli_html_sources(f, ys[s].s.name);
    cli_html_end(f);
}

int cmd_plan(int argc, char **argv)
{
    const char *cmd = "plan", *path = NULL, *delay_s = NULL, *shock_s = NULL;
    enum us_format fmt = US_FORMAT_TABLE;
    struct cli_sets sets = {{0}, 0};
    double deadline = 0;
    bool html = false;
    for (int i = 1; i < argc; i++) {
        int m;
        if ((m = cli_common_opt(cmd, argc, argv, &i, &sets, &fmt, &html)) != 0 ||
            (m = cli_opt(cmd, argc, argv, &i, "--delay", &delay_s)) != 0 ||
            (m = cli_opt(cmd, argc, argv, &i, "--price-shock", &shock_s)) != 0 ||
            (m = cli_real_opt(cmd, argc, argv, &i, "--deadline", 0.001, 36500, "days",
                              &deadline)) != 0) {
            if (m < 0)
                return 2;
        } else if (cli_positional(cmd, argv[i], &path, "scenario file") != 0) {
            return 2;
        }
    }
    if (!path)
        return cli_usage(cmd, "no scenario file given");
    if (sets.n + 2 > CLI_MAX_SETS)
        return cli_usage(cmd, "too many --set options");
    struct us_ctx *ctx = us_ctx_create();
    struct us_scenario *sc = calloc(1, sizeof *sc);
    struct sys *ys = calloc(US_SCENARIO_MAX_SYSTEMS, sizeof *ys),
               *shocked = calloc(US_SCENARIO_MAX_SYSTEMS, sizeof *shocked);
    struct us_diag d;
    int rc = 0;
    if (!ctx || !sc || !ys || !shocked) {
        rc = cli_fail(3, "out of memory");
        goto out;
    }
    if (us_scenario_load(ctx, path, sc, &d) != US_OK) {
        rc = cli_diag(&d);
        goto out;
    }
    double deadline_s = deadline > 0 ? deadline * DAY_S : sc->deadline_s;
    int ns = sc->nsystems;
    for (int s = 0; s < ns; s++) { /* the grid: powers of two up to the largest delivery */
        ys[s].s = sc->systems[s];
        double most = 0;
        for (int k = 0; k < ys[s].s.ndeliveries; k++)
            most = fmax(most, ys[s].s.deliveries[k].value);
        long long top = 1;
        while (top * 2 <= (long long)most)
            top *= 2;
        for (long long c = top; c >= 1 && ys[s].n < MAX_GRID && c * 64 >= top; c /= 2)
            ys[s].p[ys[s].n++].chips = c;
    }
    struct pool pl = {sc->job_path, &sets, ys, ns, 0};
    atomic_init(&pl.next, 0);
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int nth = online < 1 ? 1 : (online > 16 ? 16 : (int)online);
    pthread_t th[16];
    bool started[16] = {false};
    for (int t = 1; t < nth; t++)
        started[t] = pthread_create(&th[t], NULL, pool_main, &pl) == 0;
    pool_main(&pl);
    for (int t = 1; t < nth; t++)
        if (started[t])
            pthread_join(th[t], NULL);
    for (int s = 0; s < ns; s++)
        for (int i = 0; i < ys[s].n; i++)
            if (ys[s].p[i].st == US_EINPUT || ys[s].p[i].st == US_EIO ||
                ys[s].p[i].st == US_ENOMEM) {
                rc = cli_fail((int)ys[s].p[i].st, "%s", ys[s].p[i].err);
                goto out;
            }

    /* the shocked copy */
    memcpy(shocked, ys, (size_t)ns * sizeof *ys);
    char shock_text[256] = "";
    if (delay_s) {
        const char *c = strrchr(delay_s, ':');
        double days;
        int s = c ? find_sys(ys, ns, delay_s, (size_t)(c - delay_s)) : -1;
        if (s < 0 || !cli_real(c + 1, 0, 36500, &days)) {
            rc = cli_usage(cmd, "--delay takes SYSTEM:DAYS with a system of the scenario, not '%s'",
                           delay_s);
            goto out;
        }
        for (int k = 0; k < shocked[s].s.ndeliveries; k++)
            shocked[s].s.deliveries[k].day += days;
        snprintf(shock_text, sizeof shock_text, "%s's deliveries %.0f days late", ys[s].s.name,
                 days);
    }
    if (shock_s) {
        const char *c = strrchr(shock_s, ':'), *at = strchr(shock_s, '@');
        double f, day = 0;
        int s = c ? find_sys(ys, ns, shock_s, (size_t)(c - shock_s)) : -1;
        char fac[32];
        size_t fl = c ? (at ? (size_t)(at - c - 1) : strlen(c + 1)) : 0;
        if (fl < sizeof fac && c) {
            memcpy(fac, c + 1, fl);
            fac[fl] = '\0';
        }
        if (s < 0 || fl == 0 || fl >= sizeof fac || !cli_real(fac, 0.01, 100, &f) ||
            (at && !cli_real(at + 1, 0, 36500, &day))) {
            rc = cli_usage(cmd,
                           "--price-shock takes SYSTEM:FACTOR[@DAY] with a system of the "
                           "scenario, not '%s'",
                           shock_s);
            goto out;
        }
        struct us_scenario_system *y = &shocked[s].s;
        /* the schedule as steps, with one at the shock's day, then scaled from it on */
        struct us_scenario_step v[US_SCENARIO_MAX_STEPS + 1];
        int n = 0;
        double base = y->nprices ? 0 : shocked[s].p[0].preset_usd_h;
        if (y->nprices == 0)
            v[n++] = (struct us_scenario_step){0, base};
        for (int k = 0; k < y->nprices; k++)
            v[n++] = y->prices[k];
        bool have = false;
        for (int k = 0; k < n; k++)
            have = have || fabs(v[k].day - day) < 1e-9;
        if (!have && n < US_SCENARIO_MAX_STEPS) {
            double cur = step_at(v, n, day, base);
            int k = n;
            while (k > 0 && v[k - 1].day > day) {
                v[k] = v[k - 1];
                k--;
            }
            v[k] = (struct us_scenario_step){day, cur};
            n++;
        }
        for (int k = 0; k < n; k++)
            if (v[k].day >= day - 1e-9)
                v[k].value *= f;
        memcpy(y->prices, v, (size_t)n * sizeof v[0]);
        y->nprices = n;
        snprintf(shock_text + strlen(shock_text), sizeof shock_text - strlen(shock_text),
                 "%s%s's price x%.2f from day %.0f", shock_text[0] ? " and " : "", ys[s].s.name, f,
                 day);
    }

    struct plan e0, c0, e1, c1;
    int count = plans(ys, ns, sc->move_restart_s, deadline_s, -1, &e0, &c0);
    plans(shocked, ns, sc->move_restart_s, deadline_s, -1, &e1, &c1);
    bool shock = delay_s || shock_s;
    char b[1024];
    if (html) {
        struct plan ans[4] = {e0, c0, e1, c1};
        static const char *const names[] = {"earliest finish", "cheapest by the deadline",
                                            "earliest, after the shock",
                                            "cheapest, after the shock"};
        char t[4][1024];
        const char *tp[4];
        for (int k = 0; k < 4; k++) {
            describe(k < 2 ? ys : shocked, &ans[k], sc->move_restart_s, t[k], sizeof t[k]);
            tp[k] = t[k];
        }
        /* in the JSON's order: the cheapest only with a deadline (JSON: null otherwise) */
        if (deadline_s <= 0) {
            ans[1].valid = ans[3].valid = false;
        }
        plan_html(path, ys, shocked, ns, ans, names, tp, shock ? 4 : 2, deadline_s);
        rc = e0.valid ? 0 : 1;
        goto out;
    }
    if (fmt == US_FORMAT_CSV) { /* one row per answer, in the JSON's order */
        printf("answer,valid,system,chips,start_day,move_day,move_system,move_chips,finish_day,"
               "cost_usd\n");
        csv_plan("earliest", ys, &e0);
        csv_plan("cheapest_by_deadline", ys, &c0);
        if (shock) {
            csv_plan("shocked_earliest", shocked, &e1);
            csv_plan("shocked_cheapest_by_deadline", shocked, &c1);
        }
        rc = e0.valid ? 0 : 1;
        goto out;
    }
    if (fmt == US_FORMAT_JSON) {
        printf("{\n  \"scenario\": \"%s\",\n  \"plans_considered\": %d,\n  \"deadline_days\": ",
               path, count);
        if (deadline_s > 0)
            printf("%.6g,\n", deadline_s / DAY_S);
        else
            printf("null,\n");
        json_plan("earliest", ys, &e0, true);
        json_plan("cheapest_by_deadline", ys, &c0, shock);
        if (shock) {
            json_plan("shocked_earliest", shocked, &e1, true);
            json_plan("shocked_cheapest_by_deadline", shocked, &c1, false);
        }
        printf("}\n");
        rc = e0.valid ? 0 : 1;
        goto out;
    }
    printf("%s: %d plans considered (each system at every power-of-two chip count its "
           "deliveries and power cap allow, started when delivered, with at most one move or "
           "resize at a delivery or price change; a job never spans two vendors)\n\n",
           path, count);
    for (int s = 0; s < ns; s++) {
        printf("  %s:", ys[s].s.name);
        for (int i = 0; i < ys[s].n; i++) {
            const struct cpoint *p = &ys[s].p[i];
            if (p->st != US_OK)
                printf(" %lld no layout;", p->chips);
            else
                printf(" %lld %.1f d%s;", p->chips, p->T_s / DAY_S,
                       usable(&ys[s], i) ? "" : " (over the power cap)");
        }
        printf("\n");
    }
    describe(ys, &e0, sc->move_restart_s, b, sizeof b);
    printf("\nEarliest finish: %s. No plan considered finishes sooner: waiting for more chips, "
           "or moving to them, costs more time than it saves, and past the knee more chips "
           "barely shorten the run (see `ultrasim scale`).\n",
           b);
    if (deadline_s > 0) {
        describe(ys, &c0, sc->move_restart_s, b, sizeof b);
        if (c0.valid)
            printf("\nCheapest plan that meets the deadline (day %.0f): %s. Every plan that "
                   "finishes in time costs at least this: more chips finish sooner but, with "
                   "MFU falling as they grow, spend more per token.\n",
                   deadline_s / DAY_S, b);
        else
            printf("\nNo plan meets the deadline (day %.0f): the earliest finish is day %.1f.\n",
                   deadline_s / DAY_S, e0.valid ? e0.finish / DAY_S : 0.0);
    }
    if (shock) {
        describe(shocked, &e1, sc->move_restart_s, b, sizeof b);
        printf("\nWith %s, the earliest finish becomes: %s (%+.1f days, %+.1f $M).\n", shock_text,
               b, e1.valid && e0.valid ? (e1.finish - e0.finish) / DAY_S : 0.0,
               e1.valid && e0.valid ? (e1.cost - e0.cost) / 1e6 : 0.0);
        if (deadline_s > 0) {
            describe(shocked, &c1, sc->move_restart_s, b, sizeof b);
            printf("The cheapest plan meeting the deadline becomes: %s.\n", b);
        }
        for (int s = 0; s < ns; s++) { /* what it does to each vendor's own best plan */
            struct plan a, ac, z, zc;
            plans(ys, ns, sc->move_restart_s, deadline_s, s, &a, &ac);
            plans(shocked, ns, sc->move_restart_s, deadline_s, s, &z, &zc);
            if (a.valid && z.valid)
                printf("  on %s alone: earliest finish day %.1f -> %.1f, cost $%.1fM -> "
                       "$%.1fM\n",
                       ys[s].s.name, a.finish / DAY_S, z.finish / DAY_S, a.cost / 1e6,
                       z.cost / 1e6);
            else
                printf("  on %s alone: %s\n", ys[s].s.name,
                       a.valid ? "no plan after the shock" : "no plan");
        }
    }
    rc = e0.valid ? 0 : 1;
    if (!e0.valid)
        printf("\nNo plan: no system has a chip count that is delivered, has a layout and "
               "fits under its power cap.\n");
out:
    free(sc);
    free(ys);
    free(shocked);
    us_ctx_destroy(ctx);
    return rc;
}
