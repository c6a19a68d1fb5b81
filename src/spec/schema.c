/* spec schema: the keys each mapping of a system, model and job spec may hold, and what
 * each holds. The loaders refuse any other key and --set walks paths with these tables.
 * docs/SPEC.md documents every key; keep the two in step. */
#include <string.h>

#include "spec/tree.h"

#define LEAF(k)                                                                                    \
    {                                                                                              \
        k, SPEC_KEY_LEAF, NULL                                                                     \
    }
#define LIST(k)                                                                                    \
    {                                                                                              \
        k, SPEC_KEY_LIST, NULL                                                                     \
    }
#define MAP(k, s)                                                                                  \
    {                                                                                              \
        k, SPEC_KEY_MAP, s                                                                         \
    }
#define SEQ_MAP(k, s)                                                                              \
    {                                                                                              \
        k, SPEC_KEY_SEQ_MAP, s                                                                     \
    }
#define END                                                                                        \
    {                                                                                              \
        NULL, SPEC_KEY_LEAF, NULL                                                                  \
    }

const struct spec_key spec_schema_tflops[] = {LEAF("fp32"), LEAF("fp16"), LEAF("bf16"), LEAF("fp8"),
                                              LEAF("fp4"),  LEAF("int8"), END};

const struct spec_key spec_schema_chip[] = {LEAF("name"),
                                            LEAF("family"),
                                            MAP("tflops", spec_schema_tflops),
                                            LEAF("hbm_GB"),
                                            LEAF("hbm_GiB"),
                                            LEAF("hbm_TBps"),
                                            LEAF("idle_W"),
                                            LEAF("tdp_W"),
                                            LEAF("usd_per_hour"),
                                            LEAF("gemm_W"),
                                            LEAF("memory_W"),
                                            LEAF("wait_W"),
                                            LIST("matrix_tile"),
                                            LEAF("compute_units"),
                                            LEAF("hbm_runtime_limit"),
                                            LEAF("devices"),
                                            END};

const struct spec_key spec_schema_efficiency[] = {LEAF("gemm"),
                                                  LEAF("gemm_fp8"),
                                                  LEAF("attention"),
                                                  LEAF("memory"),
                                                  LEAF("comm"),
                                                  LEAF("comm_inr"),
                                                  END};

const struct spec_key spec_schema_scale_up[] = {LEAF("chips"),
                                                LEAF("GBps"),
                                                LEAF("latency_us"),
                                                LEAF("topology"),
                                                LIST("dims"),
                                                LEAF("in_network_reduction"),
                                                END};

const struct spec_key spec_schema_tier[] = {LEAF("radix"), LEAF("oversubscription"), END};

const struct spec_key spec_schema_scale_out[] = {LEAF("Gbps"),
                                                 LEAF("latency_us"),
                                                 LEAF("topology"),
                                                 SEQ_MAP("tiers", spec_schema_tier),
                                                 LEAF("in_network_reduction"),
                                                 END};

const struct spec_key spec_schema_reliability[] = {
    LEAF("interruptions_per_chip_hour"), LEAF("restart_min"),
    LEAF("checkpoint_write_GBps_per_chip"), LEAF("step_cv"), END};

const struct spec_key spec_schema_system[] = {LEAF("name"),
                                              LEAF("description"),
                                              MAP("chip", spec_schema_chip),
                                              MAP("efficiency", spec_schema_efficiency),
                                              LEAF("chips_per_node"),
                                              MAP("scale_up", spec_schema_scale_up),
                                              MAP("scale_out", spec_schema_scale_out),
                                              LEAF("host_W_per_chip"),
                                              LEAF("network_W_per_chip"),
                                              LEAF("pue"),
                                              LEAF("step_overhead_ms"),
                                              MAP("reliability", spec_schema_reliability),
                                              END};

const struct spec_key spec_schema_moe[] = {LEAF("experts"),           LEAF("top_k"),
                                           LEAF("expert_ffn_hidden"), LEAF("shared_experts"),
                                           LEAF("dense_layers"),      LEAF("capacity_factor"),
                                           LEAF("load_imbalance"),    END};

