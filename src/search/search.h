/* search: the parallel-layout search. Enumerates every layout a job leaves open (tp, pp,
 * vpp, dp, cp, ep, micro-batch, ZeRO stage, recompute, sequence parallelism, uneven
 * pipeline ends, optionally the chip count), prunes by divisibility, scale-up domain,
 * memory and dominance, ranks the survivors with a pluggable evaluator (the closed form),
 * refines the best K (the event simulator) and keeps a Pareto front over (time, cost,
 * energy). Threads partition the work statically; results do not depend on their number.
 * Not here: the cost model itself (estimate/, sim/, scale/) and any printing. */
#ifndef US_SEARCH_H
#define US_SEARCH_H

#include <stdbool.h>
#include <stdint.h>

#include "estimate/estimate.h"
#include "spec/spec.h"
#include "ultrasim.h"

#define SEARCH_MAX_CHIPS     64 /* chip counts one search may cover */
#define SEARCH_DEFAULT_TOP_K 8
/* Candidates the reference engine refines whatever top_k is (more when top_k is larger):
 * the best layout then does not depend on how many are listed (--top 1 and --top 5 agree,
 * issue 14). */
#define SEARCH_REFINE_POOL 16

/* One point of the space: a chip count and a full layout (every field set). */
struct search_cand {
    int64_t chips;
    struct us_layout lay; /* chosen_mask: fields the search chose (US_FIELD_* bits) */
};

/* What an evaluator says of one candidate. time/cost/energy are on the same basis: the
 * whole run when the job gives training.tokens (per_run), else one step. */
struct search_metrics {
    double step_s;     /* one training step */
    double time_s;     /* objective "time" */
    double cost_usd;   /* objective "cost" */
    double energy_J;   /* objective "energy"; 0 when the evaluator does not price energy */
    double mfu;        /* model FLOPs utilisation, 0..1 */
    double peak_B;     /* memory of the most loaded chip (NOFIT: of the first found over) */
    double capacity_B; /* HBM per chip */
    enum us_overlap tp_overlap; /* the TP overlap the evaluator chose (JOB: the candidate's) */
};

enum search_verdict {
    SEARCH_OK = 0,  /* valid, fits, metrics filled */
    SEARCH_INVALID, /* the planner rejects the layout */
    SEARCH_NOFIT    /* valid but does not fit in memory (not priced) */
};

/* The cost model the engine ranks with. estimate must be a pure function of the candidate
 * (same answer on any thread, cached or not): determinism rests on it. */
struct search_evaluator {
    void *user;
    /* Per-thread scratch (caches); NULL functions = no scratch. */
    void *(*thread_init)(void *user);
    void (*thread_fini)(void *user, void *scratch);
    /* Closed form: plans, checks memory first, then prices. */
    enum search_verdict (*estimate)(void *user, void *scratch, const struct search_cand *c,
                                    struct search_metrics *m);
    /* Reference engine for the best K; NULL = no refinement. Returns false when it cannot
     * price the candidate (the closed-form metrics are kept). */
    bool (*refine)(void *user, void *scratch, const struct search_cand *c,
                   struct search_metrics *m);
    const char *engine_estimate; /* names reported per entry: "closed-form" */
    const char *engine_refine;   /* "event" */
};

/* Everything the enumeration needs from a job (filled by search_space_from_job). */
struct search_space {
    int64_t chips[SEARCH_MAX_CHIPS]; /* ascending, distinct */
    int nchips;
    int layers, heads, experts; /* experts = 0 for a dense model */
    int kv_heads;               /* 0 = unknown or MLA (no tp rule from it) */
    int ffn_hidden, expert_ffn; /* 0 = unknown (no tp rule from it) */
    int global_batch, seq_len;
    int domain;                 /* chips per scale-up domain */
    struct spec_parallel fixed; /* the job's parallel fields (0 / -1 = open) */
    int fixed_micro_batch;      /* 0 = open */
    bool tp_beyond_domain;      /* let tp groups leave the scale-up domain */
    int max_zero;               /* the highest ZeRO stage the framework offers; 0 = 3 */
    uint64_t max_tuples;        /* degree combinations to walk at most; 0 = 20 million */
};

/* Names of enum us_objective and enum us_prune (the us_*_name functions' bodies). */
const char *search_objective_name(enum us_objective o);
const char *search_prune_name(enum us_prune p);

