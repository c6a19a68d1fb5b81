/* spec/pplayout: parallel.pipeline_layout, Megatron-Core's pipeline_model_parallel_layout
 * string ("Et|(tt|)*30mL"): which layers each virtual pipeline stage holds. The grammar is
 * Megatron-Core's (megatron/core/transformer/pipeline_parallel_layer_layout.py,
 * PipelineParallelLayerLayout.parse_str_to_list and validate_layer_layout); the reader
 * turns it into the per-chunk layer counts the planner holds (docs/MODEL.md 2.2) and refuses
 * a layout those cannot hold, saying why. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/tree.h"

/* Expanded layouts longer than this are refused: a layer and a '|' per virtual stage for
 * SPEC_MAX_LAYERS layers, with room to spare. */
#define PPL_MAX_CHARS (4 * SPEC_MAX_LAYERS)

/* Appends count copies of s[0..n) to out (*len chars, cap bytes); false when it would not
 * fit. */
static bool repeat_into(char *out, size_t *len, size_t cap, const char *s, size_t n, long count)
{
    for (long i = 0; i < count; i++) {
        if (*len + n >= cap)
            return false;
        memcpy(out + *len, s, n);
        *len += n;
    }
    return true;
}

/* Reads a repetition count after "*" at s[*i]; -1 when there are no digits. */
static long read_count(const char *s, size_t n, size_t *i)
{
    long v = 0;
    size_t start = *i;
    while (*i < n && s[*i] >= '0' && s[*i] <= '9') {
        if (v > PPL_MAX_CHARS)
            v = PPL_MAX_CHARS + 1; /* too many either way; keep reading the digits */
        else
            v = v * 10 + (s[*i] - '0');
        (*i)++;
    }
    return *i > start ? v : -1;
}

/* Megatron-Core's unrolling, in its order: commas dropped, then every "(group)*n" (a group
 * holds no parenthesis), then every "x*n". out holds the result (NUL-terminated). Returns
 * NULL on success, else a message (written to msg). */
static const char *expand(const char *in, size_t n, char *out, size_t cap, char *msg, size_t msg_n)
{
    char *pass = malloc(cap);
    if (!pass) {
        snprintf(msg, msg_n, "out of memory");
        return msg;
    }
    size_t len = 0;
    const char *err = NULL;
    /* pass 1: commas and groups */
    for (size_t i = 0; i < n && !err; i++) {
        char c = in[i];
        if (c == ',')
            continue;
        if (c == ')') {
            snprintf(msg, msg_n, "')' at character %zu closes no '('", i + 1);
            err = msg;
        } else if (c == '(') {
            size_t close = i + 1;
            while (close < n && in[close] != ')' && in[close] != '(')
                close++;
            if (close >= n || in[close] == '(') {
                snprintf(msg, msg_n,
                         close >= n ? "'(' at character %zu is not closed"
                                    : "'(' at character %zu holds another '(' (groups do not nest)",
                         i + 1);
                err = msg;
                break;
            }
            size_t j = close + 1;
            if (j >= n || in[j] != '*') {
                snprintf(msg, msg_n, "the group at character %zu needs a count: (...)*N", i + 1);
                err = msg;
                break;
            }
            j++;
            long count = read_count(in, n, &j);
            if (count < 0) {
                snprintf(msg, msg_n, "'*' at character %zu needs a number after it", close + 2);
                err = msg;
                break;
            }
            /* the group without its commas */
            char group[256];
            size_t g = 0;
            for (size_t k = i + 1; k < close; k++) {
                if (in[k] == ',')
                    continue;
                if (g + 1 >= sizeof group) {
                    snprintf(msg, msg_n, "the group at character %zu is longer than %zu characters",
                             i + 1, sizeof group - 1);
                    err = msg;
                    break;
                }
                group[g++] = in[k];
            }
            if (err)
                break;
            if (g == 0) {
                snprintf(msg, msg_n, "the group at character %zu is empty", i + 1);
                err = msg;
                break;
            }
            if (!repeat_into(pass, &len, cap, group, g, count)) {
                snprintf(msg, msg_n, "expands to more than %d characters", PPL_MAX_CHARS);
                err = msg;
                break;
            }
            i = j - 1;
        } else if (!repeat_into(pass, &len, cap, &c, 1, 1)) {
            snprintf(msg, msg_n, "expands to more than %d characters", PPL_MAX_CHARS);
            err = msg;
        }
    }
    /* pass 2: x*n */
    size_t out_len = 0;
    for (size_t i = 0; i < len && !err; i++) {
        char c = pass[i];
        if (c == '*') {
            snprintf(msg, msg_n, "'*' needs a layer letter or a (group) before it");
            err = msg;
            break;
        }
        long count = 1;
        if (i + 1 < len && pass[i + 1] == '*') {
            size_t j = i + 2;
            count = read_count(pass, len, &j);
            if (count < 0) {
                snprintf(msg, msg_n, "'%c*' needs a number after it", c);
                err = msg;
                break;
            }
            i = j - 1;
        }
        if (!repeat_into(out, &out_len, cap, &c, 1, count)) {
            snprintf(msg, msg_n, "expands to more than %d characters", PPL_MAX_CHARS);
            err = msg;
        }
    }
    free(pass);
    if (!err)
        out[out_len] = '\0';
    return err;
}

