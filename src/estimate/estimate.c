/* estimate: the closed-form step time - the same physics as the event simulator (sim/)
 * without events: per-stage forward and backward chains, pipeline fill and drain by
 * schedule, DP gradient buckets racing the last backward, the optimizer and host overhead.
 * No allocation; one evaluation is a pass over the stages, pricing each run of like stages
 * once, and the DP buckets. Where the event engine's answer differs (uneven stages,
 * contention between overlapped streams), it is the one reported. Formulas: docs/MODEL.md
 * section 5. */
#include <math.h>
#include <string.h>

#include "core/core.h"
#include "estimate/estimate.h"

enum { K_EMBED = 0, K_DENSE, K_MOE, K_HEAD, K_COUNT };

/* Stages whose layers are remembered between the passes (more are looked up again). */
#define EST_STAGES 256
/* Virtual chunks per stage priced one by one (more are priced as the stage's mean). */
#define EST_CHUNKS 128
/* The chunk times of the first EST_KEEP_CHUNKS runs of like stages are kept from pass 1 to
 * pass 2 (a dense model has three runs at most); later runs' are priced again. */
#define EST_KEEP_CHUNKS 4

static bool same_stage(const struct step_stage *a, const struct step_stage *b)
{
    return a->n_dense == b->n_dense && a->n_moe == b->n_moe && a->has_embed == b->has_embed &&
           a->has_head == b->has_head && a->first_chunk_short == b->first_chunk_short &&
           a->last_chunk_short == b->last_chunk_short;
}

/* One kind of layer, one micro-batch: chain times and their split by category. */
struct kind_time {
    double f, b;                /* forward, backward (+ recompute) chain */
    double cat[STEP_CAT_COUNT]; /* fwd + bwd by category */
    const struct step_layer_time *lt;
};

/* dense: the model has no MoE layer, whose kind then stays 0 (no stage counts one; every
 * use weighs a kind by its count or skips it at 0). */
static void kinds_init(const struct step_costs *sc, bool dense, struct kind_time k[K_COUNT])
{
    const struct step_layer_time *lts[K_COUNT] = {&sc->embed, &sc->dense, &sc->moe, &sc->head};
    for (int i = 0; i < K_COUNT; i++) {
        memset(&k[i], 0, sizeof k[i]);
        k[i].lt = lts[i];
        if (i == K_MOE && dense)
            continue;
        /* the split by category is for the breakdown alone */
        double *cat = sc->no_breakdown ? NULL : k[i].cat;
        k[i].f = step_layer_fwd_s(sc, lts[i], cat);
        k[i].b = step_layer_bwd_s(sc, lts[i], cat);
        if (sc->zero3_serial) {
            /* one gathered layer: the layer's gather runs before it, in each direction */
            double ag = lts[i]->param_ag_s;
            k[i].f += ag;
            k[i].b += ag;
            if (cat)
                cat[STEP_CAT_DP] += 2.0 * ag;
        }
    }
}

static void stage_counts(const struct step_stage *st, double n[K_COUNT])
{
    n[K_EMBED] = st->has_embed ? 1.0 : 0.0;
    n[K_DENSE] = (double)st->n_dense;
    n[K_MOE] = (double)st->n_moe;
    n[K_HEAD] = st->has_head ? 1.0 : 0.0;
}

/* Forward and backward time of a stage for one micro-batch (cat: their split, added).
 * Under ZeRO-3 each layer's parameters are gathered one layer ahead (FSDP prefetch): a
 * layer takes at least the gather of the layer after it. Without the prefetch
 * (zero3_serial) kinds_init has put each gather in its layer's chain. */
/* max(0, x) without a libm call (0 for NaN, as fmax gives) */
static double pos(double x)
{
    return x > 0.0 ? x : 0.0;
}

static void stage_work(const struct step_costs *sc, const struct kind_time k[K_COUNT],
                       const struct step_stage *st, double *F, double *B,
                       double cat[STEP_CAT_COUNT])
{
    double n[K_COUNT];
    stage_counts(st, n);
    *F = 0.0;
    *B = 0.0;
    for (int i = 0; i < K_COUNT; i++) {
        *F += n[i] * k[i].f;
        *B += n[i] * k[i].b;
        if (cat)
            for (int c = 0; c < STEP_CAT_COUNT; c++)
                cat[c] += n[i] * k[i].cat[c];
    }
    if (sc->zero < 3 || sc->zero3_serial)
        return;
    static const int fwd[K_COUNT] = {K_EMBED, K_DENSE, K_MOE, K_HEAD};
    for (int dir = 0; dir < 2; dir++) {
        int prev = -1, first = -1; /* the kind before / the first in this direction */
        for (int j = 0; j < K_COUNT; j++) {
            int kk = dir == 0 ? fwd[j] : fwd[K_COUNT - 1 - j];
            if (n[kk] <= 0.0)
                continue;
            /* layers of `prev` wait for the gathers of the layers after them */
            if (prev >= 0) {
                double t = dir == 0 ? k[prev].f : k[prev].b;
                double x = (n[prev] - 1.0) * pos(k[prev].lt->param_ag_s - t) +
                           pos(k[kk].lt->param_ag_s - t);
                *(dir == 0 ? F : B) += x;
                if (cat)
                    cat[STEP_CAT_DP] += x;
            }
            if (first < 0)
                first = kk;
            prev = kk;
        }
        if (prev >= 0) {
            /* the last layer prefetches the first of the stage's next pass */
            double t = dir == 0 ? k[prev].f : k[prev].b;
            double x = (n[prev] - 1.0) * pos(k[prev].lt->param_ag_s - t) +
                       pos(k[first].lt->param_ag_s - t);
            *(dir == 0 ? F : B) += x;
            if (cat)
                cat[STEP_CAT_DP] += x;
        }
    }
}

/* One kind's buckets within one backward: full buckets of `per` layers (their ready-time
 * step and reduction time) and the partial last one. Computed with the same expressions
 * the race uses, so a race over them is the race over the layers, bit for bit. */
struct bucket_plan {
    int nfull;              /* full buckets */
    double cb_full, q_full; /* per full bucket: backward time, reduction time */
    bool has_rest;
    double cb_rest, q_rest;
};

static void bucket_plan_of(const struct kind_time *k, double n, struct bucket_plan *bp)
{
    int per = k->lt->bucket_layers > 0 ? k->lt->bucket_layers : 1;
    bp->nfull = 0;
    bp->has_rest = false;
    bp->cb_full = bp->q_full = bp->cb_rest = bp->q_rest = 0.0;
    if (!(n > 0.0))
        return;
    /* n is a whole number of layers (stage_counts), so taking `per` off it one bucket at a
     * time leaves exactly n - nfull per: the same buckets without the walk. */
    int64_t ni = (int64_t)n, nfi = ni / per;
    double nf = (double)nfi, rest = (double)(ni - nfi * per);
    if (nf > 0.0) {
        double c = (double)per;
        bp->cb_full = c * k->b;
        bp->q_full = k->lt->bucket_grad_s * c / (double)per;
        bp->nfull = (int)nfi;
    }
    if (rest > 0.0) {
        bp->cb_rest = rest * k->b;
        bp->q_rest = k->lt->bucket_grad_s * rest / (double)per;
        bp->has_rest = true;
    }
}

