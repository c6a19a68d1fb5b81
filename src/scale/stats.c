/* scale/stats: seeded random streams, the normal CDF and quantile, and the expected
 * maximum of R normals that sets the straggler slowdown of a synchronous step.
 * Closed forms for the model; a Monte Carlo with its own seed checks them.
 * Not here: which R to use or how big cv is (scale.c, docs/MODEL.md 7.5). */
#include <math.h>

#include "scale/scale.h"

#define SQRT2       1.41421356237309504880
#define SQRT2PI     2.50662827463100050242
#define PI          3.14159265358979323846
#define EULER_GAMMA 0.57721566490153286061

/* --- random streams: xoshiro256** seeded by splitmix64 (Blackman and Vigna, "Scrambled
 * linear pseudorandom number generators", 2018; reference code at prng.di.unimi.it) --- */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint64_t rotl64(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void scale_rng_seed(struct scale_rng *g, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        g->s[i] = splitmix64(&x);
}

uint64_t scale_rng_u64(struct scale_rng *g)
{
    uint64_t *s = g->s;
    uint64_t result = rotl64(s[1] * 5u, 7) * 9u;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl64(s[3], 45);
    return result;
}

double scale_rng_uniform(struct scale_rng *g)
{
    /* 53 random bits, offset by half a step: strictly inside (0, 1). */
    return ((double)(scale_rng_u64(g) >> 11) + 0.5) * 0x1.0p-53;
}

double scale_rng_normal(struct scale_rng *g)
{
    /* Marsaglia and Bray (1964), the polar method; the second variate is dropped so the
     * stream has no hidden state beyond g. */
    double u, v, s;
    do {
        u = 2.0 * scale_rng_uniform(g) - 1.0;
        v = 2.0 * scale_rng_uniform(g) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    return u * sqrt(-2.0 * log(s) / s);
}

/* --- the normal distribution --- */
double scale_norm_cdf(double x)
{
    return 0.5 * erfc(-x / SQRT2);
}

/* Quantile for 0 < p <= 0.5. P. J. Acklam, "An algorithm for computing the inverse normal
 * cumulative distribution function" (2003): rational approximations with relative error
 * below 1.15e-9, then one Halley step on erfc, which brings it to machine precision. */
static double ppf_lower(double p)
{
    static const double a[6] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                -2.759285104469687e+02, 1.383577518672690e+02,
                                -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[5] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                -1.556989798598866e+02, 6.680131188771972e+01,
                                -1.328068155288572e+01};
    static const double c[6] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                -2.400758277161838e+00, -2.549732539343734e+00,
                                4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[4] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                                3.754408661907416e+00};
    const double p_low = 0.02425;
    double x;
    if (p < p_low) {
        double q = sqrt(-2.0 * log(p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
    } else {
        double q = p - 0.5, r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0);
    }
    double e = scale_norm_cdf(x) - p;
    double u = e * SQRT2PI * exp(0.5 * x * x);
    return x - u / (1.0 + 0.5 * x * u);
}

double scale_norm_ppf(double p)
{
    if (!(p > 1e-300)) /* also catches NaN */
        p = 1e-300;
    if (p >= 1.0)
        p = 1.0 - 0x1.0p-53;
    if (p <= 0.5)
        return ppf_lower(p);
    return -ppf_lower(1.0 - p); /* exact: 1 - p has no rounding for p >= 0.5 */
}

/* --- the expected maximum of R standard normals --- */
double scale_normal_max_mean(int64_t R)
{
    /* G. Blom, "Statistical Estimates and Transformed Beta-Variables" (1958): the i-th of n
     * order statistics has mean ~ Phi^-1((i - a) / (n - 2a + 1)) with a = 0.375. For the
     * maximum (i = n) the upper tail is (1 - a) / (n - 2a + 1) = 0.625 / (n + 0.25).
     * Against the exact integral it is within 0.03 sigma for every n (docs/MODEL.md 7.5). */
    if (R <= 1)
        return 0.0;
    double q = 0.625 / ((double)R + 0.25);
    return -scale_norm_ppf(q);
}

double scale_normal_max_gumbel(int64_t R)
{
    /* H. Cramer, "Mathematical Methods of Statistics" (1946), 28.6: the maximum of n normals
     * tends to a Gumbel law with location a_n = sqrt(2 ln n) - (ln ln n + ln 4 pi) /
     * (2 sqrt(2 ln n)) and scale b_n = 1 / sqrt(2 ln n); its mean is a_n + gamma b_n.
     * Good for large n (0.01 sigma at n = 1e6), 0.18 sigma high at n = 2. */
    if (R <= 1)
        return 0.0;
    double ln_n = log((double)R);
    double s = sqrt(2.0 * ln_n);
    double a = s - (log(ln_n) + log(4.0 * PI)) / (2.0 * s);
    return a + EULER_GAMMA / s;
}

double scale_straggler_factor(double cv, int64_t R)
{
    if (!(cv > 0.0) || R <= 1)
        return 1.0;
    return 1.0 + cv * scale_normal_max_mean(R);
}

double scale_straggler_factor_mc(double cv, int64_t R, int samples, uint64_t seed, double *se)
{
    if (se)
        *se = 0.0;
    if (!(cv > 0.0) || R <= 1 || samples <= 0)
        return 1.0;
    struct scale_rng g;
    scale_rng_seed(&g, seed);
    double n = (double)R, sum = 0.0, sum2 = 0.0;
    for (int i = 0; i < samples; i++) {
        /* The maximum M of R normals has CDF Phi(x)^R, so M = Phi^-1(U^(1/R)) exactly.
         * Its upper tail 1 - U^(1/R) = -expm1(ln U / R) keeps full precision at large R. */
        double y = log(scale_rng_uniform(&g)) / n;
        double q = -expm1(y);
        double z = q < 0.5 ? -scale_norm_ppf(q) : scale_norm_ppf(exp(y));
        sum += z;
        sum2 += z * z;
    }
    double mean = sum / (double)samples;
    if (se && samples > 1) {
        double var = (sum2 - (double)samples * mean * mean) / (double)(samples - 1);
        *se = cv * sqrt(fmax(var, 0.0) / (double)samples);
    }
    return 1.0 + cv * mean;
}
