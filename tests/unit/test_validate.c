/* test_validate: the 18 original calibration runs stay predicted within the floor
 * (MAPE <= 10%, no case off by more than 20%), every case of the 138-run set is priced on
 * a known system and held by its cross-validated figures (issue 12's targets, by chip
 * family; test_cv_published), and the validator handles a
 * file of cases with broken entries: each bad case carries its reason, the good ones are
 * predicted exactly as `run` predicts them, and the JSON output parses. */
#define _POSIX_C_SOURCE 200809L /* open_memstream, getpid */
#include <libfyaml.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spec/spec.h"
#include "ultrasim.h"
#include "test.h"

/* The 18 runs the constants were fitted on before the calibration set grew to 138
 * (docs/MODEL.md 6.4). The floor (MAPE <= 10%, none beyond 20%) was written for
 * them and holds them until the model is reworked for the whole set; the whole set's
 * figures are printed beside them, and every one of its cases must at least be priced on
 * a known system. */
static const char *const original_ids[] = {"megatron_sc21_1.7b",
                                           "megatron_sc21_3.6b",
                                           "megatron_sc21_7.5b",
                                           "megatron_sc21_18.4b",
                                           "megatron_sc21_39.1b",
                                           "megatron_sc21_76.1b",
                                           "megatron_sc21_145.6b",
                                           "megatron_sc21_310.1b",
                                           "megatron_sc21_529.6b",
                                           "megatron_sc21_1t",
                                           "korthikanti_22b",
                                           "korthikanti_175b",
                                           "korthikanti_530b",
                                           "korthikanti_1t",
                                           "nemo2412_gpt3_175b_h100_512",
                                           "bridge2511_llama3_70b_h100_64",
                                           "bridge2511_llama31_405b_gb200_256",
                                           "trn1_llama2_7b_256chips"};

static bool is_original(const char *id)
{
    for (size_t i = 0; i < sizeof original_ids / sizeof original_ids[0]; i++)
        if (strcmp(id, original_ids[i]) == 0)
            return true;
    return false;
}

