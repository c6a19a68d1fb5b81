/* estimate: the closed-form step-time estimator and the per-op compute-time model shared
 * with the event simulator. One evaluation prices a layout in microseconds: it is what
 * search ranks with. The event simulator (sim/) is the reference where they differ.
 * Formulas: docs/MODEL.md. */
#ifndef US_ESTIMATE_H
#define US_ESTIMATE_H

#include "model/model.h"
#include "net/net.h"
#include "parallel/plan.h"
#include "spec/spec.h"

/* One communication group of the layout: `size` ranks at rank stride `stride` (Megatron
 * placement, docs/MODEL.md section 5). size 1 = no communication. */
struct step_group {
    int size;
    int64_t stride;
};

/* The groups one chip belongs to. */
struct step_groups {
    struct step_group tp, cp, ep, pp;
    struct step_group dp;  /* dense gradients and parameters: dp x cp ranks */
    struct step_group edp; /* expert gradients and parameters: dp x cp / ep ranks */
};

struct step_geom;

/* Everything both engines need for one layout, computed once. */
struct step_ctx {
    const struct spec_job *job; /* not owned */
    struct plan plan;
    struct model_costs costs;
    struct net_topo topo;
    struct us_memory mem;
    bool fits;
    struct step_groups groups; /* filled by step_prepare (step_groups_init) */
    /* Where the layers sit, found by the caller for many layouts at once
     * (step_geom_of; not owned); NULL, as step_prepare leaves it: the closed form finds it. */
    const struct step_geom *geom;
};

/* What one step costs. */
struct step_times {
    double step_s;
    struct us_breakdown br;
    double hw_flop_per_chip; /* executed per chip per step, recompute included */
    double compute_busy_s;   /* time the matrix units are busy per chip */
    double hbm_busy_s;       /* time HBM is busy per chip (for energy) */
    double stream_busy_s;    /* time the compute stream runs anything per chip: matrix and
                                memory-bound ops, optimizer, host waits (for power) */
    /* Facility power over the step, W, all chips and PUE (docs/MODEL.md 7.6): the event
     * engine's highest and lowest levels; the closed form gives the bounds (every chip in
     * its compute stream, every chip waiting). 0 when the job has no power figures. */
    double power_peak_W, power_min_W;
    const char *engine; /* "event" or "closed-form": what priced it (static) */
};

/* Prepares ctx for a full layout (every field set). Returns false with ctx->plan.reason
 * when the layout is invalid; a layout that does not fit returns true with fits=false. */
bool step_prepare(struct step_ctx *ctx, const struct spec_job *job, const struct us_layout *lay);

/* Closed-form estimate of one step. */
void estimate_step(const struct step_ctx *ctx, struct step_times *out);

/* Time of one op on one chip (roofline with tile/wave-quantized GEMM efficiency). */
double estimate_op_time_s(const struct spec_system *sys, enum us_dtype dt,
                          const struct model_op *op, bool backward);

/* --- shared by the two engines (src/estimate/costs.c, ops.c) ------------------------- */

/* Fraction of the family's GEMM efficiency left after tile quantization (m, n, k padded
 * up to the chip's matrix tile) and wave quantization (tiles run in waves of
 * compute_units) for `count` multiplies of m x n x k run as one grouped launch. In (0, 1];
 * 1 when the shape is unknown (0). */
double estimate_gemm_quantization(const struct spec_chip *chip, double m, double n, double k,
                                  double count);

/* Peak dense FLOP/s the chip applies to matrix math of dtype dt (GEMMs) and to attention
 * (flash attention stays bf16 under fp8/fp4, as in Transformer Engine). A dtype the chip
 * lacks falls back to the next wider one it has. */
double estimate_peak_gemm_flops(const struct spec_chip *chip, enum us_dtype dt);
double estimate_peak_attn_flops(const struct spec_chip *chip, enum us_dtype dt);
/* What a grouped GEMM over experts keeps of a dense GEMM's efficiency with `rows` rows per
 * expert (DeepGEMM's grouped vs dense figures): rows / (rows + 85). */