struct search_opts {
    enum us_objective objective;
    double deadline_s;    /* > 0: drop layouts whose time_s exceeds it */
    double budget_usd;    /* > 0: drop layouts whose cost_usd exceeds it */
    int top_k;            /* 0 = SEARCH_DEFAULT_TOP_K; at most US_SEARCH_MAX_TOP */
    int threads;          /* 0 = number of online cores */
    bool refine;          /* refine the best max(top_k, SEARCH_REFINE_POOL) (evaluator) */
    bool keep_tp_overlap; /* price every layout with the job's TP overlap, not both (run's
                             fill: the framework's default, as the job would run) */
    void (*progress)(void *user, const char *phase, uint64_t done, uint64_t total);
    void *progress_user;
};

/* Fills sp from a job. chips/nchips: the chip counts to cover (NULL/0 = job->chips).
 * Returns US_EINPUT with d filled when the list is unusable (too long, a count < 1). */
enum us_status search_space_from_job(const struct spec_job *job, const int64_t *chips,
                                     size_t nchips, bool tp_beyond_domain, struct search_space *sp,
                                     struct us_diag *d);

/* Runs the search with any evaluator. out is fully overwritten. Returns US_OK (out->ntop
 * may be 0: nothing valid fits, out->notes says why), or US_EINPUT / US_ENOMEM. */
enum us_status search_run(const struct search_space *sp, const struct search_evaluator *ev,
                          const struct search_opts *opt, struct us_search_result *out,
                          struct us_diag *d);

/* --- the real evaluator: plan, memory, closed form, event simulator, scale ----------- */
struct search_eval;

/* Builds the evaluator for a job over sp's chip counts and points ev at it. job and sp are
 * not copied and must outlive it. Returns US_OK or US_ENOMEM. */
enum us_status search_eval_create(const struct spec_job *job, const struct search_space *sp,
                                  struct search_eval **out, struct search_evaluator *ev,
                                  struct us_diag *d);
/* Prices every layout with the job's TP overlap (no search over it). */
void search_eval_keep_tp_overlap(struct search_eval *e);
void search_eval_destroy(struct search_eval *e); /* NULL is a no-op */

/* Why the system cannot hold `chips` chips; NULL when it can (or chips is not searched). */
const char *search_eval_topo_reason(const struct search_eval *e, int64_t chips);

/* The closed-form metrics of one candidate without the shortcut: step_prepare from
 * scratch, estimate_step, then the same run model. Tests hold the cached path to it. */
enum search_verdict search_eval_naive(const struct search_eval *e, const struct search_cand *c,
                                      struct search_metrics *m);

/* The best layout for a job whose parallel fields may be unset: what `run` uses. Fields the
 * job fixes are kept; best->chosen_mask marks the others. opt may be NULL (objective time,
 * 8 refined with the event simulator, all cores). Returns US_OK, US_INFEASIBLE when no
 * layout is valid and fits (reason says why), or an error with d filled. stats may be NULL. */
/* The best layouts of job over the chip counts given (NULL: the job's), with notes on what
 * was not searched: what us_search returns. */
enum us_status search_job(const struct spec_job *job, const int64_t *chips, size_t nchips,
                          bool tp_beyond, const struct search_opts *o, struct us_search_result *out,
                          struct us_diag *d);
enum us_status search_fill(const struct spec_job *job, const struct search_opts *opt,
                           struct us_layout *best, struct us_search_result *stats,
                           char reason[US_MSG_LEN], struct us_diag *d);

/* --- pieces, exposed for tests ------------------------------------------------------- */
/* Divisors of n (n >= 1), ascending; returns how many (at most max are written). */
int search_divisors(int64_t n, int64_t *out, int max);

/* Uneven pipeline ends search considers for `layers` over `pp` stages: pairs (first, last),
 * (0, 0) meaning even. Returns how many (at most max). */
int search_stage_splits(int layers, int pp, int (*out)[2], int max);

/* Strict total order of two results: objective, then time, then the layout key. */
int search_entry_cmp(const struct us_search_entry *a, const struct us_search_entry *b,
                     enum us_objective obj);

/* Does a dominate b over (time, cost, energy)? Exact ties are broken by the layout key so
 * the front holds no duplicates and does not depend on the order points arrive in. */
bool search_dominates(const struct us_search_entry *a, const struct us_search_entry *b);

#endif
