/* spec: the in-memory form of hardware systems, models and jobs, and their loaders.
 * Loaders read YAML or JSON with libfyaml, check every key, type and range strictly and
 * report file:line:col plus the field path. All quantities here are SI (bytes, B/s, s,
 * FLOP/s, W, USD); conversion from the file's units happens in the loader only.
 * Not here: any cost model. The structs are plain values with fixed-size arrays so they
 * copy freely between threads. */
#ifndef US_SPEC_H
#define US_SPEC_H

#include <stdbool.h>
#include <stdint.h>

#include "ultrasim.h"

struct core_arena;

#define SPEC_NAME_LEN  64
#define SPEC_DESC_LEN  256
#define SPEC_MAX_TIERS 4

/* Limits on what a spec file may be; anything beyond is refused with US_EINPUT. */
#define SPEC_MAX_FILE_B (4u << 20) /* 4 MiB */
#define SPEC_MAX_DEPTH  32         /* nesting of mappings and sequences */

enum spec_topology {
    SPEC_TOPO_SWITCH = 0, /* all-to-all through switches (NVSwitch, NeuronSwitch) */
    SPEC_TOPO_TORUS,      /* torus or ring with dims[] (Trn2 4x4x4, TPU 3D torus) */
    SPEC_TOPO_HYPERCUBE,  /* Trn1 NeuronLink-v2 */
    SPEC_TOPO_MESH        /* fully connected point-to-point links (AMD xGMI 8-GPU) */
};

enum spec_fabric_kind {
    SPEC_FABRIC_FAT_TREE = 0, /* folded Clos */
    SPEC_FABRIC_RAIL          /* rail-optimized: same local rank on one leaf per rail */
};

struct spec_chip {
    char name[SPEC_NAME_LEN];
    char family[SPEC_NAME_LEN];        /* lineage, e.g. nvidia-hopper; selects the default
                                          training.framework (spec_framework_default) */
    double peak_flops[US_DTYPE_COUNT]; /* dense FLOP/s per dtype; 0 = not supported */
    double peak_int8_ops; /* dense int8 op/s; shown only (no int8 training); 0 = none */
    double hbm_B;         /* capacity, bytes */
    /* hbm_B is what the runtime lets one program allocate (JAX's bytes_limit), not the
     * physical capacity: a framework that assigns its buffers when it compiles keeps no
     * reserve below it (spec_framework_caching_allocator; docs/MODEL.md 2.4) */
    bool hbm_runtime_limit;
    double hbm_Bps;       /* bandwidth, bytes/s */
    double idle_W, tdp_W; /* chip power at idle and at full load */
    /* Draw per phase of a training step (docs/MODEL.md 7.6), W: matrix-bound kernels
     * (GEMM, attention), memory-bound kernels, and waiting on communication or a pipeline
     * neighbour. A file may give each (gemm_W, memory_W, wait_W); the loader derives the
     * others from tdp_W with SPEC_POWER_*_OF_TDP and says so in power_derived. */
    double gemm_W, memory_W, wait_W;
    unsigned power_derived;           /* SPEC_POWER_DERIVED_* bits: which levels came from TDP */
    double usd_per_hour;              /* price per chip-hour */
    int matrix_m, matrix_n, matrix_k; /* GEMM tile shape the matrix units work in */
    int compute_units;                /* SMs / NeuronCores / CUs: tiles run in waves */
    int devices; /* devices the framework addresses per chip, each running its own kernels on
                    its share of the rows (chip.devices: JAX's two per TPU7x, one per die); 1 */
};

/* Phase power levels as fractions of TDP, for chips without a measurement (docs/MODEL.md
 * 7.6). GEMM: an H100's matrix-bound kernels run at its 700 W board limit - the same Hopper
 * die at a 900 W limit (GH200) reaches 4.3% more MAMF (828.6 vs 794.5 TFLOPS, ml-engineering
 * MAMF table), so the limit binds - and the 8xH100 node peaks at 8.4 kW with the GPUs near
 * full utilization (Latif et al., arXiv:2412.08602). Wait: TPU v4's measured minimum over its
 * workloads is 90 of 192 W (Google Cloud TPU v4 page: min/mean/max 90/170/192 W) = 0.47.
 * Memory: no published per-phase figure; midway between wait and GEMM (an assumption). */
