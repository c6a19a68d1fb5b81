/* estimate/crossval: leave-one-group-out cross-validation of the calibration set. For each
 * value of a tag (chip family, software, model family) the fitted efficiency constants are
 * refitted on the cases without it and the cases with it are predicted; a naive estimate -
 * model FLOPs over peak times one MFU constant, fitted the same way - is scored beside it.
 * Both use the closed form (the fit runs it thousands of times). Leaves out: refitting the
 * constants of systems outside the preset families below (a user's file keeps its own).
 * docs/MODEL.md 6.5 gives the procedure and the figures. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "api/validate.h"
#include "report/json.h"

/* The fitted constants (docs/MODEL.md 6.6): two per training framework - its production
 * efficiency on every kernel and its fixed cost per kernel launch. The chips'
 * efficiencies are microbenchmark fractions (the presets' files), not fitted: a chip family
 * left out keeps them, and only the frameworks' constants are refitted without it. */
enum { CV_EFF = 0, CV_HOST, CV_KINDS };
#define CV_NFW             (SPEC_FW_COUNT - 1) /* the frameworks, AUTO excluded */
#define CV_PARAMS          (CV_NFW * CV_KINDS)
#define CV_PARAM(fw, kind) (((fw)-1) * CV_KINDS + (kind))

/* Search ranges: a production efficiency, and a fixed cost of 0.1 to 50 us per kernel launch
 * (a CUDA launch costs the host a few us; an eager Python framework adds its dispatch). */
static const double cv_lo[CV_KINDS] = {0.2, 1e-7}, cv_hi[CV_KINDS] = {1.0, 5e-5};
static const double cv_start[CV_KINDS] = {0.7, 5e-6};
#define CV_GRID          10 /* geometric grid points, then golden-section refinement */
#define CV_GOLDEN        12
#define CV_SWEEPS        2
#define CV_SIMPLEX_ITERS 120
#define CV_NAIVE_LO      0.01
#define CV_NAIVE_HI      1.0

struct cv_case {
    struct us_job *job; /* prepared by validate_file; NULL: not predicted, not scored */
    int group;          /* index into out->groups; -1 untagged */
    int fw;             /* its framework (enum spec_framework, never AUTO) */
    double measured_s;
    double fit_s;   /* closed form with the shipped constants */
    double in_s;    /* closed form with the constants refitted on every case */
    double ideal_s; /* model FLOPs / (chips x peak): the step at 100% MFU */
    double pred_s;  /* out-of-sample prediction of the fold that held it out */
    double naive_s; /* the naive baseline of that fold */
};

static int kind_of(int p)
{
    return p % CV_KINDS;
}

static int fw_of(int p)
{
    return p / CV_KINDS + 1;
}

/* Closed-form step time of a case with its framework's constants from theta (NULL: the
 * shipped ones); 0 when it fails. */
static double predict(struct us_ctx *ctx, struct cv_case *c, const double *theta)
{
    struct spec_fw_params *fw = &c->job->spec.train.fw;
    struct spec_fw_params keep = *fw;
    if (theta) {
        fw->compute_eff = theta[CV_PARAM(c->fw, CV_EFF)];
        fw->kernel_host_s = theta[CV_PARAM(c->fw, CV_HOST)];
    }
    struct us_run_options opt = {.closed_form_only = true, .trace_path = NULL, .threads = 1};
    struct us_result *r = calloc(1, sizeof *r);
    double t = 0.0;
    struct us_diag d;
    if (r) {
        enum us_status st = us_run(ctx, c->job, &opt, r, &d);
        if ((st == US_OK || st == US_INFEASIBLE) && r->valid && isfinite(r->step_time_s) &&
            r->step_time_s > 0.0)
            t = r->step_time_s;
        if (c->ideal_s == 0.0 && t > 0.0)
            c->ideal_s = r->mfu * t;
    }
    free(r);
    *fw = keep;
    return t;
}

/* Mean |error| over the training cases of framework fw (all of them for fw < 0); a failed
 * prediction counts as 100%. */
