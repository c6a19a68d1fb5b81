/* model: FLOPs, HBM bytes, activation bytes, parameters and collective sizes of one
 * transformer layer (dense, MoE, MLA), the embedding, the head and MTP modules, on one chip
 * for one micro-batch of b sequences of s tokens under a TP/SP/CP/EP split.
 * Formulas and their sources: docs/MODEL.md section 1. Not here: time, memory totals per
 * chip (parallel/plan.c). Biases and learned position embeddings are not counted (the spec
 * has no field for them; they are under 0.5% of GPT-3's parameters and absent in RoPE models). */
#include <math.h>
#include <string.h>

#include "core/core.h"
#include "model/model.h"

/* The paper's letters for one split (Korthikanti et al. 2022 notation), as doubles. */
struct dims {
    double b, s, h, a, f, V;
    double t, c, e;
    double a_chip;     /* query heads per chip: a/t */
    double kv_chip;    /* K/V heads materialised per chip: g/t, 1 when tp > g (KV replicated,
                          as Megatron does), a/t for MLA (K/V expanded per head) */
    double kv_full;    /* the same, unsplit */
    double dqk, dv;    /* per-head widths of Q/K and of V */
    double T;          /* tokens of the micro-batch on one chip entering the GEMMs: b*s/c */
    double Tn;         /* tokens per chip outside the TP regions: T/t with SP, T without */
    double w_in;       /* bytes per GEMM operand element (the compute dtype) */
    double w_act;      /* bytes per activation element (bf16 unless fp32) */
    double w_grad;     /* bytes per main-grad element */
    double w_save;     /* bytes per element a GEMM keeps of its input for the weight gradient:
                          Transformer Engine keeps the fp8 (fp4) cast under fp8 (fp4) recipes */
    bool dropout;      /* trained with dropout: residual and embedding masks exist */
    bool combine_keep; /* the MoE combine keeps the expert outputs (router probabilities
                          applied there, not in the experts' activation) */
    double nmat;       /* GEMMs per MLP: 3 gated, 2 plain */
    bool sp, mla, moe;
    bool unfused; /* the 2021-22 unfused attention core (training.attention) */
    double et;    /* expert tensor parallelism: 1 or t */
    enum us_recompute rc;
    unsigned rcm;  /* enum spec_rc_module bits the backward re-runs (selective; 0 otherwise) */
    unsigned keep; /* enum spec_rc_keep bits full recompute keeps (0 otherwise) */
    /* MoE */
    double E, k, fe, fs; /* experts, top_k, expert hidden, shared-expert hidden (shared*fe) */
    double R;            /* routed rows per chip after dispatch and the TP gather: T*k*cf */
    double Rl;           /* routed rows this chip sends into the dispatch: Tn*k*cf */
    double gmm_r0;       /* rows a grouped expert GEMM loses per expert (split.gmm_tile_rows) */
    double imb;          /* the busiest EP rank's rows / the mean (model.moe.load_imbalance) */
    double cap;          /* capacity factor, 0 = dropless */
    bool dense_mm;       /* dispatch and combine as einsums over masks (split.moe_dense_matmul) */
    bool flex;           /* DeepEP / HybridEP dispatch (split.ep_flex) */
    double dranks;       /* EP ranks a token's top_k experts sit on, expected (<= min(k, e)) */
    bool wcast_call;     /* weights cast to fp8/fp4 in every forward call (split) */
    double devices;      /* devices per chip, each casting its own gathered weights */
};

double model_gemm_elem_B(enum us_dtype dt)
{
    switch (dt) {
    case US_DTYPE_FP32:
        return 4.0;
    case US_DTYPE_FP8:
        return 1.0;
    case US_DTYPE_FP4:
        return 0.5;
    default:
        return 2.0;
    }
}

double model_act_elem_B(enum us_dtype dt)
{
    return dt == US_DTYPE_FP32 ? 4.0 : 2.0;
}

double model_grad_elem_B(enum us_dtype dt)
{
    /* Megatron sets accumulate_allreduce_grads_in_fp32 for bf16 (arguments.py), so main
     * grads are fp32 for bf16 and the fp8/fp4 recipes built on it; fp16 keeps fp16 grads. */
    return dt == US_DTYPE_FP16 ? 2.0 : 4.0;
}

double model_split_grad_elem_B(const struct model_split *s)
{
    /* Megatron-Core DDP: main_grad is fp32 with grad_reduce_in_fp32, else the parameters'
     * dtype (bf16 here; spec/ refuses bf16 for fp32 and fp16 training). */
    if (s->grad_reduce == SPEC_GRAD_REDUCE_BF16)
        return 2.0;
    if (s->grad_reduce == SPEC_GRAD_REDUCE_FP32)
        return 4.0;
    return model_grad_elem_B(s->dtype);
}

static void dims_init(struct dims *D, const struct spec_model *m, const struct model_split *s)
{
    memset(D, 0, sizeof *D);
    D->b = s->micro_batch > 0 ? s->micro_batch : 1;
    D->s = s->seq_len > 0 ? s->seq_len : 1;
    D->h = m->hidden;
    D->a = m->heads;
    D->f = m->ffn_hidden;
    D->V = (double)m->vocab;
    D->t = s->tp > 0 ? s->tp : 1;
    D->c = s->cp > 0 ? s->cp : 1;
    D->e = s->ep > 0 ? s->ep : 1;
    D->sp = s->sequence_parallel && D->t > 1;
    D->rc = s->recompute;
    D->rcm = s->recompute != US_RECOMPUTE_SELECTIVE ? 0u
             : s->rc_modules                        ? s->rc_modules
                                                    : (unsigned)SPEC_RC_CORE_ATTN;
    D->keep = s->recompute == US_RECOMPUTE_FULL ? s->rc_keep : 0u;
    D->unfused = s->unfused_attention;
    D->et = s->etp > 0 && s->etp < D->t ? s->etp : D->t;
    D->mla = m->has_mla;
    D->moe = m->has_moe && m->moe.experts > 0;
    D->nmat = m->gated_mlp ? 3.0 : 2.0;
    D->a_chip = D->a / D->t;
    double g = m->kv_heads > 0 ? m->kv_heads : m->heads;
    double d = m->head_dim > 0 ? m->head_dim : D->h / D->a;
    if (D->mla) {
        D->dqk = m->mla.qk_nope_head_dim + m->mla.qk_rope_head_dim;
        D->dv = m->mla.v_head_dim;
        D->kv_full = D->a;
        D->kv_chip = D->a_chip;
    } else {
        D->dqk = D->dv = d;
        D->kv_full = g;
        D->kv_chip = g >= D->t ? g / D->t : 1.0;
    }
    D->T = D->b * D->s / D->c;
    D->Tn = D->sp ? D->T / D->t : D->T;
    D->w_in = model_gemm_elem_B(s->dtype);
    D->w_act = model_act_elem_B(s->dtype);
    D->w_grad = model_split_grad_elem_B(s);
    D->w_save = s->dtype == US_DTYPE_FP8 || s->dtype == US_DTYPE_FP4 ? D->w_in : D->w_act;
    D->dropout = m->hidden_dropout > 0.0;
    D->combine_keep = s->moe_probs_combine;
    D->wcast_call = s->weight_cast_per_call;
    D->devices = s->devices > 1 ? s->devices : 1.0;
    if (D->moe) {
        D->E = m->moe.experts;
        D->k = m->moe.top_k;
        D->fe = m->moe.expert_ffn_hidden;
        D->fs = (double)m->moe.shared_experts * D->fe;
        double cf = m->moe.capacity_factor > 0 ? m->moe.capacity_factor : 1.0;
        /* Dropless routing with expert parallelism: the step waits for the EP rank that
         * receives the most rows, load_imbalance times the mean (model.moe.load_imbalance; 1
         * by default: Megatron's moe_router_force_load_balancing and MaxText's
         * use_random_routing route at random, and e*T*k rows spread at random over e ranks
         * leave the busiest within 1% of the mean at these sizes). A capacity factor caps
         * and pads each expert's rows instead. */
        double imb = m->moe.load_imbalance > 1.0 && !(m->moe.capacity_factor > 0) && D->e > 1
                         ? m->moe.load_imbalance
                         : 1.0;
        /* rows entering the experts: the expert-TP group's tokens (all TP ranks' with
         * et = t; the SP-local ones with et = 1) */
        D->R = (D->sp ? D->Tn * D->et : D->T) * D->k * cf * imb;
        D->imb = imb;
        D->Rl = D->Tn * D->k * cf;
        D->gmm_r0 = s->gmm_tile_rows;
        D->cap = m->moe.capacity_factor > 0 ? m->moe.capacity_factor : 0.0;
        D->dense_mm = s->moe_dense_matmul;
        D->flex = s->ep_flex && D->e > 1;
        /* k experts drawn at random from E, E/e on each rank: a rank holds none of them with
         * probability prod_i (E - E/e - i) / (E - i), so a token reaches e (1 - that) ranks. */
        double miss = 1.0, L0 = D->E / D->e;
        for (int i = 0; i < (int)D->k && miss > 0.0; i++)
            miss *= D->E - L0 - i > 0.0 ? (D->E - L0 - i) / (D->E - i) : 0.0;
        D->dranks = D->e * (1.0 - miss);
    }
}

