/* ultrasim.h - the public C API of ultrasim.
 *
 * ultrasim predicts what one training step of a transformer costs on a cluster of AI
 * accelerators (time, memory, energy, money) and searches for the parallel layout that
 * trains fastest, cheapest or greenest.
 *
 * A short tour:
 *
 *     struct us_ctx *ctx = us_ctx_create();
 *     struct us_diag d;
 *     struct us_job *job;
 *     const char *sets[] = {"parallel.tp=8"};
 *     if (us_job_load(ctx, "job.yaml", sets, 1, &job, &d) != US_OK) {
 *         char line[1024];
 *         us_diag_format(&d, line, sizeof line);     // "job.yaml:4:7: parallel.tp: ..."
 *         ...
 *     }
 *     struct us_result r;
 *     enum us_status st = us_run(ctx, job, NULL, &r, &d);   // US_INFEASIBLE: r.reason says why
 *     printf("%.3f s/step, MFU %.1f%%\n", r.step_time_s, 100 * r.mfu);
 *     us_job_destroy(job);
 *     us_ctx_destroy(ctx);
 *
 * Conventions
 *   - Units are SI and appear in names: _s seconds, _B bytes, _Bps bytes/s, _flop, _W, _J, _usd.
 *   - Objects are opaque; x_create/x_destroy pairs; x_destroy(NULL) is a no-op.
 *   - Nothing here prints or exits. Errors return a status and fill a struct us_diag.
 *   - A context is not shared between threads; create one per thread (they are cheap).
 *   - Strings passed in are copied; strings returned are owned by the object they come from
 *     and live as long as it does.
 */
#ifndef ULTRASIM_H
#define ULTRASIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks the exported functions: the library is built with -fvisibility=hidden, so only
 * these (all us_*) are visible to an embedder. */
#if defined(__GNUC__) || defined(__clang__)
#define US_API __attribute__((visibility("default")))
#else
#define US_API
#endif

#define US_VERSION "0.1.0"

/* Status codes double as process exit codes of the command-line tool. */
enum us_status {
    US_OK = 0,
    US_INFEASIBLE = 1, /* the plan does not fit or does not divide: a result, not an error */
    US_EINPUT = 2,     /* bad input or usage */
    US_ENOMEM = 3,
    US_EIO = 4, /* an output could not be written */
};
/* "ok", "infeasible", "bad input", "out of memory", "write error"; "unknown" for others.
 * Static, never freed. */
US_API const char *us_status_name(enum us_status st);

/* One diagnostic: where (file, 1-based line and column, field path) and what. */
struct us_diag {
    char file[512]; /* file name, "--set" for overrides, "" when not tied to a file */
    int line;       /* 1-based; 0 = unknown */
    int col;        /* 1-based; 0 = unknown */
    char path[256]; /* field path such as "parallel.tp" or "model.moe.top_k"; "" = none */
    char msg[512];
    enum us_status status;
};

/* Writes "file:line:col: path: msg" (parts that are unknown are left out). */
US_API void us_diag_format(const struct us_diag *d, char *buf, size_t n);

enum us_dtype {
    US_DTYPE_FP32 = 0,
    US_DTYPE_FP16,
    US_DTYPE_BF16,
    US_DTYPE_FP8,
    US_DTYPE_FP4,
    US_DTYPE_COUNT
};
US_API const char *us_dtype_name(enum us_dtype t);

enum us_recompute { US_RECOMPUTE_NONE = 0, US_RECOMPUTE_SELECTIVE, US_RECOMPUTE_FULL };
US_API const char *us_recompute_name(enum us_recompute r);

enum us_schedule {
    US_SCHEDULE_1F1B = 0,
    US_SCHEDULE_GPIPE,
    US_SCHEDULE_INTERLEAVED /* interleaved 1F1B with vpp virtual stages per chip */
};
US_API const char *us_schedule_name(enum us_schedule s);

/* Whether a layout overlaps its TP collectives with the GEMMs beside them: as the job says
 * (parallel.tp_comm_overlap, whose default is the framework's), or chosen by search, which
 * tries both where the framework can overlap (docs/MODEL.md 6.6). */
enum us_overlap { US_OVERLAP_JOB = 0, US_OVERLAP_ON, US_OVERLAP_OFF };

