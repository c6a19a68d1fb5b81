/* spec system: a hardware system spec (chip, scale-up domain, scale-out fabric, power,
 * reliability) from a checked tree into struct spec_system, converting the file's units
 * (GB, TBps, Gbps, us, min) to SI. Defaults are the ones docs/SPEC.md lists.
 * Leaves out: whether a parallel plan fits the system (parallel/, net/). */
#include <math.h>
#include <string.h>

#include "spec/tree.h"

/* Llama 3 pre-training: 419 unexpected interruptions in a 54-day snapshot on 16,384 H100
 * GPUs (Dubey et al., "The Llama 3 Herd of Models", 2024, section 3.3.4 and Table 5;
 * ../shared/reference/hardware.yaml, reliability llama3_405b_16k_h100). */
#define LLAMA3_INTERRUPTIONS_PER_CHIP_HOUR (419.0 / (54.0 * 24.0 * 16384.0))

/* Assumptions, not measurements (docs/SPEC.md says so): a restart of a large job takes
 * about a quarter of an hour, checkpoints are written at 1 GB/s per chip, and one chip's
 * step time varies by 1%. A system spec should give its own. */
#define DEFAULT_RESTART_MIN        15.0
#define DEFAULT_CKPT_GBPS_PER_CHIP 1.0
#define DEFAULT_STEP_CV            0.01
#define DEFAULT_LATENCY_US         5.0 /* docs/SPEC.md: "latencies 5 us" when not given */
#define DEFAULT_PUE                1.2 /* docs/SPEC.md default; a modern AI data centre, not measured */
#define DEFAULT_IDLE_FRACTION      0.25 /* idle power = 25% of TDP when not given (docs/SPEC.md) */

/* Bounds that keep every later product finite and every loop short; see docs/SPEC.md. */
#define MAX_CHIPS_PER_DOMAIN (1 << 20)
#define MAX_RADIX            (1 << 20)

static const char *const topo_names[] = {"switch", "torus", "hypercube", "mesh"};
static const char *const fabric_names[] = {"fat-tree", "rail"};

/* gemm_W, memory_W, wait_W: given, else from tdp_W (spec.h SPEC_POWER_*_OF_TDP). Each lies
 * in [idle_W, tdp_W x 1.5] (a measured draw may exceed a nominal TDP a little, not by half),
 * and wait <= memory <= gemm. */
static enum us_status read_phase_power(struct spec_rd *rd, const struct spec_node *c,
                                       struct spec_chip *chip)
{
    static const char *const key[3] = {"gemm_W", "memory_W", "wait_W"};
    static const unsigned bit[3] = {SPEC_POWER_DERIVED_GEMM, SPEC_POWER_DERIVED_MEMORY,
                                    SPEC_POWER_DERIVED_WAIT};
    double *v[3] = {&chip->gemm_W, &chip->memory_W, &chip->wait_W};
    chip->gemm_W = fmax(chip->idle_W, SPEC_POWER_GEMM_OF_TDP * chip->tdp_W);
    chip->wait_W = fmax(chip->idle_W, SPEC_POWER_WAIT_OF_TDP * chip->tdp_W);
    chip->power_derived = 0;
    bool given[3];
    for (int i = 0; i < 3; i++) {
        int has = spec_get_real(rd, c, key[i], 0, 1.5 * chip->tdp_W, 0, v[i]);
        SPEC_TRY(rd, has);
        given[i] = has > 0;
        if (!given[i])
            chip->power_derived |= bit[i];
        else if (*v[i] < chip->idle_W)
            return spec_fail(rd, spec_get(c, key[i]), "%s %g is below idle_W %g", key[i], *v[i],
                             chip->idle_W);
    }
    if (!given[1]) /* midway between the two others, whichever were given */
        chip->memory_W = 0.5 * (chip->gemm_W + chip->wait_W);
    if (chip->wait_W > chip->memory_W)
        return spec_fail(rd, spec_get(c, given[2] ? "wait_W" : "memory_W"),
                         "wait_W %g is above memory_W %g", chip->wait_W, chip->memory_W);
    if (chip->memory_W > chip->gemm_W)
        return spec_fail(rd, spec_get(c, given[1] ? "memory_W" : "gemm_W"),
                         "memory_W %g is above gemm_W %g", chip->memory_W, chip->gemm_W);
    return US_OK;
}

