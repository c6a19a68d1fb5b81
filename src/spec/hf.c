/* spec hf: a HuggingFace transformers config.json as a model. The family comes from
 * model_type (else architectures); each family's field names map onto struct spec_model
 * as the transformers configuration classes define them. Keys the model does not need
 * are ignored (configs carry many); a needed key that is missing is named in the error.
 * Leaves out: MoE layer patterns other than "the first k layers are dense". */
#include <stdio.h>
#include <string.h>

#include "spec/tree.h"

enum hf_family {
    HF_LLAMA = 0,
    HF_MISTRAL,
    HF_MIXTRAL,
    HF_QWEN2,
    HF_QWEN2_MOE,
    HF_QWEN3,
    HF_QWEN3_MOE,
    HF_DEEPSEEK_V2,
    HF_DEEPSEEK_V3,
    HF_GPT2,
    HF_GPT_NEOX,
    HF_COUNT
};

/* model_type and the causal-LM class name of each family (transformers' model folders). */
static const struct {
    const char *model_type;
    const char *arch;
} families[HF_COUNT] = {
    [HF_LLAMA] = {"llama", "LlamaForCausalLM"},
    [HF_MISTRAL] = {"mistral", "MistralForCausalLM"},
    [HF_MIXTRAL] = {"mixtral", "MixtralForCausalLM"},
    [HF_QWEN2] = {"qwen2", "Qwen2ForCausalLM"},
    [HF_QWEN2_MOE] = {"qwen2_moe", "Qwen2MoeForCausalLM"},
    [HF_QWEN3] = {"qwen3", "Qwen3ForCausalLM"},
    [HF_QWEN3_MOE] = {"qwen3_moe", "Qwen3MoeForCausalLM"},
    [HF_DEEPSEEK_V2] = {"deepseek_v2", "DeepseekV2ForCausalLM"},
    [HF_DEEPSEEK_V3] = {"deepseek_v3", "DeepseekV3ForCausalLM"},
    [HF_GPT2] = {"gpt2", "GPT2LMHeadModel"},
    [HF_GPT_NEOX] = {"gpt_neox", "GPTNeoXForCausalLM"},
};

bool spec_hf_detect(const struct spec_node *n)
{
    return spec_get(n, "model_type") != NULL || spec_get(n, "architectures") != NULL;
}

static void supported_list(char *buf, size_t n_B)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; i < HF_COUNT && o < n_B; i++)
        o += (size_t)snprintf(buf + o, n_B - o, "%s%s", i ? ", " : "", families[i].model_type);
}

static enum us_status find_family(struct spec_rd *rd, const struct spec_node *n, int *fam)
{
    char known[200], q[80];
    supported_list(known, sizeof known);
    const struct spec_node *mt = spec_get(n, "model_type");
    if (mt && !mt->null) {
        char type[64];
        SPEC_TRY(rd, spec_as_str(rd, mt, type, sizeof type));
        for (int i = 0; i < HF_COUNT; i++)
            if (strcmp(type, families[i].model_type) == 0) {
                *fam = i;
                return US_OK;
            }
        spec_node_quote(mt, q, sizeof q);
        return spec_fail(rd, mt, "model_type %s is not supported (supported: %s)", q, known);
    }
    const struct spec_node *ar = spec_get(n, "architectures");
    if (!ar || ar->kind != SPEC_NODE_SEQ || ar->count == 0)
        return spec_fail(rd, ar ? ar : n,
                         "a HuggingFace config needs model_type or a list of architectures");
    for (const struct spec_node *a = ar->first; a; a = a->next)
        for (int i = 0; i < HF_COUNT; i++)
            if (a->kind == SPEC_NODE_SCALAR && strcmp(a->text, families[i].arch) == 0 &&
                strlen(families[i].arch) == a->len) {
                *fam = i;
                return US_OK;
            }
    return spec_fail(rd, ar, "none of these architectures is supported (model_types: %s)", known);
}

/* Integer fields: JSON null counts as absent. */
#define HF_INT(key, lo, hi, flags, out)                                                            \
    SPEC_TRY(rd, spec_get_i32(rd, n, key, lo, hi, (flags) | SPEC_NULL_OK, out))

/* MoE on every decoder_sparse_step-th layer except mlp_only_layers (transformers
 * Qwen2MoeDecoderLayer / Qwen3MoeDecoderLayer). Only a run of dense layers at the start
 * is modelled; any other pattern is refused rather than approximated. */