/* Forward of `n` layers of a kind in the first micro-batch while ZeRO-1/2 parameter
 * buckets arrive (gathered back to back from the step's start, *g the AG stream time). */
static void buckets_fwd(const struct kind_time *k, double n, double *t, double *g)
{
    int per = k->lt->bucket_layers > 0 ? k->lt->bucket_layers : 1;
    double left = n;
    while (left > 0.0) {
        double c = left < (double)per ? left : (double)per;
        *g += k->lt->bucket_ag_s * c / (double)per;
        if (*g > *t)
            *t = *g;
        *t += c * k->f;
        left -= c;
    }
}

/* Chunk c of a stage's v: from cks when the caller kept them (chunk_times), else derived. */
static void chunk_at(const struct step_stage *st, const struct step_stage *cks, int v, int c,
                     struct step_stage *out)
{
    if (cks)
        *out = cks[c];
    else
        step_chunk_of(st, v, c, out);
}

/* Exposed DP gradient time after the stage's last backward ends. Buckets are reduced in
 * the last backward of each chunk (ZeRO-0/1, Megatron DDP), or in every backward (ZeRO-2/3)
 * of which the stage's final `g` per chunk run back to back; chunk c's come c groups of
 * chunk-backwards before chunk 0's. per_mb_s: reduction time of one micro-batch. This walks
 * every bucket: the reference (step_costs.race_all) for the closed forms race_tail_s and
 * race_tail_run, which the estimate uses. */
static double stage_dp_tail(const struct step_costs *sc, const struct kind_time k[K_COUNT],
                            const struct step_stage *st, const struct step_stage *cks, int s,
                            const double *bc, int stride, double *per_mb_s)
{
    int v = sc->vpp, p = sc->pp, m = sc->m;
    int g; /* back-to-back backwards per chunk at the end of the stage's program */
    if (v > 1)
        g = m - p * ((m - 1) / p); /* the last group of Megatron's interleaved table */
    else if (sc->schedule == US_SCHEDULE_GPIPE)
        g = m;
    else
        g = m < p - s ? m : p - s; /* the 1F1B cool-down, plus the last steady backward */
    int runs = sc->zero >= 2 ? g : 1;
    double f = -HUGE_VAL, t = 0.0, total = 0.0, before = 0.0;
    for (int c = 0; c < v; c++)
        before += (double)g * bc[c * stride];
    static const int order[K_COUNT] = {K_HEAD, K_MOE, K_DENSE, K_EMBED};
    for (int c = v - 1; c >= 0; c--) {
        before -= (double)g * bc[c * stride]; /* the backwards of chunks 0..c-1 that follow */
        struct step_stage ck;
        chunk_at(st, cks, v, c, &ck);
        double n[K_COUNT];
        stage_counts(&ck, n);
        /* the chunk's buckets in backward order, as runs of like ones */
        struct {
            double cb, q;
            int cnt;
        } br[2 * K_COUNT];
        int nbr = 0;
        for (int i = 0; i < K_COUNT; i++) {
            int kk = order[i];
            if (n[kk] <= 0.0)
                continue;
            struct bucket_plan bp;
            bucket_plan_of(&k[kk], n[kk], &bp);
            if (bp.nfull > 0) {
                br[nbr].cb = bp.cb_full;
                br[nbr].q = bp.q_full;
                br[nbr++].cnt = bp.nfull;
            }
            if (bp.has_rest) {
                br[nbr].cb = bp.cb_rest;
                br[nbr].q = bp.q_rest;
                br[nbr++].cnt = 1;
            }
            total += n[kk] * k[kk].lt->bucket_grad_s /
                     (double)(k[kk].lt->bucket_layers > 0 ? k[kk].lt->bucket_layers : 1);
        }
        for (int j = runs - 1; j >= 0; j--) {
            t = -(before + (double)j * bc[c * stride]);
            double tt = t, ff = f;
            for (int b = 0; b < nbr; b++) {
                double cb = br[b].cb, q = br[b].q;
                for (int i = 0; i < br[b].cnt; i++) {
                    tt += cb;
                    ff = (ff > tt ? ff : tt) + q;
                }
            }
            t = tt;
            f = ff;
        }
    }
    *per_mb_s = total;
    double tail = f - t;
    return tail > 0.0 ? tail : 0.0;
}

/* The shape of one backward's bucket race over a chunk's layers, from which race_tail_s and
 * race_tail_run take a stage's tail in closed form: qb, cb the backward's reduction and
 * backward times over its buckets, x = max over its buckets i of (backward time up to and
 * including i + reduction time from i on) - cb, and per_mb the reduction time of one
 * micro-batch. */
struct race_shape {
    double qb, cb, x, per_mb;
};

static void race_shape_of(const struct kind_time k[K_COUNT], const struct step_stage *ck,
                          struct race_shape *rs)
{
    static const int order[K_COUNT] = {K_HEAD, K_MOE, K_DENSE, K_EMBED};
    double n[K_COUNT];
    stage_counts(ck, n);
    struct bucket_plan bp[K_COUNT];
    double total = 0.0, qb = 0.0;
    for (int i = 0; i < K_COUNT; i++) {
        int kk = order[i];
        if (n[kk] <= 0.0)
            continue;
        bucket_plan_of(&k[kk], n[kk], &bp[i]);
        qb += (double)bp[i].nfull * bp[i].q_full + (bp[i].has_rest ? bp[i].q_rest : 0.0);
        total += n[kk] * k[kk].lt->bucket_grad_s /
                 (double)(k[kk].lt->bucket_layers > 0 ? k[kk].lt->bucket_layers : 1);
    }
    /* Bucket i of a run of like ones scores C + (i + 1) cb - i q + (the reductions left at
     * the run's start), linear in i: a run's best is its first or its last bucket. */
    double C = 0.0, Q = qb, best = -HUGE_VAL;
    for (int i = 0; i < K_COUNT; i++) {
        if (n[order[i]] <= 0.0)
            continue;
        for (int part = 0; part < 2; part++) {
            int cnt = part == 0 ? bp[i].nfull : (bp[i].has_rest ? 1 : 0);
            double c1 = part == 0 ? bp[i].cb_full : bp[i].cb_rest;
            double q1 = part == 0 ? bp[i].q_full : bp[i].q_rest;
            if (cnt <= 0)
                continue;
            double first = C + c1 + Q;
            double last = C + (double)cnt * c1 + Q - (double)(cnt - 1) * q1;
            double b = first > last ? first : last;
            if (b > best)
                best = b;
            C += (double)cnt * c1;
            Q -= (double)cnt * q1;
        }
    }
    rs->qb = qb;
    rs->cb = C;
    rs->x = best - C;
    rs->per_mb = total;
}

/* A stage's virtual chunks for one micro-batch, each and as runs of like chunks (at most
 * a handful: the embedding or head chunk, a short end chunk, the chunks with one layer more,
 * the one where a dense prefix ends); chunk_times fills it. */