enum us_format { US_FORMAT_TABLE = 0, US_FORMAT_JSON, US_FORMAT_CSV };

enum us_kind { US_KIND_SYSTEM = 0, US_KIND_MODEL = 1 };

struct us_ctx;
struct us_job;

US_API struct us_ctx *us_ctx_create(void);
US_API void us_ctx_destroy(struct us_ctx *ctx);

/* --- catalog ----------------------------------------------------------------------- */
US_API size_t us_catalog_count(enum us_kind kind);
/* Name of preset i (sorted by name); NULL when i is out of range. */
US_API const char *us_catalog_name(enum us_kind kind, size_t i);
/* Writes the one-line description of preset i into buf; returns false when i is out of
 * range or the preset does not parse. */
US_API bool us_catalog_describe(enum us_kind kind, size_t i, char *buf, size_t n);

/* Writes the full description of a system or model (a preset name or a file) to out.
 * Table and JSON formats; JSON for models includes params, active_params and the
 * per-layer FLOPs for one sequence of seq_len tokens (0 = 4096). */
US_API enum us_status us_show(struct us_ctx *ctx, const char *name_or_file, enum us_format fmt,
                              int seq_len, FILE *out, struct us_diag *d);

/* --- jobs -------------------------------------------------------------------------- */
/* Loads a job spec (YAML or JSON) and applies overrides "a.b.c=value" in order.
 * path "-" is not accepted; text may be given with us_job_load_text instead. */
US_API enum us_status us_job_load(struct us_ctx *ctx, const char *path, const char *const *sets,
                                  size_t nsets, struct us_job **out, struct us_diag *d);
/* Same, from memory; name is used in diagnostics. text is copied. */
US_API enum us_status us_job_load_text(struct us_ctx *ctx, const char *name, const char *text,
                                       size_t len, const char *const *sets, size_t nsets,
                                       struct us_job **out, struct us_diag *d);
US_API void us_job_destroy(struct us_job *job);
/* Name of the job's system and model (preset name or file base name). */
US_API const char *us_job_system_name(const struct us_job *job);
US_API const char *us_job_model_name(const struct us_job *job);

/* --- results ----------------------------------------------------------------------- */
/* Where the time of one step goes, in seconds on the critical path. Communication
 * entries are the exposed (not hidden behind compute) part. */
struct us_breakdown {
    double compute_s;   /* forward + backward (+ recompute) math and memory-bound ops */
    double tp_comm_s;   /* tensor-parallel all-gather / reduce-scatter / all-reduce */
    double cp_comm_s;   /* context-parallel ring exchange */
    double ep_comm_s;   /* expert-parallel all-to-all dispatch and combine */
    double pp_comm_s;   /* pipeline point-to-point sends on the critical path */
    double dp_comm_s;   /* data-parallel gradient reduction and parameter gathering */
    double bubble_s;    /* pipeline fill and drain */
    double optimizer_s; /* the optimizer step */
    double overhead_s;  /* host overheads per step (launch, data loading) */
    double straggler_s; /* waiting for the slowest replica of a synchronous step */
};

/* Memory per chip on the most loaded pipeline stage, bytes. */
struct us_memory {
    double weights_B;
    double grads_B;
    double optimizer_B; /* master weights + Adam moments */
    double activations_B;
    double comm_buffers_B;
    double reserve_B; /* fragmentation and runtime reserve */
    double peak_B;
    double capacity_B;
    int stage; /* which pipeline stage is the peak */
    /* ZeRO-3: gathered layers held at once, 2 (the one computing and the one prefetched) or
     * 1 when a framework whose scheduler plans within a memory limit (XLA's) drops the
     * prefetch so that the plan fits; the gathers are then exposed (docs/MODEL.md 2.4, 5.3).
     * 0 below ZeRO-3. */
    int zero3_gathered_layers;
};

/* The parallel layout a run used; chosen_mask has bit i set when field i was chosen by
 * ultrasim rather than given (bits: US_FIELD_*). */
enum us_field {
    US_FIELD_TP = 0,
    US_FIELD_PP,
    US_FIELD_DP,
    US_FIELD_CP,
    US_FIELD_EP,
    US_FIELD_VPP,
    US_FIELD_ZERO,
    US_FIELD_SP,
    US_FIELD_RECOMPUTE,
    US_FIELD_MICRO_BATCH,
    US_FIELD_COUNT
};

