/* fuzz_spec: libFuzzer entry point for the spec loaders. The bytes are read as a job, a
 * system and a model; leading "--set k=v" lines become overrides so the fuzzer reaches
 * the override paths too. A loader may refuse anything, but must not crash, leak or hang,
 * and what it accepts must pass the model checks. Leaves out: the cost model. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spec/spec.h"

#define MAX_SETS 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A refusal must say where and what; an acceptance must be a sane model. */
static void check(enum us_status st, const struct us_diag *d, const struct spec_model *m)
{
    if (st == US_OK) {
        if (m && spec_model_check(m, "", NULL) != US_OK)
            abort();
        return;
    }
    if (d->status != st || d->msg[0] == '\0' || d->line < 0 || d->col < 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    struct spec_job *job = malloc(sizeof *job);
    if (!buf || !job) {
        free(buf);
        free(job);
        return 0;
    }
    if (size)
        memcpy(buf, data, size);
    buf[size] = '\0';

    const char *sets[MAX_SETS];
    size_t nsets = 0, off = 0;
    while (nsets < MAX_SETS && size - off > 6 && memcmp(buf + off, "--set ", 6) == 0) {
        char *nl = memchr(buf + off, '\n', size - off);
        if (!nl)
            break;
        *nl = '\0';
        sets[nsets++] = buf + off + 6;
        off = (size_t)(nl - buf) + 1;
    }

    struct us_diag d;
    struct spec_system sys;
    struct spec_model model;
    memset(&d, 0, sizeof d);
    enum us_status st =
        spec_job_load_text("fuzz.yaml", buf + off, size - off, sets, nsets, job, &d);
    check(st, &d, st == US_OK ? &job->model : NULL);
    memset(&d, 0, sizeof d);
    st = spec_system_parse("fuzz.yaml", buf + off, size - off, &sys, &d);
    check(st, &d, NULL);
    memset(&d, 0, sizeof d);
    st = spec_model_parse("fuzz.yaml", buf + off, size - off, &model, &d);
    check(st, &d, st == US_OK ? &model : NULL);
    free(job);
    free(buf);
    return 0;
}
