/* A tiny test harness: CHECK records a failure with file:line and goes on;
 * test_summary prints "N passed, N failed" and returns the exit status. */
#ifndef US_TEST_H
#define US_TEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int test_pass_count, test_fail_count;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) {                                                                                \
            test_pass_count++;                                                                     \
        } else {                                                                                   \
            test_fail_count++;                                                                     \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

/* |got - want| <= rel * |want| (or <= rel when want is 0) */
#define CHECK_NEAR(got, want, rel)                                                                 \
    do {                                                                                           \
        double g_ = (double)(got), w_ = (double)(want), r_ = (double)(rel);                        \
        double tol_ = w_ != 0.0 ? r_ * fabs(w_) : r_;                                              \
        if (fabs(g_ - w_) <= tol_ && isfinite(g_)) {                                               \
            test_pass_count++;                                                                     \
        } else {                                                                                   \
            test_fail_count++;                                                                     \
            fprintf(stderr, "%s:%d: %s = %.9g, want %.9g (rel tol %g)\n", __FILE__, __LINE__,      \
                    #got, g_, w_, r_);                                                             \
        }                                                                                          \
    } while (0)

#define CHECK_STR(got, want)                                                                       \
    do {                                                                                           \
        const char *g_ = (got), *w_ = (want);                                                      \
        if (g_ && strcmp(g_, w_) == 0) {                                                           \
            test_pass_count++;                                                                     \
        } else {                                                                                   \
            test_fail_count++;                                                                     \
            fprintf(stderr, "%s:%d: %s = \"%s\", want \"%s\"\n", __FILE__, __LINE__, #got,         \
                    g_ ? g_ : "(null)", w_);                                                       \
        }                                                                                          \
    } while (0)

static inline int test_summary(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, test_pass_count, test_fail_count);
    return test_fail_count ? 1 : 0;
}

#endif