#define SPEC_POWER_GEMM_OF_TDP   1.0
#define SPEC_POWER_WAIT_OF_TDP   (90.0 / 192.0)
#define SPEC_POWER_MEMORY_OF_TDP (0.5 * (SPEC_POWER_GEMM_OF_TDP + SPEC_POWER_WAIT_OF_TDP))
enum { SPEC_POWER_DERIVED_GEMM = 1u, SPEC_POWER_DERIVED_MEMORY = 2u, SPEC_POWER_DERIVED_WAIT = 4u };

/* Efficiency constants of one chip family; calibrated only on shared/calibration/
 * (docs/MODEL.md gives each value and how it was fitted). */
struct spec_efficiency {
    double gemm;      /* achievable fraction of peak for a large, tile-aligned GEMM (bf16) */
    double gemm_fp8;  /* the same for fp8 and fp4 GEMMs; the loader sets it to gemm when the
                         file gives none */
    double attention; /* flash-attention fraction of peak */
    double memory;    /* achievable fraction of HBM bandwidth for memory-bound ops */
    double comm;      /* achievable fraction of link bandwidth for collectives */
    double comm_inr;  /* the same for in-network reduction in the scale-up switch (NVLS); the
                         loader sets it to comm when the file gives none */
};

struct spec_scaleup {
    int chips;        /* chips per scale-up domain */
    double bw_Bps;    /* per chip, per direction */
    double latency_s; /* per hop / per message start-up */
    enum spec_topology topology;
    int dims[3];               /* torus dims (product = chips); 0 = unused */
    bool in_network_reduction; /* NVLS / SHARP-style reduction in the switch */
};

struct spec_tier {
    int radix;      /* ports per switch at this tier */
    double oversub; /* oversubscription (down:up bandwidth), >= 1 */
};

struct spec_fabric {
    double nic_Bps;   /* per chip, per direction */
    double latency_s; /* per hop */
    enum spec_fabric_kind kind;
    int ntiers; /* tiers of switches above the hosts (1..SPEC_MAX_TIERS) */
    struct spec_tier tiers[SPEC_MAX_TIERS];
    bool in_network_reduction; /* SHARP on the scale-out switches */
};

struct spec_reliability {
    double interruptions_per_chip_hour; /* unplanned job interruptions per chip-hour */
    double restart_s;                   /* detect + reschedule + reload + warm-up */
    double ckpt_write_Bps_per_chip;     /* sustained checkpoint write bandwidth per chip */
    double step_cv;                     /* coefficient of variation of one chip's step time */
};

struct spec_system {
    char name[SPEC_NAME_LEN];
    char description[SPEC_DESC_LEN];
    struct spec_chip chip;
    struct spec_efficiency eff;
    int chips_per_node; /* chips per host (server) */
    struct spec_scaleup up;
    struct spec_fabric out;
    double host_W_per_chip;    /* CPU, memory, fans: share per chip */
    double network_W_per_chip; /* NICs and switches: share per chip */
    double pue;                /* facility power / IT power */
    double step_overhead_s;    /* host-side time per step not hidden by the device */
    struct spec_reliability rel;
};

struct spec_moe {
    int experts;            /* routed experts */
    int top_k;              /* experts per token */
    int expert_ffn_hidden;  /* hidden size of one routed expert */
    int shared_experts;     /* always-on experts, each of expert_ffn_hidden */
    int dense_layers;       /* the first dense_layers layers use the dense MLP (ffn_hidden) */
    double capacity_factor; /* tokens an expert may take / its fair share; 0 = dropless */
    double load_imbalance;  /* the busiest EP rank's routed rows / the mean, dropless routing
                               (model.moe.load_imbalance); 0 = unset = 1, balanced */
};

struct spec_mla {
    int q_lora_rank; /* 0 = queries are not compressed */
    int kv_lora_rank;
    int qk_nope_head_dim;
    int qk_rope_head_dim;
    int v_head_dim;
};

