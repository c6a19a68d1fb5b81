/* spec job: the public loaders. Resolves preset names against the embedded catalog and
 * paths against the job file's folder, applies --set overrides to the tree before any
 * value is read (so they pass the same checks and report "--set:1:COL"), then converts
 * the job. Leaves out: choosing unset parallel fields (search/) and plan validity
 * (parallel/); a job here only has to be well-formed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "spec/tree.h"

/* Degrees and chip counts stay below 2^27 (134M chips, far above the million-chip
 * clusters DESIGN.md targets) so products of them stay exact in a double. */
#define MAX_CHIPS   (1LL << 27)
#define MAX_SEQ_LEN (1 << 24)
#define MAX_BATCH   (1LL << 30)
#define MAX_PATH_B  4096

static const char *const dtype_names[] = {"fp32", "fp16", "bf16", "fp8", "fp4"};
static const char *const recompute_names[] = {"none", "selective", "full"};
static const char *const schedule_names[] = {"1f1b", "gpipe", "interleaved"};
const char *const spec_recompute_module_names[SPEC_RC_MODULES] = {
    "core_attn", "mlp", "moe_act", "layernorm", "mla_up_proj", "moe", "shared_experts"};
const char *const spec_recompute_keep_names[SPEC_RC_KEEPS] = {"qkv_proj", "context", "out_proj",
                                                              "mlpwi", "mlpwo"};
/* in the order of enum spec_spare_policy */
static const char *const spare_names[] = {"auto", "pool", "hot", "shrink_dp"};

/* --- presets and paths --- */

static void known_presets(bool model, char *buf, size_t n_B)
{
    enum catalog_kind kind = model ? CATALOG_KIND_MODEL : CATALOG_KIND_SYSTEM;
    size_t o = 0, count = catalog_count(kind);
    buf[0] = '\0';
    if (count == 0) {
        core_strlcpy(buf, "none: the catalog is empty", n_B);
        return;
    }
    for (size_t i = 0; i < count && o < n_B; i++) {
        const struct catalog_entry *e = catalog_at(kind, i);
        o += (size_t)snprintf(buf + o, n_B - o, "%s%s", i ? ", " : "", e->name);
    }
}

enum us_status spec_resolve(struct spec_rd *rd, bool model, const char *name, const char *base_dir,
                            const struct spec_node *at, struct spec_node **root)
{
    const char *what = model ? "model" : "system";
    *root = NULL;
    if (!spec_is_path(name)) {
        const struct catalog_entry *e =
            catalog_find(model ? CATALOG_KIND_MODEL : CATALOG_KIND_SYSTEM, name);
        if (!e) {
            char known[400], q[80];
            struct spec_node tmp = {.text = name, .len = strlen(name)};
            known_presets(model, known, sizeof known);
            spec_node_quote(&tmp, q, sizeof q);
            if (at)
                return spec_fail(rd, at, "unknown %s preset %s (known: %s)", what, q, known);
            rd->status = US_EINPUT;
            return core_diag_set(rd->d, "", 0, 0, NULL, "unknown %s preset %s (known: %s)", what, q,
                                 known);
        }
        enum us_status st = spec_read_text(rd, e->origin, e->text, e->len, 0, false, root);
        if (st != US_OK)
            return st;
        /* a preset is known by its file name; its name: must say the same */
        const struct spec_node *nm = spec_get(*root, "name");
        if (nm && nm->kind == SPEC_NODE_SCALAR &&
            (nm->len != strlen(name) || memcmp(nm->text, name, nm->len) != 0)) {
            char q[80];
            spec_node_quote(nm, q, sizeof q);
            return spec_fail(rd, nm, "preset name %s does not match its file name '%s'", q, name);
        }
        return US_OK;
    }
    char full[MAX_PATH_B];
    int n = (name[0] != '/' && base_dir && base_dir[0])
                ? snprintf(full, sizeof full, "%s/%s", base_dir, name)
                : snprintf(full, sizeof full, "%s", name);
    if (n < 0 || (size_t)n >= sizeof full) {
        if (at)
            return spec_fail(rd, at, "path is longer than %d bytes", MAX_PATH_B - 1);
        rd->status = US_EINPUT;
        return core_diag_set(rd->d, name, 0, 0, NULL, "path is longer than %d bytes",
                             MAX_PATH_B - 1);
    }
    enum us_status st = spec_read_file(rd, full, root);
    if (st != US_OK && at && rd->d && rd->d->line == 0 && strcmp(rd->d->file, full) == 0) {
        /* the file could not be read at all: blame the line of the job that names it */
        char msg[sizeof rd->d->msg];
        core_strlcpy(msg, rd->d->msg, sizeof msg);
        spec_fail(rd, at, "%s '%s': %s", what, full, msg);
        rd->d->status = st;
        rd->status = st;
    }
    return st;
}

