/* search/eval: the real evaluator - plan, memory, closed-form step, then the run around it
 * (stragglers, failures, energy, money from scale/) - and the event-simulator refinement.
 * It prepares each layout the way step_prepare does, but reuses, per thread, what does not
 * change between neighbours (docs/MODEL.md 8.3): the plan and ZeRO-independent memory terms
 * of a layout's ZeRO siblings, the per-layer costs and op times per model split, step costs
 * and collective prices, the layout's geometry, the run terms per chip count and dp.
 * test_search checks the shortcut against step_prepare. Not here: enumeration or ranking
 * (search.c). */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "estimate/estimate.h"
#include "estimate/memo.h"
#include "scale/scale.h"
#include "search/search.h"
#include "sim/sim.h"

/* Split slots per thread, 17 KB each (a split's op lists), two-way set associative: a
 * tuple's ~70 splits fit without evicting each other, and more slots fault in more fresh
 * pages than their hits save (512 made 2 threads slower than 1 on the 2-core machine). */
#define COST_SETS  64
#define COST_WAYS  2
#define COST_SLOTS (COST_SETS * COST_WAYS)

struct per_chips {
    struct spec_job job; /* the job at this chip count */
    struct net_topo topo;
    bool topo_ok;
    char reason[US_MSG_LEN];
    double ckpt_B;
};

struct search_eval {
    const struct search_space *sp;
    struct per_chips *pc; /* one per sp->chips[i] */
    int n;
    double tokens_per_step;
    double model_flop_per_token; /* the MFU numerator per token (one job, one seq_len) */
};

/* A slot's key, kept apart from the slot (17 KB away from the next one), so that looking a
 * split up reads one cache line. */
struct cost_tag {
    bool used;
    struct model_split key;
};

struct cost_slot {
    struct step_ctx ctx;             /* costs filled for its tag's split; the rest per layout */
    const struct per_chips *topo_of; /* whose topology ctx.topo holds (NULL: none) */
    bool comp_ok;                    /* comp filled for key (the first layout priced with it) */
    uint64_t gen;                    /* ctx.plan and ctx.topo are those of sibling gen (0: none) */
    uint64_t groups_gen;             /* ctx.groups are those of sibling gen (0: none) */
    struct step_compute comp;        /* op times, busy times, FLOPs of the split */
};

/* The last layout planned, for its ZeRO siblings: the search tries the ZeRO stages of a
 * layout one after another (search.c), and neither the planner's verdict (plan_init checks
 * only that zero is 0..3) nor the ZeRO-independent memory terms change between them. */
struct sibling {
    bool have;
    uint64_t gen;           /* counts the layouts planned: which one a cost slot's ctx holds */
    struct search_cand key; /* its zero is not compared */
    bool valid;
    struct plan pl;
    struct cost_slot *slot; /* its split's slot (NULL: not looked up yet) */
    struct plan_mem_memo memo;
};

struct scratch {
    struct cost_tag tag[COST_SLOTS];
    unsigned char victim[COST_SETS]; /* the way a miss in the set replaces next */
    struct cost_slot slot[COST_SLOTS];
    struct step_price_cache prices; /* collective prices across layouts */
    struct sibling sib;
    /* where the layers sit for the last (pp, vpp, ends): the same for every layout below one
     * split of a tuple, and only those fields place them (plan_init) */
    bool have_geom, geom_ok;
    int geom_key[4];
    struct step_geom geom;
    bool have_run;             /* run holds the run terms of the last chip count and dp */
    struct scale_prepared run; /* what scale_compute resolves without the step */
};

static bool same_but_zero(const struct search_cand *a, const struct search_cand *b)
{
    const struct us_layout *x = &a->lay, *y = &b->lay;
    return a->chips == b->chips && x->tp == y->tp && x->pp == y->pp && x->dp == y->dp &&
           x->cp == y->cp && x->ep == y->ep && x->vpp == y->vpp &&
           x->sequence_parallel == y->sequence_parallel && x->recompute == y->recompute &&
           x->schedule == y->schedule && x->micro_batch == y->micro_batch &&
           x->microbatches == y->microbatches && x->first_stage_layers == y->first_stage_layers &&
           x->last_stage_layers == y->last_stage_layers && x->chosen_mask == y->chosen_mask;
}

static bool split_eq(const struct model_split *a, const struct model_split *b)
{
    return a->tp == b->tp && a->cp == b->cp && a->ep == b->ep &&
           a->sequence_parallel == b->sequence_parallel && a->recompute == b->recompute &&
           a->micro_batch == b->micro_batch && a->seq_len == b->seq_len && a->dtype == b->dtype;
}

