/* api: the public names of the enums and the diagnostic line, over the modules' own. */
#include "api/api.h"
#include "core/core.h"
#include "search/search.h"

const char *us_dtype_name(enum us_dtype t)
{
    return core_dtype_name(t);
}

const char *us_recompute_name(enum us_recompute r)
{
    return core_recompute_name(r);
}

const char *us_schedule_name(enum us_schedule s)
{
    return core_schedule_name(s);
}

const char *us_objective_name(enum us_objective o)
{
    return search_objective_name(o);
}

const char *us_prune_name(enum us_prune p)
{
    return search_prune_name(p);
}

void us_diag_format(const struct us_diag *d, char *buf, size_t n)
{
    core_diag_format(d, buf, n);
}
