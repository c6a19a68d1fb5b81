/* estimate/costs: what both step engines start from - the time of each kind of layer for
 * one micro-batch (compute by op, TP/CP/EP collectives, DP gradient and parameter traffic,
 * optimizer), the pipeline send, and the communication groups of the layout. The engines
 * differ only in how they compose these. Leaves out: contention between concurrent
 * streams of one chip (each collective is priced alone), and tied-embedding gradient
 * all-reduce between the first and last stage. Formulas: docs/MODEL.md sections 4-5. */
#include <math.h>
#include <string.h>

#include "core/core.h"
#include "estimate/estimate.h"
#include "estimate/memo.h"

/* Adam update, bytes of HBM traffic per parameter of the local shard: fp32 master weight,
 * first and second moment each read and written (3 x 8), the fp32 main gradient read (4),
 * the gradient-norm pass for clipping reads it again (4), and the bf16 working copy written
 * (2). Megatron-LM mixed-precision optimizer (Narayanan et al. SC'21 sec. 3; Rajbhandari
 * et al. ZeRO, 2020, sec. 3: 16 bytes of state per parameter). */
#define OPT_BYTES_PER_PARAM 34.0

/* Megatron-Core DDP default bucket: max(40M, 1M x dp) parameters
 * (megatron/training/training.py, DistributedDataParallelConfig.bucket_size). */
#define BUCKET_MIN_PARAMS    4.0e7
#define BUCKET_PARAMS_PER_DP 1.0e6

enum grp_id { GRP_TP = 0, GRP_CP, GRP_EP, GRP_DP, GRP_PP, GRP_COUNT };

/* The axis a two-letter name stands for: "tp" "cp" "ep" "dp" "pp"; -1 for any other. */
static int axis_of(char c0, char c1)
{
    if (c1 != 'p')
        return -1;
    switch (c0) {
    case 't':
        return GRP_TP;
    case 'c':
        return GRP_CP;
    case 'e':
        return GRP_EP;
    case 'd':
        return GRP_DP;
    case 'p':
        return GRP_PP;
    default:
        return -1;
    }
}

/* Parses "tp-cp-ep-dp-pp" (innermost first) into positions; false when malformed. */
static bool parse_order(const char *s, int pos[GRP_COUNT])
{
    if (s && strcmp(s, "tp-cp-ep-dp-pp") == 0) { /* Megatron's, nearly every job's */
        for (int i = 0; i < GRP_COUNT; i++)
            pos[i] = i;
        return true;
    }
    for (int i = 0; i < GRP_COUNT; i++)
        pos[i] = -1;
    if (!s || !*s)
        return false;
    int n = 0;
    const char *p = s;
    while (*p) {
        if (n >= GRP_COUNT || !p[1])
            return false;
        int found = axis_of(p[0], p[1]);
        if (found < 0 || pos[found] >= 0)
            return false;
        pos[found] = n++;
        p += 2;
        if (*p == '-')
            p++;
        else if (*p)
            return false;
    }
    return n == GRP_COUNT;
}

void step_groups_init(struct step_ctx *ctx)
{
    const struct us_layout *l = &ctx->plan.lay;
    int pos[GRP_COUNT];
    if (!parse_order(ctx->job ? ctx->job->par.order : NULL, pos)) {
        for (int i = 0; i < GRP_COUNT; i++)
            pos[i] = i; /* Megatron's default: tp-cp-ep-dp-pp */
    }
    int ep = l->ep > 0 ? l->ep : 1;
    int dp = l->dp > 0 ? l->dp : 1;
    int cp = l->cp > 0 ? l->cp : 1;
    /* Expert parallelism is carved out of the data-parallel ranks (Megatron-Core): the dp
     * axis is ep inner ranks times dp/ep outer ones. When ep does not divide dp (it divides
     * dp x cp), the ep axis takes its ranks from cp x dp and the outer dp axis is 1. */
    int dp_outer = dp % ep == 0 ? dp / ep : 1;
    int size[GRP_COUNT] = {l->tp > 0 ? l->tp : 1, cp, ep, dp_outer, l->pp > 0 ? l->pp : 1};
    /* An axis's stride is the product of the sizes of the axes inside it (pos is a
     * permutation of 0..4: parse_order takes each axis once). */
    int at[GRP_COUNT];
    for (int i = 0; i < GRP_COUNT; i++)
        at[pos[i]] = i;
    int64_t stride[GRP_COUNT], st = 1;
    for (int k = 0; k < GRP_COUNT; k++) {
        stride[at[k]] = st;
        st *= size[at[k]];
    }
    struct step_groups *g = &ctx->groups;
    g->tp = (struct step_group){size[GRP_TP], stride[GRP_TP]};
    g->cp = (struct step_group){cp, stride[GRP_CP]};
    g->ep = (struct step_group){ep, stride[GRP_EP]};
    g->pp = (struct step_group){size[GRP_PP], stride[GRP_PP]};
    /* Dense gradients reduce over dp x cp ranks (Megatron's data-parallel-with-CP group):
     * its innermost member axis gives the stride; the span is exact for the default order
     * where cp, ep and dp are adjacent. */
    int64_t dst = stride[GRP_DP];
    if (ep > 1 && stride[GRP_EP] < dst)
        dst = stride[GRP_EP];
    if (cp > 1 && stride[GRP_CP] < dst)
        dst = stride[GRP_CP];
    g->dp = (struct step_group){dp * cp, dst};
    /* Expert gradients reduce over the expert-data-parallel ranks: dp x cp / ep. */
    int64_t est = cp > 1 && stride[GRP_CP] < stride[GRP_DP] ? stride[GRP_CP] : stride[GRP_DP];
    int edp = (dp * cp) / ep;
    g->edp = (struct step_group){edp > 0 ? edp : 1, est};
    /* Megatron-Core lays the expert ranks out with a rank generator of their own, etp-ep-dp-pp
     * over the tp x cp x dp ranks of a stage with cp = 1 (NVIDIA/Megatron-LM@d98e8a64
     * megatron/core/parallel_state.py, initialize_model_parallel: the dense generator has
     * ep=1, expert_decoder_rank_generator tp=expert_tensor_parallel_size, ep, dp=world /
     * (etp x ep x pp), cp=1, the same order): an EP group is ep ranks at stride etp (etp =
     * tp unless parallel.etp is 1, MoE parallel folding) and the expert-data-parallel group
     * the rest, at stride etp x ep. Under the default order this differs from the dense
     * axes above only with expert TP 1 under tp > 1, or with cp > 1: at cp 2, ep 4 on 8-GPU
     * nodes the expert-data-parallel group holds 2 ranks of a node, not 8 (the dp x cp
     * stride made it contiguous), so most of its gathers and reductions cross the
     * scale-out fabric. */
    int tp = l->tp > 0 ? l->tp : 1;
    bool megatron_order = true;
    for (int i = 0; i < GRP_COUNT; i++)
        megatron_order = megatron_order && pos[i] == i;
    bool folded = tp > 1 && ctx->job && ctx->job->par.etp == 1;
    if (ep > 1 && (folded || (megatron_order && cp > 1))) {
        int etp = folded ? 1 : tp;
        g->ep = (struct step_group){ep, etp};
        int fedp = (tp * dp * cp) / (etp * ep);
        g->edp = (struct step_group){fedp > 0 ? fedp : 1, (int64_t)etp * ep};
    }
}

