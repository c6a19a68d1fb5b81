/* test_search: the layout search. Part 1 drives the engine with a fake evaluator whose
 * answers are known in closed form: divisors, stage splits, the size of the space counted
 * by hand, pruning by reason, dominance, top K and Pareto front against brute force,
 * fixed fields, constraints and identical results for any thread count.
 * Part 2 uses the real cost model: the evaluator's caches against step_prepare, every
 * returned layout valid and fitting, 1 and 2 threads alike, the published Llama 3 405B
 * layout against the best found, and a tiny space simulated exhaustively. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "search/search.h"
#include "sim/sim.h"
#include "test.h"

/* --- a fake cost model --------------------------------------------------------------- */

struct fake {
    double capacity_B;       /* memory per chip */
    bool invalid_interleave; /* vpp > 1 needs microbatches % pp == 0 */
    bool record;             /* keep every priced entry (single thread only) */
    struct us_search_entry *seen;
    size_t nseen, cap;
    pthread_mutex_t lock;
    unsigned long calls; /* estimate calls, all threads */
};

static double log2i(int x)
{
    return log((double)x) / log(2.0);
}

static double fake_mem_B(const struct search_cand *c)
{
    const struct us_layout *l = &c->lay;
    double w = 8e9 / (l->tp * l->pp); /* weights + grads */
    double opt = 12e9 / (l->tp * l->pp) / (l->zero >= 1 ? l->dp : 1);
    double rc = l->recompute == US_RECOMPUTE_NONE        ? 1.0
                : l->recompute == US_RECOMPUTE_SELECTIVE ? 0.5
                                                         : 0.1;
    double act =
        1e9 * l->micro_batch * rc / (l->sequence_parallel ? l->tp : 1) * l->pp / (l->cp * l->pp);
    return w + opt + act;
}

static enum search_verdict fake_estimate(void *user, void *scratch, const struct search_cand *c,
                                         struct search_metrics *m)
{
    struct fake *f = user;
    const struct us_layout *l = &c->lay;
    (void)scratch;
    pthread_mutex_lock(&f->lock);
    f->calls++;
    pthread_mutex_unlock(&f->lock);
    if (f->invalid_interleave && l->vpp > 1 && l->microbatches % l->pp)
        return SEARCH_INVALID;
    m->peak_B = fake_mem_B(c);
    m->capacity_B = f->capacity_B;
    if (m->peak_B > f->capacity_B)
        return SEARCH_NOFIT;
    double rcf = l->recompute == US_RECOMPUTE_NONE        ? 1.0
                 : l->recompute == US_RECOMPUTE_SELECTIVE ? 1.03
                                                          : 1.33;
    double compute = 1e3 / (double)c->chips * (1 + 0.05 * log2i(l->tp)) * rcf *
                     (l->micro_batch + 1.0) / l->micro_batch;
    double bubble = (l->pp - 1.0) / (l->microbatches * l->vpp) * compute;
    double comm = 0.02 * (l->tp - 1) + 0.01 * (l->cp - 1) + 0.01 * (l->ep - 1) +
                  0.001 * log2i(l->dp + 1) * (l->zero == 3 ? 1.5 : 1.0); /* zero 0-2 tie */
    m->step_s = compute + bubble + comm + 2.0; /* + host time that more chips do not shrink */
    m->time_s = m->step_s;
    m->cost_usd = (double)c->chips * m->step_s * 2.0 / 3600;
    m->energy_J = (double)c->chips * m->step_s * (300 + 400 * compute / m->step_s);
    m->mfu = compute / m->step_s;
    if (f->record) {
        if (f->nseen == f->cap) {
            f->cap = f->cap ? 2 * f->cap : 1024;
            f->seen = realloc(f->seen, f->cap * sizeof *f->seen);
        }
        struct us_search_entry *e = &f->seen[f->nseen++];
        memset(e, 0, sizeof *e);
        e->chips = c->chips;
        e->layout = c->lay;
        e->time_s = m->time_s;
        e->cost_usd = m->cost_usd;
        e->energy_J = m->energy_J;
    }
    return SEARCH_OK;
}

/* A reference engine that disagrees a little, differently per layout. */
static bool fake_refine(void *user, void *scratch, const struct search_cand *c,
                        struct search_metrics *m)
{
    struct search_metrics e;
    memset(&e, 0, sizeof e);
    struct fake copy = *(struct fake *)user;
    copy.record = false;
    copy.invalid_interleave = false;
    if (fake_estimate(&copy, scratch, c, &e) != SEARCH_OK)
        return false;
    double k = 1.0 + 0.01 * (double)((c->lay.pp * 7 + c->lay.micro_batch * 3 + c->lay.zero) % 5);
    *m = e;
    m->step_s *= k;
    m->time_s *= k;
    m->cost_usd *= k;
    m->energy_J *= k;
    return true;
}

static void fake_init(struct fake *f, double cap)
{
    memset(f, 0, sizeof *f);
    f->capacity_B = cap;
    pthread_mutex_init(&f->lock, NULL);
}

static void fake_evaluator(struct fake *f, struct search_evaluator *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->user = f;
    ev->estimate = fake_estimate;
    ev->refine = fake_refine;
    ev->engine_estimate = "closed-form";
    ev->engine_refine = "event";
}

/* An open space: every parallel field unset. */
static void space_open(struct search_space *sp, int64_t chips, int layers, int heads, int experts,
                       int gb, int seq, int domain)
{
    memset(sp, 0, sizeof *sp);
    sp->chips[0] = chips;
    sp->nchips = 1;
    sp->layers = layers;
    sp->heads = heads;
    sp->experts = experts;
    sp->global_batch = gb;
    sp->seq_len = seq;
    sp->domain = domain;
    sp->fixed.zero = -1;
    sp->fixed.sequence_parallel = -1;
    sp->fixed.recompute = -1;
    sp->fixed.schedule = -1;
}

static uint64_t pruned_sum(const struct us_search_result *r, bool with_constraint)
{
    uint64_t n = 0;
    for (int i = 0; i < US_PRUNE_COUNT; i++)
        if (with_constraint || i != US_PRUNE_CONSTRAINT)
            n += r->pruned[i];
    return n;
}

static struct us_search_result res1, res2; /* large: keep off the stack */

/* --- tests ------------------------------------------------------------------------------- */

static void test_divisors(void)
{
    int64_t d[64];
    int n = search_divisors(12, d, 64);
    CHECK(n == 6);
    CHECK(d[0] == 1 && d[1] == 2 && d[2] == 3 && d[3] == 4 && d[4] == 6 && d[5] == 12);
    n = search_divisors(36, d, 64);
    CHECK(n == 9 && d[4] == 6 && d[5] == 9 && d[8] == 36);
    CHECK(search_divisors(1, d, 64) == 1 && d[0] == 1);
    CHECK(search_divisors(1 << 20, d, 64) == 21 && d[20] == (1 << 20));
    CHECK(search_divisors(16384, d, 64) == 15);
    CHECK(search_divisors(0, d, 64) == 0);
    CHECK(search_divisors(12, d, 3) == 3 && d[2] == 3);
}