struct spec_model {
    char name[SPEC_NAME_LEN];
    char description[SPEC_DESC_LEN];
    int layers;
    int hidden;
    int heads;
    int kv_heads;   /* = heads for MHA, 1 for MQA */
    int head_dim;   /* hidden / heads unless the model says otherwise */
    int ffn_hidden; /* dense MLP hidden size */
    int64_t vocab;
    bool gated_mlp; /* SwiGLU-style: three projections */
    bool tied_embeddings;
    bool has_moe;
    struct spec_moe moe;
    bool has_mla;
    struct spec_mla mla;
    int mtp_layers; /* DeepSeek-style multi-token-prediction modules (counted in params) */
    /* Dropout probability on the residual branches and the embedding
     * (Megatron's hidden_dropout, HF resid_pdrop). 0 = trained without dropout, so no masks
     * are kept (docs/MODEL.md 1.6); the loader leaves it 0 until it reads a key for it. */
    double hidden_dropout;
};

/* A parallel field of 0 (or -1 for zero/sp/recompute/schedule) is "unset": search fills it. */
/* parallel.recompute_modules: what selective recompute re-runs, as Megatron-Core's
 * recompute_modules names them (docs/MODEL.md 2.4). Bit i is spec_recompute_module_names[i]. */
enum spec_rc_module {
    SPEC_RC_CORE_ATTN = 1u << 0,     /* the attention core (the default) */
    SPEC_RC_MLP = 1u << 1,           /* a dense layer's MLP */
    SPEC_RC_MOE_ACT = 1u << 2,       /* the experts' activation function */
    SPEC_RC_LAYERNORM = 1u << 3,     /* the input and pre-MLP norms */
    SPEC_RC_MLA_UP_PROJ = 1u << 4,   /* MLA's Q and KV up-projections */
    SPEC_RC_MOE = 1u << 5,           /* the whole MoE block, dispatch and combine included */
    SPEC_RC_SHARED_EXPERTS = 1u << 6 /* the shared experts */
};
#define SPEC_RC_MODULES 7
extern const char *const spec_recompute_module_names[SPEC_RC_MODULES];

/* parallel.recompute_keep: tensors full recompute keeps beside the layer input, by MaxText's
 * names (remat_policy save_only_these_names); their ops are not re-run (docs/MODEL.md 1.7).
 * Bit i is spec_recompute_keep_names[i]. */
enum spec_rc_keep {
    SPEC_KEEP_QKV_PROJ = 1u << 0, /* Q, K and V */
    SPEC_KEEP_CONTEXT = 1u << 1,  /* the attention output */
    SPEC_KEEP_OUT_PROJ = 1u << 2, /* the output projection's output */
    SPEC_KEEP_MLPWI = 1u << 3,    /* the MLP's (experts') fc1 outputs */
    SPEC_KEEP_MLPWO = 1u << 4     /* the MLP's (experts') fc2 output */
};
#define SPEC_RC_KEEPS 5
extern const char *const spec_recompute_keep_names[SPEC_RC_KEEPS];

struct spec_parallel;
/* The one place the open fields of a job are found: copies the fields p fixes (and
 * micro_batch when > 0) into lay and returns the enum us_field bits of those left open, for
 * run, search and validate to fill each its own way. */
unsigned spec_layout_fixed(const struct spec_parallel *p, int micro_batch, struct us_layout *lay);

/* What struct spec_parallel holds for a field the job leaves out (the tool chooses it): a
 * degree (tp, pp, dp, cp, ep, vpp, etp) is SPEC_DEGREE_UNSET, a choice (zero,
 * sequence_parallel, recompute, schedule) SPEC_UNSET. */
#define SPEC_DEGREE_UNSET 0
#define SPEC_UNSET        (-1)

/* parallel.pipeline_layout read into the planner's shape (docs/MODEL.md 2.2): layers per
 * virtual chunk. pp = 0: no layout given. */
struct spec_pipeline_layout {
    int pp, vpp;
    int chunk;                     /* every chunk of a middle stage */
    int first_chunk0, first_chunk; /* stage 0: chunk 0 (with the embedding), each other */
    int last_chunk, last_chunkN;   /* the last stage: each chunk but its last, the last */
};

