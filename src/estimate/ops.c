/* estimate/ops: the time of one op on one chip - a roofline of FLOPs over the dtype's peak
 * (times an achievable fraction) against HBM bytes over bandwidth. GEMM efficiency is the
 * chip's measured large-GEMM fraction for the dtype (efficiency.gemm / gemm_fp8) times tile
 * and wave quantization on the chip's matrix unit. Leaves out: caches (every byte the model
 * counts crosses HBM), clock throttling, the framework's production efficiency and launch
 * floor (applied by the caller, estimate/costs.c), and split-K / stream-K kernels that
 * soften wave quantization for small grids. Formulas: docs/MODEL.md section 4. */
#include <math.h>
#include <stdint.h>

#include "estimate/estimate.h"

#define GROUPED_GEMM_ROWS0 85.0

/* Peak of the first dtype in `order` the chip supports (peak > 0). */
static double first_peak(const struct spec_chip *chip, const enum us_dtype *order, int n)
{
    for (int i = 0; i < n; i++) {
        double p = chip->peak_flops[order[i]];
        if (p > 0.0)
            return p;
    }
    return 0.0;
}

double estimate_peak_gemm_flops(const struct spec_chip *chip, enum us_dtype dt)
{
    /* A dtype the chip lacks runs in the next wider format it has (fp8 on A100 runs bf16). */
    static const enum us_dtype fp4[] = {US_DTYPE_FP4, US_DTYPE_FP8, US_DTYPE_BF16, US_DTYPE_FP16,
                                        US_DTYPE_FP32};
    static const enum us_dtype fp8[] = {US_DTYPE_FP8, US_DTYPE_BF16, US_DTYPE_FP16, US_DTYPE_FP32};
    static const enum us_dtype bf16[] = {US_DTYPE_BF16, US_DTYPE_FP16, US_DTYPE_FP32};
    static const enum us_dtype fp16[] = {US_DTYPE_FP16, US_DTYPE_BF16, US_DTYPE_FP32};
    static const enum us_dtype fp32[] = {US_DTYPE_FP32, US_DTYPE_BF16, US_DTYPE_FP16};
    switch (dt) {
    case US_DTYPE_FP4:
        return first_peak(chip, fp4, 5);
    case US_DTYPE_FP8:
        return first_peak(chip, fp8, 4);
    case US_DTYPE_FP16:
        return first_peak(chip, fp16, 3);
    case US_DTYPE_FP32:
        return first_peak(chip, fp32, 3);
    case US_DTYPE_BF16:
    case US_DTYPE_COUNT:
    default:
        return first_peak(chip, bf16, 3);
    }
}

double estimate_grouped_gemm_factor_r0(double rows, double rows0)
{
    /* A kernel that tiles each group's rows on its own computes, per group, the tile its
     * first row falls in again: JAX's megablox gmm (jax-ml/jax@80c305da
     * jax/experimental/pallas/ops/tpu/megablox/gmm.py, make_group_metadata: "tiles_m <=
     * group_tiles.sum() <= tiles_m + num_groups - 1") visits about one extra m tile per group
     * when the group boundaries fall at random rows, so G groups of r rows cost r + tm rows
     * each: r / (r + tm). rows0 = tm; 0 takes DeepGEMM's measured 85. */
    if (!(rows0 > 0.0))
        return estimate_grouped_gemm_factor(rows);
    if (!(rows > 0.0))
        return 1.0;
    return rows / (rows + rows0);
}

double estimate_grouped_rows(const struct spec_chip *chip, const struct model_op *op)
{
    /* A row-tiled grouped kernel (MaxText's gmm) runs once per device on that device's
     * tokens, so each device starts every group's first tile on its own: on a chip JAX
     * addresses as two devices (TPU7x, one per die: 512 devices for 256 chips in the
     * Ironwood recipes' ici_context_parallelism 8 x fsdp 64) each group has half the chip's
     * rows per launch. DeepGEMM's measured curve (rows0 0) is per GPU and stays whole. */
    if (op->group_rows0 > 0.0 && chip->devices > 1)
        return op->m / (double)chip->devices;
    return op->m;
}

double estimate_grouped_gemm_factor(double rows)
{
    /* DeepGEMM's README (H800, fp8) measures grouped GEMMs with 1024, 512 and 256 rows per
     * group against dense GEMMs of the same n and k: 1233 and 925 TFLOPS against 1304 and
     * 1025 at 1024 rows, 1040 and 916 at 512, 932 and 815 at 256 - 0.92, 0.85 and 0.76 on
     * average. rows / (rows + 85) goes through all three (m0 = 81, 90, 89 from each). */
    if (!(rows > 0.0))
        return 1.0;
    return rows / (rows + GROUPED_GEMM_ROWS0);
}