static void test_splits(void)
{
    int s[16][2];
    /* Llama 3 405B: 126 layers on 16 stages, middle 8 each, ends share 14 */
    int n = search_stage_splits(126, 16, s, 16);
    CHECK(n == 3);
    CHECK(s[0][0] == 6 && s[0][1] == 8);
    CHECK(s[1][0] == 7 && s[1][1] == 7);
    CHECK(s[2][0] == 8 && s[2][1] == 6);
    n = search_stage_splits(128, 16, s, 16);
    CHECK(n == 1 && s[0][0] == 0 && s[0][1] == 0);
    n = search_stage_splits(7, 2, s, 16); /* 4+3 or 3+4 */
    CHECK(n == 2 && s[0][0] == 3 && s[0][1] == 4 && s[1][0] == 4 && s[1][1] == 3);
    n = search_stage_splits(17, 16, s, 16); /* middle 2 each already exceeds 17 */
    CHECK(n == 1 && s[0][0] == 0 && s[0][1] == 0);
    n = search_stage_splits(10, 4, s, 16); /* m = 3, ends share 4: 1+3, 2+2, 3+1 */
    CHECK(n == 3 && s[1][0] == 2 && s[1][1] == 2);
}

/* 4 chips, 4 layers, 2 heads, dense, batch 4, everything fits. Counted by hand:
 * (tp,cp,pp) with tp*cp*pp | 4: 10 triples; vpp options 1 (pp 1), 2 (pp 2: 2 layers per
 * stage), 1 (pp 4): weights 6 + 3*2 + 1 = 13; below each: 4 zero x 2 sp x 3 mb x 3 rc = 72.
 * Space 13 * 72 = 936. tp = 4 does not divide 2 heads: 72.
 * sp with tp = 1 is the same as without: the tp = 1 triples weigh 1+2+1+1+2+1 = 8, times
 * 4 zero x 3 mb x 3 rc = 288.
 * Micro-batches that do not divide the per-replica batch 4/dp = tp*cp*pp (1 -> mb 2, 4 bad;
 * 2 -> mb 4 bad), x 4 zero x 3 rc, sp 0 only for tp = 1: (1,1,1) 2 bad x 12 = 24,
 * (1,1,2) 1 bad x 2 vpp x 12 = 24, (1,2,1) 12, (2,1,1) 1 bad x 2 sp x 12 = 24: 84.
 * Interleaving (vpp 2 on pp 2) needs the micro-batch count m to be a multiple of pp:
 * (1,1,2) mb 2 (m = 1), (1,2,2) mb 4, (2,1,2) mb 4 (x 2 sp): 12 + 12 + 24 = 48 invalid.
 * Left: 936 - 72 - 288 - 84 - 48 = 444 = 148 layouts x 3 recompute; one priced each (all
 * fit), 2 dominated. */
static void test_space_count(void)
{
    struct search_space sp;
    struct fake f;
    struct search_evaluator ev;
    space_open(&sp, 4, 4, 2, 0, 4, 8, 4);
    fake_init(&f, 1e30);
    fake_evaluator(&f, &ev);
    struct search_opts o = {.objective = US_OBJECTIVE_TIME, .threads = 1};
    CHECK(search_run(&sp, &ev, &o, &res1, NULL) == US_OK);
    CHECK(res1.space == 936);
    CHECK(res1.pruned[US_PRUNE_DIVISIBILITY] == 156);
    CHECK(res1.pruned[US_PRUNE_DOMINATED] == 288 + 2 * 148);
    CHECK(res1.pruned[US_PRUNE_INVALID] == 48);
    CHECK(res1.estimated == 148);
    CHECK(f.calls == 148);
    CHECK(res1.pruned[US_PRUNE_MEMORY] == 0 && res1.pruned[US_PRUNE_DOMAIN] == 0);
    CHECK(res1.space == pruned_sum(&res1, false) + res1.estimated);
    CHECK(res1.ntop == 8 && res1.simulated == 0);
    CHECK_STR(res1.top[0].engine, "closed-form");
}

/* Interleaving with uneven ends (docs/MODEL.md 2.2, 8.1): 14 layers on 4 stages split as
 * (2, 4), (3, 3) or (4, 2) around middle stages of 4. vpp 2 takes every split ((3, 3) with
 * its end chunks one short); vpp 4 (chunks of 1) only (3, 3), whose end chunks hold no
 * layer; 2 is neither a multiple of 4 nor 3..3. So 2 + 3 + 2 = 7 layouts, and the planner
 * accepts each. */
static void test_uneven_vpp(void)
{
    struct search_space sp;
    struct fake f;
    struct search_evaluator ev;
    space_open(&sp, 4, 14, 2, 0, 8, 8, 4);
    sp.fixed.tp = sp.fixed.cp = 1;
    sp.fixed.pp = 4;
    sp.fixed.zero = 1;
    sp.fixed.sequence_parallel = 0;
    sp.fixed.recompute = 0;
    sp.fixed_micro_batch = 1;
    fake_init(&f, 1e30);
    f.record = true;
    fake_evaluator(&f, &ev);
    struct search_opts o = {.objective = US_OBJECTIVE_TIME, .threads = 1};
    CHECK(search_run(&sp, &ev, &o, &res1, NULL) == US_OK);
    CHECK(res1.space == 7 && res1.estimated == 7 && f.nseen == 7);
    int by_v[5] = {0};
    static struct spec_job job;
    const char *text = "model: {name: toy, layers: 14, hidden: 256, heads: 2, ffn_hidden: 1024,"
                       " vocab: 1000}\nsystem: dgx-h100\nchips: 4\n"
                       "training: {seq_len: 8, global_batch: 8, dtype: bf16}\n";
    struct us_diag d;
    CHECK(spec_job_load_text("toy.yaml", text, strlen(text), NULL, 0, &job, &d) == US_OK);
    for (size_t i = 0; i < f.nseen; i++) {
        const struct us_layout *l = &f.seen[i].layout;
        CHECK(l->vpp == 1 || l->vpp == 2 || l->vpp == 4);
        by_v[l->vpp]++;
        if (l->vpp == 4)
            CHECK(l->first_stage_layers == 3 && l->last_stage_layers == 3);
        struct plan p;
        bool ok = plan_init(&p, &job, l);
        CHECK(ok);
        if (!ok)
            fprintf(stderr, "planner refuses vpp %d ends %d/%d: %s\n", l->vpp,
                    l->first_stage_layers, l->last_stage_layers, p.reason);
    }
    CHECK(by_v[1] == 3 && by_v[2] == 3 && by_v[4] == 1);
    free(f.seen);
}

