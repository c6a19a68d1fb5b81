/* search: the engine - enumerate the layouts a job leaves open, prune (divisibility,
 * scale-up domain, memory, dominance), price the survivors with an evaluator on a static
 * partition over threads, merge by a strict total order, refine the best K, and keep the
 * Pareto front. Knows nothing about the cost model: tests drive it with a fake evaluator.
 * Not here: the real evaluator (search_eval.c) and the public wrapper (search_api.c). */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "search/search.h"

#define MAX_DIVISORS 8192 /* every n <= 2^40 has fewer (963761198400 has 6720) */
#define MAX_SPLITS   64
#define MAX_THREADS  256
/* Degree combinations one search may walk (about a second of enumeration): 2^20 chips with
 * 512 experts is 17,710; only chip counts with thousands of divisors come near it. */
#define MAX_TUPLE_VISITS 20000000ull

const char *search_objective_name(enum us_objective o)
{
    static const char *const n[] = {"time", "cost", "energy"};
    return (unsigned)o < 3 ? n[o] : "?";
}

const char *search_prune_name(enum us_prune p)
{
    static const char *const n[] = {"divisibility", "domain",    "invalid",
                                    "memory",       "dominated", "constraint"};
    return (unsigned)p < US_PRUNE_COUNT ? n[p] : "?";
}

/* --- small pieces ---------------------------------------------------------------------- */

int search_divisors(int64_t n, int64_t *out, int max)
{
    int k = 0;
    if (n < 1)
        return 0;
    int64_t root = 1;
    for (int64_t i = 1; i <= n / i; i++) {
        root = i;
        if (n % i == 0 && k < max)
            out[k++] = i;
    }
    for (int64_t i = root; i >= 1; i--)
        if (n % i == 0 && i != n / i && k < max)
            out[k++] = n / i;
    return k;
}

int search_stage_splits(int layers, int pp, int (*out)[2], int max)
{
    int n = 0;
    if (max < 1)
        return 0;
    if (pp <= 1 || layers % pp == 0 || layers < pp) {
        out[n][0] = 0;
        out[n][1] = 0;
        return 1;
    }
    /* Layers do not divide: middle stages hold m = ceil(L/pp) and the two ends share the
     * rest r = L - (pp-2)m, each holding 1..m (the Llama 3 405B layout: 126 layers on 16
     * stages = 7 + 14x8 + 7, Dubey et al. 2024, sec. 3.3.2). With pp = 2, r = L. */
    int m = (layers + pp - 1) / pp;
    int r = layers - (pp - 2) * m;
    for (int f = 1; f <= m && n < max; f++) {
        int l = r - f;
        if (l >= 1 && l <= m) {
            out[n][0] = f;
            out[n][1] = l;
            n++;
        }
    }
    if (n == 0) { /* no uneven split either: keep "even" so the count shows the prune */
        out[0][0] = 0;
        out[0][1] = 0;
        n = 1;
    }
    return n;
}

#define LAYOUT_KEY_LEN 13

/* A layout's fields in the fixed sequence every tie is broken by. */
static void layout_key(const struct us_layout *l, int k[LAYOUT_KEY_LEN])
{
    k[0] = l->tp;
    k[1] = l->pp;
    k[2] = l->dp;
    k[3] = l->cp;
    k[4] = l->ep;
    k[5] = l->vpp;
    k[6] = l->zero;
    k[7] = (int)l->sequence_parallel;
    k[8] = (int)l->recompute;
    k[9] = l->micro_batch;
    k[10] = l->first_stage_layers;
    k[11] = l->last_stage_layers;
    k[12] = (int)l->schedule;
}

/* The strict order of layouts used for every tie: chips, then the key above. */
static int layout_key_cmp(int64_t ca, const struct us_layout *a, int64_t cb,
                          const struct us_layout *b)
{
    if (ca != cb)
        return ca < cb ? -1 : 1;
    int ka[LAYOUT_KEY_LEN], kb[LAYOUT_KEY_LEN];
    layout_key(a, ka);
    layout_key(b, kb);
    for (size_t i = 0; i < LAYOUT_KEY_LEN; i++)
        if (ka[i] != kb[i])
            return ka[i] < kb[i] ? -1 : 1;
    return 0;
}

/* NaN sorts last so a broken evaluation never wins. */
static int num_cmp(double a, double b)
{
    bool na = isnan(a), nb = isnan(b);
    if (na || nb)
        return na == nb ? 0 : (na ? 1 : -1);
    return a < b ? -1 : (a > b ? 1 : 0);
}

static double objective_value(const struct us_search_entry *e, enum us_objective obj)
{
    switch (obj) {
    case US_OBJECTIVE_COST:
        return e->cost_usd;
    case US_OBJECTIVE_ENERGY:
        return e->energy_J;
    case US_OBJECTIVE_TIME:
    default:
        return e->time_s;
    }
}

