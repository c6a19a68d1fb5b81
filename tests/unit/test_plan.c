/* Unit tests of parallel/plan: validity reasons, stage placement (even, uneven, interleaved)
 * and its conservation of layers and parameters, in-flight micro-batches per schedule,
 * memory per chip against hand-derived sums (Llama-3-8B on 8 chips, ZeRO-1 and ZeRO-3;
 * Mixtral with EP), the shortfall sentence, and checkpoint size.
 * Models and the system are built by hand (the presets belong to the catalog). */
#include <stddef.h>
#include <string.h>

#include "core/core.h"
#include "parallel/plan.h"
#include "test.h"

static struct spec_model llama3_8b(void)
{
    /* shared/reference/hf-configs/llama-3-8b.json */
    struct spec_model m;
    memset(&m, 0, sizeof m);
    m.layers = 32;
    m.hidden = 4096;
    m.heads = 32;
    m.kv_heads = 8;
    m.head_dim = 128;
    m.ffn_hidden = 14336;
    m.vocab = 128256;
    m.gated_mlp = true;
    return m;
}

static struct spec_model mixtral_8x22b(void)
{
    /* shared/reference/hf-configs/mixtral-8x22b.json */
    struct spec_model m = llama3_8b();
    m.layers = 56;
    m.hidden = 6144;
    m.heads = 48;
    m.kv_heads = 8;
    m.ffn_hidden = 16384;
    m.vocab = 32000;
    m.has_moe = true;
    m.moe.experts = 8;
    m.moe.top_k = 2;
    m.moe.expert_ffn_hidden = 16384;
    return m;
}

static struct spec_job h100_job(struct spec_model m, int64_t chips)
{
    /* H100 SXM5 80GB: 989.4 dense bf16 TFLOP/s, 1978.9 fp8, 80 GB HBM3
     * (shared/reference/hardware.yaml, nvidia_h100_sxm). No fp4. */
    struct spec_job j;
    memset(&j, 0, sizeof j);
    j.model = m;
    strcpy(j.system.chip.name, "H100 SXM5 80GB");
    j.system.chip.peak_flops[US_DTYPE_BF16] = 989.4e12;
    j.system.chip.peak_flops[US_DTYPE_FP16] = 989.4e12;
    j.system.chip.peak_flops[US_DTYPE_FP8] = 1978.9e12;
    j.system.chip.peak_flops[US_DTYPE_FP32] = 66.9e12;
    j.system.chip.hbm_B = 80e9;
    j.chips = chips;
    j.train.seq_len = 4096;
    j.train.global_batch = 64;
    j.train.micro_batch = 1;
    j.train.dtype = US_DTYPE_BF16;
    return j;
}

static struct us_layout layout(int tp, int pp, int dp, int cp, int ep)
{
    struct us_layout l;
    memset(&l, 0, sizeof l);
    l.tp = tp;
    l.pp = pp;
    l.dp = dp;
    l.cp = cp;
    l.ep = ep;
    l.vpp = 1;
    l.zero = 1;
    l.sequence_parallel = tp > 1;
    l.recompute = US_RECOMPUTE_NONE;
    l.schedule = US_SCHEDULE_1F1B;
    l.micro_batch = 1;
    return l;
}

static void expect_reason(const struct spec_job *j, const struct us_layout *l, const char *want)
{
    struct plan p;
    bool ok = plan_init(&p, j, l);
    CHECK(!ok && !p.valid);
    CHECK_STR(p.reason, want);
}

