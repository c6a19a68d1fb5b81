/* sim: builds the op graph of one training iteration for one pipeline, runs it on
 * in-order streams with a (time, sequence) event heap, and reads the step time, the
 * breakdown and the critical path off the finished schedule. The graph: per stage, the
 * schedule's order of forward / backward chunks (GPipe, 1F1B, Megatron's interleaved
 * 1F1B), each a chain of per-layer ops (struct step_layer_time), pipeline sends between
 * stages, DP gradient buckets in the last backward, ZeRO parameter gathers, then a
 * barrier (the gradient-norm all-reduce), the optimizer and host overhead. Leaves out:
 * bandwidth shared between concurrent streams, and jitter (scale/ handles stragglers). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"

enum t_op {
    OP_JOIN = 0, /* zero-length node that only joins dependencies */
    OP_ATTN,
    OP_OTHER,
    OP_TP,
    OP_CP,
    OP_EP,
    OP_SEND,
    OP_DP_GRAD,
    OP_DP_AG,
    OP_OPT,
    OP_OVERHEAD,
    OP_COUNT
};
static const char *const op_names[OP_COUNT] = {"join",      "attn",      "ops",     "tp",
                                               "cp",        "ep",        "send",    "dp-grad",
                                               "dp-gather", "optimizer", "overhead"};
static const enum step_cat op_cat[OP_COUNT] = {
    STEP_CAT_OPT, STEP_CAT_COMPUTE, STEP_CAT_COMPUTE, STEP_CAT_TP,  STEP_CAT_CP,      STEP_CAT_EP,
    STEP_CAT_PP,  STEP_CAT_DP,      STEP_CAT_DP,      STEP_CAT_OPT, STEP_CAT_OVERHEAD};

enum t_dir { DIR_F = 0, DIR_B = 1, DIR_R = 2, DIR_NONE = 3 };
static const char dir_char[4] = {'F', 'B', 'R', '-'};

enum { K_EMBED = 0, K_DENSE, K_MOE, K_HEAD, K_COUNT };
static const char *const kind_names[K_COUNT] = {"embed", "dense", "moe", "head"};

const char *sim_stream_name(enum sim_stream s)
{
    static const char *const names[SIM_STREAM_COUNT] = {"compute", "tp-comm",     "cp-comm",
                                                        "ep-comm", "pp-send-fwd", "pp-send-bwd",
                                                        "dp-grad", "dp-gather"};
    return (unsigned)s < SIM_STREAM_COUNT ? names[s] : "?";
}

struct task {
    int64_t dur_ps, start_ps, end_ps;
    int32_t stream;  /* global stream: stage * SIM_STREAM_COUNT + kind; -1 = join */
    int32_t next;    /* next task on the same stream */
    int32_t crit;    /* the predecessor whose completion let it start; -1 = none */
    int32_t pending; /* dependencies not yet done */
    int32_t out_first, out_n;
    int32_t mb;
    int16_t stage, chunk, layer;
    uint8_t op, dir, kind;
};

struct edge {
    int32_t from, to;
};

struct stream_state {
    int32_t head, tail, cur;
    bool busy;
};

#define FR_MAX 6
struct frontier {
    int32_t id[FR_MAX];
    int n;
};

struct sim {
    const struct step_ctx *ctx;
    const struct step_costs *sc;
    int p, v, m;
    struct task *t;
    int32_t nt, capt;
    struct edge *e;
    int32_t ne, cape;
    int32_t *dep_to; /* CSR of dependents */
    struct stream_state *st;
    int32_t nst;
    /* per (stage, dir, mb, chunk) */
    int32_t *send;
    struct frontier *exitf;
    /* joins waiting for a send that is created later: (join, key of the send) */
    int32_t *def_join, *def_key;
    int32_t ndef;
    bool oom;
    double total_ps; /* sum of every task's duration: an upper bound on every event time */
};

static int64_t ps_of(double s)
{
    if (!(s > 0.0))
        return 0;
    double ps = ceil(s * 1e12);
    return ps < 9.0e18 ? (int64_t)ps : INT64_C(9000000000000000000);
}

static size_t key_of(const struct sim *S, int s, int dir, int mb, int k)
{
    return (((size_t)s * 2u + (size_t)dir) * (size_t)S->m + (size_t)mb) * (size_t)S->v + (size_t)k;
}

static bool grow(void **p, int32_t *cap, int32_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    int32_t nc = *cap > 0 ? *cap : 1024;
    while (nc < need) {
        if (nc > INT32_MAX / 2)
            return false;
        nc *= 2;
    }
    void *np = realloc(*p, (size_t)nc * elem);
    if (!np)
        return false;
    *p = np;
    *cap = nc;
    return true;
}

static void add_edge(struct sim *S, int32_t from, int32_t to)
{
    if (from < 0 || to < 0 || S->oom)
        return;
    if (!grow((void **)&S->e, &S->cape, S->ne + 1, sizeof *S->e)) {
        S->oom = true;
        return;
    }
    S->e[S->ne++] = (struct edge){from, to};
}

/* A new task on stream `kind` of stage s (kind < 0: a join), depending on fr. */
static int32_t new_task(struct sim *S, int s, int kind, enum t_op op, double dur_s,
                        const struct frontier *fr)
{
    if (S->oom)
        return -1;
    if (!grow((void **)&S->t, &S->capt, S->nt + 1, sizeof *S->t)) {
        S->oom = true;
        return -1;
    }
    int32_t id = S->nt++;
    struct task *t = &S->t[id];
    memset(t, 0, sizeof *t);
    t->dur_ps = ps_of(dur_s);
    /* No event can end later than the sum of all durations: keeping that sum under
     * SIM_MAX_PS keeps every `now + dur` in int64 (a step longer than that is priced by the
     * closed form, in doubles). */
    S->total_ps += (double)t->dur_ps;
    if (S->total_ps > SIM_MAX_PS)
        S->oom = true;
    t->stream = kind < 0 ? -1 : s * SIM_STREAM_COUNT + kind;
    t->next = -1;
    t->crit = -1;
    t->stage = (int16_t)s;
    t->op = (uint8_t)op;
    t->dir = DIR_NONE;
    t->layer = -1;
    t->chunk = -1;
    t->mb = -1;
    if (t->stream >= 0) {
        struct stream_state *ss = &S->st[t->stream];
        if (ss->tail >= 0)
            S->t[ss->tail].next = id;
        else
            ss->head = id;
        ss->tail = id;
    }
    if (fr)
        for (int i = 0; i < fr->n; i++)
            add_edge(S, fr->id[i], id);
    return id;
}

