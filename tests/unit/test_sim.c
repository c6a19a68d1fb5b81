/* test_sim: the event simulator. The queue pops in (time, sequence) order; the simulator
 * equals the closed form where overlap is trivial (no pipeline; even stages under every
 * schedule) and stays near it elsewhere; its trace is valid JSON whose critical-path events
 * add up to the step; its breakdown adds up to the step; it is deterministic; more
 * bandwidth is never slower; and Llama 3 405B on 16,384 H100s runs as one graph. */
#include <libfyaml.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "sim/sim.h"
#include "fixtures.h"
#include "test.h"

static void test_queue(void)
{
    struct sim_event store[64];
    struct sim_queue q;
    sim_queue_init(&q, store, 64);
    /* Times with ties, pushed out of order: pops come sorted by time, ties by seq. */
    int64_t times[12] = {5, 3, 9, 3, 0, 5, 7, 3, 1, 9, 0, 5};
    for (int i = 0; i < 12; i++)
        CHECK(sim_queue_push(&q, (struct sim_event){times[i], i, i}));
    struct sim_event e, prev = {-1, -1, -1};
    int n = 0;
    while (sim_queue_pop(&q, &e)) {
        CHECK(e.time_ps > prev.time_ps || (e.time_ps == prev.time_ps && e.seq > prev.seq));
        CHECK(times[e.task] == e.time_ps);
        prev = e;
        n++;
    }
    CHECK(n == 12);
    /* Full and empty. */
    struct sim_event one[1];
    sim_queue_init(&q, one, 1);
    CHECK(sim_queue_push(&q, (struct sim_event){1, 0, 0}));
    CHECK(!sim_queue_push(&q, (struct sim_event){2, 1, 1}));
    CHECK(sim_queue_pop(&q, &e) && e.time_ps == 1);
    CHECK(!sim_queue_pop(&q, &e));
}

/* --- jobs ----------------------------------------------------------------------------- */

static double br_sum(const struct us_breakdown *b)
{
    return b->compute_s + b->tp_comm_s + b->cp_comm_s + b->ep_comm_s + b->pp_comm_s + b->dp_comm_s +
           b->bubble_s + b->optimizer_s + b->overhead_s;
}

/* Runs both engines; returns false when the layout is refused. */
static bool both(const struct spec_job *j, const struct us_layout *l, struct step_times *ev,
                 struct step_times *cf, struct sim_stats *st)
{
    struct step_ctx *ctx = malloc(sizeof *ctx);
    bool ok = step_prepare(ctx, j, l);
    if (ok) {
        sim_step_stats(ctx, ev, NULL, st);
        estimate_step(ctx, cf);
        CHECK_NEAR(br_sum(&ev->br), ev->step_s, 1e-9);
        CHECK_NEAR(br_sum(&cf->br), cf->step_s, 1e-9);
        CHECK(ev->br.bubble_s >= 0.0 && ev->br.compute_s > 0.0);
        CHECK(ev->hw_flop_per_chip > 0.0 && ev->compute_busy_s > 0.0 && ev->hbm_busy_s > 0.0);
        CHECK(ev->compute_busy_s <= ev->step_s * (1.0 + 1e-9));
    } else {
        fprintf(stderr, "refused: %s\n", ctx->plan.reason);
    }
    free(ctx);
    return ok;
}

/* A model whose stages are even: embedding and head cost nothing extra beyond a layer
 * would make them uneven, so the toy job replaces the costs (as test_estimate does). */
static const char *const toy_job_text =
    "model: {name: toy, layers: 16, hidden: 4096, heads: 32, kv_heads: 32, ffn_hidden: 16384,"
    " vocab: 32000}\n"
    "system: dgx-h100\nchips: 32\n"
    "parallel: {tp: 8, pp: 4, dp: 1, zero: 0, sequence_parallel: true, recompute: none}\n"
    "training: {seq_len: 4096, global_batch: 16, micro_batch: 1, dtype: bf16}\n";

