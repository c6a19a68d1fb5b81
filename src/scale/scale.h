/* scale: what one training step means over a whole run on a large cluster - failures and
 * checkpoints (Young 1974, Daly 2006), goodput and time-to-train, spare capacity, the
 * straggler slowdown of a synchronous step, power and energy, and money.
 * Closed forms only: scale_compute takes about 0.25 us (0.6 us with hot spares, for the
 * Poisson tail; -O2, one core of the dev machine); the seeded Monte Carlo here checks the
 * straggler closed form and is off the fast path.
 * Not here: the step itself (estimate/, sim/) or the checkpoint size (parallel/plan.h).
 * Every formula and default: docs/MODEL.md section 7. */
#ifndef US_SCALE_H
#define US_SCALE_H

#include <stddef.h>
#include <stdint.h>

#include "spec/spec.h"
#include "ultrasim.h"

/* Unplanned interruptions per chip-hour of the Llama 3 405B run: 419 in 54 days on 16,384
 * H100s (shared/reference/hardware.yaml, reliability: llama3_405b_16k_h100; Dubey et al.,
 * "The Llama 3 Herd of Models", 2024, Table 5) = 419 / (16384 * 54 * 24) = 1.973e-5. */
#define SCALE_LLAMA3_INTERRUPTIONS_PER_CHIP_HOUR (419.0 / (16384.0 * 54.0 * 24.0))

/* Defaults for the spares and snapshot knobs (docs/MODEL.md 7.2, 7.4, 7.6). Each is a
 * labelled assumption, not a measurement; scale_input, then the job's scale: keys, override
 * them when > 0. */
/* Device-to-host copy per chip for the snapshot of an async or in-memory checkpoint:
 * PCIe 4.0 x16, 16 GT/s x 16 lanes x 128/130 / 8 = 31.5 GB/s per direction (PCI-SIG PCIe
 * Base Specification 4.0); conservative for PCIe 5.0 and NVLink-C2C hosts. */
#define SCALE_DEFAULT_SNAPSHOT_BPS_PER_CHIP 31.5e9
/* Part of a restart spent getting a replacement node (scheduler, node boot, container
 * pull): what a hot spare saves. Assumption: 5 minutes. */
#define SCALE_DEFAULT_RESCHEDULE_S 300.0
/* Time a failed node is out of service before it is back (or replaced) in the pool.
 * Assumption: 24 hours. */
#define SCALE_DEFAULT_REPAIR_S 86400.0
enum scale_ckpt_mode {
    SCALE_CKPT_SYNC = 0, /* training stops while the checkpoint is written to storage */
    SCALE_CKPT_ASYNC,    /* stops only for a snapshot to host memory (CheckFreq, Megatron
                          * async save); the write to storage runs in the background */
    SCALE_CKPT_IN_MEMORY /* snapshot to host memory and a copy to a peer host's memory
                          * (Gemini, SOSP'23); storage is written from there in the back */
};

enum scale_spares {
    SCALE_SPARES_AUTO = 0, /* HOT when the job has spare_chips, else POOL */
    SCALE_SPARES_POOL,     /* replacements come from outside the job: full restart_s */
    SCALE_SPARES_HOT,      /* spare_chips idle, paid for; a restart skips rescheduling */
    SCALE_SPARES_SHRINK_DP /* no spares: drop the failed DP replica until it is repaired */
};

