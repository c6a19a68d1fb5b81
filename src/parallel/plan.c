/* parallel/plan: checks a full layout against the job (degrees, divisibility, Megatron's
 * rules) with reasons a person understands, places layers on pipeline stages (even or with
 * uneven first/last stages, interleaved chunks), counts micro-batches in flight per schedule,
 * and sums memory per chip per stage: weights, grads, Adam state (ZeRO over dp*cp), the
 * activations in flight, communication buffers and a reserve. Sources: docs/MODEL.md s2.
 * Not here: time; the costs of one layer (model/). */
#include <math.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "parallel/plan.h"

/* Megatron-Core DDP default bucket: max(40M, 1M * dp*cp) parameters
 * (distributed_data_parallel.py / DistributedDataParallelConfig.bucket_size). */
#define PLAN_BUCKET_MIN_PARAMS      40e6
#define PLAN_BUCKET_PER_RANK_PARAMS 1e6

#define GIB (1024.0 * 1024.0 * 1024.0)

static bool fail(struct plan *p, const char *fmt, ...) US_PRINTF(2, 3);

static bool fail(struct plan *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->reason, sizeof p->reason, fmt, ap);
    va_end(ap);
    p->valid = false;
    return false;
}

static bool moe_model(const struct spec_model *m)
{
    return m->has_moe && m->moe.experts > 0;
}

static int dense_prefix(const struct spec_model *m)
{
    if (!moe_model(m))
        return m->layers;
    return m->moe.dense_layers < m->layers ? (m->moe.dense_layers > 0 ? m->moe.dense_layers : 0)
                                           : m->layers;
}

/* The checks of the fields a search varies below the degrees (micro_batch, ZeRO,
 * recompute), as plan_init makes them first. */
static bool check_inner_fields(struct plan *p, const struct spec_job *job)
{
    const struct us_layout *l = &p->lay;
    if (l->micro_batch < 1)
        return fail(p, "micro_batch=%d must be at least 1", l->micro_batch);
    if (l->zero < 0 || l->zero > 3)
        return fail(p, "zero=%d out of range 0..3", l->zero);
    int zmax = spec_framework_max_zero(job->train.framework);
    if (l->zero > zmax)
        return fail(p,
                    "zero=%d is not offered by the %s framework (it shards the optimizer state "
                    "at most: zero 0..%d)",
                    l->zero, spec_framework_name(job->train.framework), zmax);
    if ((int)l->recompute < US_RECOMPUTE_NONE || (int)l->recompute > US_RECOMPUTE_FULL)
        return fail(p, "recompute=%d is not none, selective or full", (int)l->recompute);
    return true;
}

/* Expert tensor parallelism of a layout: the job's etp when it gives 1 (MoE parallel
 * folding), else tp (Megatron's default, expert_tensor_parallel_size = tp). */
static int plan_etp(const struct spec_job *job, int tp)
{
    return job->par.etp == 1 ? 1 : tp;
}

static bool check_moe_sp(struct plan *p, const struct spec_model *m)
{
    if (moe_model(m) && p->lay.tp > 1 && !p->lay.sequence_parallel)
        return fail(p, "MoE with tp=%d needs sequence_parallel (Megatron requires it)", p->lay.tp);
    return true;
}

/* The row tile of the grouped expert GEMM (training.moe_gmm_tile_rows), 0 where the kernel
 * does not tile each expert's rows. MaxText's sparse_matmul runs megablox / tokamax gmm, whose
 * m tile is wi_tile_fwd_batch_seq, 512 by default (AI-Hypercomputer/maxtext@998b3e34
 * (maxtext-tutorial-v1.5.0) src/MaxText/configs/base.yml: "wi_tile_fwd_batch_seq: 512", the
 * same for every wi/wo tile of the batch_seq dimension); docs/MODEL.md 4.1. */
static double plan_moe_gmm_tile_rows(const struct spec_training *tr)
{
    if (tr->moe_gmm_tile_rows > 0)
        return (double)tr->moe_gmm_tile_rows;
    return tr->framework == SPEC_FW_MAXTEXT ? 512.0 : 0.0;
}

/* The batch, the sequence and the split: what plan_init checks and sets last. */
static bool plan_batch(struct plan *p, const struct spec_job *job)
{
    const struct us_layout *l = &p->lay;
    int tp = l->tp, pp = l->pp, dp = l->dp, cp = l->cp, ep = l->ep;
    const struct spec_training *tr = &job->train;
    int64_t per = (int64_t)dp * l->micro_batch;
    if (tr->global_batch < 1 || tr->global_batch % per != 0)
        return fail(p, "global_batch=%d not divisible by dp*micro_batch=%d*%d=%lld",
                    tr->global_batch, dp, l->micro_batch, (long long)per);
    p->microbatches = (int)(tr->global_batch / per);
    p->lay.microbatches = p->microbatches;
    if (tr->seq_len < 1)
        return fail(p, "seq_len=%d must be at least 1", tr->seq_len);
    if (cp > 1 && tr->seq_len % (2 * cp) != 0)
        return fail(p,
                    "seq_len=%d not divisible by 2*cp=%d (load-balanced causal context "
                    "parallelism cuts each sequence into 2*cp chunks)",
                    tr->seq_len, 2 * cp);
    if (l->sequence_parallel && tp > 1 && (tr->seq_len / cp) % tp != 0)
        return fail(p, "sequence_parallel needs seq_len/cp=%d divisible by tp=%d", tr->seq_len / cp,
                    tp);
    if (l->schedule == US_SCHEDULE_INTERLEAVED && p->microbatches % pp != 0)
        return fail(p,
                    "schedule=interleaved needs microbatches=%d to be a multiple of pp=%d "
                    "(Megatron)",
                    p->microbatches, pp);

    /* The chip must do the math in this dtype. */
    if ((int)tr->dtype < 0 || tr->dtype >= US_DTYPE_COUNT ||
        !(job->system.chip.peak_flops[tr->dtype] > 0))
        return fail(p, "dtype=%s is not supported by %s (no peak FLOP/s given for it)",
                    core_dtype_name(tr->dtype), job->system.chip.name);

    p->split = (struct model_split){.tp = tp,
                                    .cp = cp,
                                    .ep = ep,
                                    .sequence_parallel = l->sequence_parallel,
                                    .recompute = l->recompute,
                                    .micro_batch = l->micro_batch,
                                    .seq_len = tr->seq_len,
                                    .dtype = tr->dtype,
                                    .grad_reduce = tr->grad_reduce,
                                    .unfused_attention = tr->attention == SPEC_ATTN_UNFUSED,
                                    .etp = plan_etp(job, tp),
                                    .rc_modules = job->par.recompute_modules,
                                    .rc_keep = job->par.recompute_keep,
                                    .fp8_params = tr->fp8_params,
                                    .optimizer_bf16 = tr->optimizer_bf16,
                                    .gmm_tile_rows = plan_moe_gmm_tile_rows(tr),
                                    .moe_dense_matmul = tr->moe_dense_matmul,
                                    .ep_flex = job->par.ep_dispatcher == 1,
                                    .weight_dtype = spec_weight_dtype_of(tr),
                                    .moe_probs_combine = spec_moe_probs_at_combine(tr),
                                    .weight_cast_per_call =
                                        spec_framework_casts_weights_per_call(tr->framework),
                                    .devices = job->system.chip.devices};
    return true;
}