/* The folder relative paths in node's file resolve against; "" = current directory. */
static const char *node_dir(struct spec_rd *rd, const struct spec_node *n)
{
    if (strcmp(n->file, "--set") == 0)
        return "";
    const char *slash = strrchr(n->file, '/');
    if (!slash)
        return "";
    size_t len = slash == n->file ? 1 : (size_t)(slash - n->file);
    char *dir = core_arena_alloc(rd->arena, len + 1);
    if (!dir)
        return "";
    memcpy(dir, n->file, len);
    dir[len] = '\0';
    return dir;
}

/* Where a model or system tree came from when it is a whole file (names HF models). */
static const char *whole_file(const struct spec_node *n)
{
    if (!n->parent || strcmp(n->file, n->parent->file) != 0)
        return n->file;
    return NULL;
}

/* Replaces a preset name or path in a job with the tree it names. */
static enum us_status resolve_ref(struct spec_rd *rd, struct spec_node *ref, bool model,
                                  struct spec_node **out)
{
    *out = ref;
    if (ref->kind != SPEC_NODE_SCALAR)
        return US_OK;
    char name[MAX_PATH_B];
    if (ref->null)
        return spec_fail(rd, ref, "expected a preset name, a path or a mapping, got null");
    SPEC_TRY(rd, spec_as_str(rd, ref, name, sizeof name));
    struct spec_node *root;
    enum us_status st = spec_resolve(rd, model, name, node_dir(rd, ref), ref, &root);
    if (st != US_OK)
        return st;
    spec_node_replace(ref, root);
    *out = root;
    return US_OK;
}

/* A HuggingFace config inside a job becomes a model mapping, so --set can reach into it. */
static enum us_status hf_to_schema(struct spec_rd *rd, struct spec_node *n, struct spec_node **out)
{
    struct spec_model m;
    *out = n;
    if (!spec_is_map(n) || !spec_hf_detect(n))
        return US_OK;
    enum us_status st = spec_model_from_node(rd, n, whole_file(n), &m);
    if (st != US_OK)
        return st;
    struct spec_node *t = spec_model_to_node(rd, &m, n->file);
    if (!t)
        return spec_fail_oom(rd);
    spec_node_replace(n, t);
    *out = t;
    return US_OK;
}

/* --- --set overrides --- */

static enum us_status set_fail(struct spec_rd *rd, int col, const char *set, size_t path_len,
                               const char *fmt, ...) US_PRINTF(5, 6);

static enum us_status set_fail(struct spec_rd *rd, int col, const char *set, size_t path_len,
                               const char *fmt, ...)
{
    char path[256];
    size_t n = path_len < sizeof path ? path_len : sizeof path - 1;
    memcpy(path, set, n);
    path[n] = '\0';
    va_list ap;
    va_start(ap, fmt);
    core_diag_vset(rd->d, US_EINPUT, "--set", 1, col, path, fmt, ap);
    va_end(ap);
    rd->status = US_EINPUT;
    return US_EINPUT;
}

static bool key_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '-';
}

static void schema_keys(const struct spec_key *schema, char *buf, size_t n_B)
{
    size_t o = 0;
    buf[0] = '\0';
    for (const struct spec_key *s = schema; s->key && o < n_B; s++)
        o += (size_t)snprintf(buf + o, n_B - o, "%s%s", s == schema ? "" : ", ", s->key);
}

static struct spec_node *nth(const struct spec_node *seq, long i)
{
    struct spec_node *v = seq->first;
    while (v && i-- > 0)
        v = v->next;
    return v;
}

