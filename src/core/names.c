/* core: names of the public enums, shared by the loaders and the reports (the public us_*_name
 * functions are api/names.c's wrappers of these). */
#include "core/core.h"

const char *core_dtype_name(enum us_dtype t)
{
    static const char *const n[] = {"fp32", "fp16", "bf16", "fp8", "fp4"};
    return (unsigned)t < US_DTYPE_COUNT ? n[t] : "?";
}

const char *core_recompute_name(enum us_recompute r)
{
    static const char *const n[] = {"none", "selective", "full"};
    return (unsigned)r < 3 ? n[r] : "?";
}

const char *core_schedule_name(enum us_schedule s)
{
    static const char *const n[] = {"1f1b", "gpipe", "interleaved"};
    return (unsigned)s < 3 ? n[s] : "?";
}
