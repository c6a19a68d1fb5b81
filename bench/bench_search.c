/* bench_search: how fast the layout search is.
 *  1. Closed-form candidates priced per second per core (goal >= 1,000,000), against a
 *     baseline in the same run: the same engine with an evaluator that calls step_prepare
 *     for every layout (no caches). Ratio printed.
 *  2. The speed-up from 1 to 2 threads (and that both give the same answer).
 *  3. Wall time of a whole search (closed form + event-simulator refinement of the best 8)
 *     for dense-1t and moe-2t (EP in the space) on 1,048,576 trn3-ultraserver chips;
 *     the goal is under 10 s on 2 cores. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "search/search.h"

static struct us_search_result r1, r2, rb;

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

int main(void)
{
    static struct spec_job job;
    const char *llama = "model: llama3-405b\nsystem: dgx-h100\nchips: 16384\n"
                        "training: {seq_len: 8192, global_batch: 2048, dtype: bf16,"
                        " tokens: 15.6e12}\n";
    if (!load(llama, &job))
        return 1;
    struct search_space sp;
    struct search_eval *e = NULL;
    struct search_evaluator ev;
    if (search_space_from_job(&job, NULL, 0, false, &sp, NULL) != US_OK ||
        search_eval_create(&job, &sp, &e, &ev, NULL) != US_OK)
        return 1;

    /* 1. throughput on one core, against the baseline */
    struct search_opts o = {.objective = US_OBJECTIVE_TIME, .threads = 1};
    search_run(&sp, &ev, &o, &r1, NULL);
    print_result("llama3-405b / 16,384 dgx-h100, closed form, 1 thread", &r1);
    double rate1 = (double)r1.estimated / r1.estimate_s;
    struct search_evaluator naive = {
        .user = e, .estimate = naive_estimate, .engine_estimate = "closed-form"};
    search_run(&sp, &naive, &o, &rb, NULL);
    double rate_b = (double)rb.estimated / rb.estimate_s;
    printf("candidates estimated per second per core: %.0f (goal >= 1,000,000: %s)\n", rate1,
           rate1 >= 1e6 ? "met" : "MISSED");
    printf("baseline (step_prepare per layout, no caches): %.0f per second; ratio %.2fx; "
           "same answer: %s\n",
           rate_b, rate1 / rate_b, same_top(&r1, &rb) ? "yes" : "NO");

    /* 2. one thread against two */
    o.threads = 2;
    search_run(&sp, &ev, &o, &r2, NULL);
    printf("1 -> 2 threads: estimate phase %.3f s -> %.3f s, speed-up %.2fx; same answer: %s\n",
           r1.estimate_s, r2.estimate_s, r1.estimate_s / r2.estimate_s,
           same_top(&r1, &r2) ? "yes" : "NO");
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