/* Memory: a micro-batch that fits under no recompute stops the larger ones unpriced. */
static void test_memory_prune(void)
{
    struct search_space sp;
    struct fake f;
    struct search_evaluator ev;
    /* 1 chip: tp = pp = cp = dp = 1; weights 8e9 + optimizer 12e9 = 20e9; activations
     * 1e9 * mb * (1, 0.5, 0.1) for none, selective, full. Capacity 21.2e9: mb 1 fits
     * under none; mb 2 needs selective (21e9); mb 4 and 8 need full (20.4e9, 20.8e9);
     * mb 16 fits under nothing (21.6e9 at best), so 32 and 64 are never priced. */
    space_open(&sp, 1, 2, 2, 0, 64, 8, 8);
    sp.fixed.zero = 1;
    sp.fixed.sequence_parallel = 0;
    fake_init(&f, 21.2e9);
    fake_evaluator(&f, &ev);
    struct search_opts o = {.objective = US_OBJECTIVE_TIME, .threads = 1};
    CHECK(search_run(&sp, &ev, &o, &res1, NULL) == US_OK);
    /* pp = 1 or 2 (2 layers); pp 2: weights halve, so more fits. Check pp = 1 alone: */
    sp.fixed.pp = 1;
    f.calls = 0;
    CHECK(search_run(&sp, &ev, &o, &res1, NULL) == US_OK);
    CHECK(res1.space == 7 * 3);          /* mb in 1..64 (7 divisors) x 3 recompute */
    CHECK(res1.estimated == 4);          /* mb 1 none, 2 selective, 4 and 8 full */
    CHECK(f.calls == 1 + 2 + 3 + 3 + 3); /* then 32 and 64 are skipped */
    CHECK(res1.pruned[US_PRUNE_MEMORY] == 1 + 2 + 2 + 3 + 2 * 3);
    CHECK(res1.pruned[US_PRUNE_DOMINATED] == 2 + 1);
    CHECK(res1.space == pruned_sum(&res1, false) + res1.estimated);
    CHECK(res1.ntop == 4);
    /* times 1e3 * recompute factor * (b+1)/b + 1e-3 + 2: mb 8 full 1496 beats mb 2 selective
     * 1545, mb 4 full 1662 and mb 1 none 2000 */
    CHECK(res1.top[0].layout.micro_batch == 8 && res1.top[0].layout.recompute == US_RECOMPUTE_FULL);
    CHECK(res1.top[1].layout.micro_batch == 2 &&
          res1.top[1].layout.recompute == US_RECOMPUTE_SELECTIVE);
    CHECK_NEAR(res1.top[0].time_s, 1e3 * 1.33 * 9 / 8 + 1e-3 + 2.0, 1e-12);
    for (int i = 0; i < res1.ntop; i++)
        CHECK(res1.top[i].peak_memory_B <= 21.2e9);
}

static bool entries_equal(const struct us_search_entry *a, const struct us_search_entry *b)
{
    return a->chips == b->chips && memcmp(&a->layout, &b->layout, sizeof a->layout) == 0 &&
           a->time_s == b->time_s && a->cost_usd == b->cost_usd && a->energy_J == b->energy_J &&
           a->step_time_s == b->step_time_s && a->pareto == b->pareto &&
           strcmp(a->engine, b->engine) == 0;
}

static bool results_equal(const struct us_search_result *a, const struct us_search_result *b)
{
    if (a->ntop != b->ntop || a->npareto != b->npareto || a->space != b->space ||
        a->estimated != b->estimated || a->simulated != b->simulated ||
        a->pareto_truncated != b->pareto_truncated)
        return false;
    for (int i = 0; i < US_PRUNE_COUNT; i++)
        if (a->pruned[i] != b->pruned[i])
            return false;
    for (int i = 0; i < a->ntop; i++)
        if (!entries_equal(&a->top[i], &b->top[i]))
            return false;
    for (int i = 0; i < a->npareto; i++)
        if (!entries_equal(&a->pareto[i], &b->pareto[i]))
            return false;
    return true;
}

/* A bigger MoE space over three chip counts, with memory pressure, planner rejections
 * and exact ties (ZeRO 0-2 price the same). */
static void space_moe(struct search_space *sp)
{
    space_open(sp, 64, 12, 16, 8, 64, 4096, 8);
    sp->chips[0] = 32;
    sp->chips[1] = 64;
    sp->chips[2] = 128;
    sp->nchips = 3;
}

static void test_threads_identical(void)
{
    struct search_space sp;
    struct fake f;
    struct search_evaluator ev;
    space_moe(&sp);
    fake_init(&f, 4.0e9);
    f.invalid_interleave = true;
    fake_evaluator(&f, &ev);
    struct search_opts o = {
        .objective = US_OBJECTIVE_TIME, .threads = 1, .top_k = 12, .refine = true};
    CHECK(search_run(&sp, &ev, &o, &res1, NULL) == US_OK);
    CHECK(res1.ntop == 12 && res1.simulated == SEARCH_REFINE_POOL);
    CHECK(res1.pruned[US_PRUNE_MEMORY] > 0 && res1.pruned[US_PRUNE_INVALID] > 0);
    CHECK(res1.space == pruned_sum(&res1, false) + res1.estimated);
    printf("fake MoE space: %llu layouts, %llu priced, %d on the front\n",
           (unsigned long long)res1.space, (unsigned long long)res1.estimated, res1.npareto);
    const int threads[] = {2, 3, 7};
    for (size_t i = 0; i < sizeof threads / sizeof threads[0]; i++) {
        o.threads = threads[i];
        CHECK(search_run(&sp, &ev, &o, &res2, NULL) == US_OK);
        CHECK(res2.threads == threads[i]);
        CHECK(results_equal(&res1, &res2));
    }
    for (int obj = US_OBJECTIVE_TIME; obj <= US_OBJECTIVE_ENERGY; obj++) {
        o.objective = (enum us_objective)obj;
        o.threads = 1;
        CHECK(search_run(&sp, &ev, &o, &res1, NULL) == US_OK);
        o.threads = 2;
        CHECK(search_run(&sp, &ev, &o, &res2, NULL) == US_OK);
        CHECK(results_equal(&res1, &res2));
    }
}

