/* model: what one transformer layer asks of one chip for one micro-batch - FLOPs, HBM
 * bytes, activation bytes kept for backward, parameters, and the bytes each parallel
 * collective moves - for a given parallel layout. Formulas and sources: docs/MODEL.md.
 * Not here: time (that is sim/ and estimate/), or memory totals per chip (parallel/). */
#ifndef US_MODEL_H
#define US_MODEL_H

#include "spec/spec.h"

enum model_op_kind {
    MODEL_OP_GEMM = 0, /* matrix multiply: efficiency from tile/wave quantization */
    MODEL_OP_ATTN,     /* flash attention core (QK^T, softmax, PV) */
    MODEL_OP_MEM       /* memory-bound elementwise / norm / softmax / router ops */
};

/* 22 ops for an MLA + MoE layer, 26 with the unfused attention core and the fp8 casts; the
 * MTP module adds its projection and head (31). */
#define MODEL_MAX_OPS 40

/* One op on one chip for one micro-batch. For a GEMM, (m, n, k) is the shape of one
 * multiply on this chip and count how many such multiplies run (e.g. local experts);
 * flop = 2*m*n*k*count for the forward. */
struct model_op {
    const char *name; /* static string, e.g. "qkv_proj" */
    enum model_op_kind kind;
    double m, n, k, count;
    double fwd_flop, bwd_flop; /* FLOPs, forward and backward (bwd = 2x fwd for GEMMs) */
    double fwd_B, bwd_B;       /* HBM bytes read + written */
    bool recomputed_selective; /* re-run in backward under selective recompute */
    bool kept;                 /* its output is kept under full recompute (recompute_keep):
                                  not re-run */
    bool high_precision;       /* a GEMM fp8/fp4 recipes keep in bf16 (logits, router) */
    int kernels;               /* kernel launches of the forward (the backward: twice) */
    bool grouped;              /* a grouped GEMM over experts: m is the rows per expert */
    double group_rows0;        /* rows it loses per expert (estimate_grouped_gemm_factor_r0);
                                  0 = DeepGEMM's measured 85 */
};

/* Communication of one layer on one chip for one micro-batch. Sizes are the collective's
 * total buffer size as nccl-tests counts it (all-gather: the gathered output).
 * Each field counts one pass: what recomputation repeats (full recompute: the forward's
 * collectives; selective: the CP ring of the core) is the step engines' to replay
 * (docs/MODEL.md section 1.5). */
struct model_comm {
    int tp_collectives_fwd; /* number of TP collectives in forward (AG/RS with SP, AR without) */
    int tp_collectives_bwd;
    double tp_B;    /* mean size of one TP collective (tp_fwd_B / tp_collectives_fwd) */
    double cp_B;    /* KV bytes this chip sends around the CP ring, forward */
    int ep_a2a_fwd; /* all-to-alls in forward (dispatch + combine = 2) */
    double ep_B;    /* bytes per EP all-to-all per chip */
    /* Exact totals, since a layer's collectives differ in size (MLA gathers
     * its low-rank latents, MoE gathers top_k routed copies of each token). */
    double tp_fwd_B, tp_bwd_B; /* sum of the sizes of the TP collectives, fwd / bwd */
    double cp_bwd_B;           /* K/V + dK/dV ring traffic in backward (2 x cp_B) */
    int ep_a2a_bwd;            /* all-to-alls in backward (dispatch + combine = 2) */
};

struct model_layer {
    struct model_op ops[MODEL_MAX_OPS];
    int nops;
    double fwd_flop, bwd_flop; /* sums over ops */
    double recompute_flop;     /* extra forward FLOPs in backward for the layout's recompute */
    double fwd_B, bwd_B;
    double act_B;                /* activation bytes kept for backward (layout's recompute) */
    double params;               /* parameters of this layer held by this chip (before ZeRO) */
    double params_full;          /* parameters of this layer, unsplit */
    double params_expert;        /* part of params in routed experts: sharded over ep, their
                                    optimizer over the expert-data-parallel group dp*cp/ep */
    double params_tp_replicated; /* part of params every TP rank holds whole (norm weights,
                                    router, MLA down-projections) */
    double act_full_B;           /* activation bytes without recompute: what backward rebuilds
                                    of one recomputed layer at a time */
    double model_flop;           /* model FLOPs of this layer per micro-batch, whole layer
                                    unsplit, forward + backward, no recompute */
    struct model_comm comm;
    /* Times per forward the host waits for the device (a MoE layer's token counts copied to
     * the host before its all-to-all: Megatron-Core's alltoall dispatcher without padding to
     * capacity); the step engines price each as one host launch (docs/MODEL.md 4.5). */
    int host_syncs_fwd;
};