/* What scale needs from one job and one step. Zero means "from the job" or "default". */
struct scale_input {
    const struct spec_job *job; /* system, job.scale overrides, train.tokens; not owned */
    double step_s;              /* one step as the engine computed it, without stragglers */
    double compute_busy_s;      /* per chip per step: time the matrix units are busy */
    double hbm_busy_s;          /* per chip per step: time HBM is busy (not used for power) */
    double stream_busy_s;       /* per chip per step: time the compute stream runs anything -
                                 * matrix, memory-bound, optimizer, host waits; 0 = only the
                                 * matrix time (compute_busy_s) */
    double hw_flop_per_chip;    /* per chip per step; used only when compute_busy_s is 0 */
    double ckpt_B;              /* bytes of one full checkpoint (plan_checkpoint_B) */
    double tokens_per_step;     /* global batch x sequence length */
    int64_t chips;              /* working chips; 0 = job->chips */
    int64_t dp;                 /* data-parallel replicas (shrink-DP); 0 = job->par.dp or 1 */
    int64_t straggler_units;    /* R, independent units the step waits for; 0 = chips */
    /* 0 (AUTO for spares) = the job's scale.spare_policy, reschedule_min, repair_hours,
     * snapshot_GBps_per_chip (docs/SPEC.md), else the defaults above. */
    enum scale_spares spares;
    double reschedule_s;
    double repair_s;
    double snapshot_Bps_per_chip;
    /* Samples of the seeded Monte Carlo check of the straggler factor (reported in a note
     * with the seed); 0 = no check. A few thousand cost about 0.1 ms. */
    int straggler_mc_samples;
};

/* Every parameter after job overrides and defaults are applied (SI units). */
struct scale_params {
    double fail_per_chip_s; /* unplanned job interruptions per chip-second */
    double restart_s;       /* detect + reschedule + reload + warm-up, with POOL spares */
    double ckpt_write_Bps_per_chip;
    double snapshot_Bps_per_chip; /* device to host, for ASYNC / IN_MEMORY */
    double peer_Bps_per_chip;     /* scale-out NIC, for the IN_MEMORY peer copy */
    enum scale_ckpt_mode ckpt_mode;
    double usd_per_chip_hour;
    double pue;
    double step_cv; /* coefficient of variation of one chip's step time */
    int64_t spare_chips;
    enum scale_spares spares; /* never AUTO */
    double reschedule_s;
    double repair_s;
    uint64_t seed;
    double idle_W, tdp_W;            /* chip */
    double gemm_W, memory_W, wait_W; /* chip, per phase (spec_chip; docs/MODEL.md 7.6) */
    double host_W_per_chip, network_W_per_chip;
    double hbm_Bps;
    double peak_flops;  /* dense, the job's dtype */
    int chips_per_node; /* the unit a failure takes out */
    int64_t chips;      /* working chips */
    int64_t dp;
    int64_t straggler_units;
};

/* The whole-run answer with its parts (scale_apply copies the headline into us_result). */
struct scale_report {
    struct scale_params p;
    /* stragglers */
    double straggler_factor; /* E[slowest of R] / mean step time */
    double step_s;           /* with stragglers */
    double straggler_mc;     /* Monte Carlo estimate of the factor; 0 = not run */
    double straggler_mc_se;  /* its standard error */
    /* failures and checkpoints */
    double mtbf_s;           /* of the job; 0 when the failure rate is 0 (never fails) */
    double ckpt_write_s;     /* one checkpoint written to storage by every chip at once */
    double ckpt_block_s;     /* training stopped per checkpoint (delta in Daly) */
    double ckpt_lag_s;       /* after the stop, until the checkpoint survives a failure */
    double young_interval_s; /* sqrt(2 delta M) */
    double daly_interval_s;  /* Daly's higher-order optimum */
    double ckpt_interval_s;  /* used: Daly's, rounded to whole steps, >= ckpt_lag_s; 0 = none */
    double restart_s;        /* per failure, spares policy applied */
    double spare_shortage_p; /* HOT: chance that a failure finds no spare node ready */
    double dp_out_fraction;  /* SHRINK_DP: mean fraction of replicas out for repair */
    double goodput_failures; /* Daly's useful / wall, before the shrink-DP loss */
    double goodput;          /* useful / wall */
    /* power and money per step */
    double u_compute, u_hbm;  /* busy fractions of the (straggler-inclusive) step */
    double u_stream;          /* compute-stream fraction (matrix + memory-bound), >= u_compute */
    double chip_power_W;      /* one working chip, average over the step */
    double busy_power_W;      /* facility: all chips training, spares idle, x PUE */
    double idle_power_W;      /* facility: all chips idle (checkpoint stops, restarts) */
    double energy_J_per_step; /* busy_power_W x step_s */
    double usd_per_hour;      /* (chips + spares) x price */
    /* the run (when tokens > 0) */
    bool has_run;
    double tokens, steps;
    double useful_s;     /* steps x step_s */
    double wall_s;       /* useful_s / goodput */
    double ckpt_total_s; /* wall time in checkpoint stops */
    double restart_total_s;
    double rework_total_s;
    double failures; /* expected over wall_s */
    double energy_J;
    double avg_power_W;
    double cost_usd;
    double usd_per_million_tokens;
    double cost_of_failures_usd; /* (wall - useful) x usd_per_hour + spares over the run */
    bool no_progress;            /* goodput underflowed: the job cannot finish */
};