static void fr_add(struct frontier *f, int32_t id)
{
    if (id < 0)
        return;
    for (int i = 0; i < f->n; i++)
        if (f->id[i] == id)
            return;
    if (f->n < FR_MAX)
        f->id[f->n++] = id;
}

static void fr_one(struct frontier *f, int32_t id)
{
    f->n = 0;
    fr_add(f, id);
}

/* Labels the task for the trace. */
static void label(struct sim *S, int32_t id, int dir, int mb, int chunk, int kind, int layer)
{
    if (id < 0)
        return;
    struct task *t = &S->t[id];
    t->dir = (uint8_t)dir;
    t->mb = mb;
    t->chunk = (int16_t)chunk;
    t->kind = (uint8_t)kind;
    t->layer = (int16_t)layer;
}

/* One direction of one layer (struct step_layer_time): attention || CP exchange, the
 * other ops, then TP and EP collectives (serial, or beside the other ops when overlapped).
 * fr is the input frontier and becomes the output one; returns the last compute op. */
static int32_t emit_chain(struct sim *S, int s, int dir, int mb, int chunk, int kind, int layer,
                          double attn, double other, double tp, double cp, double ep,
                          struct frontier *fr)
{
    const struct step_costs *sc = S->sc;
    struct frontier in = *fr, mid = {{0}, 0};
    int32_t a = -1, c = -1, o = -1;
    if (attn > 0.0) {
        a = new_task(S, s, SIM_STREAM_COMPUTE, OP_ATTN, attn, &in);
        label(S, a, dir, mb, chunk, kind, layer);
        fr_add(&mid, a);
    }
    if (cp > 0.0) {
        c = new_task(S, s, SIM_STREAM_CP, OP_CP, cp, &in);
        label(S, c, dir, mb, chunk, kind, layer);
        fr_add(&mid, c);
    }
    if (mid.n == 0)
        mid = in;
    struct frontier serial = mid;
    if (other > 0.0) {
        o = new_task(S, s, SIM_STREAM_COMPUTE, OP_OTHER, other, &mid);
        label(S, o, dir, mb, chunk, kind, layer);
        fr_one(&serial, o);
    }
    struct frontier out = {{0}, 0};
    /* Overlapped TP leaves the forward's tail (sc->tp_tail_fwd: the last chunk of each
     * reduce-scatter) after the other ops, behind the overlapped part on the TP stream. */
    double tail = sc->tp_overlap && dir != DIR_B ? sc->tp_tail_fwd * tp : 0.0;
    if (tp - tail > 0.0) {
        int32_t x =
            new_task(S, s, SIM_STREAM_TP, OP_TP, tp - tail, sc->tp_overlap ? &mid : &serial);
        label(S, x, dir, mb, chunk, kind, layer);
        if (sc->tp_overlap)
            fr_add(&out, x);
        else
            fr_one(&serial, x);
    }
    if (tail > 0.0) {
        int32_t x = new_task(S, s, SIM_STREAM_TP, OP_TP, tail, &serial);
        label(S, x, dir, mb, chunk, kind, layer);
        fr_one(&serial, x);
    }
    if (ep > 0.0 && sc->ep_overlap) {
        /* Overlapped beside the other ops, but for the exposed share (one micro-batch's of m,
         * step_ep_exposed_share), which follows them and the overlapped part on the EP
         * stream. */
        double ex = ep * step_ep_exposed_share(sc), eo = ep - ex;
        if (eo > 0.0) {
            int32_t x = new_task(S, s, SIM_STREAM_EP, OP_EP, eo, &mid);
            label(S, x, dir, mb, chunk, kind, layer);
            fr_add(&out, x);
        }
        if (ex > 0.0) {
            int32_t x = new_task(S, s, SIM_STREAM_EP, OP_EP, ex, &serial);
            label(S, x, dir, mb, chunk, kind, layer);
            fr_one(&serial, x);
        }
    } else if (ep > 0.0) {
        int32_t x = new_task(S, s, SIM_STREAM_EP, OP_EP, ep, &serial);
        label(S, x, dir, mb, chunk, kind, layer);
        fr_one(&serial, x);
    }
    for (int i = 0; i < serial.n; i++)
        fr_add(&out, serial.id[i]);
    *fr = out;
    return o >= 0 ? o : a;
}

/* The order of (dir, mb, chunk) a stage runs. Returns the count (2 m v). */
static int schedule_order(const struct sim *S, int s, int *dir, int *mb, int *chunk, int *tab_mb,
                          int *tab_ck)
{
    int p = S->p, v = S->v, m = S->m;
    int n = 0;
    if (S->sc->schedule == US_SCHEDULE_GPIPE) {
        for (int i = 0; i < m; i++, n++) {
            dir[n] = DIR_F;
            mb[n] = i;
            chunk[n] = 0;
        }
        for (int i = 0; i < m; i++, n++) {
            dir[n] = DIR_B;
            mb[n] = i;
            chunk[n] = 0;
        }
        return n;
    }
    /* Megatron-Core's schedule table: micro-batches in groups of p, each group run
     * through every chunk in turn (the last group takes the remainder); v = 1 is plain
     * 1F1B (Narayanan et al. SC'21 sec. 2.2; megatron/core/pipeline_parallel/
     * schedules.py, forward_backward_pipelining_with_interleaving). */
    int total = m * v, nt = 0;
    for (int g0 = 0; g0 < m; g0 += p) {
        int g1 = g0 + p >= m ? m : g0 + p;
        for (int k = 0; k < v; k++)
            for (int i = g0; i < g1; i++, nt++) {
                tab_mb[nt] = i;
                tab_ck[nt] = k;
            }
        if (g1 == m)
            break;
    }
    int warm;
    if (v == 1) {
        warm = p - s - 1;
    } else if (m == p) {
        warm = total; /* Megatron runs all forwards first when m equals p */
    } else {
        warm = (p - s - 1) * 2 + (v - 1) * p;
    }
    if (warm > total)
        warm = total;
    int fi = 0, bi = 0;
    for (; fi < warm; fi++, n++) {
        dir[n] = DIR_F;
        mb[n] = tab_mb[fi];
        chunk[n] = tab_ck[fi];
    }
    while (fi < total) {
        dir[n] = DIR_F;
        mb[n] = tab_mb[fi];
        chunk[n] = tab_ck[fi];
        n++;
        fi++;
        dir[n] = DIR_B;
        mb[n] = tab_mb[bi];
        chunk[n] = v - 1 - tab_ck[bi];
        n++;
        bi++;
    }
    for (; bi < total; bi++, n++) {
        dir[n] = DIR_B;
        mb[n] = tab_mb[bi];
        chunk[n] = v - 1 - tab_ck[bi];
    }
    return n;
}