/* The top K and the front against brute force over every priced layout. */
static void test_brute_force(void)
{
    struct search_space sp;
    struct fake f;
    struct search_evaluator ev;
    space_moe(&sp);
    sp.nchips = 2; /* 32 and 64 chips: a few thousand priced points for an O(n^2) check */
    sp.fixed.cp = 1;
    fake_init(&f, 4.0e9);
    f.record = true;
    fake_evaluator(&f, &ev);
    for (int obj = US_OBJECTIVE_TIME; obj <= US_OBJECTIVE_ENERGY; obj++) {
        f.nseen = 0;
        struct search_opts o = {.objective = (enum us_objective)obj, .threads = 1, .top_k = 10};
        CHECK(search_run(&sp, &ev, &o, &res1, NULL) == US_OK);
        CHECK(f.nseen == res1.estimated);
        /* brute-force top 10: selection by the same strict order */
        bool *used = calloc(f.nseen, sizeof *used);
        for (int k = 0; k < res1.ntop; k++) {
            size_t best = f.nseen;
            for (size_t i = 0; i < f.nseen; i++)
                if (!used[i] && (best == f.nseen ||
                                 search_entry_cmp(&f.seen[i], &f.seen[best], o.objective) < 0))
                    best = i;
            used[best] = true;
            CHECK(res1.top[k].chips == f.seen[best].chips &&
                  memcmp(&res1.top[k].layout, &f.seen[best].layout, sizeof f.seen[best].layout) ==
                      0);
        }
        free(used);
        /* brute-force front: no point dominated by another */
        size_t nfront = 0;
        for (size_t i = 0; i < f.nseen; i++) {
            bool dom = false;
            for (size_t j = 0; j < f.nseen && !dom; j++)
                dom = j != i && search_dominates(&f.seen[j], &f.seen[i]);
            if (dom)
                continue;
            nfront++;
            bool found = false;
            for (int k = 0; k < res1.npareto; k++)
                found = found || (res1.pareto[k].chips == f.seen[i].chips &&
                                  memcmp(&res1.pareto[k].layout, &f.seen[i].layout,
                                         sizeof f.seen[i].layout) == 0);
            CHECK(found || res1.pareto_truncated);
        }
        CHECK(nfront == (size_t)res1.npareto || res1.pareto_truncated);
        CHECK(nfront >= 2); /* three chip counts trade time for energy */
        for (int k = 1; k < res1.npareto; k++)
            CHECK(res1.pareto[k - 1].time_s <= res1.pareto[k].time_s);
    }
    free(f.seen);
}

/* The refined order is by the reference engine; fixed fields stay; constraints hold. */
static void test_refine_fixed_constraints(void)
{
    struct search_space sp;
    struct fake f;
    struct search_evaluator ev;
    space_moe(&sp);
    sp.fixed.tp = 2;
    sp.fixed.zero = 1;
    sp.fixed_micro_batch = 2;
    fake_init(&f, 4.0e9);
    fake_evaluator(&f, &ev);
    struct search_opts o = {.objective = US_OBJECTIVE_TIME, .threads = 2, .refine = true};
    CHECK(search_run(&sp, &ev, &o, &res1, NULL) == US_OK);
    CHECK(res1.ntop == 8 && res1.simulated == SEARCH_REFINE_POOL);
    for (int i = 0; i < res1.ntop; i++) {
        const struct us_search_entry *e = &res1.top[i];
        CHECK(e->layout.tp == 2 && e->layout.zero == 1 && e->layout.micro_batch == 2);
        CHECK(!(e->layout.chosen_mask & (1u << US_FIELD_TP)));
        CHECK(!(e->layout.chosen_mask & (1u << US_FIELD_ZERO)));
        CHECK(!(e->layout.chosen_mask & (1u << US_FIELD_MICRO_BATCH)));
        CHECK(e->layout.chosen_mask & (1u << US_FIELD_PP));
        CHECK_STR(e->engine, "event");
        CHECK(e->step_time_s >= e->closed_form_step_time_s); /* the fake adds 0-4% */
        CHECK(e->layout.tp * e->layout.pp * e->layout.cp * e->layout.dp == e->chips);
        if (i > 0)
            CHECK(res1.top[i - 1].time_s <= res1.top[i].time_s);
    }
    /* deadline: half-way between the best and the 8th closed-form time */
    o.refine = false;
    CHECK(search_run(&sp, &ev, &o, &res1, NULL) == US_OK);
    double deadline = 0.5 * (res1.top[0].time_s + res1.top[7].time_s);
    o.deadline_s = deadline;
    o.objective = US_OBJECTIVE_COST;
    CHECK(search_run(&sp, &ev, &o, &res2, NULL) == US_OK);
    CHECK(res2.ntop > 0 && res2.pruned[US_PRUNE_CONSTRAINT] > 0);
    for (int i = 0; i < res2.ntop; i++) {
        CHECK(res2.top[i].time_s <= deadline);
        if (i > 0)
            CHECK(res2.top[i - 1].cost_usd <= res2.top[i].cost_usd);
    }
    CHECK(res2.space == pruned_sum(&res2, false) + res2.estimated);
    /* a budget nothing meets */
    o.deadline_s = 0;
    o.budget_usd = 1e-12;
    CHECK(search_run(&sp, &ev, &o, &res2, NULL) == US_OK);
    CHECK(res2.ntop == 0 && res2.npareto == 0 && res2.nnotes == 1);
    CHECK(res2.pruned[US_PRUNE_CONSTRAINT] == res2.estimated);
}

/* tp stays inside the scale-up domain unless allowed or fixed. */
static void test_domain(void)
{
    struct search_space sp;
    struct fake f;
    struct search_evaluator ev;
    space_open(&sp, 64, 4, 64, 0, 64, 64, 8);
    fake_init(&f, 1e30);
    fake_evaluator(&f, &ev);
    struct search_opts o = {.objective = US_OBJECTIVE_TIME, .threads = 1, .top_k = 64};
    CHECK(search_run(&sp, &ev, &o, &res1, NULL) == US_OK);
    CHECK(res1.pruned[US_PRUNE_DOMAIN] > 0);
    for (int i = 0; i < res1.ntop; i++)
        CHECK(res1.top[i].layout.tp <= 8);
    sp.tp_beyond_domain = true;
    CHECK(search_run(&sp, &ev, &o, &res2, NULL) == US_OK);
    CHECK(res2.pruned[US_PRUNE_DOMAIN] == 0 && res2.space == res1.space);
    sp.tp_beyond_domain = false;
    sp.fixed.tp = 16; /* the job forces it */
    CHECK(search_run(&sp, &ev, &o, &res2, NULL) == US_OK);
    CHECK(res2.pruned[US_PRUNE_DOMAIN] == 0 && res2.ntop > 0 && res2.top[0].layout.tp == 16);
}

struct progress_log {
    int calls;
    uint64_t last_done, last_total;
};