static unsigned split_hash(const struct model_split *s)
{
    const int64_t f[] = {s->tp,
                         s->cp,
                         s->ep,
                         s->sequence_parallel,
                         (int64_t)s->recompute,
                         s->micro_batch,
                         s->seq_len,
                         (int64_t)s->dtype};
    return (unsigned)(core_hash_words(f, (int)US_ARRAY_LEN(f)) % COST_SETS);
}

static int chips_index(const struct search_eval *e, int64_t chips)
{
    for (int i = 0; i < e->n; i++)
        if (e->sp->chips[i] == chips)
            return i;
    return -1;
}

/* The step context for c, in its cost slot; NULL when the planner rejects it. */
static struct cost_slot *prepare(const struct search_eval *e, struct scratch *s,
                                 const struct search_cand *c, const struct per_chips **pcp)
{
    int i = chips_index(e, c->chips);
    if (i < 0 || !e->pc[i].topo_ok)
        return NULL;
    const struct per_chips *pc = &e->pc[i];
    struct sibling *sib = &s->sib;
    if (!sib->have || !same_but_zero(&sib->key, c)) {
        sib->have = true;
        sib->gen++;
        sib->key = *c;
        sib->memo.n = 0;
        sib->valid = plan_init_like(&sib->pl, &sib->pl, &pc->job, &c->lay);
        sib->slot = NULL;
    }
    if (!sib->valid)
        return NULL;
    /* siblings share the split, so its slot: nothing else is priced between them */
    struct cost_slot *sl = sib->slot;
    if (!sl) {
        const struct model_split *split = &sib->pl.split;
        unsigned set = split_hash(split);
        struct cost_tag *tag = &s->tag[set * COST_WAYS];
        int w = 0;
        while (w < COST_WAYS && !(tag[w].used && split_eq(&tag[w].key, split)))
            w++;
        if (w < COST_WAYS) {
            s->victim[set] = (unsigned char)((w + 1) % COST_WAYS); /* the other way */
            sl = &s->slot[set * COST_WAYS + (unsigned)w];
        } else {
            w = s->victim[set];
            s->victim[set] = (unsigned char)((w + 1) % COST_WAYS);
            tag[w].key = *split;
            tag[w].used = true;
            sl = &s->slot[set * COST_WAYS + (unsigned)w];
            model_costs_compute(&pc->job.model, split, &sl->ctx.costs);
            sl->comp_ok = false;
            sl->gen = sl->groups_gen = 0;
        }
        sib->slot = sl;
    }
    struct step_ctx *ctx = &sl->ctx;
    if (sl->gen != sib->gen) { /* ZeRO siblings share the slot: only zero differs */
        sl->gen = sib->gen;
        ctx->job = &pc->job;
        /* the plan is valid: its reason string is never read, so not copied */
        memcpy(&ctx->plan, &sib->pl, offsetof(struct plan, reason));
        ctx->plan.reason[0] = '\0';
        if (sl->topo_of != pc) { /* (one chip count, as a rule) */
            ctx->topo = pc->topo;
            sl->topo_of = pc;
        }
    }
    ctx->plan.lay.zero = c->lay.zero;
    const struct us_layout *l = &c->lay;
    int gk[4] = {l->pp, l->vpp, l->first_stage_layers, l->last_stage_layers};
    if (!s->have_geom || memcmp(gk, s->geom_key, sizeof gk) != 0) {
        s->have_geom = true;
        memcpy(s->geom_key, gk, sizeof gk);
        s->geom_ok = step_geom_of(ctx, &s->geom);
    }
    ctx->geom = s->geom_ok ? &s->geom : NULL;
    ctx->fits = plan_memory_with(&ctx->plan, &pc->job, &ctx->costs, &sib->memo, true, &ctx->mem);
    *pcp = pc;
    return sl;
}

/* The run around one step: stragglers, failures, energy and money (scale/). s: the thread's
 * scratch, whose prepared run terms are reused while the chip count and dp stay (NULL:
 * none). */
