/* spec (internal): the strict YAML/JSON reader shared by the spec loaders. Text becomes a
 * small tree of mappings, sequences and scalars, each node with the file, line and column
 * it came from, built from libfyaml's event stream so that depth, anchors, aliases, tags,
 * duplicate keys and extra documents are refused before any value is looked at.
 * Typed getters then read values with exact rules (docs/SPEC.md). Not here: the schema's
 * meaning (system.c, model.c, hf.c, job.c). Only src/spec/ includes this header. */
#ifndef US_SPEC_TREE_H
#define US_SPEC_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "spec/spec.h"

/* More nodes than this in one file is refused (real specs have a few hundred). */
#define SPEC_MAX_NODES 100000

/* Model bounds that keep every later product finite and every per-layer loop short
 * (docs/SPEC.md lists them); the largest published models are far inside them. */
#define SPEC_MAX_LAYERS   10000
#define SPEC_MAX_HIDDEN   (1 << 20)
#define SPEC_MAX_HEADS    (1 << 16)
#define SPEC_MAX_HEAD_DIM (1 << 14)
#define SPEC_MAX_FFN      (1 << 22)
#define SPEC_MAX_VOCAB    (1LL << 32)
#define SPEC_MAX_EXPERTS  (1 << 16)
#define SPEC_MAX_RANK     (1 << 20)

enum spec_node_kind { SPEC_NODE_SCALAR = 0, SPEC_NODE_MAP, SPEC_NODE_SEQ };

struct spec_node {
    enum spec_node_kind kind;
    bool plain;       /* scalar written without quotes (numbers and booleans must be) */
    bool null;        /* plain scalar that is empty, ~ or null */
    bool is_key;      /* a mapping key; its parent is the mapping */
    const char *text; /* scalar text after YAML processing, NUL-terminated; "" otherwise */
    size_t len;       /* bytes of text (a quoted "\0" may put a NUL inside) */
    const char *file; /* where the node was read, for messages */
    int line, col;    /* 1-based; 0 = unknown (nodes made by the loader) */
    struct spec_node *parent;
    struct spec_node *key;   /* for a mapping value: its key */
    int index;               /* for a sequence item: its position; for a key: its order */
    struct spec_node *first; /* children in order: mapping values or sequence items */
    struct spec_node *last;
    struct spec_node *next;
    size_t count;
};

/* One load: the arena every node, string and copy lives in, and where errors go. */
struct spec_rd {
    struct core_arena *arena;
    struct us_diag *d;
    size_t nodes;          /* made so far, against SPEC_MAX_NODES */
    enum us_status status; /* of the last failure (d may be NULL) */
};

/* Starts a load: an empty reader whose arena is fresh and whose errors go to d. Returns
 * US_OK, or US_ENOMEM with d filled (file names the input in that message; may be NULL). */
enum us_status spec_rd_init(struct spec_rd *rd, struct us_diag *d, const char *file);

/* Returns the load's status from the enclosing function when a getter failed. */
#define SPEC_TRY(rd, expr)                                                                         \
    do {                                                                                           \
        if ((expr) < 0)                                                                            \
            return (rd)->status;                                                                   \
    } while (0)

/* What a key of a schema mapping holds; drives the unknown-key check and --set paths. */
enum spec_key_kind {
    SPEC_KEY_LEAF = 0,  /* a scalar */
    SPEC_KEY_LIST,      /* a sequence of scalars (matrix_tile, dims) */
    SPEC_KEY_MAP,       /* a mapping described by sub */
    SPEC_KEY_SEQ_MAP,   /* a sequence of mappings described by sub */
    SPEC_KEY_REF_MODEL, /* a model: preset name, path or mapping */
    SPEC_KEY_REF_SYSTEM /* a system: preset name, path or mapping */
};

struct spec_key {
    const char *key; /* NULL ends a table */
    enum spec_key_kind kind;
    const struct spec_key *sub;
};

