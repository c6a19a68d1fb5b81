/* spec model: a transformer model spec (dense or MoE, GQA/MQA, MLA, MTP) from a checked
 * tree into struct spec_model, the consistency checks every model passes (heads divide,
 * MoE and MLA sane), and the public model loaders. HuggingFace config.json is hf.c.
 * Leaves out: parameter counts and FLOPs (model/). */
#include <stdio.h>
#include <string.h>

#include "spec/tree.h"

#define MAX_LAYERS   SPEC_MAX_LAYERS
#define MAX_HIDDEN   SPEC_MAX_HIDDEN
#define MAX_HEADS    SPEC_MAX_HEADS
#define MAX_HEAD_DIM SPEC_MAX_HEAD_DIM
#define MAX_FFN      SPEC_MAX_FFN
#define MAX_VOCAB    SPEC_MAX_VOCAB
#define MAX_EXPERTS  SPEC_MAX_EXPERTS
#define MAX_RANK     SPEC_MAX_RANK

/* A model's internal consistency; fills path (relative to the model) and msg on error. */
static int check_msg(const struct spec_model *m, char *path, size_t pn, char *msg, size_t mn)
{
#define BAD(p, ...)                                                                                \
    do {                                                                                           \
        core_strlcpy(path, p, pn);                                                                 \
        core_fmt(msg, mn, __VA_ARGS__);                                                            \
        return -1;                                                                                 \
    } while (0)
    if (!m->name[0])
        BAD("name", "the model has no name");
    if (m->layers < 1 || m->layers > MAX_LAYERS)
        BAD("layers", "layers %d is outside 1..%d", m->layers, MAX_LAYERS);
    if (m->hidden < 1 || m->hidden > MAX_HIDDEN)
        BAD("hidden", "hidden %d is outside 1..%d", m->hidden, MAX_HIDDEN);
    if (m->heads < 1 || m->heads > MAX_HEADS)
        BAD("heads", "heads %d is outside 1..%d", m->heads, MAX_HEADS);
    if (m->kv_heads < 1)
        BAD("kv_heads", "kv_heads %d must be positive", m->kv_heads);
    if (m->kv_heads > m->heads)
        BAD("kv_heads", "kv_heads %d is above heads %d", m->kv_heads, m->heads);
    if (m->heads % m->kv_heads != 0)
        BAD("kv_heads", "heads %d is not a multiple of kv_heads %d (query groups must be equal)",
            m->heads, m->kv_heads);
    if (m->head_dim < 1 || m->head_dim > MAX_HEAD_DIM)
        BAD("head_dim", "head_dim %d is outside 1..%d", m->head_dim, MAX_HEAD_DIM);
    /* attention width within 8x of the residual width either way: a typo guard, wide
     * enough for Qwen3 (2x) and Gemma-style heads */
    double width = (double)m->head_dim * m->heads;
    if (!m->has_mla && (width > 8.0 * m->hidden || 8.0 * width < m->hidden))
        BAD("head_dim", "head_dim %d x heads %d = %.0f is not within 8x of hidden %d", m->head_dim,
            m->heads, width, m->hidden);
    if (m->ffn_hidden < 1 || m->ffn_hidden > MAX_FFN)
        BAD("ffn_hidden", "ffn_hidden %d is outside 1..%d", m->ffn_hidden, MAX_FFN);
    if (m->vocab < 1 || m->vocab > MAX_VOCAB)
        BAD("vocab", "vocab %lld is outside 1..%lld", (long long)m->vocab, MAX_VOCAB);
    if (m->mtp_layers < 0 || m->mtp_layers > m->layers)
        BAD("mtp_layers", "mtp_layers %d is outside 0..layers (%d)", m->mtp_layers, m->layers);
    if (!(m->hidden_dropout >= 0 && m->hidden_dropout <= 1))
        BAD("hidden_dropout", "hidden_dropout %g is outside 0..1", m->hidden_dropout);
    if (m->has_moe) {
        const struct spec_moe *e = &m->moe;
        if (e->experts < 1 || e->experts > MAX_EXPERTS)
            BAD("moe.experts", "experts %d is outside 1..%d", e->experts, MAX_EXPERTS);
        if (e->top_k < 1)
            BAD("moe.top_k", "top_k %d must be positive", e->top_k);
        if (e->top_k > e->experts)
            BAD("moe.top_k", "top_k %d is above experts %d", e->top_k, e->experts);
        if (e->expert_ffn_hidden < 1 || e->expert_ffn_hidden > MAX_FFN)
            BAD("moe.expert_ffn_hidden", "expert_ffn_hidden %d is outside 1..%d",
                e->expert_ffn_hidden, MAX_FFN);
        if (e->shared_experts < 0 || e->shared_experts > MAX_EXPERTS)
            BAD("moe.shared_experts", "shared_experts %d is outside 0..%d", e->shared_experts,
                MAX_EXPERTS);
        if (e->dense_layers < 0 || e->dense_layers > m->layers)
            BAD("moe.dense_layers", "dense_layers %d is outside 0..layers (%d)", e->dense_layers,
                m->layers);
        if (!(e->capacity_factor >= 0 && e->capacity_factor <= 1000))
            BAD("moe.capacity_factor", "capacity_factor %g is outside 0..1000", e->capacity_factor);
        if (!(e->load_imbalance == 0 || (e->load_imbalance >= 1 && e->load_imbalance <= 64)))
            BAD("moe.load_imbalance", "load_imbalance %g is outside 1..64", e->load_imbalance);
    }
    if (m->has_mla) {
        const struct spec_mla *a = &m->mla;
        if (a->q_lora_rank < 0 || a->q_lora_rank > MAX_RANK)
            BAD("mla.q_lora_rank", "q_lora_rank %d is outside 0..%d", a->q_lora_rank, MAX_RANK);
        if (a->kv_lora_rank < 1 || a->kv_lora_rank > MAX_RANK)
            BAD("mla.kv_lora_rank", "kv_lora_rank %d is outside 1..%d", a->kv_lora_rank, MAX_RANK);
        if (a->qk_nope_head_dim < 0 || a->qk_rope_head_dim < 0 ||
            a->qk_nope_head_dim + a->qk_rope_head_dim < 1 ||
            a->qk_nope_head_dim + a->qk_rope_head_dim > MAX_HEAD_DIM)
            BAD("mla.qk_nope_head_dim",
                "qk_nope_head_dim %d + qk_rope_head_dim %d is outside 1..%d", a->qk_nope_head_dim,
                a->qk_rope_head_dim, MAX_HEAD_DIM);
        if (a->v_head_dim < 1 || a->v_head_dim > MAX_HEAD_DIM)
            BAD("mla.v_head_dim", "v_head_dim %d is outside 1..%d", a->v_head_dim, MAX_HEAD_DIM);
    }
    return 0;
#undef BAD
}

