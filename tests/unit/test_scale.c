/* Unit tests of scale: the normal quantile and extreme values, stragglers (closed form
 * against seeded Monte Carlo), Young/Daly against the papers' worked cases, Daly goodput,
 * the Llama 3 reliability figure, spares, energy and money, and extreme inputs.
 * Expected numbers are derived by hand (or from the cited papers) in the comments. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "scale/scale.h"
#include "test.h"

/* --- a job in the shape of the Llama 3 405B pre-training run ------------------------
 * Dubey et al., "The Llama 3 Herd of Models" (2024), via shared/reference/hardware.yaml:
 *   16,384 H100 80GB, 54 days, 419 unplanned interruptions (Table 5), 16M-token batch
 *   (2048 x 8192) at 400 TFLOP/s per GPU (Table 4), Tectonic storage sustaining 2 TB/s.
 * Assumptions, stated:
 *   - checkpoint = 405e9 params x 14 B (bf16 weights 2 + fp32 master 4 + Adam m, v 8)
 *     = 5.67 TB, written by all GPUs at the storage's sustained 2 TB/s, i.e.
 *     2e12 / 16384 = 122 MB/s per GPU: a synchronous write stops training 2.835 s;
 *   - restart (detect, reschedule, reload, NCCL init, warm-up) = 10 minutes;
 *   - step = 6 x 405e9 x 16.78M tokens / (16384 x 400e12) = 6.2208 s (no attention term);
 *   - H100: TDP 700 W, idle 25% of TDP (docs/SPEC.md default), HBM 3.35 TB/s,
 *     $4.916 per GPU-hour (AWS capacity block, hardware.yaml); host 150 W and network
 *     40 W per GPU, PUE 1.2 (the docs/SPEC.md example). */
#define LLAMA_CHIPS           16384
#define LLAMA_TOKENS_PER_STEP (2048.0 * 8192.0)
#define LLAMA_STEP_S          (6.0 * 405e9 * LLAMA_TOKENS_PER_STEP / (16384.0 * 400e12))
#define LLAMA_CKPT_B          (405e9 * 14.0)

static void llama3_job(struct spec_job *j)
{
    memset(j, 0, sizeof *j);
    struct spec_system *s = &j->system;
    s->chip.peak_flops[US_DTYPE_BF16] = 989.4e12;
    s->chip.hbm_Bps = 3.35e12;
    s->chip.tdp_W = 700.0;
    s->chip.idle_W = 175.0;
    s->chip.gemm_W = 700.0; /* phase levels as the loader sets them (spec.h ratios) */
    s->chip.wait_W = 330.0;
    s->chip.memory_W = 515.0;
    s->chip.usd_per_hour = 4.916;
    s->chips_per_node = 8;
    s->out.nic_Bps = 400e9 / 8.0;
    s->host_W_per_chip = 150.0;
    s->network_W_per_chip = 40.0;
    s->pue = 1.2;
    s->rel.interruptions_per_chip_hour = SCALE_LLAMA3_INTERRUPTIONS_PER_CHIP_HOUR;
    s->rel.restart_s = 600.0;
    s->rel.ckpt_write_Bps_per_chip = 2e12 / 16384.0;
    s->rel.step_cv = 0.0;
    j->chips = LLAMA_CHIPS;
    j->par.dp = 128;
    j->train.dtype = US_DTYPE_BF16;
    j->train.tokens = 15.6e12;
    j->scale.seed = 42;
}

static void llama3_input(struct scale_input *in, const struct spec_job *j)
{
    memset(in, 0, sizeof *in);
    in->job = j;
    in->step_s = LLAMA_STEP_S;
    in->compute_busy_s = 0.8 * LLAMA_STEP_S;
    in->hbm_busy_s = 0.4 * LLAMA_STEP_S;
    in->stream_busy_s = 0.9 * LLAMA_STEP_S;
    in->ckpt_B = LLAMA_CKPT_B;
    in->tokens_per_step = LLAMA_TOKENS_PER_STEP;
}

/* --- statistics --- */
static void test_normal_quantile(void)
{
    /* reference quantiles (Abramowitz and Stegun 26.2; R's qnorm) */
    CHECK_NEAR(scale_norm_ppf(0.975), 1.959963984540054, 1e-13);
    CHECK_NEAR(scale_norm_ppf(0.999), 3.090232306167813, 1e-13);
    CHECK_NEAR(scale_norm_ppf(1e-10), -6.361340902404056, 1e-13);
    CHECK_NEAR(scale_norm_ppf(0.5), 0.0, 1e-15);
    CHECK(scale_norm_ppf(0.0) < -37.0 && isfinite(scale_norm_ppf(0.0)));
    CHECK(scale_norm_ppf(1.0) > 8.0 && isfinite(scale_norm_ppf(1.0)));
    CHECK(isfinite(scale_norm_ppf(NAN)));
    double ps[] = {1e-300, 1e-50, 1e-7, 0.01, 0.02425, 0.1, 0.3, 0.7, 0.9, 0.99, 1 - 1e-9};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++)
        CHECK_NEAR(scale_norm_cdf(scale_norm_ppf(ps[i])), ps[i], 1e-12);
}

