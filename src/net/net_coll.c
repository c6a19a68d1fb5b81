/* net_coll: the time of one collective on a topology, alpha-beta per level. Algorithms:
 * ring (NCCL multi-channel, dimension-wise rings on a torus), double binary tree, 2D
 * hierarchical, in-network reduction (NVLS / SHARP), pairwise all-to-all and p2p, recursive
 * halving/doubling on hypercubes; the fastest wins, as NCCL's tuner picks by its cost model.
 * Not here: overlap with compute, protocol (LL/LL128/Simple) choice, congestion beyond the
 * per-tier share. Every formula and its source: docs/MODEL.md section 3. No allocation. */
#include <math.h>

#include "core/core.h"
#include "net/net.h"

/* What one group sees of the topology. Bandwidths are raw (before comm_eff). */
struct grp {
    int64_t n, p, q; /* members; members per domain (smallest piece); domains */
    int tiers;
    double eff;
    double a_u;       /* scale-up latency of one hop */
    double a_step;    /* scale-up latency of one step between members: a_u * hop */
    double hop;       /* scale-up hops per ring step */
    double a_o;       /* scale-out latency of one message: (2T - 1) switch hops */
    double steps_u;   /* hops of one ring pass inside a domain (dimension-wise on a torus) */
    double ring_u;    /* per-chip ring bandwidth inside a domain, B/s */
    double pair_u;    /* one message between two members inside a domain, B/s */
    double a2a_inj_u; /* all-to-all injection bandwidth inside a domain, B/s */
    double a2a_bis_u; /* bisection bound inside a domain: seconds per byte of the per-rank size */
    double out;       /* per-chip NIC bandwidth after contention, B/s */
    bool inr_up;      /* NVLS-style reduction in the domain's switch */
    bool inr_out;     /* SHARP-style reduction in the scale-out switches */
    bool rhd;         /* the group is a whole sub-hypercube: its rings are halving/doubling */
    double rhd_u;     /* per-chip bandwidth of halving/doubling inside a switch or mesh domain;
                         0 = not offered (torus: the dimension-wise rings) */
};

static double log2ceil(int64_t x)
{
    double l = 0.0;
    for (int64_t v = 1; v < x; v *= 2)
        l += 1.0;
    return l;
}

static bool pow2(int64_t x)
{
    return x > 0 && (x & (x - 1)) == 0;
}

/* The p members of the group inside one domain at rank stride s, on a torus or hypercube
 * whose ranks are laid out innermost dimension first. A group that walks whole dimensions
 * (stride a product of the inner dimensions, times h) runs one bidirectional ring per
 * dimension it spans, all at once with the data split across them (Jain & Sabharwal 2010
 * bucket algorithm; AWS Neuron runs several Hamiltonian cycles on the 2D torus "for full wire
 * bandwidth"): a dimension with wraparound gives 2 links per chip, a line or a dimension of
 * two gives 1, and members h hops apart share each link h ways. */