enum us_status spec_model_check(const struct spec_model *m, const char *file, struct us_diag *d)
{
    char path[64], msg[256];
    if (check_msg(m, path, sizeof path, msg, sizeof msg) == 0)
        return US_OK;
    return core_diag_set(d, file, 0, 0, path, "%s", msg);
}

/* The node at a dotted path below n, or NULL. */
static const struct spec_node *find_path(const struct spec_node *n, const char *path)
{
    char seg[64];
    while (n && *path) {
        const char *dot = strchr(path, '.');
        size_t len = dot ? (size_t)(dot - path) : strlen(path);
        if (len >= sizeof seg)
            return NULL;
        memcpy(seg, path, len);
        seg[len] = '\0';
        n = spec_get(n, seg);
        path += len + (dot ? 1 : 0);
    }
    return n;
}

enum us_status spec_model_check_node(struct spec_rd *rd, const struct spec_model *m,
                                     const struct spec_node *n)
{
    char path[64], msg[256];
    if (check_msg(m, path, sizeof path, msg, sizeof msg) == 0)
        return US_OK;
    const struct spec_node *at = find_path(n, path);
    if (at && at->line > 0)
        return spec_fail(rd, at, "%s", msg);
    /* not written in the file (a default or a HuggingFace field): place it at the model */
    char base[256], full[300];
    spec_node_path(n, base, sizeof base);
    core_fmt(full, sizeof full, "%s%s%s", base, base[0] ? "." : "", path);
    rd->status = US_EINPUT;
    return core_diag_set(rd->d, n->file, n->line, n->col, full, "%s", msg);
}

