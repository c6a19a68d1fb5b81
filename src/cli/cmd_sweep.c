/* cli: sweep - a grid of overrides into SQLite. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static void progress(void *user, long long done, long long total)
{
    (void)user;
    fprintf(stderr, "\rsweep %lld / %lld", done, total);
    if (done >= total)
        fputc('\n', stderr);
    fflush(stderr);
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
        } else if (cli_positional(cmd, argv[i], &path, "sweep file") != 0) {
            return 2;
        }
    }
    if (!path)
        return cli_usage(cmd, "no sweep file given");
    if (!out)
        return cli_usage(cmd, "--out results.db is required");
    if (isatty(STDERR_FILENO))
        opt.progress = progress;
    struct us_ctx *ctx = us_ctx_create();
    if (!ctx)
        return cli_fail(3, "out of memory");
    struct us_sweep_summary sum;
    struct us_diag d;
    enum us_status st = us_sweep(ctx, path, out, &opt, &sum, &d);
    us_ctx_destroy(ctx);
    if (st != US_OK)
        return cli_diag(&d);
    if (sum.rank == 0)
        printf("%lld points on %d rank%s: %lld ok, %lld infeasible, %lld errors -> %s\n",
               sum.points, sum.ranks, sum.ranks == 1 ? "" : "s", sum.ok, sum.infeasible, sum.errors,
               out);
    return 0;
}
