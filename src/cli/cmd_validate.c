/* cli: validate - predicted vs measured step times for a file of published runs (default:
 * the calibration set built into the binary from data/calibration/published.yaml). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cmd_validate(int argc, char **argv)
{
    const char *cmd = "validate", *path = NULL, *cv = NULL;
    enum us_format fmt = US_FORMAT_TABLE;
    for (int i = 1; i < argc; i++) {
        int m;
        if ((m = cli_format_opt(cmd, argc, argv, &i, &fmt)) != 0) {
            if (m < 0)
                return 2;
        } else if ((m = cli_opt(cmd, argc, argv, &i, "--cv", &cv)) != 0) {
            if (m < 0)
                return 2;
        } else if (cli_positional(cmd, argv[i], &path, "file") != 0) {
            return 2;
        }
    }
    enum us_cv_by by = US_CV_CHIP_FAMILY;
    if (cv) {
        int k = 0;
        while (k < 3 && strcmp(cv, us_cv_by_name((enum us_cv_by)k)) != 0)
            k++;
        if (k == 3)
            return cli_usage(cmd, "--cv takes chip_family, software or model_family, not '%s'", cv);
        by = (enum us_cv_by)k;
    }
    struct us_ctx *ctx = us_ctx_create();
    if (!ctx)
        return cli_fail(3, "out of memory");
    struct us_diag d;
    if (cv) {
        struct us_crossval *x = malloc(sizeof *x);
        enum us_status st = x ? us_validate_cv(ctx, path, by, x, &d) : US_ENOMEM;
        us_ctx_destroy(ctx);
        if (!x)
            return cli_fail(3, "out of memory");
        if (st != US_OK) {
            free(x);
            return cli_diag(&d);
        }
        us_crossval_write(x, fmt, stdout);
        free(x);
        return 0;
    }
    struct us_validation val;
    enum us_status st = us_validate(ctx, path, &val, &d);
    us_ctx_destroy(ctx);
    if (st != US_OK)
        return cli_diag(&d);
    us_validation_write(&val, fmt, stdout);
    us_validation_free(&val);
    return 0;
}