static void test_validity(void)
{
    struct spec_model big = llama3_8b();
    big.layers = 126;
    big.heads = 128;
    big.kv_heads = 8;
    big.hidden = 16384;
    big.ffn_hidden = 53248;
    struct spec_job j = h100_job(big, 16384);
    j.train.global_batch = 2048;
    struct us_layout l = layout(8, 16, 64, 1, 1);
    expect_reason(&j, &l, "tp*pp*cp*dp = 8*16*1*64 = 8192 != chips = 16384");
    l = layout(6, 1, 16, 1, 1);
    j.chips = 96;
    expect_reason(&j, &l, "tp=6 does not divide heads=128");
    l = layout(8, 16, 128, 1, 1);
    j.chips = 16384;
    expect_reason(&j, &l,
                  "layers=126 not divisible into pp=16 stages: give "
                  "first_stage_layers/last_stage_layers or use uneven stages");
    /* Uneven ends: 7 + 14 x 8 + 7 = 126. */
    l.first_stage_layers = 7;
    l.last_stage_layers = 7;
    struct plan p;
    CHECK(plan_init(&p, &j, &l));
    CHECK(p.first_layers == 7 && p.last_layers == 7 && p.layers_per_stage == 8);
    CHECK(p.microbatches == 16);
    l.first_stage_layers = 6;
    expect_reason(&j, &l,
                  "the 113 layers left after first_stage_layers=6 and last_stage_layers=7 do "
                  "not divide into 14 stages");
    /* tp=16 > kv_heads=8 is allowed (KV replicated); kv_heads=6 with tp=4 is not. */
    l = layout(16, 1, 1024, 1, 1);
    CHECK(plan_init(&p, &j, &l));
    struct spec_model odd = llama3_8b();
    odd.heads = 48;
    odd.kv_heads = 6;
    struct spec_job jo = h100_job(odd, 8);
    l = layout(4, 1, 2, 1, 1);
    expect_reason(&jo, &l, "tp=4 and kv_heads=6: tp must divide kv_heads or be a multiple of it");

    /* Schedules. */
    struct spec_job j8 = h100_job(llama3_8b(), 64);
    l = layout(1, 4, 16, 1, 1);
    l.vpp = 3;
    l.schedule = US_SCHEDULE_INTERLEAVED;
    expect_reason(&j8, &l, "vpp=3 does not divide the 8 layers per pipeline stage");
    l.vpp = 2;
    j8.train.global_batch = 96; /* 96 / 16 = 6 micro-batches */
    expect_reason(&j8, &l,
                  "schedule=interleaved needs microbatches=6 to be a multiple of pp=4 (Megatron)");
    j8.train.global_batch = 128;
    CHECK(plan_init(&p, &j8, &l));
    l.schedule = US_SCHEDULE_1F1B;
    expect_reason(&j8, &l, "vpp=2 needs schedule=interleaved");

    /* Experts. */
    struct spec_job jm = h100_job(mixtral_8x22b(), 512);
    l = layout(8, 1, 64, 1, 64);
    expect_reason(&jm, &l, "ep=64 exceeds experts=8");
    l = layout(8, 1, 64, 1, 3);
    expect_reason(&jm, &l, "ep=3 does not divide experts=8");
    jm.chips = 16;
    l = layout(8, 1, 2, 1, 4);
    expect_reason(&jm, &l, "ep=4 does not divide dp*cp=2*1=2");
    /* Expert TP 1 (MoE parallel folding) takes EP from tp x dp x cp: 8 x 2 = 16 ranks hold
     * EP 4 with 4 expert-data-parallel replicas; the expert state shards over those 4. */
    jm.par.etp = 1;
    CHECK(plan_init(&p, &jm, &l));
    CHECK(p.split.etp == 1);
    l = layout(8, 1, 2, 1, 8);
    CHECK(plan_init(&p, &jm, &l));
    l = layout(8, 1, 2, 1, 3);
    expect_reason(&jm, &l, "ep=3 does not divide experts=8");
    jm.par.etp = 2;
    l = layout(8, 1, 2, 1, 4);
    expect_reason(&jm, &l,
                  "etp=2: expert tensor parallelism other than 1 or tp (8) is not modelled");
    jm.par.etp = 0;
    l = layout(2, 1, 8, 1, 4);
    l.sequence_parallel = false;
    expect_reason(&jm, &l, "MoE with tp=2 needs sequence_parallel (Megatron requires it)");
    l = layout(1, 1, 8, 1, 2);
    j8.chips = 8;
    expect_reason(&j8, &l, "ep=2 but the model has no experts");

    /* Batch, sequence, dtype, ZeRO. */
    j8 = h100_job(llama3_8b(), 8);
    j8.train.global_batch = 60;
    l = layout(1, 1, 8, 1, 1);
    expect_reason(&j8, &l, "global_batch=60 not divisible by dp*micro_batch=8*1=8");
    j8.train.global_batch = 64;
    j8.train.seq_len = 4100;
    l = layout(1, 1, 2, 4, 1);
    expect_reason(&j8, &l,
                  "seq_len=4100 not divisible by 2*cp=8 (load-balanced causal context "
                  "parallelism cuts each sequence into 2*cp chunks)");
    j8.train.seq_len = 4096;
    j8.train.dtype = US_DTYPE_FP4;
    l = layout(1, 1, 8, 1, 1);
    expect_reason(&j8, &l,
                  "dtype=fp4 is not supported by H100 SXM5 80GB (no peak FLOP/s given for it)");
    j8.train.dtype = US_DTYPE_BF16;
    l.zero = 4;
    expect_reason(&j8, &l, "zero=4 out of range 0..3");
    l = layout(0, 1, 8, 1, 1);
    expect_reason(&j8, &l, "parallel degrees must be at least 1 (tp=0 pp=1 dp=8 cp=1 ep=1 vpp=1)");
    /* sp with tp=1 is a no-op, not an error */
    l = layout(1, 1, 8, 1, 1);
    l.sequence_parallel = true;
    CHECK(plan_init(&p, &j8, &l));
}

/* --- stages ---------------------------------------------------------------------------- */

static void check_stages_cover(const struct plan *p, const struct spec_model *m, int dense)
{
    int nd_sum = 0, nm_sum = 0, embeds = 0, heads = 0;
    for (int s = 0; s < p->lay.pp; s++) {
        int nd, nm;
        bool he, hh;
        plan_stage_layers(p, m, s, &nd, &nm, &he, &hh);
        nd_sum += nd;
        nm_sum += nm;
        embeds += he;
        heads += hh;
        CHECK(he == (s == 0) && hh == (s == p->lay.pp - 1));
    }
    CHECK(nd_sum + nm_sum == m->layers);
    CHECK(nd_sum == dense);
    CHECK(embeds == 1 && heads == 1);
}

/* Megatron's default splits for layers that do not divide (docs/MODEL.md 2.2). */
static void test_default_splits(void)
{
    int f = 0, l = 0;
    /* Llama 3.1 405B: 126 + embedding + loss = 128 over pp 16 x vpp 4: 7 + 14 x 8 + 7 */
    CHECK(plan_slot_split(126, 16, 4, 1, 1, &f, &l) && f == 7 && l == 7);
    /* DeepSeek-V3 with its MTP module: 61 + 3 = 64 over pp 8: 7 + 6 x 8 + 6 */
    CHECK(!plan_slot_split(61, 8, 1, 1, 1, &f, &l));
    CHECK(plan_slot_split(61, 8, 1, 1, 2, &f, &l) && f == 7 && l == 6);
    /* 61 over pp 6: no slot count divides (63, 64); the middle 4 take 11, the ends share
     * 17, the last the smaller share */
    CHECK(!plan_slot_split(61, 6, 1, 1, 1, &f, &l) && !plan_slot_split(61, 6, 1, 1, 2, &f, &l));
    CHECK(plan_ends_split(61, 6, &f, &l) && f == 9 && l == 8 && f + l + 4 * 11 == 61);
    /* layers that divide need no split */
    CHECK(!plan_slot_split(64, 8, 1, 1, 1, &f, &l) && !plan_ends_split(64, 8, &f, &l));
    CHECK(!plan_ends_split(7, 1, &f, &l));
}

