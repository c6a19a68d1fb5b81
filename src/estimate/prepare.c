/* estimate/prepare: turns a job and a full layout into the step context both engines read
 * - the checked plan, the per-layer costs, the topology at the job's chip count, the memory
 * plan and the communication groups. Leaves out: choosing unset fields (search/). */
#include <string.h>

#include "estimate/estimate.h"

bool step_prepare(struct step_ctx *ctx, const struct spec_job *job, const struct us_layout *lay)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->job = job;
    if (!plan_init(&ctx->plan, job, lay))
        return false;
    if (!net_topo_init(&ctx->topo, &job->system, job->chips, ctx->plan.reason,
                       sizeof ctx->plan.reason)) {
        ctx->plan.valid = false;
        return false;
    }
    model_costs_compute(&job->model, &ctx->plan.split, &ctx->costs);
    ctx->fits = plan_memory(&ctx->plan, job, &ctx->costs, &ctx->mem);
    step_groups_init(ctx);
    return true;
}