static enum us_status qwen_dense_layers(struct spec_rd *rd, const struct spec_node *n, int layers,
                                        int *dense)
{
    int step = 1;
    HF_INT("decoder_sparse_step", 1, SPEC_MAX_LAYERS, 0, &step);
    bool *is_dense = core_arena_alloc(rd->arena, (size_t)layers * sizeof *is_dense);
    if (!is_dense)
        return spec_fail_oom(rd);
    for (int i = 0; i < layers; i++)
        is_dense[i] = (i + 1) % step != 0;
    const struct spec_node *only = spec_get(n, "mlp_only_layers");
    if (only && !only->null) {
        if (only->kind != SPEC_NODE_SEQ)
            return spec_fail(rd, only, "expected a list of layer numbers");
        for (const struct spec_node *v = only->first; v; v = v->next) {
            int64_t i = 0;
            SPEC_TRY(rd, spec_as_int(rd, v, 0, layers - 1, 0, &i));
            is_dense[i] = true;
        }
    }
    int k = 0;
    while (k < layers && is_dense[k])
        k++;
    for (int i = k; i < layers; i++)
        if (is_dense[i]) {
            const struct spec_node *at =
                only && only->count ? only : spec_get(n, "decoder_sparse_step");
            return spec_fail(rd, at ? at : n,
                             "layer %d (counting from 0) is dense after MoE layers; only dense "
                             "layers at the start are modelled",
                             i);
        }
    *dense = k;
    return US_OK;
}

