/* net_topo: the levels of a system at a chip count (scale-up domains, scale-out tiers sized
 * as folded-Clos fat trees or rail-optimized fabrics) and where a group of ranks lands in
 * Megatron placement (members per domain, domains, tiers crossed, worst-placed group).
 * Not here: the time of a collective (net_coll.c). docs/MODEL.md section 3 has the rules. */
#include <math.h>
#include <string.h>

#include "core/core.h"
#include "net/net.h"

/* Above this many chips the arithmetic below stops being meaningful; the brief is 2^20. */
#define NET_MAX_CHIPS ((int64_t)1 << 30)

const char *net_op_name(enum net_op op)
{
    static const char *const n[] = {"all_reduce", "all_gather", "reduce_scatter",
                                    "all_to_all", "broadcast",  "p2p"};
    return (unsigned)op < NET_OP_COUNT ? n[op] : "?";
}

const char *net_algo_name(enum net_algo a)
{
    static const char *const n[] = {
        "none", "ring", "tree", "hierarchical", "in_network", "direct", "halving_doubling"};
    return (unsigned)a < NET_ALGO_COUNT ? n[a] : "?";
}

int net_op_parse(const char *s)
{
    if (!s)
        return -1;
    for (int i = 0; i < NET_OP_COUNT; i++)
        if (strcmp(s, net_op_name((enum net_op)i)) == 0)
            return i;
    return -1;
}

static int64_t gcd64(int64_t a, int64_t b)
{
    while (b) {
        int64_t r = a % b;
        a = b;
        b = r;
    }
    return a;
}

/* Down-ports of a switch of radix k whose down:up bandwidth is o:1 (o >= 1). */
static int64_t down_ports(int radix, double oversub)
{
    double d = floor((double)radix * oversub / (1.0 + oversub));
    if (d < 1.0)
        d = 1.0;
    if (d > (double)radix - 1.0 && radix > 1)
        d = (double)radix - 1.0; /* at least one up-port */
    return (int64_t)d;
}

static bool is_pow2(int64_t x)
{
    return x > 0 && (x & (x - 1)) == 0;
}

/* The scale-up domain as a torus: dims of a partial domain are the full dims filled
 * innermost first; a dimension cut short loses its wraparound link. */
static void torus_shape(struct net_topo *t)
{
    const struct spec_scaleup *up = &t->sys->up;
    int full[NET_MAX_DIMS];
    int nd = 0;
    if (up->topology == SPEC_TOPO_HYPERCUBE) {
        for (int64_t c = up->chips; c > 1 && nd < NET_MAX_DIMS; c /= 2)
            full[nd++] = 2;
    } else {
        for (int i = 0; i < 3; i++)
            if (up->dims[i] > 1)
                full[nd++] = up->dims[i];
    }
    /* Links per chip of the full domain: two per dimension with wraparound (k >= 3),
     * one for a dimension of two. */
    int links = 0;
    for (int i = 0; i < nd; i++)
        links += full[i] >= 3 ? 2 : 1;
    t->up_link_Bps = links > 0 ? up->bw_Bps / (double)links : up->bw_Bps;
    int64_t rem = t->domain;
    t->up_ndims = 0;
    for (int i = 0; i < nd && rem > 1; i++) {
        int64_t k = full[i] < rem ? full[i] : rem;
        t->up_dim[t->up_ndims] = (int)k;
        t->up_wrap[t->up_ndims] = k == full[i] && k >= 3;
        t->up_ndims++;
        rem = (rem + k - 1) / k;
    }
}

static bool refuse(char *reason, size_t n, const char *msg)
{
    if (reason && n)
        core_strlcpy(reason, msg, n);
    return false;
}