static void test_rng(void)
{
    struct scale_rng a, b;
    scale_rng_seed(&a, 7);
    scale_rng_seed(&b, 7);
    int same = 1;
    for (int i = 0; i < 100; i++)
        same &= scale_rng_u64(&a) == scale_rng_u64(&b);
    CHECK(same);
    scale_rng_seed(&b, 8);
    CHECK(scale_rng_u64(&a) != scale_rng_u64(&b));
    /* moments of 200,000 draws: standard errors 0.00065 (uniform mean), 0.0022 (normal
     * mean), 0.0032 (normal variance); allow 5 of them */
    double su = 0, sn = 0, sn2 = 0;
    const int n = 200000;
    int inside = 1;
    for (int i = 0; i < n; i++) {
        double u = scale_rng_uniform(&a);
        inside &= u > 0.0 && u < 1.0;
        su += u;
        double z = scale_rng_normal(&a);
        sn += z;
        sn2 += z * z;
    }
    CHECK(inside);
    CHECK(fabs(su / n - 0.5) < 5 * 0.00065);
    CHECK(fabs(sn / n) < 5 * 0.0022);
    CHECK(fabs(sn2 / n - 1.0) < 5 * 0.0032);
}

static void test_expected_maximum(void)
{
    /* exact: E[max of 2] = 1/sqrt(pi), E[max of 3] = 3/(2 sqrt(pi)); n = 10 and 100 from
     * Harter's tables (1961); 1,048,576 by numerical integration of x n phi Phi^(n-1). */
    const double exact[][2] = {{2, 0.5641895835},
                               {3, 0.8462843753},
                               {10, 1.5387527308},
                               {100, 2.5075937665},
                               {1048576, 4.8723}};
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++) {
        int64_t R = (int64_t)exact[i][0];
        CHECK(fabs(scale_normal_max_mean(R) - exact[i][1]) < 0.03); /* Blom */
    }
    CHECK(fabs(scale_normal_max_gumbel(2) - 0.5642) > 0.15);       /* the asymptote is poor at 2 */
    CHECK(fabs(scale_normal_max_gumbel(1048576) - 4.8723) < 0.02); /* and good at 1M */
    CHECK(scale_normal_max_mean(1) == 0.0 && scale_normal_max_mean(0) == 0.0);
    CHECK(scale_normal_max_gumbel(1) == 0.0);
}

static void test_straggler_monte_carlo(void)
{
    /* Brute force: the slowest of R chips drawn one by one, 20,000 steps per R, against
     * the closed form. Tolerance: Blom's bias bound (0.03 sigma) + 4 standard errors. */
    const int64_t Rs[] = {2, 4, 16, 64};
    struct scale_rng g;
    scale_rng_seed(&g, 2024);
    for (size_t k = 0; k < sizeof Rs / sizeof Rs[0]; k++) {
        const int trials = 20000;
        double sum = 0, sum2 = 0;
        for (int t = 0; t < trials; t++) {
            double mx = -INFINITY;
            for (int64_t i = 0; i < Rs[k]; i++)
                mx = fmax(mx, scale_rng_normal(&g));
            sum += mx;
            sum2 += mx * mx;
        }
        double mean = sum / trials;
        double se = sqrt((sum2 / trials - mean * mean) / trials);
        double want = scale_normal_max_mean(Rs[k]);
        printf("  max of %3lld normals: sampled %.4f +- %.4f, Blom %.4f\n", (long long)Rs[k], mean,
               se, want);
        CHECK(fabs(mean - want) < 0.03 + 4 * se);
        /* the inverse-transform sampler agrees with brute force */
        double se2;
        double f = scale_straggler_factor_mc(1.0, Rs[k], trials, 99, &se2);
        CHECK(fabs((f - 1.0) - mean) < 4 * sqrt(se * se + se2 * se2));
    }
    /* at a million chips only the inverse transform is affordable */
    double se;
    double f = scale_straggler_factor_mc(1.0, 1048576, 4000, 5, &se);
    CHECK(fabs((f - 1.0) - scale_normal_max_mean(1048576)) < 0.03 + 4 * se);
    /* deterministic for a seed */
    CHECK(scale_straggler_factor_mc(0.01, 1000, 100, 3, NULL) ==
          scale_straggler_factor_mc(0.01, 1000, 100, 3, NULL));
}

static void test_straggler_factor(void)
{
    CHECK(scale_straggler_factor(0.0, 1000000) == 1.0);
    CHECK(scale_straggler_factor(0.05, 1) == 1.0);
    double prev = 1.0;
    for (int64_t R = 2; R <= (INT64_C(1) << 40); R *= 4) {
        double f = scale_straggler_factor(0.01, R);
        CHECK(f > prev);
        prev = f;
    }
    CHECK(scale_straggler_factor(0.02, 4096) > scale_straggler_factor(0.01, 4096));
    /* 1 + 0.01 x 4.857 (Blom at 2^20; the exact mean is 4.872) */
    CHECK_NEAR(scale_straggler_factor(0.01, 1048576), 1.04857, 2e-4);
}