/* Slot hash of a cache key (core_hash_words: 499 prices of a llama3-405b search once fell in
 * 201 slots under plain FNV-1a and evicted each other 161,000 times). */
static uint64_t key_hash(const int64_t *key, int n)
{
    return core_hash_words(key, n);
}

/* One pricing pass: the context and, without a cross-layout cache, the collectives priced
 * so far (layer kinds often ask the same question: an embedding's TP collectives are a
 * layer's). */
#define PRICER_CACHE 16
struct pricer {
    const struct step_ctx *ctx;
    struct step_price_cache *ext; /* across layouts (NULL = none) */
    int n;
    struct {
        enum net_op op;
        double bytes;
        int size;
        int64_t stride;
        double time_s;
    } seen[PRICER_CACHE];
};

/* A collective's price from the cross-layout cache (direct-mapped; net_collective on a
 * miss). */
static double cached_coll_s(struct pricer *pr, enum net_op op, double bytes,
                            const struct step_group *g)
{
    int64_t key[5];
    memcpy(&key[0], &bytes, sizeof bytes);
    key[1] = (int64_t)op;
    key[2] = g->size;
    key[3] = g->stride;
    key[4] = pr->ctx->job->chips;
    struct step_price_slot *sl = &pr->ext->slot[key_hash(key, 5) % STEP_PRICE_SLOTS];
    if (sl->used && sl->op == (int)op && sl->bytes == bytes && sl->size == g->size &&
        sl->stride == g->stride && sl->chips == pr->ctx->job->chips)
        return sl->time_s;
    struct net_cost c;
    net_collective(&pr->ctx->topo, op, bytes, g->size, g->stride, true, NET_ALGO_NONE, &c);
    sl->used = true;
    sl->op = (int)op;
    sl->bytes = bytes;
    sl->size = g->size;
    sl->stride = g->stride;
    sl->chips = pr->ctx->job->chips;
    sl->time_s = c.time_s;
    return c.time_s;
}

/* The price of one collective. With the cross-layout cache (a search) it is looked up there
 * alone: scanning this pass's list first cost more than it saved (on a moe-2t search, 57M
 * instructions of scanning for 0.2M hits the hash would have had too). Without one, the
 * pass's list spares net_collective the questions it has answered. */
static double coll_s(struct pricer *pr, enum net_op op, double bytes, const struct step_group *g)
{
    if (g->size <= 1 || bytes <= 0.0)
        return 0.0;
    if (pr->ext)
        return cached_coll_s(pr, op, bytes, g);
    for (int i = 0; i < pr->n; i++)
        if (pr->seen[i].op == op && pr->seen[i].bytes == bytes && pr->seen[i].size == g->size &&
            pr->seen[i].stride == g->stride)
            return pr->seen[i].time_s;
    struct net_cost c;
    net_collective(&pr->ctx->topo, op, bytes, g->size, g->stride, true, NET_ALGO_NONE, &c);
    if (pr->n < PRICER_CACHE) {
        pr->seen[pr->n].op = op;
        pr->seen[pr->n].bytes = bytes;
        pr->seen[pr->n].size = g->size;
        pr->seen[pr->n].stride = g->stride;
        pr->seen[pr->n].time_s = c.time_s;
        pr->n++;
    }
    return c.time_s;
}

/* Bytes per element of gradients as they are reduced: Megatron reduces bf16 (and fp8)
 * training in fp32 ("accumulate and all-reduce gradients in fp32 for bfloat16",
 * megatron/training/arguments.py) and fp16 training in fp16; training.grad_reduce_dtype:
 * bf16 reduces in bf16 (Megatron-Core DDP grad_reduce_in_fp32 false, as NeMo's and
 * Megatron-Bridge's fp8 performance recipes set it). model_split_grad_elem_B says which. */
static double grad_bytes(const struct model_split *s)
{
    return model_split_grad_elem_B(s);
}

/* Bytes per element of parameters as they are gathered: the bf16/fp16 working copy, or fp8
 * with training.fp8_params. */
static double param_bytes(const struct model_split *s)
{
    if (s->fp8_params) /* training.fp8_params: Megatron's fp8_param_gather */
        return model_gemm_elem_B(s->dtype);
    return s->dtype == US_DTYPE_FP32 ? 4.0 : 2.0;
}

/* DP traffic of `layers` layers of this kind: dense part over dp, expert part over edp. */
static double dp_coll_s(struct pricer *pr, enum net_op op, double dense_B, double expert_B)
{
    return coll_s(pr, op, dense_B, &pr->ctx->groups.dp) +
           coll_s(pr, op, expert_B, &pr->ctx->groups.edp);
}

/* estimate_op_time_s of op forward and backward, through cache's op memo when there is
 * one: the key is the bits of everything that function reads but the system (one job per
 * cache), so a hit is the pair it would give. */