#define EST_CHUNK_RUNS 16
struct chunk_run {
    struct step_stage ck;
    int kind;    /* which of the layout's distinct chunks it is (step_geom), -1: unknown */
    int n;       /* like chunks in a row */
    double f, b; /* forward, backward of one of them */
};
struct run_chunks {
    double f[EST_CHUNKS], b[EST_CHUNKS], pf[EST_CHUNKS + 1]; /* pf[c] = f[0] + .. + f[c-1] */
    struct step_stage ck[EST_CHUNKS];
    struct chunk_run cr[EST_CHUNK_RUNS];
    int ncr;      /* 0: more runs than EST_CHUNK_RUNS (the walks price it instead) */
    bool have_ck; /* ck[] written (else the walks derive each chunk from the stage) */
};

/* What one evaluation has worked out for each of the layout's distinct chunks
 * (step_geom.chunk): their times and race shapes, priced once however many runs hold them. */
struct chunk_kinds {
    unsigned char have_fb[STEP_GEOM_KINDS], have_rs[STEP_GEOM_KINDS];
    double f[STEP_GEOM_KINDS], b[STEP_GEOM_KINDS];
    struct race_shape rs[STEP_GEOM_KINDS];
};

/* Stage s's exposed DP tail under ZeRO-2/3 with v = 1 (1F1B), in closed form: g = min(m,
 * p - s) backwards of bc each start at t_j = -j bc. The race f_k = max(f_{k-1}, ready_k) +
 * q_k from f = -inf unrolls (max-plus) to max over buckets k of (ready_k + the reductions
 * from k on); for backward j that is t_j + j qb + (the backward's own term), and the race
 * ends at t_end = cb, so the tail is max(0, (g - 1) max(0, qb - bc) + x). stage_dp_tail
 * walks the same race bucket by bucket (step_costs.race_all); the two agree to rounding. */
static double race_tail_s(const struct step_costs *sc, const struct race_shape *rs, int s,
                          double bc)
{
    int g = sc->m < sc->pp - s ? sc->m : sc->pp - s;
    double up = rs->qb - bc;
    double r = (double)(g - 1) * (up > 0.0 ? up : 0.0) + rs->x;
    return r > 0.0 ? r : 0.0;
}

/* The same closed form for a tail that does not depend on s (every chunk count v, every
 * schedule; stage_dp_tail's g and runs). Chunk c's backward j starts at -(P_c + j bc_c),
 * P_c the g backwards of each chunk before it, and the reductions still to come after it
 * are j qb_c plus runs qb of each chunk before it, so the tail is max(0, max over c of
 * (sum over c' < c of (runs qb_c' - g bc_c')) + (runs - 1) max(0, qb_c - bc_c) + x_c +
 * cb_c - cb_0). Within a run of like chunks the term is linear in c, so the run's first or
 * last chunk gives its best. cr: the stage's chunks as runs (chunk_times; v = 1: the stage).
 * *per_mb_s: the reduction time of one micro-batch. */
static double race_tail_run(const struct step_costs *sc, const struct kind_time k[K_COUNT],
                            const struct chunk_run *cr, int ncr, int s, struct chunk_kinds *kc,
                            double *per_mb_s)
{
    int v = sc->vpp, p = sc->pp, m = sc->m;
    int g;
    if (v > 1)
        g = m - p * ((m - 1) / p);
    else if (sc->schedule == US_SCHEDULE_GPIPE)
        g = m;
    else
        g = m < p - s ? m : p - s;
    int runs = sc->zero >= 2 ? g : 1;
    double total = 0.0, best = 0.0, pre = 0.0, cb0 = 0.0;
    for (int i = 0; i < ncr; i++) {
        struct race_shape own;
        const struct race_shape *rsp = &own;
        int ki = cr[i].kind;
        if (ki >= 0) {
            if (!kc->have_rs[ki]) {
                race_shape_of(k, &cr[i].ck, &kc->rs[ki]);
                kc->have_rs[ki] = 1;
            }
            rsp = &kc->rs[ki];
        } else {
            race_shape_of(k, &cr[i].ck, &own);
        }
        const struct race_shape rs = *rsp;
        if (i == 0)
            cb0 = rs.cb;
        double n = (double)cr[i].n, up = rs.qb - cr[i].b;
        total += n * rs.per_mb;
        double val = (double)(runs - 1) * (up > 0.0 ? up : 0.0) + rs.x + rs.cb - cb0;
        double dd = (double)runs * rs.qb - (double)g * cr[i].b;
        best = US_MAX(best, US_MAX(pre + val, pre + (n - 1.0) * dd + val));
        pre += n * dd;
    }
    *per_mb_s = total;
    return best;
}

/* How late the first forward of a stage's chunks runs because ZeRO-1/2 parameters are
 * still being gathered (Megatron's overlap-param-gather: the gather of step n+1 overlaps
 * its first forward; docs/MODEL.md 5.4). */
static double stage_ag_delay(const struct step_costs *sc, const struct kind_time k[K_COUNT],
                             const struct step_stage *st, const struct step_stage *cks,
                             double start, const double *fc, int stride)
{
    int v = sc->vpp;
    int g = sc->m < sc->pp ? sc->m : sc->pp;
    double ag = 0.0, delay = 0.0, before = 0.0;
    for (int c = 0; c < v; c++) {
        struct step_stage ck;
        chunk_at(st, cks, v, c, &ck);
        double n[K_COUNT];
        stage_counts(&ck, n);
        double nat = start + before;
        before += (double)g * fc[c * stride];
        double t = nat, work = 0.0;
        static const int order[K_COUNT] = {K_EMBED, K_DENSE, K_MOE, K_HEAD};
        for (int i = 0; i < K_COUNT; i++) {
            int kk = order[i];
            if (n[kk] <= 0.0)
                continue;
            buckets_fwd(&k[kk], n[kk], &t, &ag);
            work += n[kk] * k[kk].f;
        }
        double d = t - (nat + work);
        if (d > delay)
            delay = d;
    }
    return delay;
}

/* stage_ag_delay in closed form, for every stage of a run at once. Unrolled like the
 * races, the forward cursor after the chunk's buckets is max(start + work, max over its
 * buckets k of (gathered by k + the work from k on)), so chunk c waits max(0, max over k of
 * (gathered by k - the work before k) - (start + the chunks before c)): linear in each run
 * of like buckets, so a run's first or last bucket gives its best. Returns the lead L =
 * max over chunks and buckets of (gathered - work before - chunks before); a stage
 * starting at `start` waits max(0, L - start). Equal to the walk up to rounding. */
