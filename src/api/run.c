/* api/run: one job end to end - fill unset parallel fields (search), check the plan,
 * simulate the step (event engine, or the closed form on request), then turn the step into
 * throughput, MFU, power, energy, money and, with training.tokens, the whole run. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/core.h"
#include "estimate/estimate.h"
#include "model/model.h"
#include "parallel/plan.h"
#include "scale/scale.h"
#include "search/search.h"
#include "sim/sim.h"

static void warn(struct us_result *r, const char *fmt, ...) US_PRINTF(2, 3);

static void warn(struct us_result *r, const char *fmt, ...)
{
    if (r->nwarnings >= US_MAX_WARNINGS)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->warnings[r->nwarnings++], US_MSG_LEN, fmt, ap);
    va_end(ap);
}

/* When search finds nothing, say why in the terms of the job itself: fill the open fields
 * with plain defaults (dp from the chip count, ep/cp/vpp 1, ZeRO-1, SP when tp > 1, no
 * recompute, micro-batch 1) and report the planner's verdict on that layout. */
static void explain_no_layout(const struct spec_job *j, const struct us_layout *fixed,
                              unsigned unset, struct us_result *out)
{
    struct us_layout l = *fixed;
    if (unset & (1u << US_FIELD_TP))
        l.tp = 1;
    if (unset & (1u << US_FIELD_PP))
        l.pp = 1;
    if (unset & (1u << US_FIELD_CP))
        l.cp = 1;
    if (unset & (1u << US_FIELD_EP))
        l.ep = 1;
    if (unset & (1u << US_FIELD_VPP))
        l.vpp = 1;
    if (unset & (1u << US_FIELD_ZERO))
        l.zero = 1;
    if (unset & (1u << US_FIELD_SP))
        l.sequence_parallel = l.tp > 1;
    if (unset & (1u << US_FIELD_MICRO_BATCH))
        l.micro_batch = 1;
    if (unset & (1u << US_FIELD_DP)) {
        int64_t mp = (int64_t)l.tp * l.pp * l.cp;
        l.dp = mp > 0 && j->chips % mp == 0 ? (int)(j->chips / mp) : 1;
    }
    if (l.dp > 0 && l.micro_batch > 0 && j->train.global_batch % (l.dp * l.micro_batch) == 0)
        l.microbatches = j->train.global_batch / (l.dp * l.micro_batch);
    l.chosen_mask = unset;
    out->layout = l;
    struct step_ctx *sc = malloc(sizeof *sc);
    if (!sc)
        return;
    char why[US_MSG_LEN];
    if (!step_prepare(sc, j, &l))
        core_strlcpy(why, sc->plan.reason, sizeof why);
    else if (!sc->fits)
        plan_memory_reason(&sc->mem, why, sizeof why);
    else
        why[0] = '\0';
    if (why[0]) {
        char both[2 * US_MSG_LEN];
        core_fmt(both, sizeof both, "%s; with defaults for the open fields: %s", out->reason, why);
        core_strlcpy(out->reason, both, sizeof out->reason);
    }
    free(sc);
}

static void fill_step(struct us_result *r, const struct spec_job *j, const struct step_ctx *sc,
                      const struct step_times *t)
{
    double chips = (double)j->chips;
    double tokens = (double)j->train.global_batch * j->train.seq_len;
    double peak = j->system.chip.peak_flops[j->train.dtype];
    r->step_time_s = t->step_s;
    r->breakdown = t->br;
    r->tokens_per_step = tokens;
    r->tokens_per_s = tokens / t->step_s;
    r->tokens_per_chip_per_step = tokens / chips;
    r->model_flop_per_step = model_flop_per_token(&j->model, j->train.seq_len) * tokens;
    r->hw_flop_per_step = t->hw_flop_per_chip * chips;
    r->mfu = r->model_flop_per_step / (t->step_s * chips * peak);
    r->hfu = r->hw_flop_per_step / (t->step_s * chips * peak);
    r->model_tflops_per_chip = r->model_flop_per_step / (t->step_s * chips) / 1e12;
    r->memory = sc->mem;
    r->layout.microbatches = sc->plan.microbatches;
}