bool net_topo_init(struct net_topo *t, const struct spec_system *sys, int64_t chips, char *reason,
                   size_t reason_n)
{
    char msg[US_MSG_LEN];
    memset(t, 0, sizeof *t);
    t->sys = sys;
    t->chips = chips;
    if (reason && reason_n)
        reason[0] = '\0';
    if (chips < 1 || chips > NET_MAX_CHIPS) {
        core_fmt(msg, sizeof msg, "chips = %lld is outside 1..%lld", (long long)chips,
                 (long long)NET_MAX_CHIPS);
        return refuse(reason, reason_n, msg);
    }
    const struct spec_scaleup *up = &sys->up;
    const struct spec_fabric *out = &sys->out;
    if (up->chips < 1 || !(up->bw_Bps > 0.0) || !isfinite(up->bw_Bps) || !(up->latency_s >= 0.0) ||
        !isfinite(up->latency_s))
        return refuse(reason, reason_n,
                      "scale_up needs chips >= 1, a positive bandwidth and a latency >= 0");
    if (!(sys->eff.comm > 0.0 && sys->eff.comm <= 1.0)) {
        core_fmt(msg, sizeof msg, "efficiency.comm = %g is not in (0, 1]", sys->eff.comm);
        return refuse(reason, reason_n, msg);
    }
    if (sys->chips_per_node < 1)
        return refuse(reason, reason_n, "chips_per_node must be >= 1");
    if (up->topology == SPEC_TOPO_TORUS) {
        int64_t prod = 1;
        for (int i = 0; i < 3; i++)
            prod *= up->dims[i] > 0 ? up->dims[i] : 1;
        if (prod != up->chips) {
            core_fmt(msg, sizeof msg, "torus dims multiply to %lld, not scale_up.chips = %d",
                     (long long)prod, up->chips);
            return refuse(reason, reason_n, msg);
        }
    }
    if (up->topology == SPEC_TOPO_HYPERCUBE && !is_pow2(up->chips)) {
        core_fmt(msg, sizeof msg, "a hypercube needs a power of two chips, not %d", up->chips);
        return refuse(reason, reason_n, msg);
    }
    t->comm_eff = sys->eff.comm;
    t->inr_eff = sys->eff.comm_inr > 0.0 ? sys->eff.comm_inr : sys->eff.comm;
    t->domain = up->chips < chips ? up->chips : (int)chips;
    t->domain_full = up->chips;
    /* A job that does not fill whole switched domains takes whole domains and uses the
     * same number of chips in each, the largest that divides the job (a scheduler's
     * placement: 256 GPUs on NVL72 = 4 racks x 64, not 3 full racks and 40 in a fourth), so
     * power-of-two groups stay inside one domain. Whole nodes, at least half a domain; torus
     * domains are cut into slices instead (torus_shape). */
    if (chips > up->chips && chips % up->chips != 0 && up->topology != SPEC_TOPO_TORUS &&
        up->topology != SPEC_TOPO_HYPERCUBE) {
        int d = up->chips, cpn = sys->chips_per_node > 0 ? sys->chips_per_node : 1;
        while (d > up->chips / 2 && (chips % d != 0 || d % cpn != 0))
            d--;
        if (d > up->chips / 2 && chips % d == 0 && d % cpn == 0)
            t->domain = d;
    }
    t->domains = (chips + t->domain - 1) / t->domain;
    t->tier_Bps[0] = up->bw_Bps;
    t->tier_oversub[0] = 1.0;
    if (up->topology == SPEC_TOPO_TORUS || up->topology == SPEC_TOPO_HYPERCUBE)
        torus_shape(t);
    else if (up->topology == SPEC_TOPO_MESH)
        t->up_link_Bps = up->chips > 1 ? up->bw_Bps / (double)(up->chips - 1) : up->bw_Bps;
    else
        t->up_link_Bps = up->bw_Bps;

    if (t->domains == 1)
        return true; /* one domain: the scale-out fabric is not used */

    if (out->ntiers < 1 || out->ntiers > SPEC_MAX_TIERS || !(out->nic_Bps > 0.0) ||
        !isfinite(out->nic_Bps) || !(out->latency_s >= 0.0) || !isfinite(out->latency_s)) {
        core_fmt(msg, sizeof msg,
                 "%lld chips need %lld scale-up domains of %d, but the scale-out fabric has no "
                 "tiers or no NIC bandwidth",
                 (long long)chips, (long long)t->domains, t->domain);
        return refuse(reason, reason_n, msg);
    }
    for (int i = 0; i < out->ntiers; i++) {
        if (out->tiers[i].radix < 2 || !(out->tiers[i].oversub >= 1.0) ||
            !isfinite(out->tiers[i].oversub)) {
            core_fmt(msg, sizeof msg,
                     "scale_out tier %d needs radix >= 2 and oversubscription >= 1", i + 1);
            return refuse(reason, reason_n, msg);
        }
    }
    /* Folded Clos (Leiserson 1985; Al-Fares et al. 2008). o_t is the oversubscription of
     * the links that climb into tier t (bandwidth offered below : bandwidth up into tier t;
     * o_1 is the chips' own links into the leaf). A tier-t switch below the top splits its
     * k_t ports down:up = o_{t+1}:1, so d_t = floor(k_t o_{t+1} / (1 + o_{t+1})) face down;
     * the top tier of a T-tier network has all k_T ports down and holds
     * k_T * d_1 * ... * d_{T-1} chips (k^3/4 for three non-blocking tiers of radix k).
     * Rail-optimized (NVIDIA DGX SuperPOD): leaf r of a unit joins local rank r of d_1
     * nodes, so a unit of chips_per_node leaves spans d_1 nodes; a one-tier rail fabric is
     * separate rails of k_1 nodes each. */
    const int64_t cpn = sys->chips_per_node;
    const bool rail = out->kind == SPEC_FABRIC_RAIL;
    int64_t below = 1; /* d_1 * ... * d_{t-1} */
    double osub = 1.0;
    int need = 0;
    int64_t cap = 0;
    t->tier_block[0] = 1;
    for (int i = 0; i < out->ntiers; i++) {
        const struct spec_tier *tr = &out->tiers[i];
        osub *= tr->oversub;
        t->tier_oversub[i + 1] = osub;
        t->tier_Bps[i + 1] = out->nic_Bps / osub;
        int64_t top_cap = (int64_t)tr->radix * below;
        if (rail && i == 0)
            top_cap = (int64_t)tr->radix * cpn;
        double up_o = i + 1 < out->ntiers ? out->tiers[i + 1].oversub : 1.0;
        int64_t d = down_ports(tr->radix, up_o);
        int64_t blk = below * d;
        if (rail && i == 0)
            blk = d * cpn;
        if (rail && i > 0 && blk < t->tier_block[i])
            blk = t->tier_block[i];
        t->tier_block[i + 1] = blk;
        if (!need && top_cap >= chips) {
            need = i + 1;
            cap = top_cap;
        }
        if (i == out->ntiers - 1 && !need)
            cap = top_cap;
        below *= d;
        if (below > NET_MAX_CHIPS)
            below = NET_MAX_CHIPS;
    }
    if (!need) {
        core_fmt(msg, sizeof msg,
                 "%lld chips do not fit the scale-out fabric: %d tier%s of radix %d..%d hold at "
                 "most %lld chips",
                 (long long)chips, out->ntiers, out->ntiers == 1 ? "" : "s", out->tiers[0].radix,
                 out->tiers[out->ntiers - 1].radix, (long long)cap);
        return refuse(reason, reason_n, msg);
    }
    t->tiers_needed = need;
    /* The top tier in use has no uplinks: its block is the whole cluster. */
    t->tier_block[need] = chips;
    return true;
}

