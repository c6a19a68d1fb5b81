/* test_plausible: the gates a practitioner checks a prediction against before trusting it
 * (issue 12, "Plausibility gates"). Each compares ultrasim with what published runs and
 * microbenchmarks say is possible, not with ultrasim's own earlier output:
 *  - no predicted MFU of a calibration case reaches the chip's measured dense-GEMM ceiling
 *    (efficiency.gemm or gemm_fp8, microbench MAMF fractions);
 *  - fp8 is 1.1-1.6x faster than bf16 for dense models of 8B and more on H100 and B200
 *    (published end-to-end gains: 1.1-1.5x);
 *  - NeMo's GPT-3 175B layout gains 8-25% per GPU from micro-batch 1 to 2. NeMo's 15% is
 *    its 24.12 performance summary (docs.nvidia.com, NeMo 24.12 "Performance Benchmarks",
 *    pre-training, FP8, DGX-H100): tp 4, pp 8, vpp 6, seq 2048, 716 tokens/s/GPU on 128 GPUs
 *    at global batch 256 and micro-batch 1, 825 on 512 GPUs at global batch 2048 and
 *    micro-batch 2 (825/716 = 1.152). Both rows run 64 micro-batches per pipeline, so the
 *    bubble's share is the same; the gate prices those two rows, not micro-batch 1 at the
 *    second row's batch (128 micro-batches: half the bubble's share of micro-batch 2's 64).
 *    Not met yet: ultrasim predicts 5.7% (kernels at the framework's least time per
 *    launch; every GEMM of the layer is at the same wave quantization at both micro-batches).
 *    `test_plausible micro_batch` runs this gate alone; CTest runs it as
 *    gap/plausible_micro_batch, marked WILL_FAIL, so it shows as an expected failure until
 *    the model reaches the band - then it turns red and the mark comes off
 *    (tests/CMakeLists.txt);
 *  - the best layout search finds for GPT-3 175B on 1,024 A100 stays at or under 60% MFU
 *    (no A100 run has reported more than about 56%). Not met with the shipped megatron
 *    constants: 63.2% (tp 8, pp 4, vpp 24, micro-batch 3, TP overlap on; 63.6% before TP
 *    overlap's exposed tail, docs/MODEL.md 5.3). It is A100's MAMF fraction (0.869) times the
 *    one production efficiency of the stack (0.818), fitted on all its runs, most of them on
 *    Hopper and Blackwell, with userbuffers hiding 2.15 s of TP collectives; the searched
 *    layout meets none of the fixed costs that held the 2021-22 runs near 50% (no TP overlap,
 *    unfused attention, recompute). What it is made of: docs/MODEL.md 6.5.
 *    `test_plausible search` runs it alone, as gap/plausible_search (WILL_FAIL). */
#include <stdlib.h>
#include <string.h>

#include "spec/spec.h"
#include "test.h"
#include "ultrasim.h"

/* The step time of a job given as text, priced even when it does not fit in memory (the
 * gates are about speed). 0 when it cannot be priced. */
static double step_of(struct us_ctx *ctx, const char *text, double *mfu)
{
    struct us_job *job = NULL;
    struct us_diag d;
    if (us_job_load_text(ctx, "gate.yaml", text, strlen(text), NULL, 0, &job, &d) != US_OK) {
        fprintf(stderr, "  %s\n", d.msg);
        return 0.0;
    }
    struct us_run_options opt = {.closed_form_only = false, .threads = 1};
    struct us_result *r = calloc(1, sizeof *r);
    enum us_status st = r ? us_run(ctx, job, &opt, r, &d) : US_ENOMEM;
    double t = 0.0;
    if ((st == US_OK || st == US_INFEASIBLE) && r->valid && r->step_time_s > 0.0) {
        t = r->step_time_s;
        if (mfu)
            *mfu = r->mfu;
    }
    free(r);
    us_job_destroy(job);
    return t;
}

static void test_fp8_gain(struct us_ctx *ctx)
{
    static const struct {
        const char *model, *system;
        int chips, tp, pp;
    } runs[] = {
        {"llama3-8b", "dgx-h100", 8, 1, 1},     {"llama3-8b", "dgx-b200", 8, 1, 1},
        {"llama3-70b", "dgx-h100", 64, 4, 4},   {"llama3-70b", "dgx-b200", 64, 2, 4},
        {"llama3-405b", "dgx-h100", 576, 8, 9},
    };
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        double t[2];
        static const char *const dt[2] = {"bf16", "fp8"};
        for (int k = 0; k < 2; k++) {
            char text[600];
            int dp = runs[i].chips / (runs[i].tp * runs[i].pp);
            snprintf(text, sizeof text,
                     "model: %s\nsystem: %s\nchips: %d\n"
                     "parallel: {tp: %d, pp: %d, dp: %d, cp: 1, ep: 1, vpp: 1, zero: 1,"
                     " sequence_parallel: %s, recompute: selective}\n"
                     "training: {seq_len: 8192, global_batch: %d, micro_batch: 1, dtype: %s}\n",
                     runs[i].model, runs[i].system, runs[i].chips, runs[i].tp, runs[i].pp, dp,
                     runs[i].tp > 1 ? "true" : "false", 8 * dp * runs[i].pp, dt[k]);
            t[k] = step_of(ctx, text, NULL);
        }
        double gain = t[1] > 0.0 ? t[0] / t[1] : 0.0;
        printf("fp8 over bf16: %-11s on %-8s %4d chips: %.2fx\n", runs[i].model, runs[i].system,
               runs[i].chips, gain);
        CHECK(gain >= 1.1 && gain <= 1.6);
    }
}