static double run_ag_lead(const struct step_costs *sc, const struct kind_time k[K_COUNT],
                          const struct chunk_run *cr, int ncr)
{
    int g = sc->m < sc->pp ? sc->m : sc->pp;
    double ag = 0.0, before = 0.0, lead = -HUGE_VAL;
    static const int order[K_COUNT] = {K_EMBED, K_DENSE, K_MOE, K_HEAD};
    for (int r = 0; r < ncr; r++) {
        double n[K_COUNT];
        stage_counts(&cr[r].ck, n);
        /* one chunk of the run, from a gather and a start of 0 */
        double w = 0.0, got = 0.0, best = -HUGE_VAL;
        for (int i = 0; i < K_COUNT; i++) {
            const struct kind_time *kt = &k[order[i]];
            double nk = n[order[i]];
            if (nk <= 0.0)
                continue;
            int per = kt->lt->bucket_layers > 0 ? kt->lt->bucket_layers : 1;
            int64_t ni = (int64_t)nk, nfi = ni / per;
            double nf = (double)nfi, rest = (double)(ni - nfi * per);
            if (nfi > 0) {
                double bag = kt->lt->bucket_ag_s, cw = (double)per * kt->f;
                double first = got + bag - w, last = got + nf * bag - (w + (nf - 1.0) * cw);
                best = US_MAX(best, US_MAX(first, last));
                got += nf * bag;
                w += nf * cw;
            }
            if (rest > 0.0) {
                got += kt->lt->bucket_ag_s * rest / (double)per;
                best = US_MAX(best, got - w);
                w += rest * kt->f;
            }
        }
        /* chunk j of the run starts after j more of the run's gathers and g of its
         * forwards more: linear in j, so the first or the last chunk gives the run's best */
        double cn = (double)cr[r].n, step = got - (double)g * cr[r].f;
        lead = US_MAX(lead, US_MAX(ag - before + best, ag - before + (cn - 1.0) * step + best));
        ag += cn * got;
        before += cn * (double)g * cr[r].f;
    }
    return lead;
}

/* Forward and backward of each virtual chunk of a stage for one micro-batch, and the chunks
 * as runs of like ones. Like chunks are priced once. */
static void chunk_times(const struct step_costs *sc, const struct kind_time k[K_COUNT],
                        const struct step_stage *st, struct run_chunks *rc)
{
    int v = sc->vpp;
    rc->pf[0] = 0.0;
    rc->ncr = 0;
    rc->have_ck = true;
    bool fit = true;
    for (int c = 0; c < v; c++) {
        struct step_stage *ck = &rc->ck[c];
        step_chunk_of(st, v, c, ck);
        if (c > 0 && same_stage(ck, &rc->ck[c - 1])) {
            rc->f[c] = rc->f[c - 1];
            rc->b[c] = rc->b[c - 1];
            if (fit)
                rc->cr[rc->ncr - 1].n++;
        } else {
            stage_work(sc, k, ck, &rc->f[c], &rc->b[c], NULL);
            fit = fit && rc->ncr < EST_CHUNK_RUNS;
            if (fit)
                rc->cr[rc->ncr++] = (struct chunk_run){*ck, -1, 1, rc->f[c], rc->b[c]};
        }
        rc->pf[c + 1] = rc->pf[c] + rc->f[c];
    }
    if (!fit)
        rc->ncr = 0;
}

/* chunk_times for chunks known as runs of like ones (step_geom): the same numbers, each
 * run's chunk priced once. The chunks themselves are not written (rc->ck). */
static void chunk_times_geom(const struct step_costs *sc, const struct kind_time k[K_COUNT],
                             const struct step_geom_run *gr, struct chunk_kinds *kc,
                             struct run_chunks *rc)
{
    rc->pf[0] = 0.0;
    rc->ncr = gr->ncr;
    rc->have_ck = false;
    int c = 0;
    for (int i = 0; i < gr->ncr; i++) {
        struct chunk_run *cr = &rc->cr[i];
        cr->ck = gr->ck[i];
        cr->n = gr->ckn[i];
        int ki = cr->kind = gr->ckind[i];
        if (!kc->have_fb[ki]) {
            stage_work(sc, k, &cr->ck, &kc->f[ki], &kc->b[ki], NULL);
            kc->have_fb[ki] = 1;
        }
        cr->f = kc->f[ki];
        cr->b = kc->b[ki];
        for (int j = 0; j < cr->n; j++, c++) {
            rc->f[c] = cr->f;
            rc->b[c] = cr->b;
            rc->pf[c + 1] = rc->pf[c] + cr->f;
        }
    }
}

/* One run of like stages (same layers): what both passes price once for all of them. */
struct stage_run {
    struct step_stage st;
    int first, n;                /* stages first .. first + n - 1 */
    double F, B, F0, B0, fl, bl; /* the stage and its first / last chunk, one micro-batch */
    bool have_pass2;             /* opt, ag_total and the work products below are set */
    double opt, ag_total;        /* optimizer; ZeRO-1/2 gather of the stage's buckets */
    bool have_tail;              /* tail, per_mb set (they do not depend on s) */
    double tail, per_mb;
    bool have_shape; /* shape set (tail_by_s) */
    struct race_shape shape;
    bool have_lead; /* ag_lead set (run_ag_lead) */
    double ag_lead;
    double w_flop, w_busy, w_hbm; /* one stage's work (step_work_totals_of's terms) */
    double w_stream;              /* one stage's compute-stream time (for power) */
};

/* Prices a run's stage: stage and chunk times (rc: the chunks' room, when by chunk; gr: the
 * run's place in the layout's step_geom, or NULL). */
static void run_price(const struct step_costs *sc, const struct kind_time k[K_COUNT],
                      struct stage_run *r, bool by_chunk, struct run_chunks *rc,
                      const struct step_geom_run *gr, struct chunk_kinds *kc)
{
    int v = sc->vpp;
    stage_work(sc, k, &r->st, &r->F, &r->B, NULL);
    if (by_chunk && gr) {
        chunk_times_geom(sc, k, gr, kc, rc);
        r->F0 = rc->f[0];
        r->B0 = rc->b[0];
        r->fl = rc->f[v - 1];
        r->bl = rc->b[v - 1];
    } else if (by_chunk) {
        chunk_times(sc, k, &r->st, rc);
        r->F0 = rc->f[0];
        r->B0 = rc->b[0];
        r->fl = rc->f[v - 1];
        r->bl = rc->b[v - 1];
    } else {
        r->F0 = r->F / (double)v;
        r->B0 = r->B / (double)v;
        r->fl = r->F / (double)v;
        r->bl = r->B / (double)v;
    }
    r->have_pass2 = false;
    r->have_tail = false;
    r->have_shape = false;
    r->have_lead = false;
}

/* The optimizer, the ZeRO-1/2 gather total and one stage's work totals
 * (step_work_totals_of's terms, in its order of kinds). */
static void run_pass2(const struct step_costs *sc, const struct kind_time k[K_COUNT],
                      struct stage_run *r)
{
    double n[K_COUNT];
    stage_counts(&r->st, n);
    r->opt = 0.0;
    r->ag_total = 0.0;
    for (int i = 0; i < K_COUNT; i++) {
        r->opt += n[i] * k[i].lt->opt_s;
        int per = k[i].lt->bucket_layers > 0 ? k[i].lt->bucket_layers : 1;
        r->ag_total += n[i] * k[i].lt->bucket_ag_s / (double)per;
    }
    static const int wk[K_COUNT] = {K_DENSE, K_MOE, K_EMBED, K_HEAD};
    r->w_flop = r->w_busy = r->w_hbm = r->w_stream = 0.0;
    for (int i = 0; i < K_COUNT; i++) {
        const struct step_layer_time *lt = k[wk[i]].lt;
        double c = n[wk[i]];
        r->w_flop += c * lt->hw_flop;
        r->w_stream += c * step_layer_stream_s(lt) + c * lt->opt_s / (double)sc->m;
        r->w_busy += c * lt->compute_busy_s;
        r->w_hbm += c * lt->hbm_busy_s + c * lt->opt_s / (double)sc->m;
    }
    r->have_pass2 = true;
}

