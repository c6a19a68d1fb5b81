/* parallel: is a layout valid for a job, which layers each pipeline stage holds, and how
 * much memory each chip needs (weights, grads, optimizer, activations in flight, buffers,
 * reserve). Reasons for rejection are sentences a person understands.
 * Not here: timing. */
#ifndef US_PLAN_H
#define US_PLAN_H

#include "model/model.h"
#include "spec/spec.h"

/* Fraction of HBM held back for allocator fragmentation and the runtime (CUDA context,
 * NCCL/Neuron buffers not counted elsewhere). docs/MODEL.md gives the reasoning. */
#define PLAN_RESERVE_FRACTION 0.05

struct plan {
    struct us_layout lay;
    int64_t chips;
    int microbatches;     /* per pipeline per step = global_batch / (dp * micro_batch) */
    int layers_per_stage; /* middle stages (per chip, all virtual chunks together) */
    int first_layers, last_layers;
    struct model_split split;
    /* Layers per virtual chunk (docs/MODEL.md 2.2). Every chunk of a
     * middle stage holds chunk_layers; stage 0 holds first_chunk0_layers in chunk 0 and
     * first_chunk_layers in each other chunk; the last stage last_chunk_layers in each chunk
     * but its last, which holds last_chunkN_layers. With vpp = 1 a stage is one chunk. */
    int chunk_layers;
    int first_chunk0_layers, first_chunk_layers;
    int last_chunk_layers, last_chunkN_layers;
    bool valid;
    char reason[US_MSG_LEN]; /* when !valid */
};

/* Fills p from the job's layout. Unset fields must have been filled before (search/).
 * Returns true when valid; otherwise p->reason says why, e.g.
 * "tp=6 does not divide heads=128". */
bool plan_init(struct plan *p, const struct spec_job *job, const struct us_layout *lay);

/* Plan_init for a layout after prev, a plan of the same job: when the two
 * differ only below the degrees (micro_batch, sequence_parallel, recompute, zero) and prev
 * is valid, only the checks those fields take part in are made again - the same plan, or
 * the same first failure, as plan_init gives; otherwise plan_init. p may be prev. */
bool plan_init_like(struct plan *p, const struct plan *prev, const struct spec_job *job,
                    const struct us_layout *lay);

/* Layers held by pipeline stage `stage` (all its virtual chunks), split into dense and MoE,
 * and whether it holds the embedding and/or the head. */
void plan_stage_layers(const struct plan *p, const struct spec_model *m, int stage, int *n_dense,
                       int *n_moe, bool *has_embed, bool *has_head);

/* Layers of virtual chunk `chunk` (0..vpp-1) of stage `stage`, split into
 * dense and MoE, and whether it holds the embedding (chunk 0 of stage 0) and/or the head
 * (the last chunk of the last stage). Any output may be NULL. */
void plan_chunk_layers(const struct plan *p, const struct spec_model *m, int stage, int chunk,
                       int *n_dense, int *n_moe, bool *has_embed, bool *has_head);

/* How an end stage of n layers splits into vpp chunks when a middle
 * stage's chunks hold q layers (q = 0: there is no middle stage). Returns the layers of the
 * chunk at the model's end (chunk 0 of the first stage, the last chunk of the last stage)
 * and sets *other to the layers of each other chunk; -1 when no rule applies:
 *  - n divisible by vpp: n/vpp each (Megatron-Core's uneven stages with interleaving);
 *  - else q*(vpp-1) <= n < q*vpp: the end chunk holds n - q*(vpp-1), the others q (Megatron's
 *    account_for_embedding/loss_in_pipeline_split, where the embedding or the loss takes the
 *    place of the missing layers). */
int plan_end_chunk_layers(int n, int q, int vpp, int *other);

/* Stage splits Megatron uses when L layers do not divide over pp stages x vpp chunks
 * (docs/MODEL.md 2.2). plan_slot_split counts extra_first and extra_last non-layer slots
 * (the embedding; the loss and MTP modules) as layers, as Megatron-Core's
 * account_for_embedding/loss_in_pipeline_split and Bridge's pipeline layouts do: when
 * L + extras splits evenly, *first and *last are the end stages' layer counts. plan_ends_split
 * (no virtual stages) gives the middle stages ceil(L/pp) each and the ends the rest, the
 * last the smaller share (decoder_first/last_pipeline_num_layers). Both return false when
 * they give no split; L that divides needs none. */