int search_entry_cmp(const struct us_search_entry *a, const struct us_search_entry *b,
                     enum us_objective obj)
{
    int c = num_cmp(objective_value(a, obj), objective_value(b, obj));
    if (c)
        return c;
    if ((c = num_cmp(a->time_s, b->time_s)) != 0)
        return c;
    /* layouts that cannot finish (failures outpace progress: time, cost and energy are all
     * infinite) tie above; the faster step still ranks first */
    if ((c = num_cmp(a->step_time_s, b->step_time_s)) != 0)
        return c;
    return layout_key_cmp(a->chips, &a->layout, b->chips, &b->layout);
}

bool search_dominates(const struct us_search_entry *a, const struct us_search_entry *b)
{
    const double va[3] = {a->time_s, a->cost_usd, a->energy_J};
    const double vb[3] = {b->time_s, b->cost_usd, b->energy_J};
    bool strictly = false;
    for (int i = 0; i < 3; i++) {
        if (va[i] > vb[i])
            return false;
        if (va[i] < vb[i])
            strictly = true;
    }
    if (strictly)
        return true;
    return layout_key_cmp(a->chips, &a->layout, b->chips, &b->layout) < 0;
}

static void add_note(struct us_search_result *out, const char *fmt, const char *arg)
{
    if (out->nnotes >= US_SEARCH_MAX_NOTES)
        return;
    core_fmt(out->notes[out->nnotes++], US_MSG_LEN, fmt, arg);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* --- the space --------------------------------------------------------------------------- */

enum us_status search_space_from_job(const struct spec_job *job, const int64_t *chips,
                                     size_t nchips, bool tp_beyond_domain, struct search_space *sp,
                                     struct us_diag *d)
{
    memset(sp, 0, sizeof *sp);
    if (!chips || nchips == 0) {
        chips = &job->chips;
        nchips = 1;
    }
    if (nchips > SEARCH_MAX_CHIPS)
        return core_diag_set(d, NULL, 0, 0, "search.chips", "%zu chip counts; at most %d", nchips,
                             SEARCH_MAX_CHIPS);
    for (size_t i = 0; i < nchips; i++) {
        int64_t c = chips[i];
        if (c < 1 || c > ((int64_t)1 << 40))
            return core_diag_set(d, NULL, 0, 0, "search.chips",
                                 "chip count %lld is out of range (1..2^40)", (long long)c);
        int j = sp->nchips; /* insertion, dropping duplicates */
        bool dup = false;
        for (int k = 0; k < sp->nchips; k++)
            dup = dup || sp->chips[k] == c;
        if (dup)
            continue;
        while (j > 0 && sp->chips[j - 1] > c) {
            sp->chips[j] = sp->chips[j - 1];
            j--;
        }
        sp->chips[j] = c;
        sp->nchips++;
    }
    sp->layers = job->model.layers;
    sp->heads = job->model.heads;
    sp->experts = job->model.has_moe ? job->model.moe.experts : 0;
    sp->kv_heads = job->model.has_mla ? 0 : job->model.kv_heads;
    sp->ffn_hidden = job->model.ffn_hidden;
    sp->expert_ffn = sp->experts > 0 ? job->model.moe.expert_ffn_hidden : 0;
    sp->global_batch = job->train.global_batch;
    sp->seq_len = job->train.seq_len;
    sp->domain = job->system.up.chips;
    sp->fixed = job->par;
    sp->fixed_micro_batch = job->train.micro_batch;
    sp->tp_beyond_domain = tp_beyond_domain;
    sp->max_zero = spec_framework_max_zero(job->train.framework);
    return US_OK;
}

/* One degree tuple: the unit of work the threads share. */
struct tuple {
    int64_t chips;
    int tp, cp, pp, dp, ep;
};

/* The open values of the fields below the degrees, shared by all tuples. */
struct inner_doms {
    int64_t mb[MAX_DIVISORS];
    int nmb;
    int zero[4], nzero;
    int sp[2], nsp;
    int rc[3], nrc;
};

static void inner_doms_init(const struct search_space *sp, struct inner_doms *in)
{
    if (sp->fixed_micro_batch > 0) {
        in->mb[0] = sp->fixed_micro_batch;
        in->nmb = 1;
    } else {
        in->nmb = search_divisors(sp->global_batch, in->mb, MAX_DIVISORS);
    }
    /* An open ZeRO stage takes the framework's stages (a fixed one is the planner's to
     * refuse, with its reason). */
    int zmax = sp->max_zero > 0 ? US_MIN(sp->max_zero, 3) : 3;
    in->nzero = 0;
    for (int z = 0; z <= 3; z++)
        if (sp->fixed.zero == z || (sp->fixed.zero == SPEC_UNSET && z <= zmax))
            in->zero[in->nzero++] = z;
    in->nsp = 0;
    for (int s = 0; s <= 1; s++)
        if (sp->fixed.sequence_parallel == SPEC_UNSET || sp->fixed.sequence_parallel == s)
            in->sp[in->nsp++] = s;
    in->nrc = 0; /* ascending time, descending memory: the order dominance relies on */
    for (int r = US_RECOMPUTE_NONE; r <= US_RECOMPUTE_FULL; r++)
        if (sp->fixed.recompute == SPEC_UNSET || sp->fixed.recompute == r)
            in->rc[in->nrc++] = r;
}

/* Stage splits for pp (the job's pair when it fixes one). */
static int splits_for(const struct search_space *sp, int pp, int (*out)[2])
{
    if (sp->fixed.first_stage_layers > 0 || sp->fixed.last_stage_layers > 0) {
        out[0][0] = sp->fixed.first_stage_layers;
        out[0][1] = sp->fixed.last_stage_layers;
        return 1;
    }
    return search_stage_splits(sp->layers, pp, out, MAX_SPLITS);
}

/* Virtual stages per chip the planner accepts for a stage split (docs/MODEL.md 2.2): v
 * dividing the middle stages' layers, with each end stage either divisible by v too or one
 * end chunk short (plan_end_chunk_layers). */
static int vpp_for(const struct search_space *sp, int pp, const int split[2], int64_t *out)
{
    if (sp->fixed.vpp != SPEC_DEGREE_UNSET) {
        out[0] = sp->fixed.vpp;
        return 1;
    }
    if (pp <= 1 || sp->layers < pp) {
        out[0] = 1;
        return 1;
    }
    if (split[0] == 0 && split[1] == 0) {
        if (sp->layers % pp) {
            out[0] = 1; /* pruned for divisibility: keep one so the count shows it */
            return 1;
        }
        return search_divisors(sp->layers / pp, out, MAX_DIVISORS);
    }
    int F = split[0], Ls = split[1];
    int rest_stages = pp - (F > 0) - (Ls > 0), rest = sp->layers - F - Ls;
    if (rest < 0 || (rest_stages > 0 && (rest % rest_stages != 0 || rest / rest_stages < 1)) ||
        (rest_stages == 0 && rest != 0)) {
        out[0] = 1; /* the planner refuses the split itself */
        return 1;
    }
    int mid = rest_stages > 0 ? rest / rest_stages : 0;
    int first = F > 0 ? F : mid, last = Ls > 0 ? Ls : mid;
    int64_t cand[2048]; /* an int has at most 1,600 divisors */
    int nc = search_divisors(mid > 0 ? mid : first, cand, 2048), n = 0;
    for (int i = 0; i < nc; i++) {
        int v = (int)cand[i], other;
        if (v == 1 || (plan_end_chunk_layers(first, mid / v, v, &other) >= 0 &&
                       plan_end_chunk_layers(last, mid / v, v, &other) >= 0))
            out[n++] = v;
    }
    return n;
}

/* Layouts below one tuple: every split, vpp, zero, sp, micro-batch and recompute. */
static uint64_t tuple_leaves(const struct search_space *sp, const struct inner_doms *in, int pp)
{
    int splits[MAX_SPLITS][2];
    int64_t v[MAX_DIVISORS];
    int ns = splits_for(sp, pp, splits);
    uint64_t per = (uint64_t)in->nzero * (uint64_t)in->nsp * (uint64_t)in->nmb * (uint64_t)in->nrc;
    uint64_t n = 0;
    for (int i = 0; i < ns; i++)
        n += (uint64_t)vpp_for(sp, pp, splits[i], v) * per;
    return n;
}

/* Why a tuple is dropped before any layout below it is priced; US_PRUNE_COUNT = kept.
 * The divisibility rules mirror the planner's (parallel/plan.c, Megatron's); the planner
 * stays the authority and sees every layout that passes. */
static enum us_prune tuple_verdict(const struct search_space *sp, const struct tuple *t)
{
    const struct spec_parallel *f = &sp->fixed;
    int tp = t->tp;
    if (sp->heads % tp || (sp->ffn_hidden > 0 && sp->ffn_hidden % tp) ||
        (sp->expert_ffn > 0 && sp->expert_ffn % tp))
        return US_PRUNE_DIVISIBILITY;
    if (sp->kv_heads > 0 && sp->kv_heads % tp && tp % sp->kv_heads)
        return US_PRUNE_DIVISIBILITY; /* GQA: tp divides kv heads or replicates them */
    if (t->cp > 1 && sp->seq_len % (2 * t->cp))
        return US_PRUNE_DIVISIBILITY; /* load-balanced causal CP cuts 2*cp chunks */
    if (t->pp > sp->layers)
        return US_PRUNE_DIVISIBILITY;
    if (f->dp > 0 && f->dp != t->dp)
        return US_PRUNE_DIVISIBILITY;
    if (t->dp > sp->global_batch || sp->global_batch % t->dp)
        return US_PRUNE_DIVISIBILITY;
    if (sp->experts > 0 ? sp->experts % t->ep != 0 : t->ep != 1)
        return US_PRUNE_DIVISIBILITY;
    if (((int64_t)t->dp * t->cp) % t->ep)
        return US_PRUNE_DIVISIBILITY; /* EP groups are carved out of dp x cp (Megatron-Core) */
    if (f->tp == SPEC_DEGREE_UNSET && !sp->tp_beyond_domain && (tp > sp->domain || sp->domain % tp))
        return US_PRUNE_DOMAIN;
    return US_PRUNE_COUNT;
}

/* The degree tuples of the space, in a fixed order (chips, tp, cp, ep, pp) that keeps the
 * layouts sharing a model split next to each other. Counts what is pruned here. */
struct tuple_list {
    struct tuple *v;
    size_t n, cap;
    uint64_t space;
    uint64_t pruned[US_PRUNE_COUNT];
};

static bool tuple_push(struct tuple_list *l, const struct tuple *t)
{
    struct tuple *v = core_grow(l->v, l->n, &l->cap, sizeof *v, 256);
    if (!v)
        return false;
    l->v = v;
    l->v[l->n++] = *t;
    return true;
}

/* Returns 0, or -1 when out of memory, or -2 when the space is too large to walk. */
static int enumerate_tuples(const struct search_space *sp, const struct inner_doms *in,
                            struct tuple_list *l)
{
    uint64_t visits = 0, cap = sp->max_tuples ? sp->max_tuples : MAX_TUPLE_VISITS;
    int64_t dtp[MAX_DIVISORS], dcp[MAX_DIVISORS], dpp[MAX_DIVISORS], dep[MAX_DIVISORS];
    int nep;
    if (sp->fixed.ep != SPEC_DEGREE_UNSET) {
        dep[0] = sp->fixed.ep;
        nep = 1;
    } else if (sp->experts > 0) {
        nep = search_divisors(sp->experts, dep, MAX_DIVISORS);
    } else {
        dep[0] = 1;
        nep = 1;
    }
    for (int c = 0; c < sp->nchips; c++) {
        int64_t chips = sp->chips[c];
        int ntp = search_divisors(chips, dtp, MAX_DIVISORS);
        for (int i = 0; i < ntp; i++) {
            if ((sp->fixed.tp != SPEC_DEGREE_UNSET && dtp[i] != sp->fixed.tp) || dtp[i] > INT32_MAX)
                continue;
            int64_t r1 = chips / dtp[i];
            int ncp = search_divisors(r1, dcp, MAX_DIVISORS);
            for (int j = 0; j < ncp; j++) {
                if ((sp->fixed.cp != SPEC_DEGREE_UNSET && dcp[j] != sp->fixed.cp) ||
                    dcp[j] > INT32_MAX)
                    continue;
                int64_t r2 = r1 / dcp[j];
                int npp = search_divisors(r2, dpp, MAX_DIVISORS);
                for (int e = 0; e < nep; e++) {
                    for (int k = 0; k < npp; k++) {
                        if ((sp->fixed.pp != SPEC_DEGREE_UNSET && dpp[k] != sp->fixed.pp) ||
                            dpp[k] > INT32_MAX || r2 / dpp[k] > INT32_MAX)
                            continue;
                        if (++visits > cap)
                            return -2;
                        struct tuple t = {chips,       (int)dtp[i],        (int)dcp[j],
                                          (int)dpp[k], (int)(r2 / dpp[k]), (int)dep[e]};
                        uint64_t leaves = tuple_leaves(sp, in, t.pp);
                        l->space += leaves;
                        enum us_prune why = tuple_verdict(sp, &t);
                        if (why != US_PRUNE_COUNT)
                            l->pruned[why] += leaves;
                        else if (!tuple_push(l, &t))
                            return -1;
                    }
                }
            }
        }
    }
    return 0;
}

/* --- per-thread work ------------------------------------------------------------------- */

struct front {
    struct us_search_entry *v;
    size_t n, cap;
};

/* Each thread writes its counts per layout: the pads keep two workers' fields off one cache
 * line (false sharing made 2 threads slower than 1). */
#define WORKER_PAD 64
struct worker {
    char pad_head[WORKER_PAD];
    void *scratch;
    struct us_search_entry top[US_SEARCH_MAX_TOP];
    int ntop;
    struct front front;
    uint64_t pruned[US_PRUNE_COUNT];
    uint64_t estimated, simulated;
    bool oom;
    char pad_tail[WORKER_PAD];
};

struct shared {
    const struct search_space *sp;
    const struct search_evaluator *ev;
    const struct search_opts *opt;
    const struct inner_doms *in;
    const struct tuple *tuples;
    size_t ntuples;
    int nthreads, top_k;
    struct worker *w;
    atomic_ullong done;
    atomic_size_t next; /* the first tuple no thread has taken */
    /* refine phase */
    struct us_search_entry *refine;
    bool *refined_ok;
    int nrefine;
};

static void top_insert(struct worker *w, int k, const struct us_search_entry *e,
                       enum us_objective obj)
{
    if (w->ntop == k && search_entry_cmp(e, &w->top[k - 1], obj) >= 0)
        return;
    int i = w->ntop < k ? w->ntop++ : k - 1;
    while (i > 0 && search_entry_cmp(e, &w->top[i - 1], obj) < 0) {
        w->top[i] = w->top[i - 1];
        i--;
    }
    w->top[i] = *e;
}

/* Adds e to a Pareto front unless a member dominates it; drops members it dominates. */
static bool front_insert(struct front *f, const struct us_search_entry *e)
{
    for (size_t i = 0; i < f->n; i++)
        if (search_dominates(&f->v[i], e))
            return true;
    size_t j = 0;
    for (size_t i = 0; i < f->n; i++)
        if (!search_dominates(e, &f->v[i]))
            f->v[j++] = f->v[i];
    f->n = j;
    struct us_search_entry *v = core_grow(f->v, f->n, &f->cap, sizeof *v, 64);
    if (!v)
        return false;
    f->v = v;
    f->v[f->n++] = *e;
    return true;
}

static void entry_from(struct us_search_entry *e, const struct search_cand *c,
                       const struct search_metrics *m, const char *engine)
{
    memset(e, 0, sizeof *e);
    e->chips = c->chips;
    e->layout = c->lay;
    if (m->tp_overlap != US_OVERLAP_JOB)
        e->layout.tp_overlap = m->tp_overlap;
    e->engine = engine;
    e->step_time_s = m->step_s;
    e->closed_form_step_time_s = m->step_s;
    e->time_s = m->time_s;
    e->cost_usd = m->cost_usd;
    e->energy_J = m->energy_J;
    e->mfu = m->mfu;
    e->peak_memory_B = m->peak_B;
    e->capacity_B = m->capacity_B;
}

static bool meets_constraints(const struct search_opts *opt, const struct us_search_entry *e)
{
    if (opt->deadline_s > 0 && !(e->time_s <= opt->deadline_s))
        return false;
    if (opt->budget_usd > 0 && !(e->cost_usd <= opt->budget_usd))
        return false;
    return true;
}

static unsigned chosen_mask(const struct search_space *sp)
{
    struct us_layout scratch;
    return spec_layout_fixed(&sp->fixed, sp->fixed_micro_batch, &scratch);
}

/* Everything below one degree tuple. Dominance used here:
 *  - recompute runs none -> selective -> full (more FLOPs, less memory): once one fits,
 *    the heavier ones are slower, costlier and hungrier for energy for the same layout;
 *  - micro-batches ascend: when no recompute fits at b, nothing fits at b' > b
 *    (activations grow with b; the other terms do not shrink);
 *  - sequence parallelism with tp = 1 is the same layout as without. */
static void expand_tuple(struct shared *sh, struct worker *w, const struct tuple *t)
{
    const struct search_space *sp = sh->sp;
    const struct inner_doms *in = sh->in;
    const struct search_evaluator *ev = sh->ev;
    enum us_objective obj = sh->opt->objective;
    int splits[MAX_SPLITS][2];
    int64_t vpps[MAX_DIVISORS];
    int ns = splits_for(sp, t->pp, splits);
    uint64_t nrc = (uint64_t)in->nrc, nz = (uint64_t)in->nzero;
    struct search_cand c;
    memset(&c, 0, sizeof c);
    c.chips = t->chips;
    c.lay.tp = t->tp;
    c.lay.pp = t->pp;
    c.lay.dp = t->dp;
    c.lay.cp = t->cp;
    c.lay.ep = t->ep;
    c.lay.chosen_mask = chosen_mask(sp);
    int per_replica = sp->global_batch / t->dp;

    for (int s = 0; s < ns; s++) {
        int nv = vpp_for(sp, t->pp, splits[s], vpps);
        if (splits[s][0] == 0 && splits[s][1] == 0 && sp->layers % t->pp) {
            w->pruned[US_PRUNE_DIVISIBILITY] +=
                (uint64_t)nv * nz * (uint64_t)in->nsp * (uint64_t)in->nmb * nrc;
            continue;
        }
        c.lay.first_stage_layers = splits[s][0];
        c.lay.last_stage_layers = splits[s][1];
        for (int v = 0; v < nv; v++) {
            c.lay.vpp = (int)vpps[v];
            if (sp->fixed.schedule != SPEC_UNSET)
                c.lay.schedule = (enum us_schedule)sp->fixed.schedule;
            else
                c.lay.schedule = c.lay.vpp > 1 ? US_SCHEDULE_INTERLEAVED : US_SCHEDULE_1F1B;
            for (int q = 0; q < in->nsp; q++) {
                c.lay.sequence_parallel = in->sp[q] != 0;
                if (sp->fixed.sequence_parallel == SPEC_UNSET && t->tp == 1 && in->sp[q]) {
                    w->pruned[US_PRUNE_DOMINATED] += nz * (uint64_t)in->nmb * nrc;
                    continue;
                }
                if (sp->experts > 0 && t->tp > 1 && !in->sp[q]) {
                    /* Megatron's MoE needs sequence parallelism with tp > 1 (plan.c) */
                    w->pruned[US_PRUNE_INVALID] += nz * (uint64_t)in->nmb * nrc;
                    continue;
                }
                /* per ZeRO stage: no recompute fitted at a smaller micro-batch */
                bool nofit_above[4] = {false, false, false, false};
                for (int b = 0; b < in->nmb; b++) {
                    uint64_t live = 0; /* ZeRO stages still open at this b */
                    for (int z = 0; z < in->nzero; z++) {
                        if (nofit_above[z])
                            w->pruned[US_PRUNE_MEMORY] += nrc;
                        else
                            live++;
                    }
                    if (live == 0)
                        continue;
                    if (in->mb[b] > per_replica || per_replica % in->mb[b]) {
                        w->pruned[US_PRUNE_DIVISIBILITY] += live * nrc;
                        continue;
                    }
                    c.lay.micro_batch = (int)in->mb[b];
                    c.lay.microbatches = per_replica / c.lay.micro_batch;
                    if (c.lay.schedule == US_SCHEDULE_INTERLEAVED && c.lay.microbatches % t->pp) {
                        /* Megatron's interleaved schedule needs m to be a multiple of pp
                         * (plan.c); not a memory verdict, so larger b still get a try */
                        w->pruned[US_PRUNE_INVALID] += live * nrc;
                        continue;
                    }
                    bool fitted[4] = {false, false, false, false};
                    bool all_nofit[4] = {true, true, true, true};
                    for (int r = 0; r < in->nrc; r++) {
                        c.lay.recompute = (enum us_recompute)in->rc[r];
                        /* ZeRO innermost: consecutive calls differ in the ZeRO stage alone,
                         * which the evaluator's sibling cache relies on */
                        for (int z = 0; z < in->nzero; z++) {
                            if (nofit_above[z])
                                continue;
                            if (fitted[z]) {
                                w->pruned[US_PRUNE_DOMINATED]++;
                                continue;
                            }
                            c.lay.zero = in->zero[z];
                            struct search_metrics m;
                            memset(&m, 0, sizeof m);
                            enum search_verdict vd = ev->estimate(ev->user, w->scratch, &c, &m);
                            if (vd == SEARCH_INVALID) {
                                w->pruned[US_PRUNE_INVALID]++;
                                all_nofit[z] = false;
                                continue;
                            }
                            if (vd == SEARCH_NOFIT) {
                                w->pruned[US_PRUNE_MEMORY]++;
                                continue;
                            }
                            fitted[z] = true;
                            all_nofit[z] = false;
                            w->estimated++;
                            struct us_search_entry e;
                            entry_from(&e, &c, &m, ev->engine_estimate);
                            if (!meets_constraints(sh->opt, &e)) {
                                w->pruned[US_PRUNE_CONSTRAINT]++;
                                continue;
                            }
                            top_insert(w, sh->top_k, &e, obj);
                            if (!front_insert(&w->front, &e))
                                w->oom = true;
                        }
                    }
                    for (int z = 0; z < in->nzero; z++)
                        nofit_above[z] = nofit_above[z] || all_nofit[z];
                }
            }
        }
    }
}

static void report_progress(struct shared *sh, const char *phase, uint64_t done, uint64_t total)
{
    if (sh->opt->progress)
        sh->opt->progress(sh->opt->progress_user, phase, done, total);
}

static bool same_group(const struct tuple *a, const struct tuple *b)
{
    return a->chips == b->chips && a->tp == b->tp && a->cp == b->cp && a->ep == b->ep;
}

static void run_estimate(struct shared *sh, int tid)
{
    struct worker *w = &sh->w[tid];
    uint64_t step = sh->ntuples / 100 + 1, last = 0;
    /* Threads take whole groups of tuples - one (chips, tp, cp, ep), every pipeline depth,
     * consecutive in the list - one at a time from a shared cursor: a thread's caches (model
     * splits, step costs) serve a group's depths, and a faster core takes more groups. Which
     * thread prices a layout does not change its answer (the evaluator is a pure function),
     * and the merge below does not depend on it either. */
    for (;;) {
        size_t i = atomic_load(&sh->next), j = i + 1;
        if (i >= sh->ntuples)
            break;
        while (j < sh->ntuples && same_group(&sh->tuples[j], &sh->tuples[i]))
            j++;
        if (!atomic_compare_exchange_weak(&sh->next, &i, j))
            continue;
        for (size_t k = i; k < j; k++)
            expand_tuple(sh, w, &sh->tuples[k]);
        uint64_t done = atomic_fetch_add(&sh->done, (unsigned long long)(j - i)) + (j - i);
        if (tid == 0 && done - last >= step) {
            last = done;
            report_progress(sh, "estimate", done, sh->ntuples);
        }
    }
}

static void run_refine(struct shared *sh, int tid)
{
    struct worker *w = &sh->w[tid];
    for (int i = tid; i < sh->nrefine; i += sh->nthreads) {
        struct us_search_entry *e = &sh->refine[i];
        struct search_cand c = {e->chips, e->layout};
        struct search_metrics m;
        memset(&m, 0, sizeof m);
        m.peak_B = e->peak_memory_B;
        m.capacity_B = e->capacity_B;
        sh->refined_ok[i] = sh->ev->refine(sh->ev->user, w->scratch, &c, &m);
        if (sh->refined_ok[i]) {
            w->simulated++;
            e->engine = sh->ev->engine_refine;
            e->step_time_s = m.step_s;
            e->time_s = m.time_s;
            e->cost_usd = m.cost_usd;
            e->energy_J = m.energy_J;
            e->mfu = m.mfu;
            if (m.peak_B > 0)
                e->peak_memory_B = m.peak_B;
        }
    }
}

enum phase { PHASE_ESTIMATE, PHASE_REFINE };
struct thread_arg {
    struct shared *sh;
    int tid;
    enum phase phase;
};

static void *thread_main(void *p)
{
    struct thread_arg *a = p;
    if (a->phase == PHASE_ESTIMATE)
        run_estimate(a->sh, a->tid);
    else
        run_refine(a->sh, a->tid);
    return NULL;
}

/* Runs one phase on nthreads threads; the caller's thread is thread 0. A thread that cannot
 * be started has its share run by the caller afterwards: same partition, same result. */
static void run_phase(struct shared *sh, enum phase phase)
{
    pthread_t th[MAX_THREADS];
    struct thread_arg args[MAX_THREADS];
    bool started[MAX_THREADS];
    const int n = sh->nthreads;
    US_ASSERT(n >= 1 && n <= MAX_THREADS, "threads %d", n);
    for (int t = 0; t < n; t++) {
        args[t] = (struct thread_arg){sh, t, phase};
        started[t] = t > 0 && pthread_create(&th[t], NULL, thread_main, &args[t]) == 0;
    }
    thread_main(&args[0]);
    for (int t = 1; t < n; t++) {
        if (started[t])
            pthread_join(th[t], NULL);
        else
            thread_main(&args[t]);
    }
}

static int online_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (n > MAX_THREADS ? MAX_THREADS : (int)n);
}

