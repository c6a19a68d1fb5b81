/* estimate/validate: runs every case of a file of published measurements (the form of
 * shared/calibration/published.yaml: cases of id, job, measured.step_time_s, source) the
 * way `run` would - event engine, stragglers folded in - and reports predicted versus
 * measured step time, the signed error, the MAPE and the worst case. Parallel fields a
 * case leaves out get Megatron-LM's defaults (docs/MODEL.md section 6), not a search, so a
 * prediction never depends on what fits the measurement best. */
#include <libfyaml.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "catalog/catalog.h"
#include "core/core.h"
#include "api/validate.h"
#include "parallel/plan.h"
#include "report/json.h"

/* Fills what a published case leaves out with Megatron-LM's own defaults for flags a run
 * must turn on (docs/MODEL.md 6.1): no sequence parallelism (--sequence-parallel is opt-in;
 * it is turned on only where Megatron-Core requires it, MoE with tp > 1), no distributed
 * optimizer (ZeRO-0), no recompute, no virtual stages, micro-batch 1, cp = ep = 1, and dp
 * from the chip count; run_case turns the distributed optimizer and sequence parallelism on
 * when the run would not fit without them. Returns the mask of fields filled. */
static unsigned fill_defaults(struct spec_job *j)
{
    struct spec_parallel *p = &j->par;
    struct us_layout fixed;
    unsigned mask = spec_layout_fixed(p, j->train.micro_batch, &fixed); /* what is open */
    if (p->tp == SPEC_DEGREE_UNSET) {
        p->tp = 1;
    }
    if (p->pp == SPEC_DEGREE_UNSET) {
        p->pp = 1;
    }
    if (p->cp == SPEC_DEGREE_UNSET) {
        p->cp = 1;
    }
    if (p->dp == SPEC_DEGREE_UNSET) {
        int64_t mp = (int64_t)p->tp * p->pp * p->cp;
        p->dp = mp > 0 && j->chips % mp == 0 ? (int)(j->chips / mp) : 1;
        /* Fewer sequences per step than data-parallel ranks (MaxText's fractional
         * per_device_batch_size, e.g. Llama 3.1 70B at 128k on 256 TPU7x with batch 64):
         * when cp was left out too, the chips left over split each sequence instead. */
        int gb = j->train.global_batch;
        while ((mask & (1u << US_FIELD_CP)) && gb > 0 && p->dp > 1 && gb % p->dp != 0 &&
               p->dp % 2 == 0) {
            p->dp /= 2;
            p->cp *= 2;
        }
    }
    if (p->ep == SPEC_DEGREE_UNSET) {
        p->ep = 1;
    }
    if (p->vpp == SPEC_DEGREE_UNSET) {
        p->vpp = 1;
    }
    /* EP wider than dp x cp: Megatron-Bridge's Qwen3 recipes (expert_tensor_parallel_size 1)
     * take expert parallelism from tp x dp x cp (MoE parallel folding). */
    if (p->etp == SPEC_DEGREE_UNSET && p->ep > 1 && (p->dp * p->cp) % p->ep != 0 &&
        ((int64_t)p->tp * p->dp * p->cp) % p->ep == 0)
        p->etp = 1;
    if (p->zero == SPEC_UNSET) {
        /* MaxText and torchtitan shard with FSDP by default (MaxText's ici_fsdp_parallelism
         * axis, torchtitan's data_parallel_shard_degree): ZeRO-3 over dp. */
        int fw = j->train.framework;
        p->zero = fw == SPEC_FW_MAXTEXT || fw == SPEC_FW_TORCHTITAN ? 3 : 0;
    }
    if (p->sequence_parallel == SPEC_UNSET) {
        p->sequence_parallel = p->tp > 1 && ((j->model.has_moe && j->model.moe.experts > 0) ||
                                             j->train.framework == SPEC_FW_MEGATRON);
    }
    if (p->recompute == SPEC_UNSET) {
        /* MaxText rematerialises every layer unless told otherwise (base.yml remat_policy
         * 'full'); Megatron-Core and torchtitan keep activations by default. */
        p->recompute =
            j->train.framework == SPEC_FW_MAXTEXT ? US_RECOMPUTE_FULL : US_RECOMPUTE_NONE;
    }
    if (j->train.micro_batch <= 0) {
        /* Megatron runs micro-batch 1 and accumulates; without pipelining MaxText and
         * torchtitan run each rank's whole share of the batch in one pass
         * (gradient_accumulation_steps 1; torchtitan accumulates only when asked, and
         * pipelines micro-batches of 1 by default). */
        int fw = j->train.framework, gb = j->train.global_batch, dp = p->dp;
        j->train.micro_batch = 1;
        if ((fw == SPEC_FW_MAXTEXT || fw == SPEC_FW_TORCHTITAN) && p->pp == 1 && dp > 0 &&
            gb % dp == 0)
            j->train.micro_batch = gb / dp;
    }
    if (p->schedule == SPEC_UNSET)
        p->schedule = p->vpp > 1 ? US_SCHEDULE_INTERLEAVED : US_SCHEDULE_1F1B;
    /* Layers that do not split evenly over pp x vpp: Megatron-Bridge's large-model recipes
     * (Llama 3.1 405B among them) count the embedding and the loss as one pipeline layer
     * each (account_for_embedding_in_pipeline_split, account_for_loss_in_pipeline_split;
     * Megatron-Core's get_num_layers_to_build), so L + 2 split evenly and the first chunk of
     * stage 0 and the last chunk of the last stage hold one layer fewer: as stage totals,
     * first = last = (L + 2)/pp - 1 (docs/MODEL.md 2.2). Bridge's DeepSeek-V3 layouts
     * (pipeline_model_parallel_layout) count the MTP module too, L + 3; else Megatron-Core's
     * uneven split, the ends sharing what ceil(L/pp) per middle stage leaves. */
    int L = j->model.layers, pp = p->pp, v = p->vpp;
    if (p->first_stage_layers <= 0 && p->last_stage_layers <= 0 && j->par.layout.pp == 0)
        plan_default_split(L, pp, v, j->model.mtp_layers, &p->first_stage_layers,
                           &p->last_stage_layers);
    return mask;
}