static void test_micro_batch_gain(struct us_ctx *ctx)
{
    /* NeMo 24.12's two GPT-3 175B rows on H100 (tp 4, pp 8, vpp 6, sequence parallel, fp8):
     * 128 GPUs, global batch 256, micro-batch 1; 512 GPUs, global batch 2048, micro-batch 2
     * (the second is the calibration case nemo2412_gpt3_175b_h100_512). The gain is in tokens
     * per second per GPU, as the table gives it. */
    static const struct {
        int chips, dp, gbs, mb;
    } row[2] = {{128, 4, 256, 1}, {512, 16, 2048, 2}};
    double per_gpu[2];
    for (int i = 0; i < 2; i++) {
        char text[600];
        snprintf(text, sizeof text,
                 "model: gpt3-175b\nsystem: dgx-h100\nchips: %d\n"
                 "parallel: {tp: 4, pp: 8, dp: %d, cp: 1, ep: 1, vpp: 6, zero: 1,"
                 " sequence_parallel: true, recompute: none, schedule: interleaved}\n"
                 "training: {seq_len: 2048, global_batch: %d, micro_batch: %d, dtype: fp8,"
                 " framework: megatron}\n",
                 row[i].chips, row[i].dp, row[i].gbs, row[i].mb);
        double t = step_of(ctx, text, NULL);
        per_gpu[i] = t > 0.0 ? (double)row[i].gbs * 2048.0 / (t * (double)row[i].chips) : 0.0;
    }
    double gain = per_gpu[0] > 0.0 ? per_gpu[1] / per_gpu[0] - 1.0 : 0.0;
    printf("GPT-3 175B on H100: micro-batch 1 (128 GPUs) %.0f, micro-batch 2 (512 GPUs) %.0f "
           "tokens/s/GPU (NeMo 24.12: 716, 825): gain %.1f%%\n",
           per_gpu[0], per_gpu[1], 100.0 * gain);
    CHECK(gain >= 0.08 && gain <= 0.25);
}

static void test_search_ceiling(struct us_ctx *ctx)
{
    static const char text[] = "model: gpt3-175b\nsystem: dgx-a100\nchips: 1024\n"
                               "training: {seq_len: 2048, global_batch: 1536, dtype: bf16}\n";
    struct us_job *job = NULL;
    struct us_diag d;
    CHECK(us_job_load_text(ctx, "gate.yaml", text, strlen(text), NULL, 0, &job, &d) == US_OK);
    struct us_search_options opt;
    memset(&opt, 0, sizeof opt);
    opt.threads = 1;
    opt.top_k = 1;
    struct us_search_result *r = calloc(1, sizeof *r);
    CHECK(r && us_search(ctx, job, &opt, r, &d) == US_OK && r->ntop == 1);
    if (r && r->ntop == 1) {
        char lay[256];
        us_layout_format(&r->top[0].layout, lay, sizeof lay);
        printf("GPT-3 175B, 1024 A100, batch 1536: best %.1f%% MFU, %s\n", 100.0 * r->top[0].mfu,
               lay);
        CHECK(r->top[0].mfu <= 0.60 && r->top[0].mfu > 0.3);
    }
    free(r);
    us_job_destroy(job);
}

/* Every priced calibration case stays under its chip's dense-GEMM ceiling. */
static void test_mfu_ceiling(struct us_ctx *ctx)
{
    struct us_validation v;
    struct us_diag d;
    CHECK(us_validate(ctx, NULL, &v, &d) == US_OK);
    int n = 0;
    for (int i = 0; i < v.ncases; i++) {
        const struct us_validation_case *c = &v.cases[i];
        if (!c->ok)
            continue;
        struct spec_system s;
        CHECK(spec_system_load(c->system, &s, &d) == US_OK);
        /* MFU is over the peak of the job's dtype; fp8 and fp4 GEMMs reach gemm_fp8 of it */
        double ceiling = s.eff.gemm_fp8 > s.eff.gemm ? s.eff.gemm_fp8 : s.eff.gemm;
        if (!(c->mfu < ceiling))
            fprintf(stderr, "  %s: MFU %.3f at or above the GEMM ceiling %.3f of %s\n", c->id,
                    c->mfu, ceiling, c->system);
        CHECK(c->mfu < ceiling);
        n++;
    }
    CHECK(n >= 120);
    us_validation_free(&v);
}

int main(int argc, char **argv)
{
    struct us_ctx *ctx = us_ctx_create();
    if (argc > 1 && strcmp(argv[1], "micro_batch") == 0) {
        test_micro_batch_gain(ctx);
    } else if (argc > 1 && strcmp(argv[1], "search") == 0) {
        test_search_ceiling(ctx);
    } else {
        test_fp8_gain(ctx);
        test_mfu_ceiling(ctx);
    }
    us_ctx_destroy(ctx);
    return test_summary("test_plausible");
}
