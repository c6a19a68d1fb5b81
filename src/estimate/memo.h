/* memo: the caches that let a search price many layouts of one job without pricing what
 * they share again - collective prices, the layer kinds' times per model split and groups,
 * and op times (struct step_price_cache and its slots). Internal to the estimator: costs.c
 * fills and reads them, and a caller that holds a cache (search_eval.c, the unit tests)
 * includes this header for its size; estimate.h declares the type alone, for the
 * functions that take one. Why: docs/MODEL.md 8.3. */
#ifndef US_ESTIMATE_MEMO_H
#define US_ESTIMATE_MEMO_H

#include "estimate/estimate.h"

/* Added by quality: collective prices remembered across layouts of one job, one thread
 * (direct-mapped on the op, bytes, group and chip count; net_collective is a pure function,
 * so a hit is the price it would give). Zero-fill to start. */
#define STEP_PRICE_SLOTS 16384
struct step_price_slot {
    bool used;
    int op, size;
    int64_t stride, chips;
    double bytes, time_s;
};
/* Added by speed2: the four layer kinds' times and the pipeline send as
 * step_costs_compute_with leaves them, remembered per (model split, recompute, sequence
 * parallelism, ZeRO stage, chip count and the TP, CP, EP, DP, expert-DP and PP groups):
 * everything they read beyond the job itself. A search revisits one key for every
 * pipeline split and vpp of a tuple. */
#define STEP_COSTS_MEMO_SLOTS 1024
#define STEP_COSTS_KEY_WORDS  26
struct step_costs_memo {
    bool used;
    int64_t key[STEP_COSTS_KEY_WORDS];
    struct step_costs costs; /* the kinds and p2p_s; the rest is rewritten per layout */
};
/* Added by speed2: one op's forward and backward times (estimate_op_time_s, a pure function
 * of the system, the dtype and the op's kind, shape, FLOPs and bytes) remembered by the
 * bits of those. The splits a search prices share most of their ops (recompute variants
 * all of them): a llama3-405b search evaluates 49,000 ops, 609 of them distinct. */
#define STEP_OP_MEMO_SLOTS 2048
#define STEP_OP_KEY_WORDS  10
struct step_op_memo {
    bool used;
    int64_t key[STEP_OP_KEY_WORDS];
    double fwd_s, bwd_s;
};
/* Added by speed2: the TP, CP and EP times of the four kinds (dense, moe, embed, head:
 * tp, cp, ep, forward and backward) of the last step-costs memo miss, by its key without
 * the ZeRO stage. They do not read the stage, and a search tries a layout's stages one
 * after another, so a miss's ZeRO siblings price only their DP traffic. */
struct step_mp_memo {
    bool used;
    int64_t key[STEP_COSTS_KEY_WORDS]; /* the ZeRO stage's word 0 */
    double t[4][6];
};
struct step_price_cache {
    struct step_price_slot slot[STEP_PRICE_SLOTS];
    struct step_mp_memo mp;                             /* added by speed2 */
    struct step_costs_memo memo[STEP_COSTS_MEMO_SLOTS]; /* added by speed2 */
    struct step_op_memo op[STEP_OP_MEMO_SLOTS];         /* added by speed2 */
};
#endif
