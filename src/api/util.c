/* api/util: small public helpers that forward to internal modules. */
#include "api/api.h"
#include "report/report.h"
#include "scale/scale.h"

void us_layout_format(const struct us_layout *l, char *buf, size_t n)
{
    report_layout_line(l, buf, n);
}

void us_result_explain(const struct us_result *a, const struct us_result *b, const char *name_a,
                       const char *name_b, char *buf, size_t n)
{
    scale_explain_diff(a, b, name_a, name_b, buf, n);
}

void us_result_write(const struct us_result *r, const struct us_job *job, enum us_format fmt,
                     FILE *out)
{
    report_result_write(r, &job->spec, fmt, out);
}
