/* api/collective: us_collective, the library side of `ultrasim collective`: loads a system, places
 * one group in Megatron rank order by kind (or an explicit stride) and prices one collective
 * with every group of that kind running at once. Not here: argument parsing and printing
 * (src/cli/). The placement rule is in docs/MODEL.md section 3. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "net/net.h"

/* Innermost kinds (tp, cp, ep in tp-cp-ep-dp-pp order with the inner degrees taken as 1)
 * sit on consecutive ranks; outermost kinds (dp, pp with every other degree inside them)
 * are spread chips/size apart. */
enum place { PLACE_ALL, PLACE_INNER, PLACE_OUTER, PLACE_STRIDE };

static enum us_status parse_span(const char *span, enum place *pl, int64_t *stride,
                                 struct us_diag *d)
{
    *stride = 1;
    if (!span || !*span || strcmp(span, "all") == 0) {
        *pl = PLACE_ALL;
        return US_OK;
    }
    if (strcmp(span, "tp") == 0 || strcmp(span, "cp") == 0 || strcmp(span, "ep") == 0 ||
        strcmp(span, "none") == 0) {
        *pl = PLACE_INNER;
        return US_OK;
    }
    if (strcmp(span, "dp") == 0 || strcmp(span, "pp") == 0) {
        *pl = PLACE_OUTER;
        return US_OK;
    }
    if (strncmp(span, "stride=", 7) == 0) {
        int64_t v;
        if (core_parse_i64(span + 7, &v) == 0 && v >= 1) {
            *pl = PLACE_STRIDE;
            *stride = v;
            return US_OK;
        }
    }
    return core_diag_set(d, NULL, 0, 0, "span",
                         "'%s' is not one of tp, cp, ep, dp, pp, all, none or stride=K", span);
}

enum us_status us_collective(struct us_ctx *ctx, const char *system, const char *op, double bytes,
                             int64_t chips, int group_size, const char *span,
                             struct us_collective_result *out, struct us_diag *d)
{
    (void)ctx;
    if (d)
        memset(d, 0, sizeof *d);
    if (!out)
        return core_diag_set(d, NULL, 0, 0, NULL, "no result to fill");
    memset(out, 0, sizeof *out);
    out->algo = net_algo_name(NET_ALGO_NONE);
    if (!system || !*system)
        return core_diag_set(d, NULL, 0, 0, "system", "no system given");
    int o = net_op_parse(op);
    if (o < 0)
        return core_diag_set(d, NULL, 0, 0, "op",
                             "'%s' is not one of all_reduce, all_gather, reduce_scatter, "
                             "all_to_all, broadcast, p2p",
                             op ? op : "");
    if (!isfinite(bytes) || bytes < 0.0)
        return core_diag_set(d, NULL, 0, 0, "bytes", "%g is not a size >= 0", bytes);
    if (chips < 1)
        return core_diag_set(d, NULL, 0, 0, "chips", "%lld is not a chip count >= 1",
                             (long long)chips);
    if (group_size < 0 || group_size > chips)
        return core_diag_set(d, NULL, 0, 0, "group", "%d is not a group size in 0..%lld",
                             group_size, (long long)chips);
    enum place pl = PLACE_ALL;
    int64_t stride;
    enum us_status st = parse_span(span, &pl, &stride, d);
    if (st != US_OK)
        return st;

    struct spec_system *sys = malloc(sizeof *sys); /* a few KB: kept off the stack */
    if (!sys)
        return core_diag_status(d, US_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    st = spec_system_load(system, sys, d);
    if (st != US_OK) {
        free(sys);
        return st;
    }
    struct net_topo t;
    char why[US_MSG_LEN];
    if (!net_topo_init(&t, sys, chips, why, sizeof why)) {
        free(sys);
        return core_diag_status(d, US_INFEASIBLE, NULL, 0, 0, "chips", "%s", why);
    }

    int64_t n = group_size;
    switch (pl) {
    case PLACE_ALL:
        if (n != 0 && n != chips) {
            free(sys);
            return core_diag_set(d, NULL, 0, 0, "group", "span all is every chip (%lld), not %d",
                                 (long long)chips, group_size);
        }
        n = chips;
        break;
    case PLACE_INNER:
        if (n == 0)
            n = t.domain;
        break;
    case PLACE_OUTER:
        if (n == 0) {
            if (chips % t.domain != 0) {
                free(sys);
                return core_diag_set(d, NULL, 0, 0, "group",
                                     "%lld chips are not whole domains of %d: give the group "
                                     "size",
                                     (long long)chips, t.domain);
            }
            n = chips / t.domain;
        }
        if (chips % n != 0) {
            free(sys);
            return core_diag_set(d, NULL, 0, 0, "group",
                                 "a dp/pp group of %lld does not divide %lld chips", (long long)n,
                                 (long long)chips);
        }
        stride = chips / n;
        break;
    case PLACE_STRIDE:
    default:
        if (n == 0)
            n = chips / stride > 0 ? chips / stride : 1;
        break;
    }
    if (n > INT32_MAX || (n - 1) * stride >= chips) {
        free(sys);
        return core_diag_set(d, NULL, 0, 0, "group",
                             "%lld members at stride %lld do not fit in %lld chips", (long long)n,
                             (long long)stride, (long long)chips);
    }
    struct net_cost c;
    net_collective(&t, (enum net_op)o, bytes, (int)n, stride, true, NET_ALGO_NONE, &c);
    free(sys);
    out->time_s = c.time_s;
    out->algbw_Bps = c.algbw_Bps;
    out->busbw_Bps = c.busbw_Bps;
    out->algo = net_algo_name(c.algo);
    out->group_size = (int)n;
    out->stride = stride;
    out->per_domain = c.span.per_domain;
    out->domains = c.span.domains;
    out->tiers = c.span.tiers;
    return US_OK;
}
