/* Unit tests of model/: op FLOPs and bytes against hand-derived values for small shapes,
 * conservation of FLOPs, element-wise bytes and parameters across TP/CP/EP splits, the
 * published parameter totals, the Korthikanti et al. 2022 Table 2 activation closed forms
 * for the GPT-3 175B shape, collective sizes and the SC'21 eq. 3 MFU numerator.
 * The models are built by hand here (the presets in data/ belong to the catalog). */
#include <string.h>

#include "model/model.h"
#include "test.h"

static struct spec_model dense_model(int layers, int hidden, int heads, int kv_heads, int head_dim,
                                     int ffn, int64_t vocab, bool gated, bool tied)
{
    struct spec_model m;
    memset(&m, 0, sizeof m);
    strcpy(m.name, "hand");
    m.layers = layers;
    m.hidden = hidden;
    m.heads = heads;
    m.kv_heads = kv_heads;
    m.head_dim = head_dim;
    m.ffn_hidden = ffn;
    m.vocab = vocab;
    m.gated_mlp = gated;
    m.tied_embeddings = tied;
    return m;
}

static struct spec_model llama3_405b(void)
{
    /* shared/reference/hf-configs/llama-3.1-405b.json */
    return dense_model(126, 16384, 128, 8, 128, 53248, 128256, true, false);
}

static struct spec_model gpt3_175b(void)
{
    /* Brown et al. 2020 Table 2.1: 96 layers, d_model 12288, 96 heads of 128, ffn = 4h,
     * vocab 50257 (GPT-2 BPE); embeddings tied as in GPT-2. */
    return dense_model(96, 12288, 96, 96, 128, 4 * 12288, 50257, false, true);
}

static struct spec_model mixtral_8x22b(void)
{
    /* shared/reference/hf-configs/mixtral-8x22b.json */
    struct spec_model m = dense_model(56, 6144, 48, 8, 128, 16384, 32000, true, false);
    m.has_moe = true;
    m.moe.experts = 8;
    m.moe.top_k = 2;
    m.moe.expert_ffn_hidden = 16384;
    return m;
}

static struct spec_model deepseek_v3(void)
{
    /* shared/reference/hf-configs/deepseek-v3.json */
    struct spec_model m = dense_model(61, 7168, 128, 128, 0, 18432, 129280, true, false);
    m.has_moe = true;
    m.moe.experts = 256;
    m.moe.top_k = 8;
    m.moe.expert_ffn_hidden = 2048;
    m.moe.shared_experts = 1;
    m.moe.dense_layers = 3;
    m.has_mla = true;
    m.mla.q_lora_rank = 1536;
    m.mla.kv_lora_rank = 512;
    m.mla.qk_nope_head_dim = 128;
    m.mla.qk_rope_head_dim = 64;
    m.mla.v_head_dim = 128;
    m.mtp_layers = 1;
    return m;
}

static struct model_split split(int tp, int cp, int ep, bool sp, enum us_recompute rc, int b, int s)
{
    struct model_split x = {.tp = tp,
                            .cp = cp,
                            .ep = ep,
                            .sequence_parallel = sp,
                            .recompute = rc,
                            .micro_batch = b,
                            .seq_len = s,
                            .dtype = US_DTYPE_BF16};
    return x;
}

static const struct model_op *find_op(const struct model_layer *L, const char *name)
{
    for (int i = 0; i < L->nops; i++)
        if (strcmp(L->ops[i].name, name) == 0)
            return &L->ops[i];
    return NULL;
}

/* --- hand-derived small shape -------------------------------------------------------- */

static void test_small_dense(void)
{
    /* h=64, a=4, g=2, d=16, f=128 gated, V=100; b=2, s=8 -> 16 tokens. */
    struct spec_model m = dense_model(2, 64, 4, 2, 16, 128, 100, true, false);
    struct model_split s = split(1, 1, 1, false, US_RECOMPUTE_NONE, 2, 8);
    struct model_costs c;
    model_costs_compute(&m, &s, &c);
    const struct model_op *qkv = find_op(&c.dense, "qkv_proj");
    CHECK(qkv != NULL);
    if (qkv) {
        /* n = (a + 2g) d = 8 * 16 = 128; fwd = 2 * 16 * 128 * 64 */
        CHECK_NEAR(qkv->n, 128, 0);
        CHECK_NEAR(qkv->fwd_flop, 262144, 0);
        CHECK_NEAR(qkv->bwd_flop, 524288, 0);
        /* X 16x64, W 64x128, Y 16x128 at 2 B: 2048 + 16384 + 4096 */
        CHECK_NEAR(qkv->fwd_B, 22528, 0);
        /* dgrad: dY 4096 + W 16384 + dX 2048; wgrad: X 2048 + dY 4096 + dW fp32 r+w 65536 */
        CHECK_NEAR(qkv->bwd_B, 94208, 0);
    }
    const struct model_op *core = find_op(&c.dense, "attn_core");
    CHECK(core != NULL);
    if (core) {
        /* causal half: b s^2 a (dqk + dv) = 2 * 64 * 4 * 32 */
        CHECK_NEAR(core->fwd_flop, 16384, 0);
        CHECK_NEAR(core->bwd_flop, 40960, 0);
        /* marked for re-running only under selective recompute (test_recompute_modules) */
        CHECK(core->kind == MODEL_OP_ATTN && !core->recomputed_selective);
        /* Q 16*4*16*2 = 2048, K+V 16*2*32*2 = 2048, O 2048, LSE 16*4*4 = 256 */
        CHECK_NEAR(core->fwd_B, 6400, 0);
    }
    const struct model_op *fc1 = find_op(&c.dense, "mlp_fc1");
    CHECK(fc1 && fc1->count == 2 && fc1->n == 128);
    if (fc1)
        CHECK_NEAR(fc1->fwd_flop, 2.0 * 16 * 128 * 64 * 2, 0);
    const struct model_op *norm = find_op(&c.dense, "attn_norm");
    CHECK(norm && norm->fwd_flop == 0);
    if (norm)
        CHECK_NEAR(norm->fwd_B, 2.0 * 16 * 64 * 2, 0);
    /* params: 2 norms 128 + qkv 8192 + o 4096 + mlp 3*64*128 */
    CHECK_NEAR(c.dense.params, 36992, 0);
    CHECK_NEAR(c.dense.params_full, 36992, 0);
    CHECK_NEAR(c.dense.params_tp_replicated, 128, 0);
    /* layer forward = qkv + core + o + fc1 + fc2 */
    double fwd =
        262144 + 16384 + 2.0 * 16 * 64 * 64 + 2.0 * 16 * 128 * 64 * 2 + 2.0 * 16 * 64 * 128;
    CHECK_NEAR(c.dense.fwd_flop, fwd, 1e-15);
    CHECK_NEAR(c.dense.bwd_flop, 2 * (fwd - 16384) + 2.5 * 16384, 1e-15);
    CHECK_NEAR(c.dense.recompute_flop, 0, 0);
    /* model FLOPs: tokens * (6 * matmul params + 6 s a (dqk + dv)) */
    CHECK_NEAR(c.dense.model_flop, 16.0 * (6.0 * (8192 + 4096 + 24576) + 6.0 * 8 * 4 * 32), 1e-15);
    /* head: logits 2 * 16 * 100 * 64 forward, params norm + 100 * 64 */
    const struct model_op *lg = find_op(&c.head, "logits");
    CHECK(lg != NULL);
    if (lg)
        CHECK_NEAR(lg->fwd_flop, 204800, 0);
    CHECK_NEAR(c.head.params, 64 + 6400, 0);
    CHECK_NEAR(c.embed.params, 6400, 0);
    CHECK(c.n_dense == 2 && c.n_moe == 0 && c.n_mtp == 0);

    /* Selective recompute re-runs the core; full the whole layer forward. */
    s.recompute = US_RECOMPUTE_SELECTIVE;
    model_costs_compute(&m, &s, &c);
    CHECK_NEAR(c.dense.recompute_flop, 16384, 0);
    s.recompute = US_RECOMPUTE_FULL;
    model_costs_compute(&m, &s, &c);
    CHECK_NEAR(c.dense.recompute_flop, fwd, 1e-15);
    /* Full recompute keeps the layer input only: 2 * 16 * 64 */
    CHECK_NEAR(c.dense.act_B, 2048, 0);

    /* Without CP the core is one kernel; under CP one per ring step (Transformer Engine's
     * ring attention), its FLOPs split over the c chips. */
    CHECK(find_op(&c.dense, "attn_core")->kernels == 1);
    s = split(1, 2, 1, false, US_RECOMPUTE_NONE, 2, 8);
    model_costs_compute(&m, &s, &c);
    core = find_op(&c.dense, "attn_core");
    CHECK(core && core->kernels == 2);
    if (core)
        CHECK_NEAR(core->fwd_flop, 16384 / 2, 0);

    /* TP=2 with SP: qkv n = (2 + 2*1) * 16 = 64, k = 64, m = 16 (gathered). */
    s = split(2, 1, 1, true, US_RECOMPUTE_NONE, 2, 8);
    model_costs_compute(&m, &s, &c);
    qkv = find_op(&c.dense, "qkv_proj");
    CHECK(qkv && qkv->n == 64 && qkv->m == 16 && qkv->k == 64);
    norm = find_op(&c.dense, "attn_norm");
    if (norm)
        CHECK_NEAR(norm->fwd_B, 2.0 * 8 * 64 * 2, 0); /* 8 tokens per chip under SP */
}