static void metrics_from(const struct search_eval *e, struct scratch *s, const struct per_chips *pc,
                         const struct search_cand *c, const struct step_times *st,
                         const struct us_memory *mem, struct search_metrics *m)
{
    struct scale_input in;
    struct scale_report rep;
    memset(&in, 0, sizeof in);
    in.job = &pc->job;
    in.step_s = st->step_s;
    in.compute_busy_s = st->compute_busy_s;
    in.hbm_busy_s = st->hbm_busy_s;
    in.stream_busy_s = st->stream_busy_s;
    in.hw_flop_per_chip = st->hw_flop_per_chip;
    in.ckpt_B = pc->ckpt_B;
    in.tokens_per_step = e->tokens_per_step;
    in.chips = c->chips;
    in.dp = c->lay.dp;
    if (s) {
        if (!s->have_run || !scale_prepared_for(&s->run, &in)) {
            scale_prepare(&in, &s->run);
            s->have_run = true;
        }
        scale_compute_prepared(&s->run, &in, &rep);
    } else {
        scale_compute(&in, &rep);
    }
    m->step_s = rep.step_s;
    if (rep.has_run) {
        m->time_s = rep.no_progress ? HUGE_VAL : rep.wall_s;
        m->cost_usd = rep.no_progress ? HUGE_VAL : rep.cost_usd;
        m->energy_J = rep.no_progress ? HUGE_VAL : rep.energy_J;
    } else {
        m->time_s = rep.step_s;
        m->cost_usd = rep.usd_per_hour * rep.step_s / 3600.0;
        m->energy_J = rep.energy_J_per_step;
    }
    double model_flop = e->model_flop_per_token * e->tokens_per_step;
    double peak = rep.p.peak_flops * (double)c->chips;
    m->mfu = peak > 0 && rep.step_s > 0 ? model_flop / (peak * rep.step_s) : 0.0;
    m->peak_B = mem->peak_B;
    m->capacity_B = mem->capacity_B;
}

/* TP overlap is searched where the framework can overlap and the job leaves it open: the
 * setting to try beside the job's (US_OVERLAP_JOB: none). Overlap costs compute SMs
 * (costs.c, overlap_contention), so it can lose where the collectives are small. */
static enum us_overlap overlap_flip(const struct spec_job *job, const struct us_layout *l)
{
    if (l->tp <= 1 || l->tp_overlap != US_OVERLAP_JOB || job->par.tp_comm_overlap_given ||
        !spec_framework_tp_overlap_can(job->train.framework))
        return US_OVERLAP_JOB;
    return job->par.tp_comm_overlap ? US_OVERLAP_OFF : US_OVERLAP_ON;
}

/* The closed-form step of a prepared layout and the run around it. */
static void price(const struct search_eval *e, struct scratch *s, const struct per_chips *pc,
                  const struct search_cand *c, struct cost_slot *sl, struct search_metrics *m)
{
    struct step_ctx *ctx = &sl->ctx;
    struct step_costs sc;
    step_costs_compute_with(ctx, &sl->comp, &s->prices, &sc);
    sc.no_breakdown = true; /* the search ranks by the step; reported layouts are repriced */
    struct step_times st;
    estimate_step_with(ctx, &sc, &st);
    metrics_from(e, s, pc, c, &st, &ctx->mem, m);
}

static enum search_verdict eval_estimate(void *user, void *scratch, const struct search_cand *c,
                                         struct search_metrics *m)
{
    const struct search_eval *e = user;
    struct scratch *s = scratch;
    const struct per_chips *pc = NULL;
    struct cost_slot *sl = prepare(e, s, c, &pc);
    if (!sl)
        return SEARCH_INVALID;
    struct step_ctx *ctx = &sl->ctx;
    if (!ctx->fits) {
        m->peak_B = ctx->mem.peak_B;
        m->capacity_B = ctx->mem.capacity_B;
        return SEARCH_NOFIT;
    }
    /* The split's op times once per slot, collective prices once per thread: the same
     * numbers step_costs_compute gives (estimate.h), so the same step. */
    if (!sl->comp_ok) {
        step_compute_of_with(ctx, &s->prices, &sl->comp);
        sl->comp_ok = true;
    }
    if (sl->groups_gen != s->sib.gen) { /* the groups do not depend on the ZeRO stage */
        step_groups_init(ctx);
        sl->groups_gen = s->sib.gen;
    }
    price(e, s, pc, c, sl, m);
    /* the faster of the job's TP overlap and the other, where searched */
    enum us_overlap flip = overlap_flip(&pc->job, &c->lay);
    if (flip != US_OVERLAP_JOB) {
        struct search_metrics other;
        memset(&other, 0, sizeof other);
        ctx->plan.lay.tp_overlap = flip;
        price(e, s, pc, c, sl, &other);
        ctx->plan.lay.tp_overlap = US_OVERLAP_JOB;
        if (other.step_s < m->step_s) {
            *m = other;
            m->tp_overlap = flip;
        }
    }
    return SEARCH_OK;
}

/* The reference: the event simulator on a layout prepared from scratch by step_prepare
 * (only the best K come here, so no shortcut is worth its risk). */
