/* cli: collective - one collective on a system's topology, nccl-tests style (time, algbw,
 * busbw, the algorithm chosen and where the group lands). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* Byte counts as nccl-tests takes them: a number, optionally with K, M or G (powers of 2). */
static bool parse_bytes(const char *s, double *out)
{
    char num[64];
    size_t n = strlen(s);
    double mult = 1;
    if (n == 0 || n >= sizeof num)
        return false;
    memcpy(num, s, n + 1);
    char last = num[n - 1];
    if (last == 'K' || last == 'M' || last == 'G') {
        mult = last == 'K' ? 1024.0 : last == 'M' ? 1048576.0 : 1073741824.0;
        num[n - 1] = '\0';
    }
    double v;
    if (!cli_real(num, 0, 1e15, &v))
        return false;
    *out = v * mult;
    return *out >= 1 && *out <= 1e15;
}

int cmd_collective(int argc, char **argv)
{
    const char *cmd = "collective", *system = NULL, *op = NULL, *span = NULL, *v;
    double bytes = 0;
    long long chips = 0, group = 0;
    enum us_format fmt = US_FORMAT_TABLE;
    for (int i = 1; i < argc; i++) {
        int m;
        if ((m = cli_opt(cmd, argc, argv, &i, "--system", &system)) != 0 ||
            (m = cli_opt(cmd, argc, argv, &i, "--op", &op)) != 0 ||
            (m = cli_opt(cmd, argc, argv, &i, "--span", &span)) != 0) {
            if (m < 0)
                return 2;
        } else if ((m = cli_opt(cmd, argc, argv, &i, "--bytes", &v)) != 0) {
            if (m < 0)
                return 2;
            if (!parse_bytes(v, &bytes))
                return cli_usage(cmd,
                                 "--bytes must be 1..1e15, optionally with K, M or G, not '%s'", v);
        } else if ((m = cli_opt(cmd, argc, argv, &i, "--chips", &v)) != 0) {
            if (m < 0)
                return 2;
            if (!cli_int(v, 1, 1LL << 24, &chips))
                return cli_usage(cmd, "--chips must be 1..16777216, not '%s'", v);
        } else if ((m = cli_opt(cmd, argc, argv, &i, "--group", &v)) != 0) {
            if (m < 0)
                return 2;
            if (!cli_int(v, 1, 1LL << 24, &group))
                return cli_usage(cmd, "--group must be 1..16777216, not '%s'", v);
        } else if ((m = cli_format_opt(cmd, argc, argv, &i, &fmt)) != 0) {
            if (m < 0)
                return 2;
        } else {
            return cli_usage(cmd, "unknown argument '%s'", argv[i]);
        }
    }
    if (!system || !op || bytes <= 0 || chips <= 0)
        return cli_usage(cmd, "--system, --op, --bytes and --chips are required");
    if (group > chips)
        return cli_usage(cmd, "--group %lld is larger than --chips %lld", group, chips);
    struct us_collective_result r;
    struct us_diag d;
    enum us_status st =
        us_collective(NULL, system, op, bytes, (int64_t)chips, (int)group, span, &r, &d);
    if (st != US_OK)
        return cli_diag(&d);
    if (fmt == US_FORMAT_JSON) {
        printf("{\"system\": \"%s\", \"op\": \"%s\", \"bytes\": %.0f, \"chips\": %lld, "
               "\"group_size\": %d, \"stride\": %lld, \"algorithm\": \"%s\", \"time_s\": %.9g, "
               "\"algbw_GBps\": %.6g, \"busbw_GBps\": %.6g, \"per_domain\": %d, "
               "\"domains\": %lld, \"tiers\": %d}\n",
               system, op, bytes, chips, r.group_size, (long long)r.stride, r.algo, r.time_s,
               r.algbw_Bps / 1e9, r.busbw_Bps / 1e9, r.per_domain, (long long)r.domains, r.tiers);
    } else if (fmt == US_FORMAT_CSV) {
        printf("system,op,bytes,chips,group_size,stride,algorithm,time_s,algbw_GBps,busbw_GBps,"
               "per_domain,domains,tiers\n");
        printf("%s,%s,%.0f,%lld,%d,%lld,%s,%.9g,%.6g,%.6g,%d,%lld,%d\n", system, op, bytes, chips,
               r.group_size, (long long)r.stride, r.algo, r.time_s, r.algbw_Bps / 1e9,
               r.busbw_Bps / 1e9, r.per_domain, (long long)r.domains, r.tiers);
    } else {
        printf("%s %s of %.0f bytes over %d of %lld chips on %s (stride %lld)\n", op, r.algo, bytes,
               r.group_size, chips, system, (long long)r.stride);
        printf("  time      %.6g us\n", r.time_s * 1e6);
        printf("  algbw     %.2f GB/s\n", r.algbw_Bps / 1e9);
        printf("  busbw     %.2f GB/s\n", r.busbw_Bps / 1e9);
        printf("  placement %d per scale-up domain, %lld domains, %d scale-out tiers crossed\n",
               r.per_domain, (long long)r.domains, r.tiers);
    }
    return 0;
}