static const struct step_layer_time *kind_lt(const struct step_costs *sc, int kind)
{
    switch (kind) {
    case K_EMBED:
        return &sc->embed;
    case K_MOE:
        return &sc->moe;
    case K_HEAD:
        return &sc->head;
    default:
        return &sc->dense;
    }
}

/* Layers of a chunk in forward order, as runs of one kind: (kind, count). */
static int chunk_runs(const struct step_stage *ck, int kinds[K_COUNT], int counts[K_COUNT])
{
    int n = 0;
    if (ck->has_embed) {
        kinds[n] = K_EMBED;
        counts[n++] = 1;
    }
    if (ck->n_dense > 0) {
        kinds[n] = K_DENSE;
        counts[n++] = ck->n_dense;
    }
    if (ck->n_moe > 0) {
        kinds[n] = K_MOE;
        counts[n++] = ck->n_moe;
    }
    if (ck->has_head) {
        kinds[n] = K_HEAD;
        counts[n++] = 1;
    }
    return n;
}

/* Builds the program of stage s. ag_slot: scratch of at least (layers of the stage + 2)
 * entries per chunk for the ZeRO-1/2 gather that each layer's first forward waits for. */
static void build_stage(struct sim *S, int s, int *odir, int *omb, int *ock, int *tab_mb,
                        int *tab_ck, int32_t *ag_slot, int slot_per_chunk, int32_t *last_dp)
{
    const struct step_costs *sc = S->sc;
    int p = S->p, v = S->v, m = S->m;
    struct step_stage st;
    step_stage_of(S->ctx, s, &st);
    struct step_stage *cks = malloc((size_t)v * sizeof *cks);
    int *layer0 = malloc((size_t)v * sizeof *layer0);
    if (!cks || !layer0) {
        free(cks);
        free(layer0);
        S->oom = true;
        return;
    }
    int acc = 0;
    for (int k = 0; k < v; k++) {
        step_chunk_of(&st, v, k, &cks[k]);
        layer0[k] = acc;
        acc += cks[k].n_dense + cks[k].n_moe;
    }

    /* ZeRO-1/2: parameters of this step are gathered in buckets from the start, in
     * forward order (Megatron overlap-param-gather, docs/MODEL.md 5.4). */
    if (sc->zero == 1 || sc->zero == 2) {
        for (int k = 0; k < v; k++) {
            int kinds[K_COUNT], counts[K_COUNT];
            int nr = chunk_runs(&cks[k], kinds, counts), slot = 0;
            for (int r = 0; r < nr; r++) {
                const struct step_layer_time *lt = kind_lt(sc, kinds[r]);
                int per = lt->bucket_layers > 0 ? lt->bucket_layers : 1;
                for (int left = counts[r]; left > 0;) {
                    int c = left < per ? left : per;
                    int32_t id = new_task(S, s, SIM_STREAM_DP_AG, OP_DP_AG,
                                          lt->bucket_ag_s * (double)c / (double)per, NULL);
                    label(S, id, DIR_NONE, -1, k, kinds[r], layer0[k] + slot);
                    for (int j = 0; j < c; j++)
                        ag_slot[k * slot_per_chunk + slot + j] = id;
                    slot += c;
                    left -= c;
                }
            }
        }
    }

    int n = schedule_order(S, s, odir, omb, ock, tab_mb, tab_ck);
    struct frontier prev_exit = {{0}, 0};
    int32_t hist[2] = {-1, -1}; /* last two layers' compute ends (ZeRO-3 prefetch gate) */
    for (int it = 0; it < n; it++) {
        int dir = odir[it], i = omb[it], k = ock[it];
        size_t key = key_of(S, s, dir, i, k);
        /* Entry: after the previous chunk on this stage, and the input from elsewhere. */
        int32_t join = new_task(S, s, -1, OP_JOIN, 0.0, &prev_exit);
        label(S, join, dir, i, k, 0, -1);
        int src_s = -1, src_dir = dir, src_k = k;
        bool local = false;
        if (dir == DIR_F) {
            if (s > 0)
                src_s = s - 1;
            else if (k > 0) {
                src_s = p - 1;
                src_k = k - 1;
            }
        } else {
            if (s < p - 1)
                src_s = s + 1;
            else if (k < v - 1) {
                src_s = 0;
                src_k = k + 1;
            } else {
                src_s = s;
                src_dir = DIR_F;
                local = true;
            }
        }
        if (src_s >= 0) {
            if (p == 1)
                local = true;
            size_t skey = key_of(S, src_s, src_dir, i, src_k);
            if (local) {
                struct frontier *ef = &S->exitf[skey];
                /* after a failed allocation the graph is abandoned: frontiers may be empty */
                US_ASSERT(S->oom || ef->n > 0,
                          "stage %d needs chunk %d of micro-batch %d before it ran", s, src_k, i);
                for (int j = 0; j < ef->n; j++)
                    add_edge(S, ef->id[j], join);
            } else {
                S->def_join[S->ndef] = join;
                S->def_key[S->ndef] = (int32_t)skey;
                S->ndef++;
            }
        }

        struct frontier fr;
        fr_one(&fr, join);
        int kinds[K_COUNT], counts[K_COUNT];
        int nr = chunk_runs(&cks[k], kinds, counts);
        bool reduce = dir == DIR_B && sc->zero <= 2 && (sc->zero == 2 || i == m - 1);
        /* Layers in this direction's order. */
        for (int rr = 0; rr < nr; rr++) {
            int r = dir == DIR_F ? rr : nr - 1 - rr;
            int kind = kinds[r];
            const struct step_layer_time *lt = kind_lt(sc, kind);
            int slot0 = 0;
            for (int q = 0; q < r; q++)
                slot0 += counts[q];
            int per = lt->bucket_layers > 0 ? lt->bucket_layers : 1, inb = 0;
            for (int jj = 0; jj < counts[r]; jj++) {
                int j = dir == DIR_F ? jj : counts[r] - 1 - jj;
                int slot = slot0 + j;
                int layer = kind == K_EMBED || kind == K_HEAD
                                ? -1
                                : layer0[k] + slot - (cks[k].has_embed ? 1 : 0);
                if (sc->zero >= 3 && lt->param_ag_s > 0.0) {
                    /* prefetched: after the layer two back frees its buffer; one gathered
                     * layer (zero3_serial): after the layer before */
                    struct frontier gate = {{0}, 0};
                    fr_add(&gate, hist[sc->zero3_serial ? 1 : 0]);
                    int32_t ag = new_task(S, s, SIM_STREAM_DP_AG, OP_DP_AG, lt->param_ag_s, &gate);
                    label(S, ag, dir, i, k, kind, layer);
                    fr_add(&fr, ag);
                }
                if (dir == DIR_F && i == 0 && (sc->zero == 1 || sc->zero == 2))
                    fr_add(&fr, ag_slot[k * slot_per_chunk + slot]);
                int32_t end;
                if (dir == DIR_F) {
                    end =
                        emit_chain(S, s, DIR_F, i, k, kind, layer, lt->attn_fwd_s, lt->other_fwd_s,
                                   lt->tp_fwd_s, lt->cp_fwd_s, lt->ep_fwd_s, &fr);
                } else {
                    if (lt->full_recompute)
                        emit_chain(S, s, DIR_R, i, k, kind, layer, lt->rerun_attn_s,
                                   lt->rerun_other_s, lt->tp_fwd_s, lt->cp_fwd_s, lt->ep_fwd_s,
                                   &fr);
                    end =
                        emit_chain(S, s, DIR_B, i, k, kind, layer, lt->attn_bwd_s, lt->other_bwd_s,
                                   lt->tp_bwd_s, lt->cp_bwd_s, lt->ep_bwd_s, &fr);
                }
                if (end >= 0) {
                    hist[0] = hist[1];
                    hist[1] = end;
                }
                if (dir == DIR_B && sc->zero >= 3 && lt->grad_s > 0.0) {
                    int32_t rs = new_task(S, s, SIM_STREAM_DP, OP_DP_GRAD, lt->grad_s, &fr);
                    label(S, rs, dir, i, k, kind, layer);
                    *last_dp = rs;
                }
                if (reduce) {
                    inb++;
                    if (inb == per || jj == counts[r] - 1) {
                        double t = lt->bucket_grad_s * (double)inb / (double)per;
                        int32_t g = new_task(S, s, SIM_STREAM_DP, OP_DP_GRAD, t, &fr);
                        label(S, g, dir, i, k, kind, layer);
                        if (g >= 0)
                            *last_dp = g;
                        inb = 0;
                    }
                }
            }
        }
        S->exitf[key] = fr;
        prev_exit = fr;
        /* Send the result on, when someone receives it. */
        bool send = false;
        if (p > 1) {
            if (dir == DIR_F)
                send = s < p - 1 || k < v - 1;
            else
                send = s > 0 || k > 0;
        }
        if (send) {
            int32_t x = new_task(S, s, dir == DIR_F ? SIM_STREAM_PP_FWD : SIM_STREAM_PP_BWD,
                                 OP_SEND, sc->p2p_s, &fr);
            label(S, x, dir, i, k, 0, -1);
            S->send[key] = x;
        }
    }
    free(cks);
    free(layer0);
}

