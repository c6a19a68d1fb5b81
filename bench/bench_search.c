/* bench_search: how fast the layout search is.
 *  1. Closed-form candidates priced per second per core (goal >= 1,000,000), against a
 *     baseline in the same run: the same engine with an evaluator that calls step_prepare
 *     for every layout (no caches). Ratio printed. Measured on each online core in turn
 *     (pinned): the cores of a shared virtual machine need not run at the same speed, and
 *     the baseline shows how they differ.
 *  2. The speed-up from 1 to 2 threads (and that both give the same answer).
 *  3. Wall time of a whole search (closed form + event-simulator refinement of the best 8)
 *     for dense-1t and moe-2t (EP in the space) on 1,048,576 trn3-ultraserver chips;
 *     the goal is under 10 s on 2 cores. */
#define _GNU_SOURCE /* sched_setaffinity: the per-core figures pin the search to each core */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "search/search.h"

static struct us_search_result r1, r2;

/* Runs per figure; the least disturbed one is kept (the machine is shared, and one search's
 * estimate phase lasts ~50 ms, shorter than the neighbours' bursts). */
#define BEST_OF 7

static int load(const char *text, struct spec_job *job)
{
    struct us_diag d;
    if (spec_job_load_text("bench", text, strlen(text), NULL, 0, job, &d) != US_OK) {
        char line[1024];
        us_diag_format(&d, line, sizeof line);
        fprintf(stderr, "bench_search: %s\n", line);
        return 0;
    }
    return 1;
}

/* The baseline: every layout prepared from scratch by step_prepare (no caches). */
static enum search_verdict naive_estimate(void *user, void *scratch, const struct search_cand *c,
                                          struct search_metrics *m)
{
    (void)scratch;
    return search_eval_naive(user, c, m);
}

static void print_result(const char *name, const struct us_search_result *r)
{
    printf("%s: space %llu, estimated %llu, simulated %llu, pruned:", name,
           (unsigned long long)r->space, (unsigned long long)r->estimated,
           (unsigned long long)r->simulated);
    for (int i = 0; i < US_PRUNE_COUNT; i++)
        printf(" %s %llu", us_prune_name((enum us_prune)i), (unsigned long long)r->pruned[i]);
    printf("\n  phases: enumerate %.3f s, estimate %.3f s, simulate %.3f s, total %.3f s "
           "(%d threads)\n",
           r->enumerate_s, r->estimate_s, r->simulate_s, r->total_s, r->threads);
    if (r->ntop > 0) {
        const struct us_layout *l = &r->top[0].layout;
        printf("  best: %lld chips tp %d pp %d dp %d cp %d ep %d vpp %d zero %d sp %d "
               "recompute %s mb %d ends %d/%d: %.3f s/step (%s), closed form %.3f s, MFU "
               "%.1f%%\n",
               (long long)r->top[0].chips, l->tp, l->pp, l->dp, l->cp, l->ep, l->vpp, l->zero,
               (int)l->sequence_parallel, us_recompute_name(l->recompute), l->micro_batch,
               l->first_stage_layers, l->last_stage_layers, r->top[0].step_time_s, r->top[0].engine,
               r->top[0].closed_form_step_time_s, 100 * r->top[0].mfu);
    }
    for (int i = 0; i < r->nnotes; i++)
        printf("  note: %s\n", r->notes[i]);
}

static bool same_top(const struct us_search_result *a, const struct us_search_result *b)
{
    if (a->ntop != b->ntop || a->estimated != b->estimated)
        return false;
    for (int i = 0; i < a->ntop; i++)
        if (memcmp(&a->top[i].layout, &b->top[i].layout, sizeof a->top[i].layout) != 0 ||
            a->top[i].time_s != b->top[i].time_s)
            return false;
    return true;
}

static int whole_search(const char *name, const char *text)
{
    static struct spec_job job;
    if (!load(text, &job))
        return 1;
    struct search_space sp;
    struct search_eval *e = NULL;
    struct search_evaluator ev;
    struct search_opts o = {.objective = US_OBJECTIVE_TIME, .threads = 2, .refine = true};
    if (search_space_from_job(&job, NULL, 0, false, &sp, NULL) != US_OK ||
        search_eval_create(&job, &sp, &e, &ev, NULL) != US_OK ||
        search_run(&sp, &ev, &o, &r1, NULL) != US_OK)
        return 1;
    print_result(name, &r1);
    printf("  %s on 1,048,576 chips: %.2f s wall on 2 threads (goal < 10 s): %s\n", name,
           r1.total_s, r1.total_s < 10.0 ? "met" : "MISSED");
    search_eval_destroy(e);
    return 0;
}