double estimate_grouped_gemm_factor(double rows);
/* The same for a kernel that loses rows0 rows per group (its row tile: MaxText's gmm); rows0
 * 0 gives estimate_grouped_gemm_factor. rows / (rows + rows0). */
double estimate_grouped_gemm_factor_r0(double rows, double rows0);
/* The rows per group a grouped GEMM op's kernel sees: op->m, or for a row-tiled kernel
 * (group_rows0 > 0) on a chip of several devices (chip.devices) each device's share. */
double estimate_grouped_rows(const struct spec_chip *chip, const struct model_op *op);
/* The dtype attention (and the GEMMs fp8 recipes keep high-precision) runs in. */
enum us_dtype estimate_attn_dtype(enum us_dtype dt);
/* The large-GEMM efficiency of dtype dt on the system: efficiency.gemm_fp8 for fp8 and fp4
 * on a chip that has either, else efficiency.gemm. */
double estimate_gemm_base_eff(const struct spec_system *sys, enum us_dtype dt);

/* The facility power levels of a job (docs/MODEL.md 7.6), W per working chip unless said:
 * one chip in its compute stream (matrix and memory-bound phases blended by their shares of
 * the stream time), one chip waiting, and the constant part of the whole facility (host and
 * network of every chip, hot spares idle) before PUE. */
struct step_power {
    double stream_W, wait_W;
    double const_W; /* whole job */
    double chips;   /* working chips */
    double pue;
};
void step_power_levels(const struct spec_job *job, int64_t chips, double compute_busy_s,
                       double stream_busy_s, struct step_power *pw);

/* Fills ctx->groups from the layout and its rank order. */
void step_groups_init(struct step_ctx *ctx);

/* What the engines schedule. Categories of work, in breakdown order. */
enum step_cat {
    STEP_CAT_COMPUTE = 0,
    STEP_CAT_TP,
    STEP_CAT_CP,
    STEP_CAT_EP,
    STEP_CAT_PP,
    STEP_CAT_DP,
    STEP_CAT_OPT,
    STEP_CAT_OVERHEAD,
    STEP_CAT_COUNT
};

/* One layer (a transformer layer, or the embedding / head) on one chip for one
 * micro-batch, in seconds. The forward of a layer is a chain:
 *   [attention core || CP ring exchange] -> [the other ops] -> TP collectives -> EP a2a
 * where TP (EP) runs beside the other ops instead when tp_comm_overlap (ep_comm_overlap)
 * is set. The backward is the same chain with backward times, preceded by the whole
 * forward chain again under full recompute (selective recompute adds the re-run ops to
 * attn_bwd_s). */
struct step_layer_time {
    double attn_fwd_s, other_fwd_s;     /* compute stream, forward */
    double attn_bwd_s, other_bwd_s;     /* compute stream, backward (+ selective recompute) */
    double tp_fwd_s, tp_bwd_s;          /* all TP collectives of the direction */
    double cp_fwd_s, cp_bwd_s;          /* CP ring exchange of the direction */
    double ep_fwd_s, ep_bwd_s;          /* EP all-to-alls of the direction */
    bool full_recompute;                /* backward first re-runs the forward chain */
    double rerun_attn_s, rerun_other_s; /* what full recompute re-runs of attn_fwd_s and
                                           other_fwd_s (all of it but recompute_keep's ops) */
    double params_local;                /* parameters on this chip (before ZeRO) */
    double grad_s;                      /* DP reduction of this layer's gradients alone */
    double param_ag_s;                  /* DP all-gather of this layer's parameters alone */
    int bucket_layers;                  /* layers of this kind per DP bucket (Megatron DDP) */
    double bucket_grad_s;               /* DP reduction of one full bucket (AR or RS) */
    double bucket_ag_s;                 /* DP all-gather of one full bucket (ZeRO-1/2) */
    double opt_s;                       /* optimizer update of this layer's local shard */
    double hw_flop;                     /* executed per micro-batch, recompute included */
    double compute_busy_s;              /* GEMM + attention time per micro-batch, fwd+bwd */
    double launch_s;                    /* what the launch floor adds per micro-batch, fwd+bwd */
    double hbm_busy_s;                  /* HBM transfer time per micro-batch, fwd+bwd */
};