static void test_engines_agree_trivial(void)
{
    /* No pipeline: both engines add the same chains micro-batch after micro-batch. */
    static const char *const flat[] = {
        "model: llama3-8b\nsystem: dgx-h100\nchips: 8\n"
        "parallel: {tp: 8, pp: 1, dp: 1, zero: 0, sequence_parallel: true, recompute: full}\n"
        "training: {seq_len: 8192, global_batch: 8, micro_batch: 1, dtype: bf16}\n",
        "model: gpt3-175b\nsystem: dgx-a100\nchips: 8\n"
        "parallel: {tp: 8, pp: 1, dp: 1, zero: 0, sequence_parallel: false, recompute: selective}\n"
        "training: {seq_len: 2048, global_batch: 4, micro_batch: 1, dtype: fp16}\n",
        "model: mixtral-8x22b\nsystem: gb200-nvl72\nchips: 64\n"
        "parallel: {tp: 8, pp: 1, dp: 8, ep: 8, zero: 0, sequence_parallel: true, "
        "recompute: full}\n"
        "training: {seq_len: 4096, global_batch: 8, micro_batch: 1, dtype: bf16}\n",
    };
    for (size_t i = 0; i < US_ARRAY_LEN(flat); i++) {
        struct spec_job *j = fixture_job(flat[i]);
        struct us_layout l = fixture_layout(j);
        struct step_times ev, cf;
        struct sim_stats st;
        if (both(j, &l, &ev, &cf, &st)) {
            CHECK_NEAR(ev.step_s, cf.step_s, 1e-6);
            CHECK_NEAR(ev.br.compute_s, cf.br.compute_s, 1e-6);
            CHECK_NEAR(ev.br.tp_comm_s, cf.br.tp_comm_s, 1e-6);
            CHECK(st.events == st.tasks && st.critical_ps == st.step_ps);
        }
        free(j);
    }

    /* Even stages under every schedule: within 1%. */
    struct spec_job *j = fixture_job(toy_job_text);
    for (int sch = 0; sch < 3; sch++) {
        for (int m = 4; m <= 32; m *= 2) {
            j->train.global_batch = m;
            struct us_layout l = fixture_layout(j);
            l.schedule = (enum us_schedule)sch;
            l.vpp = sch == US_SCHEDULE_INTERLEAVED ? 2 : 1;
            struct step_ctx *ctx = malloc(sizeof *ctx);
            CHECK(step_prepare(ctx, j, &l));
            /* even: the embedding and head priced like nothing */
            memset(&ctx->costs.embed, 0, sizeof ctx->costs.embed);
            memset(&ctx->costs.head, 0, sizeof ctx->costs.head);
            struct step_times ev, cf;
            sim_step(ctx, &ev, NULL);
            estimate_step(ctx, &cf);
            CHECK_NEAR(ev.step_s, cf.step_s, 0.01);
            CHECK_NEAR(ev.br.bubble_s, cf.br.bubble_s, 0.01);
            CHECK_NEAR(br_sum(&ev.br), ev.step_s, 1e-9);
            free(ctx);
        }
    }
    free(j);
}

/* Uneven ends with interleaving, Megatron-Bridge's split (docs/MODEL.md 2.2): 14 layers +
 * the embedding + the loss = 4 stages x 2 chunks x 2, so stage 0's chunk 0 holds the
 * embedding and one layer and stage 3's last chunk one layer and the head. Overlap is
 * trivial (one replica, no DP traffic): the closed form's longest path (docs/MODEL.md 5.2)
 * is exact, embedding and head priced as they are. */
static void test_engines_agree_uneven_interleaved(void)
{
    static const char *const text =
        "model: {name: toy, layers: %d, hidden: 4096, heads: 32, kv_heads: 32, ffn_hidden: "
        "16384, vocab: 32000}\nsystem: dgx-h100\nchips: 32\n"
        "parallel: {tp: 8, pp: 4, dp: 1, vpp: %d, zero: 0, sequence_parallel: true, recompute: "
        "none, first_stage_layers: %d, last_stage_layers: %d}\n"
        "training: {seq_len: 4096, global_batch: %d, micro_batch: 1, dtype: bf16}\n";
    static const int cases[][4] = {{14, 2, 3, 3}, {30, 4, 7, 7}, {30, 2, 7, 7}, {16, 2, 4, 4}};
    for (size_t c = 0; c < US_ARRAY_LEN(cases); c++)
        for (int m = 4; m <= 32; m *= 2) {
            char buf[1024];
            snprintf(buf, sizeof buf, text, cases[c][0], cases[c][1], cases[c][2], cases[c][3], m);
            struct spec_job *j = fixture_job(buf);
            struct us_layout l = fixture_layout(j);
            struct step_times ev, cf;
            struct sim_stats st;
            if (both(j, &l, &ev, &cf, &st)) {
                CHECK_NEAR(cf.step_s, ev.step_s, 0.01);
                CHECK_NEAR(cf.step_s, ev.step_s, 1e-6); /* observed: exact */
                CHECK(st.critical_ps == st.step_ps);
            } else {
                CHECK(false);
            }
            free(j);
        }
}