/* Runs of Megatron-LM itself, by the paper their case cites: they trained with its default
 * dropout, --hidden-dropout 0.1 (megatron/training/arguments.py), which Korthikanti et al.
 * 2022 count in their activation memory. Every other source in the set names a framework
 * whose model configs train without dropout (NeMo's GPTConfig175B and Megatron-Bridge's
 * Llama providers set hidden_dropout 0; Llama has none), ultrasim's default. */
static const char *const megatron_lm_papers[] = {"Narayanan et al.", "Korthikanti et al."};
#define MEGATRON_LM_HIDDEN_DROPOUT 0.1

static struct fy_node *child(struct fy_node *map, const char *key)
{
    if (!map || fy_node_get_type(map) != FYNT_MAPPING)
        return NULL;
    return fy_node_mapping_lookup_by_string(map, key, strlen(key));
}

/* The training framework a case's tags.software names (docs/MODEL.md 6.6): NeMo and
 * Megatron-Bridge are Megatron-Core; "other" (and no tag) leaves the system's default. */
static int framework_of_tag(const char *software)
{
    static const struct {
        const char *tag;
        int fw;
    } map[] = {{"megatron", SPEC_FW_MEGATRON},     {"nemo", SPEC_FW_MEGATRON},
               {"torchtitan", SPEC_FW_TORCHTITAN}, {"maxtext", SPEC_FW_MAXTEXT},
               {"neuron", SPEC_FW_NEURON},         {"deepspeed", SPEC_FW_DEEPSPEED}};
    for (size_t i = 0; i < US_ARRAY_LEN(map); i++)
        if (strcmp(software, map[i].tag) == 0)
            return map[i].fw;
    return SPEC_FW_AUTO;
}

/* What the case's tags and source say about its software that its job does not: the
 * framework of tags.software (and that framework's TP-overlap default), and for the
 * Megatron-LM papers of 2021-22 what that Megatron-LM ran: the unfused attention -
 * FlashAttention (Dao et al., May 2022) reached Megatron-LM after both - with its dropout,
 * and no TP communication overlap (--tp-comm-overlap came with Transformer Engine's
 * userbuffers in 2023). */