static void on_progress(void *user, const char *phase, uint64_t done, uint64_t total)
{
    struct progress_log *p = user;
    (void)phase;
    p->calls++;
    p->last_done = done;
    p->last_total = total;
}

static void test_progress_and_errors(void)
{
    struct search_space sp;
    struct fake f;
    struct search_evaluator ev;
    struct progress_log log = {0, 0, 0};
    space_moe(&sp);
    fake_init(&f, 4.0e9);
    fake_evaluator(&f, &ev);
    struct search_opts o = {.objective = US_OBJECTIVE_TIME,
                            .threads = 2,
                            .refine = true,
                            .progress = on_progress,
                            .progress_user = &log};
    CHECK(search_run(&sp, &ev, &o, &res1, NULL) == US_OK);
    CHECK(log.calls >= 4 && log.last_done == log.last_total &&
          log.last_total == SEARCH_REFINE_POOL);
    struct us_diag d;
    o.top_k = US_SEARCH_MAX_TOP + 1;
    CHECK(search_run(&sp, &ev, &o, &res1, &d) == US_EINPUT);
    CHECK_STR(d.path, "search.top");
    o.top_k = 0;
    o.objective = (enum us_objective)7;
    CHECK(search_run(&sp, &ev, &o, &res1, &d) == US_EINPUT);
    /* a space too large to walk is refused, not walked for hours */
    o.objective = US_OBJECTIVE_TIME;
    sp.max_tuples = 1000;
    CHECK(search_run(&sp, &ev, &o, &res1, &d) == US_EINPUT);
    CHECK_STR(d.path, "parallel");
    sp.max_tuples = 0;
    CHECK(search_run(&sp, &ev, &o, &res1, &d) == US_OK);
    /* chip lists: sorted, duplicates dropped, bad counts refused */
    static struct spec_job job;
    memset(&job, 0, sizeof job);
    job.chips = 8;
    const int64_t bad[] = {64, 0};
    CHECK(search_space_from_job(&job, bad, 2, false, &sp, &d) == US_EINPUT);
    const int64_t list[] = {64, 8, 64, 16};
    CHECK(search_space_from_job(&job, list, 4, false, &sp, &d) == US_OK);
    CHECK(sp.nchips == 3 && sp.chips[0] == 8 && sp.chips[1] == 16 && sp.chips[2] == 64);
    CHECK(search_space_from_job(&job, NULL, 0, false, &sp, &d) == US_OK);
    CHECK(sp.nchips == 1 && sp.chips[0] == 8);
    CHECK_STR(us_objective_name(US_OBJECTIVE_ENERGY), "energy");
    CHECK_STR(us_prune_name(US_PRUNE_DOMINATED), "dominated");
}

/* --- part 2: the real evaluator ---------------------------------------------------------- */

static int load_job(const char *text, struct spec_job *job)
{
    struct us_diag d;
    if (spec_job_load_text("test", text, strlen(text), NULL, 0, job, &d) != US_OK) {
        char line[1024];
        us_diag_format(&d, line, sizeof line);
        fprintf(stderr, "test_search: %s\n", line);
        return 0;
    }
    return 1;
}

/* Wraps the real evaluator: checks every answer of the cached path against the naive one,
 * and can record every priced layout (single thread only). */
struct checker {
    struct search_evaluator inner;
    struct search_eval *e;
    unsigned long calls, mismatches;
    bool record;
    struct search_cand *seen;
    size_t nseen, cap;
};

static enum search_verdict check_estimate(void *user, void *scratch, const struct search_cand *c,
                                          struct search_metrics *m)
{
    struct checker *k = user;
    enum search_verdict v = k->inner.estimate(k->inner.user, scratch, c, m);
    struct search_metrics n;
    memset(&n, 0, sizeof n);
    enum search_verdict vn = search_eval_naive(k->e, c, &n);
    k->calls++;
    /* a dropped layout reports the first stage found over (plan_memory_with), the naive
     * path the most loaded one */
    if (v != vn || (v == SEARCH_OK && m->peak_B != n.peak_B) ||
        (v == SEARCH_NOFIT && !(m->peak_B > m->capacity_B && m->peak_B <= n.peak_B)) ||
        (v == SEARCH_OK &&
         (m->step_s != n.step_s || m->time_s != n.time_s || m->cost_usd != n.cost_usd ||
          m->energy_J != n.energy_J || m->mfu != n.mfu)))
        k->mismatches++;
    if (k->record && v == SEARCH_OK) {
        if (k->nseen == k->cap) {
            k->cap = k->cap ? 2 * k->cap : 256;
            k->seen = realloc(k->seen, k->cap * sizeof *k->seen);
        }
        k->seen[k->nseen++] = *c;
    }
    return v;
}

static void *check_init(void *user)
{
    struct checker *k = user;
    return k->inner.thread_init(k->inner.user);
}

static void check_fini(void *user, void *scratch)
{
    struct checker *k = user;
    k->inner.thread_fini(k->inner.user, scratch);
}

static void checker_init(struct checker *k, const struct spec_job *job,
                         const struct search_space *sp, struct search_evaluator *ev)
{
    memset(k, 0, sizeof *k);
    CHECK(search_eval_create(job, sp, &k->e, &k->inner, NULL) == US_OK);
    *ev = k->inner;
    ev->user = k;
    ev->thread_init = check_init;
    ev->thread_fini = check_fini;
    ev->estimate = check_estimate;
    ev->refine = NULL;
}

/* Every returned layout is valid, fits, multiplies out to its chips, keeps the job's fixed
 * fields, and its closed-form time is what step_prepare + estimate_step give. */
static void check_returned(const struct spec_job *job, const struct us_search_result *r)
{
    struct step_ctx *ctx = malloc(sizeof *ctx);
    for (int i = 0; i < r->ntop + r->npareto; i++) {
        const struct us_search_entry *e = i < r->ntop ? &r->top[i] : &r->pareto[i - r->ntop];
        const struct us_layout *l = &e->layout;
        struct spec_job j = *job;
        j.chips = e->chips;
        CHECK(step_prepare(ctx, &j, l));
        CHECK(ctx->plan.valid && ctx->fits);
        CHECK(ctx->mem.peak_B <= ctx->mem.capacity_B);
        CHECK((int64_t)l->tp * l->pp * l->cp * l->dp == e->chips);
        CHECK(l->microbatches * l->dp * l->micro_batch == job->train.global_batch);
        CHECK(job->par.tp <= 0 || l->tp == job->par.tp);
        CHECK(job->par.pp <= 0 || l->pp == job->par.pp);
        CHECK(job->par.dp <= 0 || l->dp == job->par.dp);
        CHECK(job->par.cp <= 0 || l->cp == job->par.cp);
        CHECK(job->par.zero < 0 || l->zero == job->par.zero);
        CHECK(e->peak_memory_B <= e->capacity_B && e->capacity_B > 0);
        CHECK(e->step_time_s > 0 && e->closed_form_step_time_s > 0 && e->mfu > 0 && e->mfu < 1);
    }
    free(ctx);
}

