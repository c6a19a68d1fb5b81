/* catalog: lookups over the generated table. The table is sorted per kind by the
 * generator (file names sorted), so index order is name order. */
#include "catalog/catalog.h"

#include <string.h>

const struct catalog_entry *catalog_find(enum catalog_kind kind, const char *name)
{
    for (size_t i = 0; i < catalog_entry_count; i++)
        if (catalog_entries[i].kind == kind && strcmp(catalog_entries[i].name, name) == 0)
            return &catalog_entries[i];
    return NULL;
}

const struct catalog_entry *catalog_at(enum catalog_kind kind, size_t i)
{
    for (size_t k = 0; k < catalog_entry_count; k++)
        if (catalog_entries[k].kind == kind && i-- == 0)
            return &catalog_entries[k];
    return NULL;
}

size_t catalog_count(enum catalog_kind kind)
{
    size_t n = 0;
    for (size_t k = 0; k < catalog_entry_count; k++)
        n += catalog_entries[k].kind == kind;
    return n;
}
