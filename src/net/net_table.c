/* net_table: the busbw table of docs/MODEL.md section 3 - all-reduce and all-to-all of
 * 1 GiB over every chip of four presets at six chip counts - written as markdown so that a
 * test can regenerate it and compare it with the document. Not here: anything the table
 * does not show (other ops, sub-groups). */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "net/net.h"

static void cell(char *buf, size_t n, double Bps)
{
    double g = Bps / 1e9;
    if (g >= 100.0)
        core_fmt(buf, n, "%.0f", g);
    else if (g >= 10.0)
        core_fmt(buf, n, "%.1f", g);
    else
        core_fmt(buf, n, "%.3g", g);
}

static const char *short_algo(enum net_algo a)
{
    static const char *const n[] = {"-", "ring", "tree", "hier", "inr", "direct", "rhd"};
    return (unsigned)a < NET_ALGO_COUNT ? n[a] : "?";
}

enum us_status net_busbw_table(FILE *out, struct us_diag *d)
{
    static const char *const systems[] = {"trn3-ultraserver", "gb300-nvl72", "dgx-h100",
                                          "trn2-ultraserver"};
    static const int64_t chips[] = {8, 64, 144, 1024, 16384, 1048576};
    static const enum net_op ops[] = {NET_ALL_REDUCE, NET_ALL_TO_ALL};
    const double bytes = 1073741824.0;
    enum { NSYS = 4, NCHIPS = 6 };

    struct spec_system *sys = malloc(sizeof *sys);
    if (!sys)
        return core_diag_status(d, US_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    fprintf(out, "| system | op |");
    for (int c = 0; c < NCHIPS; c++)
        fprintf(out, " %lld |", (long long)chips[c]);
    fprintf(out, "\n|---|---|");
    for (int c = 0; c < NCHIPS; c++)
        fprintf(out, "---:|");
    fprintf(out, "\n");
    for (int s = 0; s < NSYS; s++) {
        enum us_status st = spec_system_load(systems[s], sys, d);
        if (st != US_OK) {
            free(sys);
            return st;
        }
        for (size_t k = 0; k < US_ARRAY_LEN(ops); k++) {
            fprintf(out, "| %s | %s |", systems[s], net_op_name(ops[k]));
            for (int c = 0; c < NCHIPS; c++) {
                struct net_topo t;
                char why[US_MSG_LEN];
                if (!net_topo_init(&t, sys, chips[c], why, sizeof why)) {
                    fprintf(out, " n/a |");
                    continue;
                }
                struct net_cost cost;
                net_collective(&t, ops[k], bytes, (int)chips[c], 1, true, NET_ALGO_NONE, &cost);
                char v[32];
                cell(v, sizeof v, cost.busbw_Bps);
                if (ops[k] == NET_ALL_TO_ALL)
                    fprintf(out, " %s |", v);
                else
                    fprintf(out, " %s %s |", v, short_algo(cost.algo));
            }
            fprintf(out, "\n");
        }
    }
    free(sys);
    return US_OK;
}