struct spec_parallel {
    int tp, pp, dp, cp, ep, vpp; /* SPEC_DEGREE_UNSET when left out */
    int zero;                    /* 0..3; -1 unset */
    int sequence_parallel;       /* 0/1; -1 unset */
    int recompute;               /* enum us_recompute; -1 unset */
    unsigned recompute_modules;  /* enum spec_rc_module bits selective recompute re-runs;
                                    0 = SPEC_RC_CORE_ATTN */
    unsigned recompute_keep;     /* enum spec_rc_keep bits full recompute keeps */
    int schedule;                /* enum us_schedule; -1 = derived (interleaved when vpp > 1) */
    int first_stage_layers;      /* uneven pipeline: layers on the first / last stage; 0 = even */
    int last_stage_layers;
    bool tp_comm_overlap;       /* overlap TP collectives with GEMMs (Megatron tp-comm-overlap); the
                                   training framework's default when the file leaves it out */
    bool tp_comm_overlap_given; /* the file set it: search keeps it (else it tries both where
                                   the framework can overlap) */
    bool ep_comm_overlap;       /* overlap EP all-to-all with expert compute */
    int ep_dispatcher;          /* parallel.ep_dispatcher: 0 alltoall (Megatron's
                                   MoEAlltoAllTokenDispatcher), 1 flex (DeepEP / HybridEP: one
                                   copy per destination rank, permutes fused around it) */
    int ep_dispatcher_sms;      /* parallel.ep_dispatcher_sms: compute units the flex
                                   dispatcher's kernels hold while they run; 0 = Megatron-Core's
                                   default, 20 (STEP_FLEX_DISPATCHER_SMS) */
    int etp;        /* expert tensor parallelism: 1 or tp; 0 = tp (Megatron's default) */
    char order[16]; /* rank order, innermost first; default "tp-cp-ep-dp-pp" */
    struct spec_pipeline_layout layout; /* parallel.pipeline_layout (pp = 0: none) */
};

/* training.framework (docs/MODEL.md 6.6). AUTO resolves by the chip's vendor: TPUs run
 * MaxText, Trainium runs the Neuron stack, every other chip Megatron-Core (NeMo and
 * Megatron-Bridge are Megatron-Core). */
enum spec_framework {
    SPEC_FW_AUTO = 0,
    SPEC_FW_MEGATRON,
    SPEC_FW_TORCHTITAN,
    SPEC_FW_MAXTEXT,
    SPEC_FW_NEURON,
    SPEC_FW_DEEPSPEED,
    SPEC_FW_COUNT
};

/* training.attention: fused flash attention (the default), or the unfused kernels of
 * 2021-22 Megatron-LM - batched QK^T and PV GEMMs around a softmax and dropout that
 * round-trip the s x s scores through HBM. */
enum spec_attention { SPEC_ATTN_FLASH = 0, SPEC_ATTN_UNFUSED };

/* What a framework costs beyond the kernels' microbenchmarked speed: the only fitted
 * constants of the step model (docs/MODEL.md 6.6 gives each value's fit). */
struct spec_fw_params {
    double compute_eff;   /* fraction of kernel speed a production step gets, all compute ops */
    double kernel_host_s; /* host time per kernel launch: the least time a kernel takes */
};

const char *spec_framework_name(int fw);
/* The framework a job on this system runs when the file names none. */
int spec_framework_default(const struct spec_system *sys);
/* The shipped constants of a framework (not AUTO). */
struct spec_fw_params spec_framework_params(int fw);
/* Whether the framework overlaps TP collectives with GEMMs by default. */
bool spec_framework_tp_overlap(int fw);
/* Whether it can (Megatron's userbuffers, torchtitan's async TP, XLA's collective matmul). */
bool spec_framework_tp_overlap_can(int fw);
/* Whether the framework's scheduler holds ZeRO-3 prefetches within a memory limit, so that a
 * plan that fits only without the next layer's gather runs with one gathered layer and the
 * gathers exposed (XLA's latency-hiding scheduler: MaxText); docs/MODEL.md 2.4. */
bool spec_framework_prefetch_fits_memory(int fw);
/* Whether the framework allocates through a caching allocator that fragments and a runtime
 * that takes its share of HBM at run time (PyTorch's CUDA caching allocator), rather than
 * assigning every buffer when it compiles (XLA: MaxText); docs/MODEL.md 2.4. */