static double loss(struct us_ctx *ctx, struct cv_case *cs, int n, int held, int fw,
                   const double *theta)
{
    double sum = 0.0;
    int k = 0;
    for (int i = 0; i < n; i++) {
        struct cv_case *c = &cs[i];
        if (!c->job || c->group == held || (fw >= 0 && c->fw != fw))
            continue;
        double t = predict(ctx, c, theta);
        sum += t > 0.0 ? fabs(t - c->measured_s) / c->measured_s : 1.0;
        k++;
    }
    return k ? sum / k : 0.0;
}

/* The parameter value in its range that minimises its framework's loss: a geometric grid,
 * then golden section around the grid's best point. */
static double fit_one(struct us_ctx *ctx, struct cv_case *cs, int n, int held, int p, double *theta)
{
    int fw = fw_of(p), kd = kind_of(p);
    double lo = cv_lo[kd], hi = cv_hi[kd];
    double best = theta[p], best_l = loss(ctx, cs, n, held, fw, theta);
    double step = pow(hi / lo, 1.0 / (CV_GRID - 1));
    for (int i = 0; i < CV_GRID; i++) {
        theta[p] = lo * pow(step, i);
        double l = loss(ctx, cs, n, held, fw, theta);
        if (l < best_l) {
            best_l = l;
            best = theta[p];
        }
    }
    /* golden section between the best point's grid neighbours */
    double a = fmax(lo, best / step), b = fmin(hi, best * step);
    const double g = 0.6180339887498949;
    double x1 = b - g * (b - a), x2 = a + g * (b - a);
    theta[p] = x1;
    double l1 = loss(ctx, cs, n, held, fw, theta);
    theta[p] = x2;
    double l2 = loss(ctx, cs, n, held, fw, theta);
    for (int it = 0; it < CV_GOLDEN; it++) {
        if (l1 < l2) {
            b = x2, x2 = x1, l2 = l1, x1 = b - g * (b - a);
            theta[p] = x1;
            l1 = loss(ctx, cs, n, held, fw, theta);
        } else {
            a = x1, x1 = x2, l1 = l2, x2 = a + g * (b - a);
            theta[p] = x2;
            l2 = loss(ctx, cs, n, held, fw, theta);
        }
    }
    if (fmin(l1, l2) < best_l)
        best = l1 < l2 ? x1 : x2;
    theta[p] = best;
    return best;
}

/* Loss of framework fw's training cases with its two constants at exp(x) (clamped). */
static double loss_log(struct us_ctx *ctx, struct cv_case *cs, int n, int held, int fw,
                       const double *x, double *theta)
{
    for (int kd = 0; kd < CV_KINDS; kd++)
        theta[CV_PARAM(fw, kd)] = fmin(cv_hi[kd], fmax(cv_lo[kd], exp(x[kd])));
    return loss(ctx, cs, n, held, fw, theta);
}

/* Nelder-Mead (Nelder and Mead 1965; reflection 1, expansion 2, contraction and shrink 1/2)
 * over the logs of one framework's two constants, from the coordinate-descent point: a
 * slower kernel and a larger fixed cost can trade, which one at a time does not resolve.
 * The frameworks' losses are separate (a case reads only its own framework's constants), so
 * each is fitted alone and the sum is minimised. */
