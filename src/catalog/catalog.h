/* catalog: look up embedded presets by kind and name. */
#ifndef US_CATALOG_H
#define US_CATALOG_H

#include "catalog/catalog_data.h"

/* Returns the entry or NULL. */
const struct catalog_entry *catalog_find(enum catalog_kind kind, const char *name);
/* i-th entry of a kind (sorted by name), or NULL. */
const struct catalog_entry *catalog_at(enum catalog_kind kind, size_t i);
size_t catalog_count(enum catalog_kind kind);

#endif