/* --- failures --- */
static void test_young_daly(void)
{
    /* Young: sqrt(2 x 60 x 86400) = 3219.9379 s */
    CHECK_NEAR(scale_young_interval_s(60, 86400), 3219.937887599697, 1e-12);
    /* Daly (2006), Figs. 3-5: d = 5 min with M = 24 h, 6 h and 15 min give tau_opt =
     * 117, 57 and 9.1 min. By hand: 7200 x (1 + 0.041667/3 + 0.0017361/9) - 300 =
     * 7001.389 s; 3600 x (1 + 0.083333/3 + 0.0069444/9) - 300 = 3402.778 s;
     * 734.85 x (1 + 0.40825/3 + 0.16667/9) - 300 = 548.455 s. */
    CHECK_NEAR(scale_daly_interval_s(300, 86400), 7001.388888888888, 1e-12);
    CHECK_NEAR(scale_daly_interval_s(300, 21600), 3402.777777777777, 1e-12);
    CHECK_NEAR(scale_daly_interval_s(300, 900), 548.4551991837487, 1e-12);
    CHECK(fabs(scale_daly_interval_s(300, 86400) / 60 - 117) < 0.5);
    CHECK(fabs(scale_daly_interval_s(300, 21600) / 60 - 57) < 0.5);
    CHECK(fabs(scale_daly_interval_s(300, 900) / 60 - 9.1) < 0.05);
    CHECK(scale_daly_interval_s(2000, 900) == 900); /* d >= 2M */
    CHECK(scale_daly_interval_s(60, 0) == 0 && scale_young_interval_s(0, 100) == 0);
    /* Daly's estimate is the optimum of his complete model: golden-section search on the
     * goodput finds nothing better than 0.1% */
    const double cases[][3] = {{300, 86400, 600}, {300, 900, 600}, {2.8, 11135, 600}};
    for (size_t i = 0; i < 3; i++) {
        double d = cases[i][0], M = cases[i][1], R = cases[i][2];
        double lo = d * 0.01, hi = 5 * M, gr = (sqrt(5.0) - 1) / 2;
        for (int it = 0; it < 200; it++) {
            double x1 = hi - gr * (hi - lo), x2 = lo + gr * (hi - lo);
            if (scale_goodput(x1, d, R, M) > scale_goodput(x2, d, R, M))
                hi = x2;
            else
                lo = x1;
        }
        double best = scale_goodput(0.5 * (lo + hi), d, R, M);
        double daly = scale_goodput(scale_daly_interval_s(d, M), d, R, M);
        CHECK(daly >= best * (1 - 1e-3) && daly <= best * (1 + 1e-12));
    }
}

static void test_goodput_formula(void)
{
    /* tau 3600, d 60, R 600, M 86400: 3600 / (86400 e^(600/86400) (e^(3660/86400) - 1))
     * = 0.956257 */
    CHECK_NEAR(scale_goodput(3600, 60, 600, 86400), 0.9562565251719676, 1e-12);
    CHECK_NEAR(scale_goodput(3600, 60, 600, 0), 3600.0 / 3660.0, 1e-15); /* no failures */
    CHECK(scale_goodput(0, 60, 600, 0) == 1.0);
    CHECK(scale_goodput(0, 60, 600, 100) == 0.0);
    double tiny = scale_goodput(100, 10, 1e9, 1); /* restart far beyond the MTBF */
    CHECK(tiny == 0.0);
    CHECK(scale_goodput(1e-9, 0, 0, 1e30) <= 1.0);
}

static void test_poisson_tail(void)
{
    CHECK(scale_poisson_tail(2, 0) == 1.0);
    CHECK_NEAR(scale_poisson_tail(2, 1), 1 - exp(-2.0), 1e-14);     /* 0.8646647 */
    CHECK_NEAR(scale_poisson_tail(2, 3), 1 - 5 * exp(-2.0), 1e-13); /* 0.3233236 */
    CHECK_NEAR(scale_poisson_tail(1000, 1000), 0.5042052441803346, 1e-9);
    CHECK(scale_poisson_tail(0, 5) == 0.0);
    CHECK(scale_poisson_tail(10, 200) < 1e-100);
    CHECK(scale_poisson_tail(1e6, 10) == 1.0); /* first term underflows: still right */
    CHECK(scale_poisson_tail(10, INT64_C(1) << 40) == 0.0);
    /* P(N >= 530) for Poisson(503): 1 - 0.883 by the normal approximation with continuity
     * correction, z = (529.5 - 503) / sqrt(503) = 1.18; exact sum 0.11924 */
    CHECK_NEAR(scale_poisson_tail(503, 530), 0.11924049202806764, 1e-9);
}