static const char *const real_jobs[] = {
    "model: llama3-8b\nsystem: dgx-h100\nchips: 64\n"
    "parallel: {tp: 4, pp: 2, dp: 8, zero: 1, sequence_parallel: true, recompute: none}\n"
    "training: {seq_len: 8192, global_batch: 256, micro_batch: 1, dtype: bf16}\n",
    "model: llama3-70b\nsystem: dgx-h100\nchips: 256\n"
    "parallel: {tp: 8, pp: 4, vpp: 5, dp: 8, zero: 1, sequence_parallel: true, "
    "recompute: selective, tp_comm_overlap: true}\n"
    "training: {seq_len: 8192, global_batch: 256, micro_batch: 1, dtype: fp8}\n",
    "model: gpt3-175b\nsystem: dgx-a100\nchips: 1024\n"
    "parallel: {tp: 8, pp: 8, dp: 16, zero: 0, sequence_parallel: false, recompute: full}\n"
    "training: {seq_len: 2048, global_batch: 1024, micro_batch: 1, dtype: fp16}\n",
    "model: mixtral-8x22b\nsystem: gb200-nvl72\nchips: 128\n"
    "parallel: {tp: 2, pp: 4, dp: 16, ep: 8, zero: 1, sequence_parallel: true, "
    "recompute: full, ep_comm_overlap: true}\n"
    "training: {seq_len: 4096, global_batch: 256, micro_batch: 1, dtype: bf16}\n",
    "model: llama3-8b\nsystem: trn2-ultraserver\nchips: 64\n"
    "parallel: {tp: 8, pp: 1, dp: 8, zero: 3, sequence_parallel: true, recompute: none}\n"
    /* ZeRO-3 on DMA-engine collectives: under torchtitan, since the neuron default offers
     * ZeRO 0..1 alone (docs/MODEL.md 2.1) */
    "training: {seq_len: 4096, global_batch: 128, micro_batch: 2, dtype: bf16, "
    "framework: torchtitan}\n",
    "model: llama3-405b\nsystem: gb200-nvl72\nchips: 256\n"
    "parallel: {tp: 4, pp: 16, vpp: 4, dp: 4, zero: 1, sequence_parallel: true, "
    "recompute: none, first_stage_layers: 7, last_stage_layers: 7}\n"
    "training: {seq_len: 8192, global_batch: 64, micro_batch: 1, dtype: fp8}\n",
    "model: llama3-8b\nsystem: dgx-b200\nchips: 64\n"
    "parallel: {tp: 1, pp: 4, dp: 16, zero: 2, sequence_parallel: false, recompute: none, "
    "schedule: gpipe}\n"
    "training: {seq_len: 4096, global_batch: 256, micro_batch: 2, dtype: bf16}\n",
};

static void test_engines_near_elsewhere(void)
{
    for (size_t i = 0; i < US_ARRAY_LEN(real_jobs); i++) {
        struct spec_job *j = fixture_job(real_jobs[i]);
        struct us_layout l = fixture_layout(j);
        struct step_times ev, cf;
        struct sim_stats st;
        if (both(j, &l, &ev, &cf, &st)) {
            CHECK_NEAR(cf.step_s, ev.step_s, 0.05);
            CHECK(st.critical_ps == st.step_ps);
            CHECK_NEAR(ev.hw_flop_per_chip, cf.hw_flop_per_chip, 1e-12);
        }
        free(j);
    }
}

/* ZeRO-3 under a scheduler that plans within a memory limit (MaxText on XLA, docs/MODEL.md
 * 2.4): a job that fits only with one gathered layer runs with one, its gathers exposed (the
 * step rises by them, both engines alike); on a chip with room it keeps the prefetch and hides
 * them; a framework with a fixed prefetch (torchtitan's FSDP2) does not fit on the small chip. */
