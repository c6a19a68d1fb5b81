/* scale: one step and one job turned into a whole run - stragglers, checkpoints, failures,
 * spares, goodput, time-to-train, power, energy and money - and a plain-words account of
 * what makes two runs differ. Formulas and defaults: docs/MODEL.md section 7.
 * Not modelled (and said so in the notes): thermal throttling, failures that need
 * human intervention, checkpoint write contention with training traffic. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "scale/scale.h"

#define HOUR_S 3600.0
/* Below this goodput the run does not finish in any meaningful sense; the reported
 * figures are then lower bounds computed at this floor. */
#define SCALE_MIN_GOODPUT 1e-9

static double pos_or(double v, double fallback)
{
    return v > 0.0 && isfinite(v) ? v : fallback;
}

static double clamp01(double v)
{
    if (!(v > 0.0))
        return 0.0;
    return v < 1.0 ? v : 1.0;
}

/* The spares policy asked for: scale_input's, else the job's scale.spare_policy. */
static enum scale_spares requested_spares(const struct scale_input *in)
{
    if (in->spares != SCALE_SPARES_AUTO)
        return in->spares;
    switch (in->job->scale.spare_policy) {
    case SPEC_SPARES_POOL:
        return SCALE_SPARES_POOL;
    case SPEC_SPARES_HOT:
        return SCALE_SPARES_HOT;
    case SPEC_SPARES_SHRINK_DP:
        return SCALE_SPARES_SHRINK_DP;
    default:
        return SCALE_SPARES_AUTO;
    }
}

void scale_params_resolve(const struct scale_input *in, struct scale_params *p)
{
    US_ASSERT(in && in->job, "scale input needs a job");
    const struct spec_job *job = in->job;
    const struct spec_system *sys = &job->system;
    const struct spec_scale *sc = &job->scale;
    memset(p, 0, sizeof *p);

    double rate_h =
        pos_or(sc->interruptions_per_chip_hour, fmax(0.0, sys->rel.interruptions_per_chip_hour));
    p->fail_per_chip_s = isfinite(rate_h) ? rate_h / HOUR_S : 0.0;
    p->restart_s = pos_or(sc->restart_s, fmax(0.0, sys->rel.restart_s));
    /* 1 GB/s per chip is the loader's documented default (docs/SPEC.md, reliability); it is
     * used here only when neither the system nor the job gives one. */
    p->ckpt_write_Bps_per_chip =
        pos_or(sc->ckpt_write_Bps_per_chip, pos_or(sys->rel.ckpt_write_Bps_per_chip, 1e9));
    p->snapshot_Bps_per_chip =
        pos_or(in->snapshot_Bps_per_chip,
               pos_or(sc->snapshot_Bps_per_chip, SCALE_DEFAULT_SNAPSHOT_BPS_PER_CHIP));
    p->peer_Bps_per_chip = pos_or(sys->out.nic_Bps, p->snapshot_Bps_per_chip);
    p->ckpt_mode = sc->ckpt_in_memory ? SCALE_CKPT_IN_MEMORY
                   : sc->ckpt_async   ? SCALE_CKPT_ASYNC
                                      : SCALE_CKPT_SYNC;
    p->usd_per_chip_hour = pos_or(sc->usd_per_chip_hour, fmax(0.0, sys->chip.usd_per_hour));
    p->pue = fmax(1.0, pos_or(sc->pue, pos_or(sys->pue, 1.0)));
    p->step_cv = fmin(1.0, pos_or(sc->step_cv, fmax(0.0, sys->rel.step_cv)));
    p->spare_chips = sc->spare_chips > 0 ? sc->spare_chips : 0;
    p->spares = requested_spares(in);
    if (p->spares == SCALE_SPARES_AUTO)
        p->spares = p->spare_chips > 0 ? SCALE_SPARES_HOT : SCALE_SPARES_POOL;
    p->reschedule_s =
        fmin(pos_or(in->reschedule_s, pos_or(sc->reschedule_s, SCALE_DEFAULT_RESCHEDULE_S)),
             p->restart_s);
    p->repair_s = pos_or(in->repair_s, pos_or(sc->repair_s, SCALE_DEFAULT_REPAIR_S));
    p->seed = sc->seed;
    p->tdp_W = fmax(0.0, sys->chip.tdp_W);
    p->idle_W = fmin(fmax(0.0, sys->chip.idle_W), p->tdp_W);
    /* the loader keeps idle <= wait <= memory <= gemm; a hand-made job may not */
    p->gemm_W = fmax(p->idle_W, sys->chip.gemm_W > 0.0 ? sys->chip.gemm_W : p->tdp_W);
    p->wait_W = fmin(p->gemm_W, fmax(p->idle_W, sys->chip.wait_W));
    p->memory_W = fmin(p->gemm_W, fmax(p->wait_W, sys->chip.memory_W));
    p->host_W_per_chip = fmax(0.0, sys->host_W_per_chip);
    p->network_W_per_chip = fmax(0.0, sys->network_W_per_chip);
    p->hbm_Bps = fmax(0.0, sys->chip.hbm_Bps);
    int dt = (int)job->train.dtype;
    p->peak_flops = dt >= 0 && dt < US_DTYPE_COUNT ? sys->chip.peak_flops[dt] : 0.0;
    if (!(p->peak_flops > 0.0))
        p->peak_flops = fmax(0.0, sys->chip.peak_flops[US_DTYPE_BF16]);
    p->chips_per_node = sys->chips_per_node > 0 ? sys->chips_per_node : 1;
    p->chips = in->chips > 0 ? in->chips : (job->chips > 0 ? job->chips : 1);
    p->dp = in->dp > 0 ? in->dp : (job->par.dp > 0 ? job->par.dp : 1);
    p->straggler_units = in->straggler_units > 0 ? in->straggler_units : p->chips;
}