static void op_times(struct step_price_cache *cache, const struct spec_system *sys,
                     enum us_dtype dt, const struct model_op *op, double *tf, double *tb)
{
    struct step_op_memo *mo = NULL;
    int64_t key[STEP_OP_KEY_WORDS];
    if (cache) {
        const double f[] = {op->m,        op->n,        op->k,     op->count,
                            op->fwd_flop, op->bwd_flop, op->fwd_B, op->bwd_B};
        key[0] = (int64_t)op->kind | (op->high_precision ? 256 : 0) | (op->grouped ? 512 : 0);
        key[1] = (int64_t)dt;
        _Static_assert(sizeof f == (STEP_OP_KEY_WORDS - 2) * sizeof key[0], "op key words");
        memcpy(&key[2], f, sizeof f);
        mo = &cache->op[key_hash(key, STEP_OP_KEY_WORDS) % STEP_OP_MEMO_SLOTS];
        if (mo->used && memcmp(mo->key, key, sizeof key) == 0) {
            *tf = mo->fwd_s;
            *tb = mo->bwd_s;
            return;
        }
    }
    *tf = estimate_op_time_s(sys, dt, op, false);
    *tb = estimate_op_time_s(sys, dt, op, true);
    if (mo) {
        mo->used = true;
        memcpy(mo->key, key, sizeof key);
        mo->fwd_s = *tf;
        mo->bwd_s = *tb;
    }
}

/* The part of a layer's times that depends on the model split and the chip only: op times
 * (roofline, quantization), recompute, busy times, FLOPs. *sel_attn: selective recompute
 * re-runs the attention core (and so its CP ring). */
static void layer_compute(const struct step_ctx *ctx, struct step_price_cache *cache,
                          const struct model_layer *ly, struct step_layer_time *lt, bool *sel_attn)
{
    const struct spec_job *job = ctx->job;
    const struct spec_system *sys = &job->system;
    const struct us_layout *lay = &ctx->plan.lay;
    enum us_dtype dt = ctx->plan.split.dtype;
    enum us_recompute rc = lay->recompute;
    memset(lt, 0, sizeof *lt);
    double mem_bw = sys->chip.hbm_Bps * sys->eff.memory;
    /* The framework's production efficiency slows every kernel alike (docs/MODEL.md 6.6). */
    const struct spec_fw_params *fw = &job->train.fw;
    double slow = fw->compute_eff > 0.0 ? 1.0 / fw->compute_eff : 1.0;
    /* A full-iteration CUDA graph replays the step's kernels from one captured graph: the
     * host launches the graph, not each kernel, so the per-launch floor is gone (Megatron's
     * cuda_graph_impl "full_iteration"; docs/MODEL.md 4.5). */
    double host = job->train.cuda_graph_full ? 0.0 : fw->kernel_host_s;
    bool per_expert = job->train.framework == SPEC_FW_MEGATRON;
    /* Transformer Engine quantizes each fp8 GEMM's operand - the input forward, the output
     * gradient backward - in kernels of their own, per expert in a grouped GEMM, as many as
     * training.fp8_recipe says (spec_fp8_quant_launches; docs/MODEL.md 4.5). Megatron-Core
     * only, the one framework here that runs Transformer Engine's recipes. */
    double q = per_expert && dt == US_DTYPE_FP8
                   ? (double)spec_fp8_quant_launches(job->train.fp8_recipe)
                   : 0.0;
    *sel_attn = false;
    for (int i = 0; i < ly->nops; i++) {
        const struct model_op *op = &ly->ops[i];
        double tf, tb;
        op_times(cache, sys, dt, op, &tf, &tb);
        tf *= slow;
        tb *= slow;
        double kf = tf, kb = tb; /* the kernels' own time: what keeps the chip busy */
        /* The host launches kernels ahead of the device, so its cost per launch shows only
         * where the kernels are shorter: an op takes at least its launches' host time -
         * forward its kernels, backward twice as many (dgrad and wgrad of a GEMM). Only
         * Megatron-Core launches a GEMM per local expert (model_op.kernels); torchtitan's
         * grouped_mm, XLA's ragged dot and the Neuron compiler launch one grouped kernel.
         * Likewise only Transformer Engine's ring attention (Megatron-Core's CP) is counted
         * as one attention kernel per ring step (model_op.kernels = c); the other
         * frameworks' CP is not traced and keeps one. */
        if (host > 0.0) {
            double n = per_expert && op->kernels > 1 ? (double)op->kernels : 1.0;
            double nq = op->kind == MODEL_OP_GEMM && !op->high_precision ? n * q : 0.0;
            tf = fmax(tf, (n + nq) * host);
            tb = fmax(tb, (2.0 * n + nq) * host);
        }
        bool attn = op->kind == MODEL_OP_ATTN;
        bool rerun = rc == US_RECOMPUTE_FULL
                         ? !op->kept
                         : rc == US_RECOMPUTE_SELECTIVE && op->recomputed_selective;
        if (rc == US_RECOMPUTE_FULL && rerun) {
            if (attn)
                lt->rerun_attn_s += tf;
            else
                lt->rerun_other_s += tf;
        }
        double re = rerun ? tf : 0.0; /* forward re-run inside the backward */
        lt->launch_s += (tf - kf) * (rerun ? 2.0 : 1.0) + (tb - kb);
        if (attn) {
            lt->attn_fwd_s += tf;
            lt->attn_bwd_s += tb;
        } else {
            lt->other_fwd_s += tf;
            lt->other_bwd_s += tb;
        }
        if (rc == US_RECOMPUTE_SELECTIVE && op->recomputed_selective) {
            *sel_attn = *sel_attn || attn;
            if (attn)
                lt->attn_bwd_s += re;
            else
                lt->other_bwd_s += re;
        }
        if (op->kind != MODEL_OP_MEM) /* waiting on the host is not busy */
            lt->compute_busy_s += kf * (rerun ? 2.0 : 1.0) + kb;
        if (mem_bw > 0.0) {
            double bytes = op->fwd_B + op->bwd_B + (re > 0.0 ? op->fwd_B : 0.0);
            lt->hbm_busy_s += bytes / mem_bw;
        }
    }
    /* A host wait inside the forward (Megatron-Core's alltoall dispatcher, model_layer.
     * host_syncs_fwd): the host stops until the device has drained to it, so the device then
     * idles until the host has launched the next kernel - one launch's host time, which the
     * host can no longer hide by running ahead. A full recompute re-runs the forward and waits
     * again. Megatron-Core only: the others' dispatchers are not read (docs/MODEL.md 4.5). */
    if (host > 0.0 && per_expert && ly->host_syncs_fwd > 0) {
        double w = (double)ly->host_syncs_fwd * host;
        lt->other_fwd_s += w;
        if (rc == US_RECOMPUTE_FULL)
            lt->rerun_other_s += w;
        lt->launch_s += w * (rc == US_RECOMPUTE_FULL ? 2.0 : 1.0);
    }
    lt->full_recompute = rc == US_RECOMPUTE_FULL;
    lt->hw_flop = ly->fwd_flop + ly->bwd_flop + ly->recompute_flop;
}

