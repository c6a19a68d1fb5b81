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

#define MODEL_MAX_OPS 24

/* One op on one chip for one micro-batch. For a GEMM, (m, n, k) is the shape of one
 * multiply on this chip and count how many such multiplies run (e.g. local experts);
 * flop = 2*m*n*k*count for the forward. */
struct model_op {
    const char *name;       /* static string, e.g. "qkv_proj" */
    enum model_op_kind kind;
    double m, n, k, count;
    double fwd_flop, bwd_flop;   /* FLOPs, forward and backward (bwd = 2x fwd for GEMMs) */
    double fwd_B, bwd_B;         /* HBM bytes read + written */
    bool recomputed_selective;   /* re-run in backward under selective recompute */
};

/* Communication of one layer on one chip for one micro-batch. Sizes are the collective's
 * total buffer size as nccl-tests counts it (all-gather: the gathered output). */
struct model_comm {
    int tp_collectives_fwd;  /* number of TP collectives in forward (AG/RS with SP, AR without) */
    int tp_collectives_bwd;
    double tp_B;             /* size of each TP collective */
    double cp_B;             /* KV bytes exchanged by context parallelism, fwd (bwd = 2x) */
    int ep_a2a_fwd;          /* all-to-alls in forward (dispatch + combine = 2) */
    double ep_B;             /* bytes per EP all-to-all per chip */
};

struct model_layer {
    struct model_op ops[MODEL_MAX_OPS];
    int nops;
    double fwd_flop, bwd_flop;   /* sums over ops */
    double recompute_flop;       /* extra forward FLOPs in backward for the layout's recompute */
    double fwd_B, bwd_B;
    double act_B;                /* activation bytes kept for backward (layout's recompute) */
    double params;               /* parameters of this layer held by this chip (before ZeRO) */
    double params_full;          /* parameters of this layer, unsplit */
    double model_flop;           /* model FLOPs of this layer per micro-batch, whole layer
                                    unsplit, forward + backward, no recompute */
    struct model_comm comm;
};

/* The layout facts the cost model needs (a subset of struct us_layout). */
struct model_split {
    int tp, cp, ep;
    bool sequence_parallel;
    enum us_recompute recompute;
    int micro_batch;  /* b: sequences per micro-batch */
    int seq_len;      /* s: tokens per sequence */
    enum us_dtype dtype;
};

struct model_costs {
    struct model_layer dense;   /* one dense transformer layer */
    struct model_layer moe;     /* one MoE layer (zero when the model has none) */
    struct model_layer embed;   /* embedding lookup (first pipeline stage) */
    struct model_layer head;    /* final norm, logits and loss (last pipeline stage) */
    int n_dense, n_moe;         /* layers of each kind in the whole model */
};

/* Parameter counts of the whole model (embeddings and head included, untied unless the
 * model ties them). active = parameters one token touches (MoE: top_k + shared). */
void model_params(const struct spec_model *m, double *total, double *active);

/* Model FLOPs of one training step for `tokens` tokens: 6 * active_params_non_embedding
 * * tokens + attention + logits, the MFU numerator (no recompute). */
double model_flop_per_token(const struct spec_model *m, int seq_len);

/* Fills c for the split. Never fails: the split must have been checked (plan_check). */
void model_costs_compute(const struct spec_model *m, const struct model_split *s,
                         struct model_costs *c);

/* Is layer index i (0-based) an MoE layer? */
bool model_layer_is_moe(const struct spec_model *m, int i);

#endif