/* The share of a chip's compute time the framework's least time per kernel launch adds
 * (docs/MODEL.md 4.5), from the layer times the step was priced with. */
static double launch_share(const struct step_ctx *sc)
{
    struct step_costs c;
    step_costs_compute(sc, &c);
    const struct step_layer_time *k[4] = {&c.dense, &c.moe, &c.embed, &c.head};
    double n[4] = {(double)sc->costs.n_dense, (double)sc->costs.n_moe, 1.0, 1.0};
    double launch = 0.0, all = 0.0;
    for (int i = 0; i < 4; i++) {
        launch += n[i] * k[i]->launch_s;
        double fwd = k[i]->attn_fwd_s + k[i]->other_fwd_s;
        double re = k[i]->full_recompute ? k[i]->rerun_attn_s + k[i]->rerun_other_s : 0.0;
        all += n[i] * (fwd + re + k[i]->attn_bwd_s + k[i]->other_bwd_s);
    }
    return all > 0.0 ? launch / all : 0.0;
}

/* Which of the layout's communication groups stay inside a scale-up domain and which cross
 * its boundary (the worst-placed group of each kind, docs/MODEL.md 3.3). */
static void groups_note(struct us_result *r, const struct step_ctx *sc)
{
    const struct step_groups *g = &sc->groups;
    const struct {
        const char *name;
        struct step_group grp;
    } k[] = {{"TP", g->tp}, {"CP", g->cp},         {"EP", g->ep},
             {"DP", g->dp}, {"expert DP", g->edp}, {"PP", g->pp}};
    char in[160] = "", out[256] = "";
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        if (k[i].grp.size <= 1)
            continue;
        struct net_span sp = net_span_of(&sc->topo, k[i].grp.size, k[i].grp.stride);
        char *b = sp.domains > 1 ? out : in;
        size_t n = sp.domains > 1 ? sizeof out : sizeof in, len = strlen(b);
        if (sp.domains > 1)
            snprintf(b + len, n - len, "%s%s %d over %lld domains", len ? ", " : "", k[i].name,
                     k[i].grp.size, (long long)sp.domains);
        else
            snprintf(b + len, n - len, "%s%s %d", len ? ", " : "", k[i].name, k[i].grp.size);
    }
    if (sc->topo.domains > 1 && (in[0] || out[0]))
        warn(r, "scale-up domains of %d chips: inside one, %s; across, %s", sc->topo.domain,
             in[0] ? in : "none", out[0] ? out : "none");
}

/* The all-gather time a stage spends waiting per step when the ZeRO-3 prefetch was dropped
 * (each layer gathered before its forward and its backward, every micro-batch): the most
 * loaded stage's. */
static double exposed_gather_s(const struct step_ctx *sc)
{
    struct step_costs c;
    step_costs_compute(sc, &c);
    double most = 0.0;
    for (int s = 0; s < c.pp; s++) {
        struct step_stage st;
        step_stage_of(sc, s, &st);
        double per = st.n_dense * c.dense.param_ag_s + st.n_moe * c.moe.param_ag_s +
                     (st.has_embed ? c.embed.param_ag_s : 0.0) +
                     (st.has_head ? c.head.param_ag_s : 0.0);
        most = fmax(most, 2.0 * c.m * per);
    }
    return most;
}