static void test_llama3_reliability(void)
{
    struct spec_job j;
    struct scale_input in;
    struct scale_report r;
    llama3_job(&j);
    llama3_input(&in, &j);
    scale_compute(&in, &r);
    /* MTBF = 54 x 24 x 3600 / 419 = 11135.08 s (3.09 h); a synchronous checkpoint stops
     * 5.67e12 / 2e12 = 2.835 s; Daly: 249.38 s -> 40 steps of 6.2208 s = 248.83 s;
     * goodput = 248.83 / (11135.08 e^(600/11135.08) (e^(251.67/11135.08) - 1)) = 0.92632 */
    CHECK_NEAR(r.mtbf_s, 54.0 * 24 * 3600 / 419, 1e-12);
    CHECK_NEAR(r.ckpt_block_s, 2.835, 1e-12);
    CHECK_NEAR(r.daly_interval_s, 249.38218248408702, 1e-9);
    CHECK_NEAR(r.ckpt_interval_s, 40 * LLAMA_STEP_S, 1e-12);
    CHECK_NEAR(r.goodput, 0.9263209763909975, 1e-9);
    printf("  Llama 3 405B, 16,384 H100, 54 days: goodput %.4f (reported: more than 90%% "
           "effective training time)\n",
           r.goodput);
    CHECK(r.goodput > 0.90 && r.goodput < 0.99);
    /* over the 54 days: about 419 interruptions expected */
    double window_s = 54.0 * 24 * 3600;
    CHECK_NEAR(window_s / r.mtbf_s, 419, 1e-9);
}

static void test_goodput_falls_with_chips(void)
{
    struct spec_job j;
    struct scale_input in;
    struct scale_report r;
    llama3_job(&j);
    llama3_input(&in, &j);
    double prev = 1.0;
    for (int64_t chips = 1024; chips <= 1048576; chips *= 4) {
        j.chips = chips;
        scale_compute(&in, &r);
        printf("  %8lld chips: MTBF %8.0f s, goodput %.4f\n", (long long)chips, r.mtbf_s,
               r.goodput);
        CHECK(r.goodput < prev);
        prev = r.goodput;
    }
}

static void test_faster_checkpoint(void)
{
    struct spec_job j;
    struct scale_input in;
    struct scale_report r;
    llama3_job(&j);
    llama3_input(&in, &j);
    double prev = 0.0;
    const double bws[] = {1e6, 1e7, 1e8, 1e9, 1e10};
    for (size_t i = 0; i < 5; i++) {
        j.system.rel.ckpt_write_Bps_per_chip = bws[i];
        scale_compute(&in, &r);
        CHECK(r.goodput > prev);
        prev = r.goodput;
    }
    /* at 10 MB/s per chip a synchronous write stops 34.6 s; async stops only for the
     * snapshot (346 MB / 31.5 GB/s = 11 ms) but the write lags behind; in-memory lags
     * only by the peer copy over the 50 GB/s NIC */
    j.system.rel.ckpt_write_Bps_per_chip = 1e7;
    scale_compute(&in, &r);
    double g_sync = r.goodput;
    CHECK_NEAR(r.ckpt_block_s, LLAMA_CKPT_B / LLAMA_CHIPS / 1e7, 1e-12);
    j.scale.ckpt_async = true;
    scale_compute(&in, &r);
    double g_async = r.goodput;
    CHECK_NEAR(r.ckpt_block_s, LLAMA_CKPT_B / LLAMA_CHIPS / SCALE_DEFAULT_SNAPSHOT_BPS_PER_CHIP,
               1e-12);
    CHECK_NEAR(r.ckpt_lag_s, LLAMA_CKPT_B / LLAMA_CHIPS / 1e7, 1e-12);
    CHECK(r.ckpt_interval_s >= r.ckpt_lag_s);
    j.scale.ckpt_in_memory = true;
    scale_compute(&in, &r);
    double g_mem = r.goodput;
    CHECK_NEAR(r.ckpt_lag_s, LLAMA_CKPT_B / LLAMA_CHIPS / 50e9, 1e-12);
    printf("  10 MB/s per chip: goodput sync %.4f, async %.4f, in-memory %.4f\n", g_sync, g_async,
           g_mem);
    CHECK(g_async > g_sync);
    CHECK(g_mem > g_async);
}

