/* test_spec: the spec loaders. Every bad-input class in tests/bad must be refused with
 * the exact status, line, column, field path and the key part of the message; good specs
 * (files, inline mappings, presets, relative paths, JSON, HuggingFace configs, --set)
 * must land in the structs with the SI values worked out by hand in the comments. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "core/core.h"
#include "spec/spec.h"
#include "test.h"

#define SRC US_SOURCE_DIR
#define HF  US_SOURCE_DIR "/data/hf-configs"

#define GIB_B 1073741824.0

static struct us_diag D;
static struct spec_job JOB;

static void show_diag(const char *what)
{
    char line[1200];
    us_diag_format(&D, line, sizeof line);
    fprintf(stderr, "  (%s gave: %s)\n", what, line);
}

/* An error with its place: status, line, column, path and a piece of the message. */
#define CHECK_ERR(st, want_st, want_line, want_col, want_path, want_part)                          \
    do {                                                                                           \
        int ok_ = (st) == (want_st) && D.status == (want_st) && D.line == (want_line) &&           \
                  D.col == (want_col) && strcmp(D.path, (want_path)) == 0 &&                       \
                  strstr(D.msg, (want_part)) != NULL;                                              \
        CHECK(ok_ && "error place and message");                                                   \
        if (!ok_)                                                                                  \
            show_diag(#st);                                                                        \
    } while (0)

#define CHECK_OK(st)                                                                               \
    do {                                                                                           \
        enum us_status s_ = (st);                                                                  \
        CHECK(s_ == US_OK);                                                                        \
        if (s_ != US_OK)                                                                           \
            show_diag(#st);                                                                        \
    } while (0)

enum kind { JOB_FILE, MODEL_FILE, SYSTEM_FILE };

static enum us_status load(enum kind k, const char *path)
{
    struct spec_model m;
    struct spec_system s;
    memset(&D, 0, sizeof D);
    switch (k) {
    case MODEL_FILE:
        return spec_model_load(path, &m, &D);
    case SYSTEM_FILE:
        return spec_system_load(path, &s, &D);
    default:
        return spec_job_load(path, NULL, 0, &JOB, &D);
    }
}

/* too_deep.yaml: the root mapping is level 1, so its 32nd "[" is level 33; 31 indexes. */
#define DEEP_PATH                                                                                  \
    "model[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]"    \
    "[0][0][0]"

/* One file per class of bad input; positions counted by hand in each file. */
static void test_bad_files(void)
{
    static const struct {
        const char *file;
        enum kind kind;
        int line, col;
        const char *path, *part;
    } cases[] = {
        {"syntax.yaml", JOB_FILE, 3, 17, "", "syntax error"},
        {"unknown_key.yaml", JOB_FILE, 6, 3, "parallel.tensor_parallel",
         "unknown key 'tensor_parallel' (known: tp, pp, dp"},
        {"wrong_type.yaml", JOB_FILE, 5, 12, "training.seq_len",
         "expected an integer, got a sequence"},
        {"quoted_number.yaml", JOB_FILE, 3, 8, "chips", "quoted string '64'"},
        {"trailing.yaml", MODEL_FILE, 3, 9, "hidden", "expected an integer, got '4096x'"},
        {"float_int.yaml", JOB_FILE, 4, 16, "parallel.tp", "expected an integer, got '8.0'"},
        {"out_of_range.yaml", SYSTEM_FILE, 5, 6, "pue", "'7' is above the maximum of 5"},
        {"power_order.yaml", SYSTEM_FILE, 2, 89, "chip.memory_W",
         "memory_W 650 is above gemm_W 600"},
        {"negative.yaml", MODEL_FILE, 2, 9, "layers", "-4 must be positive"},
        {"zero.yaml", SYSTEM_FILE, 4, 10, "scale_up.chips", "0 must be positive"},
        {"bad_utf8.yaml", SYSTEM_FILE, 2, 17, "", "invalid UTF-8 (byte 0xff)"},
        {"too_deep.yaml", JOB_FILE, 1, 39, DEEP_PATH, "nesting deeper than 32 levels"},
        {"duplicate_key.yaml", JOB_FILE, 4, 1, "model", "duplicate key 'model' (first at line 1)"},
        {"anchor.yaml", JOB_FILE, 3, 8, "chips", "anchors (&n) are not allowed"},
        {"alias.yaml", JOB_FILE, 4, 42, "training.global_batch", "aliases (*n) are not allowed"},
        {"merge_key.yaml", JOB_FILE, 4, 3, "parallel.<<", "merge keys (<<) are not allowed"},
        {"tag.yaml", JOB_FILE, 3, 8, "chips", "tags ("},
        {"multi_doc.yaml", JOB_FILE, 2, 1, "", "a second document"},
        {"bad_enum.yaml", JOB_FILE, 4, 23, "parallel.recompute",
         "unknown value 'some' (expected one of: none, selective, full)"},
        {"missing_file.yaml", JOB_FILE, 1, 8, "model", "no-such-dir/model.yaml': cannot open"},
        {"kv_heads.yaml", MODEL_FILE, 5, 11, "kv_heads",
         "heads 32 is not a multiple of kv_heads 5"},
        {"hf_missing_field.json", MODEL_FILE, 1, 1, "num_hidden_layers",
         "missing required key 'num_hidden_layers'"},
        {"hf_moe_pattern.json", MODEL_FILE, 10, 26, "decoder_sparse_step",
         "layer 2 (counting from 0) is dense after MoE layers"},
        {"bad_pipeline_layout.yaml", JOB_FILE, 10, 20, "parallel.pipeline_layout",
         "33 virtual stages do not divide over pp=8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/tests/bad/%s", SRC, cases[i].file);
        enum us_status st = load(cases[i].kind, path);
        CHECK_ERR(st, US_EINPUT, cases[i].line, cases[i].col, cases[i].path, cases[i].part);
        if (strcmp(D.file, path) != 0)
            fprintf(stderr, "  %s: diag file is %s\n", cases[i].file, D.file);
        CHECK_STR(D.file, path);
    }
}

/* An error inside a file a job names is placed in that file; the path starts at the job. */
static void test_errors_in_named_files(void)
{
    enum us_status st = load(JOB_FILE, SRC "/tests/bad/job_bad_model.yaml");
    CHECK_ERR(st, US_EINPUT, 3, 9, "model.hidden", "expected an integer, got '4096x'");
    CHECK_STR(D.file, SRC "/tests/bad/trailing.yaml"); /* relative to the job's folder */
    /* a missing key of a whole file: at the file's own mapping (1:1), not at the job's
     * "model:" that names it */
    const char *sets[] = {"model=" SRC "/tests/bad/hf_missing_field.json"};
    memset(&D, 0, sizeof D);
    st = spec_job_load(SRC "/tests/specs/job_presets.yaml", sets, 1, &JOB, &D);
    CHECK_ERR(st, US_EINPUT, 1, 1, "model.num_hidden_layers",
              "missing required key 'num_hidden_layers'");
    CHECK_STR(D.file, SRC "/tests/bad/hf_missing_field.json");
}

static void test_missing_and_large(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/bad/no-such-file.yaml", SRC);
    enum us_status st = load(JOB_FILE, path);
    CHECK_ERR(st, US_EINPUT, 0, 0, "", "cannot open");
    CHECK_STR(D.file, path);

    /* one byte over SPEC_MAX_FILE_B is refused before parsing; exactly at the limit it is
     * parsed (a file of comments only: "empty document") */
    size_t n = SPEC_MAX_FILE_B + 1;
    char *big = malloc(n);
    CHECK(big != NULL);
    if (!big)
        return;
    memset(big, '#', n);
    for (size_t i = 79; i < n; i += 80)
        big[i] = '\n';
    memset(&D, 0, sizeof D);
    st = spec_job_load_text("big.yaml", big, n, NULL, 0, &JOB, &D);
    CHECK_ERR(st, US_EINPUT, 0, 0, "", "over the limit of 4194304");
    memset(&D, 0, sizeof D);
    st = spec_job_load_text("big.yaml", big, n - 1, NULL, 0, &JOB, &D);
    CHECK_ERR(st, US_EINPUT, 0, 0, "", "empty document");

    char tmp[256];
    snprintf(tmp, sizeof tmp, "/tmp/ultrasim-test-spec-%ld.yaml", (long)getpid());
    FILE *f = fopen(tmp, "wb");
    CHECK(f != NULL);
    if (f) {
        CHECK(fwrite(big, 1, n, f) == n);
        fclose(f);
        st = load(JOB_FILE, tmp);
        CHECK_ERR(st, US_EINPUT, 0, 0, "", "over the limit of 4194304");
        remove(tmp);
    }
    free(big);
}

/* Numbers, booleans and nulls: the exact rules of docs/SPEC.md. */
static void test_scalars(void)
{
    static const struct {
        const char *layers; /* the value written after "layers: " on line 2 */
        int ok, value;
        const char *part;
    } cases[] = {
        {"8", 1, 8, ""},
        {"08", 1, 8, ""},
        {"8.0", 0, 0, "expected an integer, got '8.0'"},
        {"1e1", 0, 0, "expected an integer, got '1e1'"}, /* exponents only for counts */
        {"0x10", 0, 0, "expected an integer, got '0x10'"},
        {"+8", 0, 0, "expected an integer, got '+8'"},
        {"'8'", 0, 0, "the quoted string '8'"},
        {"", 0, 0, "expected an integer, got null"},
        {"~", 0, 0, "expected an integer, got null"},
        {"[8]", 0, 0, "got a sequence"},
        {"99999999999999999999", 0, 0, "is out of range (1..10000)"},
        {"10001", 0, 0, "10001 is above the maximum of 10000"},
        {"true", 0, 0, "expected an integer, got 'true'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[256];
        struct spec_model m;
        snprintf(text, sizeof text,
                 "name: s\nlayers: %s\nhidden: 64\nheads: 4\nffn_hidden: 128\nvocab: 10\n",
                 cases[i].layers);
        memset(&D, 0, sizeof D);
        enum us_status st = spec_model_parse("s.yaml", text, strlen(text), &m, &D);
        if (cases[i].ok) {
            CHECK_OK(st);
            CHECK(st == US_OK && m.layers == cases[i].value);
        } else {
            /* an empty value has no position of its own: it is placed at its key */
            int col = cases[i].layers[0] ? 9 : 1;
            CHECK_ERR(st, US_EINPUT, 2, col, "layers", cases[i].part);
        }
    }
    static const struct {
        const char *line; /* line 7 of a model */
        const char *path, *part;
    } more[] = {
        {"gated_mlp: yes", "gated_mlp", "expected true or false, got 'yes'"},
        {"gated_mlp: True", "gated_mlp", "expected true or false, got 'True'"},
        {"gated_mlp: \"true\"", "gated_mlp", "the quoted string 'true'"},
        {"description: {a: 1}", "description", "expected a string, got a mapping"},
        {"moe: {experts: 8, top_k: 2, expert_ffn_hidden: 64, capacity_factor: .inf}",
         "moe.capacity_factor", "expected a number, got '.inf'"},
        {"moe: {experts: 8, top_k: 2, expert_ffn_hidden: 64, capacity_factor: -0.5}",
         "moe.capacity_factor", "'-0.5' must not be negative"},
        {"moe: {experts: 8, top_k: 2, expert_ffn_hidden: 64, load_imbalance: 0.5}",
         "moe.load_imbalance", "'0.5' is below the minimum of 1"},
        {"moe: {experts: 8, top_k: 9, expert_ffn_hidden: 64}", "moe.top_k",
         "top_k 9 is above experts 8"},
        {"moe: {experts: 8, expert_ffn_hidden: 64}", "moe.top_k", "missing required key 'top_k'"},
        {"name: twice", "name", "duplicate key 'name' (first at line 1)"},
    };
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++) {
        char text[256];
        struct spec_model m;
        snprintf(text, sizeof text,
                 "name: s\nlayers: 2\nhidden: 64\nheads: 4\nffn_hidden: 128\nvocab: 10\n%s\n",
                 more[i].line);
        memset(&D, 0, sizeof D);
        enum us_status st = spec_model_parse("s.yaml", text, strlen(text), &m, &D);
        CHECK(st == US_EINPUT && D.line == 7 && strcmp(D.path, more[i].path) == 0 &&
              strstr(D.msg, more[i].part) != NULL);
        if (!(st == US_EINPUT && D.line == 7 && strcmp(D.path, more[i].path) == 0 &&
              strstr(D.msg, more[i].part) != NULL))
            show_diag(more[i].line);
    }
}

/* The reference HuggingFace configs, numbers from each model card's config.json. */
static void test_hf_configs(void)
{
    struct spec_model m;
    memset(&D, 0, sizeof D);
    CHECK_OK(spec_model_load(HF "/llama-3.1-405b.json", &m, &D));
    CHECK_STR(m.name, "llama-3.1-405b");
    CHECK(m.layers == 126 && m.hidden == 16384 && m.heads == 128 && m.kv_heads == 8);
    CHECK(m.ffn_hidden == 53248 && m.vocab == 128256 && m.head_dim == 128);
    CHECK(m.gated_mlp && !m.tied_embeddings && !m.has_moe && !m.has_mla && m.mtp_layers == 0);

    CHECK_OK(spec_model_load(HF "/deepseek-v3.json", &m, &D));
    CHECK(m.layers == 61 && m.hidden == 7168 && m.heads == 128 && m.vocab == 129280);
    CHECK(m.has_moe && m.moe.experts == 256 && m.moe.top_k == 8 && m.moe.shared_experts == 1);
    CHECK(m.moe.dense_layers == 3 && m.moe.expert_ffn_hidden == 2048 && m.ffn_hidden == 18432);
    CHECK(m.has_mla && m.mla.q_lora_rank == 1536 && m.mla.kv_lora_rank == 512);
    CHECK(m.mla.qk_nope_head_dim == 128 && m.mla.qk_rope_head_dim == 64 && m.mla.v_head_dim == 128);
    CHECK(m.mtp_layers == 1 && m.head_dim == 128 + 64);

    CHECK_OK(spec_model_load(HF "/gpt2-xl.json", &m, &D));
    /* n_inner absent: 4 * 1600; GPT-2 ties the LM head to the embedding */
    CHECK(m.layers == 48 && m.hidden == 1600 && m.heads == 25 && m.kv_heads == 25);
    CHECK(m.ffn_hidden == 6400 && m.head_dim == 64 && m.vocab == 50257);
    CHECK(m.tied_embeddings && !m.gated_mlp);

    CHECK_OK(spec_model_load(HF "/gpt-neox-20b.json", &m, &D));
    CHECK(m.layers == 44 && m.hidden == 6144 && m.heads == 64 && m.ffn_hidden == 24576);
    CHECK(m.vocab == 50432 && m.head_dim == 96 && !m.gated_mlp && !m.tied_embeddings);

    CHECK_OK(spec_model_load(HF "/mixtral-8x22b.json", &m, &D));
    CHECK(m.layers == 56 && m.hidden == 6144 && m.heads == 48 && m.kv_heads == 8);
    CHECK(m.has_moe && m.moe.experts == 8 && m.moe.top_k == 2);
    CHECK(m.moe.expert_ffn_hidden == 16384 && m.moe.dense_layers == 0 && m.vocab == 32000);

    CHECK_OK(spec_model_load(HF "/qwen3-235b-a22b.json", &m, &D));
    /* head_dim 128 is given and is not hidden/heads = 64 */
    CHECK(m.layers == 94 && m.hidden == 4096 && m.heads == 64 && m.kv_heads == 4);
    CHECK(m.head_dim == 128 && m.ffn_hidden == 12288 && m.vocab == 151936);
    CHECK(m.has_moe && m.moe.experts == 128 && m.moe.top_k == 8);
    CHECK(m.moe.expert_ffn_hidden == 1536 && m.moe.dense_layers == 0);

    CHECK_OK(spec_model_load(HF "/llama-3-8b.json", &m, &D));
    CHECK(m.layers == 32 && m.hidden == 4096 && m.kv_heads == 8 && m.ffn_hidden == 14336);

    /* every config.json there loads, through the path and through the HF-only parser */
    DIR *dir = opendir(HF);
    CHECK(dir != NULL);
    int n = 0;
    struct dirent *e;
    while (dir && (e = readdir(dir)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", HF, e->d_name);
        memset(&D, 0, sizeof D);
        CHECK_OK(spec_model_load(path, &m, &D));
        CHECK_OK(spec_model_check(&m, path, &D));
        FILE *f = fopen(path, "rb");
        char buf[8192];
        size_t got = f ? fread(buf, 1, sizeof buf, f) : 0;
        if (f)
            fclose(f);
        CHECK_OK(spec_model_parse_hf(path, buf, got, &m, &D));
        n++;
    }
    if (dir)
        closedir(dir);
    CHECK(n == 7);

    /* a YAML model is not a HuggingFace config */
    const char *yaml = "name: x\nlayers: 1\nhidden: 8\nheads: 1\nffn_hidden: 8\nvocab: 8\n";
    CHECK_ERR(spec_model_parse_hf("x.yaml", yaml, strlen(yaml), &m, &D), US_EINPUT, 1, 1, "",
              "not a HuggingFace config.json");
    const char *bert = "{\"model_type\": \"bert\", \"hidden_size\": 768}";
    CHECK_ERR(spec_model_parse_hf("bert.json", bert, strlen(bert), &m, &D), US_EINPUT, 1, 16,
              "model_type", "model_type 'bert' is not supported (supported: llama, mistral");
}

static void test_system_file(void)
{
    struct spec_system s;
    memset(&D, 0, sizeof D);
    CHECK_OK(spec_system_load(SRC "/tests/specs/toy_system.yaml", &s, &D));
    CHECK_STR(s.name, "toy");
    CHECK_STR(s.chip.name, "toy chip");
    CHECK_STR(s.chip.family, "test");
    CHECK_NEAR(s.chip.peak_flops[US_DTYPE_BF16], 1e14, 1e-12); /* 100 TFLOP/s */
    CHECK_NEAR(s.chip.peak_flops[US_DTYPE_FP32], 2.5e13, 1e-12);
    CHECK_NEAR(s.chip.peak_flops[US_DTYPE_FP8], 2e14, 1e-12);
    CHECK(s.chip.peak_flops[US_DTYPE_FP16] == 0 && s.chip.peak_flops[US_DTYPE_FP4] == 0);
    CHECK_NEAR(s.chip.hbm_B, 17179869184.0, 1e-12); /* 16 GiB = 16 * 2^30 */
    CHECK(!s.chip.hbm_runtime_limit);               /* default: the part's capacity */
    CHECK_NEAR(s.chip.hbm_Bps, 1.5e12, 1e-12);      /* 1.5 TB/s */
    CHECK_NEAR(s.chip.tdp_W, 300, 1e-12);
    CHECK_NEAR(s.chip.idle_W, 75, 1e-12); /* default 25% of TDP */
    CHECK_NEAR(s.chip.usd_per_hour, 2.5, 1e-12);
    CHECK(s.chip.matrix_m == 128 && s.chip.matrix_n == 64 && s.chip.matrix_k == 32);
    CHECK(s.chip.compute_units == 100);
    CHECK(s.eff.gemm == 1.0 && s.eff.attention == 1.0 && s.eff.memory == 1.0 && s.eff.comm == 1.0);
    CHECK(s.chips_per_node == 4);
    CHECK(s.up.chips == 16 && s.up.topology == SPEC_TOPO_TORUS);
    CHECK(s.up.dims[0] == 4 && s.up.dims[1] == 4 && s.up.dims[2] == 0);
    CHECK_NEAR(s.up.bw_Bps, 2e11, 1e-12); /* 200 GB/s */
    CHECK_NEAR(s.up.latency_s, 2.5e-6, 1e-12);
    CHECK(!s.up.in_network_reduction);
    CHECK_NEAR(s.out.nic_Bps, 5e10, 1e-12);   /* 400 Gb/s = 50 GB/s */
    CHECK_NEAR(s.out.latency_s, 5e-6, 1e-12); /* default 5 us */
    CHECK(s.out.kind == SPEC_FABRIC_RAIL && s.out.ntiers == 2);
    CHECK(s.out.tiers[0].radix == 32 && s.out.tiers[0].oversub == 1.0);
    CHECK(s.out.tiers[1].radix == 64 && s.out.tiers[1].oversub == 2.5);
    CHECK(s.host_W_per_chip == 0 && s.network_W_per_chip == 0);
    CHECK_NEAR(s.pue, 1.2, 1e-12);
    CHECK_NEAR(s.step_overhead_s, 3e-3, 1e-12);
    /* Llama 3: 419 interruptions / (54 d * 24 h * 16384 GPUs) */
    CHECK_NEAR(s.rel.interruptions_per_chip_hour, 1.973282e-5, 1e-6);
    CHECK_NEAR(s.rel.restart_s, 600, 1e-12); /* 10 min */
    CHECK_NEAR(s.rel.ckpt_write_Bps_per_chip, 1e9, 1e-12);
    CHECK_NEAR(s.rel.step_cv, 0.01, 1e-12);

    /* system-level consistency */
    static const struct {
        const char *extra; /* replaces the scale_up line */
        const char *path, *part;
    } cases[] = {
        {"scale_up: {chips: 12, GBps: 1, topology: torus, dims: [4, 4]}", "scale_up.dims",
         "the torus dims multiply to 16 chips, but chips is 12"},
        {"scale_up: {chips: 12, GBps: 1, topology: hypercube}", "scale_up.chips",
         "a hypercube needs a power of two chips, got 12"},
        {"scale_up: {chips: 8, GBps: 1, topology: switch, dims: [8]}", "scale_up.dims",
         "dims is for topology torus only"},
        {"scale_up: {chips: 8, GBps: 1, topology: ring}", "scale_up.topology",
         "unknown value 'ring' (expected one of: switch, torus, hypercube, mesh)"},
        {"scale_up: {chips: 8, GBps: 1, topology: switch}\nchips_per_node: 3", "chips_per_node",
         "one must divide the other"},
        {"scale_up: {chips: 8, GBps: 0, topology: switch}", "scale_up.GBps",
         "'0' is below the minimum of 0.1"},
        {"scale_up: {chips: 8, topology: switch}", "scale_up.GBps", "missing required key 'GBps'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[512];
        snprintf(text, sizeof text,
                 "name: t\nchip: {tflops: {bf16: 1}, hbm_GB: 1, hbm_TBps: 1, tdp_W: 1}\n%s\n"
                 "scale_out: {Gbps: 1, tiers: [{radix: 2}]}\n",
                 cases[i].extra);
        memset(&D, 0, sizeof D);
        enum us_status st = spec_system_parse("t.yaml", text, strlen(text), &s, &D);
        int ok = st == US_EINPUT && D.line >= 3 && strcmp(D.path, cases[i].path) == 0 &&
                 strstr(D.msg, cases[i].part) != NULL;
        CHECK(ok);
        if (!ok)
            show_diag(cases[i].extra);
    }
    const char *both = "name: t\nchip: {tflops: {bf16: 1}, hbm_GB: 1, hbm_GiB: 1, hbm_TBps: 1, "
                       "tdp_W: 1}\nscale_up: {chips: 1, GBps: 1, topology: switch}\n"
                       "scale_out: {Gbps: 1, tiers: [{radix: 2}]}\n";
    CHECK_ERR(spec_system_parse("t.yaml", both, strlen(both), &s, &D), US_EINPUT, 2, 47,
              "chip.hbm_GiB", "give hbm_GB or hbm_GiB, not both");
    /* chip.devices and chip.hbm_runtime_limit: a default of one device and the part's
     * capacity; a device count out of range or a limit that is not a boolean is refused */
    const char *plain = "name: t\nchip: {tflops: {bf16: 1}, hbm_GB: 1, hbm_TBps: 1, tdp_W: 1}\n"
                        "scale_up: {chips: 1, GBps: 1, topology: switch}\n"
                        "scale_out: {Gbps: 1, tiers: [{radix: 2}]}\n";
    memset(&D, 0, sizeof D);
    CHECK_OK(spec_system_parse("t.yaml", plain, strlen(plain), &s, &D));
    CHECK(s.chip.devices == 1 && !s.chip.hbm_runtime_limit);
    static const struct {
        const char *chip, *path, *part;
    } chips[] = {
        {"devices: 0", "chip.devices", "must be positive"},
        {"devices: 65", "chip.devices", "above the maximum of 64"},
        {"devices: 1.5", "chip.devices", ""},
        {"hbm_runtime_limit: maybe", "chip.hbm_runtime_limit", ""},
    };
    for (size_t i = 0; i < sizeof chips / sizeof chips[0]; i++) {
        char text[512];
        snprintf(text, sizeof text,
                 "name: t\nchip: {tflops: {bf16: 1}, hbm_GB: 1, hbm_TBps: 1, tdp_W: 1, %s}\n"
                 "scale_up: {chips: 1, GBps: 1, topology: switch}\n"
                 "scale_out: {Gbps: 1, tiers: [{radix: 2}]}\n",
                 chips[i].chip);
        memset(&D, 0, sizeof D);
        enum us_status st = spec_system_parse("t.yaml", text, strlen(text), &s, &D);
        int ok = st == US_EINPUT && D.line == 2 && strcmp(D.path, chips[i].path) == 0 &&
                 strstr(D.msg, chips[i].part) != NULL;
        CHECK(ok);
        if (!ok)
            show_diag(chips[i].chip);
    }
}

static void check_tiny(const struct spec_model *m)
{
    CHECK_STR(m->name, "tiny");
    CHECK(m->layers == 4 && m->hidden == 256 && m->heads == 8 && m->kv_heads == 2);
    CHECK(m->head_dim == 32 && m->ffn_hidden == 1024 && m->vocab == 32000); /* 256 / 8 */
    CHECK(m->gated_mlp && m->tied_embeddings && !m->has_moe && !m->has_mla);
}

/* training.framework: the default by chip family, what each overlaps, the constants it
 * brings, an explicit tp_comm_overlap winning over the default, and bad names. */
static void test_frameworks(void)
{
    static const char base[] = "model: llama3-8b\nsystem: %s\nchips: 8\n%s"
                               "training: {seq_len: 2048, global_batch: 8%s}\n";
    static const struct {
        const char *sys, *par, *train;
        int fw;
        bool overlap;
    } ok[] = {
        {"dgx-h100", "", "", SPEC_FW_MEGATRON, true},
        {"tpu-v5p-pod", "", "", SPEC_FW_MAXTEXT, true},
        {"trn2-48xl", "", "", SPEC_FW_NEURON, false},
        {"dgx-h100", "", ", framework: torchtitan", SPEC_FW_TORCHTITAN, false},
        {"dgx-h100", "parallel: {tp_comm_overlap: false}\n", "", SPEC_FW_MEGATRON, false},
        {"dgx-h100", "parallel: {tp_comm_overlap: true}\n", ", framework: torchtitan",
         SPEC_FW_TORCHTITAN, true},
        {"mi300x-8", "", ", framework: deepspeed, attention: unfused", SPEC_FW_DEEPSPEED, false},
    };
    char text[512];
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        snprintf(text, sizeof text, base, ok[i].sys, ok[i].par, ok[i].train);
        memset(&D, 0, sizeof D);
        CHECK_OK(spec_job_load_text("fw.yaml", text, strlen(text), NULL, 0, &JOB, &D));
        CHECK(JOB.train.framework == ok[i].fw);
        CHECK(JOB.par.tp_comm_overlap == ok[i].overlap);
        struct spec_fw_params p = spec_framework_params(ok[i].fw);
        CHECK(JOB.train.fw.compute_eff == p.compute_eff && p.compute_eff > 0.2 &&
              p.compute_eff <= 1.0);
        CHECK(JOB.train.fw.kernel_host_s == p.kernel_host_s && p.kernel_host_s >= 0.0);
        CHECK(JOB.train.attention ==
              (strstr(ok[i].train, "unfused") ? SPEC_ATTN_UNFUSED : SPEC_ATTN_FLASH));
    }
    snprintf(text, sizeof text, base, "dgx-h100", "", ", framework: jax");
    enum us_status st = spec_job_load_text("fw.yaml", text, strlen(text), NULL, 0, &JOB, &D);
    CHECK_ERR(st, US_EINPUT, 4, 55, "training.framework", "unknown value 'jax'");
    snprintf(text, sizeof text, base, "dgx-h100", "", ", attention: sdpa");
    st = spec_job_load_text("fw.yaml", text, strlen(text), NULL, 0, &JOB, &D);
    CHECK_ERR(st, US_EINPUT, 4, 55, "training.attention", "unknown value 'sdpa'");
    for (int fw = SPEC_FW_AUTO; fw < SPEC_FW_COUNT; fw++)
        CHECK(strcmp(spec_framework_name(fw), "?") != 0);
}

static void test_jobs(void)
{
    /* model and system by relative path */
    memset(&D, 0, sizeof D);
    CHECK_OK(spec_job_load(SRC "/tests/specs/job_relative.yaml", NULL, 0, &JOB, &D));
    CHECK_STR(JOB.file, SRC "/tests/specs/job_relative.yaml");
    check_tiny(&JOB.model);
    CHECK_STR(JOB.system.name, "toy");
    CHECK(JOB.chips == 64);
    CHECK(JOB.par.tp == 4 && JOB.par.pp == 2 && JOB.par.dp == 8 && JOB.par.cp == 0);
    CHECK(JOB.par.ep == 0 && JOB.par.vpp == 0 && JOB.par.zero == 1);
    CHECK(JOB.par.sequence_parallel == 1 && JOB.par.recompute == US_RECOMPUTE_SELECTIVE);
    /* no framework named: the toy GPU runs megatron, which overlaps TP by default */
    CHECK(JOB.train.framework == SPEC_FW_MEGATRON && JOB.train.attention == SPEC_ATTN_FLASH);
    CHECK(JOB.par.schedule == -1 && JOB.par.tp_comm_overlap);
    CHECK_STR(JOB.par.order, "tp-cp-ep-dp-pp");
    CHECK(JOB.train.seq_len == 2048 && JOB.train.global_batch == 64);
    CHECK(JOB.train.micro_batch == 2 && JOB.train.dtype == US_DTYPE_FP8);
    CHECK_NEAR(JOB.train.tokens, 1.5e9, 1e-12);
    CHECK_NEAR(JOB.scale.usd_per_chip_hour, 1.25, 1e-12);
    CHECK_NEAR(JOB.scale.pue, 1.1, 1e-12);
    CHECK(JOB.scale.seed == 42 && JOB.scale.spare_chips == 2);
    CHECK(JOB.scale.interruptions_per_chip_hour == 0 && JOB.scale.restart_s == 0);

    /* model and system inline */
    CHECK_OK(spec_job_load(SRC "/tests/specs/job_inline.yaml", NULL, 0, &JOB, &D));
    const struct spec_model *m = &JOB.model;
    CHECK_STR(m->name, "inline-moe");
    CHECK(m->kv_heads == 8 && m->head_dim == 32 + 16); /* MLA: nope + rope */
    CHECK(m->has_moe && m->moe.experts == 16 && m->moe.top_k == 2);
    CHECK(m->moe.expert_ffn_hidden == 256 && m->moe.shared_experts == 1);
    CHECK(m->moe.dense_layers == 1 && m->moe.capacity_factor == 1.25);
    CHECK(m->has_mla && m->mla.q_lora_rank == 0 && m->mla.kv_lora_rank == 64);
    CHECK(m->mla.v_head_dim == 32 && m->mtp_layers == 1);
    const struct spec_system *s = &JOB.system;
    CHECK_STR(s->name, "inline-sys");
    CHECK_STR(s->chip.name, "inline-sys"); /* default: the system's name */
    CHECK_NEAR(s->chip.hbm_B, 96e9, 1e-12);
    CHECK_NEAR(s->chip.idle_W, 100, 1e-12);
    CHECK(s->chip.matrix_m == 1 && s->chip.compute_units == 1); /* no quantization */
    CHECK(s->eff.gemm == 0.7 && s->eff.attention == 0.5 && s->eff.memory == 0.8);
    CHECK(s->eff.comm == 0.75);
    CHECK(s->up.topology == SPEC_TOPO_SWITCH && s->up.in_network_reduction);
    CHECK_NEAR(s->up.latency_s, 5e-6, 1e-12);
    CHECK_NEAR(s->out.nic_Bps, 25e9, 1e-12);
    CHECK_NEAR(s->out.latency_s, 4e-6, 1e-12);
    CHECK(s->out.kind == SPEC_FABRIC_FAT_TREE && s->out.ntiers == 2);
    CHECK(s->host_W_per_chip == 100 && s->network_W_per_chip == 20 && s->pue == 1.3);
    CHECK(JOB.chips == 16); /* chips left out: tp 2 x pp 1 x cp 1 x dp 8 */
    CHECK(JOB.par.ep == 4 && JOB.train.dtype == US_DTYPE_BF16 && JOB.train.micro_batch == 0);
    CHECK(JOB.scale.seed == 1);

    /* JSON job: inline system, model by relative path, 1e3-style count */
    CHECK_OK(spec_job_load(SRC "/tests/specs/job.json", NULL, 0, &JOB, &D));
    check_tiny(&JOB.model);
    CHECK_STR(JOB.system.name, "json-sys");
    CHECK(JOB.system.up.topology == SPEC_TOPO_MESH && JOB.system.chips_per_node == 2);
    CHECK(JOB.chips == 1000 && JOB.train.global_batch == 1000);

    /* a HuggingFace config.json as the job's model */
    CHECK_OK(spec_job_load(SRC "/tests/specs/job_hf.yaml", NULL, 0, &JOB, &D));
    CHECK_STR(JOB.model.name, "llama-3.1-405b");
    CHECK(JOB.model.layers == 126 && JOB.model.ffn_hidden == 53248 && JOB.chips == 16384);

    /* presets by name; every parallel field left for search */
    CHECK_OK(spec_job_load(SRC "/tests/specs/job_presets.yaml", NULL, 0, &JOB, &D));
    CHECK_STR(JOB.model.name, "llama3-8b");
    CHECK_STR(JOB.system.name, "dgx-h100");
    CHECK(JOB.par.tp == 0 && JOB.par.pp == 0 && JOB.par.zero == -1);
    CHECK(JOB.par.sequence_parallel == -1 && JOB.par.recompute == -1);

    /* job-level checks */
    static const struct {
        const char *text;
        int line, col;
        const char *path, *part;
    } cases[] = {
        {"model: llama3-8b\nsystem: dgx-h100\ntraining: {seq_len: 8, global_batch: 8}\n", 1, 1,
         "chips", "missing required key 'chips'"},
        {"system: dgx-h100\nchips: 8\n", 1, 1, "model", "missing required key 'model'"},
        {"model: llama3-8b\nsystem: dgx-h100\nchips: 8\n", 1, 1, "training",
         "missing required key 'training'"},
        {"model: llama3-8b\nsystem: dgx-h100\nchips: 1.5e0\n", 3, 8, "chips",
         "expected an integer, got '1.5e0'"},
        {"model: llama3-8b\nsystem: dgx-h1000\n", 2, 9, "system",
         "unknown system preset 'dgx-h1000' (known: dgx-a100"},
        {"model: llama3-8b\nsystem: dgx-h100\nchips: 8\nparallel: {order: tp-dp-ep-dp-pp}\n", 4, 19,
         "parallel.order", "must name tp, cp, ep, dp and pp once each"},
        {"model: llama3-8b\nsystem: dgx-h100\nchips: 8\nparallel: {zero: 4}\n", 4, 18,
         "parallel.zero", "4 is above the maximum of 3"},
        {"model: llama3-8b\nsystem: dgx-h100\nchips: 8\ntraining: {seq_len: 8, global_batch: 8, "
         "dtype: fp4}\n",
         4, 48, "training.dtype", "system dgx-h100 gives no fp4 peak"},
        {"- model\n- system\n", 1, 1, "", "expected a mapping, got a sequence"},
        {"model: [llama3-8b]\nsystem: dgx-h100\nchips: 8\n", 1, 8, "model",
         "expected a mapping, got a sequence"},
        {"model: null\nsystem: dgx-h100\nchips: 8\n", 1, 8, "model",
         "expected a preset name, a path or a mapping, got null"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(&D, 0, sizeof D);
        enum us_status st =
            spec_job_load_text("j.yaml", cases[i].text, strlen(cases[i].text), NULL, 0, &JOB, &D);
        CHECK_ERR(st, US_EINPUT, cases[i].line, cases[i].col, cases[i].path, cases[i].part);
        CHECK_STR(D.file, "j.yaml");
    }
}

static enum us_status job_with(const char *file, const char *const *sets, size_t n)
{
    memset(&D, 0, sizeof D);
    return spec_job_load(file, sets, n, &JOB, &D);
}

static void test_sets(void)
{
    const char *presets = SRC "/tests/specs/job_presets.yaml";
    const char *relative = SRC "/tests/specs/job_relative.yaml";
    {
        const char *s[] = {"parallel.tp=8"};
        CHECK_OK(job_with(presets, s, 1));
        CHECK(JOB.par.tp == 8 && JOB.par.pp == 0);
    }
    {
        const char *s[] = {"parallel={tp: 8, pp: 4}", "chips=2e3"};
        CHECK_OK(job_with(presets, s, 2));
        CHECK(JOB.par.tp == 8 && JOB.par.pp == 4 && JOB.chips == 2000);
    }
    {
        /* later overrides win; a preset swapped for another */
        const char *s[] = {"model=llama3-70b", "parallel.tp=2", "parallel.tp=4"};
        CHECK_OK(job_with(presets, s, 3));
        CHECK_STR(JOB.model.name, "llama3-70b");
        CHECK(JOB.par.tp == 4);
    }
    {
        /* a field inside a preset referenced by name: the preset is copied, then changed */
        const char *s[] = {"system.chip.usd_per_hour=3"};
        CHECK_OK(job_with(presets, s, 1));
        CHECK_STR(JOB.system.name, "dgx-h100");
        CHECK_NEAR(JOB.system.chip.usd_per_hour, 3.0, 1e-12);
    }
    {
        /* inside files named by relative paths, a list item, a scalar list */
        const char *s[] = {"system.chip.usd_per_hour=3",
                           "system.scale_out.tiers[1].oversubscription=4", "model.layers=2",
                           "system.chip.matrix_tile[1]=256",
                           "system.scale_out.tiers[0]={radix: 8}"};
        CHECK_OK(job_with(relative, s, 5));
        CHECK_NEAR(JOB.system.chip.usd_per_hour, 3.0, 1e-12);
        CHECK(JOB.system.out.tiers[1].oversub == 4.0 && JOB.system.out.tiers[0].radix == 8);
        CHECK(JOB.system.out.tiers[0].oversub == 1.0);
        CHECK(JOB.model.layers == 2 && JOB.model.hidden == 256);
        CHECK(JOB.system.chip.matrix_m == 128 && JOB.system.chip.matrix_n == 256);
    }
    {
        /* inside a HuggingFace config.json: converted to a model mapping, then changed */
        const char *s[] = {"model.layers=3", "model.moe={experts: 4, top_k: 1, "
                                             "expert_ffn_hidden: 512}"};
        CHECK_OK(job_with(SRC "/tests/specs/job_hf.yaml", s, 2));
        CHECK_STR(JOB.model.name, "llama-3.1-405b");
        CHECK(JOB.model.layers == 3 && JOB.model.hidden == 16384 && JOB.model.kv_heads == 8);
        CHECK(JOB.model.has_moe && JOB.model.moe.experts == 4);
    }
    {
        /* a key the file does not have yet; a new mapping on the way */
        const char *s[] = {"scale.pue=1.5", "training.micro_batch=4"};
        CHECK_OK(job_with(relative, s, 2));
        CHECK(JOB.scale.pue == 1.5 && JOB.train.micro_batch == 4 && JOB.scale.seed == 42);
    }

    /* errors: file "--set", line 1, the column in "key=value", the path */
    static const struct {
        const char *set;
        int line, col;
        const char *path, *part;
    } bad[] = {
        {"parallel.tp=8x", 1, 13, "parallel.tp", "expected an integer, got '8x'"},
        {"parallel.tp=-2", 1, 13, "parallel.tp", "-2 must be positive"},
        {"parallel.tp=", 1, 13, "parallel.tp", "expected an integer, got null"},
        {"parallel.tp=[1", 1, 15, "parallel.tp", "syntax error"},
        {"parallel.tp=\"8\"", 1, 13, "parallel.tp", "the quoted string '8'"},
        {"parallel.tq=8", 1, 10, "parallel.tq", "unknown key 'tq' (known: tp, pp, dp"},
        {"paralel.tp=8", 1, 1, "paralel", "unknown key 'paralel' (known: model, system, chips"},
        {"parallel.tp", 1, 1, "", "expected key=value, got 'parallel.tp'"},
        {"=8", 1, 1, "", "expected key=value"},
        {"parallel..tp=8", 1, 10, "parallel.", "empty key"},
        {"parallel.tp.x=1", 1, 13, "parallel.tp", "'tp' holds a value, not keys"},
        {"system.scale_out.tiers[9].radix=8", 1, 23, "system.scale_out.tiers[9]",
         "index 9 is out of range (2 items)"},
        {"system.scale_out.tiers.radix=8", 1, 23, "system.scale_out.tiers",
         "'tiers' is a list; give an index"},
        {"system.scale_out.tiers[x]=8", 1, 23, "system.scale_out.tiers",
         "expected an index like [0]"},
        {"parallel.tp[0]=8", 1, 12, "parallel.tp", "'tp' is not a list"},
        {"model=no-such-preset", 1, 7, "model", "unknown model preset 'no-such-preset'"},
        {"system.chip.tdp_W=0", 1, 19, "system.chip.tdp_W", "'0' is below the minimum of 1"},
        {"system.chip.hbm_TB=1", 1, 13, "system.chip.hbm_TB", "unknown key 'hbm_TB'"},
        {"parallel={tp: 8, tq: 2}", 1, 18, "parallel.tq", "unknown key 'tq'"},
        {"parallel.recompute=some", 1, 20, "parallel.recompute", "unknown value 'some'"},
        {"model.layers=1e3", 1, 14, "model.layers", "expected an integer, got '1e3'"},
        {"chips=\xff", 1, 7, "chips", "invalid UTF-8"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *s[] = {bad[i].set};
        enum us_status st = job_with(relative, s, 1);
        CHECK_ERR(st, US_EINPUT, bad[i].line, bad[i].col, bad[i].path, bad[i].part);
        CHECK_STR(D.file, "--set");
    }
}

/* Every embedded preset parses and passes the checks; the presets all exist. */
static void test_presets(void)
{
    size_t nsys = catalog_count(CATALOG_KIND_SYSTEM), nmod = catalog_count(CATALOG_KIND_MODEL);
    CHECK(nsys >= 21 && nmod >= 9);
    for (size_t i = 0; i < nsys; i++) {
        const struct catalog_entry *e = catalog_at(CATALOG_KIND_SYSTEM, i);
        struct spec_system s;
        memset(&D, 0, sizeof D);
        CHECK_OK(spec_system_load(e->name, &s, &D));
        CHECK_STR(s.name, e->name);
        CHECK(s.chip.peak_flops[US_DTYPE_BF16] > 0 && s.chip.hbm_B > 0 && s.out.ntiers >= 1);
        /* only the v6e preset's HBM is the runtime's bytes_limit (vllm_16211) */
        CHECK(s.chip.hbm_runtime_limit == (strcmp(e->name, "tpu-v6e-pod") == 0));
        CHECK_OK(spec_system_parse(e->origin, e->text, e->len, &s, &D));
    }
    for (size_t i = 0; i < nmod; i++) {
        const struct catalog_entry *e = catalog_at(CATALOG_KIND_MODEL, i);
        struct spec_model m;
        memset(&D, 0, sizeof D);
        CHECK_OK(spec_model_load(e->name, &m, &D));
        CHECK_STR(m.name, e->name);
        CHECK_OK(spec_model_check(&m, e->origin, &D));
    }
    static const char *const systems[] = {
        "dgx-a100",         "dgx-h100",         "dgx-h200",    "dgx-b200",  "gb200-nvl72",
        "gb300-nvl72",      "mi300x-8",         "mi355x-8",    "trn1-32xl", "trn2-48xl",
        "trn2-ultraserver", "trn3-ultraserver", "tpu-v5p-pod", "dgx-b300",  "tpu-v4-pod",
        "tpu-v5e-pod",      "tpu-v6e-pod",      "tpu7x-pod",   "mi325x-8",  "mi350x-8",
        "gaudi2-8"};
    static const char *const models[] = {"gpt3-175b",      "llama3-8b",     "llama3-70b",
                                         "llama3-405b",    "mixtral-8x22b", "deepseek-v3",
                                         "nemotron4-340b", "dense-1t",      "moe-2t"};
    for (size_t i = 0; i < sizeof systems / sizeof systems[0]; i++)
        CHECK(catalog_find(CATALOG_KIND_SYSTEM, systems[i]) != NULL);
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
        CHECK(catalog_find(CATALOG_KIND_MODEL, models[i]) != NULL);

    /* an unknown preset lists the known ones */
    struct spec_model m;
    memset(&D, 0, sizeof D);
    CHECK(spec_model_load("llama4-9000b", &m, &D) == US_EINPUT);
    CHECK(strstr(D.msg, "unknown model preset 'llama4-9000b' (known: ") != NULL);
    CHECK(strstr(D.msg, "llama3-405b") != NULL);
}

/* The presets added for the 138-run calibration set, each held to its source's own figures:
 * dense peak BF16 (TFLOP/s), HBM (bytes, as the source states it: GB or GiB) and the
 * scale-up domain (chips). A typo in a preset fails here, not in a prediction. */
static void test_new_presets_against_sources(void)
{
    static const struct {
        const char *name;
        double bf16_tflops, hbm_B;
        int domain;
        const char *src; /* docs/CATALOG.md "Sources" */
    } want[] = {
        {"tpu-v4-pod", 275, 32 * GIB_B, 4096, "gcloud_v4: 275 TF, 32 GiB HBM2, 4,096-chip pod"},
        {"tpu-v5e-pod", 197, 16e9, 256, "gcloud_v5e: 197 TF, 16 GB HBM2, 256-chip 16x16 pod"},
        {"tpu-v6e-pod", 918, 31.25 * GIB_B, 256,
         "gcloud_v6e: 918 TF, 256-chip pod; vllm_16211: 33,550,237,696 B usable"},
        {"tpu7x-pod", 2307, 192 * GIB_B, 9216, "gcloud_tpu7x: 2,307 TF, 192 GiB, 9,216-chip pod"},
        {"mi325x-8", 1307.4, 256e9, 8, "awesomeagents_mi325x 1,307.4 TF; unanswered_mi325x 256 GB"},
        {"mi350x-8", 2306.9, 288e9, 8, "spheron_mi350x 2,307 TF dense; toms_mi355x 288 GB, 8 GPUs"},
        {"dgx-b300", 2250, 270e9, 8, "verda_gb300 B300 column: 2,250 TF, 270 GB; 8 per HGX board"},
        {"gaudi2-8", 432, 96e9, 8, "intel_hc2024_gaudi3: 432 TF, 96 GB; habana_net_config: 8"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        struct spec_system s;
        memset(&D, 0, sizeof D);
        CHECK_OK(spec_system_load(want[i].name, &s, &D));
        CHECK_NEAR(s.chip.peak_flops[US_DTYPE_BF16], want[i].bf16_tflops * 1e12, 5e-4);
        CHECK_NEAR(s.chip.hbm_B, want[i].hbm_B, 1e-9);
        CHECK(s.up.chips == want[i].domain);
        if (s.up.chips != want[i].domain || fabs(s.chip.hbm_B - want[i].hbm_B) > 1)
            fprintf(stderr, "  %s: against %s\n", want[i].name, want[i].src);
    }
}

/* The note spec_sources_load gives a field path, or NULL when the line has no comment. */
static const char *note_of(const struct spec_source *src, size_t n, const char *path)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(src[i].path, path) == 0)
            return src[i].note;
    return NULL;
}

/* docs/CATALOG.md: every number of a preset says where it came from - a source key, a
 * derivation, an assumption with its reason, or the preset it is inherited from - and
 * `show` prints those notes beside the fields they describe. */
static void test_preset_sources(void)
{
    static const char *const must[] = {"chip.tflops.bf16",  "chip.hbm_TBps",   "chip.tdp_W",
                                       "chip.usd_per_hour", "efficiency.gemm", "scale_up.chips",
                                       "scale_up.GBps",     "scale_out.Gbps",  "pue"};
    static const char *const kinds[] = {"src:",      "derived:", "assumption",
                                        "inherited", "initial;", "fitted:"};
    for (size_t i = 0; i < catalog_count(CATALOG_KIND_SYSTEM); i++) {
        const struct catalog_entry *e = catalog_at(CATALOG_KIND_SYSTEM, i);
        struct spec_source *src = NULL;
        size_t n = 0;
        memset(&D, 0, sizeof D);
        CHECK_OK(spec_sources_load(e->name, false, &src, &n, &D));
        const char *hbm = note_of(src, n, "chip.hbm_GB");
        if (!hbm)
            hbm = note_of(src, n, "chip.hbm_GiB");
        for (size_t k = 0; k <= sizeof must / sizeof must[0]; k++) {
            const char *note = k < sizeof must / sizeof must[0] ? note_of(src, n, must[k]) : hbm;
            int sourced = 0;
            for (size_t j = 0; note && j < sizeof kinds / sizeof kinds[0]; j++)
                sourced |= strncmp(note, kinds[j], strlen(kinds[j])) == 0;
            CHECK(sourced);
            if (!sourced)
                fprintf(stderr, "  %s: %s has no source note\n", e->name,
                        k < sizeof must / sizeof must[0] ? must[k] : "chip.hbm_GB");
        }
        free(src);
    }

    /* A '#' inside quotes is text; flow collections keep their comment; block mappings
     * take their key line's; lines without a comment give nothing. */
    char path[64];
    snprintf(path, sizeof path, "/tmp/test_spec_src_%d.yaml", (int)getpid());
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs("# header comment\n"
          "name: src-toy\n"
          "description: \"a # in quotes\"   # the real comment\n"
          "chip:   # the chip block\n"
          "  tflops: {bf16: 100, fp8: 200}   # src: made up\n"
          "  hbm_GB: 80#not a comment\n"
          "  hbm_TBps: 2\n",
          f);
    fclose(f);
    struct spec_source *src = NULL;
    size_t n = 0;
    memset(&D, 0, sizeof D);
    CHECK_OK(spec_sources_load(path, false, &src, &n, &D));
    CHECK(n == 3);
    if (n == 3) {
        CHECK_STR(src[0].path, "description");
        CHECK_STR(src[0].value, "\"a # in quotes\"");
        CHECK_STR(src[0].note, "the real comment");
        CHECK_STR(src[1].path, "chip");
        CHECK_STR(src[1].value, "");
        CHECK_STR(src[1].note, "the chip block");
        CHECK_STR(src[2].path, "chip.tflops");
        CHECK_STR(src[2].value, "{bf16: 100, fp8: 200}");
        CHECK_STR(src[2].note, "src: made up");
    }
    free(src);

    /* A note longer than the field is cut between characters, never inside one: 400
     * two-byte characters (x) leave valid UTF-8 behind. */
    f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs("name: src-toy\nchip:\n  hbm_GB: 80   # ", f);
    for (int i = 0; i < 400; i++)
        fputs("\xc3\x97", f);
    fputs("\n", f);
    fclose(f);
    memset(&D, 0, sizeof D);
    CHECK_OK(spec_sources_load(path, false, &src, &n, &D));
    CHECK(n == 1);
    if (n == 1) {
        size_t len = strlen(src[0].note);
        CHECK(len > 0 && len < sizeof src[0].note);
        CHECK(core_utf8_check((const unsigned char *)src[0].note, len) == len);
    }
    free(src);
    remove(path);
    memset(&D, 0, sizeof D);
    CHECK(spec_sources_load("no-such-system", false, &src, &n, &D) == US_EINPUT);
    CHECK(src == NULL && n == 0);
}

/* Single-quoted strings are read by the loader itself (tree.c): '' is a quote, and line
 * breaks fold as YAML 1.2.2 section 7.3.2 says. Strings may not hold control characters,
 * so each value is written where an integer belongs and read back from the message, which
 * shows a newline as \x0a and a quote as \x27. */
static void test_quoted_strings(void)
{
    static const struct {
        const char *value; /* the text after "layers: " */
        const char *shown; /* the value as the message quotes it */
    } cases[] = {
        {"'it''s'", "it\\x27s"},
        /* 8 escaped quotes in a row: libfyaml 0.7.12 leaked reading these */
        {"''''''''''''''''''", "\\x27\\x27\\x27\\x27\\x27\\x27\\x27\\x27"},
        {"'  lead and trail  '", "  lead and trail  "}, /* one line: white space kept */
        {"'a  \n  b'", "a b"},                          /* a break folds to one space */
        {"'a\n\n  b'", "a\\x0ab"},                      /* an empty line is a newline */
        {"'a \n   \n \n  b'", "a\\x0a\\x0ab"},          /* white-space-only lines are empty */
        {"'a\r\n  b''c'", "a b\\x27c"},                 /* CR LF is one break */
        {"'a\n  b\n\n  c  \n  '", "a b\\x0ac "},        /* the closing line folds to a space */
        {"\"x''y\"", "x\\x27\\x27y"},                   /* double quotes: '' is two quotes */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[256], want[160];
        struct spec_model m;
        snprintf(text, sizeof text,
                 "name: s\nlayers: %s\nhidden: 64\nheads: 4\nffn_hidden: 128\nvocab: 10\n",
                 cases[i].value);
        snprintf(want, sizeof want, "expected an integer, got the quoted string '%s'",
                 cases[i].shown);
        memset(&D, 0, sizeof D);
        CHECK_ERR(spec_model_parse("s.yaml", text, strlen(text), &m, &D), US_EINPUT, 2, 9, "layers",
                  want);
    }
    /* lone carriage returns in a double-quoted string: libfyaml 0.7.12 reads such a string
     * two ways (and leaked when asked for it); it is refused where it starts */
    const char *cr = "{\"name\": \"s\", \"layers\": 2, \"hidden\": 64, \"heads\": 4, "
                     "\"ffn_hidden\": 128, \"vocab\": 10, \"description\": "
                     "\"a\r\rb\r\n\r\r\r\n\t\r\n\r\r\n\n  \"}";
    struct spec_model m;
    memset(&D, 0, sizeof D);
    CHECK_ERR(spec_model_parse("s.yaml", cr, strlen(cr), &m, &D), US_EINPUT, 1, 101, "description",
              "the YAML reader cannot read this scalar reliably");
    /* a string that is fine where a string belongs */
    const char *t = "name: 'it''s'\nlayers: 2\nhidden: 64\nheads: 4\nffn_hidden: 128\nvocab: 10\n";
    memset(&D, 0, sizeof D);
    CHECK_OK(spec_model_parse("s.yaml", t, strlen(t), &m, &D));
    CHECK_STR(m.name, "it's");
}

/* The spares and snapshot keys of scale: (read by scale/ when scale_input leaves them 0). */
static void test_scale_keys(void)
{
    const char *head = "model: llama3-8b\nsystem: dgx-h100\nchips: 64\n"
                       "training: {seq_len: 8, global_batch: 8}\n";
    char text[512];
    snprintf(text, sizeof text,
             "%sscale: {spare_chips: 8, spare_policy: hot, reschedule_min: 2.5, repair_hours: 48,"
             "\n        snapshot_GBps_per_chip: 25, restart_min: 10}\n",
             head);
    memset(&D, 0, sizeof D);
    CHECK_OK(spec_job_load_text("j.yaml", text, strlen(text), NULL, 0, &JOB, &D));
    CHECK(JOB.scale.spare_policy == SPEC_SPARES_HOT && JOB.scale.spare_chips == 8);
    CHECK_NEAR(JOB.scale.reschedule_s, 150.0, 1e-12);         /* 2.5 min */
    CHECK_NEAR(JOB.scale.repair_s, 172800.0, 1e-12);          /* 48 h */
    CHECK_NEAR(JOB.scale.snapshot_Bps_per_chip, 25e9, 1e-12); /* 25 GB/s */
    /* left out: 0, which scale/ reads as its default */
    snprintf(text, sizeof text, "%sscale: {seed: 3}\n", head);
    CHECK_OK(spec_job_load_text("j.yaml", text, strlen(text), NULL, 0, &JOB, &D));
    CHECK(JOB.scale.spare_policy == SPEC_SPARES_AUTO && JOB.scale.reschedule_s == 0);
    CHECK(JOB.scale.repair_s == 0 && JOB.scale.snapshot_Bps_per_chip == 0);
    /* through --set, every policy name */
    static const char *const names[] = {"auto", "pool", "hot", "shrink_dp"};
    for (int i = 0; i < 4; i++) {
        char set1[64];
        snprintf(set1, sizeof set1, "scale.spare_policy=%s", names[i]);
        const char *sets[] = {"scale.spare_chips=16", set1};
        memset(&D, 0, sizeof D);
        CHECK_OK(spec_job_load_text("j.yaml", head, strlen(head), sets, 2, &JOB, &D));
        CHECK(JOB.scale.spare_policy == i);
    }

    static const struct {
        const char *scale; /* line 5 */
        int col;
        const char *path, *part;
    } bad[] = {
        {"scale: {spare_policy: spare}", 23, "scale.spare_policy",
         "unknown value 'spare' (expected one of: auto, pool, hot, shrink_dp)"},
        {"scale: {spare_chips: 4, spare_policy: hot}", 39, "scale.spare_policy",
         "hot spares need spare_chips of at least one node (8 chips on dgx-h100), got 4"},
        {"scale: {restart_min: 15, reschedule_min: 20}", 42, "scale.reschedule_min",
         "reschedule_min 20 is above the restart time of 15 min (scale.restart_min)"},
        {"scale: {reschedule_min: 16}", 25, "scale.reschedule_min",
         "reschedule_min 16 is above the restart time of 15 min (system "
         "reliability.restart_min)"},
        {"scale: {reschedule_min: 0}", 25, "scale.reschedule_min", "'0' must be positive"},
        {"scale: {repair_hours: -1}", 23, "scale.repair_hours", "'-1' must be positive"},
        {"scale: {repair_hours: 24h}", 23, "scale.repair_hours", "expected a number, got '24h'"},
        {"scale: {snapshot_GBps_per_chip: 1e5}", 33, "scale.snapshot_GBps_per_chip",
         "'1e5' is above the maximum of 10000"},
        {"scale: {snapshot_GBps: 25}", 9, "scale.snapshot_GBps", "unknown key 'snapshot_GBps'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, "%s%s\n", head, bad[i].scale);
        memset(&D, 0, sizeof D);
        enum us_status st = spec_job_load_text("j.yaml", text, strlen(text), NULL, 0, &JOB, &D);
        CHECK_ERR(st, US_EINPUT, 5, bad[i].col, bad[i].path, bad[i].part);
    }
}

static void test_model_check(void)
{
    struct spec_model m;
    memset(&m, 0, sizeof m);
    strcpy(m.name, "x");
    m.layers = 2;
    m.hidden = 64;
    m.heads = 4;
    m.kv_heads = 2;
    m.head_dim = 16;
    m.ffn_hidden = 128;
    m.vocab = 10;
    memset(&D, 0, sizeof D);
    CHECK_OK(spec_model_check(&m, "m.yaml", &D));
    m.kv_heads = 3;
    CHECK_ERR(spec_model_check(&m, "m.yaml", &D), US_EINPUT, 0, 0, "kv_heads",
              "heads 4 is not a multiple of kv_heads 3");
    m.kv_heads = 8;
    CHECK_ERR(spec_model_check(&m, "m.yaml", &D), US_EINPUT, 0, 0, "kv_heads",
              "kv_heads 8 is above heads 4");
    m.kv_heads = 1;
    m.head_dim = 0;
    CHECK_ERR(spec_model_check(&m, "m.yaml", &D), US_EINPUT, 0, 0, "head_dim",
              "head_dim 0 is outside 1..16384");
    m.head_dim = 256; /* 256 x 4 = 1024 > 8 x 64 */
    CHECK_ERR(spec_model_check(&m, "m.yaml", &D), US_EINPUT, 0, 0, "head_dim",
              "is not within 8x of hidden 64");
    m.head_dim = 16;
    m.has_moe = true;
    m.moe.experts = 4;
    m.moe.top_k = 5;
    m.moe.expert_ffn_hidden = 32;
    CHECK_ERR(spec_model_check(&m, "m.yaml", &D), US_EINPUT, 0, 0, "moe.top_k",
              "top_k 5 is above experts 4");
    m.moe.top_k = 2;
    m.moe.dense_layers = 3;
    CHECK_ERR(spec_model_check(&m, "m.yaml", &D), US_EINPUT, 0, 0, "moe.dense_layers",
              "dense_layers 3 is outside 0..layers (2)");
    m.moe.dense_layers = 2;
    CHECK_OK(spec_model_check(&m, "m.yaml", &D));
    m.has_mla = true;
    m.mla.kv_lora_rank = 0;
    m.mla.v_head_dim = 8;
    m.mla.qk_rope_head_dim = 8;
    CHECK_ERR(spec_model_check(&m, "m.yaml", &D), US_EINPUT, 0, 0, "mla.kv_lora_rank",
              "kv_lora_rank 0 is outside");
    m.mla.kv_lora_rank = 16;
    m.mtp_layers = 3;
    CHECK_ERR(spec_model_check(&m, "m.yaml", &D), US_EINPUT, 0, 0, "mtp_layers",
              "mtp_layers 3 is outside 0..layers (2)");
    CHECK_STR(D.file, "m.yaml");
}

/* model.hidden_dropout and training.grad_reduce_dtype (issues 2/3 follow-up). */
static void test_dropout_and_grad_reduce(void)
{
    struct spec_model m;
    /* HuggingFace names: GPT-2's resid_pdrop (0.1 in gpt2-xl.json and GPT2Config's
     * default), GPT-NeoX's hidden_dropout (absent in gpt-neox-20b.json: 0), BERT-style
     * hidden_dropout_prob; null counts as absent. */
    memset(&D, 0, sizeof D);
    CHECK_OK(spec_model_load(HF "/gpt2-xl.json", &m, &D));
    CHECK_NEAR(m.hidden_dropout, 0.1, 1e-15);
    CHECK_OK(spec_model_load(HF "/gpt-neox-20b.json", &m, &D));
    CHECK(m.hidden_dropout == 0.0);
    CHECK_OK(spec_model_load(HF "/llama-3-8b.json", &m, &D));
    CHECK(m.hidden_dropout == 0.0);
    static const struct {
        const char *json;
        double want;
    } hf[] = {
        {"{\"model_type\": \"gpt2\", \"n_embd\": 64, \"n_layer\": 2, \"n_head\": 4, "
         "\"vocab_size\": 100, \"resid_pdrop\": 0.25}",
         0.25},
        {"{\"model_type\": \"gpt2\", \"n_embd\": 64, \"n_layer\": 2, \"n_head\": 4, "
         "\"vocab_size\": 100, \"resid_pdrop\": null}",
         0.1},
        {"{\"model_type\": \"gpt2\", \"n_embd\": 64, \"n_layer\": 2, \"n_head\": 4, "
         "\"vocab_size\": 100, \"resid_pdrop\": 0}",
         0.0},
        {"{\"model_type\": \"gpt_neox\", \"hidden_size\": 64, \"num_hidden_layers\": 2, "
         "\"num_attention_heads\": 4, \"intermediate_size\": 256, \"vocab_size\": 100, "
         "\"hidden_dropout\": 0.05}",
         0.05},
        {"{\"model_type\": \"llama\", \"hidden_size\": 64, \"num_hidden_layers\": 2, "
         "\"num_attention_heads\": 4, \"intermediate_size\": 256, \"vocab_size\": 100, "
         "\"hidden_dropout_prob\": 0.2}",
         0.2},
        {"{\"model_type\": \"llama\", \"hidden_size\": 64, \"num_hidden_layers\": 2, "
         "\"num_attention_heads\": 4, \"intermediate_size\": 256, \"vocab_size\": 100, "
         "\"hidden_dropout\": null, \"hidden_dropout_prob\": 0.3}",
         0.3},
    };
    for (size_t i = 0; i < sizeof hf / sizeof hf[0]; i++) {
        memset(&D, 0, sizeof D);
        memset(&m, 0, sizeof m);
        CHECK_OK(spec_model_parse_hf("c.json", hf[i].json, strlen(hf[i].json), &m, &D));
        CHECK_NEAR(m.hidden_dropout, hf[i].want, 1e-15);
    }
    const char *bad_hf = "{\"model_type\": \"gpt2\", \"n_embd\": 64, \"n_layer\": 2, \"n_head\": "
                         "4, \"vocab_size\": 100, \"resid_pdrop\": 2}";
    memset(&D, 0, sizeof D);
    CHECK(spec_model_parse_hf("c.json", bad_hf, strlen(bad_hf), &m, &D) == US_EINPUT);
    CHECK(strcmp(D.path, "resid_pdrop") == 0);

    /* A native model: hidden_dropout in 0..1, default 0; it survives --set into a
     * HuggingFace model inside a job (the config becomes a model mapping first). */
    const char *head = "model: {name: t, layers: 2, hidden: 64, heads: 4, ffn_hidden: 256, "
                       "vocab: 100, hidden_dropout: 0.1}\n"
                       "system: dgx-h100\nchips: 8\n"
                       "training: {seq_len: 8, global_batch: 8}\n";
    memset(&D, 0, sizeof D);
    CHECK_OK(spec_job_load_text("j.yaml", head, strlen(head), NULL, 0, &JOB, &D));
    CHECK_NEAR(JOB.model.hidden_dropout, 0.1, 1e-15);
    /* grad_reduce_dtype left out: Megatron's default (fp32 for bf16) */
    CHECK(JOB.train.grad_reduce == SPEC_GRAD_REDUCE_AUTO);
    /* cuda_graph left out: kernels launched one by one */
    CHECK(!JOB.train.cuda_graph_full);
    {
        const char *sets[] = {"training.cuda_graph=full_iteration"};
        memset(&D, 0, sizeof D);
        CHECK_OK(spec_job_load_text("j.yaml", head, strlen(head), sets, 1, &JOB, &D));
        CHECK(JOB.train.cuda_graph_full);
    }
    /* fp8_recipe left out: not stated, no quantization launch priced; stated, TE's count */
    CHECK(JOB.train.fp8_recipe == SPEC_FP8_RECIPE_AUTO && spec_fp8_quant_launches(0) == 0);
    {
        const char *sets[] = {"training.dtype=fp8", "training.fp8_recipe=tensorwise"};
        memset(&D, 0, sizeof D);
        CHECK_OK(spec_job_load_text("j.yaml", head, strlen(head), sets, 2, &JOB, &D));
        CHECK(JOB.train.fp8_recipe == SPEC_FP8_RECIPE_TENSORWISE);
        CHECK(spec_fp8_quant_launches(JOB.train.fp8_recipe) == 3);
        sets[1] = "training.fp8_recipe=mxfp8";
        CHECK_OK(spec_job_load_text("j.yaml", head, strlen(head), sets, 2, &JOB, &D));
        CHECK(spec_fp8_quant_launches(JOB.train.fp8_recipe) == 1);
    }
    {
        const char *sets[] = {"model=" HF "/gpt2-xl.json", "model.hidden_dropout=0"};
        memset(&D, 0, sizeof D);
        CHECK_OK(spec_job_load_text("j.yaml", head, strlen(head), sets, 1, &JOB, &D));
        CHECK_NEAR(JOB.model.hidden_dropout, 0.1, 1e-15);
        CHECK_OK(spec_job_load_text("j.yaml", head, strlen(head), sets, 2, &JOB, &D));
        CHECK(JOB.model.hidden_dropout == 0.0 && JOB.model.layers == 48);
    }
    static const char *const names[] = {"fp32", "bf16"};
    static const int want[] = {SPEC_GRAD_REDUCE_FP32, SPEC_GRAD_REDUCE_BF16};
    for (int i = 0; i < 2; i++) {
        char set[64];
        snprintf(set, sizeof set, "training.grad_reduce_dtype=%s", names[i]);
        const char *sets[] = {set, "training.dtype=fp8"};
        memset(&D, 0, sizeof D);
        CHECK_OK(spec_job_load_text("j.yaml", head, strlen(head), sets, 1, &JOB, &D));
        CHECK(JOB.train.grad_reduce == want[i] && JOB.train.dtype == US_DTYPE_BF16);
        CHECK_OK(spec_job_load_text("j.yaml", head, strlen(head), sets, 2, &JOB, &D));
        CHECK(JOB.train.grad_reduce == want[i] && JOB.train.dtype == US_DTYPE_FP8);
    }

    static const struct {
        const char *text;
        int line, col;
        const char *path, *part;
    } bad[] = {
        {"model: {name: t, layers: 2, hidden: 64, heads: 4, ffn_hidden: 256, vocab: 100, "
         "hidden_dropout: 1.5}\nsystem: dgx-h100\nchips: 8\ntraining: {seq_len: 8, "
         "global_batch: 8}\n",
         1, 96, "model.hidden_dropout", "'1.5' is above the maximum of 1"},
        {"model: llama3-8b\nsystem: dgx-h100\nchips: 8\n"
         "training: {seq_len: 8, global_batch: 8, dtype: fp16, grad_reduce_dtype: bf16}\n",
         4, 73, "training.grad_reduce_dtype", "grad_reduce_dtype bf16 needs bf16 parameters"},
        {"model: llama3-8b\nsystem: dgx-h100\nchips: 8\n"
         "training: {seq_len: 8, global_batch: 8, grad_reduce_dtype: fp16}\n",
         4, 60, "training.grad_reduce_dtype", "unknown value 'fp16' (expected one of: fp32, bf16)"},
        {"model: llama3-8b\nsystem: dgx-h100\nchips: 8\n"
         "training: {seq_len: 8, global_batch: 8, cuda_graph: mlp}\n",
         4, 53, "training.cuda_graph",
         "unknown value 'mlp' (expected one of: none, full_iteration)"},
        {"model: llama3-8b\nsystem: dgx-h100\nchips: 8\n"
         "training: {seq_len: 8, global_batch: 8, fp8_recipe: mxfp8}\n",
         4, 53, "training.fp8_recipe", "fp8_recipe mxfp8 needs fp8 training (dtype is bf16)"},
        {"model: llama3-8b\nsystem: dgx-h100\nchips: 8\n"
         "training: {seq_len: 8, global_batch: 8, dtype: fp8, fp8_recipe: delayed}\n",
         4, 65, "training.fp8_recipe",
         "unknown value 'delayed' (expected one of: auto, tensorwise, mxfp8)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&D, 0, sizeof D);
        enum us_status st =
            spec_job_load_text("j.yaml", bad[i].text, strlen(bad[i].text), NULL, 0, &JOB, &D);
        CHECK_ERR(st, US_EINPUT, bad[i].line, bad[i].col, bad[i].path, bad[i].part);
    }
    /* fp16 training may still ask for fp32 grads (Megatron's
     * --accumulate-allreduce-grads-in-fp32) */
    const char *fp16 = "model: llama3-8b\nsystem: dgx-h100\nchips: 8\n"
                       "training: {seq_len: 8, global_batch: 8, dtype: fp16, "
                       "grad_reduce_dtype: fp32}\n";
    memset(&D, 0, sizeof D);
    CHECK_OK(spec_job_load_text("j.yaml", fp16, strlen(fp16), NULL, 0, &JOB, &D));
    CHECK(JOB.train.grad_reduce == SPEC_GRAD_REDUCE_FP32 && JOB.train.dtype == US_DTYPE_FP16);
}

/* parallel.pipeline_layout (spec/pplayout.c): Megatron-Core's grammar (commas dropped,
 * (group)*N then x*N unrolled, | between virtual stages, E t m L) into the planner's
 * per-chunk counts, and each way a layout can be wrong refused at the key with the reason. */
static void test_pipeline_layout(void)
{
    static const char head[] = "model: deepseek-v3\nsystem: dgx-h100\nchips: 1024\n"
                               "parallel: {tp: 2, pp: 8, ep: 64, dp: 64, pipeline_layout: '";
    static const char tail[] = "'}\ntraining: {seq_len: 4096, global_batch: 8192, dtype: fp8}\n";
    char text[512];
    /* Megatron-Bridge's DeepSeek-V3 layout on H100 (pp 8 x vpp 4): chunk 0 of stage 0 holds
     * the embedding and one layer, the last chunk of stage 7 the MTP layer and the loss */
    snprintf(text, sizeof text, "%s%s%s", head, "Et|(tt|)*30mL", tail);
    CHECK_OK(spec_job_load_text("l.yaml", text, strlen(text), NULL, 0, &JOB, &D));
    const struct spec_pipeline_layout *pl = &JOB.par.layout;
    CHECK(pl->pp == 8 && pl->vpp == 4 && JOB.par.vpp == 4);
    CHECK(JOB.par.schedule == US_SCHEDULE_INTERLEAVED);
    CHECK(pl->first_chunk0 == 1 && pl->first_chunk == 2 && pl->chunk == 2);
    CHECK(pl->last_chunk == 2 && pl->last_chunkN == 0);
    struct us_layout lay;
    spec_layout_fixed(&JOB.par, 1, &lay);
    CHECK(lay.first_stage_layers == 7 && lay.last_stage_layers == 6);
    /* commas are cosmetic, x*N repeats one letter */
    snprintf(text, sizeof text, "%s%s%s", head, "E,t|(t*2|)*30,mL", tail);
    CHECK_OK(spec_job_load_text("l.yaml", text, strlen(text), NULL, 0, &JOB, &D));
    CHECK(JOB.par.layout.first_chunk0 == 1 && JOB.par.layout.chunk == 2);
    /* bad layouts: refused at the string (line 4, column 59: its opening quote) */
    static const struct {
        const char *layout, *part;
    } bad[] = {
        {"Et|(tt|)*30,m|L", "33 virtual stages do not divide over pp=8"},
        {"Ett|(tt|)*30mL", "62 transformer layers (t) for a model of 61 layers"},
        {"Et|(tt|)*30L", "0 MTP layers (m) for a model with mtp_layers 1"},
        {"t|E(tt|)*30mL", "must open with the embedding"},
        {"Et|(tt|)*30Lm", "must end with the loss"},
        {"Et|(tt|)*29,ttm|L", "MTP layers (m) must sit in the last stage"},
        {"Et|(tt|*30mL", "'(' at character 4 is not closed"},
        {"Et|((tt|)*30)*1mL", "groups do not nest"},
        {"Et|(tt|)*mL", "needs a number after it"},
        {"Et|(tt|)*99999999mL", "expands to more than"},
        {"Et|x|(tt|)*30mL", "'x' is not a layer"},
        {"Et|ttt|(tt|)*28,t|mL", "needs the middle stages alike"},
    };
    for (size_t i = 0; i < US_ARRAY_LEN(bad); i++) {
        snprintf(text, sizeof text, "%s%s%s", head, bad[i].layout, tail);
        memset(&D, 0, sizeof D);
        enum us_status st = spec_job_load_text("l.yaml", text, strlen(text), NULL, 0, &JOB, &D);
        CHECK_ERR(st, US_EINPUT, 4, 59, "parallel.pipeline_layout", bad[i].part);
    }
    /* a layout fixes vpp and the end stages: a different vpp, or first_stage_layers beside
     * it, is refused; so is a layout without pp */
    static const char *const clash[] = {
        "model: deepseek-v3\nsystem: dgx-h100\nchips: 1024\nparallel: {tp: 2, pp: 8, vpp: 2, "
        "ep: 64, dp: 64, pipeline_layout: 'Et|(tt|)*30mL'}\n"
        "training: {seq_len: 4096, global_batch: 8192, dtype: fp8}\n",
        "model: deepseek-v3\nsystem: dgx-h100\nchips: 1024\nparallel: {tp: 2, pp: 8, "
        "first_stage_layers: 7, ep: 64, dp: 64, pipeline_layout: 'Et|(tt|)*30mL'}\n"
        "training: {seq_len: 4096, global_batch: 8192, dtype: fp8}\n",
        "model: deepseek-v3\nsystem: dgx-h100\nchips: 1024\nparallel: {tp: 2, "
        "ep: 64, dp: 64, pipeline_layout: 'Et|(tt|)*30mL'}\n"
        "training: {seq_len: 4096, global_batch: 8192, dtype: fp8}\n",
    };
    static const char *const clash_part[] = {"make vpp=4, but parallel.vpp is 2", "not both",
                                             "needs parallel.pp"};
    for (size_t i = 0; i < US_ARRAY_LEN(clash); i++) {
        memset(&D, 0, sizeof D);
        enum us_status st =
            spec_job_load_text("l.yaml", clash[i], strlen(clash[i]), NULL, 0, &JOB, &D);
        CHECK(st == US_EINPUT && strcmp(D.path, "parallel.pipeline_layout") == 0 &&
              strstr(D.msg, clash_part[i]) != NULL);
        if (st != US_EINPUT || strstr(D.msg, clash_part[i]) == NULL)
            show_diag(clash[i]);
    }
}

/* training.weight_dtype and training.moe_probs_applied: the framework's way when left out
 * (spec_weight_dtype_of, spec_moe_probs_at_combine), the key when given, and the clashes
 * refused at the key. */
static void test_weight_dtype_and_moe_probs(void)
{
    static const char base[] = "model: mixtral-8x22b\nsystem: %s\nchips: 64\n"
                               "training: {seq_len: 4096, global_batch: 64, dtype: %s%s}\n";
    char text[400];
    snprintf(text, sizeof text, base, "dgx-h100", "bf16", "");
    CHECK_OK(spec_job_load_text("w.yaml", text, strlen(text), NULL, 0, &JOB, &D));
    CHECK(spec_weight_dtype_of(&JOB.train) == SPEC_WEIGHT_MIXED);
    CHECK(!spec_moe_probs_at_combine(&JOB.train)); /* megatron */
    snprintf(text, sizeof text, base, "tpu-v5p-pod", "bf16", "");
    CHECK_OK(spec_job_load_text("w.yaml", text, strlen(text), NULL, 0, &JOB, &D));
    CHECK(spec_weight_dtype_of(&JOB.train) == SPEC_WEIGHT_FP32); /* maxtext */
    CHECK(spec_moe_probs_at_combine(&JOB.train));
    snprintf(text, sizeof text, base, "tpu-v5p-pod", "bf16",
             ", weight_dtype: bf16, moe_probs_applied: activation");
    CHECK_OK(spec_job_load_text("w.yaml", text, strlen(text), NULL, 0, &JOB, &D));
    CHECK(spec_weight_dtype_of(&JOB.train) == SPEC_WEIGHT_BF16);
    CHECK(!spec_moe_probs_at_combine(&JOB.train));
    snprintf(text, sizeof text, base, "dgx-h100", "bf16", ", moe_probs_applied: combine");
    CHECK_OK(spec_job_load_text("w.yaml", text, strlen(text), NULL, 0, &JOB, &D));
    CHECK(spec_moe_probs_at_combine(&JOB.train));
    snprintf(text, sizeof text, base, "dgx-h100", "fp8", ", fp8_params: true, weight_dtype: fp32");
    memset(&D, 0, sizeof D);
    CHECK_ERR(spec_job_load_text("w.yaml", text, strlen(text), NULL, 0, &JOB, &D), US_EINPUT, 4, 89,
              "training.weight_dtype", "with no fp32 master");
    snprintf(text, sizeof text, base, "dgx-h100", "fp32", ", weight_dtype: bf16");
    memset(&D, 0, sizeof D);
    CHECK_ERR(spec_job_load_text("w.yaml", text, strlen(text), NULL, 0, &JOB, &D), US_EINPUT, 4, 72,
              "training.weight_dtype", "needs bf16, fp8 or fp4 training");
    snprintf(text, sizeof text, base, "dgx-h100", "bf16", ", moe_probs_applied: router");
    memset(&D, 0, sizeof D);
    CHECK_ERR(spec_job_load_text("w.yaml", text, strlen(text), NULL, 0, &JOB, &D), US_EINPUT, 4, 77,
              "training.moe_probs_applied", "expected one of: auto, activation, combine");
}

int main(void)
{
    test_bad_files();
    test_missing_and_large();
    test_errors_in_named_files();
    test_scalars();
    test_hf_configs();
    test_system_file();
    test_jobs();
    test_frameworks();
    test_sets();
    test_presets();
    test_preset_sources();
    test_new_presets_against_sources();
    test_model_check();
    test_quoted_strings();
    test_scale_keys();
    test_dropout_and_grad_reduce();
    test_pipeline_layout();
    test_weight_dtype_and_moe_probs();
    return test_summary("test_spec");
}