static void release(struct sim *S, struct sim_queue *q, int64_t *seq, int32_t id, int64_t now,
                    int32_t by)
{
    struct task *t = &S->t[id];
    t->start_ps = now;
    t->crit = by;
    if (t->stream >= 0)
        S->st[t->stream].busy = true;
    int64_t end;
    US_ASSERT(!__builtin_add_overflow(now, t->dur_ps, &end), "event time overflow: %lld + %lld ps",
              (long long)now, (long long)t->dur_ps);
    struct sim_event ev = {end, (*seq)++, id};
    bool ok = sim_queue_push(q, ev);
    US_ASSERT(ok, "event queue full (%d)", q->cap);
}

/* Can the task at the head of stream `s` start now? */
static void try_stream(struct sim *S, struct sim_queue *q, int64_t *seq, int32_t s, int64_t now,
                       int32_t by)
{
    struct stream_state *ss = &S->st[s];
    if (ss->busy || ss->cur < 0)
        return;
    if (S->t[ss->cur].pending == 0)
        release(S, q, seq, ss->cur, now, by);
}

/* Time of compute-stream ops of stage s that overlaps [a, b). */
static int64_t compute_overlap(const struct sim *S, const int32_t *cidx, const int32_t *coff, int s,
                               int64_t a, int64_t b)
{
    int32_t lo = coff[s], hi = coff[s + 1];
    /* first op that ends after a */
    int32_t l = lo, r = hi;
    while (l < r) {
        int32_t mid = l + (r - l) / 2;
        if (S->t[cidx[mid]].end_ps <= a)
            l = mid + 1;
        else
            r = mid;
    }
    int64_t sum = 0;
    for (int32_t i = l; i < hi; i++) {
        const struct task *t = &S->t[cidx[i]];
        if (t->start_ps >= b)
            break;
        if (op_cat[t->op] != STEP_CAT_COMPUTE)
            continue;
        int64_t x0 = t->start_ps > a ? t->start_ps : a;
        int64_t x1 = t->end_ps < b ? t->end_ps : b;
        if (x1 > x0)
            sum += x1 - x0;
    }
    return sum;
}

static void write_trace(const struct sim *S, const bool *oncrit, struct core_buf *b)
{
    core_buf_printf(b, "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n");
    bool first = true;
    for (int s = 0; s < S->p; s++) {
        core_buf_printf(b,
                        "%s{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":0,"
                        "\"args\":{\"name\":\"stage %d\"}},\n"
                        "{\"name\":\"process_sort_index\",\"ph\":\"M\",\"pid\":%d,\"tid\":0,"
                        "\"args\":{\"sort_index\":%d}}",
                        first ? "" : ",\n", s, s, s, s);
        first = false;
        for (int k = 0; k < SIM_STREAM_COUNT; k++)
            core_buf_printf(b,
                            ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":%d,"
                            "\"args\":{\"name\":\"%s\"}}",
                            s, k, sim_stream_name((enum sim_stream)k));
    }
    for (int32_t i = 0; i < S->nt; i++) {
        const struct task *t = &S->t[i];
        if (t->stream < 0 || t->dur_ps == 0)
            continue;
        int tid = t->stream % SIM_STREAM_COUNT;
        char name[96];
        if (t->op == OP_OPT || t->op == OP_OVERHEAD) {
            core_fmt(name, sizeof name, "%s", op_names[t->op]);
        } else {
            char where[32] = "";
            if (t->op != OP_SEND) {
                if (t->layer >= 0)
                    core_fmt(where, sizeof where, " L%d", (int)t->layer);
                else
                    core_fmt(where, sizeof where, " %s", kind_names[t->kind]);
            }
            char who[24] = "";
            if (t->mb >= 0)
                core_fmt(who, sizeof who, "%c%d", dir_char[t->dir], t->mb);
            else
                core_fmt(who, sizeof who, "step");
            if (S->v > 1 && t->chunk >= 0)
                core_fmt(name, sizeof name, "%s.c%d%s %s", who, (int)t->chunk, where,
                         op_names[t->op]);
            else
                core_fmt(name, sizeof name, "%s%s %s", who, where, op_names[t->op]);
        }
        core_buf_printf(b,
                        ",\n{\"name\":\"%s\",\"cat\":\"%s\",\"ph\":\"X\",\"pid\":%d,"
                        "\"tid\":%d,\"ts\":%.6f,\"dur\":%.6f,\"args\":{\"mb\":%d,\"chunk\":%d,"
                        "\"critical\":%d}}",
                        name, op_names[t->op], (int)t->stage, tid, (double)t->start_ps * 1e-6,
                        (double)t->dur_ps * 1e-6, t->mb, (int)t->chunk, oncrit[i] ? 1 : 0);
    }
}

