/* bench_collective: how many collectives net_collective prices per second on one core, over
 * a spread of ops (all six), sizes (1 KB to 10 GB), group sizes (2 to 65,536), strides and
 * systems (presets when they load, hand-built switch/torus/hypercube/mesh systems always).
 * Baseline in the same run: the textbook flat-ring alpha-beta formula (Thakur et al. 2005)
 * over the same calls, which knows nothing of domains, tiers or algorithms; the ratio is the
 * price of the topology-aware model. Also: topology set-up (net_topo_init) per second.
 * Goal: well under a microsecond per pricing. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "net/net.h"

#define NSYS_MAX 12

static double cpu_s(void)
{
    return (double)clock() / (double)CLOCKS_PER_SEC;
}

static struct spec_system hand(enum spec_topology topo)
{
    struct spec_system s;
    memset(&s, 0, sizeof s);
    strcpy(s.name, "hand");
    s.eff.comm = 0.8;
    s.chips_per_node = 8;
    s.up.chips = topo == SPEC_TOPO_TORUS ? 64 : topo == SPEC_TOPO_HYPERCUBE ? 16 : 8;
    s.up.bw_Bps = 450e9;
    s.up.latency_s = 1e-6;
    s.up.topology = topo;
    if (topo == SPEC_TOPO_TORUS)
        s.up.dims[0] = s.up.dims[1] = s.up.dims[2] = 4;
    s.up.in_network_reduction = topo == SPEC_TOPO_SWITCH;
    s.out.nic_Bps = 50e9;
    s.out.latency_s = 1.5e-6;
    s.out.kind = topo == SPEC_TOPO_SWITCH ? SPEC_FABRIC_RAIL : SPEC_FABRIC_FAT_TREE;
    s.out.ntiers = 4;
    for (int i = 0; i < 4; i++)
        s.out.tiers[i] = (struct spec_tier){64, i == 3 ? 7.0 : 1.0};
    return s;
}

/* The baseline: one flat ring, one bandwidth, one latency. */
static double flat_ring_s(const struct spec_system *s, enum net_op op, double B, int n)
{
    double a = s->up.latency_s, bw = s->eff.comm * s->up.bw_Bps, nn = (double)n;
    if (n <= 1)
        return 0.0;
    double steps = op == NET_ALL_REDUCE ? 2.0 * (nn - 1.0) : nn - 1.0;
    double vol = op == NET_ALL_REDUCE ? 2.0 * (nn - 1.0) / nn * B : (nn - 1.0) / nn * B;
    return steps * a + vol / bw;
}

int main(void)
{
    static struct spec_system sys[NSYS_MAX];
    int nsys = 0;
    const char *presets[] = {"dgx-h100",  "gb300-nvl72", "trn3-ultraserver", "trn2-ultraserver",
                             "trn1-32xl", "mi300x-8",    "tpu-v5p-pod"};
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
        struct us_diag d;
        if (spec_system_load(presets[i], &sys[nsys], &d) == US_OK)
            nsys++;
        else
            printf("preset %s not loaded (%s); using the hand-built systems\n", presets[i], d.msg);
    }
    const enum spec_topology kinds[] = {SPEC_TOPO_SWITCH, SPEC_TOPO_TORUS, SPEC_TOPO_HYPERCUBE,
                                        SPEC_TOPO_MESH};
    for (size_t i = 0; i < 4; i++)
        sys[nsys++] = hand(kinds[i]);

    static struct net_topo topo[NSYS_MAX];
    const int64_t chips = 131072;
    for (int i = 0; i < nsys; i++) {
        char why[256];
        if (!net_topo_init(&topo[i], &sys[i], chips, why, sizeof why)) {
            printf("%s: %s\n", sys[i].name, why);
            return 1;
        }
    }
    const double bytes[] = {1e3, 1e5, 1e7, 1e9, 1e10};
    const int sizes[] = {2, 8, 64, 512, 4096, 65536};
    const int64_t strides[] = {1, 8, 64};
    long calls = 0;
    double sink = 0.0, base_sink = 0.0;

    /* Repeat the spread until about half a second of CPU has gone by. */
    double t0 = cpu_s(), t1;
    int reps = 0;
    do {
        for (int i = 0; i < nsys; i++)
            for (int op = 0; op < NET_OP_COUNT; op++)
                for (size_t b = 0; b < sizeof bytes / sizeof bytes[0]; b++)
                    for (size_t n = 0; n < sizeof sizes / sizeof sizes[0]; n++)
                        for (size_t s = 0; s < sizeof strides / sizeof strides[0]; s++) {
                            if ((int64_t)sizes[n] * strides[s] > chips)
                                continue;
                            struct net_cost c;
                            net_collective(&topo[i], (enum net_op)op, bytes[b], sizes[n],
                                           strides[s], true, NET_ALGO_NONE, &c);
                            sink += c.time_s;
                            calls++;
                        }
        reps++;
        t1 = cpu_s();
    } while (t1 - t0 < 0.5);
    double rate = (double)calls / (t1 - t0);

    long base_calls = 0;
    double b0 = cpu_s(), b1;
    do {
        for (int i = 0; i < nsys; i++)
            for (int op = 0; op < NET_OP_COUNT; op++)
                for (size_t b = 0; b < sizeof bytes / sizeof bytes[0]; b++)
                    for (size_t n = 0; n < sizeof sizes / sizeof sizes[0]; n++)
                        for (size_t s = 0; s < sizeof strides / sizeof strides[0]; s++) {
                            if ((int64_t)sizes[n] * strides[s] > chips)
                                continue;
                            base_sink += flat_ring_s(&sys[i], (enum net_op)op, bytes[b], sizes[n]);
                            base_calls++;
                        }
        b1 = cpu_s();
    } while (b1 - b0 < 0.5);
    double base_rate = (double)base_calls / (b1 - b0);

    long inits = 0;
    double i0 = cpu_s(), i1;
    do {
        for (int i = 0; i < nsys; i++) {
            struct net_topo t;
            char why[256];
            inits += net_topo_init(&t, &sys[i], chips - inits % 1000, why, sizeof why);
        }
        i1 = cpu_s();
    } while (i1 - i0 < 0.2);

    printf("systems %d, %ld collective pricings in %.3f s on one core (%d passes of the "
           "spread)\n",
           nsys, calls, t1 - t0, reps);
    printf("net_collective: %.0f pricings per second, %.0f ns each (goal: well under 1 us): "
           "%s\n",
           rate, 1e9 / rate, 1e9 / rate < 1000.0 ? "met" : "MISSED");
    printf("baseline flat-ring formula: %.0f per second, %.1f ns each; ratio net/baseline "
           "time %.1fx\n",
           base_rate, 1e9 / base_rate, base_rate / rate);
    printf("net_topo_init: %.0f per second\n", (double)inits / (i1 - i0));
    printf("(checksums %.6g %.6g)\n", sink, base_sink);
    return 0;
}
