/* bench_memory: memory-plan evaluations per second on one thread - model_costs_compute +
 * plan_init + plan_memory over a spread of layouts of a dense (Llama 3 405B) and an MLA MoE
 * (DeepSeek-V3) model on 16,384 chips - against a baseline measured in the same run:
 * plan_init alone on the same valid layouts. Prints both rates and their ratio.
 * Not here: correctness (tests/unit/test_plan.c) or the step-time engines. */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "parallel/plan.h"

#define MAX_LAYOUTS 8192

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static struct spec_model llama3_405b(void)
{
    /* shared/reference/hf-configs/llama-3.1-405b.json */
    struct spec_model m;
    memset(&m, 0, sizeof m);
    m.layers = 126;
    m.hidden = 16384;
    m.heads = 128;
    m.kv_heads = 8;
    m.head_dim = 128;
    m.ffn_hidden = 53248;
    m.vocab = 128256;
    m.gated_mlp = true;
    return m;
}

static struct spec_model deepseek_v3(void)
{
    /* shared/reference/hf-configs/deepseek-v3.json */
    struct spec_model m;
    memset(&m, 0, sizeof m);
    m.layers = 61;
    m.hidden = 7168;
    m.heads = 128;
    m.kv_heads = 128;
    m.ffn_hidden = 18432;
    m.vocab = 129280;
    m.gated_mlp = true;
    m.has_moe = true;
    m.moe = (struct spec_moe){256, 8, 2048, 1, 3, 0.0, 0.0};
    m.has_mla = true;
    m.mla = (struct spec_mla){1536, 512, 128, 64, 128};
    m.mtp_layers = 1;
    return m;
}

static struct spec_job job_for(struct spec_model m)
{
    /* H100 SXM5 80GB (shared/reference/hardware.yaml): 989.4 bf16 TFLOP/s, 80 GB. */
    struct spec_job j;
    memset(&j, 0, sizeof j);
    j.model = m;
    strcpy(j.system.chip.name, "H100 SXM5 80GB");
    j.system.chip.peak_flops[US_DTYPE_BF16] = 989.4e12;
    j.system.chip.hbm_B = 80e9;
    j.chips = 16384;
    j.train.seq_len = 8192;
    j.train.global_batch = 2048;
    j.train.dtype = US_DTYPE_BF16;
    return j;
}

/* Every combination of the degrees below whose product is the chip count; the planner
 * decides which are valid (the invalid ones are part of the measured work too). */
static int spread(const struct spec_job *j, struct us_layout *out)
{
    static const int tps[] = {1, 2, 4, 8}, pps[] = {1, 2, 4, 8, 16}, cps[] = {1, 2};
    static const int eps[] = {1, 8, 64}, mbs[] = {1, 2};
    int n = 0;
    for (size_t a = 0; a < 4; a++)
        for (size_t b = 0; b < 5; b++)
            for (size_t c = 0; c < 2; c++)
                for (size_t e = 0; e < 3; e++)
                    for (size_t f = 0; f < 2; f++)
                        for (int z = 0; z <= 3; z++)
                            for (int r = 0; r <= 2; r++) {
                                int64_t dp = j->chips / (tps[a] * pps[b] * cps[c]);
                                if (n >= MAX_LAYOUTS)
                                    return n;
                                struct us_layout *l = &out[n++];
                                memset(l, 0, sizeof *l);
                                l->tp = tps[a];
                                l->pp = pps[b];
                                l->cp = cps[c];
                                l->dp = (int)dp;
                                l->ep = eps[e];
                                l->vpp = 1;
                                l->zero = z;
                                l->sequence_parallel = true;
                                l->recompute = (enum us_recompute)r;
                                l->schedule = US_SCHEDULE_1F1B;
                                l->micro_batch = mbs[f];
                                /* uneven ends, Megatron-style: 126 = 7 + 14 x 8 + 7 */
                                int L = j->model.layers;
                                if (l->pp > 2 && L % l->pp != 0 && (L - 14) % (l->pp - 2) == 0)
                                    l->first_stage_layers = l->last_stage_layers = 7;
                            }
    return n;
}

int main(void)
{
    static struct us_layout lays[MAX_LAYOUTS];
    struct spec_job jobs[2] = {job_for(llama3_405b()), job_for(deepseek_v3())};
    const char *names[2] = {"llama3-405b", "deepseek-v3"};
    volatile double sink = 0;
    printf("bench_memory: memory-plan evaluations (model_costs_compute + plan_init + "
           "plan_memory), one thread\n");
    for (int k = 0; k < 2; k++) {
        const struct spec_job *j = &jobs[k];
        int n = spread(j, lays), valid = 0, fits = 0;
        struct plan p;
        struct model_costs c;
        struct us_memory mem;
        /* Keep the valid layouts: the timed loops price only those. */
        for (int i = 0; i < n; i++)
            if (plan_init(&p, j, &lays[i])) {
                lays[valid++] = lays[i];
                model_costs_compute(&j->model, &p.split, &c);
                fits += plan_memory(&p, j, &c, &mem);
            }
        int total = n;
        n = valid;

        /* baseline: plan_init alone */
        double t0 = now_s(), t1;
        long base_n = 0;
        do {
            for (int i = 0; i < n; i++)
                sink += plan_init(&p, j, &lays[i]) ? 1.0 : 0.0;
            base_n += n;
            t1 = now_s();
        } while (t1 - t0 < 0.3);
        double base_rate = (double)base_n / (t1 - t0);

        /* full evaluation */
        t0 = now_s();
        long full_n = 0;
        do {
            for (int i = 0; i < n; i++) {
                plan_init(&p, j, &lays[i]);
                model_costs_compute(&j->model, &p.split, &c);
                plan_memory(&p, j, &c, &mem);
                sink += mem.peak_B;
            }
            full_n += n;
            t1 = now_s();
        } while (t1 - t0 < 0.5);
        double rate = (double)full_n / (t1 - t0);
        printf("  %-12s %d valid layouts of %d tried (%d fit): %.3g evaluations/s (%.0f ns "
               "each); baseline plan_init alone %.3g/s (%.0f ns); full / baseline time %.1fx\n",
               names[k], valid, total, fits, rate, 1e9 / rate, base_rate, 1e9 / base_rate,
               base_rate / rate);
    }
    (void)sink;
    return 0;
}