static void test_spares(void)
{
    struct spec_job j;
    struct scale_input in;
    struct scale_report pool, hot, shrink;
    llama3_job(&j);
    llama3_input(&in, &j);
    scale_compute(&in, &pool);
    /* 64 hot spares = 8 nodes; failures 16384 x 1.973e-5 = 0.3233 per hour, repair 24 h:
     * Poisson(7.759) nodes in repair, P(N >= 8) = 0.51296 */
    j.scale.spare_chips = 64;
    scale_compute(&in, &hot);
    CHECK(hot.p.spares == SCALE_SPARES_HOT);
    CHECK_NEAR(hot.spare_shortage_p, 0.5129611320449361, 1e-9);
    CHECK_NEAR(hot.restart_s, 600 - 300 * (1 - 0.5129611320449361), 1e-9);
    CHECK(hot.goodput > pool.goodput);
    CHECK_NEAR(hot.usd_per_hour - pool.usd_per_hour, 64 * 4.916, 1e-12);
    j.scale.spare_chips = 8 * 40; /* 40 spare nodes: practically never short */
    scale_compute(&in, &hot);
    CHECK(hot.spare_shortage_p < 1e-9);
    CHECK_NEAR(hot.restart_s, 300, 1e-6);
    /* shrink DP: 0.3233/h x 24 h / 128 replicas = 6.06% out; restart skips rescheduling */
    j.scale.spare_chips = 0;
    in.spares = SCALE_SPARES_SHRINK_DP;
    scale_compute(&in, &shrink);
    CHECK_NEAR(shrink.dp_out_fraction, 0.32330246913580246 * 24 / 128, 1e-9);
    CHECK_NEAR(shrink.goodput, shrink.goodput_failures * (1 - shrink.dp_out_fraction), 1e-15);
    CHECK_NEAR(shrink.restart_s, 300, 1e-12);
    CHECK(shrink.usd_per_hour == pool.usd_per_hour);
    printf("  goodput: pool %.4f, 320 hot spares %.4f, shrink DP %.4f\n", pool.goodput, hot.goodput,
           shrink.goodput);
    /* dp = 1 cannot shrink */
    j.par.dp = 1;
    scale_compute(&in, &shrink);
    CHECK(shrink.p.spares == SCALE_SPARES_POOL && shrink.dp_out_fraction == 0.0);
    /* the job's scale: keys decide when scale_input leaves them 0 (spare_policy shrink_dp,
     * reschedule_min 2, repair_hours 12): 0.3233/h x 12 h / 128 = 3.03% out, restart
     * 600 - 120 s */
    j.par.dp = 128;
    in.spares = SCALE_SPARES_AUTO;
    j.scale.spare_policy = SPEC_SPARES_SHRINK_DP;
    j.scale.reschedule_s = 120.0;
    j.scale.repair_s = 12 * 3600.0;
    scale_compute(&in, &shrink);
    CHECK(shrink.p.spares == SCALE_SPARES_SHRINK_DP && shrink.restart_s == 480.0 &&
          fabs(shrink.dp_out_fraction - 0.32330246913580246 * 12 / 128) < 1e-9);
}

/* scale_prepare once, then many steps: each report is what scale_compute gives for that
 * step alone (the prepared part carries nothing of an earlier step), under every spares
 * policy, with and without a run, and down to a step so long the job makes no progress. */
static void test_prepared(void)
{
    struct spec_job j;
    struct scale_input in;
    llama3_job(&j);
    llama3_input(&in, &j);
    j.system.rel.step_cv = 0.02;
    const double steps_s[] = {LLAMA_STEP_S, 0.5, 1e-3, 0.0, 3e4, 1e7, LLAMA_STEP_S};
    for (int policy = 0; policy < 4; policy++) {
        in.spares = (enum scale_spares)policy;
        j.scale.spare_chips = policy == SCALE_SPARES_HOT ? 64 : 0;
        j.train.tokens = policy == SCALE_SPARES_POOL ? 0.0 : 15.6e12;
        struct scale_prepared pre;
        in.step_s = 99.0; /* the step given to scale_prepare does not matter */
        scale_prepare(&in, &pre);
        CHECK(scale_prepared_for(&pre, &in));
        for (size_t i = 0; i < sizeof steps_s / sizeof steps_s[0]; i++) {
            in.step_s = steps_s[i];
            in.compute_busy_s = 0.7 * steps_s[i];
            in.hbm_busy_s = 0.3 * steps_s[i];
            struct scale_report a, b;
            scale_compute(&in, &a);
            scale_compute_prepared(&pre, &in, &b);
            CHECK(memcmp(&a, &b, sizeof a) == 0);
            CHECK(scale_prepared_for(&pre, &in));
        }
    }
    /* the Llama 3 case of test_llama3_reliability through the two halves */
    llama3_input(&in, &j);
    j.system.rel.step_cv = 0.0;
    j.scale.spare_chips = 0;
    struct scale_prepared pre;
    struct scale_report r;
    scale_prepare(&in, &pre);
    scale_compute_prepared(&pre, &in, &r);
    CHECK_NEAR(r.goodput, 0.9263209763909975, 1e-9);
    CHECK_NEAR(r.ckpt_interval_s, 40 * LLAMA_STEP_S, 1e-12);
    /* what the prepared half depends on is checked; the step fields are not */
    struct scale_input o = in;
    o.tokens_per_step *= 2;
    o.hw_flop_per_chip = 1e15;
    CHECK(scale_prepared_for(&pre, &o));
    o = in;
    o.chips = 8192;
    CHECK(!scale_prepared_for(&pre, &o));
    o = in;
    o.dp = 64;
    CHECK(!scale_prepared_for(&pre, &o));
    o = in;
    o.ckpt_B *= 2;
    CHECK(!scale_prepared_for(&pre, &o));
    struct spec_job j2 = j;
    o = in;
    o.job = &j2;
    CHECK(!scale_prepared_for(&pre, &o));
}