static enum us_status read_chip(struct spec_rd *rd, const struct spec_node *c,
                                struct spec_system *s)
{
    struct spec_chip *chip = &s->chip;
    const struct spec_node *tf;
    core_strlcpy(chip->name, s->name, sizeof chip->name);
    core_strlcpy(chip->family, "generic", sizeof chip->family);
    SPEC_TRY(rd, spec_get_str(rd, c, "name", 0, chip->name, sizeof chip->name));
    SPEC_TRY(rd, spec_get_str(rd, c, "family", 0, chip->family, sizeof chip->family));

    /* Lower bounds on rates (0.1 TFLOP/s, 0.01 TB/s, 0.1 GB/s, 1 Gb/s, efficiency 0.01) sit
     * far below any chip in scope (the slowest preset rate is 19.5 TFLOP/s fp32) and keep
     * every derived time, energy and cost finite in doubles. */
    SPEC_TRY(rd, spec_get_map(rd, c, "tflops", spec_schema_tflops, SPEC_REQ, &tf));
    static const struct {
        const char *key;
        enum us_dtype t;
    } dt[] = {{"fp32", US_DTYPE_FP32},
              {"fp16", US_DTYPE_FP16},
              {"bf16", US_DTYPE_BF16},
              {"fp8", US_DTYPE_FP8},
              {"fp4", US_DTYPE_FP4}};
    for (size_t i = 0; i < US_ARRAY_LEN(dt); i++) {
        double tflops = 0;
        unsigned req = dt[i].t == US_DTYPE_BF16 ? SPEC_REQ : 0;
        SPEC_TRY(rd, spec_get_real(rd, tf, dt[i].key, 0.1, 1e6, req, &tflops));
        chip->peak_flops[dt[i].t] = tflops * 1e12;
    }
    /* int8 TOPS: part of the chip's description (inference and quantized kernels); no
     * training dtype runs on it, so nothing reads it but `show`. */
    double tops = 0;
    SPEC_TRY(rd, spec_get_real(rd, tf, "int8", 0.1, 1e6, 0, &tops));
    chip->peak_int8_ops = tops * 1e12;

    double gb = 0, gib = 0;
    int has_gb = spec_get_real(rd, c, "hbm_GB", 0.1, 1e6, 0, &gb);
    SPEC_TRY(rd, has_gb);
    int has_gib = spec_get_real(rd, c, "hbm_GiB", 0.1, 1e6, 0, &gib);
    SPEC_TRY(rd, has_gib);
    if (has_gb && has_gib)
        return spec_fail(rd, spec_get(c, "hbm_GiB"), "give hbm_GB or hbm_GiB, not both");
    if (!has_gb && !has_gib)
        return spec_fail_missing(rd, c, "hbm_GB");
    chip->hbm_B = has_gb ? gb * 1e9 : gib * 1073741824.0;
    SPEC_TRY(rd, spec_get_bool(rd, c, "hbm_runtime_limit", 0, &chip->hbm_runtime_limit));