static void test_zero3_prefetch_dropped(void)
{
    static const char *const text =
        "model: llama3-70b\nsystem: tpu-v5p-pod\nchips: 64\n"
        "parallel: {tp: 1, pp: 1, dp: 64, zero: 3, sequence_parallel: false, recompute: full}\n"
        "training: {framework: maxtext, seq_len: 4096, global_batch: 256, micro_batch: 1, "
        "dtype: bf16}\n";
    struct spec_job *j = fixture_job(text);
    struct us_layout l = fixture_layout(j);
    struct step_ctx *ctx = malloc(sizeof *ctx);
    /* With room: the prefetch kept. */
    j->system.chip.hbm_B = 1e15;
    CHECK(step_prepare(ctx, j, &l) && ctx->fits);
    CHECK(ctx->mem.zero3_gathered_layers == 2);
    /* one gathered layer in the compute dtype (bf16), and the HBM at which the job fits with
     * it but not with two: peak = base + reserve fraction x HBM */
    double layer_B = 2.0 * ctx->costs.dense.params;
    double base = ctx->mem.peak_B - ctx->mem.reserve_B;
    double f = ctx->mem.reserve_B / ctx->mem.capacity_B;
    double small = (base - 0.5 * layer_B) / (1.0 - f), big = base / (1.0 - f) * 1.01;
    j->system.chip.hbm_B = big;
    struct step_times ev2, cf2, ev1, cf1;
    struct sim_stats st;
    CHECK(both(j, &l, &ev2, &cf2, &st));
    CHECK(step_prepare(ctx, j, &l) && ctx->fits && ctx->mem.zero3_gathered_layers == 2);
    /* the gathers one layer costs a step: forward and backward, every micro-batch */
    struct step_costs c;
    step_costs_compute(ctx, &c);
    double gathers =
        2.0 * c.m *
        (c.dense.param_ag_s * ctx->costs.n_dense + c.embed.param_ag_s + c.head.param_ag_s);
    CHECK(gathers > 0.01 * ev2.step_s);

    j->system.chip.hbm_B = small;
    CHECK(step_prepare(ctx, j, &l) && ctx->fits);
    CHECK(ctx->mem.zero3_gathered_layers == 1);
    CHECK_NEAR(ctx->mem.peak_B + 0.5 * layer_B, base + f * small + layer_B, 1e-6 * small);
    CHECK(both(j, &l, &ev1, &cf1, &st));
    CHECK_NEAR(cf1.step_s, ev1.step_s, 0.01);
    CHECK(st.critical_ps == st.step_ps);
    /* the step rises by the gathers the prefetch hid (all but the first, which was exposed
     * already), within 5% of them */
    CHECK(fabs((ev1.step_s - ev2.step_s) - gathers) < 0.05 * gathers);
    CHECK(fabs((cf1.step_s - cf2.step_s) - gathers) < 0.05 * gathers);
    CHECK(ev1.br.dp_comm_s > ev2.br.dp_comm_s);

    /* FSDP2's fixed prefetch: no fit on the small chip. */
    j->train.framework = SPEC_FW_TORCHTITAN;
    CHECK(step_prepare(ctx, j, &l) && !ctx->fits);
    CHECK(ctx->mem.zero3_gathered_layers == 2);
    free(ctx);
    free(j);
}

/* An overlapped EP all-to-all holds SMs beside the compute (docs/MODEL.md 5.3): the alltoall
 * dispatcher's NCCL kernels 8 (OVERLAP_COMM_UNITS), DeepEP/HybridEP Megatron-Core's 20 or
 * parallel.ep_dispatcher_sms; the compute of a MoE layer grows by that share of the units
 * times the overlapped all-to-all (all but one micro-batch's), and the engines still agree. */
static void test_ep_overlap_sms(void)
{
    static const char *const base =
        "model: mixtral-8x22b\nsystem: gb200-nvl72\nchips: 128\n"
        "parallel: {tp: 2, pp: 4, dp: 16, ep: 8, zero: 1, "
        "sequence_parallel: true, recompute: none, ep_comm_overlap: %s%s}\n"
        "training: {seq_len: 4096, global_batch: 256, micro_batch: 1, "
        "dtype: bf16}\n";
    static const char *const disp[] = {"", ", ep_dispatcher: flex",
                                       ", ep_dispatcher: flex, ep_dispatcher_sms: 40"};
    static const double sms[] = {8.0, 20.0, 40.0};
    for (int i = 0; i < 3; i++) {
        char text[512];
        snprintf(text, sizeof text, base, "false", disp[i]);
        struct spec_job *off = fixture_job(text);
        snprintf(text, sizeof text, base, "true", disp[i]);
        struct spec_job *on = fixture_job(text);
        struct us_layout lo = fixture_layout(off), ln = fixture_layout(on);
        struct step_ctx *ctx = malloc(sizeof *ctx);
        struct step_costs a, b;
        CHECK(step_prepare(ctx, off, &lo));
        step_costs_compute(ctx, &a);
        CHECK(step_prepare(ctx, on, &ln));
        step_costs_compute(ctx, &b);
        double share = sms[i] / 148.0; /* GB200: 148 SMs */
        CHECK(a.ep_sm_share == 0.0);
        CHECK_NEAR(b.ep_sm_share, share, 1e-15);
        double hid = 1.0 - 1.0 / (double)b.m;
        CHECK(b.m > 1 && b.moe.ep_fwd_s > 0.0);
        CHECK_NEAR(b.moe.other_fwd_s - a.moe.other_fwd_s,
                   share * fmin(hid * a.moe.ep_fwd_s, a.moe.attn_fwd_s + a.moe.other_fwd_s), 1e-12);
        CHECK_NEAR(b.moe.other_bwd_s - a.moe.other_bwd_s,
                   share * fmin(hid * a.moe.ep_bwd_s, a.moe.attn_bwd_s + a.moe.other_bwd_s), 1e-12);
        CHECK_NEAR(b.dense.other_fwd_s, a.dense.other_fwd_s, 0); /* no all-to-all there */
        struct step_times ev, cf;
        struct sim_stats st;
        if (both(on, &ln, &ev, &cf, &st))
            CHECK_NEAR(cf.step_s, ev.step_s, 0.05);
        free(ctx);
        free(on);
        free(off);
    }
}