/* The model-parallel collectives of a layer - TP, CP and EP - onto lt. */
static void layer_mp_time(struct pricer *pr, const struct model_layer *ly, bool sel_attn,
                          struct step_layer_time *lt)
{
    const struct step_ctx *ctx = pr->ctx;
    const struct us_layout *lay = &ctx->plan.lay;

    /* Tensor parallel: with sequence parallelism the collectives alternate all-gather and
     * reduce-scatter (Korthikanti et al. 2022 sec. 4.2.2); without, they are all-reduces
     * (Shoeybi et al. 2019, the f/g operators). Each priced at the mean size of the pass. */
    const struct model_comm *c = &ly->comm;
    const struct step_groups *g = &ctx->groups;
    int nfb[2] = {c->tp_collectives_fwd, c->tp_collectives_bwd};
    double szb[2] = {c->tp_fwd_B, c->tp_bwd_B};
    double *tpt[2] = {&lt->tp_fwd_s, &lt->tp_bwd_s};
    double last_mean = -1.0, ag = 0.0, rs = 0.0, ar = 0.0; /* backward reuses forward's sizes */
    for (int d = 0; d < 2 && g->tp.size > 1; d++) {
        int n = nfb[d];
        if (n <= 0 || szb[d] <= 0.0)
            continue;
        double mean = szb[d] / (double)n;
        if (mean != last_mean) {
            if (lay->sequence_parallel) {
                ag = coll_s(pr, NET_ALL_GATHER, mean, &g->tp);
                rs = coll_s(pr, NET_REDUCE_SCATTER, mean, &g->tp);
            } else {
                ar = coll_s(pr, NET_ALL_REDUCE, mean, &g->tp);
            }
            last_mean = mean;
        }
        if (lay->sequence_parallel)
            *tpt[d] = (double)(n - n / 2) * ag + (double)(n / 2) * rs;
        else
            *tpt[d] = (double)n * ar;
    }
    /* Context parallel: ring attention passes KV blocks to the neighbour in cp-1 steps
     * (Liu et al. 2023, Ring Attention; Megatron-Core CP); the backward sends KV and its
     * gradient. Selective recompute re-runs the attention core and so its ring. */
    if (g->cp.size > 1 && c->cp_B > 0.0) {
        double steps = (double)(g->cp.size - 1);
        struct step_group nb = {2, g->cp.stride};
        lt->cp_fwd_s = steps * coll_s(pr, NET_P2P, c->cp_B / steps, &nb);
        lt->cp_bwd_s = steps * coll_s(pr, NET_P2P, c->cp_bwd_B / steps, &nb);
        if (sel_attn)
            lt->cp_bwd_s += lt->cp_fwd_s;
    }
    /* Expert parallel: dispatch and combine all-to-alls. */
    if (g->ep.size > 1 && c->ep_B > 0.0) {
        double a2a = coll_s(pr, NET_ALL_TO_ALL, c->ep_B, &g->ep);
        lt->ep_fwd_s = (double)c->ep_a2a_fwd * a2a;
        lt->ep_bwd_s = (double)c->ep_a2a_bwd * a2a;
    }
}

/* The data-parallel traffic of a layer and its optimizer update, onto lt. */
static void layer_dp_time(struct pricer *pr, const struct model_layer *ly, double bucket_params,
                          struct step_layer_time *lt)
{
    const struct step_ctx *ctx = pr->ctx;
    const struct spec_system *sys = &ctx->job->system;
    const struct us_layout *lay = &ctx->plan.lay;
    const struct step_groups *g = &ctx->groups;
    double mem_bw = sys->chip.hbm_Bps * sys->eff.memory;
    lt->params_local = ly->params;
    double expert = ly->params_expert;
    if (expert > ly->params)
        expert = ly->params;
    double dense = ly->params - expert;
    double gb = grad_bytes(&ctx->plan.split), pb = param_bytes(&ctx->plan.split);
    int zero = lay->zero;
    enum net_op red = zero >= 1 ? NET_REDUCE_SCATTER : NET_ALL_REDUCE;
    if (zero >= 3) {
        lt->grad_s = dp_coll_s(pr, red, dense * gb, expert * gb);
        lt->param_ag_s = dp_coll_s(pr, NET_ALL_GATHER, dense * pb, expert * pb);
        lt->bucket_layers = 1;
        lt->bucket_grad_s = lt->grad_s;
        lt->bucket_ag_s = lt->param_ag_s;
    } else if (ly->params > 0.0) {
        double nl = ceil(bucket_params / ly->params);
        lt->bucket_layers = nl > 1.0 ? (int)nl : 1;
        double k = (double)lt->bucket_layers;
        lt->bucket_grad_s = dp_coll_s(pr, red, k * dense * gb, k * expert * gb);
        if (zero >= 1)
            lt->bucket_ag_s = dp_coll_s(pr, NET_ALL_GATHER, k * dense * pb, k * expert * pb);
        lt->grad_s = lt->bucket_grad_s / k;
        lt->param_ag_s = lt->bucket_ag_s / k;
    } else {
        lt->bucket_layers = 1;
    }
    /* Optimizer: the local shard (ZeRO >= 1 shards it over the DP group). */
    double shard = ly->params;
    if (zero >= 1)
        shard = dense / (double)g->dp.size + expert / (double)g->edp.size;
    lt->opt_s = mem_bw > 0.0 ? shard * OPT_BYTES_PER_PARAM / mem_bw : 0.0;
}

void step_compute_of(const struct step_ctx *ctx, struct step_compute *out)
{
    step_compute_of_with(ctx, NULL, out);
}