/* The stages and chunks of an explicit parallel.pipeline_layout (spec/pplayout.c has
 * checked it against the model and put it in the planner's shape). */
static bool plan_use_layout(struct plan *p, const struct spec_pipeline_layout *pl)
{
    int pp = p->lay.pp, v = p->lay.vpp > 0 ? p->lay.vpp : 1;
    if (pp != pl->pp || v != pl->vpp)
        return fail(p, "pipeline_layout is for pp=%d x vpp=%d, the layout has pp=%d x vpp=%d",
                    pl->pp, pl->vpp, pp, v);
    p->chunk_layers = pl->chunk;
    p->first_chunk0_layers = pl->first_chunk0;
    p->first_chunk_layers = pl->first_chunk;
    p->last_chunk_layers = pl->last_chunk;
    p->last_chunkN_layers = pl->last_chunkN;
    p->first_layers = pl->first_chunk0 + (v - 1) * pl->first_chunk;
    p->last_layers = (v - 1) * pl->last_chunk + pl->last_chunkN;
    p->layers_per_stage = pp > 2 ? v * pl->chunk : pp == 1 ? p->first_layers : 0;
    return true;
}

bool plan_init(struct plan *p, const struct spec_job *job, const struct us_layout *lay)
{
    const struct spec_model *m = &job->model;
    /* every field but the reason, which fail() writes whole (a search plans millions) */
    memset(p, 0, offsetof(struct plan, reason));
    p->reason[0] = '\0';
    p->lay = *lay;
    p->chips = job->chips;
    p->valid = true;
    const struct us_layout *l = &p->lay;
    int tp = l->tp, pp = l->pp, dp = l->dp, cp = l->cp, ep = l->ep, v = l->vpp;

    if (tp < 1 || pp < 1 || dp < 1 || cp < 1 || ep < 1 || v < 1)
        return fail(p, "parallel degrees must be at least 1 (tp=%d pp=%d dp=%d cp=%d ep=%d vpp=%d)",
                    tp, pp, dp, cp, ep, v);
    if (!check_inner_fields(p, job))
        return false;
    if ((int)l->schedule < US_SCHEDULE_1F1B || (int)l->schedule > US_SCHEDULE_INTERLEAVED)
        return fail(p, "schedule=%d is not 1f1b, gpipe or interleaved", (int)l->schedule);

    int64_t prod = (int64_t)tp * pp * cp * dp;
    if (prod != job->chips)
        return fail(p, "tp*pp*cp*dp = %d*%d*%d*%d = %lld != chips = %lld", tp, pp, cp, dp,
                    (long long)prod, (long long)job->chips);

    /* Tensor parallelism splits heads, FFN columns and expert columns. */
    if (m->heads % tp != 0)
        return fail(p, "tp=%d does not divide heads=%d", tp, m->heads);
    if (!m->has_mla) {
        int g = m->kv_heads > 0 ? m->kv_heads : m->heads;
        /* tp > kv_heads is allowed when tp is a multiple: each KV head is replicated on
         * tp/kv_heads ranks, as Megatron does for GQA. */
        if (g % tp != 0 && tp % g != 0)
            return fail(p, "tp=%d and kv_heads=%d: tp must divide kv_heads or be a multiple of it",
                        tp, g);
    }
    if (m->ffn_hidden % tp != 0)
        return fail(p, "tp=%d does not divide ffn_hidden=%d", tp, m->ffn_hidden);
    int etp = plan_etp(job, tp);
    if (job->par.etp > 1 && job->par.etp != tp)
        return fail(p, "etp=%d: expert tensor parallelism other than 1 or tp (%d) is not modelled",
                    job->par.etp, tp);
    if (moe_model(m) && m->moe.expert_ffn_hidden % etp != 0)
        return fail(p, "etp=%d does not divide expert_ffn_hidden=%d", etp,
                    m->moe.expert_ffn_hidden);
    if (!check_moe_sp(p, m))
        return false;

    /* Pipeline stages: an explicit parallel.pipeline_layout, or even, or uneven first/last
     * stages (Megatron's decoder_first_pipeline_num_layers / decoder_last_pipeline_num_layers)
     * with the rest even. */
    if (job->par.layout.pp > 0) {
        if (!plan_use_layout(p, &job->par.layout))
            return false;
        goto schedules;
    }
    int L = m->layers, F = l->first_stage_layers, Ls = l->last_stage_layers;
    if (F < 0 || Ls < 0)
        return fail(p, "first_stage_layers=%d and last_stage_layers=%d must not be negative", F,
                    Ls);
    if (pp > L)
        return fail(p, "pp=%d exceeds layers=%d", pp, L);
    if (pp == 1) {
        if ((F > 0 && F != L) || (Ls > 0 && Ls != L))
            return fail(p, "first_stage_layers/last_stage_layers need pp > 1");
        p->first_layers = p->last_layers = p->layers_per_stage = L;
    } else if (F == 0 && Ls == 0) {
        if (L % pp != 0)
            return fail(p,
                        "layers=%d not divisible into pp=%d stages: give "
                        "first_stage_layers/last_stage_layers or use uneven stages",
                        L, pp);
        p->first_layers = p->last_layers = p->layers_per_stage = L / pp;
    } else {
        int rest_stages = pp - (F > 0) - (Ls > 0);
        int rest = L - F - Ls;
        if (rest < 0)
            return fail(p, "first_stage_layers=%d + last_stage_layers=%d exceed layers=%d", F, Ls,
                        L);
        if (rest_stages == 0) {
            if (rest != 0)
                return fail(p,
                            "first_stage_layers=%d + last_stage_layers=%d != layers=%d with pp=2",
                            F, Ls, L);
            p->layers_per_stage = 0;
        } else {
            if (rest % rest_stages != 0 || rest / rest_stages < 1)
                return fail(p,
                            "the %d layers left after first_stage_layers=%d and "
                            "last_stage_layers=%d do not divide into %d stages",
                            rest, F, Ls, rest_stages);
            p->layers_per_stage = rest / rest_stages;
        }
        p->first_layers = F > 0 ? F : p->layers_per_stage;
        p->last_layers = Ls > 0 ? Ls : p->layers_per_stage;
    }

schedules:
    /* Schedules. */
    if (v > 1 && l->schedule != US_SCHEDULE_INTERLEAVED)
        return fail(p, "vpp=%d needs schedule=interleaved", v);
    if (l->schedule == US_SCHEDULE_INTERLEAVED) {
        if (v < 2)
            return fail(p, "schedule=interleaved needs vpp > 1");
        if (pp < 2)
            return fail(p, "schedule=interleaved needs pp > 1");
    }

    /* Virtual chunks (docs/MODEL.md 2.2): a middle stage's layers split evenly; an end
     * stage's evenly too (Megatron-Core, get_num_layers_to_build with uneven stages), or
     * with its end chunk short by the layers the embedding or the loss stands for
     * (account_for_embedding/loss_in_pipeline_split). */
    if (job->par.layout.pp > 0) {
        /* plan_use_layout set every chunk */
    } else if (v == 1) {
        p->chunk_layers = p->layers_per_stage;
        p->first_chunk0_layers = p->first_chunk_layers = p->first_layers;
        p->last_chunkN_layers = p->last_chunk_layers = p->last_layers;
    } else {
        /* Two uneven stages and no middle one (DeepSeek-V3's 31 + 30 over pp 2): the chunk
         * is the larger end stage's share, rounded up, and each end's last chunk is short. */
        int per = p->layers_per_stage;
        if (per == 0) {
            int big = US_MAX(p->first_layers, p->last_layers);
            per = (big + v - 1) / v * v;
        }
        if (per % v != 0)
            return fail(p, "vpp=%d does not divide the %d layers per pipeline stage", v, per);
        int q = per / v;
        p->chunk_layers = q;
        p->first_chunk0_layers =
            plan_end_chunk_layers(p->first_layers, q, v, &p->first_chunk_layers);
        p->last_chunkN_layers = plan_end_chunk_layers(p->last_layers, q, v, &p->last_chunk_layers);
        if (p->first_chunk0_layers < 0 || p->last_chunkN_layers < 0) {
            int n = p->first_chunk0_layers < 0 ? p->first_layers : p->last_layers;
            if (q > 0)
                return fail(p,
                            "%s_stage_layers=%d do not split into vpp=%d chunks: give a "
                            "multiple of %d, or %d..%d layers (chunks of %d, the end one short)",
                            p->first_chunk0_layers < 0 ? "first" : "last", n, v, v, q * (v - 1),
                            q * v - 1, q);
            return fail(p,
                        "%s_stage_layers=%d do not split into vpp=%d chunks: give a multiple of %d",
                        p->first_chunk0_layers < 0 ? "first" : "last", n, v, v);
        }
    }

    /* Experts: EP groups are carved out of dp*cp (Megatron-Core), or of tp*dp*cp with expert
     * TP 1 (MoE parallel folding). */
    if (ep > 1) {
        if (!moe_model(m))
            return fail(p, "ep=%d but the model has no experts", ep);
        if (ep > m->moe.experts)
            return fail(p, "ep=%d exceeds experts=%d", ep, m->moe.experts);
        if (m->moe.experts % ep != 0)
            return fail(p, "ep=%d does not divide experts=%d", ep, m->moe.experts);
        if (etp == tp && (dp * cp) % ep != 0)
            return fail(p, "ep=%d does not divide dp*cp=%d*%d=%d", ep, dp, cp, dp * cp);
        if (etp != tp && ((int64_t)tp / etp * dp * cp) % ep != 0)
            return fail(p, "ep=%d does not divide tp/etp*dp*cp=%d/%d*%d*%d", ep, tp, etp, dp, cp);
    }

    /* Batch and sequence. */
    return plan_batch(p, job);
}