/* --- building a layer ---------------------------------------------------------------- */

static void layer_reset(struct model_layer *L)
{
    L->nops = 0;
    L->fwd_flop = L->bwd_flop = L->recompute_flop = 0;
    L->fwd_B = L->bwd_B = L->act_B = L->act_full_B = 0;
    L->params = L->params_full = L->params_expert = L->params_tp_replicated = 0;
    L->model_flop = 0;
    L->host_syncs_fwd = 0;
    memset(&L->comm, 0, sizeof L->comm);
}

static struct model_op *op_add(struct model_layer *L, const char *name, enum model_op_kind kind)
{
    US_ASSERT(L->nops < MODEL_MAX_OPS, "layer has more than %d ops", MODEL_MAX_OPS);
    struct model_op *o = &L->ops[L->nops++];
    *o = (struct model_op){.name = name, .kind = kind, .kernels = 1};
    return o;
}

/* A GEMM of (m x k) by (k x n), `count` times, with operands of w_in bytes. Forward reads X
 * and W and writes Y at the activation width; backward is dgrad (dY, W -> dX) plus wgrad
 * (X, dY -> dW accumulated into the fp32 main grad, read and written). bwd FLOPs = 2 x fwd. */
static struct model_op *gemm_w(struct model_layer *L, const struct dims *D, const char *name,
                               double m, double n, double k, double count, double w_in)
{
    struct model_op *o = op_add(L, name, MODEL_OP_GEMM);
    o->m = m;
    o->n = n;
    o->k = k;
    o->count = count;
    o->fwd_flop = 2.0 * m * n * k * count;
    o->bwd_flop = 2.0 * o->fwd_flop;
    o->fwd_B = count * (m * k * w_in + k * n * w_in + m * n * D->w_act);
    o->bwd_B = count * ((m * n * w_in + k * n * w_in + m * k * D->w_act) +
                        (m * k * w_in + m * n * w_in + 2.0 * k * n * D->w_grad));
    return o;
}

/* A GEMM in the compute dtype. */
static struct model_op *gemm(struct model_layer *L, const struct dims *D, const char *name,
                             double m, double n, double k, double count)
{
    return gemm_w(L, D, name, m, n, k, count, D->w_in);
}

/* A GEMM fp8 and fp4 recipes keep in bf16 (the logits, the MoE router). */
static struct model_op *gemm_hp(struct model_layer *L, const struct dims *D, const char *name,
                                double m, double n, double k, double count)
{
    struct model_op *o = gemm_w(L, D, name, m, n, k, count, D->w_act);
    o->high_precision = true;
    return o;
}

/* A memory-bound op: priced by bytes. Its few vector FLOPs per element do not run on the
 * matrix units and are left out of FLOP counts (docs/MODEL.md 1.2). */
static void mem(struct model_layer *L, const char *name, double fwd_B, double bwd_B)
{
    struct model_op *o = op_add(L, name, MODEL_OP_MEM);
    o->fwd_B = fwd_B;
    o->bwd_B = bwd_B;
}

/* The casts fp8 (fp4) recipes add for the low-precision GEMMs among ops [first, nops):
 * forward quantizes each GEMM's input X, backward its output gradient dY, reading the bf16
 * tensor and writing the cast twice - row-wise for one GEMM and column-wise (transposed) for
 * the other (Transformer Engine Float8Tensor on Hopper; amax is taken in the same kernel
 * under delayed scaling). Weights are cast once per step and cached across micro-batches
 * (TE is_first_microbatch), so they are left out. One memory-bound op for the layer. */
static void low_precision_casts(struct model_layer *L, const struct dims *D, int first)
{
    if (!(D->w_in < D->w_act))
        return;
    double x = 0.0, dy = 0.0;
    for (int i = first; i < L->nops; i++) {
        const struct model_op *o = &L->ops[i];
        if (o->kind != MODEL_OP_GEMM || o->high_precision)
            continue;
        x += o->count * o->m * o->k;
        dy += o->count * o->m * o->n;
    }
    double per = D->w_act + 2.0 * D->w_in;
    mem(L, "fp8_cast", x * per, dy * per);
}

/* A framework that quantizes each weight inside the call (MaxText's qwix: megablox _gmm_fwd
 * runs qpl.quantize(rhs) every forward, maxtext@998b3e34 src/MaxText/kernels/megablox/ops.py;
 * qwix's dot_general_qt_fwd quantizes rhs and saves the quantized copy as the backward's
 * residual, google/qwix@04385d9d qwix/_src/core/dot_general_qt.py) reads the bf16
 * weight and writes its fp8 (fp4) copy on every forward of the layer, and again where a
 * recompute re-runs it; each device of the chip does so on its own gathered copy. The
 * backward reuses the forward's quantized weight (its residual). One memory-bound op for the
 * low-precision GEMMs among ops [first, nops); docs/MODEL.md 1.2. */