/* Counts evaluator calls per thread, to show how evenly the static partition splits the
 * work (on a shared machine the wall-clock speed-up also depends on the neighbours). */
struct counted {
    struct search_evaluator inner;
    void *scratch[2];
    unsigned long calls[2];
};

struct counted_scratch {
    struct counted *c;
    void *inner;
    int slot;
};

static void *counted_init(void *user)
{
    struct counted *c = user;
    struct counted_scratch *s = malloc(sizeof *s);
    s->c = c;
    s->inner = c->inner.thread_init(c->inner.user);
    s->slot = c->scratch[0] ? 1 : 0; /* thread_init runs on the calling thread, in order */
    c->scratch[s->slot] = s;
    return s;
}

static void counted_fini(void *user, void *scratch)
{
    struct counted *c = user;
    struct counted_scratch *s = scratch;
    c->inner.thread_fini(c->inner.user, s->inner);
    free(s);
}

static enum search_verdict counted_estimate(void *user, void *scratch,
                                            const struct search_cand *cand,
                                            struct search_metrics *m)
{
    struct counted *c = user;
    struct counted_scratch *s = scratch;
    c->calls[s->slot]++;
    return c->inner.estimate(c->inner.user, s->inner, cand, m);
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Best of n runs (the machine is shared; the minimum is the least disturbed). *cpu gets the
 * CPU seconds of the fastest run: unlike wall time, it does not count the time a thread
 * waits for a core that a neighbour holds. */
static void best_of(int n, const struct search_space *sp, const struct search_evaluator *ev,
                    const struct search_opts *o, struct us_search_result *r, double *cpu)
{
    double best = 1e300;
    for (int i = 0; i < n; i++) {
        double c0 = cpu_s();
        search_run(sp, ev, o, &r2, NULL);
        double c = cpu_s() - c0;
        if (r2.estimate_s < best) {
            best = r2.estimate_s;
            *r = r2;
            *cpu = c;
        }
    }
}

static void print_load(void)
{
    FILE *f = fopen("/proc/loadavg", "r");
    double l1 = 0;
    if (f && fscanf(f, "%lf", &l1) == 1)
        printf("machine: %ld cores online, load average %.2f (figures are best of %d)\n",
               sysconf(_SC_NPROCESSORS_ONLN), l1, BEST_OF);
    if (f)
        fclose(f);
}

int main(void)
{
    static struct spec_job job;
    static struct us_search_result one, two, base;
    const char *llama = "model: llama3-405b\nsystem: dgx-h100\nchips: 16384\n"
                        "training: {seq_len: 8192, global_batch: 2048, dtype: bf16,"
                        " tokens: 15.6e12}\n";
    if (!load(llama, &job))
        return 1;
    print_load();
    struct search_space sp;
    struct search_eval *e = NULL;
    struct search_evaluator ev;
    if (search_space_from_job(&job, NULL, 0, false, &sp, NULL) != US_OK ||
        search_eval_create(&job, &sp, &e, &ev, NULL) != US_OK)
        return 1;

    /* 1. throughput on one core, against the baseline, on each core in turn */
    struct search_opts o = {.objective = US_OBJECTIVE_TIME, .threads = 1};
    struct search_evaluator naive = {
        .user = e, .estimate = naive_estimate, .engine_estimate = "closed-form"};
    double cpu1 = 0, cpub, cpu2;
    cpu_set_t all;
    int ncores = 0, cores[8];
    if (sched_getaffinity(0, sizeof all, &all) == 0)
        for (int c = 0; c < CPU_SETSIZE && ncores < 8; c++)
            if (CPU_ISSET((size_t)c, &all))
                cores[ncores++] = c;
    double best_rate = 0, worst_rate = 1e300, best_base = 0, worst_base = 1e300;
    int met = 0;
    for (int i = 0; i < (ncores > 0 ? ncores : 1); i++) {
        if (ncores > 0) {
            cpu_set_t one_core;
            CPU_ZERO(&one_core);
            CPU_SET((size_t)cores[i], &one_core);
            sched_setaffinity(0, sizeof one_core, &one_core); /* the worker inherits it */
        }
        double c1, cb;
        best_of(BEST_OF, &sp, &ev, &o, &r1, &c1);
        best_of(BEST_OF, &sp, &naive, &o, &base, &cb);
        double rate = (double)r1.estimated / r1.estimate_s;
        double rate_b = (double)base.estimated / base.estimate_s;
        printf("core %d: %.0f candidates estimated per wall second, %.0f per CPU second; "
               "baseline (step_prepare for every layout, no caches) %.0f per wall second; "
               "search %.2fx the baseline by CPU time; same answer: %s\n",
               ncores > 0 ? cores[i] : -1, rate, (double)r1.estimated / c1, rate_b, cb / c1,
               same_top(&r1, &base) ? "yes" : "NO");
        met += rate >= 1e6;
        if (rate > best_rate) {
            best_rate = rate;
            one = r1;
            cpu1 = c1;
            cpub = cb;
        }
        worst_rate = rate < worst_rate ? rate : worst_rate;
        best_base = rate_b > best_base ? rate_b : best_base;
        worst_base = rate_b < worst_base ? rate_b : worst_base;
    }
    if (ncores > 0)
        sched_setaffinity(0, sizeof all, &all);
    print_result("llama3-405b / 16,384 dgx-h100, closed form, 1 thread (the fastest core)", &one);
    uint64_t calls = one.estimated + one.pruned[US_PRUNE_INVALID] + one.pruned[US_PRUNE_MEMORY];
    printf("candidates estimated per second per core: %.0f on the fastest core, %.0f on the "
           "slowest (goal >= 1,000,000: met on %d of %d cores%s; the baseline runs %.2fx as "
           "fast on the slowest core as on the fastest)\n",
           best_rate, worst_rate, met, ncores > 0 ? ncores : 1, met > 0 ? "" : ", MISSED",
           worst_base / best_base);
    printf("  layouts of the space resolved (pruned or priced) per second per core: %.0f\n",
           (double)one.space / one.estimate_s);
    printf("  evaluator calls (planned, memory-checked or priced) per second per core: "
           "at most %.0f\n",
           (double)calls / one.estimate_s);
    (void)cpub;

    /* 2. one thread against two */
    o.threads = 2;
    best_of(BEST_OF, &sp, &ev, &o, &two, &cpu2);
    printf("1 -> 2 threads: estimate phase %.4f s -> %.4f s wall, speed-up %.2fx (CPU %.3f s "
           "-> %.3f s); same answer: %s\n",
           one.estimate_s, two.estimate_s, one.estimate_s / two.estimate_s, cpu1, cpu2,
           same_top(&one, &two) ? "yes" : "NO");
    struct counted cnt = {.inner = ev};
    struct search_evaluator evc = ev;
    evc.user = &cnt;
    evc.thread_init = counted_init;
    evc.thread_fini = counted_fini;
    evc.estimate = counted_estimate;
    search_run(&sp, &evc, &o, &r2, NULL);
    printf("  evaluator calls per thread: %lu / %lu (the busier thread has %.1f%% of the work; "
           "50%% is a perfect split)\n",
           cnt.calls[0], cnt.calls[1],
           100.0 * (double)(cnt.calls[0] > cnt.calls[1] ? cnt.calls[0] : cnt.calls[1]) /
               (double)(cnt.calls[0] + cnt.calls[1]));
    search_eval_destroy(e);
    /* 3. whole searches at a million chips */
    int bad = 0;
    /* the batch of examples/frontier.yaml: 8,192 sequences of 8,192 tokens */
    bad |= whole_search("dense-1t", "model: dense-1t\nsystem: trn3-ultraserver\n"
                                    "chips: 1048576\ntraining: {seq_len: 8192, "
                                    "global_batch: 8192, dtype: bf16, tokens: 15e12}\n");
    bad |= whole_search("moe-2t", "model: moe-2t\nsystem: trn3-ultraserver\n"
                                  "chips: 1048576\ntraining: {seq_len: 8192, "
                                  "global_batch: 8192, dtype: fp8, tokens: 15e12}\n");
    return bad;
}
