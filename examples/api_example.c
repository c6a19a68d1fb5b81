/* Embedding ultrasim as a library: load a job, override a field, run it, and read the
 * result - the tour at the top of include/ultrasim.h, compiled and run by ctest
 * (tests/CMakeLists.txt) so it stays true. Usage: api_example JOB.yaml */
#include <stdio.h>

#include "ultrasim.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: api_example JOB.yaml\n");
        return 2;
    }
    struct us_ctx *ctx = us_ctx_create();
    struct us_diag d;
    struct us_job *job = NULL;
    const char *sets[] = {"parallel.pp=16"};
    if (!ctx)
        return 3;
    if (us_job_load(ctx, argv[1], sets, 1, &job, &d) != US_OK) {
        char line[1024];
        us_diag_format(&d, line, sizeof line);
        fprintf(stderr, "%s\n", line);
        us_ctx_destroy(ctx);
        return 2;
    }
    struct us_result r;
    enum us_status st = us_run(ctx, job, NULL, &r, &d);
    if (st == US_OK || st == US_INFEASIBLE)
        printf("%s on %d chips: %.3f s/step, MFU %.1f%%, %.1f GiB peak, fits %s\n",
               us_job_model_name(job), r.nchips, r.step_time_s, 100 * r.mfu,
               r.memory.peak_B / 1073741824.0, r.fits ? "yes" : "no");
    us_job_destroy(job);
    us_ctx_destroy(ctx);
    return (int)st;
}