bool spec_framework_caching_allocator(int fw);
/* The highest ZeRO stage the framework offers (3 where it shards weights too; 1 under
 * neuron, whose optimizer shards its state alone); docs/MODEL.md 2.1. */
int spec_framework_max_zero(int fw);

/* Whether its fp8 recipes quantize each weight inside every call that uses it (MaxText's qwix)
 * rather than once per step (Transformer Engine); docs/MODEL.md 1.2. */
bool spec_framework_casts_weights_per_call(int fw);
struct spec_job;
/* Runs the job on framework fw (not AUTO): its constants and, unless the job's file set
 * parallel.tp_comm_overlap, its TP-overlap default. */
void spec_job_use_framework(struct spec_job *j, int fw, bool tp_overlap_given);

struct spec_training {
    int seq_len;
    int global_batch;             /* sequences per step */
    int micro_batch;              /* sequences per micro-batch; 0 = unset */
    enum us_dtype dtype;          /* compute dtype of the matrix math */
    double tokens;                /* tokens of the whole run; 0 = not given */
    double critical_batch_tokens; /* warn when the global batch exceeds this; 0 = none */
    /* The dtype of the main-grad buffer and of its DP reduce-scatter /
     * all-reduce (training.grad_reduce_dtype; enum spec_grad_reduce, 0 = Megatron's default
     * for the compute dtype). */
    int grad_reduce;
    /* The software stack (training.framework, enum spec_framework,
     * never AUTO after loading), its constants (spec_framework_params) and the attention
     * kernel (enum spec_attention). */
    int framework;
    int attention;
    struct spec_fw_params fw;
    bool fp8_params;               /* training.fp8_params: weights held and gathered in fp8
                                      (Transformer Engine fp8 parameters, Megatron fp8_param_gather) */
    int offload_activation_layers; /* training.offload_activation_layers: layers per pipeline
                                      stage whose activations wait in host memory
                                      (Megatron cpu_offloading_num_layers) */
    bool optimizer_bf16;           /* training.optimizer_state_dtype bf16: Adam's m and v in
                                      bf16 (Megatron's precision-aware optimizer) */
    int moe_gmm_tile_rows;         /* training.moe_gmm_tile_rows: the row tile of a grouped
                                      expert GEMM kernel that tiles each expert's rows (MaxText's
                                      gmm, wi_tile_fwd_batch_seq); 0 = the framework's default
                                      (plan_moe_gmm_tile_rows) */
    bool moe_dense_matmul;         /* training.moe_dense_matmul: experts fed and drained by
                                      einsums over one-hot capacity masks (MaxText's
                                      sparse_matmul false with a capacity factor) */
    bool cuda_graph_full;          /* training.cuda_graph full_iteration: the whole step's
                                      kernels replayed from captured CUDA graphs, no host
                                      launch per kernel (Megatron cuda_graph_impl
                                      "full_iteration") */
    /* training.weight_dtype (enum spec_weight_dtype): the one copy of the parameters a
     * framework keeps when it has no separate fp32 master (MaxText's weight_dtype), or
     * mixed precision (bf16 compute weights beside an fp32 master in the optimizer); 0 =
     * the framework's way. */
    int weight_dtype;
    /* training.moe_probs_applied (enum spec_moe_probs): where the router probabilities scale
     * the expert outputs; 0 = the framework's own way (spec_moe_probs_at_combine). */
    int moe_probs;
    /* training.fp8_recipe (enum spec_fp8_recipe): Transformer Engine's fp8 scaling recipe,
     * which sets the kernels that quantize each fp8 GEMM operand; 0 = not stated, not
     * priced. */
    int fp8_recipe;
};