    double tbps = 0;
    SPEC_TRY(rd, spec_get_real(rd, c, "hbm_TBps", 0.01, 1e3, SPEC_REQ, &tbps));
    chip->hbm_Bps = tbps * 1e12;
    SPEC_TRY(rd, spec_get_real(rd, c, "tdp_W", 1, 1e5, SPEC_REQ, &chip->tdp_W));
    chip->idle_W = DEFAULT_IDLE_FRACTION * chip->tdp_W;
    int has_idle = spec_get_real(rd, c, "idle_W", 0, 1e5, 0, &chip->idle_W);
    SPEC_TRY(rd, has_idle);
    if (has_idle && chip->idle_W > chip->tdp_W)
        return spec_fail(rd, spec_get(c, "idle_W"), "idle_W %g is above tdp_W %g", chip->idle_W,
                         chip->tdp_W);
    SPEC_TRY(rd, spec_get_real(rd, c, "usd_per_hour", 0, 1e4, 0, &chip->usd_per_hour));
    enum us_status pst = read_phase_power(rd, c, chip);
    if (pst != US_OK)
        return pst;

    /* no tile or wave quantization unless the chip says how its matrix units work */
    int tile[3] = {1, 1, 1}, nt = 0;
    SPEC_TRY(rd, spec_get_ints(rd, c, "matrix_tile", 3, 3, 1, 65536, 0, tile, &nt));
    chip->matrix_m = tile[0];
    chip->matrix_n = tile[1];
    chip->matrix_k = tile[2];
    chip->compute_units = 1;
    SPEC_TRY(rd, spec_get_i32(rd, c, "compute_units", 1, 1 << 20, 0, &chip->compute_units));
    chip->devices = 1;
    SPEC_TRY(rd, spec_get_i32(rd, c, "devices", 1, 64, 0, &chip->devices));
    return US_OK;
}

static enum us_status read_scale_up(struct spec_rd *rd, const struct spec_node *u,
                                    struct spec_scaleup *up)
{
    double gbps = 0, lat_us = DEFAULT_LATENCY_US;
    int topo = 0;
    SPEC_TRY(rd, spec_get_i32(rd, u, "chips", 1, MAX_CHIPS_PER_DOMAIN, SPEC_REQ, &up->chips));
    SPEC_TRY(rd, spec_get_real(rd, u, "GBps", 0.1, 1e6, SPEC_REQ, &gbps));
    up->bw_Bps = gbps * 1e9;
    SPEC_TRY(rd, spec_get_real(rd, u, "latency_us", 0, 1e6, 0, &lat_us));
    up->latency_s = lat_us * 1e-6;
    SPEC_TRY(rd, spec_get_enum(rd, u, "topology", topo_names, 4, SPEC_REQ, &topo));
    up->topology = (enum spec_topology)topo;
    SPEC_TRY(rd, spec_get_bool(rd, u, "in_network_reduction", 0, &up->in_network_reduction));

    int dims[3] = {0, 0, 0}, nd = 0;
    int has_dims = spec_get_ints(rd, u, "dims", 1, 3, 1, MAX_CHIPS_PER_DOMAIN, 0, dims, &nd);
    SPEC_TRY(rd, has_dims);
    if (has_dims && up->topology != SPEC_TOPO_TORUS)
        return spec_fail(rd, spec_get(u, "dims"), "dims is for topology torus only, not %s",
                         topo_names[topo]);
    if (up->topology == SPEC_TOPO_TORUS) {
        if (!has_dims) {
            dims[0] = up->chips; /* a ring */
            nd = 1;
        }
        double prod = 1;
        for (int i = 0; i < nd; i++)
            prod *= dims[i];
        if (prod != (double)up->chips)
            return spec_fail(rd, spec_get(u, "dims"),
                             "the torus dims multiply to %.0f chips, but chips is %d", prod,
                             up->chips);
    }
    for (int i = 0; i < 3; i++)
        up->dims[i] = dims[i];
    if (up->topology == SPEC_TOPO_HYPERCUBE && (up->chips & (up->chips - 1)) != 0)
        return spec_fail(rd, spec_get(u, "chips"), "a hypercube needs a power of two chips, got %d",
                         up->chips);
    return US_OK;
}