static void apply_case_software(struct spec_job *j, struct fy_node *jn,
                                const struct us_validation_case *vc)
{
    struct fy_node *tr = child(jn, "training");
    int fw = framework_of_tag(vc->software);
    if (fw != SPEC_FW_AUTO && !child(tr, "framework"))
        spec_job_use_framework(j, fw, child(child(jn, "parallel"), "tp_comm_overlap") != NULL);
    for (size_t i = 0; i < US_ARRAY_LEN(megatron_lm_papers); i++) {
        if (!strstr(vc->source, megatron_lm_papers[i]))
            continue;
        if (!(j->model.hidden_dropout > 0.0))
            j->model.hidden_dropout = MEGATRON_LM_HIDDEN_DROPOUT;
        if (!child(tr, "attention"))
            j->train.attention = SPEC_ATTN_UNFUSED;
        if (!child(child(jn, "parallel"), "tp_comm_overlap"))
            j->par.tp_comm_overlap = false;
    }
}

/* Copies a scalar child's text into buf; false when absent or not a scalar. */
static bool scalar(struct fy_node *map, const char *key, char *buf, size_t n)
{
    struct fy_node *v = child(map, key);
    if (!v || fy_node_get_type(v) != FYNT_SCALAR)
        return false;
    size_t len = 0;
    const char *s = fy_node_get_scalar(v, &len);
    if (!s)
        return false;
    if (len >= n)
        len = n - 1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return true;
}

/* 1-based line of a case (from its id's token), 0 when unknown. */
static int node_line(struct fy_node *c)
{
    struct fy_node *id = child(c, "id");
    struct fy_token *t = id ? fy_node_get_scalar_token(id) : NULL;
    const struct fy_mark *mk = t ? fy_token_start_mark(t) : NULL;
    return mk ? mk->line + 1 : 0;
}

/* A case that leaves vpp out with pp > 1: the tool chooses it, as the calibration set's
 * header says of every left-out field - each number of virtual stages that splits every
 * stage's layers evenly is priced, and the fastest layout that fits wins (the fastest of
 * all when none fits). r and *st hold the winner's result; the job keeps its vpp. */
static void choose_vpp(struct us_ctx *ctx, struct us_job *job, const struct us_run_options *opt,
                       struct us_result *r, enum us_status *st)
{
    struct spec_parallel *p = &job->spec.par;
    int L = job->spec.model.layers, pp = p->pp;
    if (pp <= 1 || p->first_stage_layers > 0 || p->last_stage_layers > 0 || L % pp != 0)
        return;
    struct us_result *t = calloc(1, sizeof *t);
    if (!t)
        return;
    bool have = (*st == US_OK || *st == US_INFEASIBLE) && r->valid && r->step_time_s > 0.0;
    int best_v = p->vpp;
    for (int v = 2; v <= L / pp; v++) {
        if ((L / pp) % v != 0)
            continue;
        p->vpp = v;
        p->schedule = US_SCHEDULE_INTERLEAVED;
        memset(t, 0, sizeof *t);
        struct us_diag d;
        enum us_status s2 = us_run(ctx, job, opt, t, &d);
        if (!((s2 == US_OK || s2 == US_INFEASIBLE) && t->valid && t->step_time_s > 0.0 &&
              isfinite(t->step_time_s)))
            continue;
        bool better = !have || (t->fits && !r->fits) ||
                      (t->fits == r->fits && t->step_time_s < r->step_time_s);
        if (better) {
            *r = *t;
            *st = s2;
            best_v = v;
            have = true;
        }
    }
    p->vpp = best_v;
    p->schedule = best_v > 1 ? US_SCHEDULE_INTERLEAVED : US_SCHEDULE_1F1B;
    free(t);
}

/* Predicts one case into vc. keep: where a predicted case's job goes, with the layout it
 * ran (defaults filled, savers turned on), for the caller to destroy; NULL destroys it. */
/* The settings of a recipe's `set` mapping (dotted job keys, as --set takes them) as
 * "key=value" strings in buf (one per slot, at most RECIPE_MAX_SETS), listed in vc->recipe.
 * Returns their count, -1 (with vc->note) when the mapping is malformed. */
