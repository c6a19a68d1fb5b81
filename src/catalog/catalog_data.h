/* catalog: the presets embedded at build time from data/ (see cmake/embed.cmake). */
#ifndef US_CATALOG_DATA_H
#define US_CATALOG_DATA_H

#include <stddef.h>

/* systems and models are presets; the calibration set (data/calibration/published.yaml,
 * name "published") is what `validate` runs when it is given no file */
enum catalog_kind { CATALOG_KIND_SYSTEM = 0, CATALOG_KIND_MODEL = 1, CATALOG_KIND_CALIBRATION = 2 };

struct catalog_entry {
    enum catalog_kind kind;
    const char *name;   /* file base name, e.g. "dgx-h100" */
    const char *origin; /* "data/hardware/dgx-h100.yaml", used in diagnostics */
    const char *text;   /* YAML text, NUL-terminated */
    size_t len;         /* bytes, without the NUL */
};

extern const struct catalog_entry catalog_entries[];
extern const size_t catalog_entry_count;

#endif