bool plan_init_like(struct plan *p, const struct plan *prev, const struct spec_job *job,
                    const struct us_layout *lay)
{
    const struct us_layout *o = &prev->lay;
    if (!prev->valid || prev->chips != job->chips || lay->tp != o->tp || lay->pp != o->pp ||
        lay->dp != o->dp || lay->cp != o->cp || lay->ep != o->ep || lay->vpp != o->vpp ||
        lay->schedule != o->schedule || lay->first_stage_layers != o->first_stage_layers ||
        lay->last_stage_layers != o->last_stage_layers)
        return plan_init(p, job, lay);
    /* The degrees passed every check of plan_init that reads them alone: what is left, in
     * plan_init's order, are the checks the other fields take part in. */
    if (p != prev)
        memcpy(p, prev, offsetof(struct plan, reason));
    p->reason[0] = '\0';
    p->lay = *lay;
    return check_inner_fields(p, job) && check_moe_sp(p, &job->model) && plan_batch(p, job);
}

bool plan_slot_split(int L, int pp, int vpp, int extra_first, int extra_last, int *first, int *last)
{
    int v = vpp > 0 ? vpp : 1, slots = L + extra_first + extra_last;
    if (pp <= 1 || (L % pp == 0 && (L / pp) % v == 0) || slots % pp != 0 || (slots / pp) % v != 0 ||
        slots / pp <= US_MAX(extra_first, extra_last))
        return false;
    *first = slots / pp - extra_first;
    *last = slots / pp - extra_last;
    return true;
}

