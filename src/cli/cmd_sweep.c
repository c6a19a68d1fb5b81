/* cli: sweep - a grid of overrides into SQLite. Started by mpirun (when built with MPI) the
 * ranks share the points: MPI is started and finished here, not in the library. Exit codes:
 * 0 every point ran (some may be infeasible), 1 a point failed with an error, 2 the sweep,
 * its base job or --out is refused, 3 out of memory, 4 a database could not be written. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef US_HAVE_MPI
#include <mpi.h>
#endif

#include "cli.h"

struct progress_state {
    double t0, last;      /* seconds (monotonic) at the start and at the last print */
    long long first_done; /* points already done at the start (resumed) */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* "sweep 1200 / 3200 points, 85.2/s, ETA 23 s" on one line, at most 10 times a second. */
static void progress(void *user, long long done, long long total)
{
    struct progress_state *p = user;
    double t = now_s();
    if (p->t0 == 0.0) {
        p->t0 = t;
        p->first_done = done;
    }
    if (done < total && t - p->last < 0.1)
        return;
    p->last = t;
    double rate = t > p->t0 ? (double)(done - p->first_done) / (t - p->t0) : 0.0;
    fprintf(stderr, "\rsweep %lld / %lld points", done, total);
    if (rate > 0.0) {
        double eta = (double)(total - done) / rate;
        fprintf(stderr, ", %.1f/s, ETA %.0f s   ", rate, eta);
    }
    if (done >= total)
        fputc('\n', stderr);
    fflush(stderr);
}

#ifdef US_HAVE_MPI
static int mpi_all_ok(void *user, int ok)
{
    (void)user;
    int all = 0;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    return all;
}
#endif

static int sweep_main(const char *path, const char *out, struct us_sweep_options *opt)
{
    struct us_ctx *ctx = us_ctx_create();
    if (!ctx)
        return cli_fail(3, "out of memory");
    struct us_sweep_summary sum;
    struct us_diag d;
    enum us_status st = us_sweep(ctx, path, out, opt, &sum, &d);
    us_ctx_destroy(ctx);
    if (st != US_OK)
        return cli_diag(&d);
    if (sum.rank != 0)
        return 0;
    printf("%lld points on %d rank%s: %lld ok, %lld infeasible, %lld errors", sum.points, sum.ranks,
           sum.ranks == 1 ? "" : "s", sum.ok, sum.infeasible, sum.errors);
    if (sum.resumed > 0)
        printf(" (%lld already done)", sum.resumed);
    printf(" -> %s\n", out);
    if (sum.errors > 0)
        return cli_fail(1,
                        "%lld of %lld points failed; their rows hold the reason (status = "
                        "'error')",
                        sum.errors, sum.points);
    return 0;
}

int cmd_sweep(int argc, char **argv)
{
    const char *cmd = "sweep", *path = NULL, *out = NULL, *v;
    struct us_sweep_options opt = {0};
    long long iv;
    for (int i = 1; i < argc; i++) {
        int m;
        if ((m = cli_opt(cmd, argc, argv, &i, "--out", &out)) != 0) {
            if (m < 0)
                return 2;
        } else if ((m = cli_opt(cmd, argc, argv, &i, "--threads", &v)) != 0) {
            if (m < 0 || !cli_int(v, 1, 256, &iv))
                return m < 0 ? 2 : cli_usage(cmd, "--threads must be 1..256, not '%s'", v);
            opt.threads = (int)iv;
        } else if (strcmp(argv[i], "--force") == 0) {
            opt.force = true;
        } else if (cli_positional(cmd, argv[i], &path, "sweep file") != 0) {
            return 2;
        }
    }
    if (!path)
        return cli_usage(cmd, "no sweep file given");
    if (!out)
        return cli_usage(cmd, "--out results.db is required");
    struct progress_state ps = {0};
    if (isatty(STDERR_FILENO)) {
        opt.progress = progress;
        opt.progress_user = &ps;
    }
#ifdef US_HAVE_MPI
    int inited = 0, we_inited = 0;
    MPI_Initialized(&inited);
    if (!inited) {
        MPI_Init(NULL, NULL);
        we_inited = 1;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &opt.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &opt.ranks);
    opt.all_ok = mpi_all_ok;
    if (opt.rank != 0)
        opt.progress = NULL; /* one progress line, rank 0's */
    int rc = sweep_main(path, out, &opt);
    if (we_inited)
        MPI_Finalize();
    return rc;
#else
    return sweep_main(path, out, &opt);
#endif
}