/* The schema, one table per mapping (schema.c; docs/SPEC.md describes each key). */
extern const struct spec_key spec_schema_system[];
extern const struct spec_key spec_schema_chip[];
extern const struct spec_key spec_schema_tflops[];
extern const struct spec_key spec_schema_efficiency[];
extern const struct spec_key spec_schema_scale_up[];
extern const struct spec_key spec_schema_scale_out[];
extern const struct spec_key spec_schema_tier[];
extern const struct spec_key spec_schema_reliability[];
extern const struct spec_key spec_schema_model[];
extern const struct spec_key spec_schema_moe[];
extern const struct spec_key spec_schema_mla[];
extern const struct spec_key spec_schema_job[];
extern const struct spec_key spec_schema_parallel[];
extern const struct spec_key spec_schema_training[];
extern const struct spec_key spec_schema_scale[];
/* The entry for key in a table, or NULL. */
const struct spec_key *spec_schema_find(const struct spec_key *schema, const char *key, size_t len);

/* Getter flags. */
#define SPEC_REQ     1u /* a missing key is an error */
#define SPEC_EXP     2u /* integers may be written 1e6 when the value is whole */
#define SPEC_NULL_OK 4u /* null counts as absent (HuggingFace configs) */
#define SPEC_LO_OPEN 8u /* reals: the lower bound is exclusive */

/* --- reading --- */
/* Parses text into a tree. file names the source in messages; col_off is added to the
 * columns of line 1 (so an override's value reports its column in "key=value").
 * allow_empty turns an empty text into a null scalar instead of an error.
 * Returns US_OK with *root set, or US_EINPUT with rd->d filled. */
enum us_status spec_read_text(struct spec_rd *rd, const char *file, const char *text, size_t len,
                              int col_off, bool allow_empty, struct spec_node **root);
/* Reads a file (at most SPEC_MAX_FILE_B) and parses it. */
enum us_status spec_read_file(struct spec_rd *rd, const char *path, struct spec_node **root);

/* --- building (for overrides and converted HuggingFace configs) --- */
struct spec_node *spec_node_new(struct spec_rd *rd, enum spec_node_kind kind, const char *file,
                                int line, int col);
struct spec_node *spec_node_scalar(struct spec_rd *rd, const char *text, bool plain,
                                   const char *file, int line, int col);
/* Appends key: value to a mapping (the key is made from key_text); NULL when out of memory. */
struct spec_node *spec_map_add(struct spec_rd *rd, struct spec_node *map, const char *key_text,
                               struct spec_node *value);
/* Puts value in old's place in its parent (old may be the root: then only value changes). */
void spec_node_replace(struct spec_node *old, struct spec_node *value);
char *spec_strdup(struct spec_rd *rd, const char *s);

/* --- looking up --- */
struct spec_node *spec_get(const struct spec_node *map, const char *key);
/* The field path of a node, e.g. "system.scale_out.tiers[1].radix". */
void spec_node_path(const struct spec_node *n, char *buf, size_t n_B);
/* Writes a scalar's text for a message: printable, quoted, shortened when long. */
void spec_node_quote(const struct spec_node *n, char *buf, size_t n_B);
bool spec_is_map(const struct spec_node *n);
/* The name of a model or system that does not give one (DESIGN.md's inline mappings):
 * the base name of `hint` or of the file the node is the whole of, without its extension;
 * else `fallback`. */
void spec_default_name(const struct spec_node *n, const char *hint, const char *fallback, char *out,
                       size_t n_B);

/* parallel.pipeline_layout of the parallel mapping par_node, if any, into par->layout
 * (and par->vpp when left out), checked against the model (spec/pplayout.c). */
enum us_status spec_pipeline_layout_read(struct spec_rd *rd, const struct spec_node *par_node,
                                         const struct spec_model *m, struct spec_parallel *par);

/* --- errors (all return US_EINPUT after filling rd->d) --- */
enum us_status spec_fail(struct spec_rd *rd, const struct spec_node *n, const char *fmt, ...)
    US_PRINTF(3, 4);
/* A missing key: placed at the mapping, path names the key. */
enum us_status spec_fail_missing(struct spec_rd *rd, const struct spec_node *map, const char *key);
/* Out of memory while loading. */
enum us_status spec_fail_oom(struct spec_rd *rd);

/* --- checking and typed getters ---
 * The spec_get_* getters return 1 when the key is present and read, 0 when it is absent
 * (and not SPEC_REQ), -1 after an error (rd->d filled). The spec_as_* forms read a node. */
