/* fuzz_hfconfig: libFuzzer entry point for the HuggingFace config.json loader
 * (spec_model_parse_hf). Whatever it accepts must pass the model checks; whatever it
 * refuses must say where and why. Leaves out: the YAML job paths (fuzz_spec.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spec/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct us_diag d;
    struct spec_model m;
    memset(&d, 0, sizeof d);
    enum us_status st =
        spec_model_parse_hf("models/fuzz/config.json", (const char *)data, size, &m, &d);
    if (st == US_OK && spec_model_check(&m, "", NULL) != US_OK)
        abort();
    if (st != US_OK && (d.status != st || d.msg[0] == '\0'))
        abort();
    return 0;
}