struct us_layout {
    int tp, pp, dp, cp, ep, vpp, zero;
    bool sequence_parallel;
    enum us_recompute recompute;
    enum us_schedule schedule;
    int micro_batch;
    int microbatches; /* per pipeline per step (gradient accumulation steps) */
    int first_stage_layers, last_stage_layers; /* uneven pipeline ends; 0 = even */
    enum us_overlap tp_overlap;                /* US_OVERLAP_JOB unless search chose */
    unsigned chosen_mask;
};

#define US_MAX_WARNINGS 12
#define US_MSG_LEN      512

struct us_result {
    /* feasibility */
    bool fits;               /* false when the plan does not fit in memory */
    bool valid;              /* false when degrees do not divide (reason says why) */
    char reason[US_MSG_LEN]; /* why it is infeasible; "" otherwise */
    struct us_layout layout;
    const char *engine; /* "event" or "closed-form" */

    /* speed */
    double step_time_s;
    double tokens_per_step;
    double tokens_per_s;
    double tokens_per_chip_per_step;
    double model_flop_per_step; /* 6*N*tokens plus attention, no recompute */
    double hw_flop_per_step;    /* what the chips execute, recompute included */
    double mfu, hfu;
    double model_tflops_per_chip; /* model FLOP/s per chip, 1e12 */
    double straggler_factor;      /* expected max over replicas / mean step time */
    struct us_breakdown breakdown;
    struct us_memory memory;

    /* power, energy, money per step and per hour */
    double chip_power_W;     /* average per chip over the step */
    double facility_power_W; /* whole cluster incl. host, network and PUE */
    double energy_j_per_step;
    double cost_usd_per_hour;
    /* power over one step and per token (docs/MODEL.md 7.6) */
    double power_peak_W, power_min_W; /* facility: highest and lowest level within the step
                                         (event engine; the closed form gives the bounds) */
    double power_stop_W;              /* facility with every chip idle: checkpoint stops,
                                         restarts (scale's idle power) */
    double energy_j_per_token;        /* energy_j_per_step / tokens_per_step */
    double tokens_per_kwh;            /* 3.6e6 / energy_j_per_token */
    double peak_flops_per_W;          /* peak dense FLOP/s of the job's dtype per W of IT
                                         power with the chip at its matrix level: the basis of
                                         vendors' efficiency claims */
    unsigned power_derived;           /* chip phase levels taken from TDP (bits: 1 matrix, 2
                                         memory-bound, 4 waiting); 0 = all given */
    /* power cap (scale.power_cap_mw, scale.chip_power_cap_W; docs/MODEL.md 7.10) */
    double chip_cap_W;       /* the draw a cap allows one chip; 0 = no cap binds */
    double clock_fraction;   /* matrix clock under the cap, 1 = full */
    double cap_step_ratio;   /* step time with the cap / without (> 1: slower) */
    double cap_energy_ratio; /* energy per token with the cap / without */

    /* whole run: set when the job gives training.tokens */
    bool has_run;
    double run_tokens;
    double steps;
    double time_to_train_s;
    double goodput; /* useful time / wall time */
    double checkpoint_interval_s;
    double checkpoint_write_s;
    double failures_expected;
    double mtbf_s; /* of the whole job */
    double energy_J;
    double avg_power_W; /* facility, averaged over the run */
    double cost_usd;
    double usd_per_million_tokens;
    double cost_of_failures_usd;

    int nchips;
    int nwarnings;
    char warnings[US_MAX_WARNINGS][US_MSG_LEN]; /* includes what is not modelled */
};

/* The largest trace us_run writes unless told otherwise: 64 MiB, about 2,000 micro-batches
 * of a 16-stage pipeline; a larger one is refused (US_EINPUT) before anything is written. */
#define US_TRACE_MAX_B (64u * 1024u * 1024u)

struct us_run_options {
    bool closed_form_only;  /* skip the event simulator */
    const char *trace_path; /* write a Chrome trace-event JSON here (atomically); NULL = none.
                               An existing file is replaced only when it is a regular file that
                               holds a trace, unless trace_force */
    int threads;            /* for filling unset parallel fields; 0 = all cores */
    bool trace_force;       /* replace trace_path even when it holds something else */
    size_t trace_max_B;     /* 0 = US_TRACE_MAX_B */
};