/* Transformer Engine's userbuffers send the last of each forward reduce-scatter's 4 chunks
 * after the layer's last GEMM (docs/MODEL.md 5.3): under megatron with TP overlap an eighth of
 * the forward's TP time (half of its collectives are reduce-scatters) waits after the other
 * ops and the overlapped rest; the backward's does not; no other framework has the tail; the
 * engines agree. */
static void test_tp_overlap_tail(void)
{
    static const char *const base =
        "model: gpt3-175b\nsystem: dgx-a100\nchips: 128\n"
        "parallel: {tp: 8, pp: 8, vpp: 3, dp: 2, zero: 1, sequence_parallel: true, "
        "recompute: none, tp_comm_overlap: %s}\n"
        "training: {framework: %s, seq_len: 2048, global_batch: 64, micro_batch: 2, "
        "dtype: bf16}\n";
    static const struct {
        const char *overlap, *fw;
        double tail;
    } runs[] = {
        {"true", "megatron", 0.125}, {"false", "megatron", 0.0}, {"true", "torchtitan", 0.0}};
    double step[3] = {0};
    for (int i = 0; i < 3; i++) {
        char text[600];
        snprintf(text, sizeof text, base, runs[i].overlap, runs[i].fw);
        struct spec_job *j = fixture_job(text);
        struct us_layout l = fixture_layout(j);
        struct step_ctx *ctx = malloc(sizeof *ctx);
        CHECK(step_prepare(ctx, j, &l));
        struct step_costs c;
        step_costs_compute(ctx, &c);
        CHECK(c.tp_tail_fwd == runs[i].tail);
        const struct step_layer_time *d = &c.dense;
        CHECK(d->tp_fwd_s > 0.0 && d->cp_fwd_s == 0.0 && d->ep_fwd_s == 0.0);
        if (c.tp_overlap) {
            double t = runs[i].tail * d->tp_fwd_s;
            CHECK_NEAR(step_layer_fwd_s(&c, d, NULL),
                       d->attn_fwd_s + fmax(d->other_fwd_s, d->tp_fwd_s - t) + t, 1e-12);
            CHECK_NEAR(step_layer_bwd_s(&c, d, NULL),
                       d->attn_bwd_s + fmax(d->other_bwd_s, d->tp_bwd_s), 1e-12);
        }
        struct step_times ev, cf;
        struct sim_stats st;
        if (both(j, &l, &ev, &cf, &st)) {
            CHECK_NEAR(cf.step_s, ev.step_s, 0.01);
            CHECK(st.critical_ps == st.step_ps);
            step[i] = ev.step_s;
            if (runs[i].tail > 0.0) { /* the tail shows as exposed TP time, and costs time */
                CHECK(ev.br.tp_comm_s > 0.5 * c.m * 4 * runs[i].tail * d->tp_fwd_s);
                struct step_costs c0 = c;
                c0.tp_tail_fwd = 0.0;
                struct step_times t0;
                estimate_step_with(ctx, &c0, &t0);
                CHECK(t0.step_s < cf.step_s && t0.br.tp_comm_s < cf.br.tp_comm_s);
            }
        }
        free(ctx);
        free(j);
    }
    /* overlapping still beats not overlapping */
    CHECK(step[0] > 0.0 && step[0] < step[1] && step[2] > 0.0);
}

