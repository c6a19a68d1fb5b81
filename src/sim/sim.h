/* sim: the discrete-event simulator of one training step. It builds the op graph of one
 * iteration for one representative pipeline (pp stages x vpp chunks x micro-batches; DP
 * replicas are alike and their collectives are priced on the topology), runs it with
 * in-order streams per chip (compute, TP, CP, EP, PP sends, DP gradients, DP gathers),
 * and reads the step time, the breakdown and the critical path off the result. Event
 * times are int64 picoseconds (durations rounded up); the queue is a binary heap keyed on
 * (time, sequence) so ties resolve the same way every run. Formulas: docs/MODEL.md 5. */
#ifndef US_SIM_H
#define US_SIM_H

#include <stdint.h>

#include "core/core.h"
#include "estimate/estimate.h"

/* Streams of one chip (one pipeline stage). Each runs its ops in program order. */
enum sim_stream {
    SIM_STREAM_COMPUTE = 0, /* math and memory-bound ops, the optimizer, host overhead */
    SIM_STREAM_TP,          /* tensor-parallel collectives */
    SIM_STREAM_CP,          /* context-parallel ring exchange */
    SIM_STREAM_EP,          /* expert-parallel all-to-all */
    SIM_STREAM_PP_FWD,      /* pipeline sends to the next stage (activations) */
    SIM_STREAM_PP_BWD,      /* pipeline sends to the previous stage (gradients) */
    SIM_STREAM_DP,          /* DP gradient reduce-scatter / all-reduce */
    SIM_STREAM_DP_AG,       /* DP parameter all-gather (ZeRO-1/2 after the step, ZeRO-3) */
    SIM_STREAM_COUNT
};
const char *sim_stream_name(enum sim_stream s);

/* What one simulation did (for benchmarks and tests). */
struct sim_stats {
    int64_t tasks;       /* ops in the graph (zero-length joins included) */
    int64_t edges;       /* dependencies between ops */
    int64_t events;      /* completions popped from the queue */
    int64_t step_ps;     /* the step, picoseconds */
    int64_t critical_ps; /* sum of the durations on the critical path (== step_ps) */
    int critical_tasks;  /* ops on the critical path */
    bool fell_back;      /* the graph was too big (SIM_MAX_OPS) or memory ran out: the
                            closed form priced the step (out->engine says so) */
};

/* Graphs of more ops than this are priced by the closed form instead (about 110 bytes an
 * op: 2M ops is a few hundred MB). */
#define SIM_MAX_OPS 2.0e6

/* Simulates one step of the prepared layout. trace: NULL for none, else a Chrome
 * trace-event JSON document is appended (one process per pipeline stage, one thread per
 * stream, complete "X" events in microseconds; critical-path ops carry
 * args.critical = 1). Allocates its scratch once per call (no per-event allocation). A graph
 * too big to hold (SIM_MAX_OPS, or malloc failing) falls back to the closed form; out->engine
 * says which engine priced the step. */
void sim_step(const struct step_ctx *ctx, struct step_times *out, struct core_buf *trace);
/* The trace also carries the facility power counter ("C" events in MW, process pp): all
 * chips and PUE, stepping as stages enter and leave their compute streams; it integrates
 * to scale's energy of the simulated step (docs/MODEL.md 7.6). out->stream_busy_s,
 * power_peak_W and power_min_W come from the same sweep. */
/* out->power_peak_W and power_min_W are the closed form's bounds unless the step is traced
 * or priced by sim_step_power, which sweeps the stages' compute streams for the real ones
 * (about a third more time: search does without). */
void sim_step_power(const struct step_ctx *ctx, struct step_times *out, struct core_buf *trace);
/* Same as sim_step, and fills stats when not NULL. */
void sim_step_stats(const struct step_ctx *ctx, struct step_times *out, struct core_buf *trace,
                    struct sim_stats *stats);

/* Moves the end of a trace's power counter to end_s (the straggler-inclusive step): one
 * more sample at the all-waiting level, before the document's closing. t: the step the
 * trace was made with; pp its stages. Returns false (trace untouched) when trace is not a finished
 * sim_step trace. */
bool sim_trace_extend(struct core_buf *trace, const struct spec_job *job, int pp, double end_s,
                      const struct step_times *t);

/* --- the event queue: a binary min-heap on (time_ps, seq) ---------------------------- */
struct sim_event {
    int64_t time_ps;
    int64_t seq; /* insertion order: equal times pop first-in first-out */
    int32_t task;
};

struct sim_queue {
    struct sim_event *ev; /* caller-provided storage */
    int32_t n, cap;
};

/* storage must hold cap events; the queue never allocates. */
void sim_queue_init(struct sim_queue *q, struct sim_event *storage, int32_t cap);
/* Returns false when full. */
bool sim_queue_push(struct sim_queue *q, struct sim_event e);
/* Returns false when empty. */
bool sim_queue_pop(struct sim_queue *q, struct sim_event *out);

#endif