double scale_chip_power_W(const struct scale_params *p, double u_compute, double u_stream)
{
    /* Phase levels, not TDP x utilization: a chip in a matrix-bound kernel draws its
     * measured (or TDP-derived) GEMM level however far below peak FLOP/s the kernel runs,
     * memory-bound kernels draw less, and a chip waiting on a collective or a pipeline
     * neighbour less again (Choukse et al., "Power Stabilization for AI Training
     * Datacenters", arXiv:2508.14318: compute-heavy phases draw much more than
     * communication phases). Levels and their sources: spec.h, docs/MODEL.md 7.6. */
    double uc = clamp01(u_compute);
    double us = fmax(uc, clamp01(u_stream));
    return p->wait_W + (p->gemm_W - p->wait_W) * uc + (p->memory_W - p->wait_W) * (us - uc);
}

double scale_always_on_W(const struct scale_params *p)
{
    return p->host_W_per_chip + p->network_W_per_chip;
}

double scale_power_cap_chip_W(const struct scale_params *p, const struct spec_scale *sc)
{
    double cap = sc->chip_power_cap_W > 0.0 ? sc->chip_power_cap_W : HUGE_VAL;
    if (sc->power_cap_W > 0.0) {
        double n = (double)p->chips, s = (double)p->spare_chips;
        double a = scale_always_on_W(p);
        double site = (sc->power_cap_W / p->pue - n * a - s * (p->idle_W + a)) / n;
        cap = fmin(cap, site);
    }
    if (!isfinite(cap))
        return 0.0;
    return fmax(cap, 1e-3); /* a cap at or below 0 W: the smallest positive, never met */
}

double scale_clock_at_cap(const struct scale_params *p, double cap_W)
{
    /* Dynamic power C V^2 f with the voltage scaled along with the clock (V ~ f in the
     * DVFS range) is cubic in f; the idle draw (leakage, always-on logic) does not scale.
     * A physics model, not a measured curve: no published per-chip frequency/power table
     * is in our sources. */
    double dyn = p->gemm_W - p->idle_W;
    if (!(cap_W > 0.0) || cap_W >= p->gemm_W || !(dyn > 0.0))
        return 1.0;
    double x = (cap_W - p->idle_W) / dyn;
    double f = x > 0.0 ? cbrt(x) : 0.0;
    return f > SCALE_MIN_CLOCK ? f : SCALE_MIN_CLOCK;
}