enum us_status spec_hf_from_node(struct spec_rd *rd, const struct spec_node *n,
                                 const char *name_hint, struct spec_model *out)
{
    struct spec_model m;
    int fam = 0;
    enum us_status st;
    memset(&m, 0, sizeof m);
    if (spec_check_map(rd, n))
        return rd->status;
    if ((st = find_family(rd, n, &fam)) != US_OK)
        return st;

    if (name_hint && name_hint[0])
        spec_base_name(name_hint, m.name, sizeof m.name);
    else
        core_strlcpy(m.name, families[fam].model_type, sizeof m.name);
    core_fmt(m.description, sizeof m.description, "HuggingFace config.json, model_type %s",
             families[fam].model_type);

    if (fam == HF_GPT2) {
        /* GPT2Config: n_embd, n_layer, n_head; n_inner null means 4 * n_embd; the LM head
         * is tied to the token embedding (tie_word_embeddings defaults to true) */
        HF_INT("n_embd", 1, SPEC_MAX_HIDDEN, SPEC_REQ, &m.hidden);
        HF_INT("n_layer", 1, SPEC_MAX_LAYERS, SPEC_REQ, &m.layers);
        HF_INT("n_head", 1, SPEC_MAX_HEADS, SPEC_REQ, &m.heads);
        m.ffn_hidden = m.hidden <= SPEC_MAX_FFN / 4 ? 4 * m.hidden : SPEC_MAX_FFN;
        HF_INT("n_inner", 1, SPEC_MAX_FFN, 0, &m.ffn_hidden);
        m.tied_embeddings = true;
        m.gated_mlp = false;
    } else {
        HF_INT("hidden_size", 1, SPEC_MAX_HIDDEN, SPEC_REQ, &m.hidden);
        HF_INT("num_hidden_layers", 1, SPEC_MAX_LAYERS, SPEC_REQ, &m.layers);
        HF_INT("num_attention_heads", 1, SPEC_MAX_HEADS, SPEC_REQ, &m.heads);
        HF_INT("intermediate_size", 1, SPEC_MAX_FFN, SPEC_REQ, &m.ffn_hidden);
        /* GPT-NeoX: plain GELU MLP; every other family here: SwiGLU (gate, up, down) */
        m.gated_mlp = fam != HF_GPT_NEOX;
        m.tied_embeddings = false;
    }
    /* Residual dropout: GPT2Config's resid_pdrop (transformers' default 0.1 when absent);
     * GPTNeoXConfig's hidden_dropout (default 0.0); hidden_dropout_prob in BERT-style
     * configs. The Llama, Mistral, Qwen and DeepSeek classes have attention_dropout only. */
    if (fam == HF_GPT2) {
        m.hidden_dropout = 0.1;
        SPEC_TRY(rd, spec_get_real(rd, n, "resid_pdrop", 0, 1, SPEC_NULL_OK, &m.hidden_dropout));
    } else {
        int has_hd = spec_get_real(rd, n, "hidden_dropout", 0, 1, SPEC_NULL_OK, &m.hidden_dropout);
        SPEC_TRY(rd, has_hd);
        if (!has_hd)
            SPEC_TRY(rd, spec_get_real(rd, n, "hidden_dropout_prob", 0, 1, SPEC_NULL_OK,
                                       &m.hidden_dropout));
    }
    SPEC_TRY(rd, spec_get_int(rd, n, "vocab_size", 1, SPEC_MAX_VOCAB, SPEC_REQ | SPEC_NULL_OK,
                              &m.vocab));
    SPEC_TRY(rd, spec_get_bool(rd, n, "tie_word_embeddings", SPEC_NULL_OK, &m.tied_embeddings));
    m.kv_heads = m.heads;
    if (fam != HF_GPT2 && fam != HF_GPT_NEOX)
        HF_INT("num_key_value_heads", 1, SPEC_MAX_HEADS, 0, &m.kv_heads);

    switch (fam) {
    case HF_MIXTRAL:
        /* every layer is MoE; intermediate_size is the size of one expert */
        m.has_moe = true;
        HF_INT("num_local_experts", 1, SPEC_MAX_EXPERTS, SPEC_REQ, &m.moe.experts);
        HF_INT("num_experts_per_tok", 1, SPEC_MAX_EXPERTS, SPEC_REQ, &m.moe.top_k);
        m.moe.expert_ffn_hidden = m.ffn_hidden;
        break;
    case HF_QWEN2_MOE:
    case HF_QWEN3_MOE: {
        m.has_moe = true;
        HF_INT("num_experts", 1, SPEC_MAX_EXPERTS, SPEC_REQ, &m.moe.experts);
        HF_INT("num_experts_per_tok", 1, SPEC_MAX_EXPERTS, SPEC_REQ, &m.moe.top_k);
        HF_INT("moe_intermediate_size", 1, SPEC_MAX_FFN, SPEC_REQ, &m.moe.expert_ffn_hidden);
        if (fam == HF_QWEN2_MOE) {
            /* one shared expert of shared_expert_intermediate_size, held here as that
             * many routed-expert-sized experts */
            int shared = 0;
            HF_INT("shared_expert_intermediate_size", 0, SPEC_MAX_FFN, 0, &shared);
            if (shared % m.moe.expert_ffn_hidden != 0)
                return spec_fail(rd, spec_get(n, "shared_expert_intermediate_size"),
                                 "shared_expert_intermediate_size %d is not a multiple of "
                                 "moe_intermediate_size %d",
                                 shared, m.moe.expert_ffn_hidden);
            m.moe.shared_experts = shared / m.moe.expert_ffn_hidden;
        }
        if ((st = qwen_dense_layers(rd, n, m.layers, &m.moe.dense_layers)) != US_OK)
            return st;
        break;
    }
    case HF_DEEPSEEK_V2:
    case HF_DEEPSEEK_V3: {
        m.has_moe = true;
        HF_INT("n_routed_experts", 1, SPEC_MAX_EXPERTS, SPEC_REQ, &m.moe.experts);
        HF_INT("num_experts_per_tok", 1, SPEC_MAX_EXPERTS, SPEC_REQ, &m.moe.top_k);
        HF_INT("moe_intermediate_size", 1, SPEC_MAX_FFN, SPEC_REQ, &m.moe.expert_ffn_hidden);
        HF_INT("n_shared_experts", 0, SPEC_MAX_EXPERTS, 0, &m.moe.shared_experts);
        HF_INT("first_k_dense_replace", 0, SPEC_MAX_LAYERS, 0, &m.moe.dense_layers);
        int freq = 1;
        HF_INT("moe_layer_freq", 1, SPEC_MAX_LAYERS, 0, &freq);
        if (freq != 1)
            return spec_fail(rd, spec_get(n, "moe_layer_freq"),
                             "moe_layer_freq %d (MoE on every %d-th layer) is not modelled; only "
                             "dense layers at the start are",
                             freq, freq);
        /* multi-head latent attention (DeepSeek-V2 paper, section 2.1); q_lora_rank null
         * means queries are not compressed */
        m.has_mla = true;
        HF_INT("q_lora_rank", 0, SPEC_MAX_RANK, 0, &m.mla.q_lora_rank);
        HF_INT("kv_lora_rank", 1, SPEC_MAX_RANK, SPEC_REQ, &m.mla.kv_lora_rank);
        HF_INT("qk_nope_head_dim", 0, SPEC_MAX_HEAD_DIM, SPEC_REQ, &m.mla.qk_nope_head_dim);
        HF_INT("qk_rope_head_dim", 0, SPEC_MAX_HEAD_DIM, SPEC_REQ, &m.mla.qk_rope_head_dim);
        HF_INT("v_head_dim", 1, SPEC_MAX_HEAD_DIM, SPEC_REQ, &m.mla.v_head_dim);
        HF_INT("num_nextn_predict_layers", 0, SPEC_MAX_LAYERS, 0, &m.mtp_layers);
        break;
    }
    default:
        break;
    }

    if (m.has_mla) {
        m.head_dim = m.mla.qk_nope_head_dim + m.mla.qk_rope_head_dim;
    } else {
        int has_hd = 0;
        if (fam != HF_GPT2 && fam != HF_GPT_NEOX) {
            has_hd =
                spec_get_i32(rd, n, "head_dim", 1, SPEC_MAX_HEAD_DIM, SPEC_NULL_OK, &m.head_dim);
            SPEC_TRY(rd, has_hd);
        }
        if (!has_hd) {
            if (m.hidden % m.heads != 0)
                return spec_fail(rd, spec_get(n, fam == HF_GPT2 ? "n_head" : "num_attention_heads"),
                                 "hidden size %d is not a multiple of %d heads and head_dim "
                                 "is not given",
                                 m.hidden, m.heads);
            m.head_dim = m.hidden / m.heads;
        }
    }
    *out = m;
    return US_OK;
}
