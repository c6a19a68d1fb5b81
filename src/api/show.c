/* api/show: the full description of a system or model preset (or file), as a table or
 * JSON. Model output carries params, active_params and per-layer FLOPs for one sequence. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "catalog/catalog.h"
#include "core/core.h"
#include "model/model.h"
#include "report/json.h"
#include "report/report.h"

#define GIB (1024.0 * 1024.0 * 1024.0)

static const char *topo_name(enum spec_topology t)
{
    static const char *const n[] = {"switch", "torus", "hypercube", "mesh"};
    return (unsigned)t < 4 ? n[t] : "?";
}

/* Every commented value of the file: where each number came from. */
static void sources_json(struct json_w *w, const struct spec_source *src, size_t n)
{
    json_arr_begin(w, "sources");
    for (size_t i = 0; i < n; i++) {
        json_obj_begin(w, NULL);
        json_str(w, "path", src[i].path);
        json_str(w, "value", src[i].value);
        json_str(w, "note", src[i].note);
        json_obj_end(w);
    }
    json_arr_end(w);
}

static void sources_table(const struct spec_source *src, size_t n, FILE *f)
{
    if (n == 0) {
        fprintf(f, "  sources       none given (the file has no comments beside its values)\n");
        return;
    }
    fprintf(f, "  sources       (the file's comment beside each value; keys in docs/CATALOG.md)\n");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "    %-36s %-12s %s\n", src[i].path, src[i].value, src[i].note);
}

/* A system as CSV: every number its file gives, with the comment beside it (its source). */
static void show_system_csv(const struct spec_source *src, size_t n, FILE *f)
{
    fprintf(f, "path,value,source\n");
    for (size_t i = 0; i < n; i++) {
        report_csv_str(f, src[i].path);
        fputc(',', f);
        report_csv_str(f, src[i].value);
        fputc(',', f);
        report_csv_str(f, src[i].note);
        fputc('\n', f);
    }
}

