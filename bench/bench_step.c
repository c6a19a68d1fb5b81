/* bench_step: how fast the two step engines are on Llama 3 405B over 16,384 H100s (tp 8,
 * pp 16, dp 128, 16 micro-batches of one sequence): the event simulator's milliseconds per
 * iteration (the issue asks for well under 50 ms) and the closed form's evaluations per
 * second on one core (the issue asks for more than 500,000). The baseline in the same run is
 * step_costs_compute alone - pricing every op and collective once - so the ratios say what
 * composing a step costs on top of pricing it. Times are this thread's CPU time. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim/sim.h"

/* CPU time of this thread: "per core" rates, not disturbed by other jobs sharing the
 * machine (wall time would count their slices too). */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Calls fn(arg) in batches until at least min_s has passed; returns seconds per call. */
static double per_call_s(void (*fn)(void *), void *arg, double min_s)
{
    long n = 0, batch = 1;
    double t0 = now_s(), t;
    do {
        for (long i = 0; i < batch; i++)
            fn(arg);
        n += batch;
        batch *= 2;
        t = now_s() - t0;
    } while (t < min_s);
    return t / (double)n;
}

struct bench {
    struct step_ctx *ctx;
    const struct spec_job *job;
    struct us_layout lay;
    volatile double sink;
};

static void run_costs(void *p)
{
    struct bench *b = p;
    struct step_costs sc;
    step_costs_compute(b->ctx, &sc);
    b->sink = sc.dense.attn_fwd_s;
}

static void run_estimate(void *p)
{
    struct bench *b = p;
    struct step_times t;
    estimate_step(b->ctx, &t);
    b->sink = t.step_s;
}

static void run_prepare_estimate(void *p)
{
    struct bench *b = p;
    struct step_ctx *c = b->ctx + 1; /* scratch beside the prepared one */
    struct step_times t;
    if (step_prepare(c, b->job, &b->lay)) {
        estimate_step(c, &t);
        b->sink = t.step_s;
    }
}

static void run_sim(void *p)
{
    struct bench *b = p;
    struct step_times t;
    sim_step(b->ctx, &t, NULL);
    b->sink = t.step_s;
}

int main(void)
{
    static const char text[] = "model: llama3-405b\nsystem: dgx-h100\nchips: 16384\n"
                               "parallel: {tp: 8, pp: 16, dp: 128, zero: 1, "
                               "sequence_parallel: true, recompute: none, "
                               "first_stage_layers: 7, last_stage_layers: 7}\n"
                               "training: {seq_len: 8192, global_batch: 2048, micro_batch: 1, "
                               "dtype: bf16}\n";
    struct spec_job *job = malloc(sizeof *job);
    struct us_diag d;
    if (!job || spec_job_load_text("bench_step", text, strlen(text), NULL, 0, job, &d) != US_OK) {
        fprintf(stderr, "bench_step: cannot load the job: %s\n", d.msg);
        return 1;
    }
    struct bench b;
    memset(&b, 0, sizeof b);
    b.job = job;
    b.ctx = malloc(2 * sizeof *b.ctx);
    b.lay = (struct us_layout){.tp = 8,
                               .pp = 16,
                               .dp = 128,
                               .cp = 1,
                               .ep = 1,
                               .vpp = 1,
                               .zero = 1,
                               .sequence_parallel = true,
                               .recompute = US_RECOMPUTE_NONE,
                               .schedule = US_SCHEDULE_1F1B,
                               .micro_batch = 1,
                               .first_stage_layers = 7,
                               .last_stage_layers = 7};
    if (!b.ctx || !step_prepare(b.ctx, job, &b.lay)) {
        fprintf(stderr, "bench_step: layout refused: %s\n", b.ctx ? b.ctx->plan.reason : "");
        return 1;
    }
    struct step_times ev, cf;
    struct sim_stats st;
    sim_step_stats(b.ctx, &ev, NULL, &st);
    estimate_step(b.ctx, &cf);

    double t_costs = per_call_s(run_costs, &b, 0.3);
    double t_est = per_call_s(run_estimate, &b, 0.5);
    double t_prep = per_call_s(run_prepare_estimate, &b, 0.5);
    double t_sim = per_call_s(run_sim, &b, 1.0);

    printf("bench_step: llama3-405b on 16,384 dgx-h100 chips, tp 8 pp 16 dp 128, m = %d\n",
           b.ctx->plan.microbatches);
    printf("  step: event %.3f s, closed form %.3f s (%+.2f%%)\n", ev.step_s, cf.step_s,
           100.0 * (cf.step_s - ev.step_s) / ev.step_s);
    printf("  baseline  step_costs_compute        %9.3f us/call  %12.0f /s\n", t_costs * 1e6,
           1.0 / t_costs);
    printf("  closed    estimate_step             %9.3f us/call  %12.0f /s per core"
           "  (%.2fx baseline; goal > 500,000 /s)\n",
           t_est * 1e6, 1.0 / t_est, t_est / t_costs);
    printf("  layout    step_prepare+estimate     %9.3f us/call  %12.0f /s  (%.2fx baseline)\n",
           t_prep * 1e6, 1.0 / t_prep, t_prep / t_costs);
    printf("  event     sim_step                  %9.3f ms/iter  %12.1f /s  (%.0fx closed form;"
           " goal well under 50 ms)\n",
           t_sim * 1e3, 1.0 / t_sim, t_sim / t_est);
    printf("            %lld ops, %lld dependencies, %.1f M events/s\n", (long long)st.tasks,
           (long long)st.edges, (double)st.events / t_sim * 1e-6);
    free(b.ctx);
    free(job);
    return 0;
}