/* --- energy and money --- */
static void test_energy_and_money(void)
{
    struct spec_job j;
    struct scale_input in;
    llama3_job(&j);
    llama3_input(&in, &j);
    struct scale_report r;
    scale_compute(&in, &r);
    /* chip: 0.8 of the step at the matrix level, 0.1 memory-bound, 0.1 waiting:
     * 0.8 x 700 + 0.1 x 515 + 0.1 x 330 = 644.5 W; facility = 1.2 x 16384 x (644.5 + 190) */
    CHECK_NEAR(r.chip_power_W, 644.5, 1e-12);
    CHECK_NEAR(r.busy_power_W, 1.2 * 16384 * 834.5, 1e-12);
    CHECK_NEAR(r.idle_power_W, 1.2 * 16384 * 365.0, 1e-12);
    CHECK_NEAR(r.energy_J_per_step, r.busy_power_W * LLAMA_STEP_S, 1e-15);
    CHECK_NEAR(r.usd_per_hour, 16384 * 4.916, 1e-15);

    struct us_result res;
    memset(&res, 0, sizeof res);
    scale_apply(&in, &res);
    CHECK(res.has_run);
    /* energy is power times time, exactly */
    CHECK_NEAR(res.energy_J, res.avg_power_W * res.time_to_train_s, 1e-14);
    CHECK_NEAR(res.energy_j_per_step, res.facility_power_W * LLAMA_STEP_S, 1e-15);
    CHECK_NEAR(res.cost_usd, res.cost_usd_per_hour * res.time_to_train_s / 3600, 1e-14);
    CHECK_NEAR(res.usd_per_million_tokens, res.cost_usd / 15.6e6, 1e-14);
    CHECK_NEAR(res.time_to_train_s, res.steps * LLAMA_STEP_S / res.goodput, 1e-12);
    CHECK_NEAR(res.steps, 15.6e12 / LLAMA_TOKENS_PER_STEP, 1e-15);
    CHECK_NEAR(res.failures_expected, res.time_to_train_s / res.mtbf_s, 1e-14);
    /* what a never-failing run would cost, plus the rest */
    CHECK_NEAR(res.cost_of_failures_usd,
               res.cost_usd - 16384 * 4.916 * res.steps * LLAMA_STEP_S / 3600, 1e-12);
    /* checkpoint stops and restarts run at idle power: average below the busy power */
    CHECK(res.avg_power_W < res.facility_power_W && res.avg_power_W > r.idle_power_W);
    printf("  Llama 3 405B on 15.6T tokens: %.1f days, %.1f GWh, %.1f MW, $%.0f M, "
           "$%.2f per M tokens, $%.1f M lost to failures\n",
           res.time_to_train_s / 86400, res.energy_J / 3.6e12, res.avg_power_W / 1e6,
           res.cost_usd / 1e6, res.usd_per_million_tokens, res.cost_of_failures_usd / 1e6);

    /* no failures: the run is steps x the energy of a step, and costs the perfect price */
    j.system.rel.interruptions_per_chip_hour = 0.0;
    memset(&res, 0, sizeof res);
    scale_apply(&in, &res);
    CHECK(res.goodput == 1.0 && res.checkpoint_interval_s == 0.0 && res.mtbf_s == 0.0);
    CHECK_NEAR(res.energy_J, res.energy_j_per_step * res.steps, 1e-14);
    CHECK_NEAR(res.cost_of_failures_usd, 0.0, 1e-6);
    CHECK(res.failures_expected == 0.0);

    /* hot spares draw idle power and are paid for */
    j.scale.spare_chips = 64;
    struct scale_report sp;
    scale_compute(&in, &sp);
    CHECK_NEAR(sp.busy_power_W - r.busy_power_W, 1.2 * 64 * 365.0, 1e-9);

    /* stragglers lengthen the step and lower the busy fraction, so the chip draws less */
    j.system.rel.step_cv = 0.05;
    j.scale.spare_chips = 0;
    struct scale_report st;
    scale_compute(&in, &st);
    CHECK(st.straggler_factor > 1.19); /* 1 + 0.05 x 3.956 (Blom, R = 16384) */
    CHECK_NEAR(st.step_s, LLAMA_STEP_S * st.straggler_factor, 1e-15);
    CHECK(st.chip_power_W < r.chip_power_W);
    /* without compute_busy_s the FLOPs give it: 0.5 of peak for the whole step */
    j.system.rel.step_cv = 0.0;
    in.compute_busy_s = 0.0;
    in.hw_flop_per_chip = 0.5 * 989.4e12 * LLAMA_STEP_S;
    scale_compute(&in, &st);
    CHECK_NEAR(st.u_compute, 0.5, 1e-12);
}

static void test_overrides(void)
{
    struct spec_job j;
    struct scale_input in;
    struct scale_report r;
    llama3_job(&j);
    llama3_input(&in, &j);
    j.scale.usd_per_chip_hour = 2.0;
    j.scale.pue = 1.5;
    j.scale.interruptions_per_chip_hour = 1e-4;
    j.scale.restart_s = 60;
    j.scale.ckpt_write_Bps_per_chip = 5e9;
    j.scale.step_cv = 0.02;
    scale_compute(&in, &r);
    CHECK(r.p.usd_per_chip_hour == 2.0 && r.p.pue == 1.5 && r.p.restart_s == 60);
    CHECK_NEAR(r.p.fail_per_chip_s, 1e-4 / 3600, 1e-15);
    CHECK(r.p.ckpt_write_Bps_per_chip == 5e9 && r.p.step_cv == 0.02);
    CHECK(r.p.reschedule_s == 60); /* never more than the restart itself */
}