static void test_small_moe(void)
{
    /* h=64, 8 experts top-2 of f_e=32, one shared, gated; b=1, s=16; ep=4, tp=2, SP. */
    struct spec_model m = dense_model(4, 64, 4, 4, 16, 128, 100, true, false);
    m.has_moe = true;
    m.moe.experts = 8;
    m.moe.top_k = 2;
    m.moe.expert_ffn_hidden = 32;
    m.moe.shared_experts = 1;
    m.moe.dense_layers = 1;
    struct model_split s = split(2, 1, 4, true, US_RECOMPUTE_NONE, 1, 16);
    struct model_costs c;
    model_costs_compute(&m, &s, &c);
    CHECK(c.n_dense == 1 && c.n_moe == 3);
    CHECK(!model_layer_is_moe(&m, 0) && model_layer_is_moe(&m, 1) && model_layer_is_moe(&m, 3));
    const struct model_op *fc1 = find_op(&c.moe, "expert_fc1");
    CHECK(fc1 != NULL);
    if (fc1) {
        /* EP group tokens 4 * 16 = 64, x top_k 2 / 8 experts = 16 rows per expert; 2 local
         * experts x (gate, up); n = 32 / tp 2 = 16. */
        CHECK_NEAR(fc1->m, 16, 0);
        CHECK_NEAR(fc1->count, 4, 0);
        CHECK_NEAR(fc1->n, 16, 0);
        CHECK_NEAR(fc1->fwd_flop, 2.0 * 16 * 16 * 64 * 4, 0);
    }
    const struct model_op *router = find_op(&c.moe, "router");
    CHECK(router && router->m == 8 && router->n == 8); /* 16 / tp tokens, 8 experts */
    /* EP all-to-all: 8 local tokens x top_k 2 x h 64 x 2 B */
    CHECK(c.moe.comm.ep_a2a_fwd == 2 && c.moe.comm.ep_a2a_bwd == 2);
    CHECK_NEAR(c.moe.comm.ep_B, 8.0 * 2 * 64 * 2, 0);
    /* TP with SP: attention AG + RS, shared AG + RS, routed AG + RS forward. */
    CHECK(c.moe.comm.tp_collectives_fwd == 6);
    CHECK_NEAR(c.moe.comm.tp_fwd_B, 4 * 16.0 * 64 * 2 + 2 * 32.0 * 64 * 2, 0);
    /* params per chip: expert part 2 local * 3 * 64 * 16 */
    CHECK_NEAR(c.moe.params_expert, 6144, 0);
    /* The received rows sorted by local expert and back (Megatron's Permutation 2 and
     * Unpermutation 2): R = 16 tokens x top_k 2 = 32 rows after the TP gather, each sort
     * reads and writes them (bf16) and the dispatch's their fp32 probabilities. */
    const struct model_op *sc = find_op(&c.moe, "moe_sort_chunks");
    CHECK(sc != NULL);
    if (sc) {
        CHECK_NEAR(sc->fwd_B, 4.0 * 32 * 64 * 2 + 2.0 * 32 * 4, 0);
        CHECK_NEAR(sc->bwd_B, sc->fwd_B, 0);
    }
    /* Unpermute: forward reads the 16 routed rows (8 SP-local tokens x 2) and their fp32
     * weights and writes 8 tokens; backward reads the gradient, writes the rows' gradients and
     * reads the expert outputs again for the weights' gradient. */
    const struct model_op *up = find_op(&c.moe, "moe_unpermute");
    CHECK(up && up->fwd_B == (16.0 * 64 + 8.0 * 64) * 2 + 16.0 * 4);
    CHECK(up && up->bwd_B == (2.0 * 16 * 64 + 8.0 * 64) * 2 + 2.0 * 16 * 4);
    /* Expert TP 1 (MoE parallel folding): whole experts, each rank's own SP-local tokens
     * (8 x top_k 2 = 16 rows over 2 local experts), no TP collective around the experts. */
    s.etp = 1;
    model_costs_compute(&m, &s, &c);
    const struct model_op *f1 = find_op(&c.moe, "expert_fc1");
    CHECK(f1 && f1->n == 32 && f1->m == 8 && f1->count == 4);
    CHECK(f1 && f1->grouped && f1->group_rows0 == 0.0);
    CHECK(c.moe.comm.tp_collectives_fwd == 4); /* attention and shared expert only */
    CHECK_NEAR(c.moe.params_expert, 2.0 * 3 * 64 * 32, 0);
    /* The flex dispatcher (DeepEP / HybridEP) sends a token once to each EP rank holding one
     * of its experts: 2 of 8 experts, 2 per rank over 4 ranks, reach 4 (1 - 6/8 * 5/7) = 1.857
     * ranks on average, against top_k 2 copies. No permute before the dispatch, no sort after:
     * one copy of the received rows into expert order and one back (expert TP 1 here: the
     * R = 16 rows are this rank's own). */
    s.ep_flex = true;
    model_costs_compute(&m, &s, &c);
    double d = 4.0 * (1.0 - 6.0 / 8.0 * 5.0 / 7.0), rr = 16.0 * d / 2.0;
    CHECK_NEAR(c.moe.comm.ep_B, rr * 64 * 2, 1e-12);
    CHECK(find_op(&c.moe, "moe_sort_chunks") == NULL);
    const struct model_op *pm = find_op(&c.moe, "moe_permute");
    CHECK(pm && fabs(pm->fwd_B - ((rr + 16.0) * 64 * 2 + 16.0 * 4)) <= 1e-9 * pm->fwd_B);
    up = find_op(&c.moe, "moe_unpermute");
    CHECK(up && fabs(up->bwd_B - ((2.0 * 16 + rr) * 64 * 2 + 2.0 * 16 * 4)) <= 1e-9 * up->bwd_B);
    /* The flex dispatcher's waits are not modelled; the alltoall dispatcher, dropless, waits
     * for its token counts once per forward (Megatron-Core's cuda_sync_point); padded to a
     * capacity factor it does not, and a dense layer never does. */
    CHECK(c.moe.host_syncs_fwd == 0);
    s.ep_flex = false;
    model_costs_compute(&m, &s, &c);
    CHECK(c.moe.host_syncs_fwd == 1 && c.dense.host_syncs_fwd == 0);
    m.moe.capacity_factor = 1.0;
    model_costs_compute(&m, &s, &c);
    CHECK(c.moe.host_syncs_fwd == 0);
    m.moe.capacity_factor = 0;
    model_costs_compute(&m, &s, &c);
    /* One local expert: nothing to sort. A grouped GEMM's row tile comes from the split. */
    s.ep = 8;
    s.gmm_tile_rows = 512;
    model_costs_compute(&m, &s, &c);
    CHECK(find_op(&c.moe, "moe_sort_chunks") == NULL);
    f1 = find_op(&c.moe, "expert_fc1");
    CHECK(f1 && f1->group_rows0 == 512.0 && find_op(&c.moe, "expert_fc2")->group_rows0 == 512.0);
    s.ep = 4;
    s.gmm_tile_rows = 0;
    s.etp = 0;
    model_costs_compute(&m, &s, &c);
    /* Load imbalance: the busiest EP rank gets 1.2 times the mean rows - its expert GEMMs,
     * activation and sort grow by 1.2 and so do the all-to-all bytes it receives; model
     * FLOPs (the MFU numerator) do not. With a capacity factor the padded capacity rules. */
    double f0 = fc1 ? fc1->fwd_flop : 0, a0 = c.moe.comm.ep_B, mf0 = c.moe.model_flop;
    double s0 = find_op(&c.moe, "moe_sort_chunks")->fwd_B;
    m.moe.load_imbalance = 1.2;
    model_costs_compute(&m, &s, &c);
    fc1 = find_op(&c.moe, "expert_fc1");
    CHECK(fc1 && fabs(fc1->fwd_flop - 1.2 * f0) <= 1e-9 * f0);
    CHECK_NEAR(c.moe.comm.ep_B, 1.2 * a0, 1e-15);
    CHECK_NEAR(find_op(&c.moe, "moe_sort_chunks")->fwd_B, 1.2 * s0, 1e-15);
    CHECK_NEAR(c.moe.model_flop, mf0, 1e-15);
    s.ep = 1; /* one EP rank: nothing to wait for */
    model_costs_compute(&m, &s, &c);
    double f1x = find_op(&c.moe, "expert_fc1")->fwd_flop;
    m.moe.load_imbalance = 0;
    model_costs_compute(&m, &s, &c);
    CHECK_NEAR(find_op(&c.moe, "expert_fc1")->fwd_flop, f1x, 1e-15);
    s.ep = 4;
    m.moe.load_imbalance = 1.2;
    m.moe.capacity_factor = 1.25;
    model_costs_compute(&m, &s, &c);
    CHECK(find_op(&c.moe, "expert_fc1") &&
          fabs(find_op(&c.moe, "expert_fc1")->fwd_flop - 1.25 * f0) <= 1e-9 * f0);
    m.moe.load_imbalance = 0;
    m.moe.capacity_factor = 0;
    model_costs_compute(&m, &s, &c);
    fc1 = find_op(&c.moe, "expert_fc1");
    /* MaxText's dense_matmul: with a capacity factor the tokens reach the experts through
     * an einsum with the S x E*C dispatch mask and come back through the combine mask. s 16,
     * top_k 2 of 8 experts, cf 1.25: C = ceil(16 * 2 / 8) * 1.25 = 5 rows per expert per
     * sequence, 2 * 16 * 40 * 64 FLOPs each way; the backward needs the dispatch's input
     * gradient only and both of the combine's. Without the flag, or dropless, neither. */
    CHECK(find_op(&c.moe, "moe_dispatch") == NULL);
    m.moe.capacity_factor = 1.25;
    s.moe_dense_matmul = true;
    model_costs_compute(&m, &s, &c);
    const struct model_op *dsp = find_op(&c.moe, "moe_dispatch");
    const struct model_op *cmb = find_op(&c.moe, "moe_combine");
    CHECK(dsp && cmb);
    if (dsp && cmb) {
        CHECK_NEAR(dsp->fwd_flop, 2.0 * 16 * 40 * 64, 0);
        CHECK_NEAR(dsp->bwd_flop, dsp->fwd_flop, 0);
        CHECK_NEAR(cmb->fwd_flop, dsp->fwd_flop, 0);
        CHECK_NEAR(cmb->bwd_flop, 2.0 * cmb->fwd_flop, 0);
        CHECK(dsp->m == 40 && dsp->k == 16 && cmb->m == 16 && cmb->k == 40);
    }
    m.moe.capacity_factor = 0;
    model_costs_compute(&m, &s, &c);
    CHECK(find_op(&c.moe, "moe_dispatch") == NULL);
    s.moe_dense_matmul = false;
    model_costs_compute(&m, &s, &c);
    fc1 = find_op(&c.moe, "expert_fc1");
    /* Capacity factor 1.25 scales the routed work. */
    double base = fc1 ? fc1->fwd_flop : 0;
    m.moe.capacity_factor = 1.25;
    model_costs_compute(&m, &s, &c);
    fc1 = find_op(&c.moe, "expert_fc1");
    if (fc1)
        CHECK_NEAR(fc1->fwd_flop, 1.25 * base, 1e-15);
}