static void low_precision_weight_casts(struct model_layer *L, const struct dims *D, int first)
{
    if (!(D->w_in < D->w_act) || !D->wcast_call)
        return;
    double w = 0.0;
    for (int i = first; i < L->nops; i++) {
        const struct model_op *o = &L->ops[i];
        if (o->kind != MODEL_OP_GEMM || o->high_precision || strncmp(o->name, "moe_", 4) == 0)
            continue; /* the mask einsums' operands are activations, cast with them */
        w += o->count * o->k * o->n;
    }
    mem(L, "fp8_weight_cast", w * (D->w_act + D->w_in) * D->devices, 0.0);
}

enum { PRM_SPLIT = 0, PRM_REPLICATED = 1, PRM_EXPERT = 2 };

static void prm(struct model_layer *L, double chip, double full, int kind)
{
    L->params += chip;
    L->params_full += full;
    if (kind == PRM_REPLICATED)
        L->params_tp_replicated += chip;
    if (kind == PRM_EXPERT)
        L->params_expert += chip;
}

static void tp_add(struct model_layer *L, const struct dims *D, int nfwd, int nbwd, double size_B)
{
    if (D->t <= 1)
        return;
    L->comm.tp_collectives_fwd += nfwd;
    L->comm.tp_collectives_bwd += nbwd;
    L->comm.tp_fwd_B += nfwd * size_B;
    L->comm.tp_bwd_B += nbwd * size_B;
}

/* Column-parallel GEMM input of size_B (gathered): with SP an all-gather forward, and in
 * backward the all-gather again (the input is kept split, Korthikanti et al. 2022 s4.2.2)
 * plus the reduce-scatter of the input gradient; without SP one all-reduce in backward
 * (Shoeybi et al. 2019, the f operator). */
static void tp_column(struct model_layer *L, const struct dims *D, double size_B)
{
    if (D->sp)
        tp_add(L, D, 1, 2, size_B);
    else
        tp_add(L, D, 0, 1, size_B);
}

/* Row-parallel GEMM output: with SP a reduce-scatter forward and an all-gather backward;
 * without SP an all-reduce forward (the g operator). */
static void tp_row(struct model_layer *L, const struct dims *D, double size_B)
{
    if (D->sp)
        tp_add(L, D, 1, 1, size_B);
    else
        tp_add(L, D, 1, 0, size_B);
}

static void norm(struct model_layer *L, const struct dims *D, const char *name, double tokens,
                 double width)
{
    /* fwd reads x, writes y; bwd reads dy and x, writes dx. */
    mem(L, name, 2.0 * tokens * width * D->w_act, 3.0 * tokens * width * D->w_act);
}

static void residual(struct model_layer *L, const struct dims *D, const char *name)
{
    /* Fused dropout + residual add: reads x and the residual, writes the sum and a 1-byte
     * mask; backward reads dy and the mask, writes dx. Without dropout it is the add alone
     * (PyTorch's dropout returns its input when p = 0: no mask). */
    double n = D->Tn * D->h, mask = D->dropout ? n : 0.0;
    mem(L, name, 3.0 * n * D->w_act + mask, 2.0 * n * D->w_act + mask);
}

/* Flash-attention core, causal: half of the s x s score matrix is computed (the
 * diagonal's extra s/2 is ignored). Full-matrix forward = 2*b*s^2*a*(dqk + dv), so
 * causal = b*s^2*a*(dqk + dv); per chip / (t*c) with load-balanced CP. Backward =
 * 2.5 x forward (Dao 2023, FlashAttention-2, s4: 5 matmuls backward vs 2 forward).
 * Shape: s/c queries x s/2 keys on average, k = dqk + dv, count = b*a/t. */
static void attn_core_flash(struct model_layer *L, const struct dims *D)
{
    double T = D->T;
    struct model_op *o = op_add(L, "attn_core", MODEL_OP_ATTN);
    o->m = D->s / D->c;
    o->n = D->s / 2.0;
    o->k = D->dqk + D->dv;
    o->count = D->b * D->a_chip;
    o->fwd_flop = 2.0 * o->m * o->n * o->k * o->count;
    o->bwd_flop = 2.5 * o->fwd_flop;
    /* Ring attention runs the core as one kernel per ring step, c in all: Transformer
     * Engine's AttnFuncWithCPAndKVP2P forward loops `for i in range(cp_size + 1)` and calls
     * cp_p2p_fwd_fused_attn / cp_p2p_fwd_flash_attn for each i < cp_size, its backward one
     * attention backward per step, `for i in range(cp_size)`
     * (NVIDIA/TransformerEngine@d0067d0d transformer_engine/pytorch/attention/
     * dot_product_attention/context_parallel.py). The FLOPs and bytes are the same; each
     * launch has its host cost (docs/MODEL.md 4.5). */
    o->kernels = D->c > 1.0 ? (int)D->c : 1;
    /* Compulsory traffic: Q, O, LSE for the local queries; K, V for the whole context
     * (each ring step's chunk read once). Backward reads Q, K, V, O, dO, LSE and writes
     * dQ, dK, dV. */
    double q = T * D->a_chip * D->dqk * D->w_act;
    double out = T * D->a_chip * D->dv * D->w_act;
    double kv = D->b * D->s * D->kv_chip * (D->dqk + D->dv) * D->w_act;
    double lse = T * D->a_chip * 4.0;
    o->fwd_B = q + kv + out + lse;
    o->bwd_B = 2.0 * (q + kv) + 2.0 * out + lse;
}

/* The unfused core of 2021-22 Megatron-LM (Shoeybi et al. 2019; Narayanan et al. 2021;
 * Korthikanti et al. 2022 s4.1): a batched QK^T GEMM writes the full s x s scores (causal
 * masking does not skip the upper half), a fused scale-mask-softmax and a dropout each read
 * and write them, and a batched PV GEMM reads the probabilities. The GEMMs run in the
 * compute dtype at the GEMM efficiency; softmax and dropout are HBM-bound. Selective
 * recompute re-runs all four (Korthikanti s4.2). */
static void attn_core_unfused(struct model_layer *L, const struct dims *D)
{
    double sq = D->s / D->c, cnt = D->b * D->a_chip;
    struct model_op *o = gemm_w(L, D, "attn_scores", sq, D->s, D->dqk, cnt, D->w_act);
    double S = cnt * sq * D->s; /* score elements on this chip */
    /* softmax: fwd reads scores, writes probabilities; bwd reads dP and P, writes dS */
    o = op_add(L, "attn_softmax", MODEL_OP_MEM);
    o->fwd_B = 2.0 * S * D->w_act;
    o->bwd_B = 3.0 * S * D->w_act;
    if (D->dropout) {
        /* dropout: fwd reads P, writes P' and a 1-byte mask; bwd reads dP' and the mask */
        o = op_add(L, "attn_dropout", MODEL_OP_MEM);
        o->fwd_B = S * (2.0 * D->w_act + 1.0);
        o->bwd_B = S * (2.0 * D->w_act + 1.0);
    }
    o = gemm_w(L, D, "attn_context", sq, D->dv, D->s, cnt, D->w_act);
}