static void fit_simplex(struct us_ctx *ctx, struct cv_case *cs, int n, int held, int fw,
                        double *theta)
{
    enum { K = CV_KINDS };
    double x[K + 1][K], f[K + 1];
    for (int v = 0; v <= K; v++) {
        for (int j = 0; j < K; j++)
            x[v][j] = log(theta[CV_PARAM(fw, j)]) + (v == j + 1 ? 0.15 : 0.0);
        f[v] = loss_log(ctx, cs, n, held, fw, x[v], theta);
    }
    for (int it = 0; it < CV_SIMPLEX_ITERS; it++) {
        int lo = 0, hi = 0;
        for (int v = 1; v <= K; v++) {
            if (f[v] < f[lo])
                lo = v;
            if (f[v] > f[hi])
                hi = v;
        }
        int nh = lo; /* the second worst */
        for (int v = 0; v <= K; v++)
            if (v != hi && f[v] > f[nh])
                nh = v;
        if (f[hi] - f[lo] < 1e-6) /* of mean |error|: 0.0001 percentage points */
            break;
        double c[K], xr[K], xe[K];
        for (int j = 0; j < K; j++) {
            c[j] = 0.0;
            for (int v = 0; v <= K; v++)
                if (v != hi)
                    c[j] += x[v][j] / K;
            xr[j] = c[j] + (c[j] - x[hi][j]);
        }
        double fr = loss_log(ctx, cs, n, held, fw, xr, theta);
        if (fr < f[lo]) {
            for (int j = 0; j < K; j++)
                xe[j] = c[j] + 2.0 * (c[j] - x[hi][j]);
            double fe = loss_log(ctx, cs, n, held, fw, xe, theta);
            memcpy(x[hi], fe < fr ? xe : xr, sizeof xr);
            f[hi] = fmin(fe, fr);
        } else if (fr < f[nh]) {
            memcpy(x[hi], xr, sizeof xr);
            f[hi] = fr;
        } else {
            for (int j = 0; j < K; j++)
                xe[j] = c[j] + 0.5 * (x[hi][j] - c[j]);
            double fc = loss_log(ctx, cs, n, held, fw, xe, theta);
            if (fc < f[hi]) {
                memcpy(x[hi], xe, sizeof xe);
                f[hi] = fc;
            } else {
                for (int v = 0; v <= K; v++)
                    if (v != lo) {
                        for (int j = 0; j < K; j++)
                            x[v][j] = x[lo][j] + 0.5 * (x[v][j] - x[lo][j]);
                        f[v] = loss_log(ctx, cs, n, held, fw, x[v], theta);
                    }
            }
        }
    }
    int lo = 0;
    for (int v = 1; v <= K; v++)
        if (f[v] < f[lo])
            lo = v;
    loss_log(ctx, cs, n, held, fw, x[lo], theta); /* leaves theta at the best vertex */
}

/* Fits every framework some training case runs; a framework no training case runs takes
 * the median of the fitted ones' values, kind by kind (never its shipped value, which was
 * fitted on the held-out cases too). */
static void fit_all(struct us_ctx *ctx, struct cv_case *cs, int n, int held, double *theta,
                    bool *fitted)
{
    static const double starts[] = {0.5, 0.8}; /* production efficiencies to start from */
    for (int fw = 1; fw <= CV_NFW; fw++) {
        bool any = false;
        for (int i = 0; i < n && !any; i++)
            any = cs[i].job && cs[i].group != held && cs[i].fw == fw;
        for (int kd = 0; kd < CV_KINDS; kd++)
            fitted[CV_PARAM(fw, kd)] = any;
        if (!any)
            continue;
        double best[CV_KINDS] = {starts[0], cv_start[CV_HOST]}, best_l = HUGE_VAL;
        for (size_t s0 = 0; s0 < US_ARRAY_LEN(starts); s0++) {
            theta[CV_PARAM(fw, CV_EFF)] = starts[s0];
            theta[CV_PARAM(fw, CV_HOST)] = cv_start[CV_HOST];
            for (int s = 0; s < CV_SWEEPS; s++)
                for (int kd = 0; kd < CV_KINDS; kd++)
                    fit_one(ctx, cs, n, held, CV_PARAM(fw, kd), theta);
            fit_simplex(ctx, cs, n, held, fw, theta);
            double l = loss(ctx, cs, n, held, fw, theta);
            if (l < best_l) {
                best_l = l;
                for (int kd = 0; kd < CV_KINDS; kd++)
                    best[kd] = theta[CV_PARAM(fw, kd)];
            }
        }
        for (int kd = 0; kd < CV_KINDS; kd++)
            theta[CV_PARAM(fw, kd)] = best[kd];
    }
    for (int kd = 0; kd < CV_KINDS; kd++) {
        double v[CV_NFW];
        int k = 0;
        for (int fw = 1; fw <= CV_NFW; fw++)
            if (fitted[CV_PARAM(fw, kd)])
                v[k++] = theta[CV_PARAM(fw, kd)];
        for (int i = 1; i < k; i++) /* insertion sort of at most CV_NFW values */
            for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
                double t = v[j];
                v[j] = v[j - 1];
                v[j - 1] = t;
            }
        double med = k ? (k % 2 ? v[k / 2] : 0.5 * (v[k / 2 - 1] + v[k / 2])) : cv_start[kd];
        for (int fw = 1; fw <= CV_NFW; fw++)
            if (!fitted[CV_PARAM(fw, kd)])
                theta[CV_PARAM(fw, kd)] = med;
    }
}