/* --- conservation ---------------------------------------------------------------------- */

/* Element-wise bytes of a layer, but for the expert sort that expert parallelism itself adds
 * (moe_sort_chunks: work the split creates, like its collectives; checked in test_small_moe). */
static double mem_op_B(const struct model_layer *L)
{
    double x = 0;
    for (int i = 0; i < L->nops; i++)
        if (L->ops[i].kind == MODEL_OP_MEM && strcmp(L->ops[i].name, "moe_sort_chunks") != 0)
            x += L->ops[i].fwd_B + L->ops[i].bwd_B;
    return x;
}

static double norm_params(const struct model_layer *L, const struct spec_model *m)
{
    /* norm weights: 2h per layer, + latent norms for MLA */
    double x = 2.0 * m->hidden;
    if (m->has_mla)
        x += m->mla.q_lora_rank + m->mla.kv_lora_rank;
    (void)L;
    return x;
}

static void check_layer_conserved(const struct model_layer *L, const struct model_layer *U, int t,
                                  int c, int e, bool moe, const struct spec_model *m)
{
    /* t*c chips run one micro-batch through the layer; e such groups share the experts. */
    double chips = (double)t * c * e;
    CHECK_NEAR(chips * L->fwd_flop, e * U->fwd_flop, 1e-12);
    CHECK_NEAR(chips * L->bwd_flop, e * U->bwd_flop, 1e-12);
    CHECK_NEAR(chips * L->model_flop / (t * c), e * U->model_flop, 1e-12);
    CHECK_NEAR(chips * mem_op_B(L), e * mem_op_B(U), 1e-12);
    double rep = L->params_tp_replicated, ex = L->params_expert;
    double sum = t * (L->params - rep - ex) + rep + (moe ? (double)t * e * ex : 0.0);
    CHECK_NEAR(sum, U->params_full, 1e-12);
    CHECK_NEAR(L->params_full, U->params_full, 1e-12);
    /* GEMM weights + norm weights = the parameters held */
    double w = 0;
    for (int i = 0; i < L->nops; i++)
        if (L->ops[i].kind == MODEL_OP_GEMM)
            w += L->ops[i].k * L->ops[i].n * L->ops[i].count;
    CHECK_NEAR(w + norm_params(L, m), L->params, 1e-12);
}