/* --- robustness --- */
static int result_finite(const struct us_result *r)
{
    const double v[] = {r->straggler_factor,
                        r->chip_power_W,
                        r->facility_power_W,
                        r->energy_j_per_step,
                        r->cost_usd_per_hour,
                        r->run_tokens,
                        r->steps,
                        r->time_to_train_s,
                        r->goodput,
                        r->checkpoint_interval_s,
                        r->checkpoint_write_s,
                        r->failures_expected,
                        r->mtbf_s,
                        r->energy_J,
                        r->avg_power_W,
                        r->cost_usd,
                        r->usd_per_million_tokens,
                        r->cost_of_failures_usd};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (!isfinite(v[i]) || v[i] < 0)
            return 0;
    return r->goodput <= 1.0;
}

static void test_extremes(void)
{
    struct spec_job j;
    struct scale_input in;
    struct us_result res;
    llama3_job(&j);
    llama3_input(&in, &j);

    /* a million chips at the Llama 3 rate: MTBF 174 s, shorter than the 10-min restart */
    j.chips = 1048576;
    j.system.rel.step_cv = 0.01;
    in.straggler_mc_samples = 2000;
    memset(&res, 0, sizeof res);
    scale_apply(&in, &res);
    CHECK(result_finite(&res) && res.has_run);
    CHECK(res.goodput < 0.05);
    CHECK(res.straggler_factor > 1.04 && res.straggler_factor < 1.06);
    int seen_seed = 0, seen_restart = 0;
    for (int i = 0; i < res.nwarnings; i++) {
        seen_seed |= strstr(res.warnings[i], "seed 42") != NULL;
        seen_restart |= strstr(res.warnings[i], "restart takes") != NULL;
    }
    CHECK(seen_seed && seen_restart);
    printf("  1,048,576 chips: goodput %.4f, straggler x%.4f, %.0f days\n", res.goodput,
           res.straggler_factor, res.time_to_train_s / 86400);

    /* restart of ten hours at a million chips: no progress, still finite */
    j.system.rel.restart_s = 36000;
    memset(&res, 0, sizeof res);
    scale_apply(&in, &res);
    CHECK(result_finite(&res));
    CHECK(res.goodput <= 1e-9);

    /* rate 0, tiny step, zero checkpoint, enormous run, zero price and power */
    llama3_job(&j);
    llama3_input(&in, &j);
    const struct {
        double rate, step, ckpt, tokens, tdp, price, cv;
        int64_t chips;
    } cases[] = {
        {0, LLAMA_STEP_S, LLAMA_CKPT_B, 15.6e12, 700, 4.9, 0, LLAMA_CHIPS},
        {SCALE_LLAMA3_INTERRUPTIONS_PER_CHIP_HOUR, 1e-9, LLAMA_CKPT_B, 15.6e12, 700, 4.9, 0,
         LLAMA_CHIPS},
        {SCALE_LLAMA3_INTERRUPTIONS_PER_CHIP_HOUR, LLAMA_STEP_S, 0, 15.6e12, 700, 4.9, 0.01,
         LLAMA_CHIPS},
        {SCALE_LLAMA3_INTERRUPTIONS_PER_CHIP_HOUR, LLAMA_STEP_S, LLAMA_CKPT_B, 1e18, 700, 4.9, 1,
         LLAMA_CHIPS},
        {SCALE_LLAMA3_INTERRUPTIONS_PER_CHIP_HOUR, LLAMA_STEP_S, 1e20, 15.6e12, 0, 0, 0,
         LLAMA_CHIPS},
        {1.0, LLAMA_STEP_S, LLAMA_CKPT_B, 15.6e12, 700, 4.9, 0.01, LLAMA_CHIPS},
        {SCALE_LLAMA3_INTERRUPTIONS_PER_CHIP_HOUR, LLAMA_STEP_S, LLAMA_CKPT_B, 15.6e12, 700, 4.9,
         0.01, INT64_C(1) << 40},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        llama3_job(&j);
        llama3_input(&in, &j);
        j.system.rel.interruptions_per_chip_hour = cases[i].rate;
        in.step_s = cases[i].step;
        in.compute_busy_s = 0.8 * cases[i].step;
        in.hbm_busy_s = 0.4 * cases[i].step;
        in.ckpt_B = cases[i].ckpt;
        j.train.tokens = cases[i].tokens;
        j.system.chip.tdp_W = cases[i].tdp;
        j.system.chip.usd_per_hour = cases[i].price;
        j.system.rel.step_cv = cases[i].cv;
        j.chips = cases[i].chips;
        memset(&res, 0, sizeof res);
        scale_apply(&in, &res);
        CHECK(result_finite(&res) && res.has_run);
    }

    /* nothing to run: no step, no batch or no tokens -> no run figures, no NaN */
    llama3_job(&j);
    llama3_input(&in, &j);
    in.step_s = 0;
    memset(&res, 0, sizeof res);
    scale_apply(&in, &res);
    CHECK(!res.has_run && result_finite(&res));
    /* no step and a free checkpoint: Daly's limit tau -> 0 is e^(-R/M) */
    in.ckpt_B = 0;
    struct scale_report rep;
    scale_compute(&in, &rep);
    CHECK_NEAR(rep.goodput, exp(-600.0 / (54.0 * 24 * 3600 / 419)), 1e-12);
    llama3_input(&in, &j);
    in.step_s = NAN;
    in.compute_busy_s = NAN;
    memset(&res, 0, sizeof res);
    scale_apply(&in, &res);
    CHECK(!res.has_run && result_finite(&res));
    llama3_input(&in, &j);
    j.train.tokens = 0;
    memset(&res, 0, sizeof res);
    scale_apply(&in, &res);
    CHECK(!res.has_run && result_finite(&res) && res.cost_usd_per_hour > 0);
    /* a full warnings array is left alone */
    memset(&res, 0, sizeof res);
    res.nwarnings = US_MAX_WARNINGS;
    scale_apply(&in, &res);
    CHECK(res.nwarnings == US_MAX_WARNINGS);
}