/* What one stage (physical pipeline rank) holds. */
struct step_stage {
    int n_dense, n_moe;
    bool has_embed, has_head;
    /* Layers the stage's first / last virtual chunk holds fewer than an
     * even share (an end chunk under Megatron's embedding / loss accounting, docs/MODEL.md
     * 2.2); 0 = every chunk even. */
    int first_chunk_short, last_chunk_short;
};

/* SMs a flex-dispatcher (DeepEP, HybridEP) all-to-all holds unless parallel.ep_dispatcher_sms
 * says: Megatron-Core's default (NVIDIA/Megatron-LM@d98e8a64 token_dispatcher.py, "None -> 20
 * (DeepEP's historical mcore default when moe_flex_dispatcher_num_sms is unset)"). */
#define STEP_FLEX_DISPATCHER_SMS 20

/* The prices both engines start from; step_costs_compute fills it (no allocation). */
struct step_costs {
    struct step_layer_time dense, moe, embed, head;
    double p2p_s;      /* one pipeline send of activations (or gradients) */
    double overhead_s; /* system.step_overhead_s */
    int pp, vpp, m;    /* stages, virtual chunks per stage, micro-batches */
    int zero;          /* 0..3 */
    /* ZeRO-3 with one gathered layer (us_memory.zero3_gathered_layers = 1: the framework's
     * scheduler dropped the prefetch to fit): each layer's gather starts when the layer before
     * it ends and its compute waits for it, forward and backward (docs/MODEL.md 5.3). */
    bool zero3_serial;
    enum us_schedule schedule;
    bool tp_overlap, ep_overlap;
    /* Share of a layer's forward TP collective time that waits after its GEMMs when TP is
     * overlapped: Transformer Engine's userbuffers send the last chunk of each forward
     * reduce-scatter after the last GEMM chunk (docs/MODEL.md 5.3). 0 without TP overlap
     * and outside megatron. */
    double tp_tail_fwd;
    /* Share of the compute units an overlapped EP all-to-all's kernels hold while it runs
     * (0 without EP overlap); the compute beside it loses that share (docs/MODEL.md 5.3). */
    double ep_sm_share;
    double bucket_params; /* DP bucket size in parameters (Megatron DDP) */
    /* Walk every DP bucket race and ZeRO-1/2 gather wait, of every stage
     * (the reference); false, the default, takes their closed forms for the first stage of
     * each run of like stages, within 1e-12 of the walk (tests compare the two). */
    bool race_all;
    /* Leave step_times.br zero - for callers that read only the step and
     * the work totals (search ranks millions of layouts and reprices the ones it reports). */
    bool no_breakdown;
};

/* The share of a layer's EP all-to-all time left exposed under parallel.ep_comm_overlap:
 * one micro-batch's of m (Megatron-Core's combined 1F1B overlaps the others); 1 without. */
double step_ep_exposed_share(const struct step_costs *sc);

/* Whether the layout overlaps TP collectives: its own choice, else the job's setting. */
bool step_tp_overlap(const struct spec_job *job, const struct us_layout *lay);
void step_costs_compute(const struct step_ctx *ctx, struct step_costs *sc);

/* What step_costs_compute derives from the model split and the chip
 * alone - each kind's op times, recompute, busy times and FLOPs (the communication fields
 * are 0). Callers pricing many layouts of one split (search) fill it once. */
struct step_compute {
    struct step_layer_time dense, moe, embed, head;
    bool sel_attn[4]; /* dense, moe, embed, head: selective recompute re-runs attention */
};
void step_compute_of(const struct step_ctx *ctx, struct step_compute *out);

/* Collective prices, layer-kind times and op times remembered across the layouts of one job,
 * one thread; the full type is in estimate/memo.h, for the callers that hold one (search)
 * and costs.c, which fills it. Zero-fill to start. */