static void test_conservation(void)
{
    /* GQA MoE with shared expert, and MLA MoE: kv_heads divisible by every tp tried. */
    struct spec_model gqa = dense_model(4, 256, 16, 8, 16, 512, 1000, true, false);
    gqa.has_moe = true;
    gqa.moe.experts = 16;
    gqa.moe.top_k = 4;
    gqa.moe.expert_ffn_hidden = 64;
    gqa.moe.shared_experts = 2;
    gqa.moe.dense_layers = 1;
    struct spec_model mla = deepseek_v3();
    mla.layers = 4;
    mla.moe.dense_layers = 1;
    const struct spec_model *models[] = {&gqa, &mla};
    const int tps[] = {1, 2, 4, 8}, cps[] = {1, 2, 4}, eps[] = {1, 2, 8};
    for (size_t mi = 0; mi < 2; mi++) {
        const struct spec_model *m = models[mi];
        struct model_costs u, c;
        struct model_split s0 = split(1, 1, 1, true, US_RECOMPUTE_NONE, 2, 512);
        model_costs_compute(m, &s0, &u);
        for (size_t i = 0; i < 4; i++)
            for (size_t j = 0; j < 3; j++)
                for (size_t k = 0; k < 3; k++) {
                    struct model_split s =
                        split(tps[i], cps[j], eps[k], true, US_RECOMPUTE_NONE, 2, 512);
                    model_costs_compute(m, &s, &c);
                    check_layer_conserved(&c.dense, &u.dense, tps[i], cps[j], eps[k], false, m);
                    check_layer_conserved(&c.moe, &u.moe, tps[i], cps[j], eps[k], true, m);
                    double chips = (double)tps[i] * cps[j];
                    CHECK_NEAR(chips * c.head.fwd_flop, u.head.fwd_flop, 1e-12);
                    CHECK_NEAR(tps[i] * (c.head.params - m->hidden) + m->hidden, u.head.params_full,
                               1e-12);
                    CHECK_NEAR(tps[i] * c.embed.params, u.embed.params_full, 1e-12);
                }
    }
}

static void test_replication(void)
{
    /* tp=8 > kv_heads=2: each rank keeps one KV head (Megatron replicates KV). */
    struct spec_model m = dense_model(2, 256, 16, 2, 16, 512, 1000, false, false);
    struct model_split s = split(8, 1, 1, true, US_RECOMPUTE_NONE, 1, 64);
    struct model_costs c;
    model_costs_compute(&m, &s, &c);
    const struct model_op *qkv = find_op(&c.dense, "qkv_proj");
    CHECK(qkv && qkv->n == (16.0 / 8 + 2.0) * 16);
    /* MLA without SP: the duplicated down-projections run on every token on every rank. */
    struct spec_model d = deepseek_v3();
    struct model_split s1 = split(1, 1, 1, false, US_RECOMPUTE_NONE, 1, 64);
    struct model_split s4 = split(4, 1, 1, false, US_RECOMPUTE_NONE, 1, 64);
    struct model_costs c1, c4;
    model_costs_compute(&d, &s1, &c1);
    model_costs_compute(&d, &s4, &c4);
    const struct model_op *a1 = find_op(&c1.dense, "q_down");
    const struct model_op *a4 = find_op(&c4.dense, "q_down");
    CHECK(a1 && a4);
    if (a1 && a4)
        CHECK_NEAR(a4->fwd_flop, a1->fwd_flop, 0);
    /* With SP they run on the T/t local tokens. */
    s4.sequence_parallel = true;
    model_costs_compute(&d, &s4, &c4);
    a4 = find_op(&c4.dense, "q_down");
    if (a1 && a4)
        CHECK_NEAR(4 * a4->fwd_flop, a1->fwd_flop, 1e-15);
}

/* --- parameters -------------------------------------------------------------------------- */

static void test_params(void)
{
    double tot, act;
    struct spec_model m = llama3_405b();
    model_params(&m, &tot, &act);
    /* 126 * (attn 570425344 + mlp 2617245696 + norms 32768) + 2 * 128256 * 16384 + 16384 */
    CHECK_NEAR(tot, 405853388800.0, 0);
    CHECK_NEAR(tot, 405.8e9, 0.005);
    CHECK_NEAR(act, tot, 0);

    m = gpt3_175b();
    model_params(&m, &tot, &act);
    CHECK_NEAR(tot, 174566105088.0, 0); /* tied; no biases, no learned positions */
    CHECK_NEAR(tot, 175e9, 0.005);

    m = mixtral_8x22b();
    model_params(&m, &tot, &act);
    CHECK_NEAR(tot, 140620634112.0, 0);
    CHECK_NEAR(tot, 141e9, 0.005);
    CHECK_NEAR(act, 39152031744.0, 0);
    CHECK_NEAR(act, 39e9, 0.005);

    m = deepseek_v3();
    model_params(&m, &tot, &act);
    /* 3 dense + 58 MoE layers + embeddings; the MTP module is outside the 671B, as in
     * DeepSeek-V3's report and model card. */
    CHECK_NEAR(tot, 671026404352.0, 0);
    CHECK_NEAR(tot, 671e9, 0.005);
    /* Activated: 37.55B counted exactly (embedding and head included). DeepSeek publishes
     * "37B"; the same count for DeepSeek-V2 gives 21.4B against its published "21B", so
     * the published figure is read as truncated. Held to 1.5%, not 0.5%. */
    CHECK_NEAR(act, 37552282624.0, 0);
    CHECK_NEAR(act, 37e9, 0.015);
    /* MTP: 2 norms + eh_proj 2h^2 + one MoE layer + the shared head's norm. With its
     * stored copies of embedding and head the checkpoint holds 684.5B ("685B"). */
    double mtp = model_mtp_params(&m);
    CHECK_NEAR(mtp, 11610067968.0, 0);
    CHECK_NEAR(tot + mtp + 2.0 * 129280 * 7168, 685e9, 0.005);
    m.mtp_layers = 0;
    CHECK_NEAR(model_mtp_params(&m), 0, 0);
}

/* --- MFU numerator ---------------------------------------------------------------------- */

static void test_model_flop(void)
{
    /* Narayanan et al. SC'21 eq. 3: F = 96 B s l h^2 (1 + s/6h + V/16lh) per iteration with
     * full recompute, i.e. 4 passes of each layer (72 + 24) and 3 of the logits (6BshV).
     * Without the recompute pass: 72 B s l h^2 (1 + s/6h) + 6 B s h V. */
    struct spec_model m = dense_model(24, 2304, 24, 24, 96, 9216, 51200, false, false);
    double l = 24, h = 2304, s = 2048, V = 51200;
    double want = 72.0 * l * h * h * (1.0 + s / (6.0 * h)) + 6.0 * h * V;
    CHECK_NEAR(model_flop_per_token(&m, 2048), want, 1e-12);
    CHECK_NEAR(want, 11239686144.0, 1e-12);
    double eq3 = 96.0 * l * h * h * (1.0 + s / (6.0 * h) + V / (16.0 * l * h));
    CHECK_NEAR(model_flop_per_token(&m, 2048) + 24.0 * l * h * h * (1.0 + s / (6.0 * h)), eq3,
               1e-12);
    /* Per micro-batch model FLOPs of the layers and head add up to the same. */
    struct model_split sp = split(8, 1, 1, true, US_RECOMPUTE_FULL, 1, 2048);
    struct model_costs c;
    model_costs_compute(&m, &sp, &c);
    CHECK_NEAR((c.n_dense * c.dense.model_flop + c.head.model_flop) / 2048, want, 1e-12);
    /* MoE: 6 x active matmul params (top_k + shared experts, router). */
    struct spec_model x = mixtral_8x22b();
    double per_layer =
        6144.0 * (48 + 16) * 128 + 48.0 * 128 * 6144 + 6144.0 * 8 + 2.0 * 3 * 6144 * 16384;
    double mx = 56.0 * (6.0 * per_layer + 6.0 * 4096 * 48 * 256) + 6.0 * 6144 * 32000;
    CHECK_NEAR(model_flop_per_token(&x, 4096), mx, 1e-12);
}