void step_compute_of_with(const struct step_ctx *ctx, struct step_price_cache *cache,
                          struct step_compute *out)
{
    const struct model_costs *mc = &ctx->costs;
    memset(out, 0, sizeof *out);
    layer_compute(ctx, cache, &mc->dense, &out->dense, &out->sel_attn[0]);
    if (mc->n_moe > 0)
        layer_compute(ctx, cache, &mc->moe, &out->moe, &out->sel_attn[1]);
    layer_compute(ctx, cache, &mc->embed, &out->embed, &out->sel_attn[2]);
    layer_compute(ctx, cache, &mc->head, &out->head, &out->sel_attn[3]);
}

/* Where the ZeRO stage sits in the step-costs memo key (memo_key), and how many words of
 * it (those that vary within a job, the stage included) are hashed. */
#define MEMO_ZERO_WORD  10
#define MEMO_HASH_WORDS (MEMO_ZERO_WORD + 1)

/* The model-parallel fields of a layer kind (those layer_mp_time fills). */
static void mp_get(const struct step_layer_time *lt, double mp[6])
{
    const double v[6] = {lt->tp_fwd_s, lt->tp_bwd_s, lt->cp_fwd_s,
                         lt->cp_bwd_s, lt->ep_fwd_s, lt->ep_bwd_s};
    memcpy(mp, v, sizeof v);
}

static void mp_put(const double mp[6], struct step_layer_time *lt)
{
    lt->tp_fwd_s = mp[0];
    lt->tp_bwd_s = mp[1];
    lt->cp_fwd_s = mp[2];
    lt->cp_bwd_s = mp[3];
    lt->ep_fwd_s = mp[4];
    lt->ep_bwd_s = mp[5];
}

/* Overlapped communication is not free on a GPU: its kernels take SMs (CUs) from the
 * compute they run beside. Both kinds use about 8: NeMo's userbuffers configuration for
 * GPT-3 175B on H100 (nemo/collections/llm/recipes/tp_overlap_configs/userbuffers.py,
 * userbuffers_bf16_h100_h12288_tp4_mbs1_seqlen2048) gives the pipelined TP reduce-scatter 24
 * SMs, the bulk overlaps 2-4 and the ring exchanges 1 (copy engines move the data), about 8
 * over a layer's collectives; MLPerf's Megatron configurations overlap DP with
 * NCCL_MIN_CTAS=8 (mlcommons/training_results_v4.0, llama2_70b_lora config_common.sh: "Large
 * value if overlap is disabled"). Compute slows by 8 / compute_units of the time the two run
 * together. Chips with few, large matrix units (TPU, Trainium, Gaudi: under 32) move
 * collectives with DMA engines, not compute cores: no contention. docs/MODEL.md 5.3. */
#define OVERLAP_COMM_UNITS 8.0

/* Transformer Engine's userbuffers pipeline each forward reduce-scatter of a TP-overlapped
 * layer - the projection's and FC2's, half the forward's collectives under sequence
 * parallelism - in UB_RS_SPLITS chunks, each sent after its GEMM chunk, so the last chunk's
 * runs after the last GEMM and the layer waits for it (NVIDIA/TransformerEngine@d0067d0d
 * comm_gemm_overlap.cpp split_overlap_rs: "Last communication chunk with max SM", then
 * stream_main waits on _stop_comm; the ring-exchange reduce-scatter of split_overlap_rs_p2p
 * likewise sends its last partial after its last chunk). 4 chunks: TE's default for the
 * pipelined method (module/base.py get_default_config), NeMo's GPT-3 175B configurations
 * (NeMo-Framework-Launcher ub_cfg_a100_h12288_tp4_mbs{1,2}_seqlen2048.yaml: proj_fprop and
 * fc2_fprop num_splits 4; ub_cfg_h100_h12288_tp4_mbs1_seqlen2048.yaml: proj_fprop num_splits
 * 4, fc2_fprop a ring exchange over tp 4). The all-gathers' ring exchanges start on the local
 * chunk and the backward's reduce-scatters run beside the weight gradients (bulk): none of
 * theirs waits. docs/MODEL.md 5.3. */
#define UB_RS_SPLITS    4.0
#define UB_FWD_RS_SHARE 0.5

static double contention_of(const struct spec_chip *chip)
{
    return chip->compute_units >= 32 ? OVERLAP_COMM_UNITS / (double)chip->compute_units : 0.0;
}

/* What one layer's compute loses to the communication that overlaps it, per micro-batch:
 * overlapped TP collectives, and the ZeRO-3 parameter gathers and ZeRO-2/3 gradient
 * reduce-scatters that run every micro-batch (ZeRO-0/1 reduce once per step, after the last
 * backward: left out). Charged on the compute stream in both engines alike. */
static void overlap_contention(const struct step_costs *sc, double c, struct step_layer_time *lt)
{
    if (!(c > 0.0))
        return;
    /* the forward's exposed tail (sc->tp_tail_fwd) no longer runs beside the compute */
    double f = sc->tp_overlap ? (1.0 - sc->tp_tail_fwd) * lt->tp_fwd_s : 0.0;
    double b = sc->tp_overlap ? lt->tp_bwd_s : 0.0;
    if (sc->zero >= 3) {
        f += lt->param_ag_s;
        b += lt->param_ag_s + lt->grad_s;
    } else if (sc->zero == 2) {
        b += lt->grad_s;
    }
    double slow_f = c * fmin(f, lt->attn_fwd_s + lt->other_fwd_s);
    lt->other_fwd_s += slow_f;
    if (lt->full_recompute) /* the replayed forward meets the same traffic */
        lt->rerun_other_s += slow_f;
    lt->other_bwd_s += c * fmin(b, lt->attn_bwd_s + lt->other_bwd_s);
    /* The overlapped share of the EP all-to-alls (all but the exposed micro-batch's,
     * step_ep_exposed_share) holds sc->ep_sm_share of the units beside the layer's compute. */
    if (sc->ep_sm_share > 0.0) {
        double hid = 1.0 - step_ep_exposed_share(sc);
        double ef = sc->ep_sm_share * fmin(hid * lt->ep_fwd_s, lt->attn_fwd_s + lt->other_fwd_s);
        lt->other_fwd_s += ef;
        if (lt->full_recompute)
            lt->rerun_other_s += ef;
        lt->other_bwd_s +=
            sc->ep_sm_share * fmin(hid * lt->ep_bwd_s, lt->attn_bwd_s + lt->other_bwd_s);
    }
}