/* Applies one "a.b[i].c=value" to the job tree. */
static enum us_status apply_set(struct spec_rd *rd, struct spec_node *root, const char *set)
{
    const char *eq = strchr(set, '=');
    if (!eq || eq == set) {
        char q[80];
        struct spec_node tmp = {.text = set, .len = strlen(set)};
        spec_node_quote(&tmp, q, sizeof q);
        return set_fail(rd, 1, set, 0, "expected key=value, got %s", q);
    }
    size_t klen = (size_t)(eq - set);
    int vcol = (int)klen + 1; /* columns of the value are counted in the whole "k=v" */
    struct spec_node *cur = root;
    const struct spec_key *schema = spec_schema_job;
    size_t p = 0;
    for (;;) {
        size_t s0 = p;
        while (p < klen && key_char(set[p]))
            p++;
        size_t slen = p - s0;
        if (slen == 0) {
            if (p < klen && set[p] != '.' && set[p] != '[')
                return set_fail(rd, (int)p + 1, set, p, "unexpected character '%c' in a key",
                                set[p] >= 0x20 && set[p] < 0x7f ? set[p] : '?');
            return set_fail(rd, (int)p + 1, set, p, "empty key");
        }
        const struct spec_key *ent = spec_schema_find(schema, set + s0, slen);
        if (!ent) {
            char known[320];
            schema_keys(schema, known, sizeof known);
            return set_fail(rd, (int)s0 + 1, set, p, "unknown key '%.*s' (known: %s)", (int)slen,
                            set + s0, known);
        }
        long idx = -1;
        size_t bracket = p;
        if (p < klen && set[p] == '[') {
            size_t q = p + 1;
            idx = 0;
            while (q < klen && set[q] >= '0' && set[q] <= '9' && idx < 1000000)
                idx = idx * 10 + (set[q++] - '0');
            if (q == p + 1 || q >= klen || set[q] != ']')
                return set_fail(rd, (int)p + 1, set, p, "expected an index like [0]");
            p = q + 1;
        }
        if (p < klen && set[p] != '.')
            return set_fail(rd, (int)p + 1, set, p, "unexpected character '%c' in a key",
                            set[p] >= 0x20 && set[p] < 0x7f ? set[p] : '?');
        bool last = p >= klen;
        char seg[64];
        if (slen >= sizeof seg)
            return set_fail(rd, (int)s0 + 1, set, p, "key is too long");
        memcpy(seg, set + s0, slen);
        seg[slen] = '\0';
        struct spec_node *child = spec_get(cur, seg);

        if (idx >= 0) {
            if (ent->kind != SPEC_KEY_SEQ_MAP && ent->kind != SPEC_KEY_LIST)
                return set_fail(rd, (int)bracket + 1, set, bracket, "'%s' is not a list", seg);
            if (!child || child->kind != SPEC_NODE_SEQ)
                return set_fail(rd, (int)bracket + 1, set, bracket,
                                "'%s' is not a list in the spec; set the whole list instead", seg);
            if ((size_t)idx >= child->count)
                return set_fail(rd, (int)bracket + 1, set, p,
                                "index %ld is out of range (%zu items)", idx, child->count);
            child = nth(child, idx);
            if (!last && ent->kind != SPEC_KEY_SEQ_MAP)
                return set_fail(rd, (int)p + 1, set, p, "'%s' items hold values, not keys", seg);
        }
        if (last) {
            struct spec_node *v;
            enum us_status st = spec_read_text(rd, "--set", eq + 1, strlen(eq + 1), vcol, true, &v);
            if (st != US_OK) {
                /* the value did not even parse: still say which key it was for */
                if (rd->d && !rd->d->path[0])
                    core_fmt(rd->d->path, sizeof rd->d->path, "%.*s", (int)klen, set);
                return st;
            }
            if (child)
                spec_node_replace(child, v);
            else if (!spec_map_add(rd, cur, seg, v))
                return spec_fail_oom(rd);
            return US_OK;
        }
        if (idx < 0) {
            if (ent->kind == SPEC_KEY_LEAF || ent->kind == SPEC_KEY_LIST)
                return set_fail(rd, (int)p + 2, set, p, "'%s' holds a value, not keys", seg);
            if (ent->kind == SPEC_KEY_SEQ_MAP)
                return set_fail(rd, (int)p + 1, set, p, "'%s' is a list; give an index, e.g. %s[0]",
                                seg, seg);
            if (!child) {
                child = spec_node_new(rd, SPEC_NODE_MAP, "--set", 1, (int)s0 + 1);
                if (!child || !spec_map_add(rd, cur, seg, child))
                    return spec_fail_oom(rd);
            }
            if (ent->kind == SPEC_KEY_REF_MODEL || ent->kind == SPEC_KEY_REF_SYSTEM) {
                bool model = ent->kind == SPEC_KEY_REF_MODEL;
                enum us_status st = resolve_ref(rd, child, model, &child);
                if (st == US_OK && model)
                    st = hf_to_schema(rd, child, &child);
                if (st != US_OK)
                    return st;
            }
        }
        if (spec_check_map(rd, child))
            return rd->status;
        cur = child;
        schema = ent->sub;
        p++; /* the '.' */
    }
}

/* --- the job --- */