#define RECIPE_MAX_SETS 32
#define RECIPE_SET_LEN  256
static int recipe_sets(struct fy_node *set, char buf[][RECIPE_SET_LEN],
                       struct us_validation_case *vc)
{
    if (!set || fy_node_get_type(set) != FYNT_MAPPING) {
        core_fmt(vc->note, sizeof vc->note, "recipes: the entry's set is not a mapping");
        return -1;
    }
    void *it = NULL;
    struct fy_node_pair *pr;
    int n = 0;
    size_t used = 0;
    while ((pr = fy_node_mapping_iterate(set, &it)) != NULL) {
        struct fy_node *k = fy_node_pair_key(pr), *v = fy_node_pair_value(pr);
        size_t kl = 0;
        const char *ks =
            k && fy_node_get_type(k) == FYNT_SCALAR ? fy_node_get_scalar(k, &kl) : NULL;
        char *val = v ? fy_emit_node_to_string(v, (enum fy_emitter_cfg_flags)(
                                                      FYECF_MODE_FLOW_ONELINE | FYECF_WIDTH_INF))
                      : NULL;
        bool ok =
            ks && kl > 0 && val && n < RECIPE_MAX_SETS && kl + strlen(val) + 2 <= RECIPE_SET_LEN;
        if (ok) {
            /* the emitter ends a document with a newline */
            size_t vl = strlen(val);
            while (vl > 0 && (val[vl - 1] == '\n' || val[vl - 1] == ' '))
                val[--vl] = '\0';
            core_fmt(buf[n++], RECIPE_SET_LEN, "%.*s=%s", (int)kl, ks, val);
            if (used < sizeof vc->recipe)
                used += (size_t)snprintf(vc->recipe + used, sizeof vc->recipe - used, "%s%s",
                                         used ? "; " : "", buf[n - 1]);
        }
        free(val);
        if (!ok) {
            core_fmt(vc->note, sizeof vc->note,
                     "recipes: a setting is not a short key and value (at most %d of them)",
                     RECIPE_MAX_SETS);
            return -1;
        }
    }
    return n;
}