static void add_notes(struct us_result *r, const struct spec_job *j, const struct step_ctx *sc)
{
    if (sc->mem.zero3_gathered_layers == 1)
        warn(r,
             "FSDP prefetch dropped to fit: %.3g s of all-gather exposed (%s's scheduler holds "
             "one gathered layer instead of two within the memory limit, docs/MODEL.md 2.4)",
             exposed_gather_s(sc), spec_framework_name(j->train.framework));
    if (r->tokens_per_chip_per_step < (double)j->train.seq_len)
        warn(r,
             "%.3g tokens per chip per step: the batch is smaller than one sequence per "
             "chip, which forces deep model parallelism",
             r->tokens_per_chip_per_step);
    /* the ideal 1F1B bubble over the step: (p - 1) / (v m) (Narayanan et al. SC'21 sec. 2.2) */
    const struct us_layout *l = &sc->plan.lay;
    double bubble = l->pp > 1 ? (double)(l->pp - 1) / ((double)l->vpp * sc->plan.microbatches) : 0;
    if (bubble > 0.25)
        warn(r,
             "%d micro-batches per pipeline of %d stages (vpp %d): the ideal bubble alone is "
             "%.0f%% of the compute time",
             sc->plan.microbatches, l->pp, l->vpp, 100 * bubble);
    if (j->train.critical_batch_tokens > 0 && r->tokens_per_step > j->train.critical_batch_tokens)
        warn(r,
             "global batch of %.3g tokens exceeds the critical batch size %.3g: more tokens "
             "may be needed to reach the same loss (not modelled)",
             r->tokens_per_step, j->train.critical_batch_tokens);
    if (r->mfu < 0.10) {
        const struct us_breakdown *b = &r->breakdown;
        const char *names[] = {"exposed TP communication", "exposed CP communication",
                               "exposed EP all-to-all",    "pipeline sends",
                               "exposed DP communication", "the pipeline bubble",
                               "the optimizer step",       "host overhead",
                               "waiting for stragglers"};
        double parts[] = {b->tp_comm_s, b->cp_comm_s,   b->ep_comm_s,  b->pp_comm_s,  b->dp_comm_s,
                          b->bubble_s,  b->optimizer_s, b->overhead_s, b->straggler_s};
        size_t worst = 0;
        for (size_t i = 1; i < sizeof parts / sizeof parts[0]; i++)
            if (parts[i] > parts[worst])
                worst = i;
        warn(r,
             "MFU %.1f%%: compute is %.0f%% of the step and %s %.0f%%; a larger global batch "
             "or fewer chips would use the chips better",
             100 * r->mfu, 100 * b->compute_s / r->step_time_s, names[worst],
             100 * parts[worst] / r->step_time_s);
    }
    if (r->hfu < r->mfu)
        warn(r,
             "HFU (%.1f%%) is below MFU (%.1f%%): HFU counts the FLOPs the chips execute, "
             "half the causal score matrix; MFU follows Narayanan et al. SC'21 eq. 3 and "
             "PaLM and counts all of it (docs/MODEL.md section 1)",
             100 * r->hfu, 100 * r->mfu);
    if (j->train.dtype == US_DTYPE_FP8 || j->train.dtype == US_DTYPE_FP4)
        warn(r,
             "MFU is relative to the %s peak; attention and optimizer run in higher "
             "precision",
             us_dtype_name(j->train.dtype));
    groups_note(r, sc);
    double ls = launch_share(sc);
    if (ls > 0.25)
        warn(r,
             "launch-bound: the host's kernel launches (at least %.3g us each, the %s "
             "framework's fitted constant) set %.0f%% of the compute time - with %.3g tokens per "
             "chip per step the kernels are shorter than their launches (docs/MODEL.md 4.5)",
             1e6 * j->train.fw.kernel_host_s, spec_framework_name(j->train.framework), 100 * ls,
             r->tokens_per_chip_per_step);
    const struct net_topo *tp = &sc->topo;
    if (tp->domain < tp->domain_full && tp->domains > 1)
        warn(r,
             "placement: %lld scale-up domains with %d of their %d chips each (a job that "
             "does not fill whole domains takes whole ones and uses the same number in each, "
             "docs/MODEL.md 3.3); the %lld idle chips are not priced",
             (long long)tp->domains, tp->domain, tp->domain_full,
             (long long)tp->domains * (tp->domain_full - tp->domain));
    if (j->train.offload_activation_layers > 0)
        warn(r,
             "activation offload: %d layers per stage keep their activations in host memory; "
             "the copies are assumed hidden behind compute (host-link time not priced)",
             j->train.offload_activation_layers);
    warn(r, "not modelled: data loading, evaluation, kernel launch jitter beyond the "
            "straggler model, numerical loss spikes");
}

