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
#include "estimate/validate.h"
#include "report/json.h"

/* The fitted constants (docs/MODEL.md 6.2-6.3): one family per calibrated anchor preset,
 * every other preset derives from one of them by the ratio its file states (same silicon:
 * 1; a measured GEMM fraction: that ratio). Memory is one constant for all (fitted on
 * A100); attention is A100's (materialised scores, 2021-22 runs) or the fused kernels'. */
enum cv_anchor { CV_A100 = 0, CV_H100, CV_GB200, CV_TRN1, CV_ANCHORS };
enum cv_param {
    CV_MEM = 0,
    CV_ATTN_A100,
    CV_ATTN,
    CV_GEMM_A100,
    CV_GEMM_H100,
    CV_GEMM_GB200,
    CV_GEMM_TRN1,
    CV_PARAMS
};
static const char *const cv_param_names[CV_PARAMS] = {
    "memory (all)", "attention (A100)", "attention (fused)", "gemm (A100)",
    "gemm (H100)",  "gemm (GB200)",     "gemm (Trainium1)"};
static const char *const anchor_presets[CV_ANCHORS] = {"dgx-a100", "dgx-h100", "gb200-nvl72",
                                                       "trn1-32xl"};
/* Which anchor each preset takes its constants from: docs/CATALOG.md and the comments of
 * each file's efficiency block. test_validate checks every system preset is listed. */
static const struct {
    const char *system;
    enum cv_anchor anchor;
} cv_families[] = {
    {"dgx-a100", CV_A100},    {"dgx-h100", CV_H100},         {"dgx-h200", CV_H100},
    {"mi300x-8", CV_H100},    {"mi325x-8", CV_H100},         {"gaudi2-8", CV_H100},
    {"tpu-v4-pod", CV_H100},  {"tpu-v5e-pod", CV_H100},      {"tpu-v5p-pod", CV_H100},
    {"tpu-v6e-pod", CV_H100}, {"tpu7x-pod", CV_H100},        {"gb200-nvl72", CV_GB200},
    {"dgx-b200", CV_GB200},   {"gb300-nvl72", CV_GB200},     {"dgx-b300", CV_GB200},
    {"mi355x-8", CV_GB200},   {"mi350x-8", CV_GB200},        {"trn1-32xl", CV_TRN1},
    {"trn2-48xl", CV_TRN1},   {"trn2-ultraserver", CV_TRN1}, {"trn3-ultraserver", CV_TRN1},
};

/* A parameter no training case depends on takes a fitted relative's value, never the
 * shipped one (that was fitted on the held-out cases too). */
static const enum cv_param cv_fallback[CV_PARAMS] = {
    CV_MEM, CV_ATTN, CV_ATTN_A100, CV_GEMM_H100, CV_GEMM_GB200, CV_GEMM_H100, CV_GEMM_H100};

#define CV_LO            0.02 /* search range of a constant */
#define CV_HI            1.0
#define CV_GRID          10 /* geometric grid points, then golden-section refinement */
#define CV_GOLDEN        10
#define CV_SWEEPS        2
#define CV_SIMPLEX_ITERS 150
#define CV_START         0.5 /* every constant starts here: nothing from the shipped fit */
#define CV_NAIVE_LO      0.01

struct cv_case {
    struct us_job *job; /* prepared by validate_file; NULL: not predicted, not scored */
    int group;          /* index into out->groups; -1 untagged */
    bool refit;         /* a preset of a known family: its constants follow the parameters */
    int p_gemm, p_attn; /* its parameters (CV_MEM for memory) */
    double r_gemm, r_attn, r_mem; /* its preset's constants over its anchor's */
    double measured_s;
    double fit_s;   /* closed form with the shipped constants (the presets' files) */
    double in_s;    /* closed form with the constants refitted on every case */
    double ideal_s; /* model FLOPs / (chips x peak): the step at 100% MFU */
    double pred_s;  /* out-of-sample prediction of the fold that held it out */
};

