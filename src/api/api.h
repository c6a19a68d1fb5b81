/* api: the concrete forms of the public opaque handles, for the library's own modules.
 * include/ultrasim.h is the contract; this header is what the implementation shares. */
#ifndef US_API_H
#define US_API_H

#include "spec/spec.h"

struct us_ctx {
    int threads; /* default worker threads for search; 0 = number of cores */
};

struct us_job {
    struct spec_job spec; /* the loaded, checked job; parallel fields may be unset */
};

#endif
