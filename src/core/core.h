/* core: always-on assertions, the arena allocator, diagnostics and small string helpers.
 * Everything here is free of global state; an arena belongs to whoever created it.
 * Not here: anything that knows about specs, models or networks. */
#ifndef US_CORE_H
#define US_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "ultrasim.h"

/* US_ASSERT guards invariants that no input can break; it stays on in every build and
 * aborts with file:line. Input checks return US_EINPUT with a diagnostic instead. */
#define US_ASSERT(cond, ...)                                                                       \
    do {                                                                                           \
        if (!(cond))                                                                               \
            core_assert_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                              \
    } while (0)

#if defined(__GNUC__)
#define US_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define US_NORETURN     __attribute__((noreturn))
#else
#define US_PRINTF(a, b)
#define US_NORETURN
#endif

US_NORETURN void core_assert_fail(const char *file, int line, const char *cond, const char *fmt,
                                  ...) US_PRINTF(4, 5);

/* --- arena: bump allocation in chunks; reset keeps the first chunk, destroy frees all --- */
struct core_arena;
struct core_arena *core_arena_create(size_t chunk_B);
void core_arena_destroy(struct core_arena *a); /* NULL is a no-op */
void core_arena_reset(struct core_arena *a);
/* Returns zeroed memory aligned to 16 bytes, or NULL when malloc fails. */
void *core_arena_alloc(struct core_arena *a, size_t n_B);
char *core_arena_strdup(struct core_arena *a, const char *s);
size_t core_arena_used_B(const struct core_arena *a);

/* --- diagnostics --- */
/* Fills d (if not NULL) and returns US_EINPUT. file/path may be NULL; line/col 0 = unknown. */
enum us_status core_diag_set(struct us_diag *d, const char *file, int line, int col,
                             const char *path, const char *fmt, ...) US_PRINTF(6, 7);
enum us_status core_diag_vset(struct us_diag *d, enum us_status st, const char *file, int line,
                              int col, const char *path, const char *fmt, va_list ap);
/* "file:line:col: path: message" of a diagnostic (us_diag_format's body). */
void core_diag_format(const struct us_diag *d, char *buf, size_t n);
/* Names of the public enums (the us_*_name functions' bodies). */
const char *core_dtype_name(enum us_dtype t);
const char *core_recompute_name(enum us_recompute r);
const char *core_schedule_name(enum us_schedule s);
/* Same as core_diag_set with an explicit status. */
enum us_status core_diag_status(struct us_diag *d, enum us_status st, const char *file, int line,
                                int col, const char *path, const char *fmt, ...) US_PRINTF(7, 8);

/* --- growing arrays --- */
/* Room for one more element in v (n elements held, *cap allocated, elem_B each): v as it
 * is when there is room, else reallocated to twice *cap (first when *cap is 0) with *cap
 * updated; NULL when out of memory (v is then untouched and still owned by the caller). */
void *core_grow(void *v, size_t n, size_t *cap, size_t elem_B, size_t first);

/* --- hashing --- */
/* Slot hash of a cache key of n words: FNV-1a over whole words, then the murmur3 finalizer
 * (fmix64). FNV-1a alone leaves the low bits a function of the keys' low bits (a price's
 * bytes often have an all-zero low mantissa); fmix64 folds the high bits down. */
uint64_t core_hash_words(const int64_t *w, int n);

/* --- strings --- */
/* snprintf that always terminates and never warns about truncation. */
void core_strlcpy(char *dst, const char *src, size_t n);
void core_fmt(char *dst, size_t n, const char *fmt, ...) US_PRINTF(3, 4);
/* Validates UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF).
 * Returns the byte offset of the first bad sequence, or len when all is valid. */
size_t core_utf8_check(const unsigned char *s, size_t len);
/* Strict number parsing: the whole string must be consumed, finite, no leading spaces. */
int core_parse_double(const char *s, double *out);
int core_parse_i64(const char *s, int64_t *out);

/* --- growable byte buffer for reports (owned by its user; core_buf_fini frees) --- */
struct core_buf {
    char *data;
    size_t len, cap;
    int oom;      /* set once an append failed; later appends are dropped */
    size_t max_B; /* 0 = no limit; an append past it fails and sets over (and oom) */
    int over;
};
void core_buf_init(struct core_buf *b);
void core_buf_fini(struct core_buf *b);
void core_buf_printf(struct core_buf *b, const char *fmt, ...) US_PRINTF(2, 3);
void core_buf_put(struct core_buf *b, const char *s, size_t n);

/* Writes data to path atomically: a temporary file beside it (created exclusively), then
 * rename. Never leaves a half-written file. Replaces only a regular file, and, unless force,
 * only one that starts with `magic` (a file of the same kind; NULL = any regular file).
 * Returns US_OK, US_EINPUT when path is refused, or US_EIO with d filled. */
enum us_status core_write_file_atomic(const char *path, const char *data, size_t n,
                                      const char *magic, bool force, struct us_diag *d);
/* Reads a whole file, refusing anything over max_B. *out is malloc'd and NUL-terminated. */
enum us_status core_read_file(const char *path, size_t max_B, char **out, size_t *len,
                              struct us_diag *d);

#define US_MIN(a, b)    ((a) < (b) ? (a) : (b))
#define US_MAX(a, b)    ((a) > (b) ? (a) : (b))
#define US_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