/* --- activations: Korthikanti et al. 2022, Table 2 ---------------------------------------- */

static void test_korthikanti(void)
{
    struct spec_model m = gpt3_175b();
    const double s = 2048, b = 1, h = 12288, a = 96, t = 8;
    const double sbh = s * b * h;
    struct model_split x = split(8, 1, 1, false, US_RECOMPUTE_NONE, 1, 2048);
    /* tensor parallel, no SP: sbh (10 + 24/t + 5as/(ht)) */
    CHECK_NEAR(model_layer_act_B(&m, &x, false, false), sbh * (10 + 24 / t + 5 * a * s / (h * t)),
               1e-15);
    CHECK_NEAR(model_layer_act_B(&m, &x, false, false), 578813952.0, 0);
    /* TP + SP: sbh/t (34 + 5as/h) */
    x.sequence_parallel = true;
    CHECK_NEAR(model_layer_act_B(&m, &x, false, false), sbh / t * (34 + 5 * a * s / h), 1e-15);
    CHECK_NEAR(model_layer_act_B(&m, &x, false, false), 358612992.0, 0);
    /* TP + SP + selective: 34 sbh / t */
    x.recompute = US_RECOMPUTE_SELECTIVE;
    CHECK_NEAR(model_layer_act_B(&m, &x, false, false), 34 * sbh / t, 1e-15);
    /* TP + selective: sbh (10 + 24/t) */
    x.sequence_parallel = false;
    CHECK_NEAR(model_layer_act_B(&m, &x, false, false), sbh * (10 + 24 / t), 1e-15);
    /* full recompute: 2 sbh, and 2 sbh / t with SP */
    x.recompute = US_RECOMPUTE_FULL;
    CHECK_NEAR(model_layer_act_B(&m, &x, false, false), 2 * sbh, 1e-15);
    x.sequence_parallel = true;
    CHECK_NEAR(model_layer_act_B(&m, &x, false, false), 2 * sbh / t, 1e-15);
    /* no parallelism: sbh (34 + 5as/h) */
    x = split(1, 1, 1, false, US_RECOMPUTE_NONE, 1, 2048);
    CHECK_NEAR(model_layer_act_B(&m, &x, false, false), sbh * (34 + 5 * a * s / h), 1e-15);
    /* Flash attention: the 5as^2b term becomes the fp32 log-sum-exp, 4 a s b. Korthikanti's
     * GPT-3 trains with dropout 0.1, so its two 1-byte masks stay. */
    m.hidden_dropout = 0.1;
    x = split(8, 1, 1, true, US_RECOMPUTE_NONE, 1, 2048);
    CHECK_NEAR(model_layer_act_B(&m, &x, false, true), 34 * sbh / t + 4 * a * s * b / t, 1e-15);
    struct model_costs c;
    model_costs_compute(&m, &x, &c);
    CHECK_NEAR(c.dense.act_B, 34 * sbh / t + 4 * a * s * b / t, 1e-15);
    CHECK_NEAR(c.dense.act_full_B, c.dense.act_B, 0);
    CHECK_NEAR(c.embed.act_B, sbh / t, 0); /* the embedding's mask */
    /* Without dropout (NeMo's GPTConfig175B sets hidden_dropout 0): no masks, 32 sbh/t; the
     * paper's accounting (flash = false) keeps them whatever the model says. */
    m.hidden_dropout = 0.0;
    CHECK_NEAR(model_layer_act_B(&m, &x, false, true), 32 * sbh / t + 4 * a * s * b / t, 1e-15);
    x.recompute = US_RECOMPUTE_SELECTIVE;
    CHECK_NEAR(model_layer_act_B(&m, &x, false, false), 34 * sbh / t, 1e-15);
    x.recompute = US_RECOMPUTE_NONE;
    model_costs_compute(&m, &x, &c);
    CHECK_NEAR(c.embed.act_B, 0, 0);
    /* the residual adds write and read no mask either: 3 and 2 tensors of 2 bytes */
    const struct model_op *res = find_op(&c.dense, "mlp_residual");
    CHECK(res != NULL);
    if (res)
        CHECK_NEAR(res->fwd_B + res->bwd_B, 5 * 2 * sbh / t, 0);
    /* Head: 4 sbh/t (1 + V/h) with fp32 logits (Korthikanti s4.3). */
    CHECK_NEAR(c.head.act_B, 4 * sbh / t * (1 + 50257.0 / h), 1e-15);
}

static void test_act_extensions(void)
{
    /* Llama-3-8B-like layer, tp=2 SP, cp=2, b=1, s=4096: T = 2048 tokens per chip.
     * attention: norm in + proj in 2*(2 T h)/t... computed term by term below. */
    struct spec_model m = dense_model(32, 4096, 32, 8, 128, 14336, 128256, true, false);
    struct model_split x = split(2, 2, 1, true, US_RECOMPUTE_NONE, 1, 4096);
    const double T = 2048, Tn = 1024, h = 4096, f = 14336;
    double attn = 2 * Tn * h * 2                        /* norm in, qkv in */
                  + 2 * T * (16 * 128 + 4 * 128 * 2)    /* Q (16 heads), K and V (4 heads) */
                  + 4 * T * 16                          /* LSE */
                  + 2 * T * 16 * 128;                   /* o_proj input */
    double mlp = 2 * Tn * h * 2                         /* norm in, fc1 in (no dropout) */
                 + 2 * T * (f / 2) * 2 + 2 * T * f / 2; /* gate+up outputs, act output */
    CHECK_NEAR(model_layer_act_B(&m, &x, false, true), attn + mlp, 1e-15);
    x.recompute = US_RECOMPUTE_SELECTIVE;
    CHECK_NEAR(model_layer_act_B(&m, &x, false, true), attn + mlp - 4 * T * 16, 1e-15);
    /* MoE (Mixtral-like): rows R = T*top_k routed, expert activations split by tp. */
    struct spec_model x8 = mixtral_8x22b();
    struct model_split y = split(2, 1, 2, true, US_RECOMPUTE_NONE, 1, 1024);
    const double T2 = 1024, Tn2 = 512, h2 = 6144, R = T2 * 2, Rl = Tn2 * 2, fe = 16384;
    double moe_mlp = 2 * Tn2 * h2 * 2      /* norm in, router in (no dropout) */
                     + 4 * Tn2 * 8         /* router probs fp32 */
                     + 2 * R * h2          /* expert input (gathered) */
                     + 2 * R * fe / 2 * 3; /* gate, up, act out */
    double attn2 =
        2 * Tn2 * h2 * 2 + 2 * T2 * (24 * 128 + 4 * 128 * 2) + 4 * T2 * 24 + 2 * T2 * 24 * 128;
    /* the router probabilities scale the experts' activation (Megatron-Core >= 0.13): the
     * combine keeps nothing; scaled at the combine, it keeps the expert outputs it receives
     * back, 2 Rl h */
    CHECK(!y.moe_probs_combine);
    CHECK_NEAR(model_layer_act_B(&x8, &y, true, true), attn2 + moe_mlp, 1e-15);
    y.moe_probs_combine = true;
    CHECK_NEAR(model_layer_act_B(&x8, &y, true, true), attn2 + moe_mlp + 2 * Rl * h2, 1e-15);
    /* with dropout, three masks of Tn h bytes (attention, MLP, and none in the router) */
    x8.hidden_dropout = 0.1;
    CHECK_NEAR(model_layer_act_B(&x8, &y, true, true), attn2 + moe_mlp + 2 * Rl * h2 + 2 * Tn2 * h2,
               1e-15);
    x8.hidden_dropout = 0;
    /* full recompute keeping mlpwo (MaxText): the routed experts' fc2 output is a residual only
     * where the combine applies the router probabilities to it (2 Rl h beside the layer
     * input); the shared experts' output goes into the residual add alone (docs/MODEL.md 1.7) */
    y.recompute = US_RECOMPUTE_FULL;
    y.rc_keep = SPEC_KEEP_MLPWO;
    CHECK_NEAR(model_layer_act_B(&x8, &y, true, true), 2 * Tn2 * h2 + 2 * Rl * h2, 1e-15);
    y.moe_probs_combine = false;
    CHECK_NEAR(model_layer_act_B(&x8, &y, true, true), 2 * Tn2 * h2, 1e-15);
}