void estimate_step(const struct step_ctx *ctx, struct step_times *out)
{
    struct step_costs sc;
    step_costs_compute(ctx, &sc);
    estimate_step_with(ctx, &sc, out);
}

/* The run of like stages (same layers) that starts at stage s: its stage in *st, its
 * length returned. Without experts every middle stage holds the same layers
 * (plan_stage_layers), so a dense model's middle run is known without looking each
 * stage up. */
static int run_at(const struct step_ctx *ctx, bool dense, int p, int s, struct step_stage *st)
{
    step_stage_of(ctx, s, st);
    if (dense && s >= 1 && s < p - 1)
        return p - 1 - s;
    int n = 1;
    for (; s + n < p; n++) {
        struct step_stage nx;
        step_stage_of(ctx, s + n, &nx);
        if (!same_stage(&nx, st))
            break;
    }
    return n;
}

bool step_geom_of(const struct step_ctx *ctx, struct step_geom *g)
{
    const struct spec_model *md = &ctx->job->model;
    bool dense = !(md->has_moe && md->moe.experts > 0);
    int p = ctx->plan.lay.pp > 0 ? ctx->plan.lay.pp : 1;
    int v = ctx->plan.lay.vpp > 0 ? ctx->plan.lay.vpp : 1;
    g->nruns = 0;
    g->nchunk = 0;
    for (int s = 0; s < p;) {
        if (g->nruns == STEP_GEOM_RUNS)
            return false;
        struct step_geom_run *r = &g->run[g->nruns++];
        r->first = s;
        r->n = run_at(ctx, dense, p, s, &r->st);
        r->ncr = 0;
        for (int c = 0; v > 1 && c < v; c++) {
            struct step_stage ck;
            step_chunk_of(&r->st, v, c, &ck);
            if (c > 0 && same_stage(&ck, &r->ck[r->ncr - 1])) {
                r->ckn[r->ncr - 1]++;
            } else {
                if (r->ncr == STEP_GEOM_CHUNK_RUNS)
                    return false;
                int ki = 0;
                while (ki < g->nchunk && !same_stage(&g->chunk[ki], &ck))
                    ki++;
                if (ki == g->nchunk) {
                    if (g->nchunk == STEP_GEOM_KINDS)
                        return false;
                    g->chunk[g->nchunk++] = ck;
                }
                r->ck[r->ncr] = ck;
                r->ckind[r->ncr] = ki;
                r->ckn[r->ncr++] = 1;
            }
        }
        s += r->n;
    }
    return true;
}

/* What the two passes of estimate_step_with share: the layer kinds, the runs of like stages
 * pass 1 found and priced, and the chunk times kept for pass 2. Its arrays are written
 * before they are read, so it is not cleared: clearing its 86 KB would take longer than the
 * whole evaluation of a small layout. */
struct est_runs {
    const struct step_ctx *ctx;
    const struct step_costs *sc;
    struct kind_time k[K_COUNT];
    bool dense;    /* no MoE layer (run_at) */
    bool by_chunk; /* chunks priced one by one (else each is the stage's mean) */
    /* the runs of like stages (up to EST_STAGES remembered; more are found and priced again
     * in pass 2) */
    struct stage_run runs[EST_STAGES];
    int nruns;
    bool keep; /* every run is in runs[] */
    struct stage_run cur;
    /* the chunks of the first EST_KEEP_CHUNKS runs, and room for any later run's */
    struct run_chunks kc[EST_KEEP_CHUNKS], scr;
    int cur_pf; /* the run whose chunks scr holds (-1: none) */
    struct chunk_kinds ck_kinds;
};

/* What pass 1 gathers for the pipeline makespan (est_makespan). */
struct est_pipe {
    double sum_fb;       /* F + B summed over the stages */
    double max_fb;       /* and its max over them, at stage s_b (the bottleneck) */
    double max_f, max_b; /* the slowest forward and backward */
    int s_b;             /* the breakdown's stage */
    /* Interleaved makespan (docs/MODEL.md 5.2), with f0/b0 a stage's first chunk and fl/bl
     * its last: when m == p (every forward first), the max over s of (f0 + b0 of the stages
     * before s) + m (F_s + B_s) + (fl + bl of the stages after s); when m > p, the max over
     * s of max(A_s, R_s) + m (F_s + B_s) - w_s + (b0 of the stages before s), where A_s =
     * (f0 of the stages before s) + w_s is when stage s is through its warm-up forwards
     * (w_s their time) and R_s = A_{p-1} + (bl of the stages after s) when its first
     * backward can start. Both are exact for even chunks; the second is a longest path. */
    double pre0, prel, best_lb;           /* m == p (est_interleaved_all_fwd) */
    double pf0, pb0, pbl, m1, m2, a_last; /* m > p (est_interleaved_warmup) */
};

/* What pass 2 works out: when the step's slowest stage is through, and what it waits for. */
struct est_end {
    double end_max;         /* the latest end of a stage's last backward plus its DP tail */
    double tail_at_end;     /* that stage's DP tail */
    double ag_delay;        /* the longest wait for ZeRO parameter gathers */
    double opt_max;         /* the slowest stage's optimizer */
    double flop, busy, hbm; /* one of each run's stages' work, weighted by the run's length */
    double stream;
};

/* One run's chunks as pass 2's DP races read them (est_run_view). */
struct est_view {
    double Fm, Bm;                 /* the stage's mean chunk (without chunk times) */
    const double *fcs, *bcs;       /* per-chunk forward, backward at stride cstride */
    int cstride;                   /* 1, or 0: every chunk is the mean */
    const struct step_stage *rcks; /* the chunks, or NULL: derived from the stage */
    struct chunk_run one;          /* without chunk times: the stage as its one chunk run */
    const struct chunk_run *cr;    /* the chunks as runs for the closed forms */
    int ncr;
    bool tail_by_s; /* the DP tail depends on the stage's place (est_stage_tail) */
    bool rwalk;     /* its DP races are walked (stage_dp_tail, stage_ag_delay) */
    double window;  /* from the stage's first backward to its last */
};

/* Finds the run of like stages that starts at stage s (gr: its place in the layout's
 * step_geom, or NULL) and prices it in place in runs[] (past EST_STAGES runs, in cur, and
 * priced again in pass 2); *rcp: where its chunk times went. */
static const struct stage_run *est_price_run(struct est_runs *w, int s,
                                             const struct step_geom_run *gr,
                                             const struct run_chunks **rcp)
{
    struct stage_run *r = w->nruns < EST_STAGES ? &w->runs[w->nruns] : &w->cur;
    if (gr) {
        r->st = gr->st;
        r->n = gr->n;
    } else {
        r->n = run_at(w->ctx, w->dense, w->sc->pp, s, &r->st);
    }
    r->first = s;
    struct run_chunks *rc = &w->scr; /* the run's chunks */
    if (w->by_chunk && w->nruns < EST_KEEP_CHUNKS)
        rc = &w->kc[w->nruns];
    else
        w->cur_pf = s;
    run_price(w->sc, w->k, r, w->by_chunk, rc, gr, &w->ck_kinds);
    if (r != &w->cur)
        w->nruns++;
    else
        w->keep = false;
    *rcp = rc;
    return r;
}