static int family_of(const char *system)
{
    for (size_t i = 0; i < US_ARRAY_LEN(cv_families); i++)
        if (strcmp(cv_families[i].system, system) == 0)
            return (int)cv_families[i].anchor;
    return -1;
}

bool us_cv_knows_system(const char *system)
{
    return system && family_of(system) >= 0;
}

/* Closed-form step time of a case with its constants set from theta; 0 when it fails. */
static double predict(struct us_ctx *ctx, struct cv_case *c, const double *theta)
{
    struct spec_efficiency *e = &c->job->spec.system.eff;
    struct spec_efficiency keep = *e;
    if (c->refit) {
        e->gemm = fmin(1.0, theta[c->p_gemm] * c->r_gemm);
        e->attention = fmin(1.0, theta[c->p_attn] * c->r_attn);
        e->memory = fmin(1.0, theta[CV_MEM] * c->r_mem);
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
    *e = keep;
    return t;
}

static bool uses(const struct cv_case *c, int p)
{
    return c->refit && (p == CV_MEM || p == c->p_gemm || p == c->p_attn);
}

/* Mean |error| over the training cases that depend on parameter p (all of them for
 * p < 0); a failed prediction counts as 100%. */
static double loss(struct us_ctx *ctx, struct cv_case *cs, int n, int held, int p,
                   const double *theta)
{
    double sum = 0.0;
    int k = 0;
    for (int i = 0; i < n; i++) {
        struct cv_case *c = &cs[i];
        if (!c->job || c->group == held || (p >= 0 && !uses(c, p)))
            continue;
        double t = predict(ctx, c, theta);
        sum += t > 0.0 ? fabs(t - c->measured_s) / c->measured_s : 1.0;
        k++;
    }
    return k ? sum / k : 0.0;
}

/* The parameter value in [lo, hi] that minimises the loss: a geometric grid, then golden
 * section around its best point. */
static double fit_one(struct us_ctx *ctx, struct cv_case *cs, int n, int held, int p, double *theta)
{
    double best = theta[p], best_l = loss(ctx, cs, n, held, p, theta);
    double step = pow(CV_HI / CV_LO, 1.0 / (CV_GRID - 1));
    for (int i = 0; i < CV_GRID; i++) {
        theta[p] = CV_LO * pow(step, i);
        double l = loss(ctx, cs, n, held, p, theta);
        if (l < best_l) {
            best_l = l;
            best = theta[p];
        }
    }
    /* golden section between the best point's grid neighbours */
    double a = fmax(CV_LO, best / step), b = fmin(CV_HI, best * step);
    const double g = 0.6180339887498949;
    double x1 = b - g * (b - a), x2 = a + g * (b - a);
    theta[p] = x1;
    double l1 = loss(ctx, cs, n, held, p, theta);
    theta[p] = x2;
    double l2 = loss(ctx, cs, n, held, p, theta);
    for (int it = 0; it < CV_GOLDEN; it++) {
        if (l1 < l2) {
            b = x2, x2 = x1, l2 = l1, x1 = b - g * (b - a);
            theta[p] = x1;
            l1 = loss(ctx, cs, n, held, p, theta);
        } else {
            a = x1, x1 = x2, l1 = l2, x2 = a + g * (b - a);
            theta[p] = x2;
            l2 = loss(ctx, cs, n, held, p, theta);
        }
    }
    if (fmin(l1, l2) < best_l)
        best = l1 < l2 ? x1 : x2;
    theta[p] = best;
    return best;
}

/* Loss over every training case with the fitted parameters at exp(x) (clamped to the range). */
static double loss_log(struct us_ctx *ctx, struct cv_case *cs, int n, int held, const int *idx,
                       int k, const double *x, double *theta)
{
    for (int j = 0; j < k; j++)
        theta[idx[j]] = fmin(CV_HI, fmax(CV_LO, exp(x[j])));
    return loss(ctx, cs, n, held, -1, theta);
}

/* Nelder-Mead (Nelder and Mead 1965; reflection 1, expansion 2, contraction and shrink 1/2)
 * over the logs of the fitted parameters, from the coordinate-descent point: the constants
 * are coupled (a slower GEMM and a faster memory can trade), which one parameter at a time
 * does not resolve. */
static void fit_simplex(struct us_ctx *ctx, struct cv_case *cs, int n, int held, double *theta,
                        const bool *fitted)
{
    int idx[CV_PARAMS], k = 0;
    for (int p = 0; p < CV_PARAMS; p++)
        if (fitted[p])
            idx[k++] = p;
    if (k == 0)
        return;
    double x[CV_PARAMS + 1][CV_PARAMS], f[CV_PARAMS + 1];
    for (int v = 0; v <= k; v++) {
        for (int j = 0; j < k; j++)
            x[v][j] = log(theta[idx[j]]) + (v == j + 1 ? 0.15 : 0.0);
        f[v] = loss_log(ctx, cs, n, held, idx, k, x[v], theta);
    }
    for (int it = 0; it < CV_SIMPLEX_ITERS; it++) {
        int lo = 0, hi = 0;
        for (int v = 1; v <= k; v++) {
            if (f[v] < f[lo])
                lo = v;
            if (f[v] > f[hi])
                hi = v;
        }
        int nh = lo; /* the second worst */
        for (int v = 0; v <= k; v++)
            if (v != hi && f[v] > f[nh])
                nh = v;
        if (f[hi] - f[lo] < 1e-6) /* of mean |error|: 0.0001 percentage points */
            break;
        double c[CV_PARAMS], xr[CV_PARAMS], xe[CV_PARAMS];
        for (int j = 0; j < k; j++) {
            c[j] = 0.0;
            for (int v = 0; v <= k; v++)
                if (v != hi)
                    c[j] += x[v][j] / k;
            xr[j] = c[j] + (c[j] - x[hi][j]);
        }
        double fr = loss_log(ctx, cs, n, held, idx, k, xr, theta);
        if (fr < f[lo]) {
            for (int j = 0; j < k; j++)
                xe[j] = c[j] + 2.0 * (c[j] - x[hi][j]);
            double fe = loss_log(ctx, cs, n, held, idx, k, xe, theta);
            memcpy(x[hi], fe < fr ? xe : xr, sizeof xr);
            f[hi] = fmin(fe, fr);
        } else if (fr < f[nh]) {
            memcpy(x[hi], xr, sizeof xr);
            f[hi] = fr;
        } else {
            for (int j = 0; j < k; j++)
                xe[j] = c[j] + 0.5 * (x[hi][j] - c[j]);
            double fc = loss_log(ctx, cs, n, held, idx, k, xe, theta);
            if (fc < f[hi]) {
                memcpy(x[hi], xe, sizeof xe);
                f[hi] = fc;
            } else {
                for (int v = 0; v <= k; v++)
                    if (v != lo) {
                        for (int j = 0; j < k; j++)
                            x[v][j] = x[lo][j] + 0.5 * (x[v][j] - x[lo][j]);
                        f[v] = loss_log(ctx, cs, n, held, idx, k, x[v], theta);
                    }
            }
        }
    }
    int lo = 0;
    for (int v = 1; v <= k; v++)
        if (f[v] < f[lo])
            lo = v;
    loss_log(ctx, cs, n, held, idx, k, x[lo], theta); /* leaves theta at the best vertex */
}

/* Fits every parameter some training case depends on; the others take their fallback. */
static void fit_all(struct us_ctx *ctx, struct cv_case *cs, int n, int held, double *theta,
                    bool *fitted)
{
    static const double starts[] = {0.25, 0.5, 0.8}; /* the loss has local minima */
    for (int p = 0; p < CV_PARAMS; p++) {
        fitted[p] = false;
        for (int i = 0; i < n && !fitted[p]; i++)
            fitted[p] = cs[i].job && cs[i].group != held && uses(&cs[i], p);
    }
    double best[CV_PARAMS], best_l = INFINITY;
    for (size_t s0 = 0; s0 < US_ARRAY_LEN(starts); s0++) {
        for (int p = 0; p < CV_PARAMS; p++)
            theta[p] = starts[s0];
        for (int s = 0; s < CV_SWEEPS; s++)
            for (int p = 0; p < CV_PARAMS; p++)
                if (fitted[p])
                    fit_one(ctx, cs, n, held, p, theta);
        fit_simplex(ctx, cs, n, held, theta, fitted);
        double l = loss(ctx, cs, n, held, -1, theta);
        if (l < best_l) {
            best_l = l;
            memcpy(best, theta, sizeof best);
        }
    }
    memcpy(theta, best, sizeof best);
    for (int p = 0; p < CV_PARAMS; p++)
        if (!fitted[p])
            theta[p] = fitted[cv_fallback[p]] ? theta[cv_fallback[p]] : CV_START;
}

/* The one MFU constant m minimising mean |ideal / m - measured| / measured on the training
 * cases: the naive baseline. */
static double fit_naive(const struct cv_case *cs, int n, int held)
{
    double best = 0.4, best_l = INFINITY;
    for (int i = 0; i <= 400; i++) {
        double m = CV_NAIVE_LO + (CV_HI - CV_NAIVE_LO) * i / 400.0, l = 0.0;
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

/* Fills a case's family, ratios and in-sample figures; false when it is not scored. */
static bool setup_case(struct us_ctx *ctx, struct cv_case *c, const struct spec_efficiency *anchor,
                       const bool *have_anchor)
{
    const struct spec_system *sys = &c->job->spec.system;
    int a = family_of(sys->name);
    c->refit = a >= 0 && have_anchor[a];
    if (c->refit) {
        c->p_gemm = CV_GEMM_A100 + a;
        c->p_attn = a == CV_A100 ? CV_ATTN_A100 : CV_ATTN;
        c->r_gemm = sys->eff.gemm / anchor[a].gemm;
        c->r_attn = sys->eff.attention / anchor[a].attention;
        c->r_mem = sys->eff.memory / anchor[a].memory;
    }
    double none[CV_PARAMS] = {0};
    bool refit = c->refit;
    c->refit = false; /* the shipped constants, as the file has them */
    c->fit_s = predict(ctx, c, none);
    c->refit = refit;
    return c->fit_s > 0.0 && c->ideal_s > 0.0;
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
    struct spec_efficiency anchor[CV_ANCHORS];
    bool have_anchor[CV_ANCHORS];
    for (int a = 0; a < CV_ANCHORS; a++) {
        struct spec_system s;
        struct us_diag ad;
        have_anchor[a] = spec_system_load(anchor_presets[a], &s, &ad) == US_OK;
        anchor[a] = s.eff;
    }
    for (int i = 0; i < v.ncases; i++) {
        struct cv_case *c = &cs[i];
        c->job = jobs[i];
        c->group = -1;
        c->measured_s = v.cases[i].measured_s;
        const char *tag = tag_of(&v.cases[i], by);
        if (!c->job || !tag[0] || !setup_case(ctx, c, anchor, have_anchor)) {
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
        core_strlcpy(out->params[p].name, cv_param_names[p], sizeof out->params[p].name);
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
            "MFU) fitted likewise; in-sample = refitted on every case; shipped = the presets' "
            "constants\n",
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
        fprintf(f, "%s %s %.3f%s", p ? "," : "", cv->params[p].name, cv->params[p].value,
                cv->params[p].fitted ? "" : " (no case)");
    fprintf(f, "\n%d case%s not scored (not predicted, or untagged)\n", cv->nunscored,
            cv->nunscored == 1 ? "" : "s");
}