/* The one MFU constant m minimising mean |ideal / m - measured| / measured on the training
 * cases: the naive baseline. */
static double fit_naive(const struct cv_case *cs, int n, int held)
{
    double best = 0.4, best_l = HUGE_VAL;
    for (int i = 0; i <= 400; i++) {
        double m = CV_NAIVE_LO + (CV_NAIVE_HI - CV_NAIVE_LO) * i / 400.0, l = 0.0;
        int k = 0;
        for (int j = 0; j < n; j++)
            if (cs[j].job && cs[j].group != held && cs[j].ideal_s > 0.0) {
                l += fabs(cs[j].ideal_s / m - cs[j].measured_s) / cs[j].measured_s;
                k++;
            }
        if (k && l / k < best_l) {
            best_l = l / k;
            best = m;
        }
    }
    return best;
}

static const char *tag_of(const struct us_validation_case *vc, enum us_cv_by by)
{
    switch (by) {
    case US_CV_SOFTWARE:
        return vc->software;
    case US_CV_MODEL_FAMILY:
        return vc->model_family;
    case US_CV_CHIP_FAMILY:
    default:
        return vc->chip_family;
    }
}

const char *us_cv_by_name(enum us_cv_by by)
{
    static const char *const n[] = {"chip_family", "software", "model_family"};
    return (unsigned)by < 3 ? n[by] : "?";
}

/* Fills a case's framework and its figures with the shipped constants; false when it is
 * not scored. */
static bool setup_case(struct us_ctx *ctx, struct cv_case *c)
{
    c->fw = c->job->spec.train.framework;
    if (c->fw <= SPEC_FW_AUTO || c->fw >= SPEC_FW_COUNT)
        return false;
    c->fit_s = predict(ctx, c, NULL);
    return c->fit_s > 0.0 && c->ideal_s > 0.0;
}

static void param_name(int p, char *buf, size_t n)
{
    core_fmt(buf, n, "%s %s", spec_framework_name(fw_of(p)),
             kind_of(p) == CV_EFF ? "compute_eff" : "kernel_host_s");
}

enum us_status us_validate_cv(struct us_ctx *ctx, const char *path, enum us_cv_by by,
                              struct us_crossval *out, struct us_diag *d)
{
    memset(out, 0, sizeof *out);
    out->by = by;
    struct us_validation v;
    struct us_job **jobs = NULL;
    enum us_status st = validate_file(ctx, path, &v, &jobs, d);
    if (st != US_OK)
        return st;
    struct cv_case *cs = calloc((size_t)v.ncases, sizeof *cs);
    if (!cs) {
        for (int i = 0; i < v.ncases; i++)
            us_job_destroy(jobs[i]);
        free(jobs);
        us_validation_free(&v);
        return core_diag_status(d, US_ENOMEM, path, 0, 0, NULL, "out of memory");
    }
    for (int i = 0; i < v.ncases; i++) {
        struct cv_case *c = &cs[i];
        c->job = jobs[i];
        c->group = -1;
        c->measured_s = v.cases[i].measured_s;
        const char *tag = tag_of(&v.cases[i], by);
        if (!c->job || !tag[0] || !setup_case(ctx, c)) {
            c->job = NULL;
            continue;
        }
        int g = 0;
        while (g < out->ngroups && strcmp(out->groups[g].name, tag) != 0)
            g++;
        if (g == out->ngroups) {
            if (g == US_CV_MAX_GROUPS) {
                c->job = NULL;
                out->nskipped++;
                continue;
            }
            core_strlcpy(out->groups[g].name, tag, sizeof out->groups[g].name);
            out->ngroups++;
        }
        c->group = g;
    }