static void run_case(struct us_ctx *ctx, const char *path, struct fy_node *c,
                     struct fy_node *recipe, struct us_validation_case *vc, struct us_job **keep)
{
    struct us_diag cd;
    memset(&cd, 0, sizeof cd);
    char num[64];
    struct fy_node *meas = child(c, "measured");
    double measured = 0.0;
    if (!scalar(meas, "step_time_s", num, sizeof num) || core_parse_double(num, &measured) != 0 ||
        !(measured > 0.0)) {
        core_fmt(vc->note, sizeof vc->note, "line %d: measured.step_time_s missing or not > 0",
                 node_line(c));
        return;
    }
    vc->measured_s = measured;
    struct fy_node *jn = child(c, "job");
    if (!jn || fy_node_get_type(jn) != FYNT_MAPPING) {
        core_fmt(vc->note, sizeof vc->note, "line %d: no job mapping", node_line(c));
        return;
    }
    char sets[RECIPE_MAX_SETS][RECIPE_SET_LEN];
    const char *setv[RECIPE_MAX_SETS];
    int nsets = recipe ? recipe_sets(child(recipe, "set"), sets, vc) : 0;
    if (nsets < 0)
        return;
    for (int i = 0; i < nsets; i++)
        setv[i] = sets[i];
    /* An inline model of a published case has no name of its own: it takes the case's. */
    struct fy_node *mn = child(jn, "model");
    if (mn && fy_node_get_type(mn) == FYNT_MAPPING && !child(mn, "name")) {
        struct fy_document *doc = fy_node_document(jn);
        struct fy_node *k = fy_node_create_scalar_copy(doc, "name", 4);
        struct fy_node *v = fy_node_create_scalar_copy(doc, vc->id, strlen(vc->id));
        if (!k || !v || fy_node_mapping_append(mn, k, v) != 0) {
            core_fmt(vc->note, sizeof vc->note, "out of memory");
            return;
        }
    }
    char *text =
        fy_emit_node_to_string(jn, (enum fy_emitter_cfg_flags)(FYECF_MODE_BLOCK | FYECF_WIDTH_INF));
    if (!text) {
        core_fmt(vc->note, sizeof vc->note, "out of memory");
        return;
    }
    char name[600];
    core_fmt(name, sizeof name, "%s[%s]", path, vc->id);
    struct us_job *job = NULL;
    enum us_status st =
        us_job_load_text(ctx, name, text, strlen(text), setv, (size_t)nsets, &job, &cd);
    free(text);
    if (st != US_OK) {
        char line[US_MSG_LEN];
        us_diag_format(&cd, line, sizeof line);
        core_fmt(vc->note, sizeof vc->note, "%s%s", vc->recipe[0] ? "recipes: " : "", line);
        return;
    }
    core_strlcpy(vc->system, us_job_system_name(job), sizeof vc->system);
    core_strlcpy(vc->model, us_job_model_name(job), sizeof vc->model);
    apply_case_software(&job->spec, jn, vc);
    unsigned filled = fill_defaults(&job->spec);
    struct us_run_options opt;
    memset(&opt, 0, sizeof opt);
    opt.threads = 1;
    struct us_result *r = calloc(1, sizeof *r);
    if (!r) {
        us_job_destroy(job);
        core_fmt(vc->note, sizeof vc->note, "out of memory");
        return;
    }
    st = us_run(ctx, job, &opt, r, &cd);
    /* A published run fitted in memory: when the defaults do not, the savers that cost no
     * step time - the distributed optimizer, then sequence parallelism - were on. */
    struct spec_parallel *pj = &job->spec.par;
    if (st == US_INFEASIBLE && r->valid && !r->fits &&
        (filled & ((1u << US_FIELD_ZERO) | (1u << US_FIELD_SP)))) {
        if ((filled & (1u << US_FIELD_ZERO)) && pj->zero < 1)
            pj->zero = 1;
        if ((filled & (1u << US_FIELD_SP)) && pj->tp > 1)
            pj->sequence_parallel = 1;
        memset(r, 0, sizeof *r);
        st = us_run(ctx, job, &opt, r, &cd);
    }
    if (filled & (1u << US_FIELD_VPP))
        choose_vpp(ctx, job, &opt, r, &st);
    vc->layout = r->layout;
    vc->layout.chosen_mask = filled;
    if ((st == US_OK || st == US_INFEASIBLE) && r->valid && r->step_time_s > 0.0 &&
        isfinite(r->step_time_s)) {
        vc->ok = true;
        vc->fits = r->fits;
        vc->predicted_s = r->step_time_s;
        vc->error = (r->step_time_s - measured) / measured;
        vc->mfu = r->mfu;
        vc->breakdown = r->breakdown;
        /* Issue 13: a case prices with the recompute its source states (the case, its
         * recipe, or the framework's default filled above), never one the run chose to fit */
        enum us_recompute stated = (enum us_recompute)pj->recompute;
        if (r->layout.recompute != stated) {
            vc->fits = false;
            core_fmt(vc->note, sizeof vc->note, "recompute %s where the source states %s",
                     us_recompute_name(r->layout.recompute), us_recompute_name(stated));
        } else if (!r->fits)
            core_fmt(vc->note, sizeof vc->note, "does not fit: %s", r->reason);
        else if (r->memory.zero3_gathered_layers == 1)
            for (int w = 0; w < r->nwarnings; w++)
                if (strncmp(r->warnings[w], "FSDP prefetch dropped", 21) == 0)
                    core_strlcpy(vc->note, r->warnings[w], sizeof vc->note);
    } else if (st == US_OK || st == US_INFEASIBLE) {
        core_fmt(vc->note, sizeof vc->note, "infeasible: %s", r->reason);
    } else {
        char line[US_MSG_LEN];
        us_diag_format(&cd, line, sizeof line);
        core_fmt(vc->note, sizeof vc->note, "%s", line);
    }
    free(r);
    if (keep && vc->ok)
        *keep = job;
    else
        us_job_destroy(job);
}

/* Parses text (owned: its heap copy, or NULL when the text is built in) as one YAML or JSON
 * document after checking it is UTF-8. On failure owned is freed and d says why. */
static enum us_status parse_doc(const char *path, const char *text, size_t len, char *owned,
                                struct fy_document **doc, struct us_diag *d)
{
    *doc = NULL;
    if (core_utf8_check((const unsigned char *)text, len) != len) {
        free(owned);
        return core_diag_set(d, path, 0, 0, NULL, "not valid UTF-8");
    }
    struct fy_parse_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.flags = (enum fy_parse_cfg_flags)(FYPCF_QUIET | FYPCF_DISABLE_MMAP_OPT);
    *doc = fy_document_build_from_string(&cfg, text, len);
    if (!*doc) {
        free(owned);
        return core_diag_set(d, path, 0, 0, NULL, "not a YAML or JSON document");
    }
    return US_OK;
}

/* The recipes that go with a set of cases (docs/MODEL.md 6.4): the built-in one with the
 * built-in set, else recipes.yaml in the cases file's folder when there is one. *doc is
 * NULL when there are none; an unreadable or malformed file is an input error. */