enum spec_fp8_recipe {
    SPEC_FP8_RECIPE_AUTO = 0,   /* not stated: the quantization launches are not priced */
    SPEC_FP8_RECIPE_TENSORWISE, /* current scaling (Float8CurrentScaling, Bridge's FP8-CS) */
    SPEC_FP8_RECIPE_MXFP8       /* MXFP8 block scaling (Bridge's FP8-MX) */
};
/* Kernel launches Transformer Engine spends quantizing one fp8 GEMM operand (an input
 * forward, an output gradient backward), per GEMM - per expert in a grouped GEMM:
 * NVIDIA/TransformerEngine@v2.9 (Megatron-Bridge 25.11's pin) transformer_engine/pytorch/
 * csrc/quantizer.cpp, Float8CurrentScalingQuantizer::quantize_impl - nvte_compute_amax,
 * nvte_compute_scale_from_amax, nvte_quantize_v2: 3 - and MXFP8Quantizer::quantize -
 * nvte_quantize_v2: 1; csrc/extensions/cast.cpp, split_quantize (GroupedLinear) "Quantize
 * kernels individually" for both. 0 for AUTO. */
int spec_fp8_quant_launches(int fp8_recipe);

/* training.weight_dtype (docs/SPEC.md, docs/MODEL.md 2.4). */
enum spec_weight_dtype {
    SPEC_WEIGHT_AUTO = 0, /* the framework's way (spec_weight_dtype_of) */
    SPEC_WEIGHT_MIXED,    /* bf16 (fp32 training: fp32) weights + fp32 master in the optimizer */
    SPEC_WEIGHT_FP32,     /* fp32 parameters alone (MaxText weight_dtype float32) */
    SPEC_WEIGHT_BF16      /* bf16 parameters alone (MaxText weight_dtype bfloat16) */
};
/* The job's weight_dtype: the key when given, else MaxText's base.yml default (fp32) under
 * MaxText and mixed precision elsewhere. Never AUTO. */
int spec_weight_dtype_of(const struct spec_training *t);

/* training.moe_probs_applied (docs/SPEC.md, docs/MODEL.md 1.6). */
enum spec_moe_probs {
    SPEC_MOE_PROBS_AUTO = 0,
    SPEC_MOE_PROBS_ACTIVATION, /* inside the experts' activation (Megatron-Core >= 0.13) */
    SPEC_MOE_PROBS_COMBINE     /* on the expert outputs at the combine, which keeps them */
};
/* Whether a job's MoE combine keeps the expert outputs for the probabilities' gradient:
 * the key when given, else the framework's way (docs/MODEL.md 1.6). */
bool spec_moe_probs_at_combine(const struct spec_training *t);

/* training.grad_reduce_dtype (docs/SPEC.md). AUTO is Megatron-LM's default: fp32 main grads
 * for bf16/fp8/fp4/fp32 training, fp16 for fp16 training. */
enum spec_grad_reduce {
    SPEC_GRAD_REDUCE_AUTO = 0,
    SPEC_GRAD_REDUCE_FP32, /* grad_reduce_in_fp32 true */
    SPEC_GRAD_REDUCE_BF16  /* grad_reduce_in_fp32 false with bf16 parameters */
};

/* How failed nodes are replaced (docs/MODEL.md 7.4); scale/ maps these onto its own enum. */
enum spec_spare_policy {
    SPEC_SPARES_AUTO = 0, /* hot when spare_chips > 0, else pool */
    SPEC_SPARES_POOL,     /* a replacement comes from outside the job: the whole restart */
    SPEC_SPARES_HOT,      /* spare_chips stand by; a restart skips rescheduling */
    SPEC_SPARES_SHRINK_DP /* drop the failed data-parallel replica until it is repaired */
};

/* Overrides of the failure, checkpoint, energy and price model (0 or <0 = from system). */
struct spec_scale {
    double interruptions_per_chip_hour;
    double restart_s;
    double ckpt_write_Bps_per_chip;
    bool ckpt_async;     /* checkpoint written in the background after a snapshot */
    bool ckpt_in_memory; /* peer in-memory checkpoint, persisted less often */
    double usd_per_chip_hour;
    double pue;
    double step_cv;
    int spare_chips; /* hot spares held idle (paid for) */
    uint64_t seed;   /* random stream for stragglers; reported */
    /* Spares and snapshot knobs of scale/ (0 = scale's documented default). */
    int spare_policy;    /* enum spec_spare_policy */
    double reschedule_s; /* part of a restart spent getting a node: what a hot spare saves */
    double repair_s;     /* time a failed node is out of service */
    double snapshot_Bps_per_chip; /* device-to-host copy of an async / in-memory checkpoint */
    /* Power caps (0 = none): the whole site's facility power, and one chip's draw. The lower
     * of the two binds; chips clock down along docs/MODEL.md 7.10's curve. */
    double power_cap_W;      /* scale.power_cap_mw x 1e6 */
    double chip_power_cap_W; /* scale.chip_power_cap_W */
};