enum us_dtype estimate_attn_dtype(enum us_dtype dt)
{
    /* Transformer Engine runs the fused (flash) attention in bf16 under fp8 recipes: only
     * the linear layers use fp8 (NVIDIA Transformer Engine docs, "Using FP8 with
     * Transformer Engine"). fp4 recipes keep attention in bf16 the same way. */
    return dt == US_DTYPE_FP8 || dt == US_DTYPE_FP4 ? US_DTYPE_BF16 : dt;
}

double estimate_peak_attn_flops(const struct spec_chip *chip, enum us_dtype dt)
{
    return estimate_peak_gemm_flops(chip, estimate_attn_dtype(dt));
}

double estimate_gemm_base_eff(const struct spec_system *sys, enum us_dtype dt)
{
    /* fp8 and fp4 GEMMs reach a different fraction of their peak than bf16 (microbench
     * MAMF: H100 0.709 fp8 vs 0.803 bf16); a chip without an fp8 figure runs fp8 at its
     * bf16 fraction (the loader copies it). A chip without the dtype runs the wider format
     * it has (estimate_peak_gemm_flops), at that format's fraction. */
    bool low =
        (dt == US_DTYPE_FP8 || dt == US_DTYPE_FP4) &&
        (sys->chip.peak_flops[US_DTYPE_FP8] > 0.0 || sys->chip.peak_flops[US_DTYPE_FP4] > 0.0);
    return low && sys->eff.gemm_fp8 > 0.0 ? sys->eff.gemm_fp8 : sys->eff.gemm;
}

/* Vector (non-matrix) rate for the FLOPs of memory-bound ops: the fp32 rate when the chip
 * lists one, else a quarter of the bf16 matrix rate. */
static double vector_flops(const struct spec_chip *chip)
{
    if (chip->peak_flops[US_DTYPE_FP32] > 0.0)
        return chip->peak_flops[US_DTYPE_FP32];
    return 0.25 * estimate_peak_gemm_flops(chip, US_DTYPE_BF16);
}

/* One dimension x (a whole number carried as a double; ix = its ceiling as an integer)
 * padded up to whole tiles of t. */
struct tile_pad {
    double frac; /* x / (tiles x t) */
    int64_t tiles;
};

static struct tile_pad tile_pad_of(double x, int64_t ix, double t)
{
    int64_t it = (int64_t)t;
    int64_t b = (ix + it - 1) / it;
    return (struct tile_pad){x / (double)(b * it), b};
}

/* Tile and wave quantization for one tile shape, from its three padded dimensions. */
static double quantization(const struct spec_chip *chip, struct tile_pad pm, struct tile_pad pn,
                           struct tile_pad pk, double cnt)
{
    double q = pm.frac * pn.frac * pk.frac;
    if (chip->compute_units > 0) {
        int64_t tiles = pm.tiles * pn.tiles * (int64_t)cnt;
        int64_t units = chip->compute_units;
        int64_t waves = (tiles + units - 1) / units;
        q *= (double)tiles / (double)(waves * units);
    }
    return q;
}