enum us_status spec_model_from_node(struct spec_rd *rd, const struct spec_node *n,
                                    const char *name_hint, struct spec_model *out)
{
    struct spec_model m;
    const struct spec_node *moe, *mla;
    memset(&m, 0, sizeof m);
    if (spec_is_map(n) && spec_hf_detect(n)) {
        enum us_status st = spec_hf_from_node(rd, n, name_hint, &m);
        if (st != US_OK)
            return st;
        st = spec_model_check_node(rd, &m, n);
        if (st == US_OK)
            *out = m;
        return st;
    }
    if (spec_check_keys(rd, n, spec_schema_model))
        return rd->status;
    int has_name = spec_get_str(rd, n, "name", 0, m.name, sizeof m.name);
    if (has_name < 0)
        return rd->status;
    if (has_name == 0)
        spec_default_name(n, name_hint, "custom-model", m.name, sizeof m.name);
    SPEC_TRY(rd, spec_get_str(rd, n, "description", 0, m.description, sizeof m.description));
    SPEC_TRY(rd, spec_get_i32(rd, n, "layers", 1, MAX_LAYERS, SPEC_REQ, &m.layers));
    SPEC_TRY(rd, spec_get_i32(rd, n, "hidden", 1, MAX_HIDDEN, SPEC_REQ, &m.hidden));
    SPEC_TRY(rd, spec_get_i32(rd, n, "heads", 1, MAX_HEADS, SPEC_REQ, &m.heads));
    m.kv_heads = m.heads;
    SPEC_TRY(rd, spec_get_i32(rd, n, "kv_heads", 1, MAX_HEADS, 0, &m.kv_heads));
    SPEC_TRY(rd, spec_get_int(rd, n, "vocab", 1, MAX_VOCAB, SPEC_REQ, &m.vocab));
    SPEC_TRY(rd, spec_get_bool(rd, n, "gated_mlp", 0, &m.gated_mlp));
    SPEC_TRY(rd, spec_get_bool(rd, n, "tied_embeddings", 0, &m.tied_embeddings));
    SPEC_TRY(rd, spec_get_i32(rd, n, "mtp_layers", 0, MAX_LAYERS, 0, &m.mtp_layers));
    /* residual and embedding dropout probability (Megatron's hidden_dropout) */
    SPEC_TRY(rd, spec_get_real(rd, n, "hidden_dropout", 0, 1, 0, &m.hidden_dropout));

    int has_moe = spec_get_map(rd, n, "moe", spec_schema_moe, 0, &moe);
    SPEC_TRY(rd, has_moe);
    if (has_moe) {
        struct spec_moe *e = &m.moe;
        m.has_moe = true;
        SPEC_TRY(rd, spec_get_i32(rd, moe, "experts", 1, MAX_EXPERTS, SPEC_REQ, &e->experts));
        SPEC_TRY(rd, spec_get_i32(rd, moe, "top_k", 1, MAX_EXPERTS, SPEC_REQ, &e->top_k));
        SPEC_TRY(rd, spec_get_i32(rd, moe, "expert_ffn_hidden", 1, MAX_FFN, SPEC_REQ,
                                  &e->expert_ffn_hidden));
        SPEC_TRY(rd,
                 spec_get_i32(rd, moe, "shared_experts", 0, MAX_EXPERTS, 0, &e->shared_experts));
        SPEC_TRY(rd, spec_get_i32(rd, moe, "dense_layers", 0, MAX_LAYERS, 0, &e->dense_layers));
        SPEC_TRY(rd, spec_get_real(rd, moe, "capacity_factor", 0, 1000, 0, &e->capacity_factor));
        SPEC_TRY(rd, spec_get_real(rd, moe, "load_imbalance", 1, 64, 0, &e->load_imbalance));
    }
    int has_mla = spec_get_map(rd, n, "mla", spec_schema_mla, 0, &mla);
    SPEC_TRY(rd, has_mla);
    if (has_mla) {
        struct spec_mla *a = &m.mla;
        m.has_mla = true;
        SPEC_TRY(rd, spec_get_i32(rd, mla, "q_lora_rank", 0, MAX_RANK, 0, &a->q_lora_rank));
        SPEC_TRY(rd,
                 spec_get_i32(rd, mla, "kv_lora_rank", 1, MAX_RANK, SPEC_REQ, &a->kv_lora_rank));
        SPEC_TRY(rd, spec_get_i32(rd, mla, "qk_nope_head_dim", 0, MAX_HEAD_DIM, SPEC_REQ,
                                  &a->qk_nope_head_dim));
        SPEC_TRY(rd, spec_get_i32(rd, mla, "qk_rope_head_dim", 0, MAX_HEAD_DIM, SPEC_REQ,
                                  &a->qk_rope_head_dim));
        SPEC_TRY(rd,
                 spec_get_i32(rd, mla, "v_head_dim", 1, MAX_HEAD_DIM, SPEC_REQ, &a->v_head_dim));
    }

    /* head_dim: MLA's query/key head is nope + rope; otherwise hidden / heads */
    int has_hd = spec_get_i32(rd, n, "head_dim", 1, MAX_HEAD_DIM, 0, &m.head_dim);
    SPEC_TRY(rd, has_hd);
    if (!has_hd) {
        if (m.has_mla) {
            m.head_dim = m.mla.qk_nope_head_dim + m.mla.qk_rope_head_dim;
        } else if (m.hidden % m.heads != 0) {
            return spec_fail(rd, spec_get(n, "heads"),
                             "hidden %d is not a multiple of heads %d; give head_dim", m.hidden,
                             m.heads);
        } else {
            m.head_dim = m.hidden / m.heads;
        }
    }
    /* a model whose every layer is MoE needs no dense FFN size */
    unsigned ffn_req = (m.has_moe && m.moe.dense_layers == 0) ? 0 : SPEC_REQ;
    int has_ffn = spec_get_i32(rd, n, "ffn_hidden", 1, MAX_FFN, ffn_req, &m.ffn_hidden);
    SPEC_TRY(rd, has_ffn);
    if (!has_ffn)
        m.ffn_hidden = m.moe.expert_ffn_hidden;

    enum us_status st = spec_model_check_node(rd, &m, n);
    if (st == US_OK)
        *out = m;
    return st;
}