static void torus_group(const struct net_topo *t, int64_t p, int64_t s, struct grp *g)
{
    const double L = t->up_link_Bps;
    int64_t P = 1;
    int d0 = -1;
    for (int d = 0; d < t->up_ndims; d++) {
        if (P <= s && s < P * t->up_dim[d]) {
            d0 = d;
            break;
        }
        P *= t->up_dim[d];
    }
    bool regular = d0 >= 0 && s % P == 0;
    int64_t h = regular ? s / P : 1;
    if (regular && t->up_dim[d0] % h != 0)
        regular = false;
    double links = 0.0, steps = 0.0, bis = 0.0;
    bool all_pairs = true; /* every spanned dimension has 2 members: a sub-hypercube */
    int64_t rem = p;
    for (int d = d0; regular && d < t->up_ndims && rem > 1; d++) {
        int64_t hh = d == d0 ? h : 1;
        int64_t avail = t->up_dim[d] / hh;
        int64_t m = rem < avail ? rem : avail;
        if (rem > avail && rem % avail != 0) {
            regular = false;
            break;
        }
        bool wrap = m == avail && t->up_wrap[d];
        double u = wrap ? 2.0 : 1.0;
        links += u / (double)hh;
        steps += (double)((m - 1) * hh);
        double b = (double)(m * hh) / (4.0 * u);
        if (b > bis)
            bis = b;
        if (m != 2)
            all_pairs = false;
        rem /= m;
    }
    if (regular && rem > 1)
        regular = false;
    if (!regular) {
        /* A stride that does not follow the dimensions: priced as a line whose steps take
         * two hops (conservative; docs/MODEL.md). */
        links = 0.5;
        steps = 2.0 * (double)(p - 1);
        bis = (double)p * 2.0 / 4.0;
        h = 2;
        all_pairs = false;
    }
    g->hop = (double)h;
    g->steps_u = steps;
    g->ring_u = links * L;
    g->pair_u = L / (double)h;
    g->a2a_inj_u = links * L;
    g->a2a_bis_u = bis / L;
    g->rhd = all_pairs && t->sys->up.topology == SPEC_TOPO_HYPERCUBE;
}

/* Members of a group (n at stride s) inside one tier-k block. */
static int64_t members_in_block(const struct net_topo *t, int k, int64_t n, int64_t s)
{
    int64_t blk = t->tier_block[k];
    int64_t m = s >= blk ? 1 : blk / s;
    return m < n ? m : n;
}

/* Fraction of its NIC bandwidth a chip gets climbing into tier k (see grp_init). */
static double uplink_share(const struct net_topo *t, int k, int64_t n, int64_t s, bool concurrent)
{
    double o = t->tier_oversub[k];
    if (concurrent)
        return 1.0 / o;
    double share = (double)t->tier_block[k - 1] / (o * (double)members_in_block(t, k - 1, n, s));
    return share < 1.0 ? share : 1.0;
}

static void grp_init(const struct net_topo *t, const struct net_span *sp, int64_t stride,
                     bool concurrent, struct grp *g)
{
    const struct spec_system *sys = t->sys;
    g->n = sp->size;
    g->p = sp->per_domain;
    g->q = sp->domains;
    g->tiers = sp->tiers;
    g->eff = t->comm_eff;
    g->inr_up = sys->up.in_network_reduction && sys->up.topology == SPEC_TOPO_SWITCH;
    g->inr_out = sys->out.in_network_reduction && g->q > 1;
    g->rhd = false;
    g->rhd_u = 0.0;
    g->hop = 1.0;
    g->a2a_bis_u = 0.0;
    const int64_t p = g->p;
    const int64_t s = stride;
    switch (sys->up.topology) {
    case SPEC_TOPO_TORUS:
    case SPEC_TOPO_HYPERCUBE:
        torus_group(t, p, s, g);
        break;
    case SPEC_TOPO_MESH:
        /* Fully connected: one link of bw/(D-1) to each peer. p members use p-1 links per
         * chip at once; for all-reduce the complete directed graph splits into p-1 disjoint
         * Hamiltonian rings (Tillson 1980; exact for p != 4, 6). */
        g->steps_u = (double)(p - 1);
        g->ring_u = (double)(p > 1 ? p - 1 : 1) * t->up_link_Bps;
        g->pair_u = t->up_link_Bps;
        g->a2a_inj_u = g->ring_u;
        /* Halving/doubling talks to log2(p) partners, one link each. */
        g->rhd_u = log2ceil(p) * t->up_link_Bps;
        break;
    case SPEC_TOPO_SWITCH:
    default:
        /* A non-blocking switch gives every chip its full bandwidth for any pattern. */
        g->steps_u = (double)(p - 1);
        g->ring_u = sys->up.bw_Bps;
        g->pair_u = sys->up.bw_Bps;
        g->a2a_inj_u = sys->up.bw_Bps;
        g->rhd_u = sys->up.bw_Bps;
        break;
    }
    g->a_u = sys->up.latency_s;
    g->a_step = g->a_u * g->hop;
    /* A message that leaves the domain pays the chip's start-up (scale_up.latency) and one
     * latency per switch hop: up T tiers and down again is 2T - 1 switches. */
    g->a_o = g->tiers > 0 ? g->a_u + (2.0 * g->tiers - 1.0) * sys->out.latency_s : 0.0;
    /* Contention (docs/MODEL.md): climbing into tier k, the chips of one tier-(k-1) block
     * (C_{k-1} chips, C_0 = 1) share C_{k-1} nic / (o_1...o_k) of uplink. When every group of
     * this kind runs at once all of them send: nic / (o_1...o_k). A group alone has only its
     * m_{k-1} members there: nic * min(1, C_{k-1} / (o_1...o_k m_{k-1})). */
    double out = sys->out.nic_Bps;
    for (int k = 1; k <= g->tiers; k++) {
        double bw = sys->out.nic_Bps * uplink_share(t, k, g->n, s, concurrent);
        if (bw < out)
            out = bw;
    }
    g->out = out;
}