static void test_stages(void)
{
    struct spec_model d = mixtral_8x22b();
    d.moe.dense_layers = 3; /* a dense prefix to place */
    struct spec_job j = h100_job(d, 32);
    struct plan p;
    /* even: 56 / 4 = 14 */
    struct us_layout l = layout(1, 4, 8, 1, 1);
    CHECK(plan_init(&p, &j, &l));
    check_stages_cover(&p, &d, 3);
    int nd, nm;
    bool he, hh;
    plan_stage_layers(&p, &d, 0, &nd, &nm, &he, &hh);
    CHECK(nd == 3 && nm == 11 && he && !hh);
    /* two uneven stages and no middle one, interleaved: 29 + 27 over vpp 4 take chunks of
     * 8 (the larger end rounded up), each end's last chunk short (Megatron-Bridge's
     * DeepSeek-V3 layout on pp 2) */
    {
        struct spec_job j2 = h100_job(d, 16);
        j2.train.global_batch = 64;
        struct us_layout l2 = layout(1, 2, 8, 1, 1);
        l2.vpp = 4;
        l2.schedule = US_SCHEDULE_INTERLEAVED;
        l2.first_stage_layers = 29;
        l2.last_stage_layers = 27;
        CHECK(plan_init(&p, &j2, &l2));
        CHECK(p.chunk_layers == 8 && p.first_chunk0_layers == 5 && p.last_chunkN_layers == 3);
        check_stages_cover(&p, &d, 3);
    }
    /* uneven: 2 + 2 x 26 + 2 */
    l.first_stage_layers = 2;
    l.last_stage_layers = 2;
    CHECK(plan_init(&p, &j, &l));
    check_stages_cover(&p, &d, 3);
    plan_stage_layers(&p, &d, 1, &nd, &nm, NULL, NULL);
    CHECK(nd == 1 && nm == 25);
    plan_stage_layers(&p, &d, 3, &nd, &nm, NULL, &hh);
    CHECK(nd == 0 && nm == 2 && hh);
    /* only the first stage uneven: 5 + 3 x 17 */
    l.last_stage_layers = 0;
    l.first_stage_layers = 5;
    CHECK(plan_init(&p, &j, &l));
    CHECK(p.layers_per_stage == 17 && p.last_layers == 17);
    check_stages_cover(&p, &d, 3);
    /* interleaved: 56 = 4 stages x 2 chunks x 7; stage 0 holds layers 0-6 and 28-34 */
    l = layout(1, 4, 8, 1, 1);
    l.vpp = 2;
    l.schedule = US_SCHEDULE_INTERLEAVED;
    CHECK(plan_init(&p, &j, &l));
    check_stages_cover(&p, &d, 3);
    plan_stage_layers(&p, &d, 0, &nd, &nm, NULL, NULL);
    CHECK(nd == 3 && nm == 11);
    plan_stage_layers(&p, &d, 1, &nd, &nm, NULL, NULL);
    CHECK(nd == 0 && nm == 14);
    /* pp = 1 */
    l = layout(1, 1, 32, 1, 1);
    CHECK(plan_init(&p, &j, &l));
    check_stages_cover(&p, &d, 3);
}

static void test_inflight(void)
{
    struct spec_job j = h100_job(llama3_8b(), 32);
    j.train.global_batch = 64; /* dp 8 -> 8 micro-batches */
    struct plan p;
    struct us_layout l = layout(1, 4, 8, 1, 1);
    CHECK(plan_init(&p, &j, &l));
    CHECK(p.microbatches == 8);
    CHECK_NEAR(plan_inflight_microbatches(&p, 0), 4, 0);
    CHECK_NEAR(plan_inflight_microbatches(&p, 3), 1, 0);
    l.schedule = US_SCHEDULE_GPIPE;
    CHECK(plan_init(&p, &j, &l));
    CHECK_NEAR(plan_inflight_microbatches(&p, 0), 8, 0);
    CHECK_NEAR(plan_inflight_microbatches(&p, 3), 8, 0);
    /* Interleaved, v = 2: stage 0 = pp + (pp-1)/v = 5.5, i.e. pp (1 + (pp-1)/(pp v)) */
    l.schedule = US_SCHEDULE_INTERLEAVED;
    l.vpp = 2;
    CHECK(plan_init(&p, &j, &l));
    CHECK_NEAR(plan_inflight_microbatches(&p, 0), 4.0 * (1.0 + 3.0 / 8.0), 0);
    CHECK_NEAR(plan_inflight_microbatches(&p, 3), 2.5, 0);
    /* Fewer micro-batches than stages: 1F1B keeps what there is. */
    j.train.global_batch = 16;
    l = layout(1, 4, 8, 1, 1);
    CHECK(plan_init(&p, &j, &l));
    CHECK_NEAR(plan_inflight_microbatches(&p, 0), 2, 0);
}

/* --- memory ------------------------------------------------------------------------------- */

static void test_memory_llama8b(void)
{
    /* Llama-3-8B, 8 chips, dp=8, ZeRO-1, bf16, b=1, s=4096: by hand.
     * params P = 8,030,261,248; weights 2P, grads 4P (fp32 main grads), Adam 12P/8.
     * Activations per layer (flash, no TP, no dropout so no masks): attention 9Th + LSE
     * 4*T*32, MLP 4Th + 6Tf = 151,519,232 + 419,430,400 = 570,949,632 B; 32 layers; head
     * 4Th + 4TV (fp32 logits) = 2,168,455,168 B. Reserve 5% of 80e9. */
    const double P = 8030261248.0, T = 4096, h = 4096, V = 128256;
    const double layer = 570949632.0, head = 4 * T * h + 4 * T * V;
    struct spec_job j = h100_job(llama3_8b(), 8);
    struct us_layout l = layout(1, 1, 8, 1, 1);
    struct plan p;
    CHECK(plan_init(&p, &j, &l));
    struct model_costs c;
    model_costs_compute(&j.model, &p.split, &c);
    CHECK_NEAR(c.dense.act_B, layer, 0);
    struct us_memory mem;
    bool fits = plan_memory(&p, &j, &c, &mem);
    CHECK_NEAR(mem.weights_B, 2 * P, 1e-15);
    CHECK_NEAR(mem.grads_B, 4 * P, 1e-15);
    CHECK_NEAR(mem.optimizer_B, 12 * P / 8, 1e-15);
    CHECK_NEAR(mem.activations_B, 32 * layer + head, 1e-15);
    CHECK_NEAR(mem.comm_buffers_B, 0, 0);
    CHECK_NEAR(mem.reserve_B, 4e9, 1e-15);
    CHECK_NEAR(mem.peak_B, 84665802752.0, 1e-15);
    CHECK(!fits && mem.stage == 0);
    char why[US_MSG_LEN];
    plan_memory_reason(&mem, why, sizeof why);
    CHECK_STR(why, "needs 78.9 GiB of 74.5 GiB HBM on stage 0: grads 29.9 GiB, activations "
                   "19.0 GiB, weights 15.0 GiB, optimizer 11.2 GiB, reserve 3.7 GiB, buffers "
                   "0.0 GiB; short by 4.3 GiB");

    /* Full recompute: layer inputs 2Th each, and the larger of the head's activations at the
     * end of the forward and one layer's working set rebuilt in its backward, which runs after
     * the head's backward has freed them (the head, 2.17 GB, is the larger here). */
    l.recompute = US_RECOMPUTE_FULL;
    CHECK(plan_init(&p, &j, &l));
    model_costs_compute(&j.model, &p.split, &c);
    fits = plan_memory(&p, &j, &c, &mem);
    double act = 32 * 2 * T * h + head;
    CHECK(head > layer - 2 * T * h);
    CHECK_NEAR(mem.activations_B, act, 1e-15);
    CHECK_NEAR(mem.peak_B, 67469156352.0, 1e-15);
    CHECK(fits);

    /* ZeRO-3: weights and grads sharded too; two gathered layers and two fp32 buckets of
     * 40M parameters (Megatron's default for dp*cp <= 40). */
    l.zero = 3;
    CHECK(plan_init(&p, &j, &l));
    fits = plan_memory(&p, &j, &c, &mem);
    CHECK_NEAR(mem.weights_B, 2 * P / 8, 1e-15);
    CHECK_NEAR(mem.grads_B, 4 * P / 8, 1e-15);
    CHECK_NEAR(mem.comm_buffers_B, 2 * 218112000.0 * 2 + 2 * 40e6 * 4, 1e-15);
    CHECK_NEAR(mem.peak_B, 26502732800.0, 1e-12);
    CHECK(fits);

    /* ZeRO 0 -> 1 -> 2 -> 3 never needs more memory. */
    double last = 1e300;
    for (int z = 0; z <= 3; z++) {
        l.zero = z;
        CHECK(plan_init(&p, &j, &l));
        plan_memory(&p, &j, &c, &mem);
        CHECK(mem.peak_B <= last);
        last = mem.peak_B;
    }
}

