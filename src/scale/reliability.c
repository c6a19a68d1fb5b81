/* scale/reliability: the optimal checkpoint interval (Young 1974, Daly 2006), Daly's
 * complete model of wall time under Poisson failures, and the Poisson tail used to size
 * hot spares. Pure functions of their arguments, safe for any input (never NaN).
 * Not here: where checkpoint and restart times come from (scale.c). */
#include <math.h>

#include "scale/scale.h"

double scale_young_interval_s(double ckpt_s, double mtbf_s)
{
    /* J. W. Young, "A first order approximation to the optimum checkpoint interval",
     * CACM 17(9):530-531, 1974: T_c = sqrt(2 T_s M), first order in T_s / M. */
    if (!(ckpt_s > 0.0) || !(mtbf_s > 0.0))
        return 0.0;
    return sqrt(2.0 * ckpt_s * mtbf_s);
}

double scale_daly_interval_s(double ckpt_s, double mtbf_s)
{
    /* J. T. Daly, "A higher order estimate of the optimum checkpoint interval for restart
     * dumps", Future Generation Computer Systems 22(3):303-312, 2006: the perturbation
     * solution of his complete model,
     *   tau = sqrt(2 d M) [1 + (1/3) sqrt(d / 2M) + (1/9) (d / 2M)] - d   for d < 2M,
     *   tau = M                                                           for d >= 2M.
     * It reproduces the paper's worked cases (M = 24 h, 6 h, 15 min with d = 5 min give
     * 117, 57 and 9.1 min), which tests/unit/test_scale.c checks. */
    if (!(mtbf_s > 0.0))
        return 0.0;
    if (!(ckpt_s > 0.0))
        return 0.0;
    if (ckpt_s >= 2.0 * mtbf_s)
        return mtbf_s;
    double x = ckpt_s / (2.0 * mtbf_s);
    return sqrt(2.0 * ckpt_s * mtbf_s) * (1.0 + sqrt(x) / 3.0 + x / 9.0) - ckpt_s;
}

double scale_goodput(double interval_s, double ckpt_s, double restart_s, double mtbf_s)
{
    return scale_goodput_at(interval_s, ckpt_s, mtbf_s, scale_goodput_ln0(restart_s, mtbf_s));
}

double scale_goodput_ln0(double restart_s, double mtbf_s)
{
    double R = fmax(restart_s, 0.0);
    return mtbf_s > 0.0 ? R / mtbf_s + log(mtbf_s) : 0.0;
}

double scale_goodput_at(double interval_s, double ckpt_s, double mtbf_s, double ln0)
{
    /* Daly (2006), the complete model: with exponential failures of mean M that may also
     * strike during checkpoints and restarts, the wall time to finish T_s of work is
     *   T_w = M e^(R/M) (e^((tau + d)/M) - 1) T_s / tau,
     * so goodput = T_s / T_w. Worked in logs so that R >> M underflows to 0 instead of
     * overflowing: ln0 = R/M + ln M, the part without tau. */
    double d = fmax(ckpt_s, 0.0);
    if (!(mtbf_s > 0.0)) /* never fails */
        return interval_s > 0.0 ? interval_s / (interval_s + d) : 1.0;
    if (!(interval_s > 0.0))
        return 0.0;
    double ln_wall_over_useful = ln0 + log(expm1((interval_s + d) / mtbf_s)) - log(interval_s);
    if (!(ln_wall_over_useful > 0.0)) /* rounding at tiny overheads; also NaN-proof */
        return 1.0;
    return exp(-ln_wall_over_useful);
}

static double poisson_ln_pmf(double mean, double i)
{
    return -mean + i * log(mean) - lgamma(i + 1.0);
}

double scale_poisson_tail(double mean, int64_t k)
{
    /* P(N >= k), N ~ Poisson(mean). The terms fall away from the mode on either side, so
     * sum the short side: from k upwards when k > mean, else 1 - the sum below k. One
     * exp/lgamma for the first term, then the ratio p(i+1) / p(i) = mean / (i + 1); each
     * sum stops once a term no longer changes it (about 9 sqrt(mean) terms at worst). */
    if (k <= 0)
        return 1.0;
    if (!(mean > 0.0))
        return 0.0;
    double kd = (double)k, sum = 0.0;
    if (kd > mean) {
        double t = exp(poisson_ln_pmf(mean, kd));
        for (double i = kd; t > 0.0 && i < kd + 1e7; i += 1.0) {
            sum += t;
            if (t <= sum * 1e-17)
                break;
            t *= mean / (i + 1.0);
        }
        return fmin(sum, 1.0);
    }
    double t = exp(poisson_ln_pmf(mean, kd - 1.0));
    for (double i = kd - 1.0; t > 0.0 && i >= 0.0; i -= 1.0) {
        sum += t;
        if (t <= sum * 1e-17)
            break;
        t *= i / mean;
    }
    return fmax(0.0, fmin(1.0, 1.0 - sum));
}