static void show_system_json(const struct spec_system *s, const struct spec_source *src,
                             size_t nsrc, FILE *f)
{
    struct json_w w;
    json_init(&w, f, true);
    json_obj_begin(&w, NULL);
    json_str(&w, "kind", "system");
    json_str(&w, "name", s->name);
    json_str(&w, "description", s->description);
    json_obj_begin(&w, "chip");
    json_str(&w, "name", s->chip.name);
    json_str(&w, "family", s->chip.family);
    json_obj_begin(&w, "tflops");
    for (int t = 0; t < US_DTYPE_COUNT; t++)
        if (s->chip.peak_flops[t] > 0)
            json_num(&w, us_dtype_name((enum us_dtype)t), s->chip.peak_flops[t] / 1e12);
    if (s->chip.peak_int8_ops > 0)
        json_num(&w, "int8", s->chip.peak_int8_ops / 1e12);
    json_obj_end(&w);
    json_num(&w, "hbm_gib", s->chip.hbm_B / GIB);
    json_num(&w, "hbm_tbps", s->chip.hbm_Bps / 1e12);
    json_num(&w, "idle_w", s->chip.idle_W);
    json_num(&w, "tdp_w", s->chip.tdp_W);
    json_num(&w, "gemm_w", s->chip.gemm_W);
    json_num(&w, "memory_w", s->chip.memory_W);
    json_num(&w, "wait_w", s->chip.wait_W);
    json_arr_begin(&w, "power_derived_from_tdp");
    static const char *const lv[3] = {"matrix", "memory", "wait"};
    for (int i = 0; i < 3; i++)
        if (s->chip.power_derived & (1u << i))
            json_str(&w, NULL, lv[i]);
    json_arr_end(&w);
    json_num(&w, "usd_per_hour", s->chip.usd_per_hour);
    json_arr_begin(&w, "matrix_tile");
    json_int(&w, NULL, s->chip.matrix_m);
    json_int(&w, NULL, s->chip.matrix_n);
    json_int(&w, NULL, s->chip.matrix_k);
    json_arr_end(&w);
    json_int(&w, "compute_units", s->chip.compute_units);
    json_obj_end(&w);
    json_obj_begin(&w, "efficiency");
    json_num(&w, "gemm", s->eff.gemm);
    json_num(&w, "gemm_fp8", s->eff.gemm_fp8);
    json_num(&w, "attention", s->eff.attention);
    json_num(&w, "memory", s->eff.memory);
    json_num(&w, "comm", s->eff.comm);
    json_num(&w, "comm_inr", s->eff.comm_inr);
    json_obj_end(&w);
    json_int(&w, "chips_per_node", s->chips_per_node);
    json_obj_begin(&w, "scale_up");
    json_int(&w, "chips", s->up.chips);
    json_num(&w, "gbps_per_direction", s->up.bw_Bps / 1e9);
    json_num(&w, "latency_us", s->up.latency_s * 1e6);
    json_str(&w, "topology", topo_name(s->up.topology));
    if (s->up.topology == SPEC_TOPO_TORUS) {
        json_arr_begin(&w, "dims");
        for (int i = 0; i < 3 && s->up.dims[i]; i++)
            json_int(&w, NULL, s->up.dims[i]);
        json_arr_end(&w);
    }
    json_bool(&w, "in_network_reduction", s->up.in_network_reduction);
    json_obj_end(&w);
    json_obj_begin(&w, "scale_out");
    json_num(&w, "nic_gbit_per_s", s->out.nic_Bps * 8 / 1e9);
    json_num(&w, "latency_us", s->out.latency_s * 1e6);
    json_str(&w, "topology", s->out.kind == SPEC_FABRIC_RAIL ? "rail" : "fat-tree");
    json_arr_begin(&w, "tiers");
    for (int i = 0; i < s->out.ntiers; i++) {
        json_obj_begin(&w, NULL);
        json_int(&w, "radix", s->out.tiers[i].radix);
        json_num(&w, "oversubscription", s->out.tiers[i].oversub);
        json_obj_end(&w);
    }
    json_arr_end(&w);
    json_bool(&w, "in_network_reduction", s->out.in_network_reduction);
    json_obj_end(&w);
    json_num(&w, "host_w_per_chip", s->host_W_per_chip);
    json_num(&w, "network_w_per_chip", s->network_W_per_chip);
    json_num(&w, "pue", s->pue);
    json_num(&w, "step_overhead_ms", s->step_overhead_s * 1e3);
    json_obj_begin(&w, "reliability");
    json_num(&w, "interruptions_per_chip_hour", s->rel.interruptions_per_chip_hour);
    json_num(&w, "restart_min", s->rel.restart_s / 60);
    json_num(&w, "checkpoint_write_gbps_per_chip", s->rel.ckpt_write_Bps_per_chip / 1e9);
    json_num(&w, "step_cv", s->rel.step_cv);
    json_obj_end(&w);
    sources_json(&w, src, nsrc);
    json_obj_end(&w);
    json_finish(&w);
}