static void test_fold_and_explain(void)
{
    struct us_result r;
    memset(&r, 0, sizeof r);
    r.step_time_s = 10.0;
    r.tokens_per_s = 1000.0;
    r.mfu = 0.4;
    r.straggler_factor = 1.05;
    r.breakdown.compute_s = 10.0;
    scale_fold_stragglers(&r);
    CHECK_NEAR(r.step_time_s, 10.5, 1e-15);
    CHECK_NEAR(r.breakdown.straggler_s, 0.5, 1e-12);
    CHECK_NEAR(r.breakdown.compute_s + r.breakdown.straggler_s, r.step_time_s, 1e-15);
    CHECK_NEAR(r.tokens_per_s, 1000.0 / 1.05, 1e-15);
    CHECK_NEAR(r.mfu, 0.4 / 1.05, 1e-15);

    /* b: same chips and step, twice the price, half the goodput */
    struct us_result a, b;
    memset(&a, 0, sizeof a);
    a.has_run = true;
    a.step_time_s = 10;
    a.straggler_factor = 1;
    a.tokens_per_step = 1e6;
    a.goodput = 0.9;
    a.nchips = 1000;
    a.cost_usd_per_hour = 1000 * 2.0;
    a.time_to_train_s = 1e6;
    a.cost_usd = 2000.0 * 1e6 / 3600;
    a.avg_power_W = 1e6;
    a.energy_J = 1e12;
    b = a;
    b.goodput = 0.45;
    b.cost_usd_per_hour = 1000 * 4.0;
    b.time_to_train_s = 2e6;
    b.cost_usd = 4000.0 * 2e6 / 3600;
    b.energy_J = 2e12;
    char buf[2048];
    scale_explain_diff(&a, &b, "trn3", "gb300", buf, sizeof buf);
    printf("%s", buf);
    CHECK(strstr(buf, "gb300 vs trn3: time-to-train x2, cost x4, energy x2") != NULL);
    CHECK(strstr(buf, "price per chip-hour") != NULL);
    CHECK(strstr(buf, "goodput") != NULL);
    CHECK(strstr(buf, "step time") == NULL); /* unchanged: not a driver */
    /* both drivers are factor 2; the first listed of equal effects stays first */
    CHECK(strstr(buf, "goodput") < strstr(buf, "price per chip-hour"));
    char small[16];
    scale_explain_diff(&a, &b, NULL, NULL, small, sizeof small);
    CHECK(strlen(small) == sizeof small - 1);
}

/* A report's goodput is Daly's, scale_goodput's log form, to rounding - the direct product
 * the report takes while M e^(R/M) is finite, and the log form itself when a restart far
 * beyond the MTBF makes it overflow (the goodput then underflows to 0, not NaN). */
static void test_goodput_direct(void)
{
    struct spec_job j;
    struct scale_input in;
    llama3_job(&j);
    llama3_input(&in, &j);
    const double restarts_s[] = {0.0, 60.0, 600.0, 3600.0, 1e5, 1e9};
    const double steps_s[] = {LLAMA_STEP_S, 0.05, 60.0};
    int direct = 0, logs = 0;
    for (size_t a = 0; a < sizeof restarts_s / sizeof restarts_s[0]; a++)
        for (size_t b = 0; b < sizeof steps_s / sizeof steps_s[0]; b++) {
            j.system.rel.restart_s = restarts_s[a];
            in.step_s = steps_s[b];
            struct scale_report r;
            scale_compute(&in, &r);
            double want = scale_goodput(r.ckpt_interval_s, r.ckpt_block_s,
                                        r.restart_s + r.ckpt_lag_s, r.mtbf_s);
            CHECK(isfinite(r.goodput_failures) && r.goodput_failures >= 0.0);
            CHECK(fabs(r.goodput_failures - want) <= 1e-12 * want);
            double w0 = exp(scale_goodput_ln0(r.restart_s + r.ckpt_lag_s, r.mtbf_s));
            direct += isfinite(w0);
            logs += !isfinite(w0);
        }
    CHECK(direct >= 10 && logs >= 1); /* both forms were taken */
}

int main(void)
{
    test_normal_quantile();
    test_rng();
    test_expected_maximum();
    test_straggler_monte_carlo();
    test_straggler_factor();
    test_young_daly();
    test_goodput_formula();
    test_poisson_tail();
    test_llama3_reliability();
    test_goodput_falls_with_chips();
    test_faster_checkpoint();
    test_spares();
    test_prepared();
    test_goodput_direct();
    test_energy_and_money();
    test_overrides();
    test_extremes();
    test_fold_and_explain();
    return test_summary("test_scale");
}