/* The interleaved makespan's terms for a run's stages when m == p (struct est_pipe). */
static void est_interleaved_all_fwd(int m, const struct stage_run *r, struct est_pipe *pl)
{
    double F = r->F, B = r->B, F0 = r->F0, B0 = r->B0, fl = r->fl, bl = r->bl;
    for (int i = 0; i < r->n; i++) {
        double lb = pl->pre0 + (double)m * (F + B) - pl->prel - (fl + bl);
        if (lb > pl->best_lb)
            pl->best_lb = lb;
        pl->pre0 += F0 + B0;
        pl->prel += fl + bl;
    }
}

/* The interleaved makespan's terms for a run's stages when m > p (struct est_pipe); rc: the
 * run's chunk times when by chunk. */
static void est_interleaved_warmup(const struct step_costs *sc, bool by_chunk,
                                   const struct stage_run *r, const struct run_chunks *rc, int s,
                                   struct est_pipe *pl)
{
    int p = sc->pp, v = sc->vpp, m = sc->m;
    double F = r->F, B = r->B, F0 = r->F0, B0 = r->B0, bl = r->bl;
    /* w: the time of stage i's warm-up forwards, 2(p - i - 1) + (v - 1)p + 1 of them
     * (below m v, as m > p here), in Megatron's interleaved table, where forward j
     * runs chunk (j mod p v) / p (micro-batches in groups of p through every chunk in
     * turn; the planner holds m to a multiple of p): q whole rounds of the table, the
     * chunks before c and rp forwards of chunk c (f, pf as chunk_times gives them;
     * without them every chunk is the stage's mean F / v). Two fewer per stage: the
     * place is stepped back rather than divided out again. */
    int64_t per = (int64_t)p * v;
    int64_t warm = 2 * (int64_t)(p - s - 1) + (int64_t)(v - 1) * p + 1;
    int64_t q = warm / per, c = (warm % per) / p, rp = (warm % per) % p;
    for (int i = s; i < s + r->n; i++, warm -= 2) {
        if (i > s) {
            for (rp -= 2; rp < 0; rp += p)
                if (--c < 0) {
                    c += v;
                    q--;
                }
        }
        double w = by_chunk ? (double)q * (double)p * rc->pf[v] + (double)p * rc->pf[c] +
                                  (double)rp * rc->f[c]
                            : (double)warm * F / (double)v;
        double a = pl->pf0 + w, x = (double)m * (F + B) - w + pl->pb0;
        pl->pbl += bl;
        if (a + x > pl->m1)
            pl->m1 = a + x;
        if (x - pl->pbl > pl->m2)
            pl->m2 = x - pl->pbl;
        pl->a_last = a;
        pl->pf0 += F0;
        pl->pb0 += B0;
    }
}

/* Pass 1: per-stage work per micro-batch, priced once per run of like stages, and under
 * interleaving the first and last chunk of each stage; gathers the makespan's terms. */
static void est_pass1(struct est_runs *w, struct est_pipe *pl)
{
    const struct step_costs *sc = w->sc;
    int p = sc->pp, v = sc->vpp, m = sc->m;
    const struct step_geom *geo = w->ctx->geom;
    for (int s = 0, gi = 0; s < p; gi++) {
        const struct step_geom_run *gr = geo ? &geo->run[gi] : NULL;
        const struct run_chunks *rc;
        const struct stage_run *r = est_price_run(w, s, gr, &rc);
        double F = r->F, B = r->B;
        /* the run's first stage is its bottleneck candidate: later ones only tie */
        if (F + B > pl->max_fb) {
            pl->max_fb = F + B;
            pl->s_b = s;
        }
        if (F > pl->max_f)
            pl->max_f = F;
        if (B > pl->max_b)
            pl->max_b = B;
        for (int i = 0; i < r->n; i++)
            pl->sum_fb += F + B;
        if (v > 1 && m == p)
            est_interleaved_all_fwd(m, r, pl);
        else if (v > 1)
            est_interleaved_warmup(sc, w->by_chunk, r, rc, s, pl);
        s += r->n;
    }
}

/* Pipeline makespan (docs/MODEL.md 5.2), sends included; *n_pp: the sends on its critical
 * path. With even stages these are Narayanan et al. SC'21 eq. 1-2: (m + p - 1)(tf + tb)
 * for GPipe and 1F1B, m(tf + tb) + (p - 1)(tf + tb)/v interleaved; uneven stages fill and
 * drain through every stage once and run the steady state at the slowest stage's pace. */
static double est_makespan(const struct step_costs *sc, const struct est_pipe *pl, double *n_pp_out)
{
    int p = sc->pp, v = sc->vpp, m = sc->m;
    double d = sc->p2p_s;
    double T, n_pp = 0.0;
    if (p == 1) {
        T = (double)m * pl->max_fb;
    } else if (sc->schedule == US_SCHEDULE_GPIPE) {
        T = pl->sum_fb + (double)(m - 1) * (pl->max_f + pl->max_b);
        n_pp = 2.0 * (double)(p - 1);
    } else if (sc->schedule == US_SCHEDULE_INTERLEAVED) {
        /* With even chunks both forms are Sigma/v + (m v - 1) M / v. Fill and drain cross
         * all p v virtual stages, one send each way between them. */
        if (m == p) {
            T = pl->best_lb + pl->prel;
        } else {
            double r = pl->a_last + pl->pbl + pl->m2;
            T = pl->m1 > r ? pl->m1 : r;
        }
        n_pp = 2.0 * ((double)p * (double)v - 1.0);
    } else {
        /* 1F1B: a micro-batch's round trip through k = min(m, p) stages carries 2(k-1)
         * sends while each stage runs k forward-backward pairs, so the steady state runs
         * at max(slowest stage, mean stage + 2(k-1)/k sends) per micro-batch
         * (docs/MODEL.md 5.2). */
        int kk = m < p ? m : p;
        double cyc = pl->sum_fb / (double)p + 2.0 * (double)(kk - 1) / (double)kk * d;
        double per = cyc > pl->max_fb ? cyc : pl->max_fb;
        /* Send-bound steady state: the last micro-batch's round trip is 2/k sends short. */
        double wait = (double)(m - 1) * (per - pl->max_fb);
        double trim = 2.0 / (double)kk * d;
        wait = wait > trim ? wait - trim : 0.0;
        T = pl->sum_fb + (double)(m - 1) * pl->max_fb;
        n_pp = 2.0 * (double)(p - 1) + (d > 0.0 ? wait / d : 0.0);
    }
    T += n_pp * d;
    *n_pp_out = n_pp;
    return T;
}

/* Pass 2's run ri, which starts at stage s: the one pass 1 kept, or found and priced
 * again; its optimizer, gather total and work terms, once (*opt_max: the slowest
 * optimizer so far). */
static struct stage_run *est_pass2_run(struct est_runs *w, int ri, int s, double *opt_max)
{
    struct stage_run *r;
    if (w->keep) {
        r = &w->runs[ri];
    } else {
        r = &w->cur;
        w->cur.n = run_at(w->ctx, w->dense, w->sc->pp, s, &w->cur.st);
        w->cur.first = s;
        run_price(w->sc, w->k, &w->cur, w->by_chunk, &w->scr, NULL, &w->ck_kinds);
        w->cur_pf = s;
    }
    if (!r->have_pass2) {
        run_pass2(w->sc, w->k, r);
        if (r->opt > *opt_max)
            *opt_max = r->opt;
    }
    return r;
}