/* Attention block: input norm, projections, attention core, output projection,
 * residual. Returns the core's op index. */
static int attn_block(struct model_layer *L, const struct dims *D, const struct spec_model *m)
{
    double T = D->T, Tn = D->Tn, h = D->h;
    norm(L, D, "attn_norm", Tn, h);
    prm(L, h, h, PRM_REPLICATED);
    if (!D->mla) {
        double n_chip = (D->a_chip + 2.0 * D->kv_chip) * D->dqk;
        double n_full = (D->a + 2.0 * D->kv_full) * D->dqk;
        gemm(L, D, "qkv_proj", T, n_chip, h, 1);
        prm(L, h * n_chip, h * n_full, PRM_SPLIT);
        tp_column(L, D, T * h * D->w_act);
    } else {
        /* Megatron-Core MLA: the down-projections are duplicated on every TP rank and run
         * on the SP-local tokens; the up-projections are column-parallel, so the TP
         * all-gather moves the low-rank latents, not h. */
        double ql = m->mla.q_lora_rank, kvl = m->mla.kv_lora_rank;
        double rope = m->mla.qk_rope_head_dim, nope = m->mla.qk_nope_head_dim;
        if (ql > 0) {
            gemm(L, D, "q_down", Tn, ql, h, 1);
            prm(L, h * ql, h * ql, PRM_REPLICATED);
            norm(L, D, "q_norm", Tn, ql);
            prm(L, ql, ql, PRM_REPLICATED);
            gemm(L, D, "q_up", T, D->a_chip * D->dqk, ql, 1);
            prm(L, ql * D->a_chip * D->dqk, ql * D->a * D->dqk, PRM_SPLIT);
            tp_column(L, D, T * ql * D->w_act);
        } else {
            gemm(L, D, "q_proj", T, D->a_chip * D->dqk, h, 1);
            prm(L, h * D->a_chip * D->dqk, h * D->a * D->dqk, PRM_SPLIT);
            tp_column(L, D, T * h * D->w_act);
        }
        gemm(L, D, "kv_down", Tn, kvl + rope, h, 1);
        prm(L, h * (kvl + rope), h * (kvl + rope), PRM_REPLICATED);
        norm(L, D, "kv_norm", Tn, kvl);
        prm(L, kvl, kvl, PRM_REPLICATED);
        gemm(L, D, "kv_up", T, D->a_chip * (nope + D->dv), kvl, 1);
        prm(L, kvl * D->a_chip * (nope + D->dv), kvl * D->a * (nope + D->dv), PRM_SPLIT);
        tp_column(L, D, T * (kvl + rope) * D->w_act);
    }

    int core = L->nops;
    if (D->unfused)
        attn_core_unfused(L, D);
    else
        attn_core_flash(L, D);
    if (D->c > 1) {
        /* Ring attention: this chip's K/V chunk passes c-1 hops; backward circulates K/V
         * and dK/dV (Liu et al. 2023; Megatron-Core context parallelism). */
        double chunk = D->T * D->kv_chip * (D->dqk + D->dv) * D->w_act;
        L->comm.cp_B += (D->c - 1.0) * chunk;
        L->comm.cp_bwd_B += 2.0 * (D->c - 1.0) * chunk;
    }

    gemm(L, D, "o_proj", T, h, D->a_chip * D->dv, 1);
    prm(L, D->a_chip * D->dv * h, D->a * D->dv * h, PRM_SPLIT);
    tp_row(L, D, T * h * D->w_act);
    residual(L, D, "attn_residual");
    return core;
}

static void act_fn(struct model_layer *L, const struct dims *D, const char *name, double rows,
                   double width)
{
    /* plain: reads x, writes y; bwd reads dy, x, writes dx. gated (SwiGLU): reads gate and
     * up, writes y; bwd reads dy, gate, up, writes dgate, dup. */
    double n = rows * width * D->w_act;
    if (D->nmat > 2.5)
        mem(L, name, 3.0 * n, 5.0 * n);
    else
        mem(L, name, 2.0 * n, 3.0 * n);
}

static void dense_mlp(struct model_layer *L, const struct dims *D)
{
    double T = D->T, h = D->h, ft = D->f / D->t, ng = D->nmat - 1.0;
    norm(L, D, "mlp_norm", D->Tn, h);
    prm(L, h, h, PRM_REPLICATED);
    gemm(L, D, "mlp_fc1", T, ft, h, ng);
    prm(L, ng * h * ft, ng * h * D->f, PRM_SPLIT);
    tp_column(L, D, T * h * D->w_act);
    act_fn(L, D, "mlp_act", T, ft);
    gemm(L, D, "mlp_fc2", T, h, ft, 1);
    prm(L, h * ft, h * D->f, PRM_SPLIT);
    tp_row(L, D, T * h * D->w_act);
    residual(L, D, "mlp_residual");
}

/* MaxText's dense_matmul MoE (sparse_matmul false, capacity_factor > 0): each sequence's
 * tokens reach the experts through an einsum with a one-hot dispatch mask and come back
 * through one with the combine mask (AI-Hypercomputer/maxtext@14b5876e MaxText/layers/moe.py,
 * dense_matmul: "BSM,BSEC -> EBCM" and "EBCM,BSEC -> BSM"; generate_masks: C =
 * ceil(S*k/E)*capacity_factor per sequence). Both are matmuls over S x E*C masks, 2*S*E*C*h
 * FLOPs per sequence each way. Backward: the dispatch needs only its input gradient (the mask
 * is a constant), the combine both (its mask carries the router weights). Bytes: the mask
 * (bf16 operand), the tokens and the E*C expert rows. */
static void moe_mask_einsums(struct model_layer *L, const struct dims *D)
{
    double sl = D->s / D->c, cnt = D->b, h = D->h, w = D->w_act;
    double C = ceil(sl * D->k / D->E) * D->cap, ec = D->E * C;
    double mask = cnt * sl * ec * w, tok = cnt * sl * h * w, rows = cnt * ec * h * w;
    struct model_op *o = op_add(L, "moe_dispatch", MODEL_OP_GEMM);
    o->m = ec;
    o->n = h;
    o->k = sl;
    o->count = cnt;
    o->fwd_flop = 2.0 * ec * h * sl * cnt;
    o->bwd_flop = o->fwd_flop;
    o->fwd_B = mask + tok + rows;
    o->bwd_B = mask + rows + tok;
    o = op_add(L, "moe_combine", MODEL_OP_GEMM);
    o->m = sl;
    o->n = h;
    o->k = ec;
    o->count = cnt;
    o->fwd_flop = 2.0 * ec * h * sl * cnt;
    o->bwd_flop = 2.0 * o->fwd_flop;
    o->fwd_B = mask + rows + tok;
    o->bwd_B = (tok + mask + rows) + (tok + rows + mask);
}

