/* net: the topology of a system at a given chip count and the time of one collective on it.
 * Levels: the scale-up domain (switch, torus, hypercube, mesh) and the scale-out fabric
 * (fat tree or rail-optimized, tiers with radix and oversubscription). Groups are placed
 * on ranks in Megatron order; a group's span (chips per domain, domains, tiers crossed)
 * decides which links it uses. Costs are alpha-beta per level; docs/MODEL.md has every
 * formula and constant. Pricing one collective does no allocation: search calls it
 * millions of times. */
#ifndef US_NET_H
#define US_NET_H

#include <stdint.h>
#include <stdio.h>

#include "spec/spec.h"

enum net_op {
    NET_ALL_REDUCE = 0,
    NET_ALL_GATHER,
    NET_REDUCE_SCATTER,
    NET_ALL_TO_ALL,
    NET_BROADCAST,
    NET_P2P, /* one send/recv between neighbours (pipeline, ring attention); bytes = one
                message; size/stride = the group whose neighbours exchange (2 = one pair):
                the worst neighbour pair of the group is priced */
    NET_OP_COUNT
};

enum net_algo {
    NET_ALGO_NONE = 0, /* group of one: nothing to do */
    NET_ALGO_RING,
    NET_ALGO_TREE,   /* double binary tree */
    NET_ALGO_HIER,   /* intra-domain RS, inter-domain AR, intra-domain AG (one after another) */
    NET_ALGO_INR,    /* in-network reduction (NVLS/SHARP-style) */
    NET_ALGO_DIRECT, /* pairwise (all-to-all, p2p) */
    NET_ALGO_RHD,    /* recursive halving/doubling inside a domain (Rabenseifner; Neuron RDH) */
    NET_ALGO_COUNT
};

const char *net_op_name(enum net_op op);
const char *net_algo_name(enum net_algo a);
/* Parses "all_reduce" etc.; returns -1 when unknown. */
int net_op_parse(const char *s);

/* Most dimensions a torus or hypercube domain is described with (a hypercube of 2^k chips
 * is a k-dimensional torus of side 2). */
#define NET_MAX_DIMS 24

/* The topology of `chips` chips of a system. Plain value; cheap to copy.
 * tier_Bps[0] is the scale-up bandwidth per chip; tier_Bps[t] (t >= 1) is what one chip's
 * NIC gets when every chip sends up to tier t at once: nic / (o_1 * ... * o_t), where o_t is
 * the oversubscription of the links that climb into tier t (the contention model,
 * docs/MODEL.md section 3). */
struct net_topo {
    const struct spec_system *sys; /* not owned; must outlive the topo */
    int64_t chips;
    int domain;                          /* chips used per scale-up domain (<= chips) */
    int domain_full;                     /* chips a scale-up domain has (scale_up.chips) */
    int64_t domains;                     /* number of domains */
    int tiers_needed;                    /* scale-out tiers needed to connect all domains */
    double tier_Bps[SPEC_MAX_TIERS + 1]; /* per-chip bandwidth when crossing up to tier t */
    double comm_eff;                     /* achievable fraction of link bandwidth */
    double inr_eff;                      /* the same for NVLS-style reduction in the switch */

    /* Derived by net_topo_init for the cost functions (read-only for other modules). */
    int64_t tier_block[SPEC_MAX_TIERS + 1];  /* chips under one switch of tier t; [0] = 1;
                                                rail: t = 1 counts d_1 nodes, all rails;
                                                the top tier in use: all chips */
    double tier_oversub[SPEC_MAX_TIERS + 1]; /* o_1 * ... * o_t; [0] = 1 */
    int up_ndims;               /* torus/hypercube: dimensions of the (partial) domain */
    int up_dim[NET_MAX_DIMS];   /* chips along each dimension, innermost first */
    bool up_wrap[NET_MAX_DIMS]; /* dimension closes into a ring (wraparound link) */
    double up_link_Bps;         /* torus/hypercube/mesh: one link, per direction */
};

/* Where a group of `size` ranks at rank stride `stride` lands (Megatron placement:
 * members are r, r+stride, r+2*stride, ...). */
struct net_span {
    int size;
    int per_domain;  /* members inside one scale-up domain: the smallest piece of the
                        worst-placed group of this kind (pieces of a group that straddles
                        a domain boundary are uneven) */
    int64_t domains; /* scale-up domains the group touches */
    int tiers;       /* scale-out tiers crossed: 0 = stays inside one domain */
};

struct net_cost {
    double time_s;
    enum net_algo algo;
    double algbw_Bps; /* size / time (nccl-tests) */
    double busbw_Bps; /* algbw * net_busbw_factor(op, size) */
    struct net_span span;
};

/* Returns false (and fills reason) when the system cannot hold `chips` chips (the fabric's
 * tiers are too few or too small) or its spec is unusable for pricing. */
bool net_topo_init(struct net_topo *t, const struct spec_system *sys, int64_t chips, char *reason,
                   size_t reason_n);

struct net_span net_span_of(const struct net_topo *t, int size, int64_t stride);

/* Time of one collective of `bytes` (nccl-tests size: AR/RS input, AG output, A2A total
 * per rank, p2p one message) over a group of `size` ranks at `stride` (size >= 1, stride >=
 * 1, bytes >= 0: asserted). `concurrent` says every group of this kind in the cluster runs
 * at once (they share tier bandwidth; the default for training). Picks the fastest
 * algorithm unless `force` is not NET_ALGO_NONE. A forced algorithm that does not apply to
 * the op, topology or group gives time_s = HUGE_VAL and algbw = busbw = 0. A group of one
 * (or 0 bytes) costs 0 s with algo NET_ALGO_NONE and algbw = busbw = 0. */
void net_collective(const struct net_topo *t, enum net_op op, double bytes, int size,
                    int64_t stride, bool concurrent, enum net_algo force, struct net_cost *out);

/* Convenience: time only, best algorithm, concurrent. */
double net_time_s(const struct net_topo *t, enum net_op op, double bytes, int size, int64_t stride);

/* The busbw factor of nccl-tests (doc/PERFORMANCE.md): AR 2(n-1)/n; AG, RS, A2A (n-1)/n;
 * broadcast and p2p 1. */
double net_busbw_factor(enum net_op op, int size);

/* Writes the markdown table of docs/MODEL.md section 3 (all-reduce and all-to-all busbw of
 * 1 GiB over all chips, for the presets and chip counts named there). Loads the presets
 * with spec_system_load; returns its error when one is missing. */
enum us_status net_busbw_table(FILE *out, struct us_diag *d);

#endif