/* Checkpoint stop and lag per mode (docs/MODEL.md 7.2). */
static void checkpoint_times(const struct scale_params *p, double ckpt_B, struct scale_report *r)
{
    double per_chip_B = fmax(0.0, ckpt_B) / (double)p->chips;
    r->ckpt_write_s = per_chip_B / p->ckpt_write_Bps_per_chip;
    double snapshot_s = per_chip_B / p->snapshot_Bps_per_chip;
    switch (p->ckpt_mode) {
    case SCALE_CKPT_SYNC:
        r->ckpt_block_s = r->ckpt_write_s;
        r->ckpt_lag_s = 0.0;
        break;
    case SCALE_CKPT_ASYNC:
        r->ckpt_block_s = snapshot_s;
        r->ckpt_lag_s = r->ckpt_write_s;
        break;
    case SCALE_CKPT_IN_MEMORY:
        r->ckpt_block_s = snapshot_s;
        r->ckpt_lag_s = per_chip_B / p->peer_Bps_per_chip;
        break;
    }
}

/* Restart per failure and capacity lost under the spares policy (docs/MODEL.md 7.4). */
static void spares_policy(struct scale_params *p, double fail_rate_per_s, struct scale_report *r)
{
    r->restart_s = p->restart_s;
    r->spare_shortage_p = 0.0;
    r->dp_out_fraction = 0.0;
    if (p->spares == SCALE_SPARES_SHRINK_DP && p->dp <= 1)
        p->spares = SCALE_SPARES_POOL; /* nothing to shrink: a note says so */
    switch (p->spares) {
    case SCALE_SPARES_AUTO:
    case SCALE_SPARES_POOL:
        break;
    case SCALE_SPARES_HOT: {
        /* Nodes out for repair form an M/G/infinity queue: their number is Poisson with
         * mean (failure rate x repair time) whatever the repair-time law (Takacs, 1962;
         * Little's law for the mean), and by PASTA a failure sees that law. It finds no
         * spare when all spare nodes are already in use. */
        int64_t spare_nodes = p->spare_chips / p->chips_per_node;
        r->spare_shortage_p = scale_poisson_tail(fail_rate_per_s * p->repair_s, spare_nodes);
        r->restart_s = p->restart_s - p->reschedule_s * (1.0 - r->spare_shortage_p);
        break;
    }
    case SCALE_SPARES_SHRINK_DP: {
        /* A failure removes its DP replica until the node is back: replicas out are again
         * Poisson with mean rate x repair (Little's law), at most dp - 1 of them. */
        double dpd = (double)p->dp;
        r->dp_out_fraction = fmin(fail_rate_per_s * p->repair_s / dpd, (dpd - 1.0) / dpd);
        r->restart_s = p->restart_s - p->reschedule_s;
        break;
    }
    }
}

/* Per chip, drawn whether it computes or not: its share of the host and the network. */
static double always_on_W(const struct scale_params *p)
{
    return scale_always_on_W(p);
}

/* The first half of scale_compute: every field of r that does not depend on the step.
 * Returns scale_goodput_ln0 of the restart and MTBF, for the second half. */
static double report_prepare(const struct scale_input *in, struct scale_report *r)
{
    memset(r, 0, sizeof *r);
    scale_params_resolve(in, &r->p);
    struct scale_params *p = &r->p;
    double chips = (double)p->chips, spares = (double)p->spare_chips;

    /* 7.5 stragglers */
    r->straggler_factor = scale_straggler_factor(p->step_cv, p->straggler_units);
    if (in->straggler_mc_samples > 0)
        r->straggler_mc = scale_straggler_factor_mc(
            p->step_cv, p->straggler_units, in->straggler_mc_samples, p->seed, &r->straggler_mc_se);

    /* 7.6 power and money that do not depend on the step */
    double spare_W = p->idle_W + always_on_W(p);
    r->idle_power_W = p->pue * (chips + spares) * spare_W;
    r->usd_per_hour = (chips + spares) * p->usd_per_chip_hour;

    /* 7.1-7.4 failures, checkpoints, spares */
    double rate = p->fail_per_chip_s * chips; /* job interruptions per second */
    r->mtbf_s = rate > 0.0 ? 1.0 / rate : 0.0;
    checkpoint_times(p, in->ckpt_B, r);
    spares_policy(p, rate, r);
    if (!(r->mtbf_s > 0.0))
        return 0.0;
    r->young_interval_s = scale_young_interval_s(r->ckpt_block_s, r->mtbf_s);
    r->daly_interval_s = scale_daly_interval_s(r->ckpt_block_s, r->mtbf_s);
    /* A failure in the lag after a stop falls back one checkpoint: on average it costs the
     * lag in extra rework, added to the restart (docs/MODEL.md 7.2). */
    return scale_goodput_ln0(r->restart_s + r->ckpt_lag_s, r->mtbf_s);
}