static void print_entry(const char *what, const struct us_search_entry *e)
{
    const struct us_layout *l = &e->layout;
    printf("  %s: tp %d pp %d dp %d cp %d ep %d vpp %d zero %d sp %d recompute %s mb %d "
           "ends %d/%d -> %.3f s/step (%s), closed form %.3f s, MFU %.1f%%, %.1f GiB\n",
           what, l->tp, l->pp, l->dp, l->cp, l->ep, l->vpp, l->zero, (int)l->sequence_parallel,
           us_recompute_name(l->recompute), l->micro_batch, l->first_stage_layers,
           l->last_stage_layers, e->step_time_s, e->engine, e->closed_form_step_time_s,
           100 * e->mfu, e->peak_memory_B / (1024.0 * 1024 * 1024));
}

/* The cached evaluator equals the naive path on every layout of a mid-size space, and the
 * answers are the same on 1 and 2 threads with the event-simulator refinement. */
static void test_real_cache_and_threads(void)
{
    static struct spec_job job;
    if (!load_job("model: llama3-8b\nsystem: dgx-h100\nchips: 32\n"
                  "training: {seq_len: 8192, global_batch: 64, dtype: bf16, tokens: 1e12}\n",
                  &job)) {
        CHECK(0);
        return;
    }
    struct search_space sp;
    struct search_evaluator ev;
    struct checker k;
    CHECK(search_space_from_job(&job, NULL, 0, false, &sp, NULL) == US_OK);
    checker_init(&k, &job, &sp, &ev);
    struct search_opts o = {.objective = US_OBJECTIVE_TIME, .threads = 1};
    CHECK(search_run(&sp, &ev, &o, &res1, NULL) == US_OK);
    printf("llama3-8b / 32 dgx-h100: space %llu, %lu evaluator calls, %llu priced, %lu "
           "differ from step_prepare\n",
           (unsigned long long)res1.space, k.calls, (unsigned long long)res1.estimated,
           k.mismatches);
    CHECK(k.calls > 1000 && k.mismatches == 0);
    CHECK(res1.space == pruned_sum(&res1, false) + res1.estimated);
    search_eval_destroy(k.e);

    struct search_eval *e = NULL;
    CHECK(search_eval_create(&job, &sp, &e, &ev, NULL) == US_OK);
    o.refine = true;
    CHECK(search_run(&sp, &ev, &o, &res1, NULL) == US_OK);
    o.threads = 2;
    CHECK(search_run(&sp, &ev, &o, &res2, NULL) == US_OK);
    CHECK(res1.ntop == 8 && res1.simulated == SEARCH_REFINE_POOL);
    CHECK(results_equal(&res1, &res2));
    check_returned(&job, &res1);
    print_entry("best", &res1.top[0]);
    for (int obj = US_OBJECTIVE_COST; obj <= US_OBJECTIVE_ENERGY; obj++) {
        o.objective = (enum us_objective)obj;
        o.threads = 1;
        CHECK(search_run(&sp, &ev, &o, &res1, NULL) == US_OK);
        o.threads = 2;
        CHECK(search_run(&sp, &ev, &o, &res2, NULL) == US_OK);
        CHECK(results_equal(&res1, &res2));
        CHECK(res1.per_run == false); /* search_run leaves it to the wrappers */
        for (int i = 1; i < res1.ntop; i++)
            CHECK(obj == US_OBJECTIVE_COST ? res1.top[i - 1].cost_usd <= res1.top[i].cost_usd
                                           : res1.top[i - 1].energy_J <= res1.top[i].energy_J);
    }
    search_eval_destroy(e);
}

/* Llama 3 405B on 16,384 H100s, seq 8192, batch 2048: the best layout found is at least as
 * fast, by ultrasim's own prediction, as the best completion of the published degrees
 * (tp 8, pp 16, cp 1, dp 128; Dubey et al. 2024, Table 4). */
static void test_llama3_published(void)
{
    static struct spec_job open, pub;
    const char *base = "model: llama3-405b\nsystem: dgx-h100\nchips: 16384\n"
                       "training: {seq_len: 8192, global_batch: 2048, dtype: bf16,"
                       " tokens: 15.6e12}\n";
    char text[512];
    snprintf(text, sizeof text, "%sparallel: {tp: 8, pp: 16, cp: 1, dp: 128}\n", base);
    if (!load_job(base, &open) || !load_job(text, &pub)) {
        CHECK(0);
        return;
    }
    struct search_space sp_open, sp_pub;
    struct search_eval *eo = NULL, *epub = NULL;
    struct search_evaluator evo, evp;
    struct search_opts o = {.objective = US_OBJECTIVE_TIME, .threads = 2, .refine = true};
    CHECK(search_space_from_job(&open, NULL, 0, false, &sp_open, NULL) == US_OK);
    CHECK(search_space_from_job(&pub, NULL, 0, false, &sp_pub, NULL) == US_OK);
    CHECK(search_eval_create(&open, &sp_open, &eo, &evo, NULL) == US_OK);
    CHECK(search_eval_create(&pub, &sp_pub, &epub, &evp, NULL) == US_OK);
    CHECK(search_run(&sp_open, &evo, &o, &res1, NULL) == US_OK);
    CHECK(search_run(&sp_pub, &evp, &o, &res2, NULL) == US_OK);
    CHECK(res1.ntop == 8 && res2.ntop > 0);
    if (res1.ntop == 0 || res2.ntop == 0)
        return;
    printf("llama3-405b / 16,384 dgx-h100, seq 8192, batch 2048 (%llu layouts, %llu priced, "
           "%llu simulated):\n",
           (unsigned long long)res1.space, (unsigned long long)res1.estimated,
           (unsigned long long)res1.simulated);
    print_entry("best found      ", &res1.top[0]);
    print_entry("published degrees", &res2.top[0]);
    CHECK_STR(res1.top[0].engine, "event");
    CHECK_STR(res2.top[0].engine, "event");
    CHECK(res1.top[0].step_time_s <= res2.top[0].step_time_s);
    CHECK(res1.top[0].closed_form_step_time_s <= res2.top[0].closed_form_step_time_s);
    CHECK(res2.top[0].layout.tp == 8 && res2.top[0].layout.pp == 16 &&
          res2.top[0].layout.dp == 128 && res2.top[0].layout.cp == 1);
    /* the published stage split: 126 layers do not divide by 16, so the ends are uneven */
    CHECK(res2.top[0].layout.first_stage_layers + res2.top[0].layout.last_stage_layers == 14);
    /* and interleaving is open to them (the planner models vpp with uneven ends) */
    CHECK(res2.top[0].layout.vpp > 1);
    check_returned(&open, &res1);
    check_returned(&pub, &res2);
    search_eval_destroy(eo);
    search_eval_destroy(epub);
}