bool plan_ends_split(int L, int pp, int *first, int *last)
{
    if (pp <= 1 || L % pp == 0)
        return false;
    int k = (L + pp - 1) / pp, ends = L - (pp - 2) * k;
    while (k > 1 && ends < 2) {
        k--;
        ends = L - (pp - 2) * k;
    }
    if (ends < 2 || ends > 2 * k)
        return false;
    *first = (ends + 1) / 2;
    *last = ends / 2;
    return true;
}

bool plan_default_split(int L, int pp, int vpp, int mtp, int *first, int *last)
{
    int extra = 1 + (mtp > 0 ? mtp : 0);
    return plan_slot_split(L, pp, vpp, 1, extra, first, last) ||
           plan_slot_split(L, pp, vpp, 1, extra + 1, first, last) ||
           (vpp <= 1 && plan_ends_split(L, pp, first, last));
}

int plan_end_chunk_layers(int n, int q, int vpp, int *other)
{
    int v = vpp > 0 ? vpp : 1;
    if (n % v == 0) {
        *other = n / v;
        return n / v;
    }
    /* The end chunk is short by the layers the embedding or the loss stands for. */
    if (q > 0 && n >= q * (v - 1) && n < q * v) {
        *other = q;
        return n - q * (v - 1);
    }
    *other = -1;
    return -1;
}

static int vpp_of(const struct plan *p)
{
    return p->lay.vpp > 0 ? p->lay.vpp : 1;
}

/* Layers in chunk k of stage s. */
static int chunk_n(const struct plan *p, int s, int k)
{
    int pp = p->lay.pp, v = vpp_of(p);
    if (s == 0)
        return k == 0 ? p->first_chunk0_layers : p->first_chunk_layers;
    if (s == pp - 1)
        return k == v - 1 ? p->last_chunkN_layers : p->last_chunk_layers;
    return p->chunk_layers;
}

/* Index (in model order) of the first layer of chunk k of stage s. The model runs chunk 0
 * of every stage, then chunk 1, ... (Narayanan et al. SC'21 s2.2.2; Megatron-Core's
 * get_transformer_layer_offset: vp_stage * (layers of one chunk over all stages) + the
 * stages before s). */
static int chunk_lo(const struct plan *p, int s, int k)
{
    int pp = p->lay.pp;
    if (pp <= 1)
        return 0;
    int lo = k * (pp - 2) * p->chunk_layers + k * p->last_chunk_layers;
    if (k > 0)
        lo += p->first_chunk0_layers + (k - 1) * p->first_chunk_layers;
    if (s > 0)
        lo += chunk_n(p, 0, k) + (s - 1) * p->chunk_layers;
    return lo;
}

static void count_range(int lo, int hi, int dense_end, int *nd, int *nm)
{
    int d_hi = hi < dense_end ? hi : dense_end;
    int d = d_hi > lo ? d_hi - lo : 0;
    *nd += d;
    *nm += (hi - lo) - d;
}

void plan_chunk_layers(const struct plan *p, const struct spec_model *m, int stage, int chunk,
                       int *n_dense, int *n_moe, bool *has_embed, bool *has_head)
{
    int nd = 0, nm = 0, lo = chunk_lo(p, stage, chunk);
    count_range(lo, lo + chunk_n(p, stage, chunk), dense_prefix(m), &nd, &nm);
    if (n_dense)
        *n_dense = nd;
    if (n_moe)
        *n_moe = nm;
    if (has_embed)
        *has_embed = stage == 0 && chunk == 0;
    if (has_head)
        *has_head = stage == p->lay.pp - 1 && chunk == vpp_of(p) - 1;
}

void plan_stage_layers(const struct plan *p, const struct spec_model *m, int stage, int *n_dense,
                       int *n_moe, bool *has_embed, bool *has_head)
{
    int v = vpp_of(p), dense_end = dense_prefix(m);
    int nd = 0, nm = 0;
    /* The stage's chunk 0 starts at its lowest layer: past the dense prefix, all is MoE; a
     * prefix covering the model, all dense. Otherwise count chunk by chunk. */
    int total = stage == 0 ? p->first_layers
                           : (stage == p->lay.pp - 1 ? p->last_layers : p->layers_per_stage);
    if (dense_end >= m->layers) {
        nd = total;
    } else if (dense_end <= chunk_lo(p, stage, 0)) {
        nm = total;
    } else {
        for (int k = 0; k < v; k++) {
            int lo = chunk_lo(p, stage, k);
            count_range(lo, lo + chunk_n(p, stage, k), dense_end, &nd, &nm);
        }
    }
    if (n_dense)
        *n_dense = nd;
    if (n_moe)
        *n_moe = nm;
    if (has_embed)
        *has_embed = stage == 0;
    if (has_head)
        *has_head = stage == p->lay.pp - 1;
}

/* Forward chunks stage s runs before its first backward under Megatron's interleaved
 * schedule (schedules.py, forward_backward_pipelining_with_interleaving): 2(pp - s - 1) +
 * (v - 1) pp, or all m v when m == pp (every forward first, as the event engine runs it). */
static double interleaved_warmup(const struct plan *p, int stage)
{
    double m = p->microbatches, pp = p->lay.pp, v = vpp_of(p);
    double w = 2.0 * (pp - stage - 1.0) + (v - 1.0) * pp;
    if (p->microbatches == p->lay.pp || w > m * v)
        w = m * v;
    return w;
}

double plan_inflight_microbatches(const struct plan *p, int stage)
{
    double m = p->microbatches, pp = p->lay.pp, i = stage;
    switch (p->lay.schedule) {
    case US_SCHEDULE_GPIPE:
        return m;
    case US_SCHEDULE_INTERLEAVED: {
        /* Megatron's interleaved 1F1B warms up 2*(pp - i - 1) + (v - 1)*pp model chunks
         * before its first backward, so peak = that + 1 chunks (capped at m*v), each
         * 1/v of the stage. Stage 0: pp + (pp - 1)/v micro-batches' worth, i.e.
         * Korthikanti et al. 2022 s4.2.3's factor (1 + (pp - 1)/(pp*v)) over pp. */
        double v = vpp_of(p);
        double chunks = interleaved_warmup(p, stage) + 1.0;
        if (chunks > m * v)
            chunks = m * v;
        return chunks / v;
    }
    default:
        /* 1F1B (Narayanan et al. SC'21 s2.2.1): stage i holds pp - i micro-batches. */
        return US_MIN(pp - i, m);
    }
}