/* Layers, and whether each marker is there, of virtual stage j. */
struct vstage {
    int t, m;
    bool e, l;
};

/* What the layout says, checked as Megatron-Core's validate_layer_layout checks it, then
 * fitted to the planner's shape: in stage-major terms chunk k of stage s is virtual stage
 * k*pp + s (the string lists chunk 0 of every stage, then chunk 1, ...). */
static enum us_status convert(struct spec_rd *rd, const struct spec_node *at, const char *x,
                              const struct spec_model *m, int pp, struct spec_parallel *par)
{
    size_t len = strlen(x);
    int nv = 1;
    for (size_t i = 0; i < len; i++)
        nv += x[i] == '|';
    struct vstage *vs = calloc((size_t)nv, sizeof *vs);
    if (!vs)
        return spec_fail_oom(rd);
    enum us_status st = US_OK;
    int j = 0, ne = 0, nl = 0, nt = 0, nm = 0;
    bool t_after_m = false;
    for (size_t i = 0; i < len && st == US_OK; i++) {
        switch (x[i]) {
        case '|':
            j++;
            break;
        case 'E':
            vs[j].e = true;
            ne++;
            break;
        case 'L':
            vs[j].l = true;
            nl++;
            break;
        case 't':
            vs[j].t++;
            nt++;
            t_after_m = t_after_m || nm > 0;
            break;
        case 'm':
            vs[j].m++;
            nm++;
            break;
        default:
            st = spec_fail(rd, at,
                           "'%c' is not a layer: use E (embedding), t (transformer layer), m "
                           "(MTP layer), L (loss), | (stage boundary), (...)*N and x*N",
                           x[i]);
        }
    }
    int mtp = m->mtp_layers > 0 ? m->mtp_layers : 0;
    int v = pp > 0 ? nv / pp : 0;
    if (st != US_OK) {
        free(vs);
        return st;
    }
    if (pp <= 0)
        st = spec_fail(rd, at, "a pipeline_layout needs parallel.pp");
    else if (nv % pp != 0)
        st = spec_fail(rd, at, "%d virtual stages do not divide over pp=%d", nv, pp);
    else if (par->vpp > 0 && par->vpp != v)
        st = spec_fail(rd, at, "%d virtual stages over pp=%d make vpp=%d, but parallel.vpp is %d",
                       nv, pp, v, par->vpp);
    else if (ne != 1 || x[0] != 'E')
        st = spec_fail(rd, at, "the layout must open with the embedding, E, and name it once");
    else if (nl != 1 || x[len - 1] != 'L')
        st = spec_fail(rd, at, "the layout must end with the loss, L, and name it once");
    else if (nt != m->layers)
        st = spec_fail(rd, at, "%d transformer layers (t) for a model of %d layers", nt, m->layers);
    else if (nm != mtp)
        st = spec_fail(rd, at, "%d MTP layers (m) for a model with mtp_layers %d", nm, mtp);
    else if (t_after_m)
        st = spec_fail(rd, at, "transformer layers (t) must come before the MTP layers (m)");
    else if (nm > 0 && vs[nv - 1].m != nm)
        st = spec_fail(rd, at, "the MTP layers (m) must sit in the last stage with the loss");
    if (st != US_OK) {
        free(vs);
        return st;
    }
    /* The planner's shape (docs/MODEL.md 2.2): middle stages alike in every chunk; an end
     * stage alike but for its end chunk (chunk 0 of the first, the last chunk of the last),
     * which may be short by the layers the embedding or the loss stands for. */
#define AT(s, k) vs[(k)*pp + (s)].t
    struct spec_pipeline_layout *pl = &par->layout;
    memset(pl, 0, sizeof *pl);
    int q = pp > 2 ? AT(1, 0) : 0;
    for (int s = 1; s < pp - 1 && st == US_OK; s++)
        for (int k = 0; k < v && st == US_OK; k++)
            if (AT(s, k) != q || q < 1)
                st = spec_fail(rd, at,
                               q < 1 ? "stage %d chunk %d holds no transformer layer: ultrasim's "
                                       "plan needs each middle stage to hold some (docs/MODEL.md "
                                       "2.2)"
                                     : "stage %d chunk %d holds %d layers and stage 1 chunk 0 %d: "
                                       "ultrasim's plan needs the middle stages alike "
                                       "(docs/MODEL.md 2.2)",
                               s, k, AT(s, k), q);
    int q0 = v > 1 ? AT(0, 1) : AT(0, 0), qn = v > 1 ? AT(pp - 1, 0) : AT(pp - 1, 0);
    for (int k = 1; k < v && st == US_OK; k++)
        if (AT(0, k) != q0)
            st = spec_fail(rd, at,
                           "stage 0 chunk %d holds %d layers and chunk 1 %d: only chunk 0 of "
                           "the first stage may differ (docs/MODEL.md 2.2)",
                           k, AT(0, k), q0);
    for (int k = 0; k < v - 1 && st == US_OK && pp > 1; k++)
        if (AT(pp - 1, k) != qn)
            st = spec_fail(rd, at,
                           "stage %d chunk %d holds %d layers and chunk 0 %d: only the last chunk "
                           "of the last stage may differ (docs/MODEL.md 2.2)",
                           pp - 1, k, AT(pp - 1, k), qn);
    if (st == US_OK && v > 1 && (AT(0, 0) > q0 || AT(pp - 1, v - 1) > qn))
        st = spec_fail(rd, at,
                       "an end chunk holds more layers than the other chunks of its stage "
                       "(%d and %d): ultrasim's engines hold end chunks that are short or "
                       "alike (docs/MODEL.md 2.2)",
                       AT(0, 0) > q0 ? AT(0, 0) : AT(pp - 1, v - 1), AT(0, 0) > q0 ? q0 : qn);
    if (st == US_OK) {
        pl->pp = pp;
        pl->vpp = v;
        pl->chunk = q;
        pl->first_chunk0 = AT(0, 0);
        pl->first_chunk = q0;
        pl->last_chunk = qn;
        pl->last_chunkN = AT(pp - 1, v - 1);
        if (pp == 1) {
            pl->first_chunk = pl->last_chunk = pl->first_chunk0;
            pl->last_chunkN = pl->first_chunk0;
        }
    }
#undef AT
    free(vs);
    return st;
}