/* The four kinds' times: the split's part (pre, or computed here), the model-parallel
 * collectives (from mp when it holds them for this key but the ZeRO stage, which they do not
 * read) and the DP traffic. */
static void kinds_time(struct pricer *pr, const struct step_compute *pre, struct step_mp_memo *mp,
                       const int64_t key[STEP_COSTS_KEY_WORDS], struct step_costs *sc)
{
    const struct model_costs *mc = &pr->ctx->costs;
    struct step_compute own;
    if (!pre) {
        step_compute_of_with(pr->ctx, pr->ext, &own);
        pre = &own;
    }
    const struct model_layer *ly[4] = {&mc->dense, &mc->moe, &mc->embed, &mc->head};
    const struct step_layer_time *pk[4] = {&pre->dense, &pre->moe, &pre->embed, &pre->head};
    struct step_layer_time *lt[4] = {&sc->dense, &sc->moe, &sc->embed, &sc->head};
    int64_t mp_key[STEP_COSTS_KEY_WORDS];
    bool mp_hit = false;
    if (mp) {
        memcpy(mp_key, key, sizeof mp_key);
        mp_key[MEMO_ZERO_WORD] = 0;
        mp_hit = mp->used && memcmp(mp->key, mp_key, sizeof mp_key) == 0;
    }
    double contention = contention_of(&pr->ctx->job->system.chip);
    for (int k = 0; k < 4; k++) {
        if (k == 1 && mc->n_moe <= 0)
            continue; /* no MoE layers: sc->moe stays 0 */
        *lt[k] = *pk[k];
        if (mp_hit)
            mp_put(mp->t[k], lt[k]);
        else
            layer_mp_time(pr, ly[k], pre->sel_attn[k], lt[k]);
        layer_dp_time(pr, ly[k], sc->bucket_params, lt[k]);
        if (mp && !mp_hit)
            mp_get(lt[k], mp->t[k]);
        overlap_contention(sc, contention, lt[k]);
    }
    if (mp && !mp_hit) {
        mp->used = true;
        memcpy(mp->key, mp_key, sizeof mp_key);
    }
}

/* Pipeline send: one micro-batch's activations b x s x h (the gradient in backward is the
 * same size), split over tp under sequence parallelism and over cp (Narayanan et al. SC'21
 * sec. 4.1, scatter/gather optimisation for the tp case). */
static double pipeline_send_s(struct pricer *pr)
{
    const struct step_ctx *ctx = pr->ctx;
    const struct us_layout *lay = &ctx->plan.lay;
    const struct model_split *sp = &ctx->plan.split;
    double act = sp->dtype == US_DTYPE_FP32 ? 4.0 : 2.0;
    double bytes =
        (double)sp->micro_batch * (double)sp->seq_len * (double)ctx->job->model.hidden * act;
    if (lay->sequence_parallel && lay->tp > 1)
        bytes /= (double)lay->tp;
    if (lay->cp > 1)
        bytes /= (double)lay->cp;
    struct step_group nb = {2, ctx->groups.pp.stride};
    return coll_s(pr, NET_P2P, bytes, &nb);
}

/* The memo key of struct step_costs_memo. The kinds' times are a function of it within one
 * job: the layers' costs of the split (model_costs_compute), the op times of the split and
 * recompute (pre, step_compute_of), every group a collective of the kinds uses, the ZeRO
 * stage, the bucket size (from the DP group's size) and the topology (from the chip count,
 * the job's system being fixed). The pipeline send adds the PP group (its size gives pp,
 * its stride the neighbour); the TP and CP sizes that split the send are the groups'. */
static void memo_key(const struct step_ctx *ctx, int64_t key[STEP_COSTS_KEY_WORDS])
{
    const struct model_split *s = &ctx->plan.split;
    const struct us_layout *l = &ctx->plan.lay;
    const struct step_groups *g = &ctx->groups;
    /* What varies within a job, then the ZeRO stage (word MEMO_ZERO_WORD), then what follows
     * from them and the job (the strides from the sizes and the rank order). The first
     * MEMO_HASH_WORDS words are hashed, all are compared. */
    const int64_t vary[] = {s->tp,
                            s->cp,
                            s->ep,
                            s->sequence_parallel,
                            (int64_t)s->recompute,
                            s->micro_batch,
                            (int64_t)s->dtype,
                            ctx->job->chips,
                            g->dp.size,
                            g->pp.size};
    const int64_t rest[] = {s->seq_len,
                            s->grad_reduce,
                            l->sequence_parallel,
                            (int64_t)l->recompute,
                            g->tp.size,
                            g->tp.stride,
                            g->cp.size,
                            g->cp.stride,
                            g->ep.size,
                            g->ep.stride,
                            g->dp.stride,
                            g->edp.size,
                            g->edp.stride,
                            g->pp.stride,
                            step_tp_overlap(ctx->job, l)};
    _Static_assert(sizeof vary == MEMO_ZERO_WORD * sizeof key[0], "memo key: varying words");
    _Static_assert(sizeof rest == (STEP_COSTS_KEY_WORDS - MEMO_ZERO_WORD - 1) * sizeof key[0],
                   "memo key: derived words");
    memcpy(key, vary, sizeof vary);
    key[MEMO_ZERO_WORD] = l->zero;
    memcpy(key + MEMO_ZERO_WORD + 1, rest, sizeof rest);
}

bool step_tp_overlap(const struct spec_job *job, const struct us_layout *lay)
{
    bool on = lay->tp_overlap == US_OVERLAP_JOB ? job->par.tp_comm_overlap
                                                : lay->tp_overlap == US_OVERLAP_ON;
    /* Megatron-Core overlaps TP only under sequence parallelism: Transformer Engine's
     * userbuffers pipeline the all-gather and reduce-scatter SP uses (Megatron-Bridge's
     * comm_overlap.py turns tp_comm_overlap off when sequence_parallel is off). */
    if (on && job->train.framework == SPEC_FW_MEGATRON && !lay->sequence_parallel)
        on = false;
    return on;
}