/* Event engine twice: the same answer to the picosecond. */
static void test_deterministic(void)
{
    struct spec_job *j = fixture_job(real_jobs[1]);
    struct us_layout l = fixture_layout(j);
    struct step_ctx *ctx = malloc(sizeof *ctx);
    CHECK(step_prepare(ctx, j, &l));
    struct step_times a, b;
    struct sim_stats sa, sb;
    sim_step_stats(ctx, &a, NULL, &sa);
    sim_step_stats(ctx, &b, NULL, &sb);
    CHECK(sa.step_ps == sb.step_ps && sa.tasks == sb.tasks &&
          sa.critical_tasks == sb.critical_tasks);
    CHECK(memcmp(&a.br, &b.br, sizeof a.br) == 0);
    free(ctx);
    free(j);
}

static void test_more_is_never_slower(void)
{
    for (size_t i = 0; i < US_ARRAY_LEN(real_jobs); i++) {
        struct spec_job *j = fixture_job(real_jobs[i]);
        struct us_layout l = fixture_layout(j);
        struct step_ctx *ctx = malloc(sizeof *ctx);
        if (!step_prepare(ctx, j, &l)) {
            CHECK(false);
            free(ctx);
            free(j);
            continue;
        }
        struct step_times base;
        sim_step(ctx, &base, NULL);
        for (int r = 0; r < 4; r++) {
            struct spec_job *k = malloc(sizeof *k);
            *k = *j;
            if (r == 0)
                for (int t = 0; t < US_DTYPE_COUNT; t++)
                    k->system.chip.peak_flops[t] *= 1.5;
            else if (r == 1)
                k->system.chip.hbm_Bps *= 1.5;
            else if (r == 2)
                k->system.up.bw_Bps *= 1.5;
            else
                k->system.out.nic_Bps *= 1.5;
            struct step_ctx *c2 = malloc(sizeof *c2);
            CHECK(step_prepare(c2, k, &l));
            struct step_times t;
            sim_step(c2, &t, NULL);
            CHECK(t.step_s <= base.step_s * (1.0 + 1e-12));
            free(c2);
            free(k);
        }
        free(ctx);
        free(j);
    }
}

static void test_bubble_fraction(void)
{
    struct spec_job *j = fixture_job("model: llama3-8b\nsystem: dgx-h100\nchips: 64\n"
                                     "parallel: {tp: 2, pp: 8, dp: 4, zero: 1, "
                                     "sequence_parallel: true, recompute: none}\n"
                                     "training: {seq_len: 4096, global_batch: 4, micro_batch: 1, "
                                     "dtype: bf16}\n");
    struct us_layout l = fixture_layout(j);
    double prev = 1.0;
    for (int m = 1; m <= 32; m *= 2) {
        j->train.global_batch = 4 * m;
        struct step_ctx *ctx = malloc(sizeof *ctx);
        CHECK(step_prepare(ctx, j, &l));
        struct step_times t;
        sim_step(ctx, &t, NULL);
        double frac = t.br.bubble_s / t.step_s;
        CHECK(frac <= prev + 1e-9);
        prev = frac;
        free(ctx);
    }
    free(j);
}

/* --- the trace ------------------------------------------------------------------------ */

static double num(struct fy_node *map, const char *key)
{
    struct fy_node *v = fy_node_mapping_lookup_by_string(map, key, strlen(key));
    if (!v || fy_node_get_type(v) != FYNT_SCALAR)
        return NAN;
    size_t n;
    const char *s = fy_node_get_scalar(v, &n);
    char buf[64];
    if (n >= sizeof buf)
        return NAN;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return strtod(buf, NULL);
}