static void show_system_table(const struct spec_system *s, const struct spec_source *src,
                              size_t nsrc, FILE *f)
{
    const struct spec_chip *c = &s->chip;
    fprintf(f, "%s: %s\n", s->name, s->description);
    fprintf(f, "  chip          %s (%s)\n", c->name, c->family);
    fprintf(f, "  dense TFLOP/s");
    for (int t = 0; t < US_DTYPE_COUNT; t++)
        if (c->peak_flops[t] > 0)
            fprintf(f, "  %s %.1f", us_dtype_name((enum us_dtype)t), c->peak_flops[t] / 1e12);
    if (c->peak_int8_ops > 0)
        fprintf(f, "  (int8 %.1f TOPS)", c->peak_int8_ops / 1e12);
    fprintf(f, "\n  HBM           %.1f GiB at %.2f TB/s\n", c->hbm_B / GIB, c->hbm_Bps / 1e12);
    fprintf(f,
            "  power         idle %.0f W, TDP %.0f W; host %.0f W + network %.0f W per chip; "
            "PUE %.2f\n",
            c->idle_W, c->tdp_W, s->host_W_per_chip, s->network_W_per_chip, s->pue);
    fprintf(f,
            "  phase power   matrix %.0f W%s, memory-bound %.0f W%s, waiting %.0f W%s; "
            "at peak (chips at the matrix level + host) %.2f kW per %d-chip node, %.1f kW per "
            "%d-chip scale-up domain\n",
            c->gemm_W, c->power_derived & SPEC_POWER_DERIVED_GEMM ? " (from TDP)" : "", c->memory_W,
            c->power_derived & SPEC_POWER_DERIVED_MEMORY ? " (from TDP)" : "", c->wait_W,
            c->power_derived & SPEC_POWER_DERIVED_WAIT ? " (from TDP)" : "",
            s->chips_per_node * (c->gemm_W + s->host_W_per_chip) / 1e3, s->chips_per_node,
            s->up.chips * (c->gemm_W + s->host_W_per_chip) / 1e3, s->up.chips);
    fprintf(f, "  price         $%.3f per chip-hour\n", c->usd_per_hour);
    fprintf(f, "  matrix unit   tile %dx%dx%d, %d compute units\n", c->matrix_m, c->matrix_n,
            c->matrix_k, c->compute_units);
    fprintf(f,
            "  efficiency    gemm %.3f (fp8/fp4 %.3f), attention %.3f, memory %.3f, comm %.3f "
            "(in-switch %.3f)\n",
            s->eff.gemm, s->eff.gemm_fp8, s->eff.attention, s->eff.memory, s->eff.comm,
            s->eff.comm_inr);
    fprintf(f, "  scale-up      %d chips, %s", s->up.chips, topo_name(s->up.topology));
    if (s->up.topology == SPEC_TOPO_TORUS)
        fprintf(f, " %dx%dx%d", s->up.dims[0], s->up.dims[1] ? s->up.dims[1] : 1,
                s->up.dims[2] ? s->up.dims[2] : 1);
    fprintf(f, ", %.0f GB/s per chip per direction, %.2g us%s\n", s->up.bw_Bps / 1e9,
            s->up.latency_s * 1e6, s->up.in_network_reduction ? ", in-network reduction" : "");
    fprintf(f, "  scale-out     %.0f Gb/s per chip, %s, %d tiers (", s->out.nic_Bps * 8 / 1e9,
            s->out.kind == SPEC_FABRIC_RAIL ? "rail-optimized" : "fat tree", s->out.ntiers);
    for (int i = 0; i < s->out.ntiers; i++)
        fprintf(f, "%sradix %d, %.2g:1", i ? "; " : "", s->out.tiers[i].radix,
                s->out.tiers[i].oversub);
    fprintf(f, "), %.2g us per hop\n", s->out.latency_s * 1e6);
    fprintf(f,
            "  reliability   %.3g interruptions per chip-hour, restart %.0f min, checkpoint "
            "%.2f GB/s per chip, step cv %.3g\n",
            s->rel.interruptions_per_chip_hour, s->rel.restart_s / 60,
            s->rel.ckpt_write_Bps_per_chip / 1e9, s->rel.step_cv);
    sources_table(src, nsrc, f);
}

static void layer_json(struct json_w *w, const char *kind, int count, const struct model_layer *l)
{
    json_obj_begin(w, NULL);
    json_str(w, "kind", kind);
    json_int(w, "count", count);
    json_num(w, "params", l->params_full);
    json_num(w, "fwd_flop", l->fwd_flop);
    json_num(w, "bwd_flop", l->bwd_flop);
    json_num(w, "activation_bytes", l->act_B);
    json_arr_begin(w, "ops");
    for (int i = 0; i < l->nops; i++) {
        const struct model_op *op = &l->ops[i];
        json_obj_begin(w, NULL);
        json_str(w, "name", op->name);
        json_str(w, "kind",
                 op->kind == MODEL_OP_GEMM   ? "gemm"
                 : op->kind == MODEL_OP_ATTN ? "attention"
                                             : "memory");
        json_num(w, "fwd_flop", op->fwd_flop);
        json_num(w, "bwd_flop", op->bwd_flop);
        json_num(w, "fwd_bytes", op->fwd_B);
        json_num(w, "bwd_bytes", op->bwd_B);
        json_obj_end(w);
    }
    json_arr_end(w);
    json_obj_end(w);
}