    double theta[CV_PARAMS];
    bool fitted[CV_PARAMS];
    /* the constants fitted on every case, and how well they do on them (in-sample) */
    fit_all(ctx, cs, v.ncases, -2, theta, fitted);
    for (int p = 0; p < CV_PARAMS; p++) {
        out->params[p].fitted = fitted[p];
        out->params[p].value = theta[p];
        param_name(p, out->params[p].name, sizeof out->params[p].name);
    }
    out->nparams = CV_PARAMS;
    for (int i = 0; i < v.ncases; i++)
        if (cs[i].job)
            cs[i].in_s = predict(ctx, &cs[i], theta);
    for (int g = 0; g < out->ngroups; g++) {
        fit_all(ctx, cs, v.ncases, g, theta, fitted);
        double m = fit_naive(cs, v.ncases, g);
        struct us_cv_group *gr = &out->groups[g];
        gr->naive_mfu = m;
        for (int i = 0; i < v.ncases; i++) {
            struct cv_case *c = &cs[i];
            if (!c->job || c->group != g)
                continue;
            c->pred_s = predict(ctx, c, theta);
            c->naive_s = c->ideal_s / m;
            double e_cv = c->pred_s > 0.0 ? fabs(c->pred_s - c->measured_s) / c->measured_s : 1.0;
            double e_naive = fabs(c->ideal_s / m - c->measured_s) / c->measured_s;
            double e_ship = fabs(c->fit_s - c->measured_s) / c->measured_s;
            double e_in = c->in_s > 0.0 ? fabs(c->in_s - c->measured_s) / c->measured_s : 1.0;
            gr->ncases++;
            gr->mape_cv += e_cv;
            gr->mape_naive += e_naive;
            gr->mape_shipped += e_ship;
            gr->mape_in_sample += e_in;
            out->ncases++;
            out->mape_cv += e_cv;
            out->mape_naive += e_naive;
            out->mape_shipped += e_ship;
            out->mape_in_sample += e_in;
        }
        if (gr->ncases) {
            gr->mape_cv /= gr->ncases;
            gr->mape_naive /= gr->ncases;
            gr->mape_shipped /= gr->ncases;
            gr->mape_in_sample /= gr->ncases;
        }
    }
    if (out->ncases) {
        out->mape_cv /= out->ncases;
        out->mape_naive /= out->ncases;
        out->mape_shipped /= out->ncases;
        out->mape_in_sample /= out->ncases;
    }
    for (int i = 0; i < v.ncases; i++) {
        const struct cv_case *c = &cs[i];
        if (!c->job || c->group < 0)
            continue;
        if (out->ncase_rows == US_CV_MAX_CASES) {
            out->case_rows_truncated = true;
            continue;
        }
        int r = out->ncase_rows++;
        core_strlcpy(out->case_rows[r].id, v.cases[i].id, sizeof out->case_rows[r].id);
        out->case_rows[r].group = c->group;
        out->case_rows[r].measured_s = c->measured_s;
        out->case_rows[r].cv_s = c->pred_s;
        out->case_rows[r].naive_s = c->naive_s;
        out->case_rows[r].in_sample_s = c->in_s;
    }
    for (int i = 0; i < v.ncases; i++)
        us_job_destroy(jobs[i]);
    free(jobs);
    free(cs);
    out->nunscored = v.ncases - out->ncases;
    us_validation_free(&v);
    return US_OK;
}