void step_costs_compute(const struct step_ctx *ctx, struct step_costs *sc)
{
    step_costs_compute_with(ctx, NULL, NULL, sc);
}

/* The fields of sc that come from the layout and the job alone. */
static void costs_header(const struct step_ctx *ctx, struct step_costs *sc)
{
    const struct spec_job *job = ctx->job;
    const struct us_layout *lay = &ctx->plan.lay;
    sc->pp = lay->pp > 0 ? lay->pp : 1;
    sc->vpp = lay->vpp > 0 ? lay->vpp : 1;
    sc->m = ctx->plan.microbatches > 0 ? ctx->plan.microbatches : 1;
    sc->zero = lay->zero < 0 ? 0 : (lay->zero > 3 ? 3 : lay->zero);
    sc->zero3_serial = sc->zero >= 3 && ctx->mem.zero3_gathered_layers == 1;
    sc->schedule = lay->schedule;
    if (sc->vpp > 1)
        sc->schedule = US_SCHEDULE_INTERLEAVED;
    else if (sc->schedule == US_SCHEDULE_INTERLEAVED)
        sc->schedule = US_SCHEDULE_1F1B;
    sc->tp_overlap = step_tp_overlap(job, lay);
    sc->tp_tail_fwd = sc->tp_overlap && job->train.framework == SPEC_FW_MEGATRON
                          ? UB_FWD_RS_SHARE / UB_RS_SPLITS
                          : 0.0;
    sc->ep_overlap = job->par.ep_comm_overlap;
    /* An overlapped all-to-all's kernels hold SMs while they run, as the other overlapped
     * collectives do (overlap_contention): DeepEP and HybridEP a set number
     * (STEP_FLEX_DISPATCHER_SMS unless parallel.ep_dispatcher_sms says), NCCL's all-to-all of
     * the alltoall dispatcher the OVERLAP_COMM_UNITS of any NCCL collective. Chips that move
     * collectives with DMA engines (under 32 compute units) lose none. */
    sc->ep_sm_share = 0.0;
    const struct spec_chip *chip = &job->system.chip;
    if (sc->ep_overlap && chip->compute_units >= 32) {
        double n = job->par.ep_dispatcher != 1      ? OVERLAP_COMM_UNITS
                   : job->par.ep_dispatcher_sms > 0 ? (double)job->par.ep_dispatcher_sms
                                                    : (double)STEP_FLEX_DISPATCHER_SMS;
        double share = n / (double)chip->compute_units;
        sc->ep_sm_share = share < 1.0 ? share : 1.0;
    }
    sc->overhead_s = job->system.step_overhead_s;
    double bp = BUCKET_PARAMS_PER_DP * (double)ctx->groups.dp.size;
    sc->bucket_params = bp > BUCKET_MIN_PARAMS ? bp : BUCKET_MIN_PARAMS;
    sc->race_all = false;
}

void step_costs_compute_with(const struct step_ctx *ctx, const struct step_compute *pre,
                             struct step_price_cache *cache, struct step_costs *sc)
{
    int64_t key[STEP_COSTS_KEY_WORDS];
    struct step_costs_memo *mo = NULL;
    if (cache) {
        memo_key(ctx, key);
        mo = &cache->memo[key_hash(key, MEMO_HASH_WORDS) % STEP_COSTS_MEMO_SLOTS];
        if (mo->used && memcmp(mo->key, key, sizeof key) == 0) {
            *sc = mo->costs; /* the kinds and the send; the header is this layout's */
            costs_header(ctx, sc);
            return;
        }
    }
    memset(sc, 0, sizeof *sc);
    costs_header(ctx, sc);
    struct pricer pr;
    pr.ctx = ctx;
    pr.ext = cache;
    pr.n = 0;
    kinds_time(&pr, pre, cache ? &cache->mp : NULL, key, sc);
    if (sc->pp > 1)
        sc->p2p_s = pipeline_send_s(&pr);
    if (mo) {
        mo->used = true;
        memcpy(mo->key, key, sizeof key);
        mo->costs = *sc;
    }
}

void step_stage_of(const struct step_ctx *ctx, int s, struct step_stage *st)
{
    const struct plan *p = &ctx->plan;
    plan_stage_layers(p, &ctx->job->model, s, &st->n_dense, &st->n_moe, &st->has_embed,
                      &st->has_head);
    st->first_chunk_short = 0;
    st->last_chunk_short = 0;
    if (p->lay.vpp > 1 && s == 0)
        st->first_chunk_short = p->first_chunk_layers - p->first_chunk0_layers;
    else if (p->lay.vpp > 1 && s == p->lay.pp - 1)
        st->last_chunk_short = p->last_chunk_layers - p->last_chunkN_layers;
}

void step_chunk_of(const struct step_stage *st, int vpp, int k, struct step_stage *out)
{
    int n = st->n_dense + st->n_moe;
    int v = vpp > 0 ? vpp : 1;
    if (v == 1) {
        *out = *st;
        out->first_chunk_short = 0;
        out->last_chunk_short = 0;
        return;
    }
    int lo, hi;
    if (v > 1 && (st->first_chunk_short > 0 || st->last_chunk_short > 0)) {
        /* Even chunks of q layers but for the short end chunk(s) (docs/MODEL.md 2.2). */
        int q = (n + st->first_chunk_short + st->last_chunk_short) / v;
        lo = k == 0 ? 0 : k * q - st->first_chunk_short;
        hi =
            lo + q - (k == 0 ? st->first_chunk_short : 0) - (k == v - 1 ? st->last_chunk_short : 0);
    } else {
        /* Chunk k holds layers [lo, hi) of the stage's n, spread as evenly as possible with
         * the remainder on the first chunks. */
        int base = n / v, rem = n % v;
        lo = k * base + (k < rem ? k : rem);
        hi = lo + base + (k < rem ? 1 : 0);
    }
    int d_lo = lo < st->n_dense ? lo : st->n_dense;
    int d_hi = hi < st->n_dense ? hi : st->n_dense;
    out->n_dense = d_hi - d_lo;
    out->n_moe = (hi - lo) - out->n_dense;
    out->has_embed = st->has_embed && k == 0;
    out->has_head = st->has_head && k == v - 1;
    out->first_chunk_short = 0;
    out->last_chunk_short = 0;
}