/* --- power over the step (docs/MODEL.md 7.6) ------------------------------------------ */
/* The next change of one stage's compute stream: its current op starts or ends. The
 * stream's ops run in order without overlap, so merging the stages' chains on a heap keyed
 * on the time gives every change in order in O(ops log pp). */
struct pw_cursor {
    int64_t t_ps;
    int32_t task;
    bool end;
};

static void pw_sift_down(struct pw_cursor *h, int n, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && h[l].t_ps < h[m].t_ps)
            m = l;
        if (r < n && h[r].t_ps < h[m].t_ps)
            m = r;
        if (m == i)
            return;
        struct pw_cursor x = h[i];
        h[i] = h[m];
        h[m] = x;
        i = m;
    }
}

/* The first op of positive length at or after id on its stream, -1 = none. */
static int32_t pw_next_op(const struct sim *S, int32_t id)
{
    while (id >= 0 && S->t[id].dur_ps == 0)
        id = S->t[id].next;
    return id;
}

/* Facility power with n of p stages in their compute stream: every stage stands for chips/p
 * chips (DP replicas are alike). */
static double pw_level_W(const struct step_power *pw, int n, int p)
{
    double per = pw->chips / (double)p;
    return pw->pue *
           (per * ((double)n * pw->stream_W + (double)(p - n) * pw->wait_W) + pw->const_W);
}

/* Fills out's stream_busy_s (mean over stages) and the closed form's bounds of
 * power_peak_W and power_min_W; with sweep, sweeps the compute streams of all stages for the
 * step's real peak and lowest level and, when trace is not NULL, appends the facility power
 * counter (one "C" event at every change, in MW, process p). Without memory for the sweep
 * the bounds stand and the trace has no counter. */
static void sim_power(const struct sim *S, const struct step_ctx *ctx, int64_t end_ps,
                      struct step_times *out, bool sweep, struct core_buf *trace)
{
    int64_t busy_ps = 0;
    for (int32_t i = 0; i < S->nt; i++) {
        const struct task *t = &S->t[i];
        if (t->stream >= 0 && t->stream % SIM_STREAM_COUNT == SIM_STREAM_COMPUTE)
            busy_ps += t->dur_ps;
    }
    out->stream_busy_s = fmax(out->compute_busy_s, (double)busy_ps * 1e-12 / (double)S->p);
    struct step_power pw;
    step_power_levels(ctx->job, ctx->job->chips, out->compute_busy_s, out->stream_busy_s, &pw);
    out->power_peak_W = pw_level_W(&pw, S->p, S->p);
    out->power_min_W = pw_level_W(&pw, 0, S->p);
    if (!sweep)
        return;
    struct pw_cursor *h = malloc((size_t)S->p * sizeof *h);
    if (!h)
        return;
    int nh = 0;
    for (int st = 0; st < S->p; st++) {
        int32_t id = pw_next_op(S, S->st[st * SIM_STREAM_COUNT + SIM_STREAM_COMPUTE].head);
        if (id >= 0)
            h[nh++] = (struct pw_cursor){S->t[id].start_ps, id, false};
    }
    for (int i = nh / 2 - 1; i >= 0; i--)
        pw_sift_down(h, nh, i);
    if (trace)
        core_buf_printf(trace,
                        ",\n{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":0,"
                        "\"args\":{\"name\":\"facility power (all %lld chips, PUE %.3g)\"}}",
                        S->p, (long long)ctx->job->chips, pw.pue);
    int busy = 0, last = -1, lo = S->p, hi = 0;
    int64_t t0 = 0;
    for (;;) {
        bool done = nh == 0;
        int64_t t = done ? end_ps : h[0].t_ps;
        if (t > t0) { /* [t0, t) at `busy`; zero-length spans count for nothing */
            lo = busy < lo ? busy : lo;
            hi = busy > hi ? busy : hi;
            if (trace && busy != last) {
                core_buf_printf(trace,
                                ",\n{\"name\":\"facility power\",\"ph\":\"C\",\"pid\":%d,"
                                "\"ts\":%.6f,\"args\":{\"MW\":%.9g}}",
                                S->p, (double)t0 * 1e-6, pw_level_W(&pw, busy, S->p) * 1e-6);
                last = busy;
            }
            t0 = t;
        }
        if (done)
            break;
        struct pw_cursor *c = &h[0];
        const struct task *tk = &S->t[c->task];
        if (!c->end) {
            busy++;
            *c = (struct pw_cursor){tk->end_ps, c->task, true};
        } else {
            busy--;
            int32_t nx = pw_next_op(S, tk->next);
            if (nx >= 0)
                *c = (struct pw_cursor){S->t[nx].start_ps, nx, false};
            else
                h[0] = h[--nh];
        }
        pw_sift_down(h, nh, 0);
    }
    free(h);
    if (trace) /* the level after the step (all waiting), so the counter ends at end_ps */
        core_buf_printf(trace,
                        ",\n{\"name\":\"facility power\",\"ph\":\"C\",\"pid\":%d,\"ts\":%.6f,"
                        "\"args\":{\"MW\":%.9g}}",
                        S->p, (double)end_ps * 1e-6, pw_level_W(&pw, 0, S->p) * 1e-6);
    if (hi >= lo) {
        out->power_peak_W = pw_level_W(&pw, hi, S->p);
        out->power_min_W = pw_level_W(&pw, lo, S->p);
    }
}