static void test_published(void)
{
    struct us_ctx *ctx = us_ctx_create();
    struct us_validation v;
    struct us_diag d;
    enum us_status st = us_validate(ctx, NULL, &v, &d); /* the built-in calibration set */
    CHECK(st == US_OK);
    if (st != US_OK) {
        char line[1024];
        us_diag_format(&d, line, sizeof line);
        fprintf(stderr, "%s\n", line);
        us_ctx_destroy(ctx);
        return;
    }
    us_validation_write(&v, US_FORMAT_TABLE, stdout);
    CHECK(v.ncases >= 138);
    /* Llama 3.1 405B on GB200 (126 layers over pp 16 x vpp 4) gets Megatron-Bridge's split,
     * the embedding and the loss counted as pipeline layers (128 = 16 x 4 chunks of 2;
     * stage totals 7 + 14 x 8 + 7). */
    for (int i = 0; i < v.ncases; i++)
        if (strcmp(v.cases[i].id, "bridge2511_llama31_405b_gb200_256") == 0) {
            const struct us_layout *l = &v.cases[i].layout;
            CHECK(v.cases[i].ok && l->vpp == 4 && l->pp == 16);
            CHECK(l->first_stage_layers == 7 && l->last_stage_layers == 7);
        }
    /* DeepSeek-V3 on 256 GB200 takes its recipe's explicit layout (parallel.pipeline_layout
     * Et*4|(t*4|)*14,tmL, Bridge's map_pp_vp_to_layout[(4, 4)]): 16 layers on stage 0 and 13
     * on stage 3, where the default split would give 15 and 14. */
    int seen_layout = 0;
    for (int i = 0; i < v.ncases; i++)
        if (strcmp(v.cases[i].id, "bridge2509_deepseekv3_tokendrop_gb200_256") == 0) {
            const struct us_layout *l = &v.cases[i].layout;
            CHECK(v.cases[i].ok && l->pp == 4 && l->vpp == 4);
            CHECK(l->first_stage_layers == 16 && l->last_stage_layers == 13);
            seen_layout++;
        }
    CHECK(seen_layout == 1);
    /* Every case names a system ultrasim has; one it cannot price says why. */
    int unknown = 0;
    for (int i = 0; i < v.ncases; i++) {
        const struct us_validation_case *c = &v.cases[i];
        if (c->ok)
            continue;
        CHECK(c->note[0] != '\0');
        unknown += strstr(c->note, "unknown system preset") != NULL;
        fprintf(stderr, "not predicted: %s: %s\n", c->id, c->note);
    }
    CHECK(unknown == 0);

    int n = 0, worst = -1;
    double sum = 0, worst_abs = 0;
    for (int i = 0; i < v.ncases; i++) {
        const struct us_validation_case *c = &v.cases[i];
        if (!c->ok)
            continue;
        CHECK(isfinite(c->predicted_s) && c->measured_s > 0 && c->predicted_s > 0);
        CHECK_NEAR(c->error, (c->predicted_s - c->measured_s) / c->measured_s, 1e-12);
        CHECK(fabs(c->error) <= v.worst_abs_error + 1e-15);
        if (!is_original(c->id))
            continue;
        CHECK(c->mfu > 0.1 && c->mfu < 0.8);
        n++;
        sum += fabs(c->error);
        if (fabs(c->error) > worst_abs) {
            worst_abs = fabs(c->error);
            worst = i;
        }
    }
    int n_orig = (int)(sizeof original_ids / sizeof original_ids[0]);
    CHECK(n == n_orig);
    double mape = n ? sum / n : 0;
    printf("original %d cases: MAPE %.2f%%, worst %s %+.1f%%\n", n, 100 * mape,
           worst >= 0 ? v.cases[worst].id : "-", worst >= 0 ? 100 * v.cases[worst].error : 0.0);
    printf("whole set: %d of %d cases priced, MAPE %.2f%% (not yet held to a floor)\n",
           v.npredicted, v.ncases, 100 * v.mape);
    /* The 18 runs the first fit was made on. Since the chips' efficiencies became
     * microbenchmark fractions and the only fitted constants the frameworks' (fitted on all
     * 137 priced cases), these 18 are no longer fitted by construction: held to 10% and the
     * worst to 20% (7.6% and 18.0% today) beside the cross-validated figures below. */
    CHECK(mape <= 0.10);
    CHECK(worst_abs <= 0.20);
    us_validation_free(&v);
    us_ctx_destroy(ctx);
}

static const char *const cases_text =
    "cases:\n"
    "- id: good\n"
    "  job:\n"
    "    model: llama3-8b\n"
    "    system: dgx-h100\n"
    "    chips: 8\n"
    "    parallel: {tp: 8, pp: 1, dp: 1}\n"
    "    training: {seq_len: 4096, global_batch: 8, dtype: bf16}\n"
    "  measured: {step_time_s: 2.0}\n"
    "  source: made up for the test\n"
    "- id: no_measurement\n"
    "  job: {model: llama3-8b, system: dgx-h100, chips: 8}\n"
    "- id: bad_job\n"
    "  job: {model: llama3-8b, system: no-such-system, chips: 8}\n"
    "  measured: {step_time_s: 1.0}\n"
    "- id: bad_layout\n"
    "  job:\n"
    "    model: llama3-8b\n"
    "    system: dgx-h100\n"
    "    chips: 8\n"
    "    parallel: {tp: 3, pp: 1, dp: 1}\n"
    "    training: {seq_len: 4096, global_batch: 8, dtype: bf16}\n"
    "  measured: {step_time_s: 1.0}\n";