static enum us_status load_recipes(const char *cases_path, bool builtin, struct fy_document **doc,
                                   struct fy_node **list, char **owned_out, struct us_diag *d)
{
    *doc = NULL;
    *list = NULL;
    *owned_out = NULL;
    const char *text = NULL;
    char *owned = NULL;
    size_t len = 0;
    char path[1024];
    if (builtin) {
        const struct catalog_entry *e = catalog_find(CATALOG_KIND_CALIBRATION, "recipes");
        if (!e)
            return US_OK;
        text = e->text;
        len = e->len;
        core_strlcpy(path, e->origin, sizeof path);
    } else {
        const char *slash = strrchr(cases_path, '/');
        int dir = slash ? (int)(slash - cases_path) + 1 : 0;
        core_fmt(path, sizeof path, "%.*srecipes.yaml", dir, cases_path);
        FILE *f = fopen(path, "rb");
        if (!f)
            return US_OK;
        fclose(f);
        enum us_status st = core_read_file(path, SPEC_MAX_FILE_B, &owned, &len, d);
        if (st != US_OK)
            return st;
        text = owned;
    }
    enum us_status pst = parse_doc(path, text, len, owned, doc, d);
    if (pst != US_OK)
        return pst;
    *owned_out = owned; /* the document may point into it: freed after the document */
    *list = child(fy_document_root(*doc), "recipes");
    if (!*list || fy_node_get_type(*list) != FYNT_SEQUENCE) {
        fy_document_destroy(*doc);
        *doc = NULL;
        free(owned);
        *owned_out = NULL;
        return core_diag_set(d, path, 0, 0, "recipes", "expected a sequence of recipes");
    }
    return US_OK;
}

/* The recipe entry of case id, NULL when none. */
static struct fy_node *recipe_of(struct fy_node *list, const char *id)
{
    int n = list ? fy_node_sequence_item_count(list) : 0;
    for (int i = 0; i < n; i++) {
        struct fy_node *r = fy_node_sequence_get_by_index(list, i);
        char rid[64];
        if (scalar(r, "id", rid, sizeof rid) && strcmp(rid, id) == 0)
            return r;
    }
    return NULL;
}

enum us_status validate_file(struct us_ctx *ctx, const char *path, struct us_validation *out,
                             struct us_job ***jobs, struct us_diag *d)
{
    if (jobs)
        *jobs = NULL;
    memset(out, 0, sizeof *out);
    out->worst = -1;
    const char *text = NULL;
    char *owned = NULL; /* a file's text; the built-in set is read in place */
    size_t len = 0;
    bool builtin = !path || !*path;
    if (builtin) {
        /* the calibration set the binary carries (data/calibration/published.yaml) */
        const struct catalog_entry *e = catalog_find(CATALOG_KIND_CALIBRATION, "published");
        if (!e)
            return core_diag_set(
                d, NULL, 0, 0, NULL,
                "validate: no file of cases given and no calibration set built in");
        text = e->text;
        len = e->len;
        path = e->origin;
    } else {
        enum us_status st = core_read_file(path, SPEC_MAX_FILE_B, &owned, &len, d);
        if (st != US_OK)
            return st;
        text = owned;
    }
    struct fy_document *doc = NULL;
    enum us_status pst = parse_doc(path, text, len, owned, &doc, d);
    if (pst != US_OK)
        return pst;
    struct fy_node *cases = child(fy_document_root(doc), "cases");
    if (!cases || fy_node_get_type(cases) != FYNT_SEQUENCE) {
        fy_document_destroy(doc);
        free(owned);
        return core_diag_set(d, path, 0, 0, "cases", "expected a sequence of cases");
    }
    struct fy_document *rdoc = NULL;
    struct fy_node *recipes = NULL;
    char *rtext = NULL;
    enum us_status rst = load_recipes(path, builtin, &rdoc, &recipes, &rtext, d);
    if (rst != US_OK) {
        fy_document_destroy(doc);
        free(owned);
        return rst;
    }
    int n = fy_node_sequence_item_count(cases);
    enum us_status st = US_OK;
    if (n <= 0) {
        st = core_diag_set(d, path, 0, 0, "cases", "no cases");
        goto done;
    }
    out->cases = calloc((size_t)n, sizeof *out->cases);
    if (!out->cases) {
        st = core_diag_status(d, US_ENOMEM, path, 0, 0, NULL, "out of memory");
        goto done;
    }
    out->ncases = n;
    if (jobs && !(*jobs = calloc((size_t)n, sizeof **jobs))) {
        us_validation_free(out);
        st = core_diag_status(d, US_ENOMEM, path, 0, 0, NULL, "out of memory");
        goto done;
    }
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        struct fy_node *c = fy_node_sequence_get_by_index(cases, i);
        struct us_validation_case *vc = &out->cases[i];
        if (!scalar(c, "id", vc->id, sizeof vc->id))
            core_fmt(vc->id, sizeof vc->id, "case%d", i + 1);
        scalar(c, "source", vc->source, sizeof vc->source);
        struct fy_node *tags = child(c, "tags");
        scalar(tags, "chip_family", vc->chip_family, sizeof vc->chip_family);
        scalar(tags, "software", vc->software, sizeof vc->software);
        scalar(tags, "model_family", vc->model_family, sizeof vc->model_family);
        run_case(ctx, path, c, recipe_of(recipes, vc->id), vc, jobs ? &(*jobs)[i] : NULL);
        if (!vc->ok)
            continue;
        out->npredicted++;
        double e = fabs(vc->error);
        sum += e;
        if (e > out->worst_abs_error || out->worst < 0) {
            out->worst_abs_error = e;
            out->worst = i;
        }
    }
    out->mape = out->npredicted > 0 ? sum / (double)out->npredicted : 0.0;