double step_ep_exposed_share(const struct step_costs *sc)
{
    /* Megatron-Core's EP overlap (combined_1f1b.py, combined_1f1b_schedule_for_no_pipelining)
     * hides one micro-batch's all-to-alls under another's compute: "Phases 0: 1st microbatch
     * forward / Phases 1: 1st microbatch backward + 2nd microbatch forward / ... / Phases 4:
     * 4th microbatch backward" - "The forward step for the first microbatch is executed alone,
     * no a2a overlapping", and the last backward too. Of m micro-batches' all-to-alls, one
     * forward's and one backward's stay exposed: 1/m of each pass's, spread evenly. Exact
     * without pipelining; with it the warm-up forwards expose more (a lower bound). */
    if (!sc->ep_overlap)
        return 1.0;
    return sc->m > 1 ? 1.0 / (double)sc->m : 1.0;
}

/* One direction of a layer (see struct step_layer_time). tail: the share of tp that waits
 * after the other ops when TP is overlapped (sc->tp_tail_fwd in the forward, 0 in the
 * backward): it follows both the other ops and the overlapped part on the TP stream, as the
 * event engine orders them. */
static double chain_s(const struct step_costs *sc, double attn, double other, double tp, double cp,
                      double ep, double tail, double cat[STEP_CAT_COUNT])
{
    double a = attn > cp ? attn : cp;
    double tp_t = sc->tp_overlap ? tail * tp : 0.0; /* the overlapped TP's exposed tail */
    double tp_s = sc->tp_overlap ? 0.0 : tp, tp_o = sc->tp_overlap ? tp - tp_t : 0.0;
    if (sc->ep_overlap) {
        /* The overlapped all-to-alls run beside the other ops; the exposed share (one
         * micro-batch's of m) follows both on the EP stream, as the event engine orders them. */
        double ex = ep * step_ep_exposed_share(sc), eo = ep - ex;
        double s0 = tp_t > 0.0 ? (other > tp_o ? other : tp_o) + tp_t : other;
        double s1 = s0 + tp_s, e_end = (s1 > eo ? s1 : eo) + ex;
        double rest = e_end > tp_o ? e_end : tp_o;
        if (cat) {
            cat[STEP_CAT_COMPUTE] += attn + other;
            cat[STEP_CAT_CP] += a - attn;
            if (tp_o > e_end) {
                cat[STEP_CAT_TP] += tp_o - other;
            } else {
                cat[STEP_CAT_TP] += tp_s + (s0 - other);
                cat[STEP_CAT_EP] += e_end - s1;
            }
        }
        return a + rest;
    }
    /* EP not overlapped: its all-to-alls run in series with the other ops. */
    if (tp_t > 0.0) {
        /* the tail waits for the other ops and the overlapped part; EP follows it */
        double s0 = (other > tp_o ? other : tp_o) + tp_t;
        if (cat) {
            cat[STEP_CAT_COMPUTE] += attn + other;
            cat[STEP_CAT_CP] += a - attn;
            cat[STEP_CAT_TP] += s0 - other;
            cat[STEP_CAT_EP] += ep;
        }
        return a + s0 + ep;
    }
    double serial = other + tp_s + ep;
    double rest = serial > tp_o ? serial : tp_o;
    if (cat) {
        cat[STEP_CAT_COMPUTE] += attn + other;
        cat[STEP_CAT_CP] += a - attn;
        if (tp_o > serial) {
            /* The overlapped collective is the longer branch: the serial ones hide under it
             * and it shows beyond the other ops (as the event engine's critical path has). */
            cat[STEP_CAT_TP] += tp_o - other;
        } else {
            cat[STEP_CAT_TP] += tp_s;
            cat[STEP_CAT_EP] += ep;
        }
    }
    return a + rest;
}

double step_layer_fwd_s(const struct step_costs *sc, const struct step_layer_time *lt,
                        double cat[STEP_CAT_COUNT])
{
    return chain_s(sc, lt->attn_fwd_s, lt->other_fwd_s, lt->tp_fwd_s, lt->cp_fwd_s, lt->ep_fwd_s,
                   sc->tp_tail_fwd, cat);
}

double step_layer_bwd_s(const struct step_costs *sc, const struct step_layer_time *lt,
                        double cat[STEP_CAT_COUNT])
{
    double t = 0.0;
    if (lt->full_recompute)
        t += chain_s(sc, lt->rerun_attn_s, lt->rerun_other_s, lt->tp_fwd_s, lt->cp_fwd_s,
                     lt->ep_fwd_s, sc->tp_tail_fwd, cat);
    return t + chain_s(sc, lt->attn_bwd_s, lt->other_bwd_s, lt->tp_bwd_s, lt->cp_bwd_s,
                       lt->ep_bwd_s, 0.0, cat);
}

void step_work_totals(const struct step_ctx *ctx, const struct step_costs *sc,
                      struct step_times *out)
{
    step_work_totals_of(ctx, sc, NULL, out);
}

void step_work_totals_of(const struct step_ctx *ctx, const struct step_costs *sc,
                         const struct step_stage *stages, struct step_times *out)
{
    double flop = 0.0, busy = 0.0, hbm = 0.0;
    const struct step_layer_time *kinds[4] = {&sc->dense, &sc->moe, &sc->embed, &sc->head};
    for (int s = 0; s < sc->pp; s++) {
        struct step_stage st;
        if (stages)
            st = stages[s];
        else
            step_stage_of(ctx, s, &st);
        double n[4] = {(double)st.n_dense, (double)st.n_moe, st.has_embed ? 1.0 : 0.0,
                       st.has_head ? 1.0 : 0.0};
        for (int i = 0; i < 4; i++) {
            flop += n[i] * kinds[i]->hw_flop;
            busy += n[i] * kinds[i]->compute_busy_s;
            hbm += n[i] * kinds[i]->hbm_busy_s;
            hbm += n[i] * kinds[i]->opt_s / (double)sc->m; /* the optimizer is memory-bound */
        }
    }
    double k = (double)sc->m / (double)sc->pp;
    out->hw_flop_per_chip = flop * k;
    out->compute_busy_s = busy * k;
    out->hbm_busy_s = hbm * k;
}