static void moe_mlp(struct model_layer *L, const struct dims *D)
{
    double T = D->T, Tn = D->Tn, h = D->h, ng = D->nmat - 1.0;
    double E = D->E, e = D->e, fet = D->fe / D->et, local = E / e;
    norm(L, D, "mlp_norm", Tn, h);
    prm(L, h, h, PRM_REPLICATED);
    /* Router: replicated weights, run on the SP-local tokens (Megatron-Core TopKRouter). */
    gemm_hp(L, D, "router", Tn, E, h, 1);
    prm(L, h * E, h * E, PRM_REPLICATED);
    mem(L, "router_topk", 2.0 * Tn * E * 4.0, 2.0 * Tn * E * 4.0);
    /* Permute: each local token copied top_k times (times the capacity factor), before the
     * alltoall dispatcher's all-to-all. The flex dispatcher (DeepEP, HybridEP) sends each
     * token once to every EP rank that holds one of its experts, d of them, and permutes the
     * received rows into expert order after (HybridEP inside its dispatch kernel): Megatron-
     * Core's _DeepepManager "Use fused kernel to permute tokens and perform all-to-all
     * communication in single step" then "Permute tokens using fused kernel", _HybridEPManager
     * "Permute tokens for communication, perform all-to-all communication, and permute tokens
     * for experts in single step" (token_dispatcher.py at NVIDIA/Megatron-LM@d98e8a64).
     * Either way the received rows are copied once into the R expert-ordered rows, and back
     * before the combine, which sums each token's d partial outputs. */
    double Rr = D->flex ? D->Rl * D->dranks / D->k * D->imb : 0.0; /* rows received, flex */
    if (!D->flex)
        mem(L, "moe_permute", (Tn * h + D->Rl * h) * D->w_act, (Tn * h + D->Rl * h) * D->w_act);
    /* The alltoall dispatcher copies the routed token counts to the host and waits for them
     * before it can size its all-to-all (or permute), once per forward; padding to capacity
     * (moe_pad_expert_input_to_capacity, which Megatron-Bridge's token drop sets) fixes the
     * sizes and skips the wait: NVIDIA/Megatron-LM@1fea03d3 (the core Megatron-Bridge 25.11
     * pins) megatron/core/transformer/moe/token_dispatcher.py, MoEAlltoAllTokenDispatcher.
     * preprocess ("A synchronization is needed before expert parallel AlltoAll communication
     * to get the `input_splits` and `output_splits` CPU values") and
     * _maybe_dtoh_and_synchronize ("if not self.drop_and_pad: ... self.d2h_event.synchronize()").
     * Only Megatron-Core's dispatcher is read; the flex dispatcher's waits are not modelled. */
    if (!D->flex && !(D->cap > 0.0) && !D->dense_mm)
        L->host_syncs_fwd = 1;
    if (e > 1) {
        L->comm.ep_a2a_fwd += 2;
        L->comm.ep_a2a_bwd += 2;
        /* the busiest rank receives (and sends back) imb times the mean */
        L->comm.ep_B = D->flex ? Rr * h * D->w_act : D->Rl * h * D->w_act * D->imb;
    }
    /* Expert TP = TP (Megatron's default): after dispatch the routed tokens are all-gathered
     * over TP, experts are column/row split, then reduce-scattered. With expert TP 1
     * (Megatron-Core's MoE parallel folding, expert_tensor_parallel_size 1) each rank
     * keeps whole experts and its own tokens: no TP collective in the expert block. */
    if (D->et <= 1.0) {
        /* nothing */
    } else if (D->sp) {
        tp_add(L, D, 1, 1, D->R * h * D->w_act); /* AG fwd, RS of its gradient bwd */
        tp_add(L, D, 1, 1, D->R * h * D->w_act); /* RS fwd, AG bwd */
    } else {
        tp_add(L, D, 1, 1, D->R * h * D->w_act); /* AR of the row-parallel output, AR of dX */
    }
    if (D->dense_mm && D->cap > 0.0)
        moe_mask_einsums(L, D);
    /* The dispatch delivers the rows grouped by source rank; with several local experts they
     * are sorted by expert before the GEMMs and back to source order before the combine:
     * Megatron-Core's alltoall dispatcher "Permutation 2: Sort tokens by local expert"
     * (sort_chunks_by_idxs, or a transposed copy under drop-and-pad) and "Unpermutation 2"
     * (NVIDIA/Megatron-LM@d98e8a64 megatron/core/transformer/moe/token_dispatcher.py,
     * dispatch_postprocess / combine_preprocess, when num_local_experts > 1); torchtitan's
     * and MaxText's expert parallelism permute the received rows the same way. Each reads
     * and writes the R routed rows (and the sort their fp32 probabilities); the backward
     * runs the inverse sorts. */
    if (D->flex) {
        double pb = (Rr + D->R) * h * D->w_act + D->R * 4.0;
        mem(L, "moe_permute", pb, pb);
    } else if ((e > 1 || D->et > 1.0) && local > 1.0) {
        double sb = 4.0 * D->R * h * D->w_act + 2.0 * D->R * 4.0;
        mem(L, "moe_sort_chunks", sb, sb);
    }
    /* Each chip's E/e local experts process on average R rows in all: tokens of the EP
     * group (e*T) x top_k / experts x local experts. */
    double m_e = D->R / local;
    /* Transformer Engine's GroupedLinear (Megatron-Core moe_grouped_gemm) launches one cuBLAS
     * GEMM per local expert (general_grouped_gemm, spread over streams): the waves of all
     * of them share the chip (count), the launches are one each (kernels). */
    struct model_op *x1 = gemm(L, D, "expert_fc1", m_e, fet, h, local * ng);
    x1->kernels = (int)local;
    x1->grouped = true;
    x1->group_rows0 = D->gmm_r0;
    prm(L, local * ng * h * fet, E * ng * h * D->fe, PRM_EXPERT);
    act_fn(L, D, "expert_act", D->R, fet);
    struct model_op *x2 = gemm(L, D, "expert_fc2", m_e, h, fet, local);
    x2->kernels = (int)local;
    x2->grouped = true;
    x2->group_rows0 = D->gmm_r0;
    prm(L, local * h * fet, E * h * D->fe, PRM_EXPERT);
    /* Unpermute: the weighted sum of each token's top_k expert outputs. Its backward reads
     * the output gradient and writes the rows' gradients, and for the probabilities' gradient
     * reads the expert outputs again (Transformer Engine's fused unpermute,
     * NVIDIA/TransformerEngine@8eb17125 transformer_engine/pytorch/permutation.py,
     * _moe_unpermute_mask_map.backward: unpermute_with_mask_map_bwd_with_merging_probs(
     * unpermuted_act_grad, row_id_map, fwd_input, merging_probs, ...)). */
    if (D->flex) /* the R expert rows back to the Rr received ones, weighted */
        mem(L, "moe_unpermute", (D->R * h + Rr * h) * D->w_act + D->R * 4.0,
            (2.0 * D->R * h + Rr * h) * D->w_act + 2.0 * D->R * 4.0);
    else
        mem(L, "moe_unpermute", (D->Rl * h + Tn * h) * D->w_act + D->Rl * 4.0,
            (2.0 * D->Rl * h + Tn * h) * D->w_act + 2.0 * D->Rl * 4.0);
    if (D->fs > 0) {
        double fst = D->fs / D->t;
        gemm(L, D, "shared_fc1", T, fst, h, ng);
        prm(L, ng * h * fst, ng * h * D->fs, PRM_SPLIT);
        tp_column(L, D, T * h * D->w_act);
        act_fn(L, D, "shared_act", T, fst);
        gemm(L, D, "shared_fc2", T, h, fst, 1);
        prm(L, h * fst, h * D->fs, PRM_SPLIT);
        tp_row(L, D, T * h * D->w_act);
    }
    residual(L, D, "mlp_residual");
}