const struct spec_key spec_schema_mla[] = {LEAF("q_lora_rank"),      LEAF("kv_lora_rank"),
                                           LEAF("qk_nope_head_dim"), LEAF("qk_rope_head_dim"),
                                           LEAF("v_head_dim"),       END};

const struct spec_key spec_schema_model[] = {LEAF("name"),
                                             LEAF("description"),
                                             LEAF("layers"),
                                             LEAF("hidden"),
                                             LEAF("heads"),
                                             LEAF("kv_heads"),
                                             LEAF("head_dim"),
                                             LEAF("ffn_hidden"),
                                             LEAF("vocab"),
                                             LEAF("gated_mlp"),
                                             LEAF("tied_embeddings"),
                                             MAP("moe", spec_schema_moe),
                                             MAP("mla", spec_schema_mla),
                                             LEAF("mtp_layers"),
                                             LEAF("hidden_dropout"),
                                             END};

const struct spec_key spec_schema_parallel[] = {LEAF("tp"),
                                                LEAF("pp"),
                                                LEAF("dp"),
                                                LEAF("cp"),
                                                LEAF("ep"),
                                                LEAF("vpp"),
                                                LEAF("zero"),
                                                LEAF("sequence_parallel"),
                                                LEAF("recompute"),
                                                LIST("recompute_modules"),
                                                LIST("recompute_keep"),
                                                LEAF("schedule"),
                                                LEAF("first_stage_layers"),
                                                LEAF("last_stage_layers"),
                                                LEAF("tp_comm_overlap"),
                                                LEAF("ep_comm_overlap"),
                                                LEAF("ep_dispatcher"),
                                                LEAF("ep_dispatcher_sms"),
                                                LEAF("etp"),
                                                LEAF("order"),
                                                LEAF("pipeline_layout"),
                                                END};

const struct spec_key spec_schema_training[] = {LEAF("seq_len"),
                                                LEAF("global_batch"),
                                                LEAF("micro_batch"),
                                                LEAF("dtype"),
                                                LEAF("tokens"),
                                                LEAF("critical_batch_tokens"),
                                                LEAF("grad_reduce_dtype"),
                                                LEAF("framework"),
                                                LEAF("fp8_params"),
                                                LEAF("offload_activation_layers"),
                                                LEAF("optimizer_state_dtype"),
                                                LEAF("moe_gmm_tile_rows"),
                                                LEAF("moe_dense_matmul"),
                                                LEAF("cuda_graph"),
                                                LEAF("fp8_recipe"),
                                                LEAF("weight_dtype"),
                                                LEAF("moe_probs_applied"),
                                                LEAF("attention"),
                                                END};

const struct spec_key spec_schema_scale[] = {LEAF("interruptions_per_chip_hour"),
                                             LEAF("restart_min"),
                                             LEAF("checkpoint_write_GBps_per_chip"),
                                             LEAF("checkpoint_async"),
                                             LEAF("checkpoint_in_memory"),
                                             LEAF("usd_per_chip_hour"),
                                             LEAF("pue"),
                                             LEAF("step_cv"),
                                             LEAF("spare_chips"),
                                             LEAF("seed"),
                                             LEAF("spare_policy"),
                                             LEAF("power_cap_mw"),
                                             LEAF("chip_power_cap_W"),
                                             LEAF("reschedule_min"),
                                             LEAF("repair_hours"),
                                             LEAF("snapshot_GBps_per_chip"),
                                             END};

const struct spec_key spec_schema_job[] = {{"model", SPEC_KEY_REF_MODEL, spec_schema_model},
                                           {"system", SPEC_KEY_REF_SYSTEM, spec_schema_system},
                                           LEAF("chips"),
                                           MAP("parallel", spec_schema_parallel),
                                           MAP("training", spec_schema_training),
                                           MAP("scale", spec_schema_scale),
                                           END};

const struct spec_key *spec_schema_find(const struct spec_key *schema, const char *key, size_t len)
{
    for (const struct spec_key *s = schema; s->key; s++)
        if (strlen(s->key) == len && memcmp(s->key, key, len) == 0)
            return s;
    return NULL;
}
