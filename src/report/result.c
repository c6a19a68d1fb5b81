/* report/result: writes a run's result as a table for people, one JSON object for
 * programs (keys per DESIGN.md's output contract), or a CSV header and row. Converting
 * SI values to GiB, days, MWh and percent happens here and nowhere else. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "spec/spec.h"
#include "report/json.h"
#include "report/report.h"

#define GIB   (1024.0 * 1024.0 * 1024.0)
#define DAY_S 86400.0

static const char *const field_names[US_FIELD_COUNT] = {
    "tp", "pp", "dp", "cp", "ep", "vpp", "zero", "sequence_parallel", "recompute", "micro_batch"};

const char *report_field_name(enum us_field f)
{
    return (unsigned)f < US_FIELD_COUNT ? field_names[f] : "?";
}

static void json_layout(struct json_w *w, const struct us_layout *l)
{
    json_obj_begin(w, "layout");
    json_int(w, "tp", l->tp);
    json_int(w, "pp", l->pp);
    json_int(w, "dp", l->dp);
    json_int(w, "cp", l->cp);
    json_int(w, "ep", l->ep);
    json_int(w, "vpp", l->vpp);
    json_int(w, "zero", l->zero);
    json_bool(w, "sequence_parallel", l->sequence_parallel);
    json_str(w, "recompute", core_recompute_name(l->recompute));
    json_str(w, "schedule", core_schedule_name(l->schedule));
    json_int(w, "micro_batch", l->micro_batch);
    json_int(w, "microbatches", l->microbatches);
    json_int(w, "first_stage_layers", l->first_stage_layers);
    json_int(w, "last_stage_layers", l->last_stage_layers);
    json_arr_begin(w, "chosen");
    for (int f = 0; f < US_FIELD_COUNT; f++)
        if (l->chosen_mask & (1u << f))
            json_str(w, NULL, field_names[f]);
    json_arr_end(w);
    json_obj_end(w);
}

static void json_breakdown(struct json_w *w, const struct us_breakdown *b)
{
    json_obj_begin(w, "breakdown");
    json_num(w, "compute_s", b->compute_s);
    json_num(w, "tp_comm_s", b->tp_comm_s);
    json_num(w, "cp_comm_s", b->cp_comm_s);
    json_num(w, "ep_comm_s", b->ep_comm_s);
    json_num(w, "pp_comm_s", b->pp_comm_s);
    json_num(w, "dp_comm_s", b->dp_comm_s);
    json_num(w, "bubble_s", b->bubble_s);
    json_num(w, "optimizer_s", b->optimizer_s);
    json_num(w, "overhead_s", b->overhead_s);
    json_num(w, "straggler_s", b->straggler_s);
    json_obj_end(w);
}

static void json_memory(struct json_w *w, const struct us_memory *m)
{
    json_obj_begin(w, "memory");
    json_num(w, "weights_gib", m->weights_B / GIB);
    json_num(w, "grads_gib", m->grads_B / GIB);
    json_num(w, "optimizer_gib", m->optimizer_B / GIB);
    json_num(w, "activations_gib", m->activations_B / GIB);
    json_num(w, "comm_buffers_gib", m->comm_buffers_B / GIB);
    json_num(w, "reserve_gib", m->reserve_B / GIB);
    json_num(w, "peak_gib", m->peak_B / GIB);
    json_num(w, "capacity_gib", m->capacity_B / GIB);
    json_int(w, "stage", m->stage);
    json_obj_end(w);
}

void report_result_json_fields(struct json_w *w, const struct us_result *r)
{
    json_bool(w, "valid", r->valid);
    json_bool(w, "fits", r->fits);
    if (r->reason[0])
        json_str(w, "reason", r->reason);
    else
        json_null(w, "reason");
    json_str(w, "engine", r->engine ? r->engine : "none");
    json_int(w, "chips", r->nchips);
    json_layout(w, &r->layout);
    json_num(w, "step_time_s", r->step_time_s);
    json_num(w, "tokens_per_step", r->tokens_per_step);
    json_num(w, "tokens_per_s", r->tokens_per_s);
    json_num(w, "tokens_per_chip_per_step", r->tokens_per_chip_per_step);
    json_num(w, "mfu", r->mfu);
    json_num(w, "hfu", r->hfu);
    json_num(w, "model_tflops_per_chip", r->model_tflops_per_chip);
    json_num(w, "model_flop_per_step", r->model_flop_per_step);
    json_num(w, "hw_flop_per_step", r->hw_flop_per_step);
    json_num(w, "straggler_factor", r->straggler_factor);
    json_num(w, "peak_memory_gib", r->memory.peak_B / GIB);
    json_breakdown(w, &r->breakdown);
    json_memory(w, &r->memory);
    json_num(w, "chip_power_w", r->chip_power_W);
    json_num(w, "facility_power_mw", r->facility_power_W / 1e6);
    json_num(w, "energy_j_per_step", r->energy_j_per_step);
    json_num(w, "cost_usd_per_hour", r->cost_usd_per_hour);
    json_obj_begin(w, "power");
    json_num(w, "peak_mw", r->power_peak_W / 1e6);
    json_num(w, "min_mw", r->power_min_W / 1e6);
    json_num(w, "swing_mw", (r->power_peak_W - r->power_min_W) / 1e6);
    json_num(w, "mean_mw", r->facility_power_W / 1e6);
    json_num(w, "stop_mw", r->power_stop_W / 1e6);
    json_num(w, "energy_j_per_token", r->energy_j_per_token);
    json_num(w, "tokens_per_kwh", r->tokens_per_kwh);
    json_arr_begin(w, "derived_from_tdp"); /* the chip levels not measured (MODEL.md 7.6) */
    static const char *const lv[3] = {"matrix", "memory", "wait"};
    for (int i = 0; i < 3; i++)
        if (r->power_derived & (1u << i))
            json_str(w, NULL, lv[i]);
    json_arr_end(w);
    json_num(w, "chip_cap_w", r->chip_cap_W);
    json_num(w, "clock_fraction", r->clock_fraction);
    json_num(w, "cap_step_ratio", r->cap_step_ratio);
    json_num(w, "cap_energy_ratio", r->cap_energy_ratio);
    json_obj_end(w);
    if (r->has_run) {
        json_num(w, "tokens", r->run_tokens);
        json_num(w, "steps", r->steps);
        json_num(w, "time_to_train_days", r->time_to_train_s / DAY_S);
        json_num(w, "goodput", r->goodput);
        json_num(w, "checkpoint_interval_s", r->checkpoint_interval_s);
        json_num(w, "checkpoint_write_s", r->checkpoint_write_s);
        json_num(w, "failures_expected", r->failures_expected);
        json_num(w, "mtbf_s", r->mtbf_s);
        json_num(w, "energy_mwh", r->energy_J / 3.6e9);
        json_num(w, "avg_power_mw", r->avg_power_W / 1e6);
        json_num(w, "cost_usd", r->cost_usd);
        json_num(w, "usd_per_million_tokens", r->usd_per_million_tokens);
        json_num(w, "cost_of_failures_usd", r->cost_of_failures_usd);
    }
    json_arr_begin(w, "warnings");
    for (int i = 0; i < r->nwarnings && i < US_MAX_WARNINGS; i++)
        json_str(w, NULL, r->warnings[i]);
    json_arr_end(w);
}