static enum us_status read_parallel(struct spec_rd *rd, const struct spec_node *n,
                                    const struct spec_model *m, struct spec_parallel *par)
{
    static const char *const degrees[] = {"tp", "pp", "dp", "cp", "ep", "vpp"};
    int *dst[] = {&par->tp, &par->pp, &par->dp, &par->cp, &par->ep, &par->vpp};
    par->zero = par->sequence_parallel = par->recompute = par->schedule = SPEC_UNSET;
    core_strlcpy(par->order, "tp-cp-ep-dp-pp", sizeof par->order);
    if (!n)
        return US_OK;
    for (size_t i = 0; i < US_ARRAY_LEN(degrees); i++)
        SPEC_TRY(rd, spec_get_i32(rd, n, degrees[i], 1, (int)MAX_CHIPS, 0, dst[i]));
    SPEC_TRY(rd, spec_get_i32(rd, n, "zero", 0, 3, 0, &par->zero));
    bool sp = false;
    int has_sp = spec_get_bool(rd, n, "sequence_parallel", 0, &sp);
    SPEC_TRY(rd, has_sp);
    if (has_sp)
        par->sequence_parallel = sp ? 1 : 0;
    SPEC_TRY(rd, spec_get_enum(rd, n, "recompute", recompute_names, 3, 0, &par->recompute));
    SPEC_TRY(rd, spec_get_flags(rd, n, "recompute_modules", spec_recompute_module_names,
                                SPEC_RC_MODULES, 0, &par->recompute_modules));
    SPEC_TRY(rd, spec_get_flags(rd, n, "recompute_keep", spec_recompute_keep_names, SPEC_RC_KEEPS,
                                0, &par->recompute_keep));
    SPEC_TRY(rd, spec_get_enum(rd, n, "schedule", schedule_names, 3, 0, &par->schedule));
    SPEC_TRY(rd, spec_get_i32(rd, n, "first_stage_layers", 0, SPEC_MAX_LAYERS, 0,
                              &par->first_stage_layers));
    SPEC_TRY(rd, spec_get_i32(rd, n, "last_stage_layers", 0, SPEC_MAX_LAYERS, 0,
                              &par->last_stage_layers));
    SPEC_TRY(rd, spec_get_bool(rd, n, "tp_comm_overlap", 0, &par->tp_comm_overlap));
    SPEC_TRY(rd, spec_get_bool(rd, n, "ep_comm_overlap", 0, &par->ep_comm_overlap));
    static const char *const disp_names[] = {"alltoall", "flex"};
    SPEC_TRY(rd, spec_get_enum(rd, n, "ep_dispatcher", disp_names, 2, 0, &par->ep_dispatcher));
    SPEC_TRY(rd, spec_get_i32(rd, n, "ep_dispatcher_sms", 0, 4096, 0, &par->ep_dispatcher_sms));
    SPEC_TRY(rd, spec_get_i32(rd, n, "etp", 1, (int)MAX_CHIPS, 0, &par->etp));
    char order[64];
    int has_order = spec_get_str(rd, n, "order", 0, order, sizeof order);
    SPEC_TRY(rd, has_order);
    if (has_order) {
        /* a permutation of the five group names, innermost first */
        static const char *const groups[] = {"tp", "cp", "ep", "dp", "pp"};
        int seen = 0, count = 0;
        bool ok = strlen(order) == 14;
        for (int i = 0; ok && i < 5; i++) {
            const char *g = order + 3 * i;
            if (i < 4 && g[2] != '-')
                ok = false;
            for (int k = 0; ok && k < 5; k++)
                if (g[0] == groups[k][0] && g[1] == groups[k][1] && !(seen & (1 << k))) {
                    seen |= 1 << k;
                    count++;
                }
        }
        if (!ok || count != 5)
            return spec_fail(rd, spec_get(n, "order"),
                             "order '%s' must name tp, cp, ep, dp and pp once each, joined by "
                             "'-', innermost first (e.g. tp-cp-ep-dp-pp)",
                             order);
        core_strlcpy(par->order, order, sizeof par->order);
    }
    return spec_pipeline_layout_read(rd, n, m, par);
}