enum us_status spec_pipeline_layout_read(struct spec_rd *rd, const struct spec_node *par_node,
                                         const struct spec_model *m, struct spec_parallel *par)
{
    const struct spec_node *at = spec_get(par_node, "pipeline_layout");
    if (!at)
        return US_OK;
    char text[1024];
    int has = spec_get_str(rd, par_node, "pipeline_layout", 0, text, sizeof text);
    if (has < 0)
        return rd->status;
    if (par->first_stage_layers > 0 || par->last_stage_layers > 0)
        return spec_fail(rd, at,
                         "give pipeline_layout or first_stage_layers/last_stage_layers, not both");
    size_t cap = PPL_MAX_CHARS + 1;
    char *x = malloc(cap);
    if (!x)
        return spec_fail_oom(rd);
    char msg[160];
    enum us_status st;
    if (expand(text, strlen(text), x, cap, msg, sizeof msg))
        st = spec_fail(rd, at, "'%s': %s", text, msg);
    else if (x[0] == '\0')
        st = spec_fail(rd, at, "the layout is empty");
    else
        st = convert(rd, at, x, m, par->pp, par);
    free(x);
    if (st == US_OK && par->vpp <= 0)
        par->vpp = par->layout.vpp;
    /* virtual stages are Megatron's interleaved schedule */
    if (st == US_OK && par->schedule == SPEC_UNSET && par->vpp > 1)
        par->schedule = US_SCHEDULE_INTERLEAVED;
    return st;
}