static void test_memory_pipeline(void)
{
    /* Llama-3-8B with pp=4: the sum over stages of the weights is the whole model, and
     * the peak is the max over stages. */
    struct spec_job j = h100_job(llama3_8b(), 32);
    struct us_layout l = layout(1, 4, 8, 1, 1);
    l.zero = 0;
    struct plan p;
    CHECK(plan_init(&p, &j, &l));
    struct model_costs c;
    model_costs_compute(&j.model, &p.split, &c);
    double w = 0, peak = 0;
    int at = -1;
    struct us_memory mem;
    for (int s = 0; s < 4; s++) {
        plan_memory_stage(&p, &j, &c, s, &mem);
        w += mem.weights_B;
        if (mem.peak_B > peak) {
            peak = mem.peak_B;
            at = s;
        }
    }
    CHECK_NEAR(w, 2 * 8030261248.0, 1e-15);
    plan_memory(&p, &j, &c, &mem);
    CHECK_NEAR(mem.peak_B, peak, 0);
    CHECK(mem.stage == at && at == 0);
    /* stage 0: 8 layers x 4 micro-batches in flight; stage 3: 8 layers x 1 + head */
    plan_memory_stage(&p, &j, &c, 3, &mem);
    CHECK_NEAR(mem.activations_B, 8 * c.dense.act_B + c.head.act_B, 1e-15);
    plan_memory_stage(&p, &j, &c, 0, &mem);
    CHECK_NEAR(mem.activations_B, 4 * (8 * c.dense.act_B + c.embed.act_B), 1e-15);
    /* p2p buffers: send + receive of b*s*h bf16 */
    CHECK_NEAR(mem.comm_buffers_B, 2 * 4096.0 * 4096 * 2, 0);

    /* Tied embeddings with pp > 1: the last stage holds its own copy of the matrix. */
    struct spec_model t8 = llama3_8b();
    t8.tied_embeddings = true;
    j.model = t8;
    model_costs_compute(&j.model, &p.split, &c);
    w = 0;
    for (int s = 0; s < 4; s++) {
        plan_memory_stage(&p, &j, &c, s, &mem);
        w += mem.weights_B;
    }
    CHECK_NEAR(w, 2 * 8030261248.0, 1e-15);
}

static void test_memory_moe(void)
{
    /* Mixtral 8x22B, tp=2 (SP), ep=4, dp=4, pp=4, ZeRO-1: expert optimizer state over
     * dp*cp/ep = 1 rank, the rest over dp*cp = 4. Per chip, per layer:
     * experts 2 local x 3 x 6144 x 8192 = 301,989,888; attention q 6144x3072, kv
     * 6144x1024, o 3072x6144 = 44,040,192; norms 12,288 and router 49,152 whole. */
    struct spec_job j = h100_job(mixtral_8x22b(), 32);
    j.train.global_batch = 64;
    struct us_layout l = layout(2, 4, 4, 1, 4);
    struct plan p;
    CHECK(plan_init(&p, &j, &l));
    struct model_costs c;
    model_costs_compute(&j.model, &p.split, &c);
    CHECK_NEAR(c.moe.params_expert, 301989888.0, 0);
    CHECK_NEAR(c.moe.params - c.moe.params_expert, 44040192.0 + 12288 + 49152, 0);
    struct us_memory mem;
    plan_memory_stage(&p, &j, &c, 1, &mem); /* a middle stage: 14 MoE layers */
    double pe = 14 * 301989888.0, pd = 14 * (44040192.0 + 12288 + 49152);
    CHECK_NEAR(mem.weights_B, 2 * (pe + pd), 1e-15);
    CHECK_NEAR(mem.optimizer_B, 12 * pd / 4 + 12 * pe / 1, 1e-15);
    /* buffers: SP gather b*s*h*2, EP send+recv 2 x (s/tp * top_k * h * 2), p2p */
    double T = 4096, h = 6144;
    CHECK_NEAR(mem.comm_buffers_B, T * h * 2 + 2 * (T / 2 * 2 * h * 2) + 2 * (T / 2) * h * 2,
               1e-15);
}