/* --- a model as a tree again (to apply --set inside a HuggingFace config) --- */

static bool add_text(struct spec_rd *rd, struct spec_node *map, const char *key, const char *text,
                     bool plain)
{
    struct spec_node *v = spec_node_scalar(rd, text, plain, map->file, 0, 0);
    return v && spec_map_add(rd, map, key, v);
}

static bool add_int(struct spec_rd *rd, struct spec_node *map, const char *key, long long v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", v);
    return add_text(rd, map, key, buf, true);
}

struct spec_node *spec_model_to_node(struct spec_rd *rd, const struct spec_model *m,
                                     const char *file)
{
    struct spec_node *n = spec_node_new(rd, SPEC_NODE_MAP, file, 0, 0);
    if (!n)
        return NULL;
    bool ok = add_text(rd, n, "name", m->name, false) &&
              add_text(rd, n, "description", m->description, false) &&
              add_int(rd, n, "layers", m->layers) && add_int(rd, n, "hidden", m->hidden) &&
              add_int(rd, n, "heads", m->heads) && add_int(rd, n, "kv_heads", m->kv_heads) &&
              add_int(rd, n, "head_dim", m->head_dim) &&
              add_int(rd, n, "ffn_hidden", m->ffn_hidden) && add_int(rd, n, "vocab", m->vocab) &&
              add_text(rd, n, "gated_mlp", m->gated_mlp ? "true" : "false", true) &&
              add_text(rd, n, "tied_embeddings", m->tied_embeddings ? "true" : "false", true) &&
              add_int(rd, n, "mtp_layers", m->mtp_layers);
    if (ok) {
        char hd[32];
        snprintf(hd, sizeof hd, "%.17g", m->hidden_dropout);
        ok = add_text(rd, n, "hidden_dropout", hd, true);
    }
    if (ok && m->has_moe) {
        struct spec_node *e = spec_node_new(rd, SPEC_NODE_MAP, file, 0, 0);
        char cf[32];
        snprintf(cf, sizeof cf, "%.17g", m->moe.capacity_factor);
        ok = e && add_int(rd, e, "experts", m->moe.experts) &&
             add_int(rd, e, "top_k", m->moe.top_k) &&
             add_int(rd, e, "expert_ffn_hidden", m->moe.expert_ffn_hidden) &&
             add_int(rd, e, "shared_experts", m->moe.shared_experts) &&
             add_int(rd, e, "dense_layers", m->moe.dense_layers) &&
             add_text(rd, e, "capacity_factor", cf, true);
        if (ok && m->moe.load_imbalance > 0) {
            char li[32];
            snprintf(li, sizeof li, "%.17g", m->moe.load_imbalance);
            ok = add_text(rd, e, "load_imbalance", li, true);
        }
        ok = ok && spec_map_add(rd, n, "moe", e);
    }
    if (ok && m->has_mla) {
        struct spec_node *a = spec_node_new(rd, SPEC_NODE_MAP, file, 0, 0);
        ok = a && add_int(rd, a, "q_lora_rank", m->mla.q_lora_rank) &&
             add_int(rd, a, "kv_lora_rank", m->mla.kv_lora_rank) &&
             add_int(rd, a, "qk_nope_head_dim", m->mla.qk_nope_head_dim) &&
             add_int(rd, a, "qk_rope_head_dim", m->mla.qk_rope_head_dim) &&
             add_int(rd, a, "v_head_dim", m->mla.v_head_dim) && spec_map_add(rd, n, "mla", a);
    }
    return ok ? n : NULL;
}