static void fmt_count(char *buf, size_t n, double v)
{
    if (!isfinite(v))
        snprintf(buf, n, "-");
    else if (fabs(v) >= 1e12)
        snprintf(buf, n, "%.2fT", v / 1e12);
    else if (fabs(v) >= 1e9)
        snprintf(buf, n, "%.2fB", v / 1e9);
    else if (fabs(v) >= 1e6)
        snprintf(buf, n, "%.2fM", v / 1e6);
    else if (fabs(v) >= 1e4)
        snprintf(buf, n, "%.1fk", v / 1e3);
    else
        snprintf(buf, n, "%.4g", v);
}

void report_layout_line(const struct us_layout *l, char *buf, size_t n)
{
    snprintf(buf, n,
             "tp %d%s pp %d%s dp %d%s cp %d%s ep %d%s vpp %d%s zero %d%s sp %s%s "
             "recompute %s%s schedule %s, micro-batch %d%s x %d",
             l->tp, l->chosen_mask & (1u << US_FIELD_TP) ? "*" : "", l->pp,
             l->chosen_mask & (1u << US_FIELD_PP) ? "*" : "", l->dp,
             l->chosen_mask & (1u << US_FIELD_DP) ? "*" : "", l->cp,
             l->chosen_mask & (1u << US_FIELD_CP) ? "*" : "", l->ep,
             l->chosen_mask & (1u << US_FIELD_EP) ? "*" : "", l->vpp,
             l->chosen_mask & (1u << US_FIELD_VPP) ? "*" : "", l->zero,
             l->chosen_mask & (1u << US_FIELD_ZERO) ? "*" : "", l->sequence_parallel ? "on" : "off",
             l->chosen_mask & (1u << US_FIELD_SP) ? "*" : "", core_recompute_name(l->recompute),
             l->chosen_mask & (1u << US_FIELD_RECOMPUTE) ? "*" : "",
             core_schedule_name(l->schedule), l->micro_batch,
             l->chosen_mask & (1u << US_FIELD_MICRO_BATCH) ? "*" : "", l->microbatches);
    if (l->first_stage_layers || l->last_stage_layers) {
        size_t k = strlen(buf);
        snprintf(buf + k, n - k, ", stage layers first %d last %d", l->first_stage_layers,
                 l->last_stage_layers);
    }
    if (l->tp_overlap != US_OVERLAP_JOB) { /* search's choice (parallel.tp_comm_overlap) */
        size_t k = strlen(buf);
        snprintf(buf + k, n - k, ", TP overlap %s*", l->tp_overlap == US_OVERLAP_ON ? "on" : "off");
    }
}