static bool eval_refine(void *user, void *scratch, const struct search_cand *c,
                        struct search_metrics *m)
{
    const struct search_eval *e = user;
    (void)scratch;
    int i = chips_index(e, c->chips);
    if (i < 0 || !e->pc[i].topo_ok)
        return false;
    const struct per_chips *pc = &e->pc[i];
    struct step_ctx *ctx = malloc(sizeof *ctx);
    bool ok = false;
    if (ctx && step_prepare(ctx, &pc->job, &c->lay) && ctx->fits) {
        struct step_times st;
        memset(&st, 0, sizeof st);
        sim_step(ctx, &st, NULL);
        if (st.step_s > 0 && isfinite(st.step_s)) {
            metrics_from(e, NULL, pc, c, &st, &ctx->mem, m);
            ok = true;
        }
    }
    free(ctx);
    return ok;
}

static void *eval_thread_init(void *user)
{
    (void)user;
    return calloc(1, sizeof(struct scratch));
}

static void eval_thread_fini(void *user, void *scratch)
{
    (void)user;
    free(scratch);
}

enum us_status search_eval_create(const struct spec_job *job, const struct search_space *sp,
                                  struct search_eval **out, struct search_evaluator *ev,
                                  struct us_diag *d)
{
    *out = NULL;
    struct search_eval *e = calloc(1, sizeof *e);
    if (!e || !(e->pc = calloc((size_t)sp->nchips, sizeof *e->pc))) {
        free(e);
        return core_diag_status(d, US_ENOMEM, NULL, 0, 0, "search", "out of memory");
    }
    e->sp = sp;
    e->n = sp->nchips;
    e->tokens_per_step = (double)job->train.global_batch * (double)job->train.seq_len;
    e->model_flop_per_token = model_flop_per_token(&job->model, job->train.seq_len);
    for (int i = 0; i < e->n; i++) {
        struct per_chips *pc = &e->pc[i];
        pc->job = *job;
        pc->job.chips = sp->chips[i];
        pc->topo_ok =
            net_topo_init(&pc->topo, &pc->job.system, sp->chips[i], pc->reason, sizeof pc->reason);
        pc->ckpt_B = plan_checkpoint_B(&pc->job);
    }
    memset(ev, 0, sizeof *ev);
    ev->user = e;
    ev->thread_init = eval_thread_init;
    ev->thread_fini = eval_thread_fini;
    ev->estimate = eval_estimate;
    ev->refine = eval_refine;
    ev->engine_estimate = "closed-form";
    ev->engine_refine = "event";
    *out = e;
    return US_OK;
}

void search_eval_keep_tp_overlap(struct search_eval *e)
{
    for (int i = 0; i < e->n; i++)
        e->pc[i].job.par.tp_comm_overlap_given = true;
}

void search_eval_destroy(struct search_eval *e)
{
    if (!e)
        return;
    free(e->pc);
    free(e);
}

const char *search_eval_topo_reason(const struct search_eval *e, int64_t chips)
{
    int i = chips_index(e, chips);
    return i >= 0 && !e->pc[i].topo_ok ? e->pc[i].reason : NULL;
}

enum search_verdict search_eval_naive(const struct search_eval *e, const struct search_cand *c,
                                      struct search_metrics *m)
{
    int i = chips_index(e, c->chips);
    if (i < 0 || !e->pc[i].topo_ok)
        return SEARCH_INVALID;
    const struct per_chips *pc = &e->pc[i];
    struct step_ctx *ctx = malloc(sizeof *ctx);
    enum search_verdict v = SEARCH_INVALID;
    if (ctx && step_prepare(ctx, &pc->job, &c->lay)) {
        m->peak_B = ctx->mem.peak_B;
        m->capacity_B = ctx->mem.capacity_B;
        v = SEARCH_NOFIT;
        if (ctx->fits) {
            struct step_times st;
            estimate_step(ctx, &st);
            metrics_from(e, NULL, pc, c, &st, &ctx->mem, m);
            v = SEARCH_OK;
        }
    }
    enum us_overlap flip = overlap_flip(&pc->job, &c->lay);
    if (v == SEARCH_OK && flip != US_OVERLAP_JOB) {
        struct search_cand other = *c;
        other.lay.tp_overlap = flip;
        struct search_metrics mo;
        memset(&mo, 0, sizeof mo);
        if (step_prepare(ctx, &pc->job, &other.lay) && ctx->fits) {
            struct step_times st;
            estimate_step(ctx, &st);
            metrics_from(e, NULL, pc, &other, &st, &ctx->mem, &mo);
            if (mo.step_s < m->step_s) {
                *m = mo;
                m->tp_overlap = flip;
            }
        }
    }
    free(ctx);
    return v;
}