bool plan_slot_split(int L, int pp, int vpp, int extra_first, int extra_last, int *first,
                     int *last);
bool plan_ends_split(int L, int pp, int *first, int *last);
/* The split run and validate give a layout that leaves it open: the embedding and the loss
 * (and the mtp MTP layers) counted as layers, else also one more slot for the loss side
 * (Bridge's DeepSeek-V3 layouts count an MTP module the model may not list), else, without
 * virtual stages, plan_ends_split. False when L divides or no split exists. */
bool plan_default_split(int L, int pp, int vpp, int mtp, int *first, int *last);

/* Memory of the most loaded stage. Fills mem (peak, breakdown, capacity) and returns
 * true when it fits in HBM. */
bool plan_memory(const struct plan *p, const struct spec_job *job, const struct model_costs *c,
                 struct us_memory *mem);

/* Activation bytes stage s holds at its peak under the interleaved schedule
 * when chunk c of one micro-batch holds a[c] bytes (v chunks); what plan_memory uses,
 * exposed for the tests. */
double plan_interleaved_peak_act(const struct plan *p, int s, const double *a, int v);

/* A stage's activations at its peak under recompute (docs/MODEL.md 2.4): the peak is the
 * larger of two phases of the step, the end of a micro-batch's forward (act_B, the
 * micro-batches in flight) and one layer's backward, which adds that layer's rebuilt
 * activations ws_B but finds freed_B (the head's activations of its micro-batch) gone. */
double plan_act_with_working_set(double act_B, double ws_B, double freed_B);

/* One stage's memory terms that do not depend on the ZeRO stage, so that
 * layouts differing in lay.zero alone (search tries them one after another) share them. */
struct plan_mem_part {
    int stage, n_dense;
    double P, P_exp;         /* parameters on the chip, of which expert (TP/EP shards) */
    double act_B;            /* activations at the stage's peak, recompute working set included */
    double zero3_buf_B;      /* ZeRO-3: the gathered layer and the prefetched one */
    double zero2_buf_B;      /* ZeRO-2/3: the gradient bucket being reduced and the one filling */
    double zero3_grad_buf_B; /* ZeRO-3: the same, never more than two layers' gradients */
    double buf_B[4];         /* SP gather, EP send + receive, p2p, CP K/V (0 where none) */
    double wB, gB, oB;       /* bytes per parameter: weights, gradients, optimizer state */
};
#define PLAN_MEM_MEMO 8
struct plan_mem_memo {
    int n; /* parts held; the caller sets 0 whenever anything but lay.zero changes */
    struct plan_mem_part part[PLAN_MEM_MEMO];
};

/* plan_memory, keeping each checked stage's ZeRO-independent terms in memo (NULL: none) for
 * the next call on a layout that differs in lay.zero alone: the same answer bit for bit.
 * first_overflow: stop at the first stage that does not fit and report it in mem (what a
 * search needs to drop the layout) instead of the most loaded one. */
bool plan_memory_with(const struct plan *p, const struct spec_job *job, const struct model_costs *c,
                      struct plan_mem_memo *memo, bool first_overflow, struct us_memory *mem);

/* The memory of one given stage (plan_memory is the max over stages).
 * Returns true when it fits. */
bool plan_memory_stage(const struct plan *p, const struct spec_job *job,
                       const struct model_costs *c, int stage, struct us_memory *mem);

/* Writes why a memory plan does not fit: "needs 97.3 GiB of 80.0 GiB HBM on stage 0:
 * activations 61.2 GiB, weights ..., short by 17.3 GiB". For a plan that fits, the same
 * sentence with "fits in" and the headroom. */
void plan_memory_reason(const struct us_memory *mem, char *buf, size_t n);

/* Bytes of one full checkpoint of the model: weights + optimizer state (whole model). */
double plan_checkpoint_B(const struct spec_job *job);

/* Number of micro-batches a stage keeps in flight at peak under the schedule
 * (1F1B: pp - stage; interleaved adds Megatron's extra factor, in stage-sized units; GPipe:
 * all). plan_memory weighs interleaved chunks by their own activations (docs/MODEL.md 2.3). */
double plan_inflight_microbatches(const struct plan *p, int stage);

#endif