/* ---- building blocks (times in s; B in bytes; Thakur, Rabenseifner & Gropp 2005) ---- */

/* Inside one domain: one ring pass (reduce-scatter or all-gather) over p members of B. */
static double up_pass_s(const struct grp *g, double B)
{
    if (g->p <= 1)
        return 0.0;
    double pm = (double)g->p;
    return g->steps_u * g->a_u + (pm - 1.0) / pm * B / (g->eff * g->ring_u);
}

/* Inside one domain: reduce-scatter or all-gather through the switch (NVLS): one step; the
 * chip sends all B and receives B/p (RS), or the reverse (AG). */
static double up_inr_pass_s(const struct grp *g, const struct net_topo *t, double B)
{
    if (g->p <= 1)
        return 0.0;
    return g->a_u + B / (t->inr_eff * t->sys->up.bw_Bps);
}

/* Inside one domain: recursive halving (RS) or doubling (AG) over p members: log2(p) steps,
 * (p-1)/p B moved; p not a power of two adds one exchange of B (Thakur et al. 2005, sec. 4;
 * the Neuron runtime's RDH). HUGE_VAL where the topology does not offer it. */
static double up_rhd_pass_s(const struct grp *g, double B)
{
    if (g->p <= 1)
        return 0.0;
    if (!(g->rhd_u > 0.0))
        return HUGE_VAL;
    double pm = (double)g->p;
    double bw = g->eff * g->rhd_u;
    double r = log2ceil(g->p) * g->a_u + (pm - 1.0) / pm * B / bw;
    if (!pow2(g->p))
        r += g->a_u + B / bw;
    return r;
}

static double up_phase_s(const struct grp *g, const struct net_topo *t, double B)
{
    double r = up_pass_s(g, B);
    double h = up_rhd_pass_s(g, B);
    if (h < r)
        r = h;
    if (g->inr_up) {
        double i = up_inr_pass_s(g, t, B);
        if (i < r)
            r = i;
    }
    return r;
}

/* Across q domains, one member per domain, per-rank size B (the inter phase of the 2D
 * algorithm). Ring: (q-1)(a + B/q b); recursive doubling: log2(q) a + (q-1)/q B b, plus one
 * exchange of B before and after when q is not a power of two (Thakur et al. 2005). */
static double out_pass_s(const struct grp *g, double B)
{
    if (g->q <= 1)
        return 0.0;
    double qm = (double)g->q;
    double bw = g->eff * g->out;
    double ring = (qm - 1.0) * g->a_o + (qm - 1.0) / qm * B / bw;
    double rhd = log2ceil(g->q) * g->a_o + (qm - 1.0) / qm * B / bw;
    if (!pow2(g->q))
        rhd += g->a_o + B / bw;
    return ring < rhd ? ring : rhd;
}