struct spec_job {
    char file[512]; /* where it came from, for messages */
    struct spec_model model;
    struct spec_system system;
    int64_t chips;
    struct spec_parallel par;
    struct spec_training train;
    struct spec_scale scale;
};

/* --- loaders -------------------------------------------------------------------------
 * Each returns US_OK or US_EINPUT/US_EIO with d filled (file:line:col, field path).
 * name_or_path: a preset name from the embedded catalog, or a path to a YAML/JSON file
 * (a HuggingFace config.json is recognised for models). */
enum us_status spec_system_load(const char *name_or_path, struct spec_system *out,
                                struct us_diag *d);
enum us_status spec_model_load(const char *name_or_path, struct spec_model *out, struct us_diag *d);

/* One commented line of a system or model file: the field path it sets ("chip.tflops.bf16",
 * "scale_out.tiers[0]"; a block mapping's key line gives the mapping's path), the value as
 * written ("" for a block mapping) and the comment after it - in a preset, its source key,
 * derivation or assumption (docs/CATALOG.md). */
struct spec_source {
    char path[128];
    char value[96];
    char note[320];
};
/* The commented lines of the system (model false) or model that name_or_path names, in file
 * order. *out is malloc'd and owned by the caller (free it); *n may be 0. */
enum us_status spec_sources_load(const char *name_or_path, bool model, struct spec_source **out,
                                 size_t *n, struct us_diag *d);
enum us_status spec_job_load(const char *path, const char *const *sets, size_t nsets,
                             struct spec_job *out, struct us_diag *d);
enum us_status spec_job_load_text(const char *name, const char *text, size_t len,
                                  const char *const *sets, size_t nsets, struct spec_job *out,
                                  struct us_diag *d);
/* Parses a model or system from text (used by the catalog and the fuzzers). */
enum us_status spec_model_parse(const char *name, const char *text, size_t len,
                                struct spec_model *out, struct us_diag *d);
enum us_status spec_system_parse(const char *name, const char *text, size_t len,
                                 struct spec_system *out, struct us_diag *d);
/* Parses a HuggingFace config.json (text) as a model; refuses anything that is not one.
 * name is where it came from: the model is named after its file (or folder, for
 * ".../NAME/config.json"). */
enum us_status spec_model_parse_hf(const char *name, const char *text, size_t len,
                                   struct spec_model *out, struct us_diag *d);

/* Checks the derived consistency of a model (heads divisible, MoE sane, ...). */
enum us_status spec_model_check(const struct spec_model *m, const char *file, struct us_diag *d);

/* --- sweeps (ultrasim sweep): a base job and axes of overrides ----------------------- */
#define SPEC_SWEEP_MAX_AXES    16
#define SPEC_SWEEP_MAX_VALUES  4096
#define SPEC_SWEEP_MAX_POINTS  100000000LL
#define SPEC_SWEEP_MAX_VALUE_B 180 /* bytes of one axis value as written */

struct spec_sweep_axis {
    char key[128]; /* field path, e.g. "parallel.tp" */
    int nvalues;
    char **values; /* override value texts, in the sweep's arena */
};

struct spec_sweep {
    char job_path[1024]; /* the base job, relative paths taken against the sweep's folder */
    int naxes;
    struct spec_sweep_axis axes[SPEC_SWEEP_MAX_AXES];
    bool closed_form; /* engine: closed-form (default) or event */
    long long points; /* product of the axes' sizes */
    struct core_arena *arena;
};

/* Loads a sweep file; on success the caller calls spec_sweep_fini (also safe after an
 * error). */
enum us_status spec_sweep_load(const char *path, struct spec_sweep *out, struct us_diag *d);
void spec_sweep_fini(struct spec_sweep *s);

/* --- supply and price scenarios (ultrasim plan) --------------------------------------- */
/* Loads a scenario file into out (no allocation survives the call). */
enum us_status spec_scenario_load(const char *path, struct us_scenario *out, struct us_diag *d);

#endif