static void test_checkpoint(void)
{
    /* Llama 3 405B: 405,853,388,800 params x (2 B bf16 weights + 12 B Adam state). */
    struct spec_model m = llama3_8b();
    m.layers = 126;
    m.hidden = 16384;
    m.heads = 128;
    m.ffn_hidden = 53248;
    struct spec_job j = h100_job(m, 8);
    CHECK_NEAR(plan_checkpoint_B(&j), 405853388800.0 * 14, 1e-15);
    j.train.dtype = US_DTYPE_FP32;
    CHECK_NEAR(plan_checkpoint_B(&j), 405853388800.0 * 12, 1e-15);
}

/* Uneven ends with interleaving (docs/MODEL.md 2.2). Llama 3.1 405B as Megatron-Bridge runs
 * it on GB200 (pp 16, vpp 4): the embedding and the loss count as one layer each, 128 = 16
 * stages x 4 chunks x 2, so chunk 0 of stage 0 and chunk 3 of stage 15 hold one layer:
 * first = last = 7 as stage totals. With three dense layers first, layer 0 is chunk 0 of
 * stage 0, layers 1-2 chunk 0 of stage 1, layers 3-4 chunk 0 of stage 2; chunk 1 of stage 0
 * starts at layer 1 + 14 x 2 + 2 = 31. */
static void test_interleaved_uneven(void)
{
    struct spec_model big = mixtral_8x22b();
    big.layers = 126;
    big.moe.dense_layers = 3;
    struct spec_job j = h100_job(big, 256);
    j.train.global_batch = 1536;
    struct us_layout l = layout(1, 16, 16, 1, 1);
    l.vpp = 4;
    l.schedule = US_SCHEDULE_INTERLEAVED;
    l.first_stage_layers = 7;
    l.last_stage_layers = 7;
    struct plan p;
    CHECK(plan_init(&p, &j, &l));
    CHECK(p.chunk_layers == 2 && p.first_chunk0_layers == 1 && p.first_chunk_layers == 2);
    CHECK(p.last_chunk_layers == 2 && p.last_chunkN_layers == 1);
    check_stages_cover(&p, &big, 3);
    int nd, nm, total = 0;
    bool he, hh;
    plan_chunk_layers(&p, &big, 0, 0, &nd, &nm, &he, &hh);
    CHECK(nd == 1 && nm == 0 && he && !hh);
    plan_chunk_layers(&p, &big, 1, 0, &nd, &nm, &he, &hh);
    CHECK(nd == 2 && nm == 0 && !he && !hh);
    plan_chunk_layers(&p, &big, 2, 0, &nd, &nm, NULL, NULL);
    CHECK(nd == 0 && nm == 2);
    plan_chunk_layers(&p, &big, 15, 3, &nd, &nm, &he, &hh);
    CHECK(nd == 0 && nm == 1 && !he && hh);
    plan_chunk_layers(&p, &big, 15, 2, &nd, &nm, NULL, &hh);
    CHECK(nd + nm == 2 && !hh);
    for (int s = 0; s < 16; s++)
        for (int k = 0; k < 4; k++) {
            plan_chunk_layers(&p, &big, s, k, &nd, &nm, NULL, NULL);
            total += nd + nm;
        }
    CHECK(total == 126);
    plan_stage_layers(&p, &big, 0, &nd, &nm, NULL, NULL);
    CHECK(nd == 1 && nm == 6);
    plan_stage_layers(&p, &big, 1, &nd, &nm, NULL, NULL);
    CHECK(nd == 2 && nm == 6);

    /* Megatron-Core's own rule: an end stage divisible by vpp splits evenly (8 = 4 + 4,
     * 6 = 3 + 3 around middle stages of 8 = 4 + 4). */
    l.vpp = 2;
    l.first_stage_layers = 8;
    l.last_stage_layers = 6;
    CHECK(plan_init(&p, &j, &l));
    CHECK(p.first_chunk0_layers == 4 && p.first_chunk_layers == 4);
    CHECK(p.last_chunk_layers == 3 && p.last_chunkN_layers == 3);
    check_stages_cover(&p, &big, 3);
    /* Neither rule: 5 layers in 4 chunks of 2 (one short is 7; a multiple of 4 is 4 or 8). */
    l.vpp = 4;
    l.first_stage_layers = 5;
    l.last_stage_layers = 9;
    expect_reason(&j, &l,
                  "first_stage_layers=5 do not split into vpp=4 chunks: give a multiple of 4, "
                  "or 6..7 layers (chunks of 2, the end one short)");
    /* A chunk may hold no layer at all beside the embedding (chunks of 1, one short). */
    l.vpp = 8;
    l.first_stage_layers = 7;
    l.last_stage_layers = 7;
    CHECK(plan_init(&p, &j, &l));
    CHECK(p.first_chunk0_layers == 0 && p.last_chunkN_layers == 0);
    check_stages_cover(&p, &big, 3);
    CHECK(plan_end_chunk_layers(7, 2, 4, &nd) == 1 && nd == 2);
    CHECK(plan_end_chunk_layers(8, 2, 4, &nd) == 2 && nd == 2);
    CHECK(plan_end_chunk_layers(5, 2, 4, &nd) == -1);
    CHECK(plan_end_chunk_layers(6, 0, 4, &nd) == -1);
}

/* Activations at the peak of an interleaved stage, checked against a walk of Megatron's
 * schedule written out here: micro-batches in groups of pp through every chunk, W = 2(pp -
 * s - 1) + (v - 1) pp warm-up forwards (every forward when m == pp), then one forward and
 * one backward in turn. Each chunk weighs its own activation bytes. */
static double walk_peak_of(const struct plan *p, int s, const double *a)
{
    int pp = p->lay.pp, v = p->lay.vpp, mb = p->microbatches, total = mb * v;
    int warm = mb == pp ? total : 2 * (pp - s - 1) + (v - 1) * pp;
    if (warm > total)
        warm = total;
    double live = 0, peak = 0;
    int fi = 0, bi = 0;
    while (fi < total || bi < total) {
        bool fwd = fi < total && (fi < warm || fi - warm <= bi);
        if (fwd) {
            live += a[(fi % (pp * v)) / pp];
            fi++;
        } else {
            live -= a[v - 1 - (bi % (pp * v)) / pp];
            bi++;
        }
        if (live > peak)
            peak = live;
    }
    return peak;
}