static void show_model(const struct spec_model *m, enum us_format fmt, int seq, FILE *f)
{
    double total, active;
    model_params(m, &total, &active);
    struct model_split sp = {.tp = 1,
                             .cp = 1,
                             .ep = 1,
                             .sequence_parallel = false,
                             .recompute = US_RECOMPUTE_NONE,
                             .micro_batch = 1,
                             .seq_len = seq,
                             .dtype = US_DTYPE_BF16};
    struct model_costs c;
    model_costs_compute(m, &sp, &c);
    double fpt = model_flop_per_token(m, seq);
    if (fmt == US_FORMAT_JSON) {
        struct json_w w;
        json_init(&w, f, true);
        json_obj_begin(&w, NULL);
        json_str(&w, "kind", "model");
        json_str(&w, "name", m->name);
        json_str(&w, "description", m->description);
        json_int(&w, "layers", m->layers);
        json_int(&w, "hidden", m->hidden);
        json_int(&w, "heads", m->heads);
        json_int(&w, "kv_heads", m->kv_heads);
        json_int(&w, "head_dim", m->head_dim);
        json_int(&w, "ffn_hidden", m->ffn_hidden);
        json_int(&w, "vocab", m->vocab);
        json_bool(&w, "gated_mlp", m->gated_mlp);
        json_bool(&w, "tied_embeddings", m->tied_embeddings);
        if (m->has_moe) {
            json_obj_begin(&w, "moe");
            json_int(&w, "experts", m->moe.experts);
            json_int(&w, "top_k", m->moe.top_k);
            json_int(&w, "expert_ffn_hidden", m->moe.expert_ffn_hidden);
            json_int(&w, "shared_experts", m->moe.shared_experts);
            json_int(&w, "dense_layers", m->moe.dense_layers);
            json_num(&w, "capacity_factor", m->moe.capacity_factor);
            json_obj_end(&w);
        } else {
            json_null(&w, "moe");
        }
        if (m->has_mla) {
            json_obj_begin(&w, "mla");
            json_int(&w, "q_lora_rank", m->mla.q_lora_rank);
            json_int(&w, "kv_lora_rank", m->mla.kv_lora_rank);
            json_int(&w, "qk_nope_head_dim", m->mla.qk_nope_head_dim);
            json_int(&w, "qk_rope_head_dim", m->mla.qk_rope_head_dim);
            json_int(&w, "v_head_dim", m->mla.v_head_dim);
            json_obj_end(&w);
        } else {
            json_null(&w, "mla");
        }
        json_int(&w, "mtp_layers", m->mtp_layers);
        json_num(&w, "hidden_dropout", m->hidden_dropout);
        json_num(&w, "params", total);
        json_num(&w, "active_params", active);
        json_int(&w, "seq_len", seq);
        json_num(&w, "model_flop_per_token", fpt);
        json_arr_begin(&w, "per_layer");
        if (c.n_dense)
            layer_json(&w, "dense", c.n_dense, &c.dense);
        if (c.n_moe)
            layer_json(&w, "moe", c.n_moe, &c.moe);
        layer_json(&w, "embedding", 1, &c.embed);
        layer_json(&w, "head", 1, &c.head);
        json_arr_end(&w);
        json_obj_end(&w);
        json_finish(&w);
        return;
    }
    if (fmt == US_FORMAT_CSV) { /* the model's shape and totals, one row */
        fprintf(f, "name,layers,hidden,heads,kv_heads,head_dim,ffn_hidden,vocab,experts,top_k,"
                   "expert_ffn_hidden,mtp_layers,params,active_params,seq_len,"
                   "model_flop_per_token\n");
        report_csv_str(f, m->name);
        fprintf(f, ",%d,%d,%d,%d,%d,%d,%lld,%d,%d,%d,%d,%.9g,%.9g,%d,%.9g\n", m->layers, m->hidden,
                m->heads, m->kv_heads, m->head_dim, m->ffn_hidden, (long long)m->vocab,
                m->has_moe ? m->moe.experts : 0, m->has_moe ? m->moe.top_k : 0,
                m->has_moe ? m->moe.expert_ffn_hidden : 0, m->mtp_layers, total, active, seq, fpt);
        return;
    }
    fprintf(f, "%s: %s\n", m->name, m->description);
    fprintf(f,
            "  shape       %d layers, hidden %d, %d heads (%d KV, head dim %d), FFN %d, "
            "vocab %lld%s%s\n",
            m->layers, m->hidden, m->heads, m->kv_heads, m->head_dim, m->ffn_hidden,
            (long long)m->vocab, m->gated_mlp ? ", gated MLP" : "",
            m->tied_embeddings ? ", tied embeddings" : "");
    if (m->hidden_dropout > 0)
        fprintf(f, "  dropout     hidden %.3g (residual and embedding masks kept)\n",
                m->hidden_dropout);
    if (m->has_moe)
        fprintf(f,
                "  moe         %d experts, top-%d, expert FFN %d, %d shared, %d dense layers, "
                "capacity factor %.2g\n",
                m->moe.experts, m->moe.top_k, m->moe.expert_ffn_hidden, m->moe.shared_experts,
                m->moe.dense_layers, m->moe.capacity_factor);
    if (m->has_mla)
        fprintf(f, "  mla         q rank %d, kv rank %d, qk nope %d, qk rope %d, v %d\n",
                m->mla.q_lora_rank, m->mla.kv_lora_rank, m->mla.qk_nope_head_dim,
                m->mla.qk_rope_head_dim, m->mla.v_head_dim);
    fprintf(f, "  params      %.2fB total, %.2fB active per token\n", total / 1e9, active / 1e9);
    fprintf(f, "  FLOPs       %.4g per token for training at seq %d (6N + attention)\n", fpt, seq);
    if (c.n_dense)
        fprintf(f, "  dense layer x%d: fwd %.4g, bwd %.4g FLOP per sequence\n", c.n_dense,
                c.dense.fwd_flop, c.dense.bwd_flop);
    if (c.n_moe)
        fprintf(f, "  moe layer   x%d: fwd %.4g, bwd %.4g FLOP per sequence\n", c.n_moe,
                c.moe.fwd_flop, c.moe.bwd_flop);
}