/* Run ri's chunks for the DP races, in cv: each chunk's own times when priced by chunk
 * (kept from pass 1, or priced again into scr), else the stage's mean chunk (stride 0;
 * v = 1: the stage). */
static void est_run_view(struct est_runs *w, const struct stage_run *r, int ri, bool all_fwd_first,
                         struct est_view *cv)
{
    const struct step_costs *sc = w->sc;
    int v = sc->vpp, m = sc->m;
    double F = r->F, B = r->B;
    cv->Fm = F / (double)v;
    cv->Bm = B / (double)v;
    bool kept = w->by_chunk && w->keep && ri < EST_KEEP_CHUNKS; /* its chunks in kc[ri] */
    const struct run_chunks *rc = w->by_chunk ? (kept ? &w->kc[ri] : &w->scr) : NULL;
    if (w->by_chunk && !kept && w->cur_pf != r->first) {
        chunk_times(sc, w->k, &r->st, &w->scr);
        w->cur_pf = r->first;
    }
    cv->fcs = rc ? rc->f : &cv->Fm;
    cv->bcs = rc ? rc->b : &cv->Bm;
    cv->rcks = rc && rc->have_ck ? rc->ck : NULL;
    cv->cstride = rc ? 1 : 0;
    /* the chunks as runs for the closed forms (v = 1: the stage itself) */
    cv->one = (struct chunk_run){.kind = -1, .n = 1, .f = F, .b = B};
    if (!rc)
        step_chunk_of(&r->st, 1, 0, &cv->one.ck);
    cv->cr = rc ? rc->cr : &cv->one;
    cv->ncr = rc ? rc->ncr : 1;
    /* The DP tail depends on the stage's layers, and on s only where reduction runs in
     * every backward of a 1F1B cool-down (ZeRO-2/3). */
    cv->tail_by_s = sc->zero >= 2 && v == 1 && sc->schedule != US_SCHEDULE_GPIPE;
    /* The DP tail in closed form (race_tail_s, race_tail_run); race_all walks every bucket
     * instead (stage_dp_tail, the reference the tests hold them to), as does a run of too
     * many chunks or chunk runs. */
    cv->rwalk = sc->race_all || v > EST_CHUNKS || cv->ncr == 0;
    cv->window = (double)m * B; /* from the stage's first backward to its last */
    if (!all_fwd_first)
        cv->window += (double)(m - 1) * F;
}

/* Exposed DP gradient time after stage s (of run r) ends its last backward; *per_mb: its
 * reduction time per micro-batch. What does not depend on s is remembered in r. */
static double est_stage_tail(struct est_runs *w, struct stage_run *r, const struct est_view *cv,
                             int s, double *per_mb)
{
    const struct step_costs *sc = w->sc;
    double tail;
    if (cv->tail_by_s && !cv->rwalk) {
        if (!r->have_shape) {
            struct step_stage ck;
            step_chunk_of(&r->st, 1, 0, &ck);
            race_shape_of(w->k, &ck, &r->shape);
            r->have_shape = true;
        }
        tail = race_tail_s(sc, &r->shape, s, r->B);
        *per_mb = r->shape.per_mb;
    } else if (!cv->tail_by_s && r->have_tail) {
        tail = r->tail;
        *per_mb = r->per_mb;
    } else {
        if (cv->rwalk)
            tail = stage_dp_tail(sc, w->k, &r->st, cv->rcks, s, cv->bcs, cv->cstride, per_mb);
        else
            tail = race_tail_run(sc, w->k, cv->cr, cv->ncr, s, &w->ck_kinds, per_mb);
        r->tail = tail;
        r->per_mb = *per_mb;
        r->have_tail = true;
    }
    return tail;
}

/* How long stage s (of run r, starting at pf) waits for ZeRO parameter gathers, folded
 * into *ag_delay. */
static void est_stage_ag_wait(struct est_runs *w, struct stage_run *r, const struct est_view *cv,
                              int s, double pf, double *ag_delay)
{
    const struct step_costs *sc = w->sc;
    const struct kind_time *k = w->k;
    if ((sc->zero == 1 || sc->zero == 2) && r->ag_total > pf) {
        /* (a stage that starts after its whole gather has nothing to wait for) */
        double dl;
        if (cv->rwalk) {
            dl = stage_ag_delay(sc, k, &r->st, cv->rcks, pf, cv->fcs, cv->cstride);
        } else {
            if (!r->have_lead) {
                r->ag_lead = run_ag_lead(sc, k, cv->cr, cv->ncr);
                r->have_lead = true;
            }
            dl = r->ag_lead - pf;
        }
        if (dl > *ag_delay)
            *ag_delay = dl;
    } else if (sc->zero >= 3 && !sc->zero3_serial && s == 0) {
        /* The first layer's gather has nothing to hide behind. */
        *ag_delay = r->st.has_embed
                        ? k[K_EMBED].lt->param_ag_s
                        : (r->st.n_dense > 0 ? k[K_DENSE].lt->param_ag_s : k[K_MOE].lt->param_ag_s);
    }
}

/* Stage s of run r ends its last backward at E (and started its first forward at pf): its
 * DP tail and gather wait, folded into e. */
static void est_stage_end(struct est_runs *w, struct stage_run *r, const struct est_view *cv, int s,
                          double E, double pf, struct est_end *e)
{
    const struct step_costs *sc = w->sc;
    double per_mb;
    double tail = est_stage_tail(w, r, cv, s, &per_mb);
    if (sc->zero == 2 || sc->zero >= 3) {
        /* Gradients are reduced every micro-batch: the DP stream must also keep up
         * over the window from the stage's first backward to its last (all the
         * backwards, and the forwards between them unless the schedule runs every
         * forward first). */
        double backlog = (double)sc->m * per_mb - cv->window;
        if (backlog > tail)
            tail = backlog;
    }
    if (E + tail > e->end_max) {
        e->end_max = E + tail;
        e->tail_at_end = tail;
    }
    est_stage_ag_wait(w, r, cv, s, pf, &e->ag_delay);
}

/* Pass 2: when each stage's last backward ends, its exposed DP tail, the optimizer, and
 * the work totals (step_work_totals_of), per run of like stages, given the makespan T.
 * Within a run the stages' ends E fall with s (each ends the chunk-0 backwards of the ones
 * before it earlier), their DP tails do not grow (the same, or under ZeRO-2/3 1F1B a
 * cool-down of g = min(m, p - s) backwards, which shrinks) and their ZeRO-1/2 gather waits
 * fall with the later start: the run's first stage sets its share of the step (a later one
 * could at most tie, and only a strictly larger end moves the maximum). race_all works out
 * every stage, the reference the tests compare with. */
