/* api/search: us_search, the public face of src/search/ (search_job): options checked and
 * translated, a job that leaves nothing valid reported as US_INFEASIBLE. */
#include <string.h>

#include "api/api.h"
#include "core/core.h"
#include "search/search.h"

enum us_status us_search(struct us_ctx *ctx, const struct us_job *job,
                         const struct us_search_options *opt, struct us_search_result *out,
                         struct us_diag *d)
{
    struct us_search_options def;
    memset(&def, 0, sizeof def);
    if (!opt)
        opt = &def;
    if (!job || !out)
        return core_diag_set(d, NULL, 0, 0, "search", "no job or no result to fill");
    if (opt->nchips > 0 && !opt->chips)
        return core_diag_set(d, NULL, 0, 0, "search.chips", "%zu chip counts but no list",
                             opt->nchips);
    struct search_opts o;
    memset(&o, 0, sizeof o);
    o.objective = opt->objective;
    o.deadline_s = opt->deadline_s;
    o.budget_usd = opt->budget_usd;
    o.top_k = opt->top_k;
    o.threads = opt->threads > 0 ? opt->threads : (ctx ? ctx->threads : 0);
    o.refine = !opt->closed_form_only;
    o.progress = opt->progress;
    o.progress_user = opt->progress_user;
    if ((opt->deadline_s > 0 || opt->budget_usd > 0) && job->spec.train.tokens <= 0)
        return core_diag_set(d, job->spec.file, 0, 0, "training.tokens",
                             "a deadline or a budget needs the run's tokens");
    enum us_status st =
        search_job(&job->spec, opt->chips, opt->nchips, opt->tp_beyond_domain, &o, out, d);
    if (st == US_OK && out->ntop == 0)
        return US_INFEASIBLE;
    return st;
}