/* Whether the step overlapped TP: the layout's choice (search), else the job's setting. */
static bool tp_overlapped(const struct spec_job *j, const struct us_layout *l)
{
    return l->tp_overlap == US_OVERLAP_JOB ? j->par.tp_comm_overlap
                                           : l->tp_overlap == US_OVERLAP_ON;
}

/* The job's software stack and the constants it brings (docs/MODEL.md 6.6). */
static void json_framework(struct json_w *w, const struct spec_job *j, const struct us_layout *l)
{
    json_obj_begin(w, "framework");
    json_str(w, "name", spec_framework_name(j->train.framework));
    json_num(w, "compute_eff", j->train.fw.compute_eff);
    json_num(w, "kernel_host_s", j->train.fw.kernel_host_s);
    json_bool(w, "tp_comm_overlap", tp_overlapped(j, l));
    json_str(w, "attention", j->train.attention == SPEC_ATTN_UNFUSED ? "unfused" : "flash");
    json_obj_end(w);
}

static void table_result(const struct us_result *r, const struct spec_job *j, FILE *f)
{
    char a[64], b[64], line[512];
    fprintf(f, "%s on %d x %s (%s, %s)\n", j->model.name, r->nchips, j->system.name,
            j->system.chip.name, core_dtype_name(j->train.dtype));
    report_layout_line(&r->layout, line, sizeof line);
    fprintf(f, "  layout      %s%s\n", line,
            r->layout.chosen_mask ? "   (* chosen by ultrasim)" : "");
    if (!r->valid) {
        fprintf(f, "  INFEASIBLE  %s\n", r->reason);
        return;
    }
    fprintf(f, "  engine      %s\n", r->engine ? r->engine : "none");
    const struct spec_fw_params *fw = &j->train.fw;
    fprintf(f,
            "  software    %s: kernels at %.0f%% of their measured speed, at least %.3g us per "
            "launch; TP overlap %s%s (docs/MODEL.md 6.6)\n",
            spec_framework_name(j->train.framework), 100.0 * fw->compute_eff,
            1e6 * fw->kernel_host_s, tp_overlapped(j, &r->layout) ? "on" : "off",
            j->train.attention == SPEC_ATTN_UNFUSED ? "; unfused attention" : "");
    fmt_count(a, sizeof a, r->tokens_per_s);
    fprintf(f, "  step        %.4g s   %s tokens/s   MFU %.1f%%   HFU %.1f%%   %.0f TFLOP/s/chip\n",
            r->step_time_s, a, 100 * r->mfu, 100 * r->hfu, r->model_tflops_per_chip);
    fmt_count(a, sizeof a, r->tokens_per_step);
    fprintf(f, "  batch       %s tokens/step, %.4g tokens/chip/step, %d micro-batches/pipeline\n",
            a, r->tokens_per_chip_per_step, r->layout.microbatches);
    const struct us_breakdown *br = &r->breakdown;
    fprintf(f,
            "  breakdown   compute %.4g | TP %.3g | CP %.3g | EP %.3g | PP %.3g | DP %.3g | "
            "bubble %.3g | optimizer %.3g | overhead %.3g | stragglers %.3g  (s)\n",
            br->compute_s, br->tp_comm_s, br->cp_comm_s, br->ep_comm_s, br->pp_comm_s,
            br->dp_comm_s, br->bubble_s, br->optimizer_s, br->overhead_s, br->straggler_s);
    const struct us_memory *m = &r->memory;
    fprintf(f,
            "  memory      peak %.1f GiB of %.1f GiB on stage %d: %s\n"
            "              weights %.1f, grads %.1f, optimizer %.1f, activations %.1f, "
            "buffers %.1f, reserve %.1f GiB\n",
            m->peak_B / GIB, m->capacity_B / GIB, m->stage, r->fits ? "fits" : "DOES NOT FIT",
            m->weights_B / GIB, m->grads_B / GIB, m->optimizer_B / GIB, m->activations_B / GIB,
            m->comm_buffers_B / GIB, m->reserve_B / GIB);
    if (!r->fits)
        fprintf(f, "  INFEASIBLE  %s\n", r->reason);
    fprintf(f, "  power       %.0f W/chip, %.2f MW facility; %.3g MJ/step; $%.0f/hour\n",
            r->chip_power_W, r->facility_power_W / 1e6, r->energy_j_per_step / 1e6,
            r->cost_usd_per_hour);
    fprintf(f,
            "              step: %.2f MW peak, %.2f MW lowest, swing %.2f MW%s; %.2f MW in "
            "checkpoint stops; %.3g J/token, %.4g tokens/kWh\n",
            r->power_peak_W / 1e6, r->power_min_W / 1e6, (r->power_peak_W - r->power_min_W) / 1e6,
            r->engine && strcmp(r->engine, "event") == 0 ? "" : " (closed form: bounds)",
            r->power_stop_W / 1e6, r->energy_j_per_token, r->tokens_per_kwh);
    if (r->has_run) {
        fmt_count(a, sizeof a, r->run_tokens);
        fmt_count(b, sizeof b, r->cost_usd);
        fprintf(f,
                "  run         %s tokens: %.1f days, goodput %.1f%%, %.0f failures expected "
                "(MTBF %.2g h), checkpoint every %.0f s\n",
                a, r->time_to_train_s / DAY_S, 100 * r->goodput, r->failures_expected,
                r->mtbf_s / 3600, r->checkpoint_interval_s);
        fprintf(f,
                "              %.4g MWh at %.2f MW average, $%s, $%.3g per million tokens, "
                "$%.3g lost to failures\n",
                r->energy_J / 3.6e9, r->avg_power_W / 1e6, b, r->usd_per_million_tokens,
                r->cost_of_failures_usd);
    }
    for (int i = 0; i < r->nwarnings && i < US_MAX_WARNINGS; i++)
        fprintf(f, "  note        %s\n", r->warnings[i]);
}