/* Runs one job. Unset parallel fields are chosen by a quick search. Returns US_OK,
 * US_INFEASIBLE (result filled, reason set) or an error with d filled. */
US_API enum us_status us_run(struct us_ctx *ctx, const struct us_job *job,
                             const struct us_run_options *opt, struct us_result *out,
                             struct us_diag *d);

/* Writes a result as a table, one JSON object, or CSV (header + one row). */
US_API void us_result_write(const struct us_result *r, const struct us_job *job, enum us_format fmt,
                            FILE *out);

/* --- search ------------------------------------------------------------------------ */
/* What a search minimises. Constraints (deadline, budget) are options beside it. */
enum us_objective { US_OBJECTIVE_TIME = 0, US_OBJECTIVE_COST, US_OBJECTIVE_ENERGY };
US_API const char *us_objective_name(enum us_objective o);

/* Why candidates were dropped before (or, for constraints, after) being priced. */
enum us_prune {
    US_PRUNE_DIVISIBILITY = 0, /* degrees do not divide chips, heads, experts, batch, layers */
    US_PRUNE_DOMAIN,           /* tp group would leave the scale-up domain */
    US_PRUNE_INVALID,          /* the planner rejects it for another reason */
    US_PRUNE_MEMORY,           /* does not fit in HBM */
    US_PRUNE_DOMINATED,        /* another layout is at least as good in every objective */
    US_PRUNE_CONSTRAINT,       /* priced, but misses the deadline or the budget */
    US_PRUNE_COUNT
};
US_API const char *us_prune_name(enum us_prune p);

#define US_SEARCH_MAX_TOP    64
#define US_SEARCH_MAX_PARETO 32
#define US_SEARCH_MAX_NOTES  4

struct us_search_options {
    enum us_objective objective;
    double deadline_s;    /* > 0: only layouts whose time_s is within it */
    double budget_usd;    /* > 0: only layouts whose cost_usd is within it */
    int top_k;            /* layouts returned (and refined by the event simulator); 0 = 8 */
    int threads;          /* 0 = the context's default (0 there = all cores) */
    const int64_t *chips; /* chip counts to search over (copied); NULL = the job's */
    size_t nchips;
    bool closed_form_only; /* do not refine with the event simulator */
    bool tp_beyond_domain; /* let tp groups span more than one scale-up domain */
    /* Called from the calling thread now and then; the library never prints. */
    void (*progress)(void *user, const char *phase, uint64_t done, uint64_t total);
    void *progress_user;
};

/* One layout found. time/cost/energy are for the whole run when the job gives
 * training.tokens (us_search_result.per_run), else for one step. */
struct us_search_entry {
    int64_t chips;
    struct us_layout layout; /* chosen_mask: the fields search chose */
    const char *engine;      /* "event" or "closed-form" (static string) */
    double step_time_s;      /* by engine */
    double closed_form_step_time_s;
    double time_s;
    double cost_usd;
    double energy_J; /* 0 when energy is not priced (notes say so) */
    double mfu;
    double peak_memory_B;
    double capacity_B;
    bool pareto; /* on the (time, cost, energy) front of all priced layouts */
};

struct us_search_result {
    int ntop;
    struct us_search_entry top[US_SEARCH_MAX_TOP]; /* best first */
    int npareto;
    bool pareto_truncated; /* the front had more than US_SEARCH_MAX_PARETO points */
    struct us_search_entry pareto[US_SEARCH_MAX_PARETO]; /* fastest first, closed form */
    bool per_run;
    enum us_objective objective;
    uint64_t space; /* layouts in the space (the product of every open field) */
    uint64_t pruned[US_PRUNE_COUNT];
    uint64_t estimated;                                  /* priced by the closed form */
    uint64_t simulated;                                  /* priced by the event simulator */
    double enumerate_s, estimate_s, simulate_s, total_s; /* wall time of each phase */
    int threads;
    int nnotes;
    char notes[US_SEARCH_MAX_NOTES][US_MSG_LEN]; /* what was fixed, not searched, not priced */
};

/* Searches the layouts a job leaves open. Returns US_OK (out->ntop may be 0 when nothing
 * valid fits: US_INFEASIBLE then), or an error with d filled. opt may be NULL. */