/* Power over the step and per token, and which levels the chip's TDP gave. */
static void power_fill(struct us_result *r, const struct spec_job *j, const struct step_times *t)
{
    r->power_derived = j->system.chip.power_derived;
    const struct spec_system *sy = &j->system;
    double it_W = sy->chip.gemm_W + sy->host_W_per_chip + sy->network_W_per_chip;
    double pk = sy->chip.peak_flops[j->train.dtype] > 0.0 ? sy->chip.peak_flops[j->train.dtype]
                                                          : sy->chip.peak_flops[US_DTYPE_BF16];
    r->peak_flops_per_W = it_W > 0.0 ? pk / it_W : 0.0;
    r->power_peak_W = t->power_peak_W;
    r->power_min_W = t->power_min_W;
    if (r->tokens_per_step > 0.0 && r->energy_j_per_step > 0.0) {
        r->energy_j_per_token = r->energy_j_per_step / r->tokens_per_step;
        r->tokens_per_kwh = 3.6e6 / r->energy_j_per_token;
    }
    const struct spec_chip *c = &j->system.chip;
    if (c->power_derived) {
        char what[64] = "";
        static const char *const nm[3] = {"matrix", "memory-bound", "waiting"};
        for (int i = 0; i < 3; i++)
            if (c->power_derived & (1u << i)) {
                size_t n = strlen(what);
                core_fmt(what + n, sizeof what - n, "%s%s", n ? ", " : "", nm[i]);
            }
        warn(r,
             "power: the %s level of %s derived from its %.0f W TDP with ratios from chips "
             "that have measurements (docs/MODEL.md 7.6), not measured",
             what, c->name, c->tdp_W);
    }
}

static void cap_notes(struct us_result *r, const struct spec_job *j, const struct scale_params *par,
                      double cap_W)
{
    warn(r,
         "power cap: %.0f W per chip (of %.0f W in matrix phases; %s) clocks the matrix "
         "units to %.0f%% on a cubic DVFS model (docs/MODEL.md 7.10, a model, not a "
         "measured curve): step x%.3f, energy per token x%.3f%s",
         cap_W, par->gemm_W,
         j->scale.power_cap_W > 0.0 ? "from scale.power_cap_mw with every chip at its peak"
                                    : "scale.chip_power_cap_W",
         100 * r->clock_fraction, r->cap_step_ratio, r->cap_energy_ratio,
         r->clock_fraction <= SCALE_MIN_CLOCK ? "; the cap is below what the chips draw at "
                                                "the lowest clock modelled and is not met"
                                              : "");
}