static const char *const csv_cols =
    "model,system,chips,tp,pp,dp,cp,ep,vpp,zero,sequence_parallel,recompute,schedule,"
    "micro_batch,valid,fits,engine,step_time_s,tokens_per_s,mfu,hfu,model_tflops_per_chip,"
    "peak_memory_gib,compute_s,tp_comm_s,cp_comm_s,ep_comm_s,pp_comm_s,dp_comm_s,bubble_s,"
    "optimizer_s,overhead_s,straggler_s,energy_j_per_step,cost_usd_per_hour,energy_j_per_token,"
    "tokens_per_kwh,power_peak_mw,power_min_mw,time_to_train_days,"
    "goodput,"
    "energy_mwh,cost_usd,reason";

void report_csv_header(FILE *f)
{
    fprintf(f, "%s\n", csv_cols);
}

void report_csv_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static double fin(double v)
{
    return isfinite(v) ? v : 0.0;
}

void report_csv_row(const struct us_result *r, const struct spec_job *j, FILE *f)
{
    const struct us_layout *l = &r->layout;
    report_csv_str(f, j->model.name);
    fputc(',', f);
    report_csv_str(f, j->system.name);
    fprintf(f, ",%d,%d,%d,%d,%d,%d,%d,%d,%s,%s,%s,%d,%s,%s,%s", r->nchips, l->tp, l->pp, l->dp,
            l->cp, l->ep, l->vpp, l->zero, l->sequence_parallel ? "true" : "false",
            core_recompute_name(l->recompute), core_schedule_name(l->schedule), l->micro_batch,
            r->valid ? "true" : "false", r->fits ? "true" : "false",
            r->engine ? r->engine : "none");
    const struct us_breakdown *b = &r->breakdown;
    fprintf(f, ",%.9g,%.9g,%.6g,%.6g,%.6g,%.6g", fin(r->step_time_s), fin(r->tokens_per_s),
            fin(r->mfu), fin(r->hfu), fin(r->model_tflops_per_chip), fin(r->memory.peak_B / GIB));
    fprintf(f, ",%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g", fin(b->compute_s),
            fin(b->tp_comm_s), fin(b->cp_comm_s), fin(b->ep_comm_s), fin(b->pp_comm_s),
            fin(b->dp_comm_s), fin(b->bubble_s), fin(b->optimizer_s), fin(b->overhead_s),
            fin(b->straggler_s));
    fprintf(f, ",%.9g,%.9g", fin(r->energy_j_per_step), fin(r->cost_usd_per_hour));
    fprintf(f, ",%.6g,%.6g,%.6g,%.6g", fin(r->energy_j_per_token), fin(r->tokens_per_kwh),
            fin(r->power_peak_W / 1e6), fin(r->power_min_W / 1e6));
    if (r->has_run)
        fprintf(f, ",%.6g,%.6g,%.6g,%.9g", fin(r->time_to_train_s / DAY_S), fin(r->goodput),
                fin(r->energy_J / 3.6e9), fin(r->cost_usd));
    else
        fputs(",,,,", f);
    fputc(',', f);
    report_csv_str(f, r->reason);
    fputc('\n', f);
}

void report_result_write(const struct us_result *r, const struct spec_job *j, enum us_format fmt,
                         FILE *out)
{
    switch (fmt) {
    case US_FORMAT_JSON: {
        struct json_w w;
        json_init(&w, out, true);
        json_obj_begin(&w, NULL);
        json_str(&w, "model", j->model.name);
        json_str(&w, "system", j->system.name);
        json_str(&w, "dtype", core_dtype_name(j->train.dtype));
        json_int(&w, "seq_len", j->train.seq_len);
        json_int(&w, "global_batch", j->train.global_batch);
        json_framework(&w, j, &r->layout);
        report_result_json_fields(&w, r);
        json_obj_end(&w);
        json_finish(&w);
        break;
    }
    case US_FORMAT_CSV:
        report_csv_header(out);
        report_csv_row(r, j, out);
        break;
    case US_FORMAT_TABLE:
    default:
        table_result(r, j, out);
        break;
    }
}