/* A tiny space, every valid fitting layout simulated: the event simulator's best is the
 * search's choice. Run once open (pp 1 wins: the engines agree exactly there) and once
 * with a 4-stage pipeline forced, where bubbles and overlap make them differ. */
static void test_tiny_exhaustive(const char *name, const char *text)
{
    static struct spec_job job;
    if (!load_job(text, &job)) {
        CHECK(0);
        return;
    }
    struct search_space sp;
    struct search_evaluator ev;
    struct checker k;
    CHECK(search_space_from_job(&job, NULL, 0, false, &sp, NULL) == US_OK);
    checker_init(&k, &job, &sp, &ev);
    k.record = true;
    struct search_opts o = {.objective = US_OBJECTIVE_TIME, .threads = 1};
    CHECK(search_run(&sp, &ev, &o, &res2, NULL) == US_OK); /* records every priced layout */
    CHECK(k.mismatches == 0 && k.nseen == res2.estimated && k.nseen > 8);

    /* exhaustive: every priced layout through the event simulator */
    struct us_search_entry best;
    bool have = false;
    int better_than_8th = 0;
    double maxdiff = 0;
    for (size_t i = 0; i < k.nseen; i++) {
        struct search_metrics m, cf;
        memset(&m, 0, sizeof m);
        memset(&cf, 0, sizeof cf);
        CHECK(k.inner.refine(k.inner.user, NULL, &k.seen[i], &m));
        CHECK(search_eval_naive(k.e, &k.seen[i], &cf) == SEARCH_OK);
        maxdiff = fmax(maxdiff, fabs(m.step_s / cf.step_s - 1));
        struct us_search_entry e;
        memset(&e, 0, sizeof e);
        e.chips = k.seen[i].chips;
        e.layout = k.seen[i].lay;
        e.time_s = m.time_s;
        e.step_time_s = m.step_s;
        if (!have || search_entry_cmp(&e, &best, US_OBJECTIVE_TIME) < 0)
            best = e;
        have = true;
    }
    /* the search: closed form for all, the best 8 simulated */
    struct search_eval *e = NULL;
    CHECK(search_eval_create(&job, &sp, &e, &ev, NULL) == US_OK);
    o.refine = true;
    CHECK(search_run(&sp, &ev, &o, &res1, NULL) == US_OK);
    for (int i = 0; i < res1.ntop; i++)
        better_than_8th += res1.top[i].step_time_s <= best.step_time_s;
    printf("tiny space (%s): %llu layouts, %zu simulated exhaustively; the engines differ "
           "by up to %.1f%% on them\n",
           name, (unsigned long long)res1.space, k.nseen, 100 * maxdiff);
    print_entry("search's choice  ", &res1.top[0]);
    CHECK(have && res1.ntop > 0);
    if (have && res1.ntop > 0) {
        struct us_search_entry ex = res1.top[0];
        ex.layout = best.layout;
        ex.step_time_s = best.step_time_s;
        ex.engine = "event";
        print_entry("exhaustive best  ", &ex);
        CHECK(res1.top[0].chips == best.chips &&
              memcmp(&res1.top[0].layout, &best.layout, sizeof best.layout) == 0);
        CHECK(res1.top[0].time_s == best.time_s);
    }
    CHECK(better_than_8th >= 1);
    check_returned(&job, &res1);
    search_eval_destroy(e);
    search_eval_destroy(k.e);
    free(k.seen);
}

/* The public entry point: counts, notes, per-run basis, chip lists and infeasible jobs. */
static void test_public_api(void)
{
    struct us_ctx *ctx = us_ctx_create();
    struct us_job *job = NULL;
    struct us_diag d;
    const char *text = "model: llama3-8b\nsystem: dgx-h100\nchips: 32\n"
                       "training: {seq_len: 8192, global_batch: 64, dtype: bf16, tokens: 1e11}\n";
    CHECK(us_job_load_text(ctx, "api", text, strlen(text), NULL, 0, &job, &d) == US_OK);
    if (!job)
        return;
    const int64_t chips[] = {64, 16, 32, 16};
    struct us_search_options opt;
    memset(&opt, 0, sizeof opt);
    opt.objective = US_OBJECTIVE_COST;
    opt.top_k = 4;
    opt.threads = 2;
    opt.chips = chips;
    opt.nchips = 4;
    opt.closed_form_only = true;
    CHECK(us_search(ctx, job, &opt, &res1, &d) == US_OK);
    CHECK(res1.ntop == 4 && res1.per_run && res1.simulated == 0 && res1.nnotes >= 1);
    CHECK(res1.space == pruned_sum(&res1, false) + res1.estimated);
    bool seen16 = false, seen64 = false;
    for (int i = 0; i < res1.npareto; i++) {
        seen16 = seen16 || res1.pareto[i].chips == 16;
        seen64 = seen64 || res1.pareto[i].chips == 64;
    }
    CHECK(seen16 && seen64); /* fewer chips cost less, more chips finish sooner */
    check_returned(&job->spec, &res1);
    /* a deadline needs tokens; a model that fits nowhere is infeasible, with a reason */
    opt.nchips = 0;
    opt.chips = NULL;
    const char *huge = "model: llama3-405b\nsystem: dgx-h100\nchips: 8\n"
                       "training: {seq_len: 8192, global_batch: 8, dtype: bf16}\n";
    struct us_job *job2 = NULL;
    CHECK(us_job_load_text(ctx, "huge", huge, strlen(huge), NULL, 0, &job2, &d) == US_OK);
    if (job2) {
        opt.deadline_s = 86400;
        CHECK(us_search(ctx, job2, &opt, &res2, &d) == US_EINPUT);
        CHECK_STR(d.path, "training.tokens");
        opt.deadline_s = 0;
        CHECK(us_search(ctx, job2, &opt, &res2, &d) == US_INFEASIBLE);
        CHECK(res2.ntop == 0 && res2.nnotes >= 1 && strstr(res2.notes[0], "memory") != NULL);
        struct us_layout best;
        char reason[US_MSG_LEN];
        CHECK(search_fill(&job2->spec, NULL, &best, NULL, reason, &d) == US_INFEASIBLE);
        CHECK(strstr(reason, "memory") != NULL);
        us_job_destroy(job2);
    }
    struct us_layout best;
    char reason[US_MSG_LEN];
    CHECK(search_fill(&job->spec, NULL, &best, NULL, reason, &d) == US_OK);
    CHECK(best.tp * best.pp * best.cp * best.dp == 32 && reason[0] == '\0');
    CHECK(best.chosen_mask & (1u << US_FIELD_TP));
    us_job_destroy(job);
    us_ctx_destroy(ctx);
}