enum us_status us_run(struct us_ctx *ctx, const struct us_job *job,
                      const struct us_run_options *opt, struct us_result *out, struct us_diag *d)
{
    static const struct us_run_options defaults = {0};
    if (!opt)
        opt = &defaults;
    memset(out, 0, sizeof *out);
    const struct spec_job *j = &job->spec;
    out->nchips = (int)j->chips;
    out->engine = "none";

    struct us_layout lay;
    unsigned unset = spec_layout_fixed(&j->par, j->train.micro_batch, &lay);
    /* A whole layout whose layers do not divide over its stages gets Megatron's own split
     * rather than a refusal (docs/MODEL.md 2.2), and the output says which. */
    bool split = false;
    if (!unset && lay.first_stage_layers <= 0 && lay.last_stage_layers <= 0 &&
        j->par.layout.pp == 0) {
        int L = j->model.layers, mtp = j->model.mtp_layers > 0 ? j->model.mtp_layers : 0;
        split = plan_default_split(L, lay.pp, lay.vpp, mtp, &lay.first_stage_layers,
                                   &lay.last_stage_layers);
    }
    if (unset) {
        struct search_opts so;
        memset(&so, 0, sizeof so);
        so.objective = US_OBJECTIVE_TIME;
        so.threads = opt->threads ? opt->threads : (ctx ? ctx->threads : 0);
        so.refine = !opt->closed_form_only;
        so.keep_tp_overlap = true; /* run predicts the job as its framework runs it */
        struct us_layout fixed = lay;
        enum us_status st = search_fill(j, &so, &lay, NULL, out->reason, d);
        if (st == US_INFEASIBLE)
            explain_no_layout(j, &fixed, unset, out);
        if (st != US_OK)
            return st;
    }
    out->layout = lay;

    struct step_ctx *sc = malloc(sizeof *sc);
    if (!sc)
        return core_diag_status(d, US_ENOMEM, j->file, 0, 0, NULL, "out of memory");
    enum us_status rc = US_OK;
    struct spec_job *jc = NULL; /* the job under a power cap, when one binds */
    if (!step_prepare(sc, j, &lay)) {
        out->valid = false;
        core_strlcpy(out->reason, sc->plan.reason, sizeof out->reason);
        rc = US_INFEASIBLE;
        goto done;
    }
    out->valid = true;
    out->layout = sc->plan.lay;
    out->layout.chosen_mask = lay.chosen_mask;
    if (split)
        warn(out,
             "%d layers do not divide over pp %d x vpp %d: stages split as Megatron does, "
             "first %d and last %d layers (the embedding and the loss counted as layers, or "
             "the ends sharing the rest; docs/MODEL.md 2.2)",
             j->model.layers, lay.pp, lay.vpp > 0 ? lay.vpp : 1, lay.first_stage_layers,
             lay.last_stage_layers);

    /* A power cap clocks the chips down (docs/MODEL.md 7.10): the step is priced on a copy
     * of the job whose peak FLOP/s and phase levels the cap has lowered, and once without
     * the cap for the slowdown and energy change. */
    struct scale_input si = {
        .job = j,
        .ckpt_B = plan_checkpoint_B(j),
        .chips = j->chips,
        .dp = sc->plan.lay.dp,
    };
    struct scale_params par;
    scale_params_resolve(&si, &par);
    double cap_W = scale_power_cap_chip_W(&par, &j->scale);
    struct step_times t0;
    memset(&t0, 0, sizeof t0);
    out->clock_fraction = 1.0;
    out->cap_step_ratio = 1.0;
    out->cap_energy_ratio = 1.0;
    if (cap_W > 0.0 && cap_W < par.gemm_W) {
        jc = malloc(sizeof *jc);
        if (!jc) {
            rc = core_diag_status(d, US_ENOMEM, j->file, 0, 0, NULL, "out of memory");
            goto done;
        }
        *jc = *j;
        double f = scale_clock_at_cap(&par, cap_W);
        struct spec_chip *ch = &jc->system.chip;
        for (int k = 0; k < US_DTYPE_COUNT; k++)
            ch->peak_flops[k] *= f;
        ch->gemm_W = par.idle_W + (par.gemm_W - par.idle_W) * f * f * f;
        ch->memory_W = fmin(par.memory_W, ch->gemm_W);
        ch->wait_W = fmin(par.wait_W, ch->gemm_W);
        out->chip_cap_W = cap_W;
        out->clock_fraction = f;
        if (opt->closed_form_only)
            estimate_step(sc, &t0);
        else
            sim_step(sc, &t0, NULL);
        if (!step_prepare(sc, jc, &lay)) { /* the same layout; cannot fail where j's did not */
            out->valid = false;
            core_strlcpy(out->reason, sc->plan.reason, sizeof out->reason);
            rc = US_INFEASIBLE;
            goto done;
        }
    } else if (cap_W > 0.0)
        warn(out, "power cap: %.0f W per chip does not bind (matrix level %.0f W)", cap_W,
             par.gemm_W);
    const struct spec_job *jp = jc ? jc : j; /* what the step is priced on */

    struct step_times t;
    struct core_buf trace;
    core_buf_init(&trace);
    trace.max_B = opt->trace_max_B ? opt->trace_max_B : US_TRACE_MAX_B;
    if (opt->closed_form_only) {
        estimate_step(sc, &t);
        out->engine = t.engine ? t.engine : "closed-form";
    } else {
        sim_step_power(sc, &t, opt->trace_path ? &trace : NULL);
        /* the simulator falls back to the closed form for graphs too large to hold */
        out->engine = t.engine ? t.engine : "event";
        if (opt->trace_path && trace.len == 0 && !trace.oom) {
            rc = core_diag_status(d, US_EINPUT, opt->trace_path, 0, 0, NULL,
                                  "no trace: the step graph was too large to simulate, so the "
                                  "closed form priced it");
            core_buf_fini(&trace);
            goto done;
        }
    }
    fill_step(out, j, sc, &t);

    si.job = jp;
    si.tokens_per_step = out->tokens_per_step; /* fill_step's */
    si.step_s = t.step_s;
    si.compute_busy_s = t.compute_busy_s;
    si.hbm_busy_s = t.hbm_busy_s;
    si.stream_busy_s = t.stream_busy_s;
    si.hw_flop_per_chip = t.hw_flop_per_chip;
    scale_apply(&si, out);
    power_fill(out, jp, &t);
    if (jc) {
        struct scale_input s0 = si;
        s0.job = j;
        s0.step_s = t0.step_s;
        s0.compute_busy_s = t0.compute_busy_s;
        s0.hbm_busy_s = t0.hbm_busy_s;
        s0.stream_busy_s = t0.stream_busy_s;
        s0.hw_flop_per_chip = t0.hw_flop_per_chip;
        struct scale_report r0;
        scale_compute(&s0, &r0);
        out->cap_step_ratio = t0.step_s > 0.0 ? t.step_s / t0.step_s : 1.0;
        out->cap_energy_ratio =
            r0.energy_J_per_step > 0.0 ? out->energy_j_per_step / r0.energy_J_per_step : 1.0;
        cap_notes(out, j, &par, cap_W);
    }
    if (opt->trace_path) {
        /* the counter runs on through the straggler wait, so it integrates to
         * energy_j_per_step */
        if (!trace.oom)
            sim_trace_extend(&trace, jp, sc->plan.lay.pp, t.step_s * out->straggler_factor, &t);
        enum us_status st;
        if (trace.over)
            st = core_diag_status(d, US_EINPUT, opt->trace_path, 0, 0, NULL,
                                  "the trace would be over %.0f MiB (%d micro-batches per "
                                  "pipeline); trace a job with fewer micro-batches, or raise "
                                  "the limit (trace_max_B)",
                                  (double)trace.max_B / 1048576.0, sc->plan.lay.microbatches);
        else if (trace.oom)
            st = core_diag_status(d, US_ENOMEM, opt->trace_path, 0, 0, NULL, "out of memory");
        else
            st = core_write_file_atomic(opt->trace_path, trace.data, trace.len,
                                        "{\"displayTimeUnit\"", opt->trace_force, d);
        core_buf_fini(&trace);
        if (st != US_OK) {
            rc = st;
            goto done;
        }
    }
    scale_fold_stragglers(out);
    add_notes(out, j, sc);

    out->fits = sc->fits;
    if (!sc->fits) {
        plan_memory_reason(&sc->mem, out->reason, sizeof out->reason);
        rc = US_INFEASIBLE;
    }
done:
    free(sc);
    free(jc);
    return rc;
}