/* Activation bytes kept for backward by one layer on one chip. Korthikanti et al. 2022
 * s4.1 term by term (2-byte activations, 1-byte dropout masks), generalised: widths a*dqk
 * for Q and kv*dqk, kv*dv for K and V (GQA, MLA), the gated MLP's second f-sized tensor,
 * MoE rows R = T*top_k*cf, CP through T = b*s/c. flash = false is the paper's accounting
 * (the s^2 softmax, its dropout mask and output; every mask; 2-byte GEMM inputs). flash =
 * true is what Megatron-Core with Transformer Engine keeps (docs/MODEL.md 1.6): flash
 * attention keeps Q, K, V, its output and the fp32 log-sum-exp (flash_attn_interface.py,
 * FlashAttnFunc.forward); a linear layer keeps its input for the weight gradient, as the
 * fp8 (fp4) cast under those recipes (transformer_engine/pytorch/module/linear.py and
 * layernorm_linear.py: saved_inputmat / ln_out), so the attention output, which flash
 * attention also keeps in bf16, is kept twice then; masks only when trained with dropout. */
static double act_layer(const struct dims *D, const struct spec_model *m, bool moe_layer,
                        enum us_recompute rc, bool flash)
{
    double T = D->T, Tn = D->Tn, h = D->h, w = D->w_act;
    double wg = flash ? D->w_save : w;              /* a GEMM's saved input */
    double mask = !flash || D->dropout ? 1.0 : 0.0; /* bytes per dropout-mask element */
    double wo = flash && wg < w ? w + wg : w;       /* the attention output: bf16 (+ cast) */
    if (rc == US_RECOMPUTE_FULL) {
        /* the layer input (Korthikanti Table 2: 2sbh, /t with SP), and what recompute_keep
         * names (MaxText's save_only_these_names) that the backward reads. A policy only makes
         * a tensor saveable: JAX saves the residuals the linearised backward reads, nothing
         * else (docs/MODEL.md 1.7). The output projection's and a dense MLP's (or the shared
         * experts') fc2 output go only into the residual add, whose backward reads no primal
         * value (MaxText llama2.py: intermediate_inputs = inputs + attention_lnx; layer_output
         * = mlp_lnx + intermediate_inputs), so naming them keeps nothing; the routed experts'
         * fc2 output is read by a combine that applies the router probabilities to it. */
        double kept = w * Tn * h;
        unsigned k = D->keep;
        double qkv = w * T * (D->a_chip * D->dqk + D->kv_chip * D->dqk + D->kv_chip * D->dv);
        kept += k & SPEC_KEEP_QKV_PROJ ? qkv : 0.0;
        kept += k & SPEC_KEEP_CONTEXT ? w * T * D->a_chip * D->dv : 0.0;
        double shared = moe_layer && D->fs > 0 ? D->fs / D->t : 0.0;
        double wi = moe_layer ? D->R * (D->fe / D->et) : T * (D->f / D->t);
        kept += k & SPEC_KEEP_MLPWI ? w * (wi + T * shared) * (D->nmat - 1.0) : 0.0;
        kept += k & SPEC_KEEP_MLPWO && moe_layer && D->combine_keep ? w * D->Rl * h : 0.0;
        return kept;
    }
    /* Selective recompute drops what the modules it re-runs make inside themselves; each
     * checkpoint keeps its own input (Megatron-Core recompute_modules, docs/MODEL.md 2.4). */
    unsigned rcm = rc == US_RECOMPUTE_SELECTIVE ? D->rcm : 0u;
    bool ln = rcm & SPEC_RC_LAYERNORM;
    /* attention block */
    double A = w * Tn * h;       /* norm input */
    A += ln ? 0.0 : wg * Tn * h; /* projection input (norm output) */
    if (D->mla) {
        double ql = m->mla.q_lora_rank, kvl = m->mla.kv_lora_rank;
        A += (w + wg) * Tn * ql + (w + wg) * Tn * kvl; /* latent norm inputs and up inputs */
    }
    if (!(D->mla && (rcm & SPEC_RC_MLA_UP_PROJ)))
        A += w * T * (D->a_chip * D->dqk + D->kv_chip * D->dqk + D->kv_chip * D->dv); /* QKV */
    double core =
        flash ? 4.0 * T * D->a_chip : (2.0 * w + 1.0) * D->a_chip * D->b * (D->s / D->c) * D->s;
    if (!(rcm & SPEC_RC_CORE_ATTN))
        A += core;
    A += wo * T * D->a_chip * D->dv; /* output-projection input */
    A += mask * Tn * h;              /* dropout mask */
    /* MLP block */
    double M = w * Tn * h + mask * Tn * h; /* norm input, mask */
    if (!moe_layer) {
        bool mlp = rcm & SPEC_RC_MLP;
        double ft = D->f / D->t;
        M += ln && !mlp ? 0.0 : wg * Tn * h; /* fc1 input (the checkpoint's input under mlp) */
        if (!mlp)
            M += w * T * ft * (D->nmat - 1.0) + wg * T * ft; /* activation input(s), fc2 input */
    } else {
        bool moe = rcm & SPEC_RC_MOE;
        double fet = D->fe / D->et;
        M += ln && !moe ? 0.0 : w * Tn * h; /* router input (bf16; the checkpoint's under moe) */
        if (!moe) {
            M += 4.0 * Tn * D->E;                               /* router probabilities fp32 */
            M += wg * D->R * h;                                 /* expert fc1 input (gathered) */
            M += w * D->R * fet * (D->nmat - 1.0);              /* expert activation input(s) */
            M += rcm & SPEC_RC_MOE_ACT ? 0.0 : wg * D->R * fet; /* expert fc2 input */
            M += D->combine_keep ? w * D->Rl * h : 0.0;         /* expert outputs for the combine */
        }
        if (D->fs > 0 && !moe && !(rcm & SPEC_RC_SHARED_EXPERTS)) {
            double fst = D->fs / D->t;
            if (wg < w)
                M += wg * Tn * h; /* the shared experts' own cast of the router input */
            M += w * T * fst * (D->nmat - 1.0) + wg * T * fst;
        }
    }
    return A + M;
}