static void est_pass2(struct est_runs *w, double T, bool all_fwd_first, struct est_end *e)
{
    const struct step_costs *sc = w->sc;
    int p = sc->pp;
    double d = sc->p2p_s;
    double prefix_b = 0.0, prefix_f = 0.0;
    int ri = 0;
    for (int s = 0; s < p; ri++) {
        struct stage_run *r = est_pass2_run(w, ri, s, &e->opt_max);
        struct est_view cv;
        est_run_view(w, r, ri, all_fwd_first, &cv);
        double pb = prefix_b, pf = prefix_f;
        int ns = sc->race_all ? r->n : 1; /* stages of the run that can set the step */
        for (int i = 0; i < ns; i++) {
            /* Stage 0 finishes the drain last; stage s ends the chunk-0 backwards (and
             * sends) of the stages before it earlier. */
            est_stage_end(w, r, &cv, s + i, T - pb, pf, e);
            pb += r->B0 + d;
            pf += r->F0 + d;
        }
        for (int i = 0; i < r->n; i++) {
            prefix_b += r->B0 + d;
            prefix_f += r->F0 + d;
        }
        e->flop += (double)r->n * r->w_flop;
        e->busy += (double)r->n * r->w_busy;
        e->hbm += (double)r->n * r->w_hbm;
        e->stream += (double)r->n * r->w_stream;
        s += r->n;
    }
}

/* Breakdown: the bottleneck stage s_b's own work, the rest of the makespan is bubble. */
static void est_breakdown(const struct est_runs *w, int s_b, double n_pp, const struct est_end *e,
                          struct step_times *out)
{
    const struct step_costs *sc = w->sc;
    struct step_stage sb;
    if (w->keep) {
        int i = 0;
        while (s_b >= w->runs[i].first + w->runs[i].n)
            i++;
        sb = w->runs[i].st;
    } else {
        step_stage_of(w->ctx, s_b, &sb);
    }
    double cat[STEP_CAT_COUNT] = {0}, Fb, Bb;
    stage_work(sc, w->k, &sb, &Fb, &Bb, cat);
    for (int c = 0; c < STEP_CAT_COUNT; c++)
        cat[c] *= (double)sc->m;
    struct us_breakdown *br = &out->br;
    br->compute_s = cat[STEP_CAT_COMPUTE];
    br->tp_comm_s = cat[STEP_CAT_TP];
    br->cp_comm_s = cat[STEP_CAT_CP];
    br->ep_comm_s = cat[STEP_CAT_EP];
    br->pp_comm_s = n_pp * sc->p2p_s;
    br->dp_comm_s = cat[STEP_CAT_DP] + e->tail_at_end + e->ag_delay;
    br->optimizer_s = e->opt_max;
    br->overhead_s = sc->overhead_s;
    double rest = br->compute_s + br->tp_comm_s + br->cp_comm_s + br->ep_comm_s + br->pp_comm_s +
                  br->dp_comm_s + br->optimizer_s + br->overhead_s;
    br->bubble_s = out->step_s - rest;
    if (br->bubble_s < 0.0) {
        /* Rounding only: the bottleneck's own work never exceeds the makespan. */
        br->compute_s += br->bubble_s;
        br->bubble_s = 0.0;
    }
}

void estimate_step_with(const struct step_ctx *ctx, const struct step_costs *sc,
                        struct step_times *out)
{
    const struct spec_model *md = &ctx->job->model;
    struct est_runs w; /* not cleared: see struct est_runs */
    w.ctx = ctx;
    w.sc = sc;
    w.dense = !(md->has_moe && md->moe.experts > 0);
    kinds_init(sc, w.dense, w.k);
    memset(out, 0, sizeof *out);
    /* Chunks priced one by one up to EST_CHUNKS per stage; beyond, each is the mean. */
    w.by_chunk = sc->vpp > 1 && sc->vpp <= EST_CHUNKS;
    w.nruns = 0;
    w.keep = true;
    w.cur_pf = -1;
    memset(w.ck_kinds.have_fb, 0, sizeof w.ck_kinds.have_fb);
    memset(w.ck_kinds.have_rs, 0, sizeof w.ck_kinds.have_rs);

    struct est_pipe pl = {.max_fb = -1.0, .best_lb = -HUGE_VAL, .m1 = -HUGE_VAL, .m2 = -HUGE_VAL};
    est_pass1(&w, &pl);
    double n_pp;
    double T = est_makespan(sc, &pl, &n_pp);

    /* GPipe, and Megatron's interleaved schedule when m == p, run every forward first. */
    int p = sc->pp;
    bool all_fwd_first = p > 1 && (sc->schedule == US_SCHEDULE_GPIPE ||
                                   (sc->schedule == US_SCHEDULE_INTERLEAVED && sc->m == p));
    struct est_end e = {.end_max = -1.0};
    est_pass2(&w, T, all_fwd_first, &e);

    out->step_s = e.end_max + e.ag_delay + e.opt_max + sc->overhead_s;
    if (!sc->no_breakdown)
        est_breakdown(&w, pl.s_b, n_pp, &e, out);
    /* The mean over the stages of one pipeline (step_work_totals_of's, to rounding). */
    double kd = (double)sc->m / (double)sc->pp;
    out->hw_flop_per_chip = e.flop * kd;
    out->compute_busy_s = e.busy * kd;
    out->hbm_busy_s = e.hbm * kd;
    out->stream_busy_s = fmax(out->compute_busy_s, e.stream * kd + sc->overhead_s);
    struct step_power pw;
    step_power_levels(ctx->job, ctx->job->chips, out->compute_busy_s, out->stream_busy_s, &pw);
    out->power_peak_W = pw.pue * (pw.chips * pw.stream_W + pw.const_W);
    out->power_min_W = pw.pue * (pw.chips * pw.wait_W + pw.const_W);
    out->engine = "closed-form";
}

double step_layer_stream_s(const struct step_layer_time *lt)
{
    double fwd = lt->attn_fwd_s + lt->other_fwd_s;
    return fwd + lt->attn_bwd_s + lt->other_bwd_s + (lt->full_recompute ? fwd : 0.0);
}

void step_power_levels(const struct spec_job *job, int64_t chips, double compute_busy_s,
                       double stream_busy_s, struct step_power *pw)
{
    /* The same levels and clamps as scale_params_resolve, so that the event engine's power
     * trace integrates to scale's energy per step. */
    const struct spec_system *sys = &job->system;
    double tdp = fmax(0.0, sys->chip.tdp_W);
    double idle = fmin(fmax(0.0, sys->chip.idle_W), tdp);
    double gemm = fmax(idle, sys->chip.gemm_W > 0.0 ? sys->chip.gemm_W : tdp);
    double wait = fmin(gemm, fmax(idle, sys->chip.wait_W));
    double mem = fmin(gemm, fmax(wait, sys->chip.memory_W));
    double mat = fmax(0.0, compute_busy_s);
    double str = fmax(mat, stream_busy_s);
    pw->stream_W = str > 0.0 ? (mat * gemm + (str - mat) * mem) / str : gemm;
    pw->wait_W = wait;
    double always = fmax(0.0, sys->host_W_per_chip) + fmax(0.0, sys->network_W_per_chip);
    double spares = job->scale.spare_chips > 0 ? (double)job->scale.spare_chips : 0.0;
    pw->chips = chips > 0 ? (double)chips : 1.0;
    pw->const_W = pw->chips * always + spares * (idle + always);
    double pue = job->scale.pue > 0.0 ? job->scale.pue : (sys->pue > 0.0 ? sys->pue : 1.0);
    pw->pue = fmax(1.0, pue);
}