/* --- statistics: seeded random streams, the normal quantile, extreme values --------- */
/* xoshiro256** (Blackman and Vigna, 2018), seeded through splitmix64. */
struct scale_rng {
    uint64_t s[4];
};
void scale_rng_seed(struct scale_rng *g, uint64_t seed);
uint64_t scale_rng_u64(struct scale_rng *g);
double scale_rng_uniform(struct scale_rng *g); /* in (0, 1), never 0 or 1 */
double scale_rng_normal(struct scale_rng *g);  /* standard normal (Marsaglia polar method) */

/* Standard normal CDF and its inverse (Acklam's rational approximation refined by one
 * Halley step; |error| < 1e-14 over (1e-300, 1 - 1e-16)). p is clamped into (0, 1). */
double scale_norm_cdf(double x);
double scale_norm_ppf(double p);

/* Expected maximum of R independent standard normals. */
double scale_normal_max_mean(int64_t R);   /* Blom (1958); used by the model */
double scale_normal_max_gumbel(int64_t R); /* extreme-value asymptote (Cramer 1946) */

/* E[max over R chips of the step time] / mean step time, per-chip step time Normal with
 * coefficient of variation cv: 1 + cv * scale_normal_max_mean(R). >= 1; 1 when R <= 1. */
double scale_straggler_factor(double cv, int64_t R);
/* The same by seeded Monte Carlo: the maximum of R normals drawn exactly by inverse
 * transform (F_max = Phi^R), `samples` times. Fills *se with the standard error (may be
 * NULL). Deterministic for a seed. */
double scale_straggler_factor_mc(double cv, int64_t R, int samples, uint64_t seed, double *se);

/* --- failures and checkpoints -------------------------------------------------------- */
/* Young (1974): sqrt(2 C M). 0 when C or M is not positive. */
double scale_young_interval_s(double ckpt_s, double mtbf_s);
/* Daly (2006), the higher-order estimate: sqrt(2CM) [1 + sqrt(C/2M)/3 + (C/2M)/9] - C for C < 2M,
 * else M. */
double scale_daly_interval_s(double ckpt_s, double mtbf_s);
/* Daly (2006) complete model: useful time / wall time with Poisson failures of mean
 * mtbf_s, compute interval tau, checkpoint stop delta and restart R (failures may strike
 * during checkpoints and restarts): tau / (M e^(R/M) (e^((tau+delta)/M) - 1)).
 * mtbf_s <= 0 means no failures: tau / (tau + delta). Never NaN; may underflow to 0. */
double scale_goodput(double interval_s, double ckpt_s, double restart_s, double mtbf_s);
/* Added by speed2: scale_goodput in two parts, for many intervals at one restart and MTBF:
 * scale_goodput_ln0 is R/M + ln M (0 when mtbf_s <= 0), and scale_goodput_at(interval,
 * ckpt, mtbf, ln0) is scale_goodput(interval, ckpt, restart, mtbf) bit for bit. */
double scale_goodput_ln0(double restart_s, double mtbf_s);
double scale_goodput_at(double interval_s, double ckpt_s, double mtbf_s, double ln0);
/* P(N >= k) for N ~ Poisson(mean): the chance that k spares are not enough. */
double scale_poisson_tail(double mean, int64_t k);

/* --- power -------------------------------------------------------------------------- */
/* One chip, averaged over a step: matrix phases (u_compute of the step) at gemm_W,
 * memory-bound phases (u_stream - u_compute) at memory_W, the rest at wait_W. */
