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
    bool valid;
    char reason[US_MSG_LEN]; /* when !valid */
};

/* Fills p from the job's layout. Unset fields must have been filled before (search/).
 * Returns true when valid; otherwise p->reason says why, e.g.
 * "tp=6 does not divide heads=128". */
bool plan_init(struct plan *p, const struct spec_job *job, const struct us_layout *lay);

/* Layers held by pipeline stage `stage` (all its virtual chunks), split into dense and MoE,
 * and whether it holds the embedding and/or the head. */
void plan_stage_layers(const struct plan *p, const struct spec_model *m, int stage, int *n_dense,
                       int *n_moe, bool *has_embed, bool *has_head);

/* Memory of the most loaded stage. Fills mem (peak, breakdown, capacity) and returns
 * true when it fits in HBM. */
bool plan_memory(const struct plan *p, const struct spec_job *job, const struct model_costs *c,
                 struct us_memory *mem);

/* Added by model: the memory of one given stage (plan_memory is the max over stages).
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
 * (1F1B: pp - stage; interleaved adds Megatron's extra factor; GPipe: all). */
double plan_inflight_microbatches(const struct plan *p, int stage);

#endif