bool sim_trace_extend(struct core_buf *trace, const struct spec_job *job, int pp, double end_s,
                      const struct step_times *t)
{
    static const char tail[] = "\n]}\n";
    size_t k = sizeof tail - 1;
    if (!trace || trace->oom || trace->len < k || memcmp(trace->data + trace->len - k, tail, k))
        return false;
    struct step_power pw;
    step_power_levels(job, job->chips, t->compute_busy_s, t->stream_busy_s, &pw);
    trace->len -= k;
    core_buf_printf(trace,
                    ",\n{\"name\":\"facility power\",\"ph\":\"C\",\"pid\":%d,\"ts\":%.6f,"
                    "\"args\":{\"MW\":%.9g}}%s",
                    pp > 0 ? pp : 1, end_s * 1e6,
                    pw.pue * (pw.chips * pw.wait_W + pw.const_W) * 1e-6, tail);
    return !trace->oom;
}

static void sim_free(struct sim *S)
{
    free(S->t);
    free(S->e);
    free(S->dep_to);
    free(S->st);
    free(S->send);
    free(S->exitf);
    free(S->def_join);
    free(S->def_key);
}

static void sim_step_impl(const struct step_ctx *ctx, struct step_times *out,
                          struct core_buf *trace, struct sim_stats *stats, bool sweep);

void sim_step(const struct step_ctx *ctx, struct step_times *out, struct core_buf *trace)
{
    sim_step_impl(ctx, out, trace, NULL, trace != NULL);
}

void sim_step_power(const struct step_ctx *ctx, struct step_times *out, struct core_buf *trace)
{
    sim_step_impl(ctx, out, trace, NULL, true);
}

/* sim_step_stats's scratch beside the graph, freed together (sim_scratch_free). */
struct sim_scratch {
    int max_layers;   /* the most layers on a stage, the embedding and head included */
    size_t norder;    /* entries in each of the schedule's five order arrays */
    int *order;       /* the schedule's order (build_stage: odir, omb, ock, tab_mb, tab_ck) */
    int32_t *ag_slot; /* the ZeRO-1/2 gather each layer's first forward waits for */
    int32_t *last_dp, *opt_ids; /* each stage's last DP gradient op and its optimizer */
    struct sim_event *heap;     /* the event queue's storage */
    bool *oncrit;               /* ops on the critical path (the trace marks them) */
    int32_t *coff, *cidx;       /* each stage's compute-stream ops in order (compute_overlap) */
    int64_t *own_all;           /* each stage's own work by category */
};

/* What running the graph gives. */
struct sim_result {
    int64_t events;                 /* completions popped from the queue */
    int32_t last;                   /* the op that ended last */
    int64_t end_ps;                 /* the step */
    int64_t crit_ps;                /* durations on the critical path (== end_ps) */
    int ncrit;                      /* ops on it */
    int64_t cat_ps[STEP_CAT_COUNT]; /* the critical path by category (DP: its exposed part) */
};

static void sim_scratch_free(struct sim_scratch *x)
{
    free(x->own_all);
    free(x->oncrit);
    free(x->coff);
    free(x->cidx);
    free(x->heap);
    free(x->order);
    free(x->ag_slot);
    free(x->last_dp);
    free(x->opt_ids);
}

/* Sets S up for the layout sc prices and allocates the graph's arrays; S->oom when they
 * did not fit in memory, or would not (the caller falls back to the closed form). */
static void sim_init(struct sim *S, const struct step_ctx *ctx, const struct step_costs *sc,
                     struct sim_scratch *x)
{
    memset(S, 0, sizeof *S);
    S->ctx = ctx;
    S->sc = sc;
    S->p = sc->pp;
    S->v = sc->vpp;
    S->m = sc->m;
    int p = S->p, v = S->v, m = S->m;
    size_t nkeys = (size_t)p * 2u * (size_t)m * (size_t)v;
    S->nst = p * SIM_STREAM_COUNT;
    S->st = malloc((size_t)S->nst * sizeof *S->st);
    S->send = malloc(nkeys * sizeof *S->send);
    S->exitf = calloc(nkeys, sizeof *S->exitf);
    S->def_join = malloc(nkeys * sizeof *S->def_join);
    S->def_key = malloc(nkeys * sizeof *S->def_key);
    /* Scratch for the schedule and the ZeRO-1/2 bucket of each layer. */
    x->max_layers = 0;
    for (int s = 0; s < p; s++) {
        struct step_stage st;
        step_stage_of(ctx, s, &st);
        int nl = st.n_dense + st.n_moe + 2;
        if (nl > x->max_layers)
            x->max_layers = nl;
    }
    x->norder = 2u * (size_t)m * (size_t)v;
    /* Too big a graph (at least two ops per layer and direction) is priced by the closed
     * form instead: the caller sees engine "closed-form". */
    double lower = (double)nkeys * 2.0 * (double)(x->max_layers - 2) / (double)v;
    if (lower > SIM_MAX_OPS) {
        S->oom = true;
        return;
    }
    x->order = malloc(5u * x->norder * sizeof *x->order);
    x->ag_slot = malloc((size_t)v * (size_t)x->max_layers * sizeof *x->ag_slot);
    if (!S->st || !S->send || !S->exitf || !S->def_join || !S->def_key || !x->order ||
        !x->ag_slot) {
        S->oom = true;
        return;
    }
    for (int32_t i = 0; i < S->nst; i++)
        S->st[i] = (struct stream_state){-1, -1, -1, false};
    for (size_t i = 0; i < nkeys; i++)
        S->send[i] = -1;
    /* Size the arrays once from a count of the ops per layer and chunk. */
    int64_t guess = (int64_t)nkeys * (int64_t)(x->max_layers * 8 + 4) + 64 * p;
    int32_t g32 = guess < INT32_MAX / 2 ? (int32_t)guess : INT32_MAX / 2;
    if (!grow((void **)&S->t, &S->capt, g32, sizeof *S->t) ||
        !grow((void **)&S->e, &S->cape, g32 * 2, sizeof *S->e))
        S->oom = true;
}

/* The end of the step: the gradient-norm all-reduce before the optimizer synchronises
 * every stage (Megatron clip_grad_norm over the model-parallel group): a barrier on each
 * stage's last op, then the optimizer and the host overhead. */