static bool looks_like_system(const char *path)
{
    char *text = NULL;
    size_t len = 0;
    struct us_diag d;
    if (core_read_file(path, SPEC_MAX_FILE_B, &text, &len, &d) != US_OK)
        return false;
    bool yes = strstr(text, "scale_up") != NULL;
    free(text);
    return yes;
}

enum us_status us_show(struct us_ctx *ctx, const char *name, enum us_format fmt, int seq_len,
                       FILE *out, struct us_diag *d)
{
    (void)ctx;
    int seq = seq_len > 0 ? seq_len : 4096;
    bool sys_preset = catalog_find(CATALOG_KIND_SYSTEM, name) != NULL;
    bool model_preset = catalog_find(CATALOG_KIND_MODEL, name) != NULL;
    bool is_file = !sys_preset && !model_preset;
    if (sys_preset || (is_file && looks_like_system(name))) {
        struct spec_system s;
        enum us_status st = spec_system_load(name, &s, d);
        if (st != US_OK)
            return st;
        struct spec_source *src = NULL;
        size_t nsrc = 0;
        st = spec_sources_load(name, false, &src, &nsrc, d);
        if (st != US_OK)
            return st;
        if (fmt == US_FORMAT_JSON)
            show_system_json(&s, src, nsrc, out);
        else if (fmt == US_FORMAT_CSV)
            show_system_csv(src, nsrc, out);
        else
            show_system_table(&s, src, nsrc, out);
        free(src);
        return US_OK;
    }
    struct spec_model m;
    enum us_status st = spec_model_load(name, &m, d);
    if (st != US_OK)
        return st;
    show_model(&m, fmt, seq, out);
    return US_OK;
}