static enum us_status read_training(struct spec_rd *rd, const struct spec_node *n,
                                    const struct spec_system *sys, struct spec_training *t)
{
    int dt = US_DTYPE_BF16;
    SPEC_TRY(rd, spec_get_i32(rd, n, "seq_len", 1, MAX_SEQ_LEN, SPEC_REQ, &t->seq_len));
    int64_t gb = 0;
    SPEC_TRY(rd, spec_get_int(rd, n, "global_batch", 1, MAX_BATCH, SPEC_REQ | SPEC_EXP, &gb));
    t->global_batch = (int)gb;
    SPEC_TRY(rd, spec_get_i32(rd, n, "micro_batch", 1, (int)MAX_BATCH, 0, &t->micro_batch));
    int has_dt = spec_get_enum(rd, n, "dtype", dtype_names, US_DTYPE_COUNT, 0, &dt);
    SPEC_TRY(rd, has_dt);
    t->dtype = (enum us_dtype)dt;
    if (!(sys->chip.peak_flops[t->dtype] > 0)) {
        const struct spec_node *at = has_dt ? spec_get(n, "dtype") : n;
        return spec_fail(rd, at, "system %s gives no %s peak (chip.tflops.%s)", sys->name,
                         dtype_names[dt], dtype_names[dt]);
    }
    SPEC_TRY(rd, spec_get_real(rd, n, "tokens", 0, 1e18, 0, &t->tokens));
    SPEC_TRY(rd,
             spec_get_real(rd, n, "critical_batch_tokens", 0, 1e18, 0, &t->critical_batch_tokens));
    /* Main grads and their DP reduction: Megatron-Core's DDP keeps them in fp32 when
     * grad_reduce_in_fp32 is set (Megatron-LM sets it for bf16), else in the parameters'
     * dtype; so bf16 needs bf16 parameters (bf16, fp8 and fp4 training here). */
    static const char *const grad_names[] = {"fp32", "bf16"};
    int gr = 0;
    int has_gr = spec_get_enum(rd, n, "grad_reduce_dtype", grad_names, 2, 0, &gr);
    SPEC_TRY(rd, has_gr);
    static const char *const fw_names[] = {"auto",    "megatron", "torchtitan",
                                           "maxtext", "neuron",   "deepspeed"};
    _Static_assert(US_ARRAY_LEN(fw_names) == SPEC_FW_COUNT, "one name per framework");
    SPEC_TRY(rd, spec_get_enum(rd, n, "framework", fw_names, SPEC_FW_COUNT, 0, &t->framework));
    if (t->framework == SPEC_FW_AUTO)
        t->framework = spec_framework_default(sys);
    static const char *const attn_names[] = {"flash", "unfused"};
    SPEC_TRY(rd, spec_get_enum(rd, n, "attention", attn_names, 2, 0, &t->attention));
    SPEC_TRY(rd, spec_get_bool(rd, n, "fp8_params", 0, &t->fp8_params));
    if (t->fp8_params && t->dtype != US_DTYPE_FP8 && t->dtype != US_DTYPE_FP4)
        return spec_fail(rd, spec_get(n, "fp8_params"),
                         "fp8_params needs fp8 or fp4 training (dtype is %s)", dtype_names[dt]);
    SPEC_TRY(rd, spec_get_i32(rd, n, "offload_activation_layers", 0, SPEC_MAX_LAYERS, 0,
                              &t->offload_activation_layers));
    static const char *const opt_names[] = {"fp32", "bf16"};
    int od = 0;
    SPEC_TRY(rd, spec_get_enum(rd, n, "optimizer_state_dtype", opt_names, 2, 0, &od));
    t->optimizer_bf16 = od == 1;
    SPEC_TRY(rd, spec_get_i32(rd, n, "moe_gmm_tile_rows", 0, 65536, 0, &t->moe_gmm_tile_rows));
    SPEC_TRY(rd, spec_get_bool(rd, n, "moe_dense_matmul", 0, &t->moe_dense_matmul));
    static const char *const cg_names[] = {"none", "full_iteration"};
    int cg = 0;
    SPEC_TRY(rd, spec_get_enum(rd, n, "cuda_graph", cg_names, 2, 0, &cg));
    t->cuda_graph_full = cg == 1;
    static const char *const wd_names[] = {"auto", "mixed", "fp32", "bf16"};
    SPEC_TRY(rd, spec_get_enum(rd, n, "weight_dtype", wd_names, 4, 0, &t->weight_dtype));
    if (t->weight_dtype == SPEC_WEIGHT_BF16 && t->dtype == US_DTYPE_FP32)
        return spec_fail(rd, spec_get(n, "weight_dtype"),
                         "weight_dtype bf16 needs bf16, fp8 or fp4 training (dtype is fp32)");
    if ((t->weight_dtype == SPEC_WEIGHT_FP32 || t->weight_dtype == SPEC_WEIGHT_BF16) &&
        t->fp8_params)
        return spec_fail(rd, spec_get(n, "weight_dtype"),
                         "weight_dtype %s keeps the parameters alone, with no fp32 master, which "
                         "fp8_params needs beside its fp8 weights",
                         wd_names[t->weight_dtype]);
    static const char *const fr_names[] = {"auto", "tensorwise", "mxfp8"};
    SPEC_TRY(rd, spec_get_enum(rd, n, "fp8_recipe", fr_names, 3, 0, &t->fp8_recipe));
    if (t->fp8_recipe != SPEC_FP8_RECIPE_AUTO && t->dtype != US_DTYPE_FP8)
        return spec_fail(rd, spec_get(n, "fp8_recipe"),
                         "fp8_recipe %s needs fp8 training (dtype is %s)", fr_names[t->fp8_recipe],
                         dtype_names[dt]);
    static const char *const mp_names[] = {"auto", "activation", "combine"};
    SPEC_TRY(rd, spec_get_enum(rd, n, "moe_probs_applied", mp_names, 3, 0, &t->moe_probs));
    if (has_gr) {
        t->grad_reduce = gr == 1 ? SPEC_GRAD_REDUCE_BF16 : SPEC_GRAD_REDUCE_FP32;
        if (gr == 1 && (t->dtype == US_DTYPE_FP32 || t->dtype == US_DTYPE_FP16))
            return spec_fail(rd, spec_get(n, "grad_reduce_dtype"),
                             "grad_reduce_dtype bf16 needs bf16 parameters (dtype bf16, fp8 or "
                             "fp4); %s training keeps its grads in %s or fp32",
                             dtype_names[dt], dtype_names[dt]);
    }
    return US_OK;
}