/* fp8 (docs/MODEL.md 1.6): each linear layer keeps its input as Transformer Engine's fp8
 * cast (1 byte) for the weight gradient; the norm inputs, Q, K, V, the flash-attention
 * output (bf16, beside the output projection's own fp8 cast), the log-sum-exp and the
 * SwiGLU inputs stay as they were. Llama-3-8B-like, tp 2 with SP, s 4096: T 4096, Tn 2048. */
static void test_act_fp8(void)
{
    struct spec_model m = dense_model(32, 4096, 32, 8, 128, 14336, 128256, true, false);
    struct model_split x = split(2, 1, 1, true, US_RECOMPUTE_NONE, 1, 4096);
    const double T = 4096, Tn = 2048, h = 4096, f = 14336;
    double bf16 = 2 * Tn * h * 2 + 2 * T * (16 * 128 + 4 * 128 * 2) + 4 * T * 16 +
                  2 * T * 16 * 128 + 2 * Tn * h * 2 + 2 * T * (f / 2) * 2 + 2 * T * f / 2;
    CHECK_NEAR(model_layer_act_B(&m, &x, false, true), bf16, 1e-15);
    x.dtype = US_DTYPE_FP8;
    double attn = 2 * Tn * h + 1 * Tn * h            /* norm in bf16, qkv in fp8 */
                  + 2 * T * (16 * 128 + 4 * 128 * 2) /* Q K V bf16 */
                  + 4 * T * 16                       /* LSE */
                  + (2 + 1) * T * 16 * 128;          /* output: bf16 + o_proj's fp8 cast */
    double mlp = 2 * Tn * h + 1 * Tn * h             /* norm in, fc1 in fp8 */
                 + 2 * T * (f / 2) * 2               /* gate, up (SwiGLU input) bf16 */
                 + 1 * T * f / 2;                    /* fc2 in fp8 */
    CHECK_NEAR(model_layer_act_B(&m, &x, false, true), attn + mlp, 1e-15);
    CHECK(attn + mlp < 0.87 * bf16); /* 13.2% less for this shape */
    /* the paper's accounting is the same for every dtype */
    CHECK_NEAR(model_layer_act_B(&m, &x, false, false),
               model_layer_act_B(&m,
                                 &(struct model_split){.tp = 2,
                                                       .cp = 1,
                                                       .ep = 1,
                                                       .sequence_parallel = true,
                                                       .micro_batch = 1,
                                                       .seq_len = 4096,
                                                       .dtype = US_DTYPE_BF16},
                                 false, false),
               0);
}

/* --- collectives ------------------------------------------------------------------------- */

static void test_comm(void)
{
    struct spec_model m = gpt3_175b();
    struct model_split x = split(8, 1, 1, true, US_RECOMPUTE_NONE, 1, 2048);
    struct model_costs c;
    model_costs_compute(&m, &x, &c);
    const double sbh2 = 2048.0 * 12288 * 2;
    /* SP: AG + RS per block forward; backward RS + AG per block plus the re-gather of each
     * column-parallel input (Korthikanti s4.2.2). */
    CHECK(c.dense.comm.tp_collectives_fwd == 4);
    CHECK(c.dense.comm.tp_collectives_bwd == 6);
    CHECK_NEAR(c.dense.comm.tp_B, sbh2, 0);
    CHECK_NEAR(c.dense.comm.tp_fwd_B, 4 * sbh2, 0);
    CHECK(c.dense.comm.cp_B == 0 && c.dense.comm.ep_a2a_fwd == 0);
    /* no SP: two all-reduces each way */
    x.sequence_parallel = false;
    model_costs_compute(&m, &x, &c);
    CHECK(c.dense.comm.tp_collectives_fwd == 2 && c.dense.comm.tp_collectives_bwd == 2);
    CHECK_NEAR(c.dense.comm.tp_B, sbh2, 0);
    /* one pass each: under full recompute the engines replay the forward's collectives */
    x.sequence_parallel = true;
    x.recompute = US_RECOMPUTE_FULL;
    model_costs_compute(&m, &x, &c);
    CHECK(c.dense.comm.tp_collectives_fwd == 4 && c.dense.comm.tp_collectives_bwd == 6);
    /* tp = 1: nothing */
    x = split(1, 1, 1, true, US_RECOMPUTE_NONE, 1, 2048);
    model_costs_compute(&m, &x, &c);
    CHECK(c.dense.comm.tp_collectives_fwd == 0 && c.dense.comm.tp_B == 0);
    /* CP=4, tp=2: each chip's K/V chunk (b s/c tokens x 48 heads x 256 x 2 B) goes 3 hops. */
    x = split(2, 4, 1, true, US_RECOMPUTE_NONE, 1, 2048);
    model_costs_compute(&m, &x, &c);
    double chunk = 512.0 * 48 * 256 * 2;
    CHECK_NEAR(c.dense.comm.cp_B, 3 * chunk, 0);
    CHECK_NEAR(c.dense.comm.cp_bwd_B, 6 * chunk, 0);
    /* MLA with SP gathers the latents: q_lora and kv_lora + rope, not h. */
    struct spec_model d = deepseek_v3();
    x = split(4, 1, 1, true, US_RECOMPUTE_NONE, 1, 1024);
    model_costs_compute(&d, &x, &c);
    CHECK(c.dense.comm.tp_collectives_fwd == 5);
    CHECK_NEAR(c.dense.comm.tp_fwd_B, 1024.0 * 2 * (1536 + 576 + 7168 * 3), 0);
}

/* The small plain-MLP model of the fp8 tests (h 64, f 256, V 100) on 16 tokens, in dtype. */
static void small_costs(enum us_dtype dt, struct model_costs *c)
{
    struct spec_model m = dense_model(2, 64, 4, 4, 16, 256, 100, false, false);
    struct model_split x = split(1, 1, 1, false, US_RECOMPUTE_NONE, 1, 16);
    x.dtype = dt;
    model_costs_compute(&m, &x, c);
}