/* Chunks weighed in exactly up to this many per stage; beyond, the mean chunk is used. */
#define PLAN_MAX_CHUNKS 256

/* Sum of a[ck(i)] over the first n forwards of Megatron's interleaved table, where forward
 * i runs chunk ck(i) = (i mod pp v) / pp (micro-batches in groups of pp through every chunk
 * in turn; interleaving needs m % pp == 0, so every group is whole). pre[c] = a[0] + ... +
 * a[c-1]; rev: the backward table, which runs chunk v - 1 - ck(i). */
static double table_sum(const double *a, const double *pre, int v, int pp, int64_t n, bool rev)
{
    int64_t per = (int64_t)pp * v, r = n % per;
    int c = (int)(r / pp);
    double full = (double)(n / per) * (double)pp * pre[v];
    /* chunks before c in table order: a[0..c-1], or a[v-1..v-c] reversed */
    double before = rev ? pre[v] - pre[v - c] : pre[c];
    double part = c < v ? (double)(r % pp) * a[rev ? v - 1 - c : c] : 0.0;
    return full + (double)pp * before + part;
}

/* Activation bytes stage s holds at its peak under the interleaved schedule, each chunk
 * weighed by its own bytes a[c] for one micro-batch. The live set after the steady state's
 * j-th forward is forwards [0, W + 1 + j) less backwards [0, j); it is periodic in j
 * (period pp v) and linear between the points where either index crosses a multiple of
 * pp, so its maximum is at one of those. Warm-up only adds and cool-down only frees. */
double plan_interleaved_peak_act(const struct plan *p, int s, const double *a, int v)
{
    int pp = p->lay.pp;
    int64_t total = (int64_t)p->microbatches * v;
    int64_t W = (int64_t)interleaved_warmup(p, s);
    /* Like chunks of a whole number of bytes (a middle stage, as a rule): every sum below is
     * exact, so each candidate is (W + 1) a, computed once. */
    bool even = a[0] == floor(a[0]) && a[0] * (double)total < 4.0e15;
    for (int c = 1; c < v && even; c++)
        even = a[c] == a[0];
    if (even)
        return (double)(W >= total ? total : W + 1) * a[0];
    double pre[PLAN_MAX_CHUNKS + 1];
    pre[0] = 0.0;
    for (int c = 0; c < v; c++)
        pre[c + 1] = pre[c] + a[c];
    if (W >= total)
        return table_sum(a, pre, v, pp, total, false);
    int64_t J = total - W; /* steady forward-backward pairs */
    int64_t lim = J < (int64_t)pp * v ? J : (int64_t)pp * v;
    /* One chunk c unlike the others (an end stage: the embedding or the head, a short end
     * chunk): the live set moves only while the forwards run chunk c or the backwards
     * chunk v - 1 - c, so its maximum is at an end of [0, lim) or where one of those
     * windows opens or closes - one j each, as lim <= pp v. */
    bool tail_even = true, head_even = true; /* a[1..v-1] alike; a[0..v-2] alike */
    for (int c = 1; c < v - 1; c++) {
        tail_even = tail_even && a[c + 1] == a[1];
        head_even = head_even && a[c] == a[0];
    }
    int odd = tail_even ? 0 : (head_even ? v - 1 : -1);
    if (odd >= 0) {
        int64_t P = (int64_t)pp * v, n0 = W + 1;
        int64_t cand[6] = {0, lim - 1};
        int nc = 2;
        const int64_t fwd_edge[2] = {(int64_t)odd * pp, (int64_t)(odd + 1) * pp};
        const int64_t bwd_edge[2] = {(int64_t)(v - 1 - odd) * pp, (int64_t)(v - odd) * pp};
        for (int e = 0; e < 2; e++) {
            cand[nc++] = (((fwd_edge[e] - n0) % P) + P) % P; /* (n0 + j) mod P hits it */
            cand[nc++] = bwd_edge[e] % P;                    /* j mod P hits it */
        }
        double best = -HUGE_VAL;
        for (int i = 0; i < nc; i++) {
            int64_t j = cand[i];
            if (j < 0 || j >= lim)
                continue;
            double live =
                table_sum(a, pre, v, pp, n0 + j, false) - table_sum(a, pre, v, pp, j, true);
            if (live > best)
                best = live;
        }
        return best;
    }
    int64_t o = ((int64_t)pp - (W + 1) % pp) % pp; /* j where W + 1 + j hits a multiple */
    double best = -1.0;
    bool at_lim = false; /* lim - 1 evaluated (every candidate past it is clamped to it) */
    int ncand = o == 0 ? 2 : 4;
    for (int64_t t = 0; t <= lim / pp + 1; t++) {
        int64_t cand[4] = {t * pp, t * pp - 1, t * pp + o, t * pp + o - 1};
        for (int i = 0; i < ncand; i++) {
            int64_t j = cand[i];
            if (j < 0)
                continue; /* t = 0: -1 would be 0 again */
            if (j >= lim - 1) {
                if (at_lim)
                    continue;
                at_lim = true;
                j = lim - 1;
            }
            double live =
                table_sum(a, pre, v, pp, W + 1 + j, false) - table_sum(a, pre, v, pp, j, true);
            if (live > best)
                best = live;
        }
    }
    return best;
}

/* What a recomputed layer's backward finds freed of the stage's activations: the head's
 * (its fp32 softmax, the norm and logits inputs) of the micro-batch whose backward runs, since
 * the head's backward runs before any layer's and frees them. Megatron's vocab-parallel cross
 * entropy keeps the softmax and turns it into the logits' gradient in place
 * (Megatron-LM@00611e6e megatron/core/tensor_parallel/cross_entropy.py, backward returns
 * grad_input = softmax), which the output layer's backward consumes and autograd then releases;
 * XLA's buffer assignment frees a buffer after its last use (openxla
 * xla/service/buffer_assignment.cc). Counted only where the micro-batch whose backward runs is
 * the one whose head ran last: a stage of one chunk, whose 1F1B or GPipe backward of a
 * micro-batch begins with its head. Interleaved stages and stages with MTP modules (whose
 * backward runs before the head's) free nothing here: an upper bound. off and nl: activation
 * offload scales what the stage counts of the head as it scales the rest. */