static double out_allreduce_s(const struct grp *g, double B)
{
    if (g->q <= 1)
        return 0.0;
    double qm = (double)g->q;
    double bw = g->eff * g->out;
    double lq = log2ceil(g->q);
    double ring = 2.0 * (qm - 1.0) * g->a_o + 2.0 * (qm - 1.0) / qm * B / bw;
    double tree = 2.0 * lq * g->a_o + 2.0 * B / bw;
    double rhd = 2.0 * lq * g->a_o + 2.0 * (qm - 1.0) / qm * B / bw;
    if (!pow2(g->q))
        rhd += 2.0 * (g->a_o + B / bw);
    double r = ring < tree ? ring : tree;
    return r < rhd ? r : rhd;
}

/* Bandwidth of a flat multi-channel ring across domains (NCCL): p rings run at once, each
 * leaving a domain through a different member's NIC, so a domain pushes p NICs' worth, and
 * each chip forwards (p-1)/p of the traffic over scale-up. */
static double ring_x_Bps(const struct grp *g)
{
    double nic = (double)g->p * g->out;
    if (g->p <= 1)
        return g->eff * nic;
    double up = g->ring_u * (double)g->p / (double)(g->p - 1);
    return g->eff * (up < nic ? up : nic);
}

/* One ring pass of NCCL's model (src/graph/tuning.cc): n-q intra steps, q-1 inter steps. */
static double ring_x_lat_s(const struct grp *g)
{
    return (double)(g->n - g->q) * g->a_step + (double)(g->q - 1) * g->a_o;
}

/* ---- per op: fill t_s[algo] (HUGE_VAL = not applicable) ---- */

static void cost_all_reduce(const struct grp *g, const struct net_topo *t, double B, double *c)
{
    double n = (double)g->n;
    if (g->q == 1) {
        double ring = 2.0 * up_pass_s(g, B);
        c[g->rhd ? NET_ALGO_RHD : NET_ALGO_RING] = ring;
        if (g->rhd_u > 0.0)
            c[NET_ALGO_RHD] = 2.0 * up_rhd_pass_s(g, B);
        if (g->inr_up) /* NVLS: each chip sends and receives B(1 + 1/n) (ld_reduce + st) */
            c[NET_ALGO_INR] = 2.0 * g->a_u + (n + 1.0) / n * B / (t->inr_eff * t->sys->up.bw_Bps);
        return;
    }
    c[NET_ALGO_RING] = 2.0 * ring_x_lat_s(g) + 2.0 * (n - 1.0) / n * B / ring_x_Bps(g);
    /* NCCL double binary tree across domains (tuning.cc): algbw = busBw / 2, so 2B over the
     * slower of the domain's links and its p NICs; latency 2(log2(p) a_intra + log2(q)
     * a_inter). NCCL chains the GPUs of a node (n/q - 1 steps); a tree inside the domain
     * is used here instead, so that a chain of up to 143 steps does not make a group that
     * fills a large domain slower than one spread over more domains. */
    double pm = (double)g->p;
    double tree_bw = g->p > 1 ? (g->ring_u < pm * g->out ? g->ring_u : pm * g->out) : g->out;
    c[NET_ALGO_TREE] =
        2.0 * (log2ceil(g->p) * g->a_step + log2ceil(g->q) * g->a_o) + 2.0 * B / (g->eff * tree_bw);
    if (g->p > 1) /* 2D: intra RS, inter AR on B/p, intra AG, one after another */
        c[NET_ALGO_HIER] = 2.0 * up_phase_s(g, t, B) + out_allreduce_s(g, B / pm);
    if (g->inr_up || g->inr_out) {
        /* NCCL NVLS_TREE / CollNet: the intra and inter stages stream chunks through each
         * other, so the slower stage sets the rate and the latencies add. */
        double intra_s = 0.0, intra_lat = 0.0;
        if (g->p > 1) {
            if (g->inr_up) {
                intra_s = (pm + 1.0) / pm * B / (t->inr_eff * t->sys->up.bw_Bps);
                intra_lat = 2.0 * g->a_u;
            } else {
                intra_s = 2.0 * (pm - 1.0) / pm * B / (g->eff * g->ring_u);
                intra_lat = 2.0 * g->steps_u * g->a_u;
            }
        }
        double inter_s, inter_lat;
        if (g->inr_out) { /* SHARP: up the tree and down again (two message latencies);
                             each chip sends and receives B/p once */
            inter_s = B / pm / (g->eff * g->out);
            inter_lat = 2.0 * g->a_o;
        } else {
            inter_s = 2.0 * B / pm / (g->eff * g->out);
            inter_lat = 2.0 * log2ceil(g->q) * g->a_o;
        }
        if (g->p > 1 || g->inr_out)
            c[NET_ALGO_INR] = intra_lat + inter_lat + (intra_s > inter_s ? intra_s : inter_s);
        if (g->inr_out) { /* every member a leaf of the SHARP tree, no intra stage */
            double direct = 2.0 * g->a_o + B / (g->eff * g->out);
            if (direct < c[NET_ALGO_INR])
                c[NET_ALGO_INR] = direct;
        }
    }
}

