/* Allocation-failure sweep (as Lua's ltests and jq do): the library's malloc, calloc and
 * realloc go through the wrappers below (linked with -Wl,--wrap=...), which can fail one
 * chosen call. A counting pass records every call site the library allocates from while
 * loading, running (event engine, trace on) and searching a job; then, for every site, the
 * same work runs again with that site's first call failing. Each time the library must
 * return cleanly: a status (US_ENOMEM with a message, or US_OK / US_INFEASIBLE where it
 * recovers, as the simulator does by falling back to the closed form), finite numbers, no
 * crash, no US_ASSERT, and (under the asan build's LeakSanitizer) no leak.
 * Usage: test_oom TRACE_PATH JOB.yaml... */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "ultrasim.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);

#define MAX_SITES 4096

/* Single-threaded by construction (threads = 1 everywhere below), so plain statics. */
static int counting;          /* record sites */
static const void *fail_site; /* fail the next call from this site (NULL: none) */
static int failed_once;       /* the injected failure happened */
static const void *sites[MAX_SITES];
static long site_calls[MAX_SITES];
static int nsites;

static int should_fail(const void *site)
{
    if (counting) {
        for (int i = 0; i < nsites; i++)
            if (sites[i] == site) {
                site_calls[i]++;
                return 0;
            }
        if (nsites < MAX_SITES) {
            sites[nsites] = site;
            site_calls[nsites++] = 1;
        }
        return 0;
    }
    if (fail_site && site == fail_site && !failed_once) {
        failed_once = 1;
        return 1;
    }
    return 0;
}

void *__wrap_malloc(size_t n)
{
    return should_fail(__builtin_return_address(0)) ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
    return should_fail(__builtin_return_address(0)) ? NULL : __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n)
{
    return should_fail(__builtin_return_address(0)) ? NULL : __real_realloc(p, n);
}

static int finite_result(const struct us_result *r)
{
    return isfinite(r->step_time_s) && isfinite(r->mfu) && isfinite(r->memory.peak_B) &&
           isfinite(r->energy_j_per_step) && isfinite(r->cost_usd_per_hour);
}

/* One pass of the work; returns 0 when every step returned cleanly. */
static int work(const char *job_path, const char *trace_path, char *what, size_t n)
{
    struct us_ctx *ctx = us_ctx_create();
    if (!ctx) {
        snprintf(what, n, "ctx: NULL (clean)");
        return 0;
    }
    struct us_job *job = NULL;
    struct us_diag d;
    int bad = 0;
    enum us_status st = us_job_load(ctx, job_path, NULL, 0, &job, &d);
    if (st != US_OK) {
        bad |= !(st == US_ENOMEM && d.msg[0] && job == NULL);
        snprintf(what, n, "load: %s (%s)", us_status_name(st), d.msg);
        us_ctx_destroy(ctx);
        return bad;
    }
    struct us_result *r = malloc(sizeof *r);
    struct us_search_result *sr = malloc(sizeof *sr);
    if (r && sr) {
        struct us_run_options opt = {.trace_path = trace_path, .threads = 1};
        st = us_run(ctx, job, &opt, r, &d);
        if (st == US_OK || st == US_INFEASIBLE) {
            bad |= st == US_OK && !finite_result(r);
            FILE *f = fopen("/dev/null", "w");
            if (f) {
                us_result_write(r, job, US_FORMAT_JSON, f);
                us_result_write(r, job, US_FORMAT_TABLE, f);
                fclose(f);
            }
        } else {
            bad |= !(st == US_ENOMEM && d.msg[0]);
        }
        snprintf(what, n, "run: %s", us_status_name(st));
        struct us_search_options so = {.top_k = 2, .threads = 1};
        st = us_search(ctx, job, &so, sr, &d);
        if (st != US_OK && st != US_INFEASIBLE)
            bad |= !(st == US_ENOMEM && d.msg[0]);
        else if (st == US_OK && sr->ntop > 0)
            bad |= !isfinite(sr->top[0].step_time_s);
        size_t l = strlen(what);
        snprintf(what + l, n - l, ", search: %s", us_status_name(st));
    }
    free(r);
    free(sr);
    us_job_destroy(job);
    us_ctx_destroy(ctx);
    return bad;
}

static void sweep_job(const char *job, const char *trace)
{
    char what[1024];
    nsites = 0;
    counting = 1;
    CHECK(work(job, trace, what, sizeof what) == 0);
    counting = 0;
    int n = nsites;
    long calls = 0;
    for (int i = 0; i < n; i++)
        calls += site_calls[i];
    printf("%s: %d allocation sites, %ld calls in one pass (%s)\n", job, n, calls, what);
    CHECK(n > 10);
    int injected = 0, enomem = 0;
    for (int i = 0; i < n; i++) {
        fail_site = sites[i];
        failed_once = 0;
        int bad = work(job, trace, what, sizeof what);
        injected += failed_once;
        enomem += strstr(what, "out of memory") != NULL;
        if (bad)
            fprintf(stderr, "site %d (%p, %ld calls): not clean: %s\n", i, sites[i], site_calls[i],
                    what);
        CHECK(!bad);
    }
    fail_site = NULL;
    remove(trace);
    printf("  failed each site's first call: %d of %d injected; %d passes reported out of "
           "memory, the rest recovered (a simulator that cannot allocate its graph prices the "
           "step by the closed form)\n",
           injected, n, enomem);
    CHECK(injected == n);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_oom TRACE_PATH JOB.yaml...\n");
        return 2;
    }
    for (int i = 2; i < argc; i++)
        sweep_job(argv[i], argv[1]);
    return test_summary("test_oom");
}