/* Most aligned blocks of C chips that any group of one kind touches: n members at stride s;
 * the groups start at r0 = a + b*s*n (0 <= a < s, 0 <= b < nb), as in Megatron order.
 * *smallest gets the fewest members the worst group has in one block. */
static int64_t blocks_touched(int64_t n, int64_t s, int64_t C, int64_t nb, int64_t *smallest)
{
    if (n <= 1 || C <= 1) {
        *smallest = C <= 1 ? 1 : n;
        return C <= 1 ? n : 1;
    }
    if (s >= C) { /* consecutive members are C or more apart: one per block */
        *smallest = 1;
        return n;
    }
    if (C % s == 0) {
        /* Members of one residue class mod s: m per block; the group covers class indices
         * [b n, b n + n). The offset o = b n mod m runs over multiples of g = gcd(n, m)
         * and repeats after m/g groups. */
        int64_t m = C / s;
        int64_t g = gcd64(n, m);
        int64_t omax = 0;
        if (nb >= m / g || nb > 16) {
            omax = m - g;
        } else {
            for (int64_t b = 0; b < nb; b++) {
                int64_t o = (b * n) % m;
                if (o > omax)
                    omax = o;
            }
        }
        int64_t first = m - omax < n ? m - omax : n;
        int64_t rest = n - first;
        int64_t small = first;
        if (rest > 0) {
            int64_t last = rest % m == 0 ? m : rest % m;
            if (last < small)
                small = last;
        }
        *smallest = small;
        return (omax + n - 1) / m + 1;
    }
    /* The stride does not divide the block: bounded by the group's rank extent. The typical
     * piece is floor(C/s) members; the pieces at the group's two ends are not priced. */
    int64_t L = (n - 1) * s;
    int64_t k = (L + C - 1) / C + 1;
    if (k > n)
        k = n;
    int64_t piece = C / s;
    *smallest = piece < n ? (piece > 0 ? piece : 1) : n;
    return k;
}

/* Block of tier t as a group sees it: on a rail fabric only a rail-aligned group (its members
 * in each node sit at the same local ranks, so NCCL/PXN keeps inter-node traffic on one rail)
 * stays on its rail's leaves for d_1 nodes; any other group leaves the node through the
 * spine. */
static int64_t group_block(const struct net_topo *t, int tier, int64_t stride)
{
    int64_t blk = t->tier_block[tier];
    const int64_t cpn = t->sys->chips_per_node;
    if (tier == 1 && t->sys->out.kind == SPEC_FABRIC_RAIL &&
        !(stride % cpn == 0 || cpn % stride == 0))
        blk = cpn;
    return blk;
}

struct net_span net_span_of(const struct net_topo *t, int size, int64_t stride)
{
    struct net_span sp = {size, size, 1, 0};
    if (size <= 1 || stride < 1)
        return sp;
    int64_t n = size;
    int64_t nb = t->chips / (stride * n);
    if (nb < 1)
        nb = 1;
    int64_t small = n;
    int64_t q = blocks_touched(n, stride, t->domain, nb, &small);
    if (q > t->domains) /* a group that runs past the last chip: the caller's mistake */
        q = t->domains;
    sp.domains = q;
    sp.per_domain = q == 1 ? size : (int)small;
    if (q == 1 || t->tiers_needed == 0)
        return sp;
    sp.tiers = t->tiers_needed;
    for (int tier = 1; tier < t->tiers_needed; tier++) {
        int64_t s2;
        if (blocks_touched(n, stride, group_block(t, tier, stride), nb, &s2) == 1) {
            sp.tiers = tier;
            break;
        }
    }
    return sp;
}