/* The recompute_keep tensor an op makes (enum spec_rc_keep; 0: none of them). */
static unsigned op_keep(const char *name)
{
    static const struct {
        const char *name;
        unsigned keep;
    } map[] = {
        {"qkv_proj", SPEC_KEEP_QKV_PROJ},    {"q_proj", SPEC_KEEP_QKV_PROJ},
        {"q_up", SPEC_KEEP_QKV_PROJ},        {"kv_up", SPEC_KEEP_QKV_PROJ},
        {"attn_core", SPEC_KEEP_CONTEXT},    {"attn_scores", SPEC_KEEP_CONTEXT},
        {"attn_softmax", SPEC_KEEP_CONTEXT}, {"attn_dropout", SPEC_KEEP_CONTEXT},
        {"attn_context", SPEC_KEEP_CONTEXT}, {"o_proj", SPEC_KEEP_OUT_PROJ},
        {"mlp_fc1", SPEC_KEEP_MLPWI},        {"expert_fc1", SPEC_KEEP_MLPWI},
        {"shared_fc1", SPEC_KEEP_MLPWI},     {"mlp_fc2", SPEC_KEEP_MLPWO},
        {"expert_fc2", SPEC_KEEP_MLPWO},     {"shared_fc2", SPEC_KEEP_MLPWO},
    };
    for (size_t i = 0; i < US_ARRAY_LEN(map); i++)
        if (strcmp(map[i].name, name) == 0)
            return map[i].keep;
    return 0u;
}

/* The recompute_modules module an op belongs to (enum spec_rc_module; 0: none of them). */
static unsigned op_module(const char *name)
{
    static const struct {
        const char *name;
        unsigned module;
    } map[] = {
        {"attn_core", SPEC_RC_CORE_ATTN},
        {"attn_scores", SPEC_RC_CORE_ATTN},
        {"attn_softmax", SPEC_RC_CORE_ATTN},
        {"attn_dropout", SPEC_RC_CORE_ATTN},
        {"attn_context", SPEC_RC_CORE_ATTN},
        {"attn_norm", SPEC_RC_LAYERNORM},
        {"mlp_norm", SPEC_RC_LAYERNORM},
        {"q_up", SPEC_RC_MLA_UP_PROJ},
        {"kv_up", SPEC_RC_MLA_UP_PROJ},
        {"mlp_fc1", SPEC_RC_MLP},
        {"mlp_act", SPEC_RC_MLP},
        {"mlp_fc2", SPEC_RC_MLP},
        {"expert_act", SPEC_RC_MOE_ACT | SPEC_RC_MOE},
        {"router", SPEC_RC_MOE},
        {"router_topk", SPEC_RC_MOE},
        {"moe_permute", SPEC_RC_MOE},
        {"moe_sort_chunks", SPEC_RC_MOE},
        {"moe_dispatch", SPEC_RC_MOE},
        {"moe_combine", SPEC_RC_MOE},
        {"expert_fc1", SPEC_RC_MOE},
        {"expert_fc2", SPEC_RC_MOE},
        {"moe_unpermute", SPEC_RC_MOE},
        {"shared_fc1", SPEC_RC_SHARED_EXPERTS | SPEC_RC_MOE},
        {"shared_act", SPEC_RC_SHARED_EXPERTS | SPEC_RC_MOE},
        {"shared_fc2", SPEC_RC_SHARED_EXPERTS | SPEC_RC_MOE},
    };
    for (size_t i = 0; i < US_ARRAY_LEN(map); i++)
        if (strcmp(map[i].name, name) == 0)
            return map[i].module;
    return 0u;
}

static void layer_sum(struct model_layer *L)
{
    L->fwd_flop = L->bwd_flop = L->fwd_B = L->bwd_B = 0;
    for (int i = 0; i < L->nops; i++) {
        L->fwd_flop += L->ops[i].fwd_flop;
        L->bwd_flop += L->ops[i].bwd_flop;
        L->fwd_B += L->ops[i].fwd_B;
        L->bwd_B += L->ops[i].bwd_B;
    }
    L->comm.tp_B =
        L->comm.tp_collectives_fwd > 0 ? L->comm.tp_fwd_B / L->comm.tp_collectives_fwd : 0.0;
}

/* Matmul parameters one token uses in a layer, unsplit (the 6N of the MFU numerator). */
static double layer_matmul_active(const struct spec_model *m, const struct dims *D, bool moe_layer)
{
    double h = D->h, attn;
    if (D->mla) {
        double ql = m->mla.q_lora_rank, kvl = m->mla.kv_lora_rank;
        double rope = m->mla.qk_rope_head_dim, nope = m->mla.qk_nope_head_dim;
        attn = (ql > 0 ? h * ql + ql * D->a * D->dqk : h * D->a * D->dqk) + h * (kvl + rope) +
               kvl * D->a * (nope + D->dv) + D->a * D->dv * h;
    } else {
        attn = h * (D->a + 2.0 * D->kv_full) * D->dqk + D->a * D->dv * h;
    }
    if (!moe_layer)
        return attn + D->nmat * h * D->f;
    return attn + h * D->E + (D->k * D->fe + D->fs) * D->nmat * h;
}

/* Full-matrix attention FLOPs per token per layer, fwd + bwd: 3 x 2*s*a*(dqk + dv). */
static double attn_model_flop_per_token(const struct dims *D)
{
    return 6.0 * D->s * D->a * (D->dqk + D->dv);
}

/* One transformer layer (attention + dense or MoE MLP) appended to L, with its recompute
 * accounting. */
static void transformer_layer(struct model_layer *L, const struct dims *D,
                              const struct spec_model *m, bool moe_layer)
{
    int first = L->nops;
    int core = attn_block(L, D, m);
    if (moe_layer)
        moe_mlp(L, D);
    else
        dense_mlp(L, D);
    low_precision_casts(L, D, first);
    low_precision_weight_casts(L, D, first);
    double fwd = 0;
    for (int i = first; i < L->nops; i++)
        fwd += L->ops[i].fwd_flop;
    /* Recompute re-runs forward work inside the backward; the collectives it repeats are
     * the forward's, which the step engines replay (model_comm counts one pass each) -
     * but for the MoE block's dispatch and combine, which re-run with it under the moe
     * module and are counted here. */
    (void)core;
    if (D->rc == US_RECOMPUTE_SELECTIVE) {
        for (int i = first; i < L->nops; i++) {
            struct model_op *o = &L->ops[i];
            o->recomputed_selective = (op_module(o->name) & D->rcm) != 0;
            if (o->recomputed_selective)
                L->recompute_flop += o->fwd_flop;
        }
        if (moe_layer && (D->rcm & SPEC_RC_MOE) && D->e > 1)
            L->comm.ep_a2a_bwd += 2;
    } else if (D->rc == US_RECOMPUTE_FULL) {
        L->recompute_flop += fwd;
        for (int i = first; i < L->nops; i++) {
            struct model_op *o = &L->ops[i];
            o->kept = (op_keep(o->name) & D->keep) != 0;
            if (o->kept)
                L->recompute_flop -= o->fwd_flop;
        }
    }
    L->act_B += act_layer(D, m, moe_layer, D->rc, !D->unfused);
    L->act_full_B += act_layer(D, m, moe_layer, US_RECOMPUTE_NONE, !D->unfused);
    L->model_flop +=
        D->b * D->s * (6.0 * layer_matmul_active(m, D, moe_layer) + attn_model_flop_per_token(D));
}