static void test_fp8_bytes(void)
{
    struct model_costs c;
    small_costs(US_DTYPE_FP8, &c);
    const struct model_op *fc1 = find_op(&c.dense, "mlp_fc1");
    /* X 16x64 and W 64x256 in fp8 (1 B), Y 16x256 in bf16 */
    if (fc1)
        CHECK_NEAR(fc1->fwd_B, 16.0 * 64 + 64.0 * 256 + 16.0 * 256 * 2, 0);
    CHECK(model_gemm_elem_B(US_DTYPE_FP8) == 1.0 && model_act_elem_B(US_DTYPE_FP8) == 2.0);
    CHECK(model_grad_elem_B(US_DTYPE_BF16) == 4.0 && model_grad_elem_B(US_DTYPE_FP16) == 2.0);
}

/* fp8 recipes: one cast op per layer over the low-precision GEMMs' X (forward) and dY
 * (backward), 2 B read + 2 x 1 B written per element; the logits GEMM stays bf16 (2 B
 * operands, no cast); bf16 training casts nothing. */
static void test_fp8_casts(void)
{
    struct model_costs c;
    small_costs(US_DTYPE_FP8, &c);
    const struct model_op *cast = find_op(&c.dense, "fp8_cast");
    CHECK(cast != NULL && cast->kind == MODEL_OP_MEM);
    /* X: qkv 16x64, o_proj 16x64, fc1 16x64, fc2 16x256; dY: 16x192, 16x64, 16x256, 16x64 */
    if (cast) {
        CHECK_NEAR(cast->fwd_B, 16.0 * (64 + 64 + 64 + 256) * 4.0, 0);
        CHECK_NEAR(cast->bwd_B, 16.0 * (192 + 64 + 256 + 64) * 4.0, 0);
    }
    const struct model_op *lg = find_op(&c.head, "logits");
    CHECK(lg && lg->high_precision);
    if (lg) /* X 16x64, W 64x100 at 2 B; Y 16x100 at 2 B */
        CHECK_NEAR(lg->fwd_B, (16.0 * 64 + 64.0 * 100 + 16.0 * 100) * 2.0, 0);
    CHECK(find_op(&c.head, "fp8_cast") == NULL);
    small_costs(US_DTYPE_BF16, &c);
    CHECK(find_op(&c.dense, "fp8_cast") == NULL);
    lg = find_op(&c.head, "logits");
    CHECK(lg && lg->high_precision); /* marked, but bf16 is its dtype anyway */
}

/* MaxText's qwix quantizes each weight inside every forward call: one memory-bound op reads
 * the bf16 weights and writes their fp8 copies (weights qkv 64x192, o 64x64, fc1 64x256, fc2
 * 256x64 = 49,152 at 2 + 1 B), on each device of the chip; nothing in the backward, which
 * reuses the quantized residual; re-run with the forward under full recompute. Transformer
 * Engine (the default) caches them per step: no op. bf16: none. */
static void test_fp8_weight_casts(void)
{
    struct spec_model m = dense_model(2, 64, 4, 4, 16, 256, 100, false, false);
    struct model_split x = split(1, 1, 1, false, US_RECOMPUTE_FULL, 1, 16);
    struct model_costs c;
    x.dtype = US_DTYPE_FP8;
    model_costs_compute(&m, &x, &c);
    CHECK(find_op(&c.dense, "fp8_weight_cast") == NULL);
    x.weight_cast_per_call = true;
    model_costs_compute(&m, &x, &c);
    const struct model_op *wc = find_op(&c.dense, "fp8_weight_cast");
    CHECK(wc != NULL && wc->kind == MODEL_OP_MEM && !wc->kept);
    if (wc) {
        CHECK_NEAR(wc->fwd_B, 49152.0 * 3.0, 0);
        CHECK(wc->bwd_B == 0.0);
    }
    x.devices = 2;
    model_costs_compute(&m, &x, &c);
    wc = find_op(&c.dense, "fp8_weight_cast");
    CHECK(wc && wc->fwd_B == 2.0 * 49152.0 * 3.0);
    CHECK(find_op(&c.head, "fp8_weight_cast") == NULL); /* the logits stay bf16 */
    x.dtype = US_DTYPE_BF16;
    model_costs_compute(&m, &x, &c);
    CHECK(find_op(&c.dense, "fp8_weight_cast") == NULL);
}

/* The unfused attention of 2021-22 Megatron: two batched GEMMs over the full s x s scores
 * (no causal skip: 2 x the flash core's FLOPs), softmax and dropout priced by bytes, all
 * re-run by selective recompute, and the Korthikanti activation accounting. */
static void test_unfused_attention(void)
{
    struct spec_model m = dense_model(2, 64, 4, 4, 16, 256, 100, false, false);
    m.hidden_dropout = 0.1;
    struct model_split x = split(1, 1, 1, false, US_RECOMPUTE_SELECTIVE, 2, 8);
    struct model_costs flash, unf;
    model_costs_compute(&m, &x, &flash);
    x.unfused_attention = true;
    model_costs_compute(&m, &x, &unf);
    CHECK(find_op(&unf.dense, "attn_core") == NULL);
    const struct model_op *qk = find_op(&unf.dense, "attn_scores");
    const struct model_op *pv = find_op(&unf.dense, "attn_context");
    const struct model_op *sm = find_op(&unf.dense, "attn_softmax");
    const struct model_op *dr = find_op(&unf.dense, "attn_dropout");
    CHECK(qk && pv && sm && dr);
    if (!(qk && pv && sm && dr))
        return;
    /* scores: b a s s dqk x 2 = 2*4*8*8*16*2; context the same with dv */
    CHECK_NEAR(qk->fwd_flop, 2.0 * 4 * 8 * 8 * 16 * 2, 0);
    CHECK_NEAR(qk->fwd_flop + pv->fwd_flop, 2.0 * find_op(&flash.dense, "attn_core")->fwd_flop, 0);
    CHECK(qk->kind == MODEL_OP_GEMM && qk->recomputed_selective && pv->recomputed_selective);
    /* softmax: 2*4*8*8 = 512 score elements, 2 B read + 2 B written forward */
    CHECK_NEAR(sm->fwd_B, 512.0 * 4.0, 0);
    CHECK_NEAR(dr->fwd_B, 512.0 * 5.0, 0);
    CHECK(sm->recomputed_selective && dr->recomputed_selective);
    CHECK_NEAR(unf.dense.recompute_flop, qk->fwd_flop + pv->fwd_flop, 0);
    CHECK_NEAR(unf.dense.act_B, model_layer_act_B(&m, &x, false, false), 0);
    CHECK(unf.dense.model_flop == flash.dense.model_flop); /* MFU counts the same work */
}

static void test_mtp(void)
{
    struct spec_model d = deepseek_v3();
    struct model_split x = split(1, 1, 1, false, US_RECOMPUTE_NONE, 1, 4096);
    struct model_costs c;
    model_costs_compute(&d, &x, &c);
    CHECK(c.n_mtp == 1);
    CHECK(c.mtp.nops <= MODEL_MAX_OPS && c.mtp.nops == 27);
    CHECK(c.moe.nops == 22);
    CHECK_NEAR(c.mtp.params_full, 11610067968.0, 0);
    /* its model FLOPs: the MoE layer's plus eh_proj and the logits */
    CHECK_NEAR(c.mtp.model_flop,
               c.moe.model_flop + 4096.0 * 6 * (2.0 * 7168 * 7168 + 7168.0 * 129280), 1e-12);
}