static void check_trace(const char *job_text, bool toy_even)
{
    struct spec_job *j = fixture_job(job_text);
    struct us_layout l = fixture_layout(j);
    if (toy_even) {
        l.schedule = US_SCHEDULE_INTERLEAVED;
        l.vpp = 2;
    }
    struct step_ctx *ctx = malloc(sizeof *ctx);
    CHECK(step_prepare(ctx, j, &l));
    struct step_times t;
    struct core_buf b;
    core_buf_init(&b);
    sim_step(ctx, &t, &b);
    CHECK(!b.oom && b.len > 0);

    struct fy_parse_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.flags = FYPCF_QUIET;
    struct fy_document *doc = fy_document_build_from_string(&cfg, b.data, b.len);
    CHECK(doc != NULL);
    if (doc) {
        struct fy_node *root = fy_document_root(doc);
        struct fy_node *evs = fy_node_mapping_lookup_by_string(root, "traceEvents", 11);
        CHECK(evs && fy_node_get_type(evs) == FYNT_SEQUENCE);
        double crit_us = 0.0, step_us = t.step_s * 1e6;
        int nx = 0, nmeta = 0, bad = 0, npmeta = 0, nc = 0;
        double energy_J = 0.0, last_us = 0.0, last_mw = 0.0;
        void *it = NULL;
        struct fy_node *e;
        while (evs && (e = fy_node_sequence_iterate(evs, &it)) != NULL) {
            struct fy_node *ph = fy_node_mapping_lookup_by_string(e, "ph", 2);
            size_t n;
            const char *phs = ph ? fy_node_get_scalar(ph, &n) : "";
            double pid = num(e, "pid"), tid = num(e, "tid");
            if (pid == l.pp) { /* the facility power counter (docs/MODEL.md 7.6) */
                if (phs[0] == 'M') {
                    npmeta++;
                    continue;
                }
                struct fy_node *args = fy_node_mapping_lookup_by_string(e, "args", 4);
                double ts = num(e, "ts"), mw = args ? num(args, "MW") : -1.0;
                if (!(phs[0] == 'C' && ts >= last_us && ts <= step_us * (1 + 1e-9) && mw > 0))
                    bad++;
                if (nc++ > 0)
                    energy_J += last_mw * 1e6 * (ts - last_us) * 1e-6;
                last_us = ts;
                last_mw = mw;
                continue;
            }
            if (!(pid >= 0 && pid < l.pp && tid >= 0 && tid < SIM_STREAM_COUNT))
                bad++;
            if (phs[0] == 'M') {
                nmeta++;
                continue;
            }
            nx++;
            double ts = num(e, "ts"), dur = num(e, "dur");
            if (!(phs[0] == 'X' && ts >= 0 && dur > 0 && ts + dur <= step_us * (1 + 1e-9)))
                bad++;
            struct fy_node *args = fy_node_mapping_lookup_by_string(e, "args", 4);
            if (args && num(args, "critical") == 1.0)
                crit_us += dur;
        }
        CHECK(bad == 0);
        CHECK(nx > 0 && nmeta == l.pp * (2 + SIM_STREAM_COUNT));
        /* One counter track; it ends with the step and integrates to the phase energy: all
         * chips at the compute-stream level for stream_busy_s, waiting for the rest, plus
         * the constant part, times PUE (what scale prices without stragglers). */
        CHECK(npmeta == 1 && nc >= 2 && fabs(last_us - step_us) <= 1e-6 * step_us);
        struct step_power pw;
        step_power_levels(j, j->chips, t.compute_busy_s, t.stream_busy_s, &pw);
        double want =
            pw.pue *
            (pw.chips * (t.stream_busy_s * pw.stream_W + (t.step_s - t.stream_busy_s) * pw.wait_W) +
             pw.const_W * t.step_s);
        CHECK_NEAR(energy_J, want, 1e-6);
        CHECK(t.power_peak_W >= t.power_min_W && t.power_min_W > 0.0);
        /* The critical path covers the step with no gap (zero-length joins are not drawn). */
        CHECK_NEAR(crit_us, step_us, 1e-6);
        fy_document_destroy(doc);
    }
    core_buf_fini(&b);
    free(ctx);
    free(j);
}

static void test_trace(void)
{
    check_trace(toy_job_text, true);
    check_trace(real_jobs[0], false);
    check_trace(real_jobs[3], false);
}

/* Llama 3 405B on 16,384 H100s (tp 8, pp 16, dp 128, m = 16): one graph of about ten
 * thousand ops; the benchmark times it (bench/bench_step.c). */
static void test_llama405b(void)
{
    struct spec_job *j = fixture_job("model: llama3-405b\nsystem: dgx-h100\nchips: 16384\n"
                                     "parallel: {tp: 8, pp: 16, dp: 128, zero: 1, "
                                     "sequence_parallel: true, recompute: none, "
                                     "first_stage_layers: 7, last_stage_layers: 7}\n"
                                     "training: {seq_len: 8192, global_batch: 2048, "
                                     "micro_batch: 1, dtype: bf16}\n");
    struct us_layout l = fixture_layout(j);
    struct step_times ev, cf;
    struct sim_stats st;
    CHECK(both(j, &l, &ev, &cf, &st));
    CHECK(st.tasks > 5000 && st.tasks < 100000);
    CHECK(st.events == st.tasks);
    CHECK_NEAR(cf.step_s, ev.step_s, 0.02);
    /* 16 micro-batches over 16 stages: the bubble is near (p - 1) / (m + p - 1) = 48%. */
    CHECK(ev.br.bubble_s / ev.step_s > 0.35 && ev.br.bubble_s / ev.step_s < 0.55);
    free(j);
}

