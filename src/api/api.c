/* api: contexts, the catalog listing and job loading behind include/ultrasim.h.
 * Running a job lives in run.c, showing presets in show.c. */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "core/core.h"

const char *us_status_name(enum us_status st)
{
    switch (st) {
    case US_OK:
        return "ok";
    case US_INFEASIBLE:
        return "infeasible";
    case US_EINPUT:
        return "bad input";
    case US_ENOMEM:
        return "out of memory";
    case US_EIO:
        return "write error";
    }
    return "unknown";
}

struct us_ctx *us_ctx_create(void)
{
    return calloc(1, sizeof(struct us_ctx));
}

void us_ctx_destroy(struct us_ctx *ctx)
{
    free(ctx);
}

size_t us_catalog_count(enum us_kind kind)
{
    return catalog_count(kind == US_KIND_SYSTEM ? CATALOG_KIND_SYSTEM : CATALOG_KIND_MODEL);
}

const char *us_catalog_name(enum us_kind kind, size_t i)
{
    const struct catalog_entry *e =
        catalog_at(kind == US_KIND_SYSTEM ? CATALOG_KIND_SYSTEM : CATALOG_KIND_MODEL, i);
    return e ? e->name : NULL;
}

bool us_catalog_describe(enum us_kind kind, size_t i, char *buf, size_t n)
{
    const struct catalog_entry *e =
        catalog_at(kind == US_KIND_SYSTEM ? CATALOG_KIND_SYSTEM : CATALOG_KIND_MODEL, i);
    if (!e || n == 0)
        return false;
    struct us_diag d;
    if (kind == US_KIND_SYSTEM) {
        struct spec_system s;
        if (spec_system_parse(e->origin, e->text, e->len, &s, &d) != US_OK)
            return false;
        core_strlcpy(buf, s.description, n);
    } else {
        struct spec_model m;
        if (spec_model_parse(e->origin, e->text, e->len, &m, &d) != US_OK)
            return false;
        core_strlcpy(buf, m.description, n);
    }
    return true;
}

static enum us_status job_finish(enum us_status st, struct us_job *job, struct us_job **out)
{
    if (st != US_OK) {
        free(job);
        return st;
    }
    *out = job;
    return US_OK;
}

enum us_status us_job_load(struct us_ctx *ctx, const char *path, const char *const *sets,
                           size_t nsets, struct us_job **out, struct us_diag *d)
{
    (void)ctx;
    *out = NULL;
    struct us_job *job = calloc(1, sizeof *job);
    if (!job)
        return core_diag_status(d, US_ENOMEM, path, 0, 0, NULL, "out of memory");
    return job_finish(spec_job_load(path, sets, nsets, &job->spec, d), job, out);
}

enum us_status us_job_load_text(struct us_ctx *ctx, const char *name, const char *text, size_t len,
                                const char *const *sets, size_t nsets, struct us_job **out,
                                struct us_diag *d)
{
    (void)ctx;
    *out = NULL;
    struct us_job *job = calloc(1, sizeof *job);
    if (!job)
        return core_diag_status(d, US_ENOMEM, name, 0, 0, NULL, "out of memory");
    return job_finish(spec_job_load_text(name, text, len, sets, nsets, &job->spec, d), job, out);
}

void us_job_destroy(struct us_job *job)
{
    free(job);
}

const char *us_job_system_name(const struct us_job *job)
{
    return job->spec.system.name;
}

const char *us_job_model_name(const struct us_job *job)
{
    return job->spec.model.name;
}

enum us_status us_scenario_load(struct us_ctx *ctx, const char *path, struct us_scenario *out,
                                struct us_diag *d)
{
    (void)ctx;
    if (!path || !out)
        return core_diag_set(d, NULL, 0, 0, NULL, "no scenario file");
    return spec_scenario_load(path, out, d);
}