static void sim_build_step_end(struct sim *S, int32_t *opt_ids)
{
    const struct step_costs *sc = S->sc;
    int p = S->p;
    struct frontier none = {{0}, 0};
    int32_t bar = new_task(S, 0, -1, OP_JOIN, 0.0, &none);
    for (int s = 0; s < p && !S->oom; s++) {
        for (int k = 0; k < SIM_STREAM_COUNT; k++) {
            int32_t tail = S->st[s * SIM_STREAM_COUNT + k].tail;
            if (k != SIM_STREAM_DP_AG || sc->zero >= 3)
                add_edge(S, tail, bar);
        }
    }
    const struct step_layer_time *kinds[K_COUNT] = {&sc->embed, &sc->dense, &sc->moe, &sc->head};
    for (int s = 0; s < p && !S->oom; s++) {
        struct step_stage st;
        step_stage_of(S->ctx, s, &st);
        double cnt[K_COUNT] = {st.has_embed ? 1.0 : 0.0, (double)st.n_dense, (double)st.n_moe,
                               st.has_head ? 1.0 : 0.0};
        double opt = 0.0;
        for (int kk = 0; kk < K_COUNT; kk++)
            opt += cnt[kk] * kinds[kk]->opt_s;
        struct frontier fb;
        fr_one(&fb, bar);
        opt_ids[s] = new_task(S, s, SIM_STREAM_COMPUTE, OP_OPT, opt, &fb);
        if (sc->overhead_s > 0.0) {
            struct frontier fo;
            fr_one(&fo, opt_ids[s]);
            new_task(S, s, SIM_STREAM_COMPUTE, OP_OVERHEAD, sc->overhead_s, &fo);
        }
    }
}

/* Builds the step's graph: each stage's program (build_stage), the pipeline inputs whose
 * sends were created after them, and the end of the step. */
static void sim_build(struct sim *S, struct sim_scratch *x)
{
    int p = S->p;
    size_t norder = x->norder;
    x->last_dp = malloc((size_t)p * sizeof *x->last_dp);
    x->opt_ids = malloc((size_t)p * sizeof *x->opt_ids);
    if (!x->last_dp || !x->opt_ids) {
        S->oom = true;
        return;
    }
    int *order = x->order;
    for (int s = 0; s < p; s++) {
        x->last_dp[s] = -1;
        build_stage(S, s, order, order + norder, order + 2 * norder, order + 3 * norder,
                    order + 4 * norder, x->ag_slot, x->max_layers, &x->last_dp[s]);
    }
    for (int32_t i = 0; i < S->ndef && !S->oom; i++) {
        int32_t from = S->send[S->def_key[i]];
        US_ASSERT(from >= 0, "pipeline input without a send (key %d)", (int)S->def_key[i]);
        add_edge(S, from, S->def_join[i]);
    }
    sim_build_step_end(S, x->opt_ids);
}

/* Dependents (CSR) and pending counts, and the event queue's storage. */
static void sim_index(struct sim *S, struct sim_scratch *x)
{
    S->dep_to = malloc((size_t)(S->ne > 0 ? S->ne : 1) * sizeof *S->dep_to);
    if (!S->dep_to) {
        S->oom = true;
        return;
    }
    for (int32_t i = 0; i < S->ne; i++) {
        S->t[S->e[i].from].out_n++;
        S->t[S->e[i].to].pending++;
    }
    int32_t acc = 0;
    for (int32_t i = 0; i < S->nt; i++) {
        S->t[i].out_first = acc;
        acc += S->t[i].out_n;
        S->t[i].out_n = 0;
    }
    for (int32_t i = 0; i < S->ne; i++) {
        struct task *f = &S->t[S->e[i].from];
        S->dep_to[f->out_first + f->out_n++] = S->e[i].to;
    }
    /* At most one running op per stream, plus joins released at one instant. */
    x->heap = malloc((size_t)(S->nst + S->nt + 1) * sizeof *x->heap);
    if (!x->heap)
        S->oom = true;
}

/* Runs the graph: every op starts when its dependencies are done and its stream is free. */
static void sim_run(struct sim *S, struct sim_scratch *x, struct sim_result *res)
{
    struct sim_queue q;
    sim_queue_init(&q, x->heap, S->nst + S->nt + 1);
    int64_t seq = 0, events = 0;
    for (int32_t s = 0; s < S->nst; s++) {
        S->st[s].cur = S->st[s].head;
        try_stream(S, &q, &seq, s, 0, -1);
    }
    for (int32_t i = 0; i < S->nt; i++)
        if (S->t[i].stream < 0 && S->t[i].pending == 0)
            release(S, &q, &seq, i, 0, -1);
    struct sim_event ev;
    int32_t done = 0, last = -1;
    int64_t end_ps = 0;
    while (sim_queue_pop(&q, &ev)) {
        events++;
        int32_t id = ev.task;
        struct task *t = &S->t[id];
        t->end_ps = ev.time_ps;
        done++;
        if (ev.time_ps >= end_ps) {
            end_ps = ev.time_ps;
            last = id;
        }
        if (t->stream >= 0) {
            struct stream_state *ss = &S->st[t->stream];
            ss->busy = false;
            ss->cur = t->next;
        }
        for (int32_t j = 0; j < t->out_n; j++) {
            int32_t y = S->dep_to[t->out_first + j];
            struct task *ty = &S->t[y];
            if (--ty->pending == 0) {
                if (ty->stream < 0)
                    release(S, &q, &seq, y, ev.time_ps, id);
                else if (S->st[ty->stream].cur == y)
                    try_stream(S, &q, &seq, ty->stream, ev.time_ps, id);
            }
        }
        if (t->stream >= 0)
            try_stream(S, &q, &seq, t->stream, ev.time_ps, id);
    }
    US_ASSERT(done == S->nt, "step graph deadlocked: %d of %d ops ran", (int)done, (int)S->nt);
    res->events = events;
    res->last = last;
    res->end_ps = end_ps;
}

/* Critical path: back from the last op through the op that released each one, by category
 * (a DP op's part beside its stage's compute is not exposed). Indexes each stage's compute
 * stream for compute_overlap on the way. False when the scratch did not fit in memory. */
static bool sim_critical_path(const struct sim *S, struct sim_scratch *x, struct sim_result *res)
{
    int p = S->p;
    x->oncrit = calloc((size_t)S->nt, sizeof *x->oncrit);
    x->coff = malloc((size_t)(p + 1) * sizeof *x->coff);
    x->cidx = malloc((size_t)(S->nt > 0 ? S->nt : 1) * sizeof *x->cidx);
    x->own_all = calloc((size_t)p * STEP_CAT_COUNT, sizeof *x->own_all);
    if (!x->oncrit || !x->coff || !x->cidx || !x->own_all)
        return false;
    int32_t nc = 0;
    for (int s = 0; s < p; s++) {
        x->coff[s] = nc;
        for (int32_t i = S->st[s * SIM_STREAM_COUNT + SIM_STREAM_COMPUTE].head; i >= 0;
             i = S->t[i].next)
            x->cidx[nc++] = i;
    }
    x->coff[p] = nc;

    res->crit_ps = 0;
    res->ncrit = 0;
    memset(res->cat_ps, 0, sizeof res->cat_ps);
    for (int32_t i = res->last; i >= 0; i = S->t[i].crit) {
        const struct task *t = &S->t[i];
        x->oncrit[i] = true;
        res->crit_ps += t->dur_ps;
        res->ncrit++;
        enum step_cat c = op_cat[t->op];
        int64_t d = t->dur_ps;
        if (c == STEP_CAT_DP) /* the part beside its stage's compute is not exposed */
            d -= compute_overlap(S, x->cidx, x->coff, t->stage, t->start_ps, t->end_ps);
        res->cat_ps[c] += d;
    }
    US_ASSERT(res->crit_ps == res->end_ps, "critical path %lld ps != step %lld ps",
              (long long)res->crit_ps, (long long)res->end_ps);
    return true;
}