static double walk_peak(const struct plan *p, const struct spec_model *m,
                        const struct model_costs *c, int s)
{
    double a[16];
    for (int k = 0; k < p->lay.vpp; k++) {
        int nd, nm;
        bool he, hh;
        plan_chunk_layers(p, m, s, k, &nd, &nm, &he, &hh);
        a[k] = nd * c->dense.act_B + nm * c->moe.act_B + (he ? c->embed.act_B : 0) +
               (hh ? c->head.act_B : 0);
    }
    return walk_peak_of(p, s, a);
}

static void test_memory_interleaved(void)
{
    struct spec_model m = llama3_8b();
    m.layers = 30; /* 30 + 2 = 32 = 4 stages x 4 chunks x 2: ends 7, chunks 1 + 2 + 2 + 2 */
    struct spec_job j = h100_job(m, 4);
    struct us_layout l = layout(1, 4, 1, 1, 1);
    l.vpp = 4;
    l.schedule = US_SCHEDULE_INTERLEAVED;
    l.first_stage_layers = 7;
    l.last_stage_layers = 7;
    for (int mb = 4; mb <= 16; mb += 4) {
        j.train.global_batch = mb;
        struct plan p;
        CHECK(plan_init(&p, &j, &l));
        struct model_costs c;
        model_costs_compute(&j.model, &p.split, &c);
        for (int s = 0; s < 4; s++) {
            struct us_memory mem;
            plan_memory_stage(&p, &j, &c, s, &mem);
            CHECK_NEAR(mem.activations_B, walk_peak(&p, &m, &c, s), 1e-12);
        }
        /* The head's fp32 logits sit in the last chunk of stage 3, of which the peak holds
         * one copy (m > pp) or all m (m == pp), not the stage-mean count of 1F1B. */
        struct us_memory mem;
        plan_memory_stage(&p, &j, &c, 3, &mem);
        double mean = plan_inflight_microbatches(&p, 3) * (7 * c.dense.act_B + c.head.act_B);
        if (mb > 4)
            CHECK(mem.activations_B < mean);
    }
    /* Chunk bytes of every shape against the walk: all alike but one (the end stages'
     * embedding or head, a short end chunk, a dense prefix's chunk), heavier or lighter,
     * at either end or inside, and two unlike; 2 to 8 stages, 2 to 5 chunks, few and many
     * micro-batches. */
    int compared = 0;
    for (int pp = 2; pp <= 8; pp *= 2)
        for (int v = 2; v <= 5; v++)
            for (int k = 2; k <= 5; k++) {
                m.layers = pp * v * 2;
                j = h100_job(m, pp);
                j.train.global_batch = k * pp;
                struct us_layout le = layout(1, pp, 1, 1, 1);
                le.vpp = v;
                le.schedule = US_SCHEDULE_INTERLEAVED;
                struct plan p;
                CHECK(plan_init(&p, &j, &le));
                for (int s = 0; s < pp; s++)
                    for (int odd = 0; odd < v; odd++)
                        for (int shape = 0; shape < 3; shape++) {
                            double a[8];
                            for (int x = 0; x < v; x++)
                                a[x] = 3.0e8;
                            a[odd] += shape == 1 ? -1.0e8 : 1.0e8; /* heavier, lighter */
                            if (shape == 2)
                                a[(odd + 1) % v] += 0.5e8; /* and a second unlike one */
                            double got = plan_interleaved_peak_act(&p, s, a, v);
                            double want = walk_peak_of(&p, s, a);
                            CHECK_NEAR(got, want, 1e-12);
                            compared++;
                        }
            }
    CHECK(compared == (2 + 4 + 8) * 3 * (2 + 3 + 4 + 5) * 4); /* stages x shapes x chunks x m */
}

/* training.grad_reduce_dtype: bf16 main grads are half the fp32 ones (Llama-3-8B, dp=8 as
 * in test_memory_llama8b: P = 8,030,261,248, grads 4P -> 2P, the peak 2P lower); with
 * ZeRO-3 the sharded grads 4P/8 -> 2P/8 and the two 40M-parameter buckets 2*40e6*4 ->
 * 2*40e6*2. fp16 training keeps fp16 grads (2P) unless fp32 is asked for (4P). */
static void test_memory_grad_reduce(void)
{
    const double P = 8030261248.0;
    struct spec_job j = h100_job(llama3_8b(), 8);
    struct us_layout l = layout(1, 1, 8, 1, 1);
    struct plan p;
    struct model_costs c;
    struct us_memory fp32, bf16;
    CHECK(plan_init(&p, &j, &l));
    model_costs_compute(&j.model, &p.split, &c);
    plan_memory(&p, &j, &c, &fp32);
    j.train.grad_reduce = SPEC_GRAD_REDUCE_BF16;
    CHECK(plan_init(&p, &j, &l));
    CHECK(p.split.grad_reduce == SPEC_GRAD_REDUCE_BF16);
    model_costs_compute(&j.model, &p.split, &c);
    plan_memory(&p, &j, &c, &bf16);
    CHECK_NEAR(fp32.grads_B, 4 * P, 1e-15);
    CHECK_NEAR(bf16.grads_B, 2 * P, 1e-15);
    CHECK_NEAR(bf16.weights_B, 2 * P, 1e-15);
    CHECK_NEAR(bf16.optimizer_B, 12 * P / 8, 1e-15);
    CHECK_NEAR(bf16.activations_B, fp32.activations_B, 1e-15);
    CHECK_NEAR(bf16.peak_B, 84665802752.0 - 2 * P, 1e-15);

    l.zero = 3;
    CHECK(plan_init(&p, &j, &l));
    plan_memory(&p, &j, &c, &bf16);
    CHECK_NEAR(bf16.grads_B, 2 * P / 8, 1e-15);
    CHECK_NEAR(bf16.comm_buffers_B, 2 * 218112000.0 * 2 + 2 * 40e6 * 2, 1e-15);

    /* an explicit fp32 is the default for bf16 */
    l.zero = 1;
    j.train.grad_reduce = SPEC_GRAD_REDUCE_FP32;
    CHECK(plan_init(&p, &j, &l));
    plan_memory(&p, &j, &c, &bf16);
    CHECK_NEAR(bf16.grads_B, 4 * P, 1e-15);
    j.train.dtype = US_DTYPE_FP16;
    CHECK(plan_init(&p, &j, &l));
    plan_memory(&p, &j, &c, &bf16);
    CHECK_NEAR(bf16.grads_B, 4 * P, 1e-15);
    j.train.grad_reduce = SPEC_GRAD_REDUCE_AUTO;
    CHECK(plan_init(&p, &j, &l));
    plan_memory(&p, &j, &c, &bf16);
    CHECK_NEAR(bf16.grads_B, 2 * P, 1e-15);
}