US_API enum us_status us_search(struct us_ctx *ctx, const struct us_job *job,
                                const struct us_search_options *opt, struct us_search_result *out,
                                struct us_diag *d);

/* --- small helpers for clients ----------------------------------------------------- */
/* "tp 8 pp 16 dp 128 ... micro-batch 1 x 16"; fields chosen by ultrasim carry a '*'. */
US_API void us_layout_format(const struct us_layout *l, char *buf, size_t n);
/* Which assumptions drive the difference between two results (b relative to a), largest
 * first, one item per line. name_a/name_b label them (NULL = "a"/"b"). */
US_API void us_result_explain(const struct us_result *a, const struct us_result *b,
                              const char *name_a, const char *name_b, char *buf, size_t n);

/* --- sweep ------------------------------------------------------------------------- */
/* A sweep file names a base job and axes of overrides:
 *     job: jobs/base.yaml            # relative to the sweep file
 *     axes: {parallel.tp: [4, 8], system: [dgx-h100, dgx-h200]}
 *     engine: closed-form            # or event
 * Every point of the grid is run and written as one row of table `results` in an SQLite
 * database (table `sweep_meta` marks it as this sweep's), which appears only when complete.
 * Each rank commits every finished point at once to <db_path>.part<rank>, so a killed run
 * loses at most the points it was computing: run it again and every point already in
 * db_path or in a part is skipped. db_path is replaced only when it is a database of the same
 * sweep (same axes, engine and base-job bytes) unless `force`; never when it is not a
 * regular file. The part files are removed once db_path is written.
 * The library starts no MPI itself: a caller running several ranks (the CLI under mpirun)
 * gives each its rank and an all_ok collective. */
struct us_sweep_options {
    int threads; /* per process; 0 = all cores */
    /* called after each point with this rank's points done (resumed ones included) and its
     * total; from worker threads, one call at a time */
    void (*progress)(void *user, long long done, long long total);
    void *progress_user;
    bool force; /* replace db_path even when it holds something else; start afresh */
    int rank;   /* this process's share: points rank, rank+ranks, ... (0 of 1 by default) */
    int ranks;  /* 0 or 1: one process */
    /* With ranks > 1 (required then): called once by every rank when its part is written,
     * with ok = 1 when it was; returns 1 when every rank's ok was 1. Must not return before
     * every rank has called it (an MPI all-reduce with MPI_LAND). */
    int (*all_ok)(void *user, int ok);
    void *all_ok_user;
};

struct us_sweep_summary {
    long long points, ok, infeasible, errors; /* rank 0: over the whole database */
    long long resumed; /* points of this rank found already written and skipped */
    int ranks;         /* processes that shared the work */
    int rank;          /* this process's rank: only rank 0 wrote the database */
};

/* Returns US_OK when the database is complete (points may still have failed: see
 * out->errors), US_EINPUT when the sweep file, its base job or db_path is refused, US_EIO
 * when a database cannot be written. */
US_API enum us_status us_sweep(struct us_ctx *ctx, const char *sweep_path, const char *db_path,
                               const struct us_sweep_options *opt, struct us_sweep_summary *out,
                               struct us_diag *d);

/* --- supply and price scenarios ----------------------------------------------------- */
/* A scenario file (docs/SPEC.md "Scenario") names a job and, per system, when chips arrive,
 * what a chip-hour costs and the power one site may draw:
 *     job: frontier.yaml                 # relative to the scenario file
 *     deadline_days: 60                  # optional
 *     move_restart_hours: 12             # time lost when the job moves or resizes
 *     systems:
 *       trn3-ultraserver:
 *         deliveries: [{day: 0, chips: 65536}, {day: 30, chips: 524288}]
 *         price: [{day: 0, usd_per_chip_hour: 4.05}, {day: 90, usd_per_chip_hour: 3.0}]
 *         power_cap_mw: 400
 * `ultrasim plan` answers the earliest finish, the cheapest plan meeting the deadline and
 * what a delay or a price shock on one vendor does (src/cli/cmd_plan.c). */
#define US_SCENARIO_MAX_SYSTEMS 8
#define US_SCENARIO_MAX_STEPS   16

/* A step function of time: value from day on (until the next step). */
struct us_scenario_step {
    double day;
    double value;
};