/* scale_goodput_at given also w0 = e^ln0 = M e^(R/M): tau / (w0 (e^((tau + d)/M) - 1))
 * without the logs while that product is finite (unless R >> M), the log form otherwise;
 * the two agree to rounding. */
static double goodput_at(double tau, double d, double mtbf_s, double ln0, double w0)
{
    if (mtbf_s > 0.0 && tau > 0.0 && w0 > 0.0 && isfinite(w0)) {
        double den = w0 * expm1((tau + fmax(d, 0.0)) / mtbf_s);
        if (den > 0.0 && isfinite(den)) {
            double g = tau / den;
            return g < 1.0 ? g : 1.0;
        }
    }
    return scale_goodput_at(tau, d, mtbf_s, ln0);
}

/* The second half: the step's fields, onto the first half's r (w0 = e^goodput_ln0). */
static void report_step(const struct scale_input *in, double goodput_ln0, double w0,
                        struct scale_report *r)
{
    const struct scale_params *p = &r->p;
    double chips = (double)p->chips, spares = (double)p->spare_chips;

    /* 7.5 stragglers */
    double step0 = in->step_s > 0.0 && isfinite(in->step_s) ? in->step_s : 0.0;
    r->step_s = step0 * r->straggler_factor;

    /* 7.6 power: busy fractions of the straggler-inclusive step (a chip that waits for the
     * slowest one is idle meanwhile) */
    if (r->step_s > 0.0) {
        if (in->compute_busy_s > 0.0)
            r->u_compute = clamp01(in->compute_busy_s / r->step_s);
        else if (in->hw_flop_per_chip > 0.0 && p->peak_flops > 0.0)
            r->u_compute = clamp01(in->hw_flop_per_chip / p->peak_flops / r->step_s);
        r->u_hbm = clamp01(in->hbm_busy_s / r->step_s);
        r->u_stream = fmax(r->u_compute, clamp01(in->stream_busy_s / r->step_s));
    }
    r->chip_power_W = scale_chip_power_W(p, r->u_compute, r->u_stream);
    double always_W = always_on_W(p);
    double spare_W = p->idle_W + always_W; /* hot spares are powered and idle */
    r->busy_power_W = p->pue * (chips * (r->chip_power_W + always_W) + spares * spare_W);
    r->energy_J_per_step = r->busy_power_W * r->step_s;

    /* 7.1-7.4 failures, checkpoints, spares: the interval on whole steps and the goodput */
    if (r->mtbf_s > 0.0) {
        double tau = r->daly_interval_s;
        if (r->step_s > 0.0) {
            /* checkpoints fall on step boundaries, and an async or peer copy must land
             * before the next one starts */
            double n = fmax(1.0, nearbyint(tau / r->step_s));
            n = fmax(n, ceil(r->ckpt_lag_s / r->step_s));
            tau = n * r->step_s;
        } else {
            tau = fmax(tau, r->ckpt_lag_s);
        }
        r->ckpt_interval_s = tau;
        /* tau = 0 only without a step and without a checkpoint cost: Daly's limit e^(-R/M),
         * R the restart and the lag (report_prepare) */
        r->goodput_failures = tau > 0.0
                                  ? goodput_at(tau, r->ckpt_block_s, r->mtbf_s, goodput_ln0, w0)
                                  : exp(-(r->restart_s + r->ckpt_lag_s) / r->mtbf_s);
    } else {
        r->goodput_failures = 1.0; /* never fails: no checkpoints needed */
    }
    r->goodput = r->goodput_failures * (1.0 - r->dp_out_fraction);
    if (r->goodput < SCALE_MIN_GOODPUT) {
        r->no_progress = true;
        r->goodput = SCALE_MIN_GOODPUT;
    }

