/* search/api: the two ways in - search_job (behind the public us_search, src/api/search.c:
 * the best K layouts, the front and the counts) and search_fill (the best layout for a job
 * with unset fields, what `run` uses). Both build the space from the job, the real evaluator, and
 * run the engine. Not here: printing (the CLI does it, progress included, through the callback). */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "search/search.h"

/* Things the user should know about what was and was not searched. */
static void add_notes(const struct spec_job *job, const struct search_space *sp,
                      const struct search_evaluator *ev, const struct search_opts *o,
                      const struct search_eval *e, struct us_search_result *r)
{
    char buf[US_MSG_LEN];
    int n = r->nnotes;
    if (n < US_SEARCH_MAX_NOTES) {
        core_fmt(buf, sizeof buf,
                 "dtype is the job's (%s): search does not vary it; gpipe is never chosen "
                 "(1f1b has the same bubble and holds fewer micro-batches)",
                 core_dtype_name(job->train.dtype));
        core_strlcpy(r->notes[n++], buf, US_MSG_LEN);
    }
    if (n < US_SEARCH_MAX_NOTES && o->refine && !ev->refine)
        core_strlcpy(r->notes[n++],
                     "the event simulator is not available: ranked by the closed form only",
                     US_MSG_LEN);
    for (int i = 0; i < sp->nchips && n < US_SEARCH_MAX_NOTES; i++) {
        const char *why = search_eval_topo_reason(e, sp->chips[i]);
        if (why) {
            core_fmt(buf, sizeof buf, "%lld chips skipped: %s", (long long)sp->chips[i], why);
            core_strlcpy(r->notes[n++], buf, US_MSG_LEN);
        }
    }
    r->nnotes = n;
}

enum us_status search_job(const struct spec_job *job, const int64_t *chips, size_t nchips,
                          bool tp_beyond, const struct search_opts *o, struct us_search_result *out,
                          struct us_diag *d)
{
    struct search_space *sp = malloc(sizeof *sp);
    struct search_eval *e = NULL;
    struct search_evaluator ev;
    enum us_status st;
    if (!sp)
        return core_diag_status(d, US_ENOMEM, NULL, 0, 0, "search", "out of memory");
    st = search_space_from_job(job, chips, nchips, tp_beyond, sp, d);
    if (st == US_OK)
        st = search_eval_create(job, sp, &e, &ev, d);
    if (st == US_OK && o->keep_tp_overlap)
        search_eval_keep_tp_overlap(e);
    if (st == US_OK)
        st = search_run(sp, &ev, o, out, d);
    if (st == US_OK) {
        out->per_run = job->train.tokens > 0;
        add_notes(job, sp, &ev, o, e, out);
    }
    search_eval_destroy(e);
    free(sp);
    return st;
}

enum us_status search_fill(const struct spec_job *job, const struct search_opts *opt,
                           struct us_layout *best, struct us_search_result *stats,
                           char reason[US_MSG_LEN], struct us_diag *d)
{
    struct search_opts def;
    struct us_search_result *r = stats ? stats : calloc(1, sizeof *r);
    if (!r)
        return core_diag_status(d, US_ENOMEM, NULL, 0, 0, "search", "out of memory");
    if (!opt) {
        memset(&def, 0, sizeof def);
        def.objective = US_OBJECTIVE_TIME;
        def.refine = true;
        opt = &def;
    }
    if (reason)
        reason[0] = '\0';
    enum us_status st = search_job(job, NULL, 0, false, opt, r, d);
    if (st == US_OK && r->ntop == 0) {
        st = US_INFEASIBLE;
        if (reason)
            core_strlcpy(reason, r->nnotes > 0 ? r->notes[0] : "no layout is valid and fits",
                         US_MSG_LEN);
    } else if (st == US_OK) {
        *best = r->top[0].layout;
    }
    if (!stats)
        free(r);
    return st;
}