void us_crossval_write(const struct us_crossval *cv, enum us_format fmt, FILE *f)
{
    if (fmt == US_FORMAT_JSON) {
        struct json_w w;
        json_init(&w, f, true);
        json_obj_begin(&w, NULL);
        json_str(&w, "cv_by", us_cv_by_name(cv->by));
        json_int(&w, "cases", cv->ncases);
        json_int(&w, "unscored", cv->nunscored);
        json_num(&w, "mape_cv", cv->mape_cv);
        json_num(&w, "mape_naive", cv->mape_naive);
        json_num(&w, "mape_in_sample", cv->mape_in_sample);
        json_num(&w, "mape_shipped", cv->mape_shipped);
        json_arr_begin(&w, "groups");
        for (int g = 0; g < cv->ngroups; g++) {
            const struct us_cv_group *gr = &cv->groups[g];
            json_obj_begin(&w, NULL);
            json_str(&w, "group", gr->name);
            json_int(&w, "cases", gr->ncases);
            json_num(&w, "mape_cv", gr->mape_cv);
            json_num(&w, "mape_naive", gr->mape_naive);
            json_num(&w, "mape_in_sample", gr->mape_in_sample);
            json_num(&w, "mape_shipped", gr->mape_shipped);
            json_num(&w, "naive_mfu", gr->naive_mfu);
            json_obj_end(&w);
        }
        json_arr_end(&w);
        json_arr_begin(&w, "params_all_cases");
        for (int p = 0; p < cv->nparams; p++) {
            json_obj_begin(&w, NULL);
            json_str(&w, "name", cv->params[p].name);
            json_num(&w, "value", cv->params[p].value);
            json_bool(&w, "fitted", cv->params[p].fitted);
            json_obj_end(&w);
        }
        json_arr_end(&w);
        json_arr_begin(&w, "cases");
        for (int r = 0; r < cv->ncase_rows; r++) {
            const double meas = cv->case_rows[r].measured_s;
            json_obj_begin(&w, NULL);
            json_str(&w, "id", cv->case_rows[r].id);
            json_str(&w, "group", cv->groups[cv->case_rows[r].group].name);
            json_num(&w, "measured_step_time_s", meas);
            json_num(&w, "cv_step_time_s", cv->case_rows[r].cv_s);
            json_num(&w, "cv_error", (cv->case_rows[r].cv_s - meas) / meas);
            json_num(&w, "naive_error", (cv->case_rows[r].naive_s - meas) / meas);
            json_num(&w, "in_sample_error", (cv->case_rows[r].in_sample_s - meas) / meas);
            json_obj_end(&w);
        }
        json_arr_end(&w);
        json_bool(&w, "cases_truncated", cv->case_rows_truncated);
        json_obj_end(&w);
        json_finish(&w);
        return;
    }
    if (fmt == US_FORMAT_CSV) {
        fprintf(f, "group,cases,mape_cv,mape_naive,mape_in_sample,mape_shipped,naive_mfu\n");
        for (int g = 0; g < cv->ngroups; g++) {
            const struct us_cv_group *gr = &cv->groups[g];
            fprintf(f, "%s,%d,%.6f,%.6f,%.6f,%.6f,%.6f\n", gr->name, gr->ncases, gr->mape_cv,
                    gr->mape_naive, gr->mape_in_sample, gr->mape_shipped, gr->naive_mfu);
        }
        fprintf(f, "all,%d,%.6f,%.6f,%.6f,%.6f,\n", cv->ncases, cv->mape_cv, cv->mape_naive,
                cv->mape_in_sample, cv->mape_shipped);
        return;
    }
    fprintf(f,
            "leave-one-%s-out cross-validation (closed form): cv = each group predicted with the "
            "constants refitted on the other groups; naive = model FLOPs / (chips x peak x one "
            "MFU) fitted likewise; in-sample = refitted on every case; shipped = the frameworks' "
            "constants as built in\n",
            us_cv_by_name(cv->by));
    fprintf(f, "%-14s %6s %9s %9s %10s %9s %10s\n", "group", "cases", "cv", "naive", "in-sample",
            "shipped", "naive MFU");
    for (int g = 0; g < cv->ngroups; g++) {
        const struct us_cv_group *gr = &cv->groups[g];
        fprintf(f, "%-14s %6d %8.1f%% %8.1f%% %9.1f%% %8.1f%% %9.1f%%%s\n", gr->name, gr->ncases,
                100 * gr->mape_cv, 100 * gr->mape_naive, 100 * gr->mape_in_sample,
                100 * gr->mape_shipped, 100 * gr->naive_mfu,
                gr->mape_cv <= gr->mape_naive ? "" : "  worse than naive");
    }
    fprintf(f, "%-14s %6d %8.1f%% %8.1f%% %9.1f%% %8.1f%%\n", "all", cv->ncases, 100 * cv->mape_cv,
            100 * cv->mape_naive, 100 * cv->mape_in_sample, 100 * cv->mape_shipped);
    fprintf(f, "constants refitted on every case:");
    for (int p = 0; p < cv->nparams; p++)
        fprintf(f, "%s %s %.4g%s", p ? "," : "", cv->params[p].name, cv->params[p].value,
                cv->params[p].fitted ? "" : " (no case)");
    fprintf(f, "\n%d case%s not scored (not predicted, or untagged)\n", cv->nunscored,
            cv->nunscored == 1 ? "" : "s");
}
