/* api (internal): what validate.c shares with crossval.c. Not part of the public API. */
#ifndef US_API_VALIDATE_H
#define US_API_VALIDATE_H

#include "api/api.h"

/* us_validate, and when jobs is not NULL it gets a calloc'd array of out->ncases jobs: the
 * job of each predicted case as it ran (defaults filled), NULL for the others. The caller
 * destroys each job and frees the array. */
enum us_status validate_file(struct us_ctx *ctx, const char *path, struct us_validation *out,
                             struct us_job ***jobs, struct us_diag *d);

#endif