int spec_check_map(struct spec_rd *rd, const struct spec_node *n);
/* n must be a mapping whose keys all appear in schema. */
int spec_check_keys(struct spec_rd *rd, const struct spec_node *n, const struct spec_key *schema);
int spec_as_int(struct spec_rd *rd, const struct spec_node *n, int64_t lo, int64_t hi,
                unsigned flags, int64_t *out);
int spec_as_real(struct spec_rd *rd, const struct spec_node *n, double lo, double hi,
                 unsigned flags, double *out);
int spec_as_bool(struct spec_rd *rd, const struct spec_node *n, bool *out);
int spec_as_str(struct spec_rd *rd, const struct spec_node *n, char *out, size_t n_B);
int spec_as_enum(struct spec_rd *rd, const struct spec_node *n, const char *const *names, int count,
                 int *out);
int spec_get_int(struct spec_rd *rd, const struct spec_node *map, const char *key, int64_t lo,
                 int64_t hi, unsigned flags, int64_t *out);
/* Same as spec_get_int for an int field. */
int spec_get_i32(struct spec_rd *rd, const struct spec_node *map, const char *key, int lo, int hi,
                 unsigned flags, int *out);
int spec_get_real(struct spec_rd *rd, const struct spec_node *map, const char *key, double lo,
                  double hi, unsigned flags, double *out);
int spec_get_bool(struct spec_rd *rd, const struct spec_node *map, const char *key, unsigned flags,
                  bool *out);
int spec_get_str(struct spec_rd *rd, const struct spec_node *map, const char *key, unsigned flags,
                 char *out, size_t n_B);
int spec_get_enum(struct spec_rd *rd, const struct spec_node *map, const char *key,
                  const char *const *names, int count, unsigned flags, int *out);
/* A nested mapping whose keys are checked against schema. */
int spec_get_map(struct spec_rd *rd, const struct spec_node *map, const char *key,
                 const struct spec_key *schema, unsigned flags, const struct spec_node **out);
/* A sequence of min_n..max_n integers in lo..hi; *n gets the count. */
int spec_get_ints(struct spec_rd *rd, const struct spec_node *map, const char *key, int min_n,
                  int max_n, int lo, int hi, unsigned flags, int *out, int *n);

/* A sequence of distinct names from names[0..count): *out gets bit i for names[i]. */
int spec_get_flags(struct spec_rd *rd, const struct spec_node *map, const char *key,
                   const char *const *names, int count, unsigned flags, unsigned *out);

/* --- between the loaders --- */
/* Converts a system or model mapping (already checked against nothing else). */
enum us_status spec_system_from_node(struct spec_rd *rd, const struct spec_node *n,
                                     struct spec_system *out);
/* name_hint: where the model came from (file path) when it is a whole file, else NULL. */
enum us_status spec_model_from_node(struct spec_rd *rd, const struct spec_node *n,
                                    const char *name_hint, struct spec_model *out);
/* True when a mapping looks like a HuggingFace config.json (model_type or architectures). */
bool spec_hf_detect(const struct spec_node *n);
enum us_status spec_hf_from_node(struct spec_rd *rd, const struct spec_node *n,
                                 const char *name_hint, struct spec_model *out);
/* Builds a model mapping in the spec schema from a model (nodes placed at file, no line). */
struct spec_node *spec_model_to_node(struct spec_rd *rd, const struct spec_model *m,
                                     const char *file);
/* Checks a converted model; errors are placed at the node the path names when found. */
enum us_status spec_model_check_node(struct spec_rd *rd, const struct spec_model *m,
                                     const struct spec_node *n);
/* Reads the system (model false) or model that name refers to: a catalog preset, or a
 * file whose relative path is taken against base_dir ("" = the current directory).
 * at: the node that names it in a job, for messages; NULL for a top-level load. */
enum us_status spec_resolve(struct spec_rd *rd, bool model, const char *name, const char *base_dir,
                            const struct spec_node *at, struct spec_node **root);
/* True when name is a path (has '/' or ends in .yaml, .yml or .json), false for a preset. */
bool spec_is_path(const char *name);
/* The name part of a path without its directory and suffix ("a/b/x.yaml" -> "x");
 * for ".../NAME/config.json" the folder name. */
void spec_base_name(const char *path, char *out, size_t n_B);

#endif