    /* 7.3, 7.6, 7.7 the run: time, energy, money */
    double tokens = in->job->train.tokens;
    if (!(tokens > 0.0) || !isfinite(tokens) || !(in->tokens_per_step > 0.0) || !(r->step_s > 0.0))
        return;
    r->has_run = true;
    r->tokens = tokens;
    r->steps = tokens / in->tokens_per_step;
    r->useful_s = r->steps * r->step_s;
    double keep = 1.0 - r->dp_out_fraction;
    double g_f = fmax(r->goodput / keep, SCALE_MIN_GOODPUT);
    double wall_f = r->useful_s / g_f; /* Daly's wall time on the full cluster */
    r->wall_s = wall_f / keep;
    r->failures = r->mtbf_s > 0.0 ? r->wall_s / r->mtbf_s : 0.0;
    double failures_f = r->mtbf_s > 0.0 ? wall_f / r->mtbf_s : 0.0;
    r->ckpt_total_s =
        r->ckpt_interval_s > 0.0 ? r->useful_s / r->ckpt_interval_s * r->ckpt_block_s : 0.0;
    r->restart_total_s = failures_f * r->restart_s;
    r->rework_total_s = fmax(0.0, wall_f - r->useful_s - r->ckpt_total_s - r->restart_total_s);
    /* Time stretches by 1/keep under shrink-DP; meanwhile the replicas out draw idle power. */
    double train_W = keep * r->busy_power_W + (1.0 - keep) * r->idle_power_W;
    double stopped_s = fmin(r->ckpt_total_s + r->restart_total_s, wall_f);
    r->energy_J = ((wall_f - stopped_s) * train_W + stopped_s * r->idle_power_W) / keep;
    r->avg_power_W = r->energy_J / r->wall_s;
    r->cost_usd = r->usd_per_hour * r->wall_s / HOUR_S;
    r->usd_per_million_tokens = r->cost_usd / (tokens / 1e6);
    /* Everything above what a cluster of the working chips that never failed would cost. */
    double perfect_usd = chips * p->usd_per_chip_hour * r->useful_s / HOUR_S;
    r->cost_of_failures_usd = fmax(0.0, r->cost_usd - perfect_usd);
}

void scale_prepare(const struct scale_input *in, struct scale_prepared *pre)
{
    memset(pre, 0, sizeof *pre);
    pre->in = *in;
    pre->in.step_s = 0.0;
    pre->in.compute_busy_s = 0.0;
    pre->in.hbm_busy_s = 0.0;
    pre->in.stream_busy_s = 0.0;
    pre->in.hw_flop_per_chip = 0.0;
    pre->in.tokens_per_step = 0.0;
    pre->goodput_ln0 = report_prepare(in, &pre->rep);
    pre->goodput_w0 = exp(pre->goodput_ln0);
}

bool scale_prepared_for(const struct scale_prepared *pre, const struct scale_input *in)
{
    const struct scale_input *a = &pre->in;
    return a->job == in->job && a->ckpt_B == in->ckpt_B && a->chips == in->chips &&
           a->dp == in->dp && a->straggler_units == in->straggler_units &&
           a->spares == in->spares && a->reschedule_s == in->reschedule_s &&
           a->repair_s == in->repair_s && a->snapshot_Bps_per_chip == in->snapshot_Bps_per_chip &&
           a->straggler_mc_samples == in->straggler_mc_samples;
}

void scale_compute(const struct scale_input *in, struct scale_report *r)
{
    double ln0 = report_prepare(in, r);
    report_step(in, ln0, exp(ln0), r);
}

void scale_compute_prepared(const struct scale_prepared *pre, const struct scale_input *in,
                            struct scale_report *r)
{
    *r = pre->rep;
    report_step(in, pre->goodput_ln0, pre->goodput_w0, r);
}

static void add_note(struct us_result *r, const char *fmt, ...) US_PRINTF(2, 3);

static void add_note(struct us_result *r, const char *fmt, ...)
{
    if (r->nwarnings < 0 || r->nwarnings >= US_MAX_WARNINGS)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->warnings[r->nwarnings], US_MSG_LEN, fmt, ap);
    va_end(ap);
    r->nwarnings++;
}

static const char *ckpt_mode_name(enum scale_ckpt_mode m)
{
    switch (m) {
    case SCALE_CKPT_SYNC:
        return "synchronous";
    case SCALE_CKPT_ASYNC:
        return "async";
    case SCALE_CKPT_IN_MEMORY:
        return "in-memory (peer)";
    }
    return "?";
}