struct us_scenario_system {
    char name[64]; /* a system preset or file, as `system:` in a job takes it */
    int ndeliveries;
    struct us_scenario_step deliveries[US_SCENARIO_MAX_STEPS]; /* chips available from day */
    int nprices;
    struct us_scenario_step prices[US_SCENARIO_MAX_STEPS]; /* USD per chip-hour; none = preset */
    double power_cap_W; /* facility power one site may draw; 0 = no cap */
};

struct us_scenario {
    char job_path[1024];   /* relative paths taken against the scenario's folder */
    double deadline_s;     /* 0 = none */
    double move_restart_s; /* time lost (and paid for) when the job moves or resizes */
    int nsystems;
    struct us_scenario_system systems[US_SCENARIO_MAX_SYSTEMS];
};

/* Loads a scenario file with the strict reader of every spec (file:line:col and field path
 * on errors). Steps come out sorted by day. */
US_API enum us_status us_scenario_load(struct us_ctx *ctx, const char *path,
                                       struct us_scenario *out, struct us_diag *d);

/* --- one collective ---------------------------------------------------------------- */
/* nccl-tests definitions: algbw = bytes / time; busbw = algbw x (all_reduce 2(n-1)/n;
 * all_gather, reduce_scatter, all_to_all (n-1)/n; broadcast, p2p 1). bytes is the
 * nccl-tests size (all_reduce/reduce_scatter input, all_gather output, all_to_all total
 * per rank, p2p one message). */
struct us_collective_result {
    double time_s;
    double algbw_Bps;
    double busbw_Bps;
    const char *algo; /* "ring", "tree", "hierarchical", "in_network", "direct",
                         "halving_doubling" or "none"; static, never freed */
    int group_size;   /* ranks in the group */
    int64_t stride;   /* rank distance between consecutive members */
    int per_domain;   /* members per scale-up domain (smallest piece) */
    int64_t domains;  /* scale-up domains the group touches */
    int tiers;        /* scale-out tiers crossed (0 = inside one domain) */
};

/* Prices one collective of `bytes` over a group placed on `chips` chips of `system` (a
 * preset name or a file). `span` places the group in Megatron rank order (docs/MODEL.md
 * section 3): "tp", "cp", "ep" or "none" put it innermost (consecutive ranks, stride 1;
 * default size: one scale-up domain); "dp" and "pp" put it outermost (stride chips/size;
 * default size: one member per domain); "all" (or NULL) is every chip; "stride=K" gives the
 * stride. group_size 0 takes the default. Every group of that kind runs at once. Returns
 * US_OK, US_INFEASIBLE (the fabric cannot hold `chips`; d says why) or US_EINPUT. ctx may be
 * NULL. */
US_API enum us_status us_collective(struct us_ctx *ctx, const char *system, const char *op,
                                    double bytes, int64_t chips, int group_size, const char *span,
                                    struct us_collective_result *out, struct us_diag *d);

/* --- validation against published measurements ------------------------------------- */
/* One case of a file of published runs (the form of shared/calibration/published.yaml). */
struct us_validation_case {
    char id[64];
    char system[64]; /* the case's system (preset name or file base name) */
    char model[64];
    char source[US_MSG_LEN];
    char chip_family[32];    /* tags.chip_family (a100, h100, ...); "" when not tagged */
    char software[32];       /* tags.software (megatron, nemo, torchtitan, maxtext, ...) */
    char model_family[32];   /* tags.model_family (dense, moe) */
    double measured_s;       /* measured.step_time_s */
    bool ok;                 /* predicted; when false, note says why */
    double predicted_s;      /* what `run` reports: event engine, stragglers folded in */
    double error;            /* signed: (predicted - measured) / measured */
    double mfu;              /* predicted */
    bool fits;               /* false: predicted anyway, note says by how much it misses */
    struct us_layout layout; /* as run; chosen_mask: the fields validation filled in */
    struct us_breakdown breakdown;
    char note[US_MSG_LEN];
    char recipe[US_MSG_LEN]; /* settings taken from the recipes file beside the cases
                                (recipes.yaml: what the run's own recipe states that the
                                case does not), "key=value; ..."; "" when none */
};

