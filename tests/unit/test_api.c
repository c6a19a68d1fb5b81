/* The public API as an embedder uses it (include/ultrasim.h only): status names, traces
 * that are bounded and never replace a foreign file, and two sweeps in one process (the
 * library starts no MPI of its own). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "ultrasim.h"

static const char *job_path = "examples/llama3-405b-h100.yaml";

static void test_status_names(void)
{
    CHECK_STR(us_status_name(US_OK), "ok");
    CHECK_STR(us_status_name(US_INFEASIBLE), "infeasible");
    CHECK_STR(us_status_name(US_EINPUT), "bad input");
    CHECK_STR(us_status_name(US_ENOMEM), "out of memory");
    CHECK_STR(us_status_name(US_EIO), "write error");
    CHECK_STR(us_status_name((enum us_status)99), "unknown");
}

static long file_size(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

static void write_text(const char *p, const char *text)
{
    FILE *f = fopen(p, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_trace_files(const char *dir)
{
    struct us_ctx *ctx = us_ctx_create();
    struct us_job *job = NULL;
    struct us_diag d;
    CHECK(us_job_load(ctx, job_path, NULL, 0, &job, &d) == US_OK);
    char path[512];
    snprintf(path, sizeof path, "%s/trace.json", dir);
    struct us_result r;
    struct us_run_options opt = {.trace_path = path, .threads = 1};
    /* a limit below the trace's size: refused, nothing written */
    opt.trace_max_B = 100000;
    CHECK(us_run(ctx, job, &opt, &r, &d) == US_EINPUT);
    CHECK(strstr(d.msg, "the trace would be over") != NULL);
    CHECK(file_size(path) < 0);
    /* the default limit: written */
    opt.trace_max_B = 0;
    CHECK(us_run(ctx, job, &opt, &r, &d) == US_OK);
    long n = file_size(path);
    CHECK(n > 100000 && n < (long)US_TRACE_MAX_B);
    /* over an earlier trace: replaced */
    CHECK(us_run(ctx, job, &opt, &r, &d) == US_OK);
    CHECK(file_size(path) == n);
    /* over a file of another kind: refused unless trace_force */
    write_text(path, "model: keep-me\n");
    CHECK(us_run(ctx, job, &opt, &r, &d) == US_EINPUT);
    CHECK(strstr(d.msg, "refusing to replace it") != NULL);
    CHECK(file_size(path) == 15);
    opt.trace_force = true;
    CHECK(us_run(ctx, job, &opt, &r, &d) == US_OK);
    CHECK(file_size(path) == n);
    /* never over something that is not a regular file, even with trace_force */
    char link[600];
    snprintf(link, sizeof link, "%s/link.json", dir);
    CHECK(symlink("trace.json", link) == 0);
    opt.trace_path = link;
    CHECK(us_run(ctx, job, &opt, &r, &d) == US_EINPUT);
    CHECK(strstr(d.msg, "not a regular file") != NULL);
    opt.trace_path = "/dev/null";
    CHECK(us_run(ctx, job, &opt, &r, &d) == US_EINPUT);
    remove(link);
    remove(path);
    us_job_destroy(job);
    us_ctx_destroy(ctx);
}

static void test_two_sweeps(const char *dir)
{
    struct us_ctx *ctx = us_ctx_create();
    for (int k = 0; k < 2; k++) {
        char out[512];
        snprintf(out, sizeof out, "%s/sweep%d.db", dir, k);
        struct us_sweep_options opt = {.threads = 2};
        struct us_sweep_summary sum;
        struct us_diag d;
        enum us_status st = us_sweep(ctx, "examples/sweep-llama3-70b.yaml", out, &opt, &sum, &d);
        CHECK(st == US_OK);
        if (st != US_OK)
            fprintf(stderr, "sweep %d: %s\n", k, d.msg);
        CHECK(sum.points == 32 && sum.ok + sum.infeasible == 32 && sum.errors == 0);
        CHECK(sum.ranks == 1 && sum.rank == 0 && sum.resumed == 0);
        CHECK(file_size(out) > 0);
        remove(out);
    }
    /* more than one rank needs the caller's collective */
    struct us_sweep_options bad = {.ranks = 2, .rank = 0};
    struct us_sweep_summary sum;
    struct us_diag d;
    CHECK(us_sweep(ctx, "examples/sweep-llama3-70b.yaml", "x.db", &bad, &sum, &d) == US_EINPUT);
    us_ctx_destroy(ctx);
}

int main(void)
{
    /* mkdtemp's template (the six X become a unique name), under $TMPDIR when set */
    const char *tmp = getenv("TMPDIR");
    char dir[256];
    snprintf(dir, sizeof dir, "%s/us_api.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return 1;
    test_status_names();
    test_trace_files(dir);
    test_two_sweeps(dir);
    rmdir(dir);
    return test_summary("test_api");
}