void scale_apply(const struct scale_input *in, struct us_result *r)
{
    struct scale_report rep;
    scale_compute(in, &rep);
    const struct scale_params *p = &rep.p;

    r->straggler_factor = rep.straggler_factor;
    r->chip_power_W = rep.chip_power_W;
    r->facility_power_W = rep.busy_power_W;
    r->power_stop_W = rep.idle_power_W;
    r->energy_j_per_step = rep.energy_J_per_step;
    r->cost_usd_per_hour = rep.usd_per_hour;
    r->checkpoint_interval_s = rep.ckpt_interval_s;
    r->checkpoint_write_s = rep.ckpt_write_s;
    r->mtbf_s = rep.mtbf_s;
    r->goodput = rep.goodput;
    r->has_run = rep.has_run;
    if (rep.has_run) {
        r->run_tokens = rep.tokens;
        r->steps = rep.steps;
        r->time_to_train_s = rep.wall_s;
        r->failures_expected = rep.failures;
        r->energy_J = rep.energy_J;
        r->avg_power_W = rep.avg_power_W;
        r->cost_usd = rep.cost_usd;
        r->usd_per_million_tokens = rep.usd_per_million_tokens;
        r->cost_of_failures_usd = rep.cost_of_failures_usd;
    }

    if (rep.straggler_mc > 0.0)
        add_note(r,
                 "stragglers: step time per chip ~ Normal(cv %.2g%%), slowest of %lld: +%.2f%% "
                 "(Blom); Monte Carlo seed %llu: +%.2f%% +- %.2f%%",
                 100 * p->step_cv, (long long)p->straggler_units, 100 * (rep.straggler_factor - 1),
                 (unsigned long long)p->seed, 100 * (rep.straggler_mc - 1),
                 100 * rep.straggler_mc_se);
    else
        add_note(r,
                 "stragglers: step time per chip ~ Normal(cv %.2g%%), slowest of %lld: +%.2f%% "
                 "(Blom closed form; seed %llu unused)",
                 100 * p->step_cv, (long long)p->straggler_units, 100 * (rep.straggler_factor - 1),
                 (unsigned long long)p->seed);
    if (rep.mtbf_s > 0.0) {
        const char *pol = p->spares == SCALE_SPARES_HOT         ? "hot spares"
                          : p->spares == SCALE_SPARES_SHRINK_DP ? "shrink DP"
                                                                : "replacement from the pool";
        add_note(r,
                 "failures: MTBF %.3g h; %s checkpoint stops %.3g s every %.3g s (write %.3g "
                 "s); restart %.3g s (%s)",
                 rep.mtbf_s / HOUR_S, ckpt_mode_name(p->ckpt_mode), rep.ckpt_block_s,
                 rep.ckpt_interval_s, rep.ckpt_write_s, rep.restart_s, pol);
        if (p->spares == SCALE_SPARES_HOT)
            add_note(r,
                     "hot spares: %lld chips idle and paid for; a failure finds none ready with "
                     "p = %.3g (repair %.3g h assumed)",
                     (long long)p->spare_chips, rep.spare_shortage_p, p->repair_s / HOUR_S);
        if (p->spares == SCALE_SPARES_SHRINK_DP)
            add_note(r, "shrink DP: %.3g%% of %lld replicas out for repair on average (%.3g h)",
                     100 * rep.dp_out_fraction, (long long)p->dp, p->repair_s / HOUR_S);
        if (requested_spares(in) == SCALE_SPARES_SHRINK_DP && p->spares != SCALE_SPARES_SHRINK_DP)
            add_note(r, "shrink DP needs dp > 1; modelled as replacement from the pool");
        if (rep.no_progress || rep.restart_s + rep.ckpt_lag_s > rep.mtbf_s)
            add_note(r,
                     "failures: the job fails every %.3g s but a restart takes %.3g s: "
                     "goodput %.2g; hot spares, in-memory checkpoints or faster restarts needed",
                     rep.mtbf_s, rep.restart_s, rep.goodput);
    } else {
        add_note(r, "failures: interruption rate 0, so no failures and no checkpoints modelled");
    }
    if (!rep.has_run && !(in->tokens_per_step > 0.0 && in->step_s > 0.0) &&
        in->job->train.tokens > 0.0)
        add_note(r, "run: no time-to-train without a positive step time and batch");
}

void scale_fold_stragglers(struct us_result *r)
{
    double f = r->straggler_factor;
    if (!(f > 1.0) || !isfinite(f))
        return;
    double step0 = r->step_time_s;
    r->step_time_s = step0 * f;
    r->breakdown.straggler_s += step0 * (f - 1.0);
    r->tokens_per_s /= f;
    r->mfu /= f;
    r->hfu /= f;
    r->model_tflops_per_chip /= f;
}