/* The layout facts the cost model needs (a subset of struct us_layout). */
struct model_split {
    int tp, cp, ep;
    bool sequence_parallel;
    enum us_recompute recompute;
    int micro_batch; /* b: sequences per micro-batch */
    int seq_len;     /* s: tokens per sequence */
    enum us_dtype dtype;
    /* Enum spec_grad_reduce of the job (training.grad_reduce_dtype);
     * 0 = Megatron's default for dtype. */
    int grad_reduce;
    bool unfused_attention; /* training.attention unfused (spec_attention) */
    int etp;                /* expert tensor parallelism: 1 or tp (0 = tp) */
    unsigned rc_modules;    /* enum spec_rc_module bits selective recompute re-runs (0: the
                               attention core, Megatron's default) */
    unsigned rc_keep;       /* enum spec_rc_keep bits full recompute keeps */
    bool fp8_params;        /* weights held and gathered in fp8 (training.fp8_params) */
    bool optimizer_bf16;    /* Adam's moments in bf16 (training.optimizer_state_dtype) */
    double gmm_tile_rows;   /* rows a grouped expert GEMM loses per expert: the kernel's row
                               tile (MaxText's gmm), or 0 for DeepGEMM's measured 85 */
    bool moe_dense_matmul;  /* dispatch and combine as einsums over capacity masks
                               (training.moe_dense_matmul) */
    bool ep_flex;           /* DeepEP / HybridEP dispatch (parallel.ep_dispatcher flex) */
    int weight_dtype;       /* enum spec_weight_dtype, resolved (spec_weight_dtype_of) */
    bool moe_probs_combine; /* the MoE combine scales and keeps the expert outputs
                               (spec_moe_probs_at_combine) */

    /* fp8/fp4 weights quantized in every forward call, not once per step
     * (spec_framework_casts_weights_per_call) */
    bool weight_cast_per_call;
    /* devices per chip, each holding its own copy of the gathered weights (chip.devices;
     * 0 = 1) */
    int devices;
};

struct model_costs {
    struct model_layer dense; /* one dense transformer layer */
    struct model_layer moe;   /* one MoE layer (zero when the model has none) */
    struct model_layer embed; /* embedding lookup (first pipeline stage) */
    struct model_layer head;  /* final norm, logits and loss (last pipeline stage) */
    int n_dense, n_moe;       /* layers of each kind in the whole model */
    /* DeepSeek-style multi-token-prediction modules, run on the last stage
     * after the head. One module = two norms, the 2h->h projection, one transformer layer
     * (MoE when the model has experts), the shared final norm, logits and loss. */
    struct model_layer mtp;
    int n_mtp;
};

/* Parameter counts of the whole model (embeddings and head included, untied unless the
 * model ties them). active = parameters one token touches (MoE: top_k + shared).
 * As DeepSeek reports them, MTP modules are not in these totals: see model_mtp_params. */
void model_params(const struct spec_model *m, double *total, double *active);

/* Parameters of the MTP modules that training adds (embedding and output head shared with
 * the main model, so not counted again). 0 when mtp_layers = 0. */
double model_mtp_params(const struct spec_model *m);

/* Activation bytes one chip keeps for backward of one layer (dense or MoE) under the split's
 * recompute mode. flash=false gives the Korthikanti et al. 2022 accounting (s^2 softmax and
 * dropout tensors kept); model_costs_compute always uses flash=true. */
double model_layer_act_B(const struct spec_model *m, const struct model_split *s, bool moe,
                         bool flash);

/* Model FLOPs per token, the MFU numerator (no recompute): 6 * active matmul parameters
 * (embedding lookup excluded) + 6*s*heads*(qk_dim + v_dim) per layer for attention counted
 * over the full s x s matrix (SC'21 eq. 3 / PaLM appendix B) + 6*h*V for the logits, plus
 * the MTP modules. Multiply by tokens for a step. */
double model_flop_per_token(const struct spec_model *m, int seq_len);

/* Fills c for the split. Never fails: the split must have been checked (plan_check). */
void model_costs_compute(const struct spec_model *m, const struct model_split *s,
                         struct model_costs *c);

/* Bytes per element for a compute dtype: GEMM operands (fp32 4, fp16/bf16 2, fp8 1, fp4 0.5),
 * activations (bf16, fp32 for fp32 training) and main grads (fp32; fp16 for fp16 training,
 * as Megatron's accumulate_allreduce_grads_in_fp32 default does). */
double model_gemm_elem_B(enum us_dtype dt);
double model_act_elem_B(enum us_dtype dt);
double model_grad_elem_B(enum us_dtype dt);
/* Bytes per main-grad element of a split: 2 when it reduces in bf16
 * (training.grad_reduce_dtype), 4 when it asks for fp32, else model_grad_elem_B(dtype).
 * The grad buffer (parallel/), its DP reduction (estimate/) and the weight-gradient
 * accumulation in the backward GEMMs all use it. */
double model_split_grad_elem_B(const struct model_split *s);

/* Is layer index i (0-based) an MoE layer? */
bool model_layer_is_moe(const struct spec_model *m, int i);

#endif