done:
    if (rdoc)
        fy_document_destroy(rdoc);
    free(rtext);
    fy_document_destroy(doc);
    free(owned);
    return st;
}

enum us_status us_validate(struct us_ctx *ctx, const char *path, struct us_validation *out,
                           struct us_diag *d)
{
    return validate_file(ctx, path, out, NULL, d);
}

void us_validation_free(struct us_validation *v)
{
    if (!v)
        return;
    free(v->cases);
    v->cases = NULL;
    v->ncases = 0;
}

static void write_table(const struct us_validation *v, FILE *f)
{
    fprintf(f, "%-34s %-12s %10s %10s %8s %6s  %s\n", "case", "system", "measured_s", "predicted_s",
            "error", "mfu", "layout (filled fields *)");
    for (int i = 0; i < v->ncases; i++) {
        const struct us_validation_case *c = &v->cases[i];
        if (!c->ok) {
            fprintf(f, "%-34s %-12s %10.4g %10s %8s %6s  %s\n", c->id, c->system, c->measured_s,
                    "-", "-", "-", c->note);
            continue;
        }
        const struct us_layout *l = &c->layout;
        unsigned m = l->chosen_mask;
        char ends[48] = "";
        if (l->first_stage_layers > 0 || l->last_stage_layers > 0)
            core_fmt(ends, sizeof ends, "(%d..%d)", l->first_stage_layers, l->last_stage_layers);
#define MARK(bit) ((m >> (bit)) & 1u ? "*" : "")
        fprintf(f,
                "%-34s %-12s %10.4g %10.4g %+7.1f%% %5.1f%%  tp%d pp%d%s dp%d vpp%d%s zero%d%s "
                "sp%d%s rc=%s%s mb%d%s x%d%s%s%s\n",
                c->id, c->system, c->measured_s, c->predicted_s, 100.0 * c->error, 100.0 * c->mfu,
                l->tp, l->pp, ends, l->dp, l->vpp, MARK(US_FIELD_VPP), l->zero, MARK(US_FIELD_ZERO),
                l->sequence_parallel ? 1 : 0, MARK(US_FIELD_SP), us_recompute_name(l->recompute),
                MARK(US_FIELD_RECOMPUTE), l->micro_batch, MARK(US_FIELD_MICRO_BATCH),
                l->microbatches, c->recipe[0] ? " +recipe" : "", c->note[0] ? "  " : "", c->note);
#undef MARK
    }
    if (v->npredicted > 0 && v->worst >= 0)
        fprintf(f, "MAPE %.2f%% over %d cases; worst %s %+.1f%%\n", 100.0 * v->mape, v->npredicted,
                v->cases[v->worst].id, 100.0 * v->cases[v->worst].error);
    if (v->npredicted < v->ncases)
        fprintf(f, "%d of %d cases could not be predicted (see notes)\n", v->ncases - v->npredicted,
                v->ncases);
}