/* --- explaining a difference --- */
struct driver {
    const char *name;
    const char *unit;
    double a, b;        /* the input on each side */
    double effect;      /* factor b/a it puts on the output */
    const char *output; /* which output it multiplies */
};

static void buf_append(char *buf, size_t n, size_t *at, const char *fmt, ...) US_PRINTF(4, 5);

static void buf_append(char *buf, size_t n, size_t *at, const char *fmt, ...)
{
    if (*at >= n)
        return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(buf + *at, n - *at, fmt, ap);
    va_end(ap);
    if (w > 0)
        *at = US_MIN(n, *at + (size_t)w);
}

static double ratio(double b, double a)
{
    return a > 0.0 && b > 0.0 && isfinite(a) && isfinite(b) ? b / a : 1.0;
}

void scale_explain_diff(const struct us_result *a, const struct us_result *b, const char *name_a,
                        const char *name_b, char *buf, size_t n)
{
    if (!buf || n == 0)
        return;
    buf[0] = '\0';
    const char *na = name_a ? name_a : "a", *nb = name_b ? name_b : "b";
    size_t at = 0;
    double base_a = a->step_time_s - a->breakdown.straggler_s;
    double base_b = b->step_time_s - b->breakdown.straggler_s;
    double sa = a->straggler_factor > 0.0 ? a->straggler_factor : 1.0;
    double sb = b->straggler_factor > 0.0 ? b->straggler_factor : 1.0;
    double per_chip_a = a->nchips > 0 ? a->cost_usd_per_hour / a->nchips : 0.0;
    double per_chip_b = b->nchips > 0 ? b->cost_usd_per_hour / b->nchips : 0.0;
    double pw_a = a->has_run ? a->avg_power_W : a->facility_power_W;
    double pw_b = b->has_run ? b->avg_power_W : b->facility_power_W;
    struct driver d[] = {
        {"step time (no stragglers)", "s", base_a, base_b, ratio(base_b, base_a), "time"},
        {"straggler factor", "x", sa, sb, ratio(sb, sa), "time"},
        {"tokens per step", "", a->tokens_per_step, b->tokens_per_step,
         ratio(a->tokens_per_step, b->tokens_per_step), "time"},
        {"goodput (failures, checkpoints, restarts)", "", a->goodput, b->goodput,
         a->has_run && b->has_run ? ratio(a->goodput, b->goodput) : 1.0, "time"},
        {"chips", "", (double)a->nchips, (double)b->nchips, ratio(b->nchips, a->nchips),
         "hourly spend"},
        {"price per chip-hour", "USD", per_chip_a, per_chip_b, ratio(per_chip_b, per_chip_a),
         "hourly spend"},
        {"facility power", "MW", pw_a / 1e6, pw_b / 1e6, ratio(pw_b, pw_a), "energy"},
    };
    size_t nd = US_ARRAY_LEN(d);
    /* largest effect first (insertion sort on |ln effect|; seven items) */
    for (size_t i = 1; i < nd; i++) {
        struct driver x = d[i];
        size_t j = i;
        while (j > 0 && fabs(log(d[j - 1].effect)) < fabs(log(x.effect))) {
            d[j] = d[j - 1];
            j--;
        }
        d[j] = x;
    }
    if (a->has_run && b->has_run) {
        double t = ratio(b->time_to_train_s, a->time_to_train_s);
        double c = ratio(b->cost_usd, a->cost_usd);
        double e = ratio(b->energy_J, a->energy_J);
        buf_append(buf, n, &at,
                   "%s vs %s: time-to-train x%.3g, cost x%.3g, energy x%.3g; where it comes "
                   "from (time x hourly spend = cost, time x power = energy):\n",
                   nb, na, t, c, e);
    } else {
        buf_append(buf, n, &at, "%s vs %s per step (no training.tokens, so no run figures):\n", nb,
                   na);
    }
    for (size_t i = 0; i < nd; i++) {
        if (fabs(log(d[i].effect)) < 0.005) /* under half a percent: not a driver */
            continue;
        buf_append(buf, n, &at, "  %s: %.4g vs %.4g%s%s -> %s x%.3g\n", d[i].name, d[i].a, d[i].b,
                   *d[i].unit ? " " : "", d[i].unit, d[i].output, d[i].effect);
    }
}