/* Final norm, vocab-parallel logits and cross-entropy (Megatron's vocab-parallel loss keeps
 * the fp32 softmax, 4*s*b*V/t bytes: Korthikanti et al. 2022 s4.3). */
static void head_ops(struct model_layer *L, const struct dims *D, bool own_weight)
{
    double T = D->T, h = D->h, Vt = D->V / D->t;
    norm(L, D, "final_norm", D->Tn, h);
    prm(L, h, h, PRM_REPLICATED);
    gemm_hp(L, D, "logits", T, Vt, h, 1);
    if (own_weight)
        prm(L, h * Vt, h * D->V, PRM_SPLIT);
    tp_column(L, D, T * h * D->w_act);
    mem(L, "cross_entropy", T * Vt * (D->w_act + 4.0), T * Vt * (4.0 + D->w_act));
    /* Kept for backward: norm input and logits input (SP-split) and the fp32 softmax. */
    L->act_B += D->w_act * D->Tn * h * 2.0 + 4.0 * T * Vt;
    L->act_full_B += D->w_act * D->Tn * h * 2.0 + 4.0 * T * Vt;
    L->model_flop += D->b * D->s * 6.0 * h * D->V;
}

static void build_embed(struct model_layer *L, const struct dims *D)
{
    double T = D->T, h = D->h, Vt = D->V / D->t;
    layer_reset(L);
    /* Vocab-parallel lookup: each rank gathers the T/t rows in its slice (on average) and
     * writes a T x h partial; backward adds T/t rows into the fp32 main grad. */
    mem(L, "embedding", (T / D->t) * h * D->w_act + T * h * D->w_act,
        T * h * D->w_act + 2.0 * (T / D->t) * h * D->w_grad);
    prm(L, h * Vt, h * D->V, PRM_SPLIT);
    /* Partial sums combined over TP: reduce-scatter with SP (all-gather backward), else an
     * all-reduce forward (identity backward). */
    if (D->sp)
        tp_add(L, D, 1, 1, T * h * D->w_act);
    else
        tp_add(L, D, 1, 0, T * h * D->w_act);
    L->act_B = L->act_full_B = D->dropout ? D->Tn * h : 0.0; /* embedding dropout mask */
    layer_sum(L);
}

static void build_mtp(struct model_layer *L, const struct dims *D, const struct spec_model *m)
{
    double T = D->T, h = D->h;
    layer_reset(L);
    /* DeepSeek-V3 s2.2: RMSNorm of the hidden state and of the next token's embedding,
     * concatenated and projected 2h -> h, then one transformer block and the shared head. */
    mem(L, "mtp_norms", 2.0 * 2.0 * D->Tn * h * D->w_act, 2.0 * 3.0 * D->Tn * h * D->w_act);
    prm(L, 2.0 * h, 2.0 * h, PRM_REPLICATED);
    gemm(L, D, "mtp_eh_proj", T, h / D->t, 2.0 * h, 1);
    prm(L, 2.0 * h * h / D->t, 2.0 * h * h, PRM_SPLIT);
    tp_column(L, D, T * 2.0 * h * D->w_act);
    tp_add(L, D, 1, 1, T * h * D->w_act); /* output gathered back to full h */
    L->act_B += D->w_act * D->Tn * h * 2.0 + D->w_act * D->Tn * 2.0 * h;
    L->act_full_B += D->w_act * D->Tn * h * 2.0 + D->w_act * D->Tn * 2.0 * h;
    L->model_flop += D->b * D->s * 6.0 * 2.0 * h * h;
    transformer_layer(L, D, m, D->moe);
    head_ops(L, D, false);
    layer_sum(L);
}

void model_costs_compute(const struct spec_model *m, const struct model_split *s,
                         struct model_costs *c)
{
    struct dims D;
    dims_init(&D, m, s);

    layer_reset(&c->dense);
    transformer_layer(&c->dense, &D, m, false);
    layer_sum(&c->dense);

    layer_reset(&c->moe);
    if (D.moe) {
        transformer_layer(&c->moe, &D, m, true);
        layer_sum(&c->moe);
    }

    build_embed(&c->embed, &D);

    layer_reset(&c->head);
    head_ops(&c->head, &D, !m->tied_embeddings);
    layer_sum(&c->head);

    c->n_mtp = m->mtp_layers > 0 ? m->mtp_layers : 0;
    if (c->n_mtp > 0)
        build_mtp(&c->mtp, &D, m);
    else
        layer_reset(&c->mtp);

    int dense_layers = D.moe ? US_MIN(m->moe.dense_layers, m->layers) : m->layers;
    c->n_dense = dense_layers > 0 ? dense_layers : 0;
    c->n_moe = m->layers - c->n_dense;
}

bool model_layer_is_moe(const struct spec_model *m, int i)
{
    return m->has_moe && m->moe.experts > 0 && i >= m->moe.dense_layers && i < m->layers;
}

double model_layer_act_B(const struct spec_model *m, const struct model_split *s, bool moe,
                         bool flash)
{
    struct dims D;
    dims_init(&D, m, s);
    return act_layer(&D, m, moe && D.moe, s->recompute, flash);
}

/* The unsplit costs of one sequence of seq_len tokens. */
static void unsplit_costs(const struct spec_model *m, int seq_len, struct model_costs *c)
{
    struct model_split s = {.tp = 1,
                            .cp = 1,
                            .ep = 1,
                            .sequence_parallel = false,
                            .recompute = US_RECOMPUTE_NONE,
                            .micro_batch = 1,
                            .seq_len = seq_len > 0 ? seq_len : 1,
                            .dtype = US_DTYPE_BF16};
    model_costs_compute(m, &s, c);
}

void model_params(const struct spec_model *m, double *total, double *active)
{
    struct model_costs c;
    unsplit_costs(m, 1, &c);
    /* Tied embeddings: the head reuses the embedding matrix (head.params has none). */
    double tot = c.n_dense * c.dense.params_full + c.n_moe * c.moe.params_full +
                 c.embed.params_full + c.head.params_full;
    double act = tot;
    if (c.n_moe > 0) {
        double idle = (m->moe.experts - m->moe.top_k) * (m->gated_mlp ? 3.0 : 2.0) *
                      (double)m->hidden * m->moe.expert_ffn_hidden;
        act -= c.n_moe * idle;
    }
    if (total)
        *total = tot;
    if (active)
        *active = act;
}

double model_mtp_params(const struct spec_model *m)
{
    if (m->mtp_layers <= 0)
        return 0.0;
    struct model_costs c;
    unsplit_costs(m, 1, &c);
    return c.n_mtp * c.mtp.params_full;
}

double model_flop_per_token(const struct spec_model *m, int seq_len)
{
    struct model_costs c;
    unsplit_costs(m, seq_len, &c);
    double s = seq_len > 0 ? seq_len : 1;
    return (c.n_dense * c.dense.model_flop + c.n_moe * c.moe.model_flop + c.head.model_flop +
            c.n_mtp * c.mtp.model_flop) /
           s;
}