static void cost_gather_scatter(const struct grp *g, const struct net_topo *t, double B, double *c)
{
    double n = (double)g->n;
    if (g->q == 1) {
        c[g->rhd ? NET_ALGO_RHD : NET_ALGO_RING] = up_pass_s(g, B);
        if (g->rhd_u > 0.0)
            c[NET_ALGO_RHD] = up_rhd_pass_s(g, B);
        if (g->inr_up)
            c[NET_ALGO_INR] = up_inr_pass_s(g, t, B);
        return;
    }
    c[NET_ALGO_RING] = ring_x_lat_s(g) + (n - 1.0) / n * B / ring_x_Bps(g);
    if (g->p > 1) /* AG: inter AG of B/p, then intra AG of B; RS the mirror (Neuron docs) */
        c[NET_ALGO_HIER] = up_phase_s(g, t, B) + out_pass_s(g, B / (double)g->p);
}

/* Pairwise exchange (Thakur et al. 2005): n-1 steps of B/n. Volume per chip: (p-1)/n B
 * inside the domain, (n-p)/n B through the NIC, and (n - m_{k-1})/n B climbing into each
 * tier k <= T, where m_{k-1} members share a tier-(k-1) block (bisection of each tier). */
static void cost_all_to_all(const struct grp *g, const struct net_topo *t, int64_t stride,
                            bool concurrent, double B, double *c)
{
    double n = (double)g->n, pm = (double)g->p;
    double lat = (pm - 1.0) * g->a_step + (n - pm) * g->a_o;
    double bw_s = 0.0;
    if (g->p > 1) {
        double Bp = B * pm / n; /* per-rank size of the intra-domain part */
        double inj = (pm - 1.0) / pm * Bp / (g->eff * g->a2a_inj_u);
        double bis = g->a2a_bis_u * Bp / g->eff;
        bw_s = inj > bis ? inj : bis;
    }
    if (g->q > 1) {
        /* Traffic that climbs into tier k leaves a tier-(k-1) block: to members neither in
         * that block nor in the sender's domain (k = 1: the chip's own NIC). */
        const double nic = t->sys->out.nic_Bps;
        for (int k = 1; k <= g->tiers; k++) {
            int64_t m = k == 1 ? 1 : members_in_block(t, k - 1, g->n, stride);
            if (m < g->p)
                m = g->p;
            double share = uplink_share(t, k, g->n, stride, concurrent);
            double s_k = (n - (double)m) / n * B / (g->eff * nic * share);
            if (s_k > bw_s)
                bw_s = s_k;
        }
    }
    c[NET_ALGO_DIRECT] = lat + bw_s;
}