/* Each stage's own work: its compute, and the part of its own TP / CP / EP collectives
 * that ran while its compute stream was idle (exposed). The stage with the most is the
 * bottleneck; own: its work by category. */
static void sim_bottleneck(const struct sim *S, const struct sim_scratch *x,
                           int64_t own[STEP_CAT_COUNT])
{
    for (int32_t i = 0; i < S->nt; i++) {
        const struct task *t = &S->t[i];
        enum step_cat c = op_cat[t->op];
        int64_t *w = &x->own_all[t->stage * STEP_CAT_COUNT];
        if (t->stream >= 0 && t->stream % SIM_STREAM_COUNT == SIM_STREAM_COMPUTE &&
            c == STEP_CAT_COMPUTE)
            w[STEP_CAT_COMPUTE] += t->dur_ps;
        else if (c == STEP_CAT_TP || c == STEP_CAT_CP || c == STEP_CAT_EP)
            w[c] +=
                t->dur_ps - compute_overlap(S, x->cidx, x->coff, t->stage, t->start_ps, t->end_ps);
    }
    int64_t best_own = -1;
    memset(own, 0, STEP_CAT_COUNT * sizeof *own);
    for (int s = 0; s < S->p; s++) {
        const int64_t *w = &x->own_all[s * STEP_CAT_COUNT];
        int64_t tot = w[STEP_CAT_COMPUTE] + w[STEP_CAT_TP] + w[STEP_CAT_CP] + w[STEP_CAT_EP];
        if (tot > best_own) {
            best_own = tot;
            memcpy(own, w, STEP_CAT_COUNT * sizeof *own);
        }
    }
}

/* The step and its breakdown: the bottleneck stage's own work (sim_bottleneck), the
 * critical path's pipeline sends, DP traffic, optimizer and overhead, and the rest of the
 * step is pipeline bubble. */
static void sim_breakdown(const struct sim *S, const struct sim_scratch *x,
                          const struct sim_result *res, struct step_times *out)
{
    int64_t own[STEP_CAT_COUNT];
    sim_bottleneck(S, x, own);
    int64_t parts[STEP_CAT_COUNT];
    memcpy(parts, res->cat_ps, sizeof parts);
    parts[STEP_CAT_COMPUTE] = own[STEP_CAT_COMPUTE];
    parts[STEP_CAT_TP] = own[STEP_CAT_TP];
    parts[STEP_CAT_CP] = own[STEP_CAT_CP];
    parts[STEP_CAT_EP] = own[STEP_CAT_EP];
    int64_t sum = 0;
    for (int c = 0; c < STEP_CAT_COUNT; c++)
        sum += parts[c];
    int64_t bubble = res->end_ps - sum;
    /* The parts can overlap a little (a send on the critical path while the bottleneck
     * computes); take the excess back from the sends, then DP, then compute. */
    static const int give[3] = {STEP_CAT_PP, STEP_CAT_DP, STEP_CAT_COMPUTE};
    for (int g = 0; g < 3 && bubble < 0; g++) {
        int64_t take = parts[give[g]] < -bubble ? parts[give[g]] : -bubble;
        parts[give[g]] -= take;
        bubble += take;
    }
    struct us_breakdown *br = &out->br;
    br->compute_s = (double)parts[STEP_CAT_COMPUTE] * 1e-12;
    br->tp_comm_s = (double)parts[STEP_CAT_TP] * 1e-12;
    br->cp_comm_s = (double)parts[STEP_CAT_CP] * 1e-12;
    br->ep_comm_s = (double)parts[STEP_CAT_EP] * 1e-12;
    br->pp_comm_s = (double)parts[STEP_CAT_PP] * 1e-12;
    br->dp_comm_s = (double)parts[STEP_CAT_DP] * 1e-12;
    br->optimizer_s = (double)parts[STEP_CAT_OPT] * 1e-12;
    br->overhead_s = (double)parts[STEP_CAT_OVERHEAD] * 1e-12;
    br->bubble_s = (double)bubble * 1e-12;
    out->step_s = (double)res->end_ps * 1e-12;
    out->engine = "event";
}

void sim_step_stats(const struct step_ctx *ctx, struct step_times *out, struct core_buf *trace,
                    struct sim_stats *stats)
{
    sim_step_impl(ctx, out, trace, stats, trace != NULL);
}

static void sim_step_impl(const struct step_ctx *ctx, struct step_times *out,
                          struct core_buf *trace, struct sim_stats *stats, bool sweep)
{
    struct step_costs sc;
    step_costs_compute(ctx, &sc);
    memset(out, 0, sizeof *out);
    if (stats)
        memset(stats, 0, sizeof *stats);

    struct sim S;
    struct sim_scratch x;
    memset(&x, 0, sizeof x);
    struct sim_result res;
    sim_init(&S, ctx, &sc, &x);
    if (!S.oom)
        sim_build(&S, &x);
    if (!S.oom)
        sim_index(&S, &x);
    if (!S.oom)
        sim_run(&S, &x, &res);
    if (S.oom || !sim_critical_path(&S, &x, &res)) {
        /* The graph did not fit in memory (or would not): the closed form prices the step. */
        estimate_step(ctx, out);
        if (stats) {
            memset(stats, 0, sizeof *stats);
            stats->fell_back = true;
        }
    } else {
        sim_breakdown(&S, &x, &res, out);
        step_work_totals(ctx, &sc, out);
        if (trace)
            write_trace(&S, x.oncrit, trace);
        sim_power(&S, ctx, res.end_ps, out, sweep, trace);
        if (trace)
            core_buf_printf(trace, "\n]}\n");
        if (stats) {
            stats->tasks = S.nt;
            stats->edges = S.ne;
            stats->events = res.events;
            stats->step_ps = res.end_ps;
            stats->critical_ps = res.crit_ps;
            stats->critical_tasks = res.ncrit;
        }
    }
    sim_scratch_free(&x);
    sim_free(&S);
}