/* The best layout does not depend on how many are listed: the refined pool is the same for
 * every K up to SEARCH_REFINE_POOL, and the list is ordered by the refined figure (issue 14:
 * --top 1 and --top 5 gave different winners when only the K kept were refined). */
static void test_top_k_independent(void)
{
    struct search_space sp;
    struct fake f;
    struct search_evaluator ev;
    space_moe(&sp);
    fake_init(&f, 4.0e9);
    fake_evaluator(&f, &ev);
    struct search_opts o = {.objective = US_OBJECTIVE_TIME, .threads = 2, .refine = true};
    o.top_k = SEARCH_REFINE_POOL;
    CHECK(search_run(&sp, &ev, &o, &res2, NULL) == US_OK);
    CHECK(res2.ntop == SEARCH_REFINE_POOL);
    /* the fake reference engine reorders the closed form's list, or this test is empty */
    bool reordered = false;
    for (int i = 1; i < res2.ntop; i++) {
        CHECK(res2.top[i - 1].time_s <= res2.top[i].time_s);
        reordered = reordered ||
                    res2.top[i - 1].closed_form_step_time_s > res2.top[i].closed_form_step_time_s;
    }
    CHECK(reordered);
    const int ks[] = {1, 2, 5, 8};
    for (size_t j = 0; j < sizeof ks / sizeof ks[0]; j++) {
        o.top_k = ks[j];
        CHECK(search_run(&sp, &ev, &o, &res1, NULL) == US_OK);
        CHECK(res1.ntop == ks[j] && res1.simulated == SEARCH_REFINE_POOL);
        for (int i = 0; i < res1.ntop; i++) /* a prefix of the longest list */
            CHECK(memcmp(&res1.top[i], &res2.top[i], sizeof res1.top[i]) == 0);
    }
    pthread_mutex_destroy(&f.lock);
}

/* Failures that outpace progress make every run unbounded (time, cost, energy infinite):
 * the faster step must still rank first, and the result must say why. */
static enum search_verdict never_estimate(void *user, void *scratch, const struct search_cand *c,
                                          struct search_metrics *m)
{
    enum search_verdict v = fake_estimate(user, scratch, c, m);
    m->time_s = m->cost_usd = m->energy_J = HUGE_VAL;
    return v;
}

static void test_never_finishes(void)
{
    struct search_space sp;
    struct fake f;
    struct search_evaluator ev;
    space_moe(&sp);
    fake_init(&f, 4.0e9);
    fake_evaluator(&f, &ev);
    ev.estimate = never_estimate;
    ev.refine = NULL;
    for (int obj = US_OBJECTIVE_TIME; obj <= US_OBJECTIVE_ENERGY; obj++) {
        struct search_opts o = {.objective = (enum us_objective)obj, .threads = 2, .top_k = 6};
        CHECK(search_run(&sp, &ev, &o, &res1, NULL) == US_OK);
        CHECK(res1.ntop == 6);
        for (int i = 1; i < res1.ntop; i++)
            CHECK(res1.top[i - 1].step_time_s <= res1.top[i].step_time_s);
        bool noted = false;
        for (int i = 0; i < res1.nnotes; i++)
            noted = noted || strstr(res1.notes[i], "no layout finishes") != NULL;
        CHECK(noted);
    }
    /* the fastest step of the space is the one ranked first */
    ev.estimate = fake_estimate;
    struct search_opts o = {.objective = US_OBJECTIVE_TIME, .threads = 2, .top_k = 1};
    CHECK(search_run(&sp, &ev, &o, &res2, NULL) == US_OK);
    CHECK(res2.ntop == 1 && res1.ntop > 0 && res2.top[0].step_time_s == res1.top[0].step_time_s);
    pthread_mutex_destroy(&f.lock);
}

/* A framework that offers ZeRO 0..1 alone (neuron) leaves ZeRO-2/3 out of the space: the
 * worked example's 936 layouts become 936 / 4 x 2 = 468; a job that fixes zero keeps it (the
 * planner refuses it, with its reason). */
static void test_space_max_zero(void)
{
    struct search_space sp;
    struct fake f;
    struct search_evaluator ev;
    space_open(&sp, 4, 4, 2, 0, 4, 8, 4);
    sp.max_zero = 1;
    fake_init(&f, 1e30);
    fake_evaluator(&f, &ev);
    struct search_opts o = {.objective = US_OBJECTIVE_TIME, .threads = 1};
    CHECK(search_run(&sp, &ev, &o, &res1, NULL) == US_OK);
    CHECK(res1.space == 468);
    CHECK(res1.space == pruned_sum(&res1, false) + res1.estimated);
    for (int i = 0; i < res1.ntop; i++)
        CHECK(res1.top[i].layout.zero <= 1);
    sp.fixed.zero = 3;
    fake_init(&f, 1e30);
    CHECK(search_run(&sp, &ev, &o, &res1, NULL) == US_OK);
    CHECK(res1.space == 936 / 4);
    /* the real space of a Trainium job (neuron by default) */
    static struct spec_job job;
    CHECK(load_job("model: llama3-8b\nsystem: trn2-ultraserver\nchips: 64\n"
                   "training: {seq_len: 4096, global_batch: 64, dtype: bf16}\n",
                   &job));
    CHECK(search_space_from_job(&job, NULL, 0, false, &sp, NULL) == US_OK);
    CHECK(sp.max_zero == 1);
}

int main(void)
{
    test_divisors();
    test_splits();
    test_space_count();
    test_space_max_zero();
    test_uneven_vpp();
    test_memory_prune();
    test_threads_identical();
    test_brute_force();
    test_refine_fixed_constraints();
    test_top_k_independent();
    test_never_finishes();
    test_domain();
    test_progress_and_errors();
    test_real_cache_and_threads();
    test_llama3_published();
    test_tiny_exhaustive("llama3-8b / 8 dgx-h100",
                         "model: llama3-8b\nsystem: dgx-h100\nchips: 8\n"
                         "parallel: {zero: 1}\n"
                         "training: {seq_len: 4096, global_batch: 16, dtype: bf16}\n");
    test_tiny_exhaustive("llama3-8b / 16 dgx-h100, pp 4",
                         "model: llama3-8b\nsystem: dgx-h100\nchips: 16\n"
                         "parallel: {pp: 4, zero: 1}\n"
                         "training: {seq_len: 4096, global_batch: 32, dtype: bf16}\n");
    test_public_api();
    return test_summary("test_search");
}