static enum us_status read_scale(struct spec_rd *rd, const struct spec_node *n,
                                 const struct spec_system *sys, struct spec_scale *s)
{
    s->seed = 1;
    if (!n)
        return US_OK;
    /* an override of 0 would read as "from the system", so overrides are positive */
    double restart_min = 0, ckpt_gbps = 0;
    SPEC_TRY(rd, spec_get_real(rd, n, "interruptions_per_chip_hour", 0, 1.0, SPEC_LO_OPEN,
                               &s->interruptions_per_chip_hour));
    SPEC_TRY(rd, spec_get_real(rd, n, "restart_min", 0, 1e5, SPEC_LO_OPEN, &restart_min));
    s->restart_s = restart_min * 60.0;
    SPEC_TRY(rd, spec_get_real(rd, n, "checkpoint_write_GBps_per_chip", 1e-3, 1e4, 0, &ckpt_gbps));
    s->ckpt_write_Bps_per_chip = ckpt_gbps * 1e9;
    SPEC_TRY(rd, spec_get_bool(rd, n, "checkpoint_async", 0, &s->ckpt_async));
    SPEC_TRY(rd, spec_get_bool(rd, n, "checkpoint_in_memory", 0, &s->ckpt_in_memory));
    SPEC_TRY(
        rd, spec_get_real(rd, n, "usd_per_chip_hour", 0, 1e4, SPEC_LO_OPEN, &s->usd_per_chip_hour));
    SPEC_TRY(rd, spec_get_real(rd, n, "pue", 1.0, 5.0, 0, &s->pue));
    SPEC_TRY(rd, spec_get_real(rd, n, "step_cv", 0, 1.0, SPEC_LO_OPEN, &s->step_cv));
    double cap_mw = 0;
    SPEC_TRY(rd, spec_get_real(rd, n, "power_cap_mw", 0, 1e5, SPEC_LO_OPEN, &cap_mw));
    s->power_cap_W = cap_mw * 1e6;
    SPEC_TRY(rd,
             spec_get_real(rd, n, "chip_power_cap_W", 0, 1e5, SPEC_LO_OPEN, &s->chip_power_cap_W));
    int64_t spare = 0, seed = 1;
    SPEC_TRY(rd, spec_get_int(rd, n, "spare_chips", 0, MAX_CHIPS, SPEC_EXP, &spare));
    s->spare_chips = (int)spare;
    SPEC_TRY(rd, spec_get_int(rd, n, "seed", 0, INT64_MAX, 0, &seed));
    s->seed = (uint64_t)seed;

    int policy = SPEC_SPARES_AUTO;
    SPEC_TRY(rd, spec_get_enum(rd, n, "spare_policy", spare_names, 4, 0, &policy));
    s->spare_policy = policy;
    /* a failure takes out a whole node, so a hot spare is a whole node (scale/) */
    if (policy == SPEC_SPARES_HOT && s->spare_chips < sys->chips_per_node)
        return spec_fail(rd, spec_get(n, "spare_policy"),
                         "hot spares need spare_chips of at least one node (%d chips on %s), "
                         "got %d",
                         sys->chips_per_node, sys->name, s->spare_chips);
    double reschedule_min = 0, repair_hours = 0, snapshot_gbps = 0;
    int has_resched = spec_get_real(rd, n, "reschedule_min", 0, 1e5, SPEC_LO_OPEN, &reschedule_min);
    SPEC_TRY(rd, has_resched);
    s->reschedule_s = reschedule_min * 60.0;
    /* rescheduling is part of a restart: a spare cannot save more than the whole restart */
    double restart_s = s->restart_s > 0 ? s->restart_s : sys->rel.restart_s;
    if (has_resched && s->reschedule_s > restart_s)
        return spec_fail(rd, spec_get(n, "reschedule_min"),
                         "reschedule_min %g is above the restart time of %g min (%s)",
                         reschedule_min, restart_s / 60.0,
                         s->restart_s > 0 ? "scale.restart_min" : "system reliability.restart_min");
    SPEC_TRY(rd, spec_get_real(rd, n, "repair_hours", 0, 1e5, SPEC_LO_OPEN, &repair_hours));
    s->repair_s = repair_hours * 3600.0;
    SPEC_TRY(rd, spec_get_real(rd, n, "snapshot_GBps_per_chip", 1e-3, 1e4, 0, &snapshot_gbps));
    s->snapshot_Bps_per_chip = snapshot_gbps * 1e9;
    return US_OK;
}