static void write_json(const struct us_validation *v, FILE *f)
{
    struct json_w w;
    json_init(&w, f, true);
    json_obj_begin(&w, NULL);
    json_arr_begin(&w, "cases");
    for (int i = 0; i < v->ncases; i++) {
        const struct us_validation_case *c = &v->cases[i];
        json_obj_begin(&w, NULL);
        json_str(&w, "id", c->id);
        json_str(&w, "system", c->system);
        json_str(&w, "model", c->model);
        json_num(&w, "measured_step_time_s", c->measured_s);
        json_bool(&w, "predicted", c->ok);
        if (c->ok) {
            json_num(&w, "predicted_step_time_s", c->predicted_s);
            json_num(&w, "error", c->error);
            json_num(&w, "mfu", c->mfu);
            json_bool(&w, "fits", c->fits);
            json_obj_begin(&w, "breakdown");
            const struct us_breakdown *bd = &c->breakdown;
            json_num(&w, "compute_s", bd->compute_s);
            json_num(&w, "tp_comm_s", bd->tp_comm_s);
            json_num(&w, "cp_comm_s", bd->cp_comm_s);
            json_num(&w, "ep_comm_s", bd->ep_comm_s);
            json_num(&w, "pp_comm_s", bd->pp_comm_s);
            json_num(&w, "dp_comm_s", bd->dp_comm_s);
            json_num(&w, "bubble_s", bd->bubble_s);
            json_num(&w, "optimizer_s", bd->optimizer_s);
            json_num(&w, "overhead_s", bd->overhead_s);
            json_num(&w, "straggler_s", bd->straggler_s);
            json_obj_end(&w);
            json_obj_begin(&w, "layout");
            const struct us_layout *l = &c->layout;
            json_int(&w, "tp", l->tp);
            json_int(&w, "pp", l->pp);
            json_int(&w, "dp", l->dp);
            json_int(&w, "cp", l->cp);
            json_int(&w, "ep", l->ep);
            json_int(&w, "vpp", l->vpp);
            json_int(&w, "first_stage_layers", l->first_stage_layers);
            json_int(&w, "last_stage_layers", l->last_stage_layers);
            json_int(&w, "zero", l->zero);
            json_bool(&w, "sequence_parallel", l->sequence_parallel);
            json_str(&w, "recompute", us_recompute_name(l->recompute));
            json_str(&w, "schedule", us_schedule_name(l->schedule));
            json_int(&w, "micro_batch", l->micro_batch);
            json_int(&w, "microbatches", l->microbatches);
            json_arr_begin(&w, "filled");
            for (int b = 0; b < US_FIELD_COUNT; b++)
                if ((l->chosen_mask >> b) & 1u) {
                    static const char *const names[US_FIELD_COUNT] = {
                        "tp",        "pp",         "dp",   "cp",
                        "ep",        "vpp",        "zero", "sequence_parallel",
                        "recompute", "micro_batch"};
                    json_str(&w, NULL, names[b]);
                }
            json_arr_end(&w);
            json_obj_end(&w);
        }
        json_str(&w, "note", c->note);
        json_str(&w, "recipe", c->recipe);
        json_str(&w, "source", c->source);
        json_obj_end(&w);
    }
    json_arr_end(&w);
    json_int(&w, "cases_predicted", v->npredicted);
    json_num(&w, "mape", v->mape);
    if (v->worst >= 0) {
        json_str(&w, "worst_case", v->cases[v->worst].id);
        json_num(&w, "worst_error", v->cases[v->worst].error);
    }
    json_obj_end(&w);
    json_finish(&w);
}

void us_validation_write(const struct us_validation *v, enum us_format fmt, FILE *out)
{
    if (fmt == US_FORMAT_JSON)
        write_json(v, out);
    else if (fmt == US_FORMAT_CSV) {
        fprintf(out, "id,system,model,measured_step_time_s,predicted_step_time_s,error,mfu,note\n");
        for (int i = 0; i < v->ncases; i++) {
            const struct us_validation_case *c = &v->cases[i];
            /* a case that was not predicted has empty fields, not zeros a reader would average */
            fprintf(out, "%s,%s,%s,%.9g,", c->id, c->system, c->model, c->measured_s);
            if (c->ok)
                fprintf(out, "%.9g,%.6f,%.6f,", c->predicted_s, c->error, c->mfu);
            else
                fputs(",,,", out);
            fputc('"', out);
            for (const char *p = c->note; *p; p++) { /* RFC 4180: a quote inside is doubled */
                if (*p == '"')
                    fputc('"', out);
                fputc(*p, out);
            }
            fputs("\"\n", out);
        }
    } else
        write_table(v, out);
}