/* training.weight_dtype (docs/MODEL.md 2.4): the parameters kept once, in fp32 (MaxText's
 * default) or bf16, with m and v alone in the optimizer; ZeRO-3 gathers layers in the
 * compute dtype whatever the shards' dtype. Llama-3-8B, dp 8. */
static void test_memory_weight_dtype(void)
{
    const double P = 8030261248.0;
    struct spec_job j = h100_job(llama3_8b(), 8);
    struct us_layout l = layout(1, 1, 8, 1, 1);
    struct plan p;
    struct model_costs c;
    struct us_memory mixed, m32, m16;
    CHECK(plan_init(&p, &j, &l));
    CHECK(p.split.weight_dtype == SPEC_WEIGHT_MIXED); /* megatron */
    model_costs_compute(&j.model, &p.split, &c);
    plan_memory(&p, &j, &c, &mixed);
    j.train.framework = SPEC_FW_MAXTEXT; /* auto: MaxText's base.yml float32 */
    CHECK(plan_init(&p, &j, &l));
    CHECK(p.split.weight_dtype == SPEC_WEIGHT_FP32);
    plan_memory(&p, &j, &c, &m32);
    CHECK_NEAR(m32.weights_B, 4 * P, 1e-15);
    CHECK_NEAR(m32.grads_B, mixed.grads_B, 0);
    CHECK_NEAR(m32.optimizer_B, 8 * P / 8, 1e-15);
    CHECK_NEAR(mixed.weights_B, 2 * P, 1e-15);
    CHECK_NEAR(mixed.optimizer_B, 12 * P / 8, 1e-15);
    j.train.weight_dtype = SPEC_WEIGHT_BF16;
    j.train.optimizer_bf16 = true;
    j.train.grad_reduce = SPEC_GRAD_REDUCE_BF16;
    CHECK(plan_init(&p, &j, &l));
    plan_memory(&p, &j, &c, &m16);
    CHECK_NEAR(m16.weights_B, 2 * P, 1e-15);
    CHECK_NEAR(m16.grads_B, 2 * P, 1e-15);
    CHECK_NEAR(m16.optimizer_B, 4 * P / 8, 1e-15);
    /* ZeRO-3: the shards in fp32, the two gathered layers in bf16 as under mixed precision */
    l.zero = 3;
    j.train.weight_dtype = SPEC_WEIGHT_FP32;
    j.train.optimizer_bf16 = false;
    j.train.grad_reduce = SPEC_GRAD_REDUCE_AUTO;
    CHECK(plan_init(&p, &j, &l));
    plan_memory(&p, &j, &c, &m32);
    j.train.weight_dtype = SPEC_WEIGHT_MIXED;
    CHECK(plan_init(&p, &j, &l));
    plan_memory(&p, &j, &c, &mixed);
    CHECK_NEAR(m32.weights_B, 4 * P / 8, 1e-15);
    CHECK_NEAR(mixed.weights_B, 2 * P / 8, 1e-15);
    CHECK_NEAR(m32.comm_buffers_B, mixed.comm_buffers_B, 0);
}

/* The peak under recompute is the larger of two phases (docs/MODEL.md 2.4): the end of the
 * forward, with the head's activations, and a layer's backward, with its rebuilt working set
 * but the head's activations freed - never both. Llama-3-8B with a 1,000-token vocabulary,
 * whose head (4Th + 4TV) is smaller than a layer's working set. */
static void test_memory_phases(void)
{
    const double T = 4096, h = 4096, layer = 570949632.0;
    struct spec_model m = llama3_8b();
    m.vocab = 1000;
    const double head = 4 * T * h + 4 * T * (double)m.vocab, ws = layer - 2 * T * h;
    struct spec_job j = h100_job(m, 8);
    struct us_layout l = layout(1, 1, 8, 1, 1);
    l.recompute = US_RECOMPUTE_FULL;
    struct plan p;
    struct model_costs c;
    struct us_memory mem;
    CHECK(plan_init(&p, &j, &l));
    model_costs_compute(&j.model, &p.split, &c);
    CHECK_NEAR(c.head.act_B, head, 1e-15);
    plan_memory(&p, &j, &c, &mem);
    CHECK(ws > head);
    CHECK_NEAR(mem.activations_B, 32 * 2 * T * h + ws, 1e-15);
    CHECK_NEAR(plan_act_with_working_set(10.0, 3.0, 1.0), 12.0, 0);
    CHECK_NEAR(plan_act_with_working_set(10.0, 1.0, 3.0), 10.0, 0);
    /* Two stages: stage 0 has no head and adds the working set whole; the last stage (one
     * micro-batch in flight under 1F1B) has its head freed by its backward. */
    l = layout(1, 2, 4, 1, 1);
    l.recompute = US_RECOMPUTE_FULL;
    CHECK(plan_init(&p, &j, &l));
    model_costs_compute(&j.model, &p.split, &c);
    struct us_memory s0, s1;
    plan_memory_stage(&p, &j, &c, 0, &s0);
    plan_memory_stage(&p, &j, &c, 1, &s1);
    CHECK_NEAR(s0.activations_B, 2 * 16 * 2 * T * h + ws, 1e-15);
    CHECK_NEAR(s1.activations_B, 16 * 2 * T * h + ws, 1e-15);
}

/* The reserve (docs/MODEL.md 2.4): 5% of HBM for a caching allocator and the runtime's share;
 * none for XLA (MaxText), which assigns its buffers when it compiles, on a chip whose HBM
 * figure is already the runtime's bytes_limit; 5% again where the figure is the part's. */