double scale_chip_power_W(const struct scale_params *p, double u_compute, double u_stream);
/* Hot spares and always-on parts: host (CPUs, NICs, node switches, fans) + network (fabric
 * switches, storage, management) per chip, W. */
double scale_always_on_W(const struct scale_params *p);

/* --- power caps (docs/MODEL.md 7.10) ---------------------------------------------------- */
/* The chip draw a cap allows: the lower of scale.chip_power_cap_W and what
 * scale.power_cap_mw leaves per working chip when every chip is in a matrix phase at once:
 * (cap / PUE - N x always-on - S x (idle + always-on)) / N. 0 = no cap. */
double scale_power_cap_chip_W(const struct scale_params *p, const struct spec_scale *sc);
/* Clock fraction at which a matrix phase draws cap_W, on the cubic DVFS model
 * P(f) = idle + (gemm - idle) f^3; 1 when cap_W >= gemm_W or cap_W <= 0, at least
 * SCALE_MIN_CLOCK (and then the cap is not met). */
#define SCALE_MIN_CLOCK 0.2
double scale_clock_at_cap(const struct scale_params *p, double cap_W);

/* --- the whole thing ---------------------------------------------------------------- */
void scale_params_resolve(const struct scale_input *in, struct scale_params *p);
/* Fills rep from in. Never fails: inputs out of range are clamped and the result says so
 * through scale_apply's warnings. */
void scale_compute(const struct scale_input *in, struct scale_report *rep);
/* Added by speed2: scale_compute in two halves, for callers that price many steps of one
 * job at one chip count and dp (search). scale_prepare does what does not depend on the
 * step - parameters, straggler factor, failure rate, checkpoint times, spares, Young's and
 * Daly's intervals, idle power, hourly price; scale_compute_prepared adds the rest from
 * in's step_s, compute_busy_s, hbm_busy_s, hw_flop_per_chip and tokens_per_step. in's other
 * fields (and the job they point to) must be those given to scale_prepare:
 * scale_prepared_for says whether they are. scale_compute is the two in a row, so the
 * report is the same bit for bit. */
struct scale_prepared {
    struct scale_input in;   /* as prepared for, the step fields zeroed */
    struct scale_report rep; /* the step-independent fields; the rest 0 */
    double goodput_ln0;      /* scale_goodput_ln0 of the restart (and lag) and MTBF */
    double goodput_w0;       /* e^goodput_ln0 (inf when R >> M: the log form is used) */
};
void scale_prepare(const struct scale_input *in, struct scale_prepared *pre);
bool scale_prepared_for(const struct scale_prepared *pre, const struct scale_input *in);
void scale_compute_prepared(const struct scale_prepared *pre, const struct scale_input *in,
                            struct scale_report *rep);
/* scale_compute, then fills r: straggler_factor, chip_power_W, facility_power_W,
 * energy_j_per_step, cost_usd_per_hour and, when the job gives training.tokens, has_run
 * and every run field (run_tokens ... cost_of_failures_usd). Appends notes to
 * r->warnings (what is assumed, what is not modelled). The speed fields are untouched;
 * scale_fold_stragglers puts the straggler wait into them. */
void scale_apply(const struct scale_input *in, struct us_result *r);
/* Makes the reported step include the straggler wait: step_time_s *= straggler_factor,
 * breakdown.straggler_s = the added time, tokens_per_s, mfu, hfu and model_tflops_per_chip
 * divided by it. Call once, after the engine filled the speed fields and scale_apply ran. */
void scale_fold_stragglers(struct us_result *r);

/* Writes which assumptions drive the difference between two results, largest first, as
 * factors of b over a: time-to-train into step time, stragglers, batch and goodput;
 * hourly spend into chips and price per chip-hour; energy into power. One item per line.
 * name_a/name_b label the two (NULL = "a"/"b"). Always terminates buf. */
void scale_explain_diff(const struct us_result *a, const struct us_result *b, const char *name_a,
                        const char *name_b, char *buf, size_t n);

#endif