double estimate_gemm_quantization(const struct spec_chip *chip, double m, double n, double k,
                                  double count)
{
    /* NVIDIA, "Matrix Multiplication Background User's Guide" (Deep Learning Performance
     * docs, sec. 3): tile quantization - the output is computed in whole tiles, so m and n
     * are padded up to the tile; wave quantization - tiles run in waves of one per SM, so the
     * last partial wave idles the rest. k is padded to the tile's depth (one MMA step).
     * Sec. 2.3: cuBLAS's heuristics choose the tile per shape among several; we take the
     * best of the chip's tile, its transpose and the tile halved along its longer side,
     * each at the same per-tile rate (docs/MODEL.md 4.2). The three share k's padding, and
     * the halved tile keeps one side of the chip's tile, so that side's padding is shared
     * too. */
    if (m <= 0.0 || n <= 0.0 || k <= 0.0)
        return 1.0;
    double tm = chip->matrix_m > 0 ? (double)chip->matrix_m : 1.0;
    double tn = chip->matrix_n > 0 ? (double)chip->matrix_n : 1.0;
    double tk = chip->matrix_k > 0 ? (double)chip->matrix_k : 1.0;
    double cnt = count >= 1.0 ? floor(count) : 1.0;
    int64_t im = (int64_t)ceil(m), in = (int64_t)ceil(n), ik = (int64_t)ceil(k);
    struct tile_pad m_tm = tile_pad_of(m, im, tm), n_tn = tile_pad_of(n, in, tn);
    struct tile_pad pk = tile_pad_of(k, ik, tk);
    double q = quantization(chip, m_tm, n_tn, pk, cnt);
    if (q >= 1.0)
        return 1.0;
    if (tm != tn) {
        double qt = quantization(chip, tile_pad_of(m, im, tn), tile_pad_of(n, in, tm), pk, cnt);
        if (qt > q)
            q = qt;
    }
    double hm = tm >= tn ? tm / 2.0 : tm, hn = tm >= tn ? tn : tn / 2.0;
    hm = hm >= 1.0 ? hm : 1.0;
    hn = hn >= 1.0 ? hn : 1.0;
    struct tile_pad m_hm = hm == tm ? m_tm : tile_pad_of(m, im, hm);
    struct tile_pad n_hn = hn == tn ? n_tn : tile_pad_of(n, in, hn);
    double qh = quantization(chip, m_hm, n_hn, pk, cnt);
    if (qh > q)
        q = qh;
    return q > 0.0 ? q : 1.0;
}

/* Time of `flop` FLOPs of GEMMs of shape m x n x k at the quantized efficiency; base is the
 * dtype's large-GEMM efficiency. */
static double gemm_s(const struct spec_system *sys, double peak, double base, double flop, double m,
                     double n, double k, double count)
{
    if (flop <= 0.0)
        return 0.0;
    double eff = base * estimate_gemm_quantization(&sys->chip, m, n, k, count);
    if (peak <= 0.0 || eff <= 0.0)
        return HUGE_VAL;
    return flop / (peak * eff);
}

static double hbm_s(const struct spec_system *sys, double bytes)
{
    if (bytes <= 0.0)
        return 0.0;
    double bw = sys->chip.hbm_Bps * sys->eff.memory;
    return bw > 0.0 ? bytes / bw : HUGE_VAL;
}

double estimate_op_time_s(const struct spec_system *sys, enum us_dtype dt,
                          const struct model_op *op, bool backward)
{
    const struct spec_chip *chip = &sys->chip;
    double flop = backward ? op->bwd_flop : op->fwd_flop;
    double bytes = backward ? op->bwd_B : op->fwd_B;
    double math_s = 0.0;
    switch (op->kind) {
    case MODEL_OP_GEMM: {
        /* Transformer Engine's fp8 (and fp4) recipes keep the output layer and the MoE
         * router in bf16 (NVIDIA TE docs, "Using FP8 with Transformer Engine": only the
         * linear layers inside fp8_autocast; Megatron-Core builds the output layer and the
         * router outside it). */
        enum us_dtype gd = op->high_precision ? estimate_attn_dtype(dt) : dt;
        double peak = estimate_peak_gemm_flops(chip, gd);
        double base = estimate_gemm_base_eff(sys, gd);
        if (op->grouped)
            base *=
                estimate_grouped_gemm_factor_r0(estimate_grouped_rows(chip, op), op->group_rows0);
        if (!backward) {
            math_s = gemm_s(sys, peak, base, flop, op->m, op->n, op->k, op->count);
        } else {
            /* Y[m,n] = X[m,k] W[k,n]: the backward is dX[m,k] = dY W^T (inner n) and
             * dW[k,n] = X^T dY (inner m), each half of the backward FLOPs. */
            math_s = gemm_s(sys, peak, base, 0.5 * flop, op->m, op->k, op->n, op->count) +
                     gemm_s(sys, peak, base, 0.5 * flop, op->k, op->n, op->m, op->count);
        }
        break;
    }
    case MODEL_OP_ATTN: {
        double peak = estimate_peak_attn_flops(chip, dt);
        double eff = sys->eff.attention;
        if (flop > 0.0)
            math_s = (peak > 0.0 && eff > 0.0) ? flop / (peak * eff) : HUGE_VAL;
        break;
    }
    case MODEL_OP_MEM:
    default: {
        double vf = vector_flops(chip);
        if (flop > 0.0)
            math_s = vf > 0.0 ? flop / vf : HUGE_VAL;
        break;
    }
    }
    double mem_s = hbm_s(sys, bytes);
    return math_s > mem_s ? math_s : mem_s;
}