static void test_memory_reserve(void)
{
    struct spec_job j = h100_job(llama3_8b(), 8);
    struct us_layout l = layout(1, 1, 8, 1, 1);
    struct plan p;
    struct model_costs c;
    struct us_memory mem;
    j.system.chip.hbm_runtime_limit = true;
    CHECK(plan_init(&p, &j, &l));
    model_costs_compute(&j.model, &p.split, &c);
    plan_memory(&p, &j, &c, &mem);
    CHECK_NEAR(mem.reserve_B, 4e9, 1e-15); /* megatron: PyTorch's caching allocator */
    double megatron_peak = mem.peak_B;
    j.train.framework = SPEC_FW_MAXTEXT;
    j.train.weight_dtype = SPEC_WEIGHT_MIXED; /* the same bytes per parameter as above */
    CHECK(plan_init(&p, &j, &l));
    plan_memory(&p, &j, &c, &mem);
    CHECK_NEAR(mem.reserve_B, 0, 0);
    CHECK_NEAR(mem.peak_B, megatron_peak - 4e9, 1e-15);
    j.system.chip.hbm_runtime_limit = false; /* the part's capacity: the runtime's share is in it */
    plan_memory(&p, &j, &c, &mem);
    CHECK_NEAR(mem.reserve_B, 4e9, 1e-15);
    CHECK(spec_framework_caching_allocator(SPEC_FW_MEGATRON) &&
          spec_framework_caching_allocator(SPEC_FW_TORCHTITAN) &&
          !spec_framework_caching_allocator(SPEC_FW_MAXTEXT));
}

/* plan_init_like after any earlier plan gives what plan_init gives - the plan's fields and,
 * for an invalid layout, the same reason - over micro-batches, sequence parallelism,
 * recompute and ZeRO stages that pass and fail (MoE without SP, batch and sequence
 * divisibility, interleaving's m % pp), after valid and invalid plans of the same or other
 * degrees. */
static void test_init_like(void)
{
    struct spec_model moe = mixtral_8x22b();
    moe.layers = 8;
    struct spec_job j = h100_job(moe, 16);
    j.train.global_batch = 24;
    j.train.seq_len = 4096;
    int compared = 0, invalid = 0, fast = 0;
    struct plan prev, got, want;
    memset(&prev, 0, sizeof prev);
    static const int tps[] = {1, 2}, pps[] = {2, 4}, vpps[] = {1, 2}, mbs[] = {1, 3, 5, 0};
    for (size_t a = 0; a < US_ARRAY_LEN(tps); a++)
        for (size_t b = 0; b < US_ARRAY_LEN(pps); b++)
            for (size_t c = 0; c < US_ARRAY_LEN(vpps); c++)
                for (size_t d = 0; d < US_ARRAY_LEN(mbs); d++)
                    for (int q = 0; q < 2 * 3 * 5; q++) {
                        struct us_layout l = layout(tps[a], pps[b], 16 / (tps[a] * pps[b]), 1, 1);
                        l.vpp = vpps[c];
                        l.schedule = vpps[c] > 1 ? US_SCHEDULE_INTERLEAVED : US_SCHEDULE_1F1B;
                        l.micro_batch = mbs[d];
                        l.sequence_parallel = q % 2;
                        l.recompute = (enum us_recompute)(q / 2 % 3);
                        l.zero = q / 6 - 1; /* -1 .. 3: one out of range */
                        bool ok_want = plan_init(&want, &j, &l);
                        fast += prev.valid && prev.lay.tp == l.tp && prev.lay.pp == l.pp &&
                                prev.lay.vpp == l.vpp;
                        bool ok_got = plan_init_like(&got, &prev, &j, &l);
                        CHECK(ok_got == ok_want && got.valid == want.valid);
                        if (ok_want)
                            CHECK(memcmp(&got, &want, offsetof(struct plan, reason)) == 0);
                        else
                            CHECK_STR(got.reason, want.reason);
                        invalid += !ok_want;
                        compared++;
                        prev = got;
                    }
    printf("plan_init_like: %d layouts, %d invalid, %d after a valid plan of the same degrees\n",
           compared, invalid, fast);
    CHECK(compared == 2 * 2 * 2 * 4 * 30 && invalid > 100 && fast > 100);
}

/* NeuronX Distributed Training shards the optimizer state at most (its one switch is
 * distributed_strategy.zero1): a neuron job refuses ZeRO-2/3, a Megatron job takes them, and
 * plan_init_like refuses them after a valid ZeRO-1 plan of the same degrees too (a search's
 * ZeRO siblings go through it). */
static void test_framework_zero(void)
{
    struct spec_job j = h100_job(llama3_8b(), 8);
    struct us_layout l = layout(1, 1, 8, 1, 1);
    struct plan p, q;
    j.train.framework = SPEC_FW_NEURON;
    CHECK(spec_framework_max_zero(SPEC_FW_NEURON) == 1);
    CHECK(spec_framework_max_zero(SPEC_FW_MEGATRON) == 3);
    CHECK(plan_init(&p, &j, &l) && p.valid); /* zero 1 */
    l.zero = 0;
    CHECK(plan_init(&p, &j, &l) && p.valid);
    l.zero = 3;
    expect_reason(&j, &l,
                  "zero=3 is not offered by the neuron framework (it shards the optimizer state "
                  "at most: zero 0..1)");
    CHECK(!plan_init_like(&q, &p, &j, &l) && !q.valid);
    l.zero = 2;
    expect_reason(&j, &l,
                  "zero=2 is not offered by the neuron framework (it shards the optimizer state "
                  "at most: zero 0..1)");
    j.train.framework = SPEC_FW_MEGATRON;
    CHECK(plan_init(&p, &j, &l) && p.valid);
    l.zero = 3;
    CHECK(plan_init(&p, &j, &l) && p.valid);
}

int main(void)
{
    test_validity();
    test_framework_zero();
    test_stages();
    test_default_splits();
    test_inflight();
    test_interleaved_uneven();
    test_memory_interleaved();
    test_memory_llama8b();
    test_memory_grad_reduce();
    test_memory_weight_dtype();
    test_memory_phases();
    test_memory_reserve();
    test_memory_pipeline();
    test_memory_moe();
    test_checkpoint();
    test_init_like();
    return test_summary("test_plan");
}