static enum us_status job_from_root(struct spec_rd *rd, struct spec_node *root, const char *file,
                                    const char *const *sets, size_t nsets, struct spec_job *out)
{
    enum us_status st;
    if (spec_check_map(rd, root))
        return rd->status;
    for (size_t i = 0; i < nsets; i++)
        if ((st = apply_set(rd, root, sets[i] ? sets[i] : "")) != US_OK)
            return st;
    if (spec_check_keys(rd, root, spec_schema_job))
        return rd->status;

    struct spec_job *job = calloc(1, sizeof *job);
    if (!job)
        return spec_fail_oom(rd);
    core_strlcpy(job->file, file, sizeof job->file);
    struct spec_node *m = spec_get(root, "model"), *s = spec_get(root, "system");
    const struct spec_node *par = NULL, *train = NULL, *scale = NULL;
    if (!m)
        st = spec_fail_missing(rd, root, "model");
    else if (!s)
        st = spec_fail_missing(rd, root, "system");
    else if ((st = resolve_ref(rd, m, true, &m)) == US_OK &&
             (st = spec_model_from_node(rd, m, whole_file(m), &job->model)) == US_OK &&
             (st = resolve_ref(rd, s, false, &s)) == US_OK)
        st = spec_system_from_node(rd, s, &job->system);
    if (st != US_OK)
        goto done;

    st = US_EINPUT; /* any failure below: rd->status says which */
    int has_par = spec_get_map(rd, root, "parallel", spec_schema_parallel, 0, &par);
    if (has_par < 0 || read_parallel(rd, has_par ? par : NULL, &job->model, &job->par) != US_OK)
        goto done;
    int has_chips = spec_get_int(rd, root, "chips", 1, MAX_CHIPS, SPEC_EXP, &job->chips);
    if (has_chips < 0)
        goto done;
    if (!has_chips) {
        const struct spec_parallel *p = &job->par;
        if (!(p->tp && p->pp && p->cp && p->dp)) {
            spec_fail_missing(rd, root, "chips");
            goto done;
        }
        /* chips = tp x pp x cp x dp (DESIGN.md) when every degree is given */
        double prod = (double)p->tp * p->pp * p->cp * p->dp;
        if (prod > (double)MAX_CHIPS) {
            spec_fail(rd, par, "tp x pp x cp x dp = %.0f chips is above the maximum of %lld", prod,
                      MAX_CHIPS);
            goto done;
        }
        job->chips = (int64_t)prod;
    }
    if (spec_get_map(rd, root, "training", spec_schema_training, SPEC_REQ, &train) < 0 ||
        read_training(rd, train, &job->system, &job->train) != US_OK)
        goto done;
    spec_job_use_framework(job, job->train.framework, has_par && spec_get(par, "tp_comm_overlap"));
    int has_scale = spec_get_map(rd, root, "scale", spec_schema_scale, 0, &scale);
    if (has_scale < 0 ||
        read_scale(rd, has_scale ? scale : NULL, &job->system, &job->scale) != US_OK)
        goto done;
    *out = *job;
    st = US_OK;
done:
    if (st != US_OK)
        st = rd->status;
    free(job);
    return st;
}

/* --- public loaders ---
 * Every loader is the same three steps around one arena: read the tree (from text, a file,
 * or a preset name or path), convert it, free the arena. load() does the steps; each public
 * function names its source and its conversion. */

enum load_from { FROM_TEXT, FROM_FILE, FROM_SYSTEM_REF, FROM_MODEL_REF };

struct load_req {
    enum load_from from;
    const char *name; /* file name, preset name or path; never NULL */
    const char *text; /* FROM_TEXT */
    size_t len;
    const char *const *sets; /* jobs only */
    size_t nsets;
};

typedef enum us_status (*load_convert)(struct spec_rd *rd, struct spec_node *root,
                                       const struct load_req *rq, void *out);

static enum us_status load(const struct load_req *rq, load_convert convert, void *out,
                           struct us_diag *d)
{
    struct spec_rd rd;
    struct spec_node *root = NULL;
    enum us_status st;
    if (spec_rd_init(&rd, d, NULL) != US_OK)
        return US_ENOMEM;
    switch (rq->from) {
    case FROM_TEXT:
        st = spec_read_text(&rd, rq->name, rq->text ? rq->text : "", rq->text ? rq->len : 0, 0,
                            false, &root);
        break;
    case FROM_FILE:
        st = spec_read_file(&rd, rq->name, &root);
        break;
    default:
        st = spec_resolve(&rd, rq->from == FROM_MODEL_REF, rq->name, "", NULL, &root);
        break;
    }
    if (st == US_OK)
        st = convert(&rd, root, rq, out);
    core_arena_destroy(rd.arena);
    return st;
}

static enum us_status to_system(struct spec_rd *rd, struct spec_node *root,
                                const struct load_req *rq, void *out)
{
    (void)rq;
    return spec_system_from_node(rd, root, out);
}

static enum us_status to_model(struct spec_rd *rd, struct spec_node *root,
                               const struct load_req *rq, void *out)
{
    /* a preset name is no file name to take the model's name from */
    const char *hint = rq->from != FROM_MODEL_REF || spec_is_path(rq->name) ? rq->name : "";
    return spec_model_from_node(rd, root, hint[0] ? hint : NULL, out);
}