static double head_freed_B(const struct plan *p, int stage, bool hh, double n_mtp,
                           const struct model_costs *c, int off, int nl)
{
    if (!hh || n_mtp > 0 || vpp_of(p) > 1 || stage != p->lay.pp - 1)
        return 0.0;
    double share = off > 0 && nl > 0 ? (double)(nl - US_MIN(off, nl)) / (double)nl : 1.0;
    return c->head.act_B * share;
}

double plan_act_with_working_set(double act_B, double ws_B, double freed_B)
{
    /* the end of a micro-batch's forward (the head's backward adds nothing the stage does not
     * already count: the logits' gradient takes the softmax's place) against one layer's
     * backward with what it rebuilds */
    return US_MAX(act_B, act_B - freed_B + ws_B);
}

/* Bytes per parameter of the weights, the gradients and the optimizer state.
 * Weights: the compute copy in bf16 (fp32 training: fp32); fp8/fp4 training keeps bf16
 * weights plus a low-precision cast for the GEMMs (Transformer Engine caches one per
 * step). Grads: fp32 main grads (Megatron's default for bf16), bf16 when the job sets
 * training.grad_reduce_dtype: bf16 (model_split_grad_elem_B). training.fp8_params holds the
 * weights in fp8 (fp4 under fp4 training) alone, 1 B (0.5 B): Transformer Engine's fp8
 * parameters keep no bf16 copy; Megatron's fp8_param_gather gathers them so. Adam: fp32
 * master weights (training.optimizer_state_dtype bf16: m and v in bf16, 8 B, Megatron's
 * precision-aware optimizer),
 * m and v, 12 B (Rajbhandari et al. 2020, ZeRO s3.1: K = 12); fp32 training keeps no
 * separate master copy (8 B). */
static void param_bytes(const struct model_split *s, double *w, double *g, double *o)
{
    enum us_dtype dt = s->dtype;
    double base = dt == US_DTYPE_FP32 ? 4.0 : 2.0;
    /* training.weight_dtype: the parameters are kept once, in that dtype, with no fp32
     * master beside them (MaxText's weight_dtype; optax's adam keeps m and v alone) */
    if (s->weight_dtype == SPEC_WEIGHT_FP32 || s->weight_dtype == SPEC_WEIGHT_BF16)
        base = s->weight_dtype == SPEC_WEIGHT_FP32 ? 4.0 : 2.0;
    *w = base + (dt == US_DTYPE_FP8 || dt == US_DTYPE_FP4 ? model_gemm_elem_B(dt) : 0.0);
    if (s->fp8_params) /* low-precision weights only: the fp32 master stays in the optimizer */
        *w = model_gemm_elem_B(dt);
    *g = model_split_grad_elem_B(s);
    *o = dt == US_DTYPE_FP32 || s->weight_dtype == SPEC_WEIGHT_FP32 ||
                 s->weight_dtype == SPEC_WEIGHT_BF16
             ? 8.0
             : 12.0;
    if (s->optimizer_bf16) /* m and v in bf16 (beside the fp32 master when there is one) */
        *o -= 4.0;
}

/* A stage's memory terms that do not depend on the ZeRO stage (plan_mem_part_of), and the
 * bytes from them for a ZeRO stage (plan_mem_finish): one evaluation split in two, so
 * layouts that differ in ZeRO alone can share the first half. */