/* Selective recompute by module (Megatron-Core recompute_modules): each drops what its
 * module makes inside itself and keeps the module's input; the re-run FLOPs are the
 * module's forward. GPT-3 175B shape, tp 8 with SP, flash, no dropout: the no-recompute
 * layer keeps 32 sbh/t + 4asb/t (test_korthikanti), made of norm input 2, projection input
 * 2, Q K V 6, output-projection input 2, MLP norm input 2, fc1 input 2, GeLU input 8, fc2
 * input 8 (sbh/t each) and the core's log-sum-exp 4asb/t. */
static void test_recompute_modules(void)
{
    struct spec_model m = gpt3_175b();
    const double s = 2048, b = 1, h = 12288, a = 96, t = 8, sbh = s * b * h;
    const double lse = 4 * a * s * b / t;
    struct model_split x = split(8, 1, 1, true, US_RECOMPUTE_SELECTIVE, 1, 2048);
    /* the default module: the core alone */
    CHECK_NEAR(model_layer_act_B(&m, &x, false, true), 32 * sbh / t, 1e-15);
    x.rc_modules = SPEC_RC_CORE_ATTN;
    CHECK_NEAR(model_layer_act_B(&m, &x, false, true), 32 * sbh / t, 1e-15);
    x.rc_modules = SPEC_RC_LAYERNORM; /* the two norm outputs go; the core stays */
    CHECK_NEAR(model_layer_act_B(&m, &x, false, true), 28 * sbh / t + lse, 1e-15);
    x.rc_modules = SPEC_RC_MLP; /* GeLU and fc2 inputs go; fc1's input is the checkpoint's */
    CHECK_NEAR(model_layer_act_B(&m, &x, false, true), 16 * sbh / t + lse, 1e-15);
    x.rc_modules = SPEC_RC_MLP | SPEC_RC_LAYERNORM; /* the MLP checkpoint keeps its input */
    CHECK_NEAR(model_layer_act_B(&m, &x, false, true), 14 * sbh / t + lse, 1e-15);
    x.rc_modules = SPEC_RC_MLP | SPEC_RC_CORE_ATTN;
    CHECK_NEAR(model_layer_act_B(&m, &x, false, true), 16 * sbh / t, 1e-15);
    /* the re-run forward is the module's ops and nothing else */
    struct model_costs c;
    model_costs_compute(&m, &x, &c);
    double mlp = 0, core = 0;
    for (int i = 0; i < c.dense.nops; i++) {
        const struct model_op *o = &c.dense.ops[i];
        bool in_mlp = !strncmp(o->name, "mlp_fc", 6) || !strcmp(o->name, "mlp_act");
        bool in_core = !strcmp(o->name, "attn_core");
        CHECK(o->recomputed_selective == (in_mlp || in_core));
        mlp += in_mlp ? o->fwd_flop : 0.0;
        core += in_core ? o->fwd_flop : 0.0;
    }
    CHECK(mlp > 0 && core > 0);
    CHECK_NEAR(c.dense.recompute_flop, mlp + core, 1e-12);

    /* MoE: the moe module re-runs dispatch and combine in the backward; moe_act drops the
     * experts' fc2 input; mla_up_proj drops MLA's Q, K and V. */
    struct spec_model d = deepseek_v3();
    struct model_split y = split(1, 1, 8, false, US_RECOMPUTE_SELECTIVE, 1, 4096);
    struct model_costs c0, c1;
    model_costs_compute(&d, &y, &c0);
    y.rc_modules = SPEC_RC_MOE;
    model_costs_compute(&d, &y, &c1);
    CHECK(c0.moe.comm.ep_a2a_bwd == 2 && c1.moe.comm.ep_a2a_bwd == 4);
    CHECK(c1.moe.act_B < c0.moe.act_B && c1.dense.act_B > c0.dense.act_B);
    y.rc_modules = SPEC_RC_CORE_ATTN | SPEC_RC_MOE_ACT;
    model_costs_compute(&d, &y, &c1);
    double T = 4096, fe = 2048, R = T * 8; /* routed rows on the chip, bf16 */
    CHECK_NEAR(c0.moe.act_B - c1.moe.act_B, 2 * R * fe, 1e-12);
    CHECK(c1.moe.comm.ep_a2a_bwd == 2);
    y.rc_modules = SPEC_RC_CORE_ATTN | SPEC_RC_MLA_UP_PROJ;
    model_costs_compute(&d, &y, &c1);
    double qkv = 2 * T * 128 * (192 + 192 + 128); /* a (dqk + dqk + dv) per token, bf16 */
    CHECK_NEAR(c0.dense.act_B - c1.dense.act_B, qkv, 1e-12);

    /* recompute_keep (MaxText's save_only_these_names): full recompute keeps the layer input
     * and the named tensors, and does not re-run the ops that make them. GPT-3 175B, t 8 with
     * SP: input 2 sbh/t, Q/K/V 6 sbh/t, the attention output 2 sbh/t. */
    x = split(8, 1, 1, true, US_RECOMPUTE_FULL, 1, 2048);
    CHECK_NEAR(model_layer_act_B(&m, &x, false, true), 2 * sbh / t, 1e-15);
    x.rc_keep = SPEC_KEEP_QKV_PROJ | SPEC_KEEP_CONTEXT;
    CHECK_NEAR(model_layer_act_B(&m, &x, false, true), 10 * sbh / t, 1e-15);
    struct model_costs ck, cf;
    model_costs_compute(&m, &x, &ck);
    x.rc_keep = 0;
    model_costs_compute(&m, &x, &cf);
    double kept = 0;
    for (int i = 0; i < ck.dense.nops; i++) {
        const struct model_op *o = &ck.dense.ops[i];
        bool k = !strcmp(o->name, "qkv_proj") || !strcmp(o->name, "attn_core");
        CHECK(o->kept == k && !cf.dense.ops[i].kept);
        kept += k ? o->fwd_flop : 0.0;
    }
    CHECK(kept > 0);
    CHECK_NEAR(cf.dense.recompute_flop - ck.dense.recompute_flop, kept, 1e-12);
    /* out_proj and mlpwo name tensors that go only into the residual add, whose backward
     * reads no primal value: JAX saves neither (docs/MODEL.md 1.7), so the layer keeps its
     * input alone, and the two projections stay out of the re-run forward */
    x.rc_keep = SPEC_KEEP_OUT_PROJ | SPEC_KEEP_MLPWO;
    CHECK_NEAR(model_layer_act_B(&m, &x, false, true), 2 * sbh / t, 1e-15);
    model_costs_compute(&m, &x, &ck);
    kept = 0;
    for (int i = 0; i < ck.dense.nops; i++) {
        const struct model_op *o = &ck.dense.ops[i];
        bool k = !strcmp(o->name, "o_proj") || !strcmp(o->name, "mlp_fc2");
        CHECK(o->kept == k);
        kept += k ? o->fwd_flop : 0.0;
    }
    CHECK(kept > 0);
    CHECK_NEAR(cf.dense.recompute_flop - ck.dense.recompute_flop, kept, 1e-12);
}

int main(void)
{
    test_small_dense();
    test_small_moe();
    test_conservation();
    test_replication();
    test_params();
    test_model_flop();
    test_korthikanti();
    test_act_extensions();
    test_act_fp8();
    test_comm();
    test_fp8_bytes();
    test_fp8_casts();
    test_fp8_weight_casts();
    test_unfused_attention();
    test_mtp();
    test_recompute_modules();
    return test_summary("test_model");
}