static char *write_tmp(const char *text, char *path, size_t n)
{
    snprintf(path, n, "/tmp/test_validate_%d.yaml", (int)getpid());
    FILE *f = fopen(path, "w");
    if (!f)
        return NULL;
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_cases_file(void)
{
    struct us_ctx *ctx = us_ctx_create();
    char path[256];
    CHECK(write_tmp(cases_text, path, sizeof path) != NULL);
    struct us_validation v;
    struct us_diag d;
    CHECK(us_validate(ctx, path, &v, &d) == US_OK);
    CHECK(v.ncases == 4 && v.npredicted == 1);
    CHECK_STR(v.cases[0].id, "good");
    CHECK(v.cases[0].ok);
    CHECK(!v.cases[1].ok && strstr(v.cases[1].note, "step_time_s") != NULL);
    CHECK(!v.cases[2].ok && strstr(v.cases[2].note, "no-such-system") != NULL);
    CHECK(!v.cases[3].ok && strstr(v.cases[3].note, "infeasible: tp*pp*cp*dp") != NULL);
    CHECK(v.worst == 0);
    CHECK_NEAR(v.mape, fabs(v.cases[0].error), 1e-12);
    /* Filled fields are marked, and the defaults are Megatron's. */
    unsigned mask = v.cases[0].layout.chosen_mask;
    CHECK(mask & (1u << US_FIELD_MICRO_BATCH));
    CHECK(v.cases[0].layout.micro_batch == 1 && v.cases[0].layout.vpp == 1);

    /* The good case predicts what `run` predicts for the same layout. */
    const char *job = "model: llama3-8b\nsystem: dgx-h100\nchips: 8\n"
                      "parallel: {tp: 8, pp: 1, dp: 1, cp: 1, ep: 1, vpp: 1, zero: %d,"
                      " sequence_parallel: %s, recompute: none}\n"
                      "training: {seq_len: 4096, global_batch: 8, micro_batch: 1, dtype: bf16}\n";
    char text[512];
    snprintf(text, sizeof text, job, v.cases[0].layout.zero,
             v.cases[0].layout.sequence_parallel ? "true" : "false");
    struct us_job *uj;
    CHECK(us_job_load_text(ctx, "same.yaml", text, strlen(text), NULL, 0, &uj, &d) == US_OK);
    struct us_result *r = calloc(1, sizeof *r);
    enum us_status st = us_run(ctx, uj, NULL, r, &d);
    CHECK(st == US_OK || st == US_INFEASIBLE);
    CHECK_NEAR(r->step_time_s, v.cases[0].predicted_s, 1e-12);
    free(r);
    us_job_destroy(uj);

    /* JSON parses and carries the same MAPE. */
    char *buf = NULL;
    size_t len = 0;
    FILE *mf = open_memstream(&buf, &len);
    us_validation_write(&v, US_FORMAT_JSON, mf);
    fclose(mf);
    struct fy_document *doc = fy_document_build_from_string(NULL, buf, len);
    CHECK(doc != NULL);
    if (doc) {
        struct fy_node *m =
            fy_node_by_path(fy_document_root(doc), "/mape", (size_t)-1, FYNWF_DONT_FOLLOW);
        size_t n = 0;
        const char *s = m ? fy_node_get_scalar(m, &n) : NULL;
        CHECK(s != NULL);
        if (s) {
            char num[64];
            snprintf(num, sizeof num, "%.*s", (int)n, s);
            CHECK_NEAR(strtod(num, NULL), v.mape, 1e-9);
        }
        struct fy_node *c =
            fy_node_by_path(fy_document_root(doc), "/cases", (size_t)-1, FYNWF_DONT_FOLLOW);
        CHECK(c && fy_node_sequence_item_count(c) == 4);
        fy_document_destroy(doc);
    }
    free(buf);
    us_validation_free(&v);
    us_validation_free(&v); /* twice is harmless */
    remove(path);

    /* Files that are not a set of cases. */
    CHECK(us_validate(ctx, "/nonexistent/cases.yaml", &v, &d) != US_OK);
    CHECK(write_tmp("cases: 3\n", path, sizeof path) != NULL);
    CHECK(us_validate(ctx, path, &v, &d) == US_EINPUT);
    CHECK(write_tmp("cases: []\n", path, sizeof path) != NULL);
    CHECK(us_validate(ctx, path, &v, &d) == US_EINPUT);
    CHECK(write_tmp("cases: [\n", path, sizeof path) != NULL);
    CHECK(us_validate(ctx, path, &v, &d) == US_EINPUT);
    remove(path);
    us_ctx_destroy(ctx);
}

/* Cross-validation recovers constants it can know: "measured" step times made by the closed
 * form with the shipped megatron constants on dgx-h100, in two groups, so each group is
 * predicted from constants fitted on the other alone. The refit must land near the truth
 * (small out-of-sample error), the shipped constants must match exactly, and one MFU
 * constant must do worse on jobs whose MFUs differ. */
static void test_cv_recovers(void)
{
    static const struct {
        const char *group;
        int seq, batch, tp;
    } jobs[] = {{"x", 2048, 64, 1},  {"x", 8192, 16, 2}, {"x", 4096, 32, 4},
                {"y", 1024, 128, 1}, {"y", 8192, 32, 4}, {"y", 16384, 8, 8}};
    struct us_ctx *ctx = us_ctx_create();
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    fputs("cases:\n", f);
    for (size_t i = 0; i < sizeof jobs / sizeof jobs[0]; i++) {
        char job[512];
        snprintf(job, sizeof job,
                 "model: llama3-8b\nsystem: dgx-h100\nchips: 8\n"
                 "parallel: {tp: %d, pp: 1, dp: %d, cp: 1, ep: 1, vpp: 1, zero: 1,"
                 " sequence_parallel: %s, recompute: none}\n"
                 "training: {seq_len: %d, global_batch: %d, micro_batch: 1, dtype: bf16}\n",
                 jobs[i].tp, 8 / jobs[i].tp, jobs[i].tp > 1 ? "true" : "false", jobs[i].seq,
                 jobs[i].batch);
        struct us_job *uj = NULL;
        struct us_diag d;
        CHECK(us_job_load_text(ctx, "cv.yaml", job, strlen(job), NULL, 0, &uj, &d) == US_OK);
        struct us_run_options opt = {.closed_form_only = true, .threads = 1};
        struct us_result *r = calloc(1, sizeof *r);
        enum us_status st = uj ? us_run(ctx, uj, &opt, r, &d) : US_EINPUT;
        CHECK((st == US_OK || st == US_INFEASIBLE) && r->step_time_s > 0);
        fprintf(f,
                "- id: c%zu\n  job:\n    model: llama3-8b\n    system: dgx-h100\n    chips: 8\n"
                "    parallel: {tp: %d, pp: 1, dp: %d, cp: 1, ep: 1, vpp: 1, zero: 1,"
                " sequence_parallel: %s, recompute: none}\n"
                "    training: {seq_len: %d, global_batch: %d, micro_batch: 1, dtype: bf16}\n"
                "  measured: {step_time_s: %.17g}\n  tags: {chip_family: %s}\n",
                i, jobs[i].tp, 8 / jobs[i].tp, jobs[i].tp > 1 ? "true" : "false", jobs[i].seq,
                jobs[i].batch, r->step_time_s, jobs[i].group);
        free(r);
        us_job_destroy(uj);
    }
    fclose(f);
    char path[256];
    CHECK(write_tmp(text, path, sizeof path) != NULL);
    free(text);
    struct us_crossval *cv = calloc(1, sizeof *cv);
    struct us_diag d;
    CHECK(us_validate_cv(ctx, path, US_CV_CHIP_FAMILY, cv, &d) == US_OK);
    CHECK(cv->ncases == 6 && cv->ngroups == 2 && cv->nunscored == 0);
    CHECK(cv->mape_shipped < 1e-9);
    CHECK(cv->mape_in_sample < 0.001); /* all six cases identify the three constants */
    CHECK(cv->mape_cv < 0.03);         /* three cases of one group nearly do */
    const struct spec_fw_params mp = spec_framework_params(SPEC_FW_MEGATRON);
    const double MEGATRON_EFF = mp.compute_eff, MEGATRON_HOST_S = mp.kernel_host_s;
    int found = 0;
    for (int p = 0; p < cv->nparams; p++) /* the shipped megatron constants come back */
        if (strcmp(cv->params[p].name, "megatron compute_eff") == 0) {
            CHECK(cv->params[p].fitted);
            CHECK_NEAR(cv->params[p].value, MEGATRON_EFF, 0.01 * MEGATRON_EFF);
            found++;
        } else if (strcmp(cv->params[p].name, "megatron kernel_host_s") == 0) {
            CHECK_NEAR(cv->params[p].value, MEGATRON_HOST_S, 0.1 * MEGATRON_HOST_S);
            found++;
        } else {
            CHECK(!cv->params[p].fitted); /* no case runs another framework */
        }
    CHECK(found == 2);
    CHECK(cv->mape_naive > cv->mape_cv);
    /* the per-case rows carry the same out-of-sample errors the groups average */
    CHECK(cv->ncase_rows == 6 && !cv->case_rows_truncated);
    double sum = 0.0, naive = 0.0;
    for (int r = 0; r < cv->ncase_rows; r++) {
        double m = cv->case_rows[r].measured_s;
        sum += fabs(cv->case_rows[r].cv_s - m) / m;
        naive += fabs(cv->case_rows[r].naive_s - m) / m;
        CHECK(cv->case_rows[r].group >= 0 && cv->case_rows[r].group < cv->ngroups);
    }
    CHECK_NEAR(sum / 6.0, cv->mape_cv, 1e-9);
    CHECK_NEAR(naive / 6.0, cv->mape_naive, 1e-9);
    us_crossval_write(cv, US_FORMAT_TABLE, stdout);
    free(cv);
    remove(path);
    us_ctx_destroy(ctx);
}

/* The calibration set, cross-validated. By chip family - the split issue 12's targets are
 * set on, and they hold: ultrasim beats the naive constant-MFU baseline out of sample, with
 * a cross-validated MAPE of at most 12% (11.0% on 2026-12-03, evening; in sample 10.6%), and
 * every family of 3 or more cases is under 20% and under naive (TPU v5p the highest, 16.0%). By
 * model family: every scored case in exactly one group, every figure finite, and the MoE
 * group under naive and under issue 13's 15% (14.4% on 2026-12-03, printed). */
static void test_cv_published(void)
{
    struct us_ctx *ctx = us_ctx_create();
    {
        struct us_crossval *cv = calloc(1, sizeof *cv);
        struct us_diag d;
        CHECK(us_validate_cv(ctx, NULL, US_CV_CHIP_FAMILY, cv, &d) == US_OK);
        us_crossval_write(cv, US_FORMAT_TABLE, stdout);
        CHECK(cv->ncases >= 138 && cv->nunscored == 0 && cv->nskipped == 0);
        CHECK(cv->mape_cv < cv->mape_naive);
        CHECK(cv->mape_cv <= 0.12);
        CHECK(cv->mape_in_sample <= 0.12);
        int big = 0, big_ok = 0, big_naive = 0;
        for (int g = 0; g < cv->ngroups; g++) {
            const struct us_cv_group *gr = &cv->groups[g];
            if (gr->ncases < 3)
                continue;
            big++;
            big_ok += gr->mape_cv <= 0.20 && gr->mape_cv < gr->mape_naive;
            big_naive += gr->mape_cv < gr->mape_naive;
        }
        CHECK(big >= 11 && big_naive == big && big_ok == big);
        printf("targets: cross-validated MAPE %.1f%% (target 12%%); %d of %d chip families "
               "with 3+ cases under 20%% and under naive (target: all)\n",
               100.0 * cv->mape_cv, big_ok, big);
        free(cv);
    }
    {
        struct us_crossval *cv = calloc(1, sizeof *cv);
        struct us_diag d;
        CHECK(us_validate_cv(ctx, NULL, US_CV_MODEL_FAMILY, cv, &d) == US_OK);
        CHECK(cv->ngroups == 2);
        us_crossval_write(cv, US_FORMAT_TABLE, stdout);
        CHECK(cv->ncases >= 120 && cv->ncases + cv->nunscored >= 138 && cv->nskipped == 0);
        int n = 0, moe = 0;
        for (int g = 0; g < cv->ngroups; g++) {
            const struct us_cv_group *gr = &cv->groups[g];
            n += gr->ncases;
            CHECK(isfinite(gr->mape_cv) && isfinite(gr->mape_naive) && gr->naive_mfu > 0);
            CHECK(gr->mape_in_sample <= 1.0 && gr->mape_shipped <= 3.0);
            if (strcmp(gr->name, "moe") == 0) {
                /* Issue 13: the MoE cases, predicted with constants fitted on the dense ones
                 * alone, beat the naive baseline on the same cases and stay under 15%: 17.4%
                 * before the MoE costs of 2026-12-03, 15.8% with them, the runs' own
                 * dispatchers, CUDA graphs and EP-overlap SMs, 14.6% with the alltoall
                 * dispatcher's host wait and Transformer Engine's quantization launches,
                 * 14.5% with the TPU7x and v6e measured efficiencies, 14.4% with the expert groups
                 * placed as Megatron-Core places them. */
                moe++;
                CHECK(gr->ncases >= 36);
                CHECK(gr->mape_cv < gr->mape_naive);
                CHECK(gr->mape_cv <= 0.15);
                printf("targets: MoE cross-validated MAPE %.1f%% against naive %.1f%% on the "
                       "same %d cases (target 15%%)\n",
                       100.0 * gr->mape_cv, 100.0 * gr->mape_naive, gr->ncases);
            }
        }
        CHECK(n == cv->ncases && moe == 1);
        free(cv);
    }
    us_ctx_destroy(ctx);
}

/* Issue 13's gate: every calibration case prices with its published layout - valid, in
 * memory, and with no recompute the source did not state (validate fills recompute only as
 * the framework's default, the recipes say what each run's own recipe set, and validate
 * marks a case whose run priced another recompute as not fitting). Lists every case that
 * does not. `test_validate fits` runs it alone; CTest runs it as data/validate_fits. All 138
 * fit since 2026-12-03 (the last, GPT-3 175B on 256 v6e: docs/MODEL.md 6.4). */
static void test_fits(void)
{
    struct us_ctx *ctx = us_ctx_create();
    struct us_validation v;
    struct us_diag d;
    CHECK(us_validate(ctx, NULL, &v, &d) == US_OK);
    int bad = 0;
    for (int i = 0; i < v.ncases; i++) {
        const struct us_validation_case *c = &v.cases[i];
        /* recompute validate filled is the framework's default (MaxText's base.yml remat
         * 'full', none elsewhere); one the case or its recipe states, validate holds the run
         * to (a case it changed does not fit, with why) */
        if ((c->layout.chosen_mask & (1u << US_FIELD_RECOMPUTE)) &&
            c->layout.recompute !=
                (strcmp(c->software, "maxtext") == 0 ? US_RECOMPUTE_FULL : US_RECOMPUTE_NONE)) {
            bad++;
            printf("recompute not the framework's default: %s: %s\n", c->id,
                   us_recompute_name(c->layout.recompute));
            continue;
        }
        if (c->ok && c->fits)
            continue;
        bad++;
        printf("does not price with its layout: %s (%s): %s\n", c->id, c->system, c->note);
    }
    printf("%d of %d calibration cases do not fit or do not price\n", bad, v.ncases);
    CHECK(bad == 0);
    us_validation_free(&v);
    us_ctx_destroy(ctx);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "fits") == 0) {
        test_fits();
        return test_summary("test_validate fits");
    }
    test_cases_file();
    test_published();
    test_cv_recovers();
    test_cv_published();
    return test_summary("test_validate");
}