static void sort_entries(struct us_search_entry *v, size_t n, enum us_objective obj)
{
    for (size_t i = 1; i < n; i++) {
        struct us_search_entry x = v[i];
        size_t j = i;
        while (j > 0 && search_entry_cmp(&x, &v[j - 1], obj) < 0) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

static bool same_layout(const struct us_search_entry *a, const struct us_search_entry *b)
{
    return layout_key_cmp(a->chips, &a->layout, b->chips, &b->layout) == 0;
}

/* Front of the union of the per-thread fronts = front of all points (the dominance relation,
 * ties broken by key, is a strict partial order). Sorted fastest first. */
static bool merge_fronts(struct worker *w, int nthreads, struct front *all)
{
    memset(all, 0, sizeof *all);
    for (int t = 0; t < nthreads; t++)
        for (size_t i = 0; i < w[t].front.n; i++)
            if (!front_insert(all, &w[t].front.v[i]))
                return false;
    sort_entries(all->v, all->n, US_OBJECTIVE_TIME);
    return true;
}

enum us_status search_run(const struct search_space *sp, const struct search_evaluator *ev,
                          const struct search_opts *opt, struct us_search_result *out,
                          struct us_diag *d)
{
    double t0 = now_s();
    memset(out, 0, sizeof *out);
    out->objective = opt->objective;
    if ((unsigned)opt->objective > US_OBJECTIVE_ENERGY)
        return core_diag_set(d, NULL, 0, 0, "search.objective", "unknown objective %d",
                             (int)opt->objective);
    if (opt->top_k < 0 || opt->top_k > US_SEARCH_MAX_TOP)
        return core_diag_set(d, NULL, 0, 0, "search.top", "top %d is out of range (1..%d)",
                             opt->top_k, US_SEARCH_MAX_TOP);
    if (opt->threads < 0)
        return core_diag_set(d, NULL, 0, 0, "search.threads", "threads %d is negative",
                             opt->threads);
    if (sp->nchips < 1 || sp->layers < 1 || sp->heads < 1 || sp->global_batch < 1 ||
        sp->seq_len < 1 || sp->domain < 1)
        return core_diag_set(d, NULL, 0, 0, "search", "the job is not a searchable space");

    struct inner_doms *in = malloc(sizeof *in);
    struct tuple_list tl;
    memset(&tl, 0, sizeof tl);
    if (!in)
        return core_diag_status(d, US_ENOMEM, NULL, 0, 0, "search", "out of memory");
    inner_doms_init(sp, in);
    int er = enumerate_tuples(sp, in, &tl);
    if (er != 0) {
        free(tl.v);
        free(in);
        if (er == -2)
            return core_diag_set(
                d, NULL, 0, 0, "parallel",
                "the layout space has more than %llu combinations of tp, cp, "
                "pp and ep; fix some of them in the job",
                (unsigned long long)(sp->max_tuples ? sp->max_tuples : MAX_TUPLE_VISITS));
        return core_diag_status(d, US_ENOMEM, NULL, 0, 0, "search", "out of memory");
    }
    double t1 = now_s();
    out->enumerate_s = t1 - t0;
    out->space = tl.space;
    for (int r = 0; r < US_PRUNE_COUNT; r++)
        out->pruned[r] = tl.pruned[r];

    int nthreads = opt->threads > 0 ? opt->threads : online_cores();
    nthreads = nthreads > MAX_THREADS ? MAX_THREADS : nthreads;
    out->threads = nthreads;
    struct worker *w = calloc((size_t)nthreads, sizeof *w);
    if (!w) {
        free(tl.v);
        free(in);
        return core_diag_status(d, US_ENOMEM, NULL, 0, 0, "search", "out of memory");
    }
    bool no_scratch = false;
    for (int t = 0; t < nthreads; t++) {
        w[t].scratch = ev->thread_init ? ev->thread_init(ev->user) : NULL;
        no_scratch = no_scratch || (ev->thread_init && !w[t].scratch);
    }
    if (no_scratch) /* the evaluators need their scratch: no phase runs without it */
        goto fail_oom;

    struct shared sh;
    memset(&sh, 0, sizeof sh);
    sh.sp = sp;
    sh.ev = ev;
    sh.opt = opt;
    sh.in = in;
    sh.tuples = tl.v;
    sh.ntuples = tl.n;
    sh.nthreads = nthreads;
    const int top_k = opt->top_k > 0 ? opt->top_k : SEARCH_DEFAULT_TOP_K;
    /* what each thread keeps: the refinement pool when refining, so that the best layout
     * does not depend on top_k */
    sh.top_k = opt->refine && ev->refine && top_k < SEARCH_REFINE_POOL ? SEARCH_REFINE_POOL : top_k;
    sh.w = w;
    atomic_init(&sh.done, 0);
    atomic_init(&sh.next, 0);
    report_progress(&sh, "estimate", 0, tl.n);
    run_phase(&sh, PHASE_ESTIMATE);
    report_progress(&sh, "estimate", tl.n, tl.n);
    double t2 = now_s();
    out->estimate_s = t2 - t1;

    /* merge: counts, the global top K (unique under the strict order), the front */
    bool oom = false;
    struct us_search_entry *cand = malloc((size_t)nthreads * US_SEARCH_MAX_TOP * sizeof *cand);
    size_t ncand = 0;
    for (int t = 0; t < nthreads; t++) {
        for (int r = 0; r < US_PRUNE_COUNT; r++)
            out->pruned[r] += w[t].pruned[r];
        out->estimated += w[t].estimated;
        oom = oom || w[t].oom;
        for (int i = 0; cand && i < w[t].ntop; i++)
            cand[ncand++] = w[t].top[i];
    }
    struct front all;
    memset(&all, 0, sizeof all);
    oom = oom || !cand || !merge_fronts(w, nthreads, &all);
    if (oom) {
        free(cand);
        free(all.v);
        goto fail_oom;
    }
    sort_entries(cand, ncand, opt->objective);
    int k = (int)(ncand < (size_t)sh.top_k ? ncand : (size_t)sh.top_k);

    /* refine the pool (the best max(K, SEARCH_REFINE_POOL)) with the reference engine,
     * order again by the refined figures, and keep the best K */
    bool ok[US_SEARCH_MAX_TOP] = {false};
    sh.refine = cand;
    sh.refined_ok = ok;
    sh.nrefine = opt->refine && ev->refine ? k : 0;
    if (sh.nrefine > 0) {
        report_progress(&sh, "simulate", 0, (uint64_t)sh.nrefine);
        run_phase(&sh, PHASE_REFINE);
        report_progress(&sh, "simulate", (uint64_t)sh.nrefine, (uint64_t)sh.nrefine);
    }
    for (int t = 0; t < nthreads; t++)
        out->simulated += w[t].simulated;
    double t3 = now_s();
    out->simulate_s = t3 - t2;
    int kept = 0;
    for (int i = 0; i < k; i++) {
        if (!meets_constraints(opt, &cand[i])) {
            out->pruned[US_PRUNE_CONSTRAINT]++;
            continue;
        }
        cand[kept++] = cand[i];
    }
    sort_entries(cand, (size_t)kept, opt->objective);
    if (kept > top_k)
        kept = top_k;
    for (int i = 0; i < kept; i++) {
        for (size_t j = 0; j < all.n; j++)
            if (same_layout(&cand[i], &all.v[j]))
                cand[i].pareto = true;
        out->top[out->ntop++] = cand[i];
    }
    if (out->ntop > 0 && isinf(out->top[0].time_s))
        add_note(out,
                 "no layout finishes: failures outpace progress (goodput under the model's "
                 "floor), so time, cost and energy are unbounded; layouts are ranked by step "
                 "time%s - fix the restart time, spares or checkpoints first",
                 "");
    out->pareto_truncated = all.n > US_SEARCH_MAX_PARETO;
    for (size_t j = 0; j < all.n && out->npareto < US_SEARCH_MAX_PARETO; j++) {
        all.v[j].pareto = true;
        out->pareto[out->npareto++] = all.v[j];
    }
    if (out->ntop == 0) {
        enum us_prune worst = US_PRUNE_DIVISIBILITY;
        for (int r = 0; r < US_PRUNE_COUNT; r++)
            if (out->pruned[r] > out->pruned[worst])
                worst = (enum us_prune)r;
        add_note(out, "no layout is valid and fits; most were dropped for %s",
                 search_prune_name(worst));
    }
    free(cand);
    free(all.v);
    for (int t = 0; t < nthreads; t++) {
        if (ev->thread_fini)
            ev->thread_fini(ev->user, w[t].scratch);
        free(w[t].front.v);
    }
    free(w);
    free(tl.v);
    free(in);
    out->total_s = now_s() - t0;
    return US_OK;

fail_oom:
    for (int t = 0; t < nthreads; t++) {
        if (ev->thread_fini)
            ev->thread_fini(ev->user, w[t].scratch);
        free(w[t].front.v);
    }
    free(w);
    free(tl.v);
    free(in);
    return core_diag_status(d, US_ENOMEM, NULL, 0, 0, "search", "out of memory");
}