static enum us_status read_scale_out(struct spec_rd *rd, const struct spec_node *o,
                                     struct spec_fabric *f)
{
    double gbps = 0, lat_us = DEFAULT_LATENCY_US;
    int kind = SPEC_FABRIC_FAT_TREE;
    SPEC_TRY(rd, spec_get_real(rd, o, "Gbps", 1, 1e7, SPEC_REQ, &gbps));
    f->nic_Bps = gbps * 1e9 / 8.0;
    SPEC_TRY(rd, spec_get_real(rd, o, "latency_us", 0, 1e6, 0, &lat_us));
    f->latency_s = lat_us * 1e-6;
    SPEC_TRY(rd, spec_get_enum(rd, o, "topology", fabric_names, 2, 0, &kind));
    f->kind = (enum spec_fabric_kind)kind;
    SPEC_TRY(rd, spec_get_bool(rd, o, "in_network_reduction", 0, &f->in_network_reduction));

    const struct spec_node *tiers = spec_get(o, "tiers");
    if (!tiers)
        return spec_fail_missing(rd, o, "tiers");
    if (tiers->kind != SPEC_NODE_SEQ || tiers->count < 1 || tiers->count > SPEC_MAX_TIERS)
        return spec_fail(rd, tiers, "expected a sequence of 1 to %d tiers%s", SPEC_MAX_TIERS,
                         tiers->kind == SPEC_NODE_SEQ ? " (leaf first)" : "");
    int i = 0;
    for (const struct spec_node *t = tiers->first; t; t = t->next, i++) {
        if (spec_check_keys(rd, t, spec_schema_tier))
            return rd->status;
        f->tiers[i].oversub = 1.0;
        SPEC_TRY(rd, spec_get_i32(rd, t, "radix", 2, MAX_RADIX, SPEC_REQ, &f->tiers[i].radix));
        SPEC_TRY(rd,
                 spec_get_real(rd, t, "oversubscription", 1.0, 1000.0, 0, &f->tiers[i].oversub));
    }
    f->ntiers = i;
    return US_OK;
}

static enum us_status read_reliability(struct spec_rd *rd, const struct spec_node *r,
                                       struct spec_reliability *rel)
{
    double restart_min = DEFAULT_RESTART_MIN, ckpt_gbps = DEFAULT_CKPT_GBPS_PER_CHIP;
    rel->interruptions_per_chip_hour = LLAMA3_INTERRUPTIONS_PER_CHIP_HOUR;
    rel->step_cv = DEFAULT_STEP_CV;
    if (r) {
        SPEC_TRY(rd, spec_get_real(rd, r, "interruptions_per_chip_hour", 0, 1.0, 0,
                                   &rel->interruptions_per_chip_hour));
        SPEC_TRY(rd, spec_get_real(rd, r, "restart_min", 0, 1e5, 0, &restart_min));
        SPEC_TRY(rd,
                 spec_get_real(rd, r, "checkpoint_write_GBps_per_chip", 1e-3, 1e4, 0, &ckpt_gbps));
        SPEC_TRY(rd, spec_get_real(rd, r, "step_cv", 0, 1.0, 0, &rel->step_cv));
    }
    rel->restart_s = restart_min * 60.0;
    rel->ckpt_write_Bps_per_chip = ckpt_gbps * 1e9;
    return US_OK;
}

enum us_status spec_system_from_node(struct spec_rd *rd, const struct spec_node *n,
                                     struct spec_system *out)
{
    struct spec_system s;
    const struct spec_node *chip, *eff, *up, *o, *rel;
    enum us_status st;
    memset(&s, 0, sizeof s);
    if (spec_check_keys(rd, n, spec_schema_system))
        return rd->status;
    int has_name = spec_get_str(rd, n, "name", 0, s.name, sizeof s.name);
    if (has_name < 0)
        return rd->status;
    if (has_name == 0)
        spec_default_name(n, NULL, "custom-system", s.name, sizeof s.name);
    SPEC_TRY(rd, spec_get_str(rd, n, "description", 0, s.description, sizeof s.description));

