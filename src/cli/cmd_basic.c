/* cli: run, list and show. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_opt(const char *cmd, int argc, char **argv, int *i, const char *name, const char **val)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *val = a + n + 1;
        return 1;
    }
    if (a[n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        cli_usage(cmd, "%s needs a value", name);
        return -1;
    }
    *val = argv[++*i];
    return 1;
}

int cli_positional(const char *cmd, const char *arg, const char **slot, const char *what)
{
    if (arg[0] == '-' && arg[1] != '\0')
        return cli_usage(cmd, "unknown option '%s'", arg);
    if (*slot)
        return cli_usage(cmd, "one %s only (got '%s' and '%s')", what, *slot, arg);
    *slot = arg;
    return 0;
}

int cli_real_opt(const char *cmd, int argc, char **argv, int *i, const char *name, double lo,
                 double hi, const char *unit, double *out)
{
    const char *v;
    int m = cli_opt(cmd, argc, argv, i, name, &v);
    if (m <= 0)
        return m;
    if (!cli_real(v, lo, hi, out)) {
        cli_usage(cmd, "%s must be %s in %g..%g, not '%s'", name, unit, lo, hi, v);
        return -1;
    }
    return 1;
}

int cli_set_opt(const char *cmd, int argc, char **argv, int *i, struct cli_sets *s)
{
    const char *v;
    int m = cli_opt(cmd, argc, argv, i, "--set", &v);
    if (m <= 0)
        return m;
    if (s->n >= CLI_MAX_SETS) {
        cli_usage(cmd, "at most %d --set options", CLI_MAX_SETS);
        return -1;
    }
    if (!strchr(v, '=')) {
        cli_usage(cmd, "--set takes key=value, got '%s'", v);
        return -1;
    }
    s->v[s->n++] = v;
    return 1;
}

int cmd_run(int argc, char **argv)
{
    const char *cmd = "run", *job_path = NULL, *trace = NULL;
    enum us_format fmt = US_FORMAT_TABLE;
    struct cli_sets sets = {{0}, 0};
    struct us_run_options opt = {0};
    for (int i = 1; i < argc; i++) {
        int m;
        if ((m = cli_set_opt(cmd, argc, argv, &i, &sets)) != 0 ||
            (m = cli_format_opt(cmd, argc, argv, &i, &fmt)) != 0) {
            if (m < 0)
                return 2;
        } else if ((m = cli_opt(cmd, argc, argv, &i, "--trace", &trace)) != 0) {
            if (m < 0)
                return 2;
        } else if (strcmp(argv[i], "--closed-form") == 0) {
            opt.closed_form_only = true;
        } else if (strcmp(argv[i], "--force") == 0) {
            opt.trace_force = true;
        } else if (cli_positional(cmd, argv[i], &job_path, "job file") != 0) {
            return 2;
        }
    }
    if (!job_path)
        return cli_usage(cmd, "no job file given");
    if (trace && opt.closed_form_only)
        return cli_usage(cmd, "--trace needs the event simulator; drop --closed-form");
    opt.trace_path = trace;

    struct us_ctx *ctx = us_ctx_create();
    struct us_diag d;
    struct us_job *job = NULL;
    int rc;
    if (!ctx)
        return cli_fail(3, "out of memory");
    enum us_status st = us_job_load(ctx, job_path, sets.v, sets.n, &job, &d);
    if (st != US_OK) {
        rc = cli_diag(&d);
        goto out;
    }
    struct us_result r;
    st = us_run(ctx, job, &opt, &r, &d);
    if (st != US_OK && st != US_INFEASIBLE) {
        rc = cli_diag(&d);
        goto out;
    }
    us_result_write(&r, job, fmt, stdout);
    rc = (int)st;
    if (st == US_INFEASIBLE)
        cli_fail(1, "infeasible: %s", r.reason);
out:
    us_job_destroy(job);
    us_ctx_destroy(ctx);
    return rc;
}

int cmd_list(int argc, char **argv)
{
    const char *cmd = "list";
    if (argc != 2)
        return cli_usage(cmd, "say 'list systems' or 'list models'");
    enum us_kind kind;
    if (strcmp(argv[1], "systems") == 0)
        kind = US_KIND_SYSTEM;
    else if (strcmp(argv[1], "models") == 0)
        kind = US_KIND_MODEL;
    else
        return cli_usage(cmd, "say 'list systems' or 'list models', not '%s'", argv[1]);
    size_t n = us_catalog_count(kind);
    for (size_t i = 0; i < n; i++) {
        char desc[256];
        if (!us_catalog_describe(kind, i, desc, sizeof desc))
            snprintf(desc, sizeof desc, "(preset does not parse: run 'ultrasim show %s')",
                     us_catalog_name(kind, i));
        printf("%-18s %s\n", us_catalog_name(kind, i), desc);
    }
    return 0;
}

int cmd_show(int argc, char **argv)
{
    const char *cmd = "show", *name = NULL, *v;
    enum us_format fmt = US_FORMAT_TABLE;
    long long seq = 0;
    for (int i = 1; i < argc; i++) {
        int m;
        if ((m = cli_format_opt(cmd, argc, argv, &i, &fmt)) != 0) {
            if (m < 0)
                return 2;
            if (fmt == US_FORMAT_CSV)
                return cli_usage(cmd, "--format must be table or json");
        } else if ((m = cli_opt(cmd, argc, argv, &i, "--seq", &v)) != 0) {
            if (m < 0)
                return 2;
            if (!cli_int(v, 1, 1 << 24, &seq))
                return cli_usage(cmd, "--seq must be an integer in 1..16777216, not '%s'", v);
        } else if (cli_positional(cmd, argv[i], &name, "name or file") != 0) {
            return 2;
        }
    }
    if (!name)
        return cli_usage(cmd, "give a preset name or a file (see 'ultrasim list systems')");
    struct us_ctx *ctx = us_ctx_create();
    struct us_diag d;
    if (!ctx)
        return cli_fail(3, "out of memory");
    enum us_status st = us_show(ctx, name, fmt, (int)seq, stdout, &d);
    us_ctx_destroy(ctx);
    return st == US_OK ? 0 : cli_diag(&d);
}
