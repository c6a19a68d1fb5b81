/* spec/scenario: loads a supply and price scenario (us_scenario_load): a job, per system a
 * delivery ramp, a price schedule and a site power cap, with the strict reader of every
 * spec (unknown keys, wrong types, duplicates: file:line:col and the field path). What the
 * scenario answers is planned by the command line (src/cli/cmd_plan.c). */
#include <string.h>

#include "spec/tree.h"

static const struct spec_key scenario_schema[] = {
    {"job", SPEC_KEY_LEAF, NULL},
    {"deadline_days", SPEC_KEY_LEAF, NULL},
    {"move_restart_hours", SPEC_KEY_LEAF, NULL},
    {"systems", SPEC_KEY_LEAF, NULL}, /* a mapping of system names; checked below */
    {NULL, SPEC_KEY_LEAF, NULL}};

static const struct spec_key system_schema[] = {{"deliveries", SPEC_KEY_LEAF, NULL},
                                                {"price", SPEC_KEY_LEAF, NULL},
                                                {"power_cap_mw", SPEC_KEY_LEAF, NULL},
                                                {NULL, SPEC_KEY_LEAF, NULL}};
static const struct spec_key delivery_schema[] = {
    {"day", SPEC_KEY_LEAF, NULL}, {"chips", SPEC_KEY_LEAF, NULL}, {NULL, SPEC_KEY_LEAF, NULL}};
static const struct spec_key price_schema[] = {{"day", SPEC_KEY_LEAF, NULL},
                                               {"usd_per_chip_hour", SPEC_KEY_LEAF, NULL},
                                               {NULL, SPEC_KEY_LEAF, NULL}};

/* A list of {day, <what>} mappings, days increasing. */
static enum us_status read_steps(struct spec_rd *rd, const struct spec_node *sys, const char *key,
                                 const struct spec_key *schema, const char *what, double lo,
                                 double hi, struct us_scenario_step *out, int *n)
{
    const struct spec_node *seq = spec_get(sys, key);
    *n = 0;
    if (!seq)
        return US_OK;
    if (seq->kind != SPEC_NODE_SEQ || seq->count < 1 || seq->count > US_SCENARIO_MAX_STEPS)
        return spec_fail(rd, seq, "a list of 1 to %d {day: D, %s: V} entries",
                         US_SCENARIO_MAX_STEPS, what);
    for (const struct spec_node *it = seq->first; it; it = it->next) {
        if (spec_check_map(rd, it) || spec_check_keys(rd, it, schema))
            return rd->status;
        struct us_scenario_step *s = &out[*n];
        if (spec_get_real(rd, it, "day", 0, 36500, SPEC_REQ, &s->day) < 0 ||
            spec_get_real(rd, it, what, lo, hi, SPEC_REQ | SPEC_EXP, &s->value) < 0)
            return rd->status;
        if (*n > 0 && s->day <= out[*n - 1].day)
            return spec_fail(rd, spec_get(it, "day"), "days must increase down the list");
        (*n)++;
    }
    return US_OK;
}

enum us_status spec_scenario_load(const char *path, struct us_scenario *s, struct us_diag *d)
{
    memset(s, 0, sizeof *s);
    struct spec_rd rd;
    if (spec_rd_init(&rd, d, path) != US_OK)
        return US_ENOMEM;
    struct spec_node *root;
    enum us_status st = spec_read_file(&rd, path, &root);
    if (st != US_OK)
        goto out;
    st = US_EINPUT;
    if (spec_check_map(&rd, root) || spec_check_keys(&rd, root, scenario_schema))
        goto out;
    char job[512];
    if (spec_get_str(&rd, root, "job", SPEC_REQ, job, sizeof job) < 0)
        goto out;
    const char *slash = strrchr(path, '/');
    if (job[0] != '/' && slash)
        core_fmt(s->job_path, sizeof s->job_path, "%.*s/%s", (int)(slash - path), path, job);
    else
        core_strlcpy(s->job_path, job, sizeof s->job_path);
    double days = 0, hours = 0;
    if (spec_get_real(&rd, root, "deadline_days", 0.001, 36500, 0, &days) < 0 ||
        spec_get_real(&rd, root, "move_restart_hours", 0, 8760, 0, &hours) < 0)
        goto out;
    s->deadline_s = days * 86400.0;
    s->move_restart_s = hours * 3600.0;
    const struct spec_node *systems = spec_get(root, "systems");
    if (!systems) {
        st = spec_fail_missing(&rd, root, "systems");
        goto out;
    }
    if (!spec_is_map(systems) || systems->count == 0 || systems->count > US_SCENARIO_MAX_SYSTEMS) {
        st = spec_fail(&rd, systems, "a mapping of 1 to %d system names to their supply",
                       US_SCENARIO_MAX_SYSTEMS);
        goto out;
    }
    for (const struct spec_node *v = systems->first; v; v = v->next) {
        struct us_scenario_system *sy = &s->systems[s->nsystems];
        if (v->key->len == 0 || v->key->len >= sizeof sy->name) {
            st = spec_fail(&rd, v->key, "a system name of 1 to %zu bytes", sizeof sy->name - 1);
            goto out;
        }
        core_strlcpy(sy->name, v->key->text, sizeof sy->name);
        if (spec_check_map(&rd, v) || spec_check_keys(&rd, v, system_schema))
            goto out;
        if (!spec_get(v, "deliveries")) {
            st = spec_fail_missing(&rd, v, "deliveries");
            goto out;
        }
        if ((st = read_steps(&rd, v, "deliveries", delivery_schema, "chips", 1, 16777216,
                             sy->deliveries, &sy->ndeliveries)) != US_OK ||
            (st = read_steps(&rd, v, "price", price_schema, "usd_per_chip_hour", 0.001, 1e4,
                             sy->prices, &sy->nprices)) != US_OK)
            goto out;
        st = US_EINPUT;
        double mw = 0;
        if (spec_get_real(&rd, v, "power_cap_mw", 0.001, 1e6, 0, &mw) < 0)
            goto out;
        sy->power_cap_W = mw * 1e6;
        for (int i = 0; i < sy->ndeliveries; i++)
            if (sy->deliveries[i].value != (double)(long long)sy->deliveries[i].value) {
                st = spec_fail(&rd, v, "deliveries: chips are whole numbers");
                goto out;
            }
        s->nsystems++;
    }
    st = US_OK;
out:
    if (st == US_EINPUT && rd.status != US_OK)
        st = rd.status;
    core_arena_destroy(rd.arena);
    return st;
}