/* Inputs that make a large graph: many virtual chunks run; too many micro-batches fall back
 * to the closed form and say so. */
static void test_limits(void)
{
    struct spec_job *j =
        fixture_job("model: {name: deep, layers: 256, hidden: 1024, heads: 8, ffn_hidden: 4096,"
                    " vocab: 32000}\nsystem: dgx-h100\nchips: 2\n"
                    "parallel: {tp: 1, pp: 2, dp: 1, vpp: 128, zero: 0, sequence_parallel: false,"
                    " recompute: none}\n"
                    "training: {seq_len: 1024, global_batch: 4, micro_batch: 1, dtype: bf16}\n");
    struct us_layout l = fixture_layout(j);
    struct step_times ev, cf;
    struct sim_stats st;
    CHECK(both(j, &l, &ev, &cf, &st));
    CHECK(!st.fell_back && strcmp(ev.engine, "event") == 0);
    CHECK_NEAR(cf.step_s, ev.step_s, 0.05);
    free(j);

    j = fixture_job(
        "model: llama3-8b\nsystem: dgx-h100\nchips: 16\n"
        "parallel: {tp: 8, pp: 2, dp: 1, zero: 0, sequence_parallel: true,"
        " recompute: none}\n"
        "training: {seq_len: 1024, global_batch: 200000, micro_batch: 1, dtype: bf16}\n");
    l = fixture_layout(j);
    struct step_ctx *ctx = malloc(sizeof *ctx);
    CHECK(step_prepare(ctx, j, &l));
    sim_step_stats(ctx, &ev, NULL, &st);
    estimate_step(ctx, &cf);
    CHECK(st.fell_back && strcmp(ev.engine, "closed-form") == 0);
    CHECK_NEAR(ev.step_s, cf.step_s, 1e-12);
    free(ctx);
    free(j);
}

/* A step whose ops sum past SIM_MAX_PS (the slowest chip the spec accepts, 0.1 TFLOP/s, and
 * 128 micro-batches of Llama 3 405B: about 5e6 s of op time) is priced by the closed form in
 * doubles, never by int64 event times that would overflow (it once wrapped to MFU in the
 * trillions of percent). Below the bound the event engine still runs. */
static void test_time_bound(void)
{
    static const char text[] = "model: llama3-405b\nsystem: dgx-h100\nchips: 16384\n"
                               "parallel: {tp: 8, pp: 16, dp: 128, zero: 1, "
                               "sequence_parallel: true, recompute: none, "
                               "first_stage_layers: 7, last_stage_layers: 7}\n"
                               "training: {seq_len: 8192, global_batch: 16384, "
                               "micro_batch: 1, dtype: bf16}\n";
    const char *slow[] = {"system.chip.tflops.bf16=0.1"};
    for (int k = 0; k < 2; k++) {
        struct spec_job *j = malloc(sizeof *j);
        struct us_diag d;
        CHECK(spec_job_load_text("t.yaml", text, strlen(text), k ? slow : NULL, (size_t)k, j, &d) ==
              US_OK);
        struct us_layout l = fixture_layout(j);
        struct step_ctx *ctx = malloc(sizeof *ctx);
        struct step_times ev, cf;
        struct sim_stats st;
        CHECK(step_prepare(ctx, j, &l));
        sim_step_stats(ctx, &ev, NULL, &st);
        estimate_step(ctx, &cf);
        CHECK(isfinite(ev.step_s) && ev.step_s > 0);
        if (k == 0) {
            CHECK(!st.fell_back && strcmp(ev.engine, "event") == 0);
        } else {
            CHECK(st.fell_back && strcmp(ev.engine, "closed-form") == 0);
            CHECK(ev.step_s * 1e12 > SIM_MAX_PS / 16.0);
            CHECK_NEAR(ev.step_s, cf.step_s, 1e-12);
        }
        free(ctx);
        free(j);
    }
}

int main(void)
{
    test_queue();
    test_engines_agree_trivial();
    test_engines_agree_uneven_interleaved();
    test_engines_near_elsewhere();
    test_zero3_prefetch_dropped();
    test_deterministic();
    test_ep_overlap_sms();
    test_tp_overlap_tail();
    test_more_is_never_slower();
    test_bubble_fraction();
    test_trace();
    test_llama405b();
    test_limits();
    test_time_bound();
    return test_summary("test_sim");
}