struct step_price_cache;
/* Step_compute_of with op times looked up in cache (struct step_op_memo;
 * NULL: none); the same result bit for bit. */
void step_compute_of_with(const struct step_ctx *ctx, struct step_price_cache *cache,
                          struct step_compute *out);

/* Step_costs_compute with the split's part given (NULL: computed here) and
 * prices looked up in cache (NULL: none); the same result bit for bit. */
void step_costs_compute_with(const struct step_ctx *ctx, const struct step_compute *pre,
                             struct step_price_cache *cache, struct step_costs *sc);

/* The closed form from step costs the caller computed (step_costs_compute,
 * or step_costs_compute_with and its caches): estimate_step = step_costs_compute + this. */
void estimate_step_with(const struct step_ctx *ctx, const struct step_costs *sc,
                        struct step_times *out);

/* Where a layout's layers sit - its stages as runs of like ones, each
 * run's virtual chunks as runs of like chunks. It depends on the stage placement (pp, vpp,
 * the ends) and the model alone, so a search finds it once for the many layouts that share
 * it and hands it to the closed form in step_ctx.geom. */
#define STEP_GEOM_RUNS       8
#define STEP_GEOM_CHUNK_RUNS 16
struct step_geom_run {
    struct step_stage st;
    int first, n; /* stages first .. first + n - 1 */
    int ncr;      /* its chunks as runs of like ones (vpp > 1; 0 otherwise) */
    struct step_stage ck[STEP_GEOM_CHUNK_RUNS];
    int ckn[STEP_GEOM_CHUNK_RUNS];
    int ckind[STEP_GEOM_CHUNK_RUNS]; /* which of step_geom.chunk each is */
};
#define STEP_GEOM_KINDS 8
struct step_geom {
    int nruns;
    struct step_geom_run run[STEP_GEOM_RUNS];
    int nchunk; /* the distinct chunks of all runs (an end stage holds middle chunks too) */
    struct step_stage chunk[STEP_GEOM_KINDS];
};
/* Fills g for ctx's plan and model; false when the layout has more runs than g holds. */
bool step_geom_of(const struct step_ctx *ctx, struct step_geom *g);

/* Layers of stage s (calls plan_stage_layers). */
void step_stage_of(const struct step_ctx *ctx, int s, struct step_stage *st);

/* Layers of virtual chunk k (0..vpp-1) of a stage: the stage's dense layers go to the
 * earliest chunks (they come first in the model); the embedding sits in chunk 0 of
 * stage 0 and the head in the last chunk of the last stage; an end chunk is short by
 * first_chunk_short / last_chunk_short layers. */
void step_chunk_of(const struct step_stage *st, int vpp, int k, struct step_stage *out);

/* Fills the per-chip work totals of out (hw_flop_per_chip, compute_busy_s, hbm_busy_s):
 * the mean over the stages of one pipeline (DP replicas are alike). */
void step_work_totals(const struct step_ctx *ctx, const struct step_costs *sc,
                      struct step_times *out);
/* Same, from the stages' layers already looked up (stages[0..pp-1]; NULL looks them up). */
void step_work_totals_of(const struct step_ctx *ctx, const struct step_costs *sc,
                         const struct step_stage *stages, struct step_times *out);

/* Time of a layer's forward / backward chain for one micro-batch, and how much of it is
 * each category (exposed communication; the rest is compute). cat may be NULL. */
/* Compute-stream time of one layer for one micro-batch, forward and backward, with the
 * forward re-run of full recompute (the kernels and the host waits of step_layer_time). */
double step_layer_stream_s(const struct step_layer_time *lt);

double step_layer_fwd_s(const struct step_costs *sc, const struct step_layer_time *lt,
                        double cat[STEP_CAT_COUNT]);
double step_layer_bwd_s(const struct step_costs *sc, const struct step_layer_time *lt,
                        double cat[STEP_CAT_COUNT]);

#endif