static void cost_broadcast(const struct grp *g, double B, double *c)
{
    double n = (double)g->n;
    /* Pipelined chain over the ring (NCCL): every chip receives and forwards B once. */
    if (g->q == 1)
        c[NET_ALGO_RING] = (n - 1.0) * g->a_step + B / (g->eff * g->ring_u);
    else
        c[NET_ALGO_RING] = ring_x_lat_s(g) + B / ring_x_Bps(g);
    /* Binomial tree (Thakur et al. 2005): ceil(log2 n)(a + B b) on the slowest level. */
    double a = g->q > 1 ? g->a_o : g->a_step;
    double bw = g->q > 1 ? (g->out < g->pair_u ? g->out : g->pair_u) : g->pair_u;
    c[NET_ALGO_TREE] = log2ceil(g->n) * (a + B / (g->eff * bw));
}

static void cost_p2p(const struct grp *g, double B, double *c)
{
    /* The worst pair of neighbours: it crosses the highest tier the group spans. */
    if (g->q == 1)
        c[NET_ALGO_DIRECT] = g->a_step + B / (g->eff * g->pair_u);
    else
        c[NET_ALGO_DIRECT] = g->a_o + B / (g->eff * g->out);
}

double net_busbw_factor(enum net_op op, int size)
{
    double n = (double)size;
    if (size <= 1)
        return 0.0;
    switch (op) {
    case NET_ALL_REDUCE:
        return 2.0 * (n - 1.0) / n;
    case NET_ALL_GATHER:
    case NET_REDUCE_SCATTER:
    case NET_ALL_TO_ALL:
        return (n - 1.0) / n;
    case NET_BROADCAST:
    case NET_P2P:
    case NET_OP_COUNT:
    default:
        return 1.0;
    }
}

void net_collective(const struct net_topo *t, enum net_op op, double bytes, int size,
                    int64_t stride, bool concurrent, enum net_algo force, struct net_cost *out)
{
    US_ASSERT(t && t->sys && out, "net_collective: null argument");
    US_ASSERT(size >= 1 && stride >= 1 && bytes >= 0.0, "net_collective: size %d stride %lld", size,
              (long long)stride);
    out->span = net_span_of(t, size, stride);
    out->time_s = 0.0;
    out->algo = NET_ALGO_NONE;
    out->algbw_Bps = 0.0;
    out->busbw_Bps = 0.0;
    if (size <= 1 || bytes <= 0.0)
        return;
    struct grp g;
    grp_init(t, &out->span, stride, concurrent, &g);
    double c[NET_ALGO_COUNT];
    for (int i = 0; i < NET_ALGO_COUNT; i++)
        c[i] = HUGE_VAL;
    switch (op) {
    case NET_ALL_REDUCE:
        cost_all_reduce(&g, t, bytes, c);
        break;
    case NET_ALL_GATHER:
    case NET_REDUCE_SCATTER:
        cost_gather_scatter(&g, t, bytes, c);
        break;
    case NET_ALL_TO_ALL:
        cost_all_to_all(&g, t, stride, concurrent, bytes, c);
        break;
    case NET_BROADCAST:
        cost_broadcast(&g, bytes, c);
        break;
    case NET_P2P:
    case NET_OP_COUNT:
    default:
        cost_p2p(&g, bytes, c);
        break;
    }
    enum net_algo best = NET_ALGO_NONE;
    if (force != NET_ALGO_NONE && (unsigned)force < NET_ALGO_COUNT) {
        best = force;
    } else {
        double bt = HUGE_VAL;
        for (int i = 1; i < NET_ALGO_COUNT; i++) {
            if (c[i] < bt) {
                bt = c[i];
                best = (enum net_algo)i;
            }
        }
    }
    out->algo = best;
    out->time_s = (unsigned)best < NET_ALGO_COUNT ? c[best] : HUGE_VAL;
    if (isfinite(out->time_s) && out->time_s > 0.0) {
        out->algbw_Bps = bytes / out->time_s;
        out->busbw_Bps = out->algbw_Bps * net_busbw_factor(op, size);
    }
}

double net_time_s(const struct net_topo *t, enum net_op op, double bytes, int size, int64_t stride)
{
    struct net_cost c;
    net_collective(t, op, bytes, size, stride, true, NET_ALGO_NONE, &c);
    return c.time_s;
}