    SPEC_TRY(rd, spec_get_map(rd, n, "chip", spec_schema_chip, SPEC_REQ, &chip));
    if ((st = read_chip(rd, chip, &s)) != US_OK)
        return st;

    s.eff.gemm = s.eff.attention = s.eff.memory = s.eff.comm = 1.0;
    s.eff.gemm_fp8 = s.eff.comm_inr = 0.0; /* gemm, comm unless the file gives them */
    int has_eff = spec_get_map(rd, n, "efficiency", spec_schema_efficiency, 0, &eff);
    SPEC_TRY(rd, has_eff);
    if (has_eff) {
        SPEC_TRY(rd, spec_get_real(rd, eff, "gemm", 0.01, 1, 0, &s.eff.gemm));
        SPEC_TRY(rd, spec_get_real(rd, eff, "gemm_fp8", 0.01, 1, 0, &s.eff.gemm_fp8));
        SPEC_TRY(rd, spec_get_real(rd, eff, "attention", 0.01, 1, 0, &s.eff.attention));
        SPEC_TRY(rd, spec_get_real(rd, eff, "memory", 0.01, 1, 0, &s.eff.memory));
        SPEC_TRY(rd, spec_get_real(rd, eff, "comm", 0.01, 1, 0, &s.eff.comm));
        SPEC_TRY(rd, spec_get_real(rd, eff, "comm_inr", 0.01, 1, 0, &s.eff.comm_inr));
    }
    if (!(s.eff.comm_inr > 0.0))
        s.eff.comm_inr = s.eff.comm;
    if (!(s.eff.gemm_fp8 > 0.0))
        s.eff.gemm_fp8 = s.eff.gemm;

    SPEC_TRY(rd, spec_get_map(rd, n, "scale_up", spec_schema_scale_up, SPEC_REQ, &up));
    if ((st = read_scale_up(rd, up, &s.up)) != US_OK)
        return st;
    s.chips_per_node = s.up.chips;
    int has_cpn =
        spec_get_i32(rd, n, "chips_per_node", 1, MAX_CHIPS_PER_DOMAIN, 0, &s.chips_per_node);
    SPEC_TRY(rd, has_cpn);
    if (has_cpn && s.up.chips % s.chips_per_node != 0 && s.chips_per_node % s.up.chips != 0)
        return spec_fail(rd, spec_get(n, "chips_per_node"),
                         "chips_per_node %d and scale_up.chips %d: one must divide the other",
                         s.chips_per_node, s.up.chips);

    SPEC_TRY(rd, spec_get_map(rd, n, "scale_out", spec_schema_scale_out, SPEC_REQ, &o));
    if ((st = read_scale_out(rd, o, &s.out)) != US_OK)
        return st;

    SPEC_TRY(rd, spec_get_real(rd, n, "host_W_per_chip", 0, 1e5, 0, &s.host_W_per_chip));
    SPEC_TRY(rd, spec_get_real(rd, n, "network_W_per_chip", 0, 1e5, 0, &s.network_W_per_chip));
    s.pue = DEFAULT_PUE;
    SPEC_TRY(rd, spec_get_real(rd, n, "pue", 1.0, 5.0, 0, &s.pue));
    double overhead_ms = 0;
    SPEC_TRY(rd, spec_get_real(rd, n, "step_overhead_ms", 0, 1e6, 0, &overhead_ms));
    s.step_overhead_s = overhead_ms * 1e-3;

    int has_rel = spec_get_map(rd, n, "reliability", spec_schema_reliability, 0, &rel);
    SPEC_TRY(rd, has_rel);
    if ((st = read_reliability(rd, has_rel ? rel : NULL, &s.rel)) != US_OK)
        return st;
    *out = s;
    return US_OK;
}