static void plan_mem_part_of(const struct plan *p, const struct spec_job *job,
                             const struct model_costs *c, int stage, struct plan_mem_part *pt)
{
    const struct spec_model *m = &job->model;
    const struct us_layout *l = &p->lay;
    int nd, nm;
    bool he, hh;
    plan_stage_layers(p, m, stage, &nd, &nm, &he, &hh);
    pt->stage = stage;
    pt->n_dense = nd;
    double n_mtp = hh ? c->n_mtp : 0;

    /* Parameters this chip holds (TP/EP shards, before ZeRO). */
    double P = nd * c->dense.params + (nm > 0 ? nm * c->moe.params : 0.0) +
               (he ? c->embed.params : 0.0) + (hh ? c->head.params : 0.0) + n_mtp * c->mtp.params;
    /* Tied embeddings across stages: the last stage keeps its own copy of the output
     * matrix, its gradient all-reduced with the first stage's (Megatron). */
    if (m->tied_embeddings && hh && !he)
        P += c->embed.params;
    double P_exp = (nm > 0 ? nm * c->moe.params_expert : 0.0) + n_mtp * c->mtp.params_expert;
    pt->P = P;
    pt->P_exp = P_exp;

    /* Activations of the micro-batches in flight, plus the working set of one recomputed
     * layer while its backward runs. */
    double per_mb = nd * c->dense.act_B + (nm > 0 ? nm * c->moe.act_B : 0.0) +
                    (he ? c->embed.act_B : 0.0) + (hh ? c->head.act_B : 0.0) + n_mtp * c->mtp.act_B;
    double act = plan_inflight_microbatches(p, stage) * per_mb;
    int v = vpp_of(p);
    if (l->schedule == US_SCHEDULE_INTERLEAVED && v > 1 && v <= PLAN_MAX_CHUNKS &&
        p->microbatches % l->pp == 0) {
        /* Chunks differ (the embedding in chunk 0, the head in the last chunk, a short end
         * chunk, a dense prefix): weigh each by its own activations (docs/MODEL.md 2.3). */
        double a[PLAN_MAX_CHUNKS];
        bool all_dense = dense_prefix(m) >= m->layers;
        for (int k = 0; k < v; k++) {
            int cd, cm;
            bool ce, ch;
            if (all_dense) {
                /* every layer dense: the chunk's layers and ends follow from its place */
                cd = chunk_n(p, stage, k);
                cm = 0;
                ce = stage == 0 && k == 0;
                ch = stage == l->pp - 1 && k == v - 1;
            } else {
                plan_chunk_layers(p, m, stage, k, &cd, &cm, &ce, &ch);
            }
            a[k] = cd * c->dense.act_B + (cm > 0 ? cm * c->moe.act_B : 0.0) +
                   (ce ? c->embed.act_B : 0.0) + (ch ? c->head.act_B + n_mtp * c->mtp.act_B : 0.0);
        }
        act = plan_interleaved_peak_act(p, stage, a, v);
    }
    /* Activation offload (Megatron's cpu_offloading_num_layers): that many of the stage's
     * layers keep their saved activations in host memory; two layers' worth stay on the
     * chip, the one being written out and the one being read back. The host-link traffic
     * is not priced (run says so). */
    int off = job->train.offload_activation_layers, nl = nd + nm;
    if (off > 0 && nl > 0) {
        int k = US_MIN(off, nl);
        double layer = US_MAX(nd > 0 ? c->dense.act_B : 0.0, nm > 0 ? c->moe.act_B : 0.0);
        act = act * (double)(nl - k) / (double)nl + US_MIN(2, k) * layer;
    }
    if (p->split.recompute != US_RECOMPUTE_NONE) {
        double ws = 0;
        if (nd > 0)
            ws = US_MAX(ws, c->dense.act_full_B - c->dense.act_B);
        if (nm > 0)
            ws = US_MAX(ws, c->moe.act_full_B - c->moe.act_B);
        if (n_mtp > 0)
            ws = US_MAX(ws, c->mtp.act_full_B - c->mtp.act_B);
        act = plan_act_with_working_set(act, ws, head_freed_B(p, stage, hh, n_mtp, c, off, nl));
    }
    pt->act_B = act;

    /* Communication buffers: the ZeRO-2/3 ones as their own terms, the rest in the order
     * plan_mem_finish adds them. */
    double wB, gB, oB;
    param_bytes(&p->split, &wB, &gB, &oB);
    pt->wB = wB;
    pt->gB = gB;
    pt->oB = oB;
    const struct model_split *s = &p->split;
    double shard = (double)l->dp * l->cp;
    /* FSDP-style (ZeRO-3): the layer being computed and the one being prefetched,
     * gathered. */
    double layer = US_MAX(nd > 0 ? c->dense.params : 0.0, nm > 0 ? c->moe.params : 0.0);
    if (n_mtp > 0)
        layer = US_MAX(layer, c->mtp.params);
    /* gathered as the layers compute with them: bf16 (and the fp8 cast), whatever dtype
     * training.weight_dtype keeps the shards in */
    struct model_split gathered = p->split;
    gathered.weight_dtype = SPEC_WEIGHT_MIXED;
    double wB_gathered, gB_unused, oB_unused;
    param_bytes(&gathered, &wB_gathered, &gB_unused, &oB_unused);
    pt->zero3_buf_B = 2.0 * layer * wB_gathered;
    /* Sharded grads (ZeRO-2/3): a bucket is reduced while the next fills (with ZeRO 0/1
     * the buckets are views into the grad buffer counted in grads). */
    double bucket = US_MAX(PLAN_BUCKET_MIN_PARAMS, PLAN_BUCKET_PER_RANK_PARAMS * shard);
    pt->zero2_buf_B = shard > 1 ? 2.0 * US_MIN(bucket, P) * gB : 0.0;
    /* ZeRO-3 (FSDP) reduce-scatters each layer's gradients as its backward ends (PyTorch
     * FSDP's per-unit reduce-scatter, MaxText's per-layer scan): a bucket never holds more
     * than a layer (Megatron's rule of 1M x dp parameters would hold 2B at dp 2048). */
    pt->zero3_grad_buf_B = shard > 1 ? 2.0 * US_MIN(US_MIN(bucket, layer), P) * gB : 0.0;
    double w_act = model_act_elem_B(s->dtype);
    double T = (double)s->micro_batch * s->seq_len / s->cp;
    double Tn = s->sequence_parallel && s->tp > 1 ? T / s->tp : T;
    /* each 0 where it does not apply (adding +0.0 leaves a sum unchanged) */
    pt->buf_B[0] = s->tp > 1 && s->sequence_parallel
                       ? T * job->model.hidden * w_act /* the all-gathered GEMM input */
                       : 0.0;
    pt->buf_B[1] = s->ep > 1 && (nm > 0 || (n_mtp > 0 && moe_model(m)))
                       ? 2.0 * (nm > 0 ? c->moe.comm.ep_B : c->mtp.comm.ep_B) /* send + recv */
                       : 0.0;
    pt->buf_B[2] = l->pp > 1 ? 2.0 * Tn * job->model.hidden * w_act /* p2p send and receive */
                             : 0.0;
    pt->buf_B[3] = s->cp > 1 ? 2.0 * c->dense.comm.cp_B / (s->cp - 1.0) /* K/V double-buffered */
                             : 0.0;
}

static bool plan_mem_finish(const struct plan *p, const struct spec_job *job,
                            const struct plan_mem_part *pt, struct us_memory *mem)
{
    const struct us_layout *l = &p->lay;
    double wB = pt->wB, gB = pt->gB, oB = pt->oB;
    /* Megatron's distributed optimizer shards over dp*cp; expert state over the
     * expert-data-parallel group dp*cp/ep. */
    double shard = (double)l->dp * l->cp;
    double shard_exp = shard * (l->tp / plan_etp(job, l->tp)) / (l->ep > 0 ? l->ep : 1);
    if (shard_exp < 1)
        shard_exp = 1;
    double P = pt->P, P_exp = pt->P_exp, P_den = P - P_exp;
    memset(mem, 0, sizeof *mem);
    mem->weights_B = l->zero >= 3 ? P_den * wB / shard + P_exp * wB / shard_exp : P * wB;
    mem->grads_B = l->zero >= 2 ? P_den * gB / shard + P_exp * gB / shard_exp : P * gB;
    mem->optimizer_B = l->zero >= 1 ? P_den * oB / shard + P_exp * oB / shard_exp : P * oB;
    mem->activations_B = pt->act_B;
    double buf = 0;
    if (l->zero >= 3) {
        buf += pt->zero3_buf_B + pt->zero3_grad_buf_B;
        mem->zero3_gathered_layers = 2;
    } else if (l->zero == 2)
        buf += pt->zero2_buf_B;
    for (int i = 0; i < 4; i++)
        buf += pt->buf_B[i];
    mem->comm_buffers_B = buf;

    mem->capacity_B = job->system.chip.hbm_B;
    /* The reserve is for what a caching allocator fragments and what the runtime takes at
     * run time; XLA assigns its buffers when it compiles, inside the runtime's bytes_limit,
     * so where the chip's HBM figure is that limit there is nothing to hold back. */
    mem->reserve_B = spec_framework_caching_allocator(job->train.framework) ||
                             !job->system.chip.hbm_runtime_limit
                         ? PLAN_RESERVE_FRACTION * mem->capacity_B
                         : 0.0;
    mem->peak_B = mem->weights_B + mem->grads_B + mem->optimizer_B + mem->activations_B +
                  mem->comm_buffers_B + mem->reserve_B;
    mem->stage = pt->stage;
    /* A framework whose scheduler plans within a memory limit (XLA) does not start the next
     * layer's gather while it would not fit: one gathered layer instead of two, its gathers
     * exposed (the engines price them, step_costs.zero3_serial). The gradient buckets keep
     * their double buffer: a reduce-scatter is not prefetched. */
    if (l->zero >= 3 && shard > 1 && mem->peak_B > mem->capacity_B && pt->zero3_buf_B > 0.0 &&
        spec_framework_prefetch_fits_memory(job->train.framework) &&
        mem->peak_B - 0.5 * pt->zero3_buf_B <= mem->capacity_B) {
        mem->comm_buffers_B -= 0.5 * pt->zero3_buf_B;
        mem->peak_B -= 0.5 * pt->zero3_buf_B;
        mem->zero3_gathered_layers = 1;
    }
    return mem->peak_B <= mem->capacity_B;
}

