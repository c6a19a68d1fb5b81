/* cli: the ultrasim command line. Dispatches to one function per subcommand; every error
 * is one line "ultrasim: (N) ..." on stderr with exit code N (1 infeasible, 2 bad input,
 * 3 out of memory, 4 an output not written). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage_text[] =
    "usage: ultrasim COMMAND [ARGS]\n"
    "\n"
    "Predicts the step time, memory, energy, cost and goodput of training a transformer\n"
    "on an accelerator cluster, and searches for the best parallel layout.\n"
    "\n"
    "commands:\n"
    "  run JOB.yaml [--set k=v]... [--format table|json|csv|html] [--trace FILE [--force]]\n"
    "        [--closed-form]\n"
    "        predict one training step (with its power over the step and energy per\n"
    "        token) and, with training.tokens, the whole run; --trace writes a Chrome trace\n"
    "        with a facility power track (at most 64 MiB), replacing only an earlier trace\n"
    "        unless --force\n"
    "  search JOB.yaml [--set k=v]... [--objective time|cost|energy] [--top K] [--threads N]\n"
    "        [--chips N,N,...] [--deadline DAYS] [--budget USD] [--pareto] [--closed-form]\n"
    "        [--format table|json|csv|html]\n"
    "        find the best parallel layout (the best max(K, 16) are refined by the event\n"
    "        simulator unless --closed-form; the K best of those are listed)\n"
    "  compare JOB.yaml --systems a,b,... [--set k=v]... [--budget USD] [--deadline DAYS]\n"
    "        [--objective time|cost|energy] [--format table|json|csv|html]\n"
    "        the same job on several systems, at equal chip count and at equal hourly spend\n"
    "        (there, per system, the chip count at or under the first system's $/hour that\n"
    "        is best for the objective), with tokens per kWh and their ratio against\n"
    "        vendors' efficiency claims; run's notes under each comparison\n"
    "  scale JOB.yaml [--systems a,b,...] [--chips LO..HI|N,N,...] [--batch B,B,...]\n"
    "        [--set k=v]... [--threads N] [--format table|json|csv|html]\n"
    "        scaling curves: the best layout at each chip count (default 8K..1M, powers of\n"
    "        two; K = 1024, M = 1048576) with time to train, cost, energy, MFU, goodput and\n"
    "        tokens per chip, the knee (doubling past it cuts time to train by < 25%), per\n"
    "        global batch (sequences), beside the largest batch published practice supports\n"
    "  plan SCENARIO.yaml [--deadline DAYS] [--delay SYSTEM:DAYS]\n"
    "        [--price-shock SYSTEM:FACTOR[@DAY]] [--set k=v]...\n"
    "        [--format table|json|csv|html]\n"
    "        supply and price scenarios (deliveries, prices, power caps per system): the\n"
    "        earliest finish, the cheapest plan meeting the deadline, what a delay or a\n"
    "        price shock on one vendor does to both (docs/SPEC.md, Scenario)\n"
    "  sweep SWEEP.yaml --out results.db [--threads N] [--force]\n"
    "        every point of a grid of overrides, into SQLite (MPI-distributed when built\n"
    "        with MPI); a rerun resumes, skipping points already written; --out is replaced\n"
    "        only when it holds this same sweep, unless --force\n"
    "  collective --system S --op OP --bytes N[K|M|G] --chips N [--group N]\n"
    "        [--span tp|cp|ep|dp|pp|all|stride=K] [--format table|json|csv]\n"
    "        one collective, nccl-tests style (OP: all_reduce all_gather reduce_scatter\n"
    "        all_to_all broadcast p2p)\n"
    "  validate [FILE] [--cv chip_family|software|model_family] [--format table|json|csv]\n"
    "        predicted vs measured step times (default: the built-in calibration set,\n"
    "        data/calibration/published.yaml, 138 published runs); --cv: leave-one-group-\n"
    "        out cross-validation beside a naive constant-MFU baseline\n"
    "  list systems|models [--format table|json|csv]\n"
    "  show NAME|FILE [--format table|json|csv] [--seq N]\n"
    "        a system with the source of each number, or a model with its costs\n"
    "\n"
    "--format html writes one self-contained HTML report to stdout (inline SVG charts, no\n"
    "script, prints to PDF): run, search, compare, scale and plan.\n"
    "\n"
    "Exit codes: 0 ok; 1 the plan is infeasible (sweep: a point failed); 2 bad input or\n"
    "usage (including an output file it refuses to replace); 3 out of memory; 4 an output\n"
    "could not be written (disk full, standard output closed).\n"
    "Docs: README.md, docs/SPEC.md (file formats), docs/MODEL.md (every equation).\n";

int cli_fail(int code, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "ultrasim: (%d) ", code);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "ultrasim: (2) %s%s", cmd ? cmd : "", cmd ? ": " : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (try 'ultrasim --help')\n");
    return 2;
}

int cli_diag(const struct us_diag *d)
{
    char line[1536];
    us_diag_format(d, line, sizeof line);
    int code = d->status ? (int)d->status : 2;
    return cli_fail(code, "%s", line);
}

int cli_format(const char *cmd, const char *s, enum us_format *out)
{
    if (strcmp(s, "table") == 0)
        *out = US_FORMAT_TABLE;
    else if (strcmp(s, "json") == 0)
        *out = US_FORMAT_JSON;
    else if (strcmp(s, "csv") == 0)
        *out = US_FORMAT_CSV;
    else
        return cli_usage(cmd, "--format must be table, json or csv, not '%s'", s), -1;
    return 0;
}

int cli_format_opt(const char *cmd, int argc, char **argv, int *i, enum us_format *fmt)
{
    const char *v;
    int m = cli_opt(cmd, argc, argv, i, "--format", &v);
    if (m <= 0)
        return m;
    return cli_format(cmd, v, fmt) < 0 ? -1 : 1;
}

bool cli_int(const char *s, long long lo, long long hi, long long *out)
{
    if (!s || !*s)
        return false;
    for (const char *p = (*s == '-') ? s + 1 : s; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

bool cli_real(const char *s, double lo, double hi, double *out)
{
    if (!s || !*s)
        return false;
    for (const char *p = s; *p; p++)
        if (!strchr("0123456789.eE-+", *p))
            return false;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v) || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

struct command {
    const char *name;
    int (*fn)(int, char **);
};

static const struct command commands[] = {
    /* clang-format off */
    {"run", cmd_run},
    {"search", cmd_search},
    {"compare", cmd_compare},
    {"scale", cmd_scale},
    {"plan", cmd_plan},
    {"sweep", cmd_sweep},
    {"collective", cmd_collective},
    {"validate", cmd_validate},
    {"list", cmd_list},
    {"show", cmd_show},
    /* clang-format on */
};

/* Standard output is buffered: a full disk or a closed pipe shows only when it is flushed.
 * A result that was not written is not a success (exit 4). */
static int finish(int rc)
{
    errno = 0;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        int e = errno;
        cli_fail(4, "cannot write standard output: %s", e ? strerror(e) : "write error");
        return 4;
    }
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage(NULL, "no command given");
    const char *c = argv[1];
    if (strcmp(c, "--help") == 0 || strcmp(c, "-h") == 0 || strcmp(c, "help") == 0) {
        fputs(usage_text, stdout);
        return finish(0);
    }
    if (strcmp(c, "--version") == 0) {
        printf("ultrasim %s\n", US_VERSION);
        return finish(0);
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, c) == 0)
            return finish(commands[i].fn(argc - 1, argv + 1));
    return cli_usage(NULL, "unknown command '%s'", c);
}
