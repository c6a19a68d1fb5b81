/* cli: validate - predicted vs measured step times for a file of published runs (default:
 * the calibration set built into the binary from data/calibration/published.yaml). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cmd_validate(int argc, char **argv)
{
    const char *cmd = "validate", *path = NULL;
    enum us_format fmt = US_FORMAT_TABLE;
    for (int i = 1; i < argc; i++) {
        int m;
        if ((m = cli_format_opt(cmd, argc, argv, &i, &fmt)) != 0) {
            if (m < 0)
                return 2;
        } else if (cli_positional(cmd, argv[i], &path, "file") != 0) {
            return 2;
        }
    }
    struct us_ctx *ctx = us_ctx_create();
    if (!ctx)
        return cli_fail(3, "out of memory");
    struct us_validation val;
    struct us_diag d;
    enum us_status st = us_validate(ctx, path, &val, &d);
    us_ctx_destroy(ctx);
    if (st != US_OK)
        return cli_diag(&d);
    us_validation_write(&val, fmt, stdout);
    us_validation_free(&val);
    return 0;
}