static enum us_status to_hf_model(struct spec_rd *rd, struct spec_node *root,
                                  const struct load_req *rq, void *out)
{
    if (!(spec_is_map(root) && spec_hf_detect(root)))
        return spec_fail(rd, root,
                         "not a HuggingFace config.json (it has neither model_type nor "
                         "architectures)");
    return spec_model_from_node(rd, root, rq->name[0] ? rq->name : NULL, out);
}

static enum us_status to_job(struct spec_rd *rd, struct spec_node *root, const struct load_req *rq,
                             void *out)
{
    return job_from_root(rd, root, rq->name, rq->sets, rq->nsets, out);
}

enum us_status spec_system_parse(const char *name, const char *text, size_t len,
                                 struct spec_system *out, struct us_diag *d)
{
    struct load_req rq = {FROM_TEXT, name ? name : "", text, len, NULL, 0};
    return load(&rq, to_system, out, d);
}

enum us_status spec_system_load(const char *name_or_path, struct spec_system *out,
                                struct us_diag *d)
{
    struct load_req rq = {FROM_SYSTEM_REF, name_or_path ? name_or_path : "", NULL, 0, NULL, 0};
    return load(&rq, to_system, out, d);
}

enum us_status spec_model_parse(const char *name, const char *text, size_t len,
                                struct spec_model *out, struct us_diag *d)
{
    struct load_req rq = {FROM_TEXT, name ? name : "", text, len, NULL, 0};
    return load(&rq, to_model, out, d);
}

enum us_status spec_model_parse_hf(const char *name, const char *text, size_t len,
                                   struct spec_model *out, struct us_diag *d)
{
    struct load_req rq = {FROM_TEXT, name ? name : "", text, len, NULL, 0};
    return load(&rq, to_hf_model, out, d);
}

enum us_status spec_model_load(const char *name_or_path, struct spec_model *out, struct us_diag *d)
{
    struct load_req rq = {FROM_MODEL_REF, name_or_path ? name_or_path : "", NULL, 0, NULL, 0};
    return load(&rq, to_model, out, d);
}

enum us_status spec_job_load(const char *path, const char *const *sets, size_t nsets,
                             struct spec_job *out, struct us_diag *d)
{
    struct load_req rq = {FROM_FILE, path ? path : "", NULL, 0, sets, nsets};
    return load(&rq, to_job, out, d);
}

enum us_status spec_job_load_text(const char *name, const char *text, size_t len,
                                  const char *const *sets, size_t nsets, struct spec_job *out,
                                  struct us_diag *d)
{
    struct load_req rq = {FROM_TEXT, name ? name : "", text, len, sets, nsets};
    return load(&rq, to_job, out, d);
}

unsigned spec_layout_fixed(const struct spec_parallel *p, int micro_batch, struct us_layout *lay)
{
    unsigned unset = 0;
    memset(lay, 0, sizeof *lay);
#define TAKE(field, bit)                                                                           \
    do {                                                                                           \
        if (p->field != SPEC_DEGREE_UNSET)                                                         \
            lay->field = p->field;                                                                 \
        else                                                                                       \
            unset |= 1u << (bit);                                                                  \
    } while (0)
    TAKE(tp, US_FIELD_TP);
    TAKE(pp, US_FIELD_PP);
    TAKE(dp, US_FIELD_DP);
    TAKE(cp, US_FIELD_CP);
    TAKE(ep, US_FIELD_EP);
    TAKE(vpp, US_FIELD_VPP);
#undef TAKE
    if (p->zero != SPEC_UNSET)
        lay->zero = p->zero;
    else
        unset |= 1u << US_FIELD_ZERO;
    if (p->sequence_parallel != SPEC_UNSET)
        lay->sequence_parallel = p->sequence_parallel != 0;
    else
        unset |= 1u << US_FIELD_SP;
    if (p->recompute != SPEC_UNSET)
        lay->recompute = (enum us_recompute)p->recompute;
    else
        unset |= 1u << US_FIELD_RECOMPUTE;
    if (micro_batch > 0)
        lay->micro_batch = micro_batch;
    else
        unset |= 1u << US_FIELD_MICRO_BATCH;
    lay->first_stage_layers = p->first_stage_layers;
    lay->last_stage_layers = p->last_stage_layers;
    if (p->layout.pp > 0) { /* the end stages' totals, as reports show them */
        const struct spec_pipeline_layout *pl = &p->layout;
        lay->first_stage_layers = pl->first_chunk0 + (pl->vpp - 1) * pl->first_chunk;
        lay->last_stage_layers = (pl->vpp - 1) * pl->last_chunk + pl->last_chunkN;
    }
    if (p->schedule != SPEC_UNSET)
        lay->schedule = (enum us_schedule)p->schedule;
    else
        lay->schedule = US_SCHEDULE_1F1B; /* becomes interleaved when vpp > 1 */
    return unset;
}
