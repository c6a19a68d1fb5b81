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

/* Everything both engines need for one layout, computed once. */
struct step_ctx {
    const struct spec_job *job;   /* not owned */
    struct plan plan;
    struct model_costs costs;
    struct net_topo topo;
    struct us_memory mem;
    bool fits;
};

/* What one step costs. */
struct step_times {
    double step_s;
    struct us_breakdown br;
    double hw_flop_per_chip;      /* executed per chip per step, recompute included */
    double compute_busy_s;        /* time the matrix units are busy per chip */
    double hbm_busy_s;            /* time HBM is busy per chip (for energy) */
};

/* Prepares ctx for a full layout (every field set). Returns false with ctx->plan.reason
 * when the layout is invalid; a layout that does not fit returns true with fits=false. */
bool step_prepare(struct step_ctx *ctx, const struct spec_job *job, const struct us_layout *lay);

/* Closed-form estimate of one step. */
void estimate_step(const struct step_ctx *ctx, struct step_times *out);

/* Time of one op on one chip (roofline with tile/wave-quantized GEMM efficiency). */
double estimate_op_time_s(const struct spec_system *sys, enum us_dtype dt,
                          const struct model_op *op, bool backward);

#endif