bool plan_memory_stage(const struct plan *p, const struct spec_job *job,
                       const struct model_costs *c, int stage, struct us_memory *mem)
{
    struct plan_mem_part pt;
    plan_mem_part_of(p, job, c, stage, &pt);
    return plan_mem_finish(p, job, &pt, mem);
}

/* Stage s's ZeRO-independent part: from memo when a sibling layout left it there. */
static const struct plan_mem_part *part_at(const struct plan *p, const struct spec_job *job,
                                           const struct model_costs *c, int s,
                                           struct plan_mem_memo *memo, struct plan_mem_part *tmp)
{
    if (memo) {
        for (int i = 0; i < memo->n; i++)
            if (memo->part[i].stage == s)
                return &memo->part[i];
        if (memo->n < PLAN_MEM_MEMO) {
            plan_mem_part_of(p, job, c, s, &memo->part[memo->n]);
            return &memo->part[memo->n++];
        }
    }
    plan_mem_part_of(p, job, c, s, tmp);
    return tmp;
}

bool plan_memory_with(const struct plan *p, const struct spec_job *job, const struct model_costs *c,
                      struct plan_mem_memo *memo, bool first_overflow, struct us_memory *mem)
{
    int pp = p->lay.pp > 0 ? p->lay.pp : 1;
    bool moe = moe_model(&job->model);
    struct us_memory cur;
    struct plan_mem_part tmp;
    if (!plan_mem_finish(p, job, part_at(p, job, c, 0, memo, &tmp), mem) && first_overflow)
        return false;
    /* the fewest gathered layers of any stage: the engines price every stage so */
    int gathered = mem->zero3_gathered_layers;
    for (int i = 1; i < pp; i++) {
        const struct plan_mem_part *pt = part_at(p, job, c, i, memo, &tmp);
        bool fits = plan_mem_finish(p, job, pt, &cur);
        if (!fits && first_overflow) {
            *mem = cur;
            return false;
        }
        gathered = US_MIN(gathered, cur.zero3_gathered_layers);
        if (cur.peak_B > mem->peak_B)
            *mem = cur;
        mem->zero3_gathered_layers = gathered;
        /* Middle stages after the first uniform one hold the same layers and no more
         * micro-batches in flight (every schedule's count falls with the stage index), so
         * only the last stage can still be larger. */
        if (i < pp - 2 && (!moe || pt->n_dense == 0))
            i = pp - 2;
    }
    return mem->peak_B <= mem->capacity_B;
}

bool plan_memory(const struct plan *p, const struct spec_job *job, const struct model_costs *c,
                 struct us_memory *mem)
{
    return plan_memory_with(p, job, c, NULL, false, mem);
}

void plan_memory_reason(const struct us_memory *mem, char *buf, size_t n)
{
    struct {
        const char *name;
        double B;
    } part[6] = {{"activations", mem->activations_B},
                 {"weights", mem->weights_B},
                 {"grads", mem->grads_B},
                 {"optimizer", mem->optimizer_B},
                 {"buffers", mem->comm_buffers_B},
                 {"reserve", mem->reserve_B}};
    /* largest first (insertion sort of six) */
    for (int i = 1; i < 6; i++)
        for (int j = i; j > 0 && part[j].B > part[j - 1].B; j--) {
            const char *tn = part[j].name;
            double tb = part[j].B;
            part[j] = part[j - 1];
            part[j - 1].name = tn;
            part[j - 1].B = tb;
        }
    bool fits = mem->peak_B <= mem->capacity_B;
    int k = snprintf(buf, n, "%s %.1f GiB of %.1f GiB HBM on stage %d: %s %.1f GiB",
                     fits ? "fits in" : "needs", mem->peak_B / GIB, mem->capacity_B / GIB,
                     mem->stage, part[0].name, part[0].B / GIB);
    for (int i = 1; i < 6 && k >= 0 && (size_t)k < n; i++)
        k += snprintf(buf + k, n - (size_t)k, ", %s %.1f GiB", part[i].name, part[i].B / GIB);
    if (k >= 0 && (size_t)k < n)
        snprintf(buf + k, n - (size_t)k, fits ? "; %.1f GiB free" : "; short by %.1f GiB",
                 fabs(mem->capacity_B - mem->peak_B) / GIB);
}

double plan_checkpoint_B(const struct spec_job *job)
{
    double total, active;
    model_params(&job->model, &total, &active);
    total += model_mtp_params(&job->model);
    double wB, gB, oB;
    struct model_split sp = {.dtype = job->train.dtype, .grad_reduce = job->train.grad_reduce};
    param_bytes(&sp, &wB, &gB, &oB);
    /* Saved: the weights at 16-bit (fp32 for fp32 training; low-precision casts are not
     * saved) and the optimizer state. */
    double saved_w = job->train.dtype == US_DTYPE_FP32 ? 4.0 : 2.0;
    (void)gB;
    (void)wB;
    return total * (saved_w + oB);
}