struct us_validation {
    int ncases;
    struct us_validation_case *cases; /* owned; us_validation_free releases it */
    int npredicted;                   /* cases with ok */
    double mape;                      /* mean |error| over the predicted cases */
    int worst;                        /* index of the largest |error|; -1 when none */
    double worst_abs_error;
};

/* Runs every case of `path` (cases: id, job, measured.step_time_s, source...); a NULL or
 * empty path runs the calibration set built into the library (data/calibration/
 * published.yaml, 138 published runs). Parallel
 * fields a case leaves out get Megatron-LM's defaults (docs/MODEL.md section 6): micro_batch
 * 1, zero 0, sequence_parallel off (on for MoE with tp > 1, which requires it), recompute
 * none, vpp 1, cp 1, ep 1; zero 1 and sequence_parallel when the layout does not fit
 * otherwise (a published run fitted). A case that
 * cannot be run is reported with its reason, not an error. Returns US_OK, or US_EINPUT /
 * US_EIO with d filled when the file itself is unreadable. Free out with
 * us_validation_free. */
US_API enum us_status us_validate(struct us_ctx *ctx, const char *path, struct us_validation *out,
                                  struct us_diag *d);
/* Writes the table (case, measured, predicted, error, layout; MAPE and worst case), one
 * JSON object, or CSV. */
US_API void us_validation_write(const struct us_validation *v, enum us_format fmt, FILE *out);
US_API void us_validation_free(struct us_validation *v);

/* --- cross-validation ---------------------------------------------------------------- */
/* The tag of the calibration cases a leave-one-group-out cross-validation holds out. */
enum us_cv_by { US_CV_CHIP_FAMILY = 0, US_CV_SOFTWARE, US_CV_MODEL_FAMILY };
US_API const char *us_cv_by_name(enum us_cv_by by);

#define US_CV_MAX_GROUPS 32
#define US_CV_MAX_PARAMS 12
#define US_CV_MAX_CASES  512
struct us_cv_group {
    char name[32];         /* the tag's value, e.g. "h100" or "torchtitan" */
    int ncases;            /* its scored cases */
    double mape_cv;        /* ultrasim with the constants refitted on every other group */
    double mape_naive;     /* model FLOPs / (chips x peak x one MFU) with the MFU fitted likewise */
    double mape_in_sample; /* ultrasim with the constants refitted on every case */
    double mape_shipped;   /* ultrasim with the frameworks' constants as shipped */
    double naive_mfu;      /* the baseline's MFU fitted without the group */
};
struct us_crossval {
    enum us_cv_by by;
    int ngroups;
    struct us_cv_group groups[US_CV_MAX_GROUPS];
    int ncases;    /* scored: predicted and tagged */
    int nunscored; /* not predicted (the note of us_validate says why) or untagged */
    int nskipped;  /* of those, past US_CV_MAX_GROUPS groups */
    double mape_cv, mape_naive, mape_in_sample, mape_shipped; /* over every scored case */
    int nparams;
    struct {
        char name[32];
        double value; /* fitted on every scored case */
        bool fitted;  /* false: no case depends on it */
    } params[US_CV_MAX_PARAMS];
    /* Every scored case, in the file's order (the first US_CV_MAX_CASES of them). */
    int ncase_rows;
    bool case_rows_truncated;
    struct {
        char id[64];
        int group;          /* index into groups */
        double measured_s;  /* published step time */
        double cv_s;        /* out of sample: the fold that held its group out */
        double naive_s;     /* the naive baseline of that fold */
        double in_sample_s; /* the constants refitted on every case */
    } case_rows[US_CV_MAX_CASES];
};
/* Leave-one-group-out cross-validation of the cases of path (NULL: the built-in set), by
 * their `tags`: for each group the frameworks' fitted constants (two each, docs/MODEL.md
 * 6.6) are refitted on the other groups' cases (closed form, mean |error|) and the group is
 * predicted with them; the chips' efficiencies are microbenchmark fractions and stay; the
 * naive constant-MFU baseline is fitted and scored on the same split (docs/MODEL.md 6.5). */
US_API enum us_status us_validate_cv(struct us_ctx *ctx, const char *path, enum us_cv_by by,
                                     struct us_crossval *out, struct us_diag *d);
US_API void us_crossval_write(const struct us_crossval *cv, enum us_format fmt, FILE *out);

#ifdef __cplusplus
}
#endif
#endif
