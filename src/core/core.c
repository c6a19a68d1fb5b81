/* core: assertions, arena, diagnostics, strict number parsing, UTF-8 check, buffers,
 * atomic file writes. No global state. */
#define _POSIX_C_SOURCE 200809L
#include "core/core.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void core_assert_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "ultrasim: internal error at %s:%d: assertion '%s' failed: ", file, line, cond);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

/* --- arena --- */
struct arena_chunk {
    struct arena_chunk *next;
    size_t cap, used;
    _Alignas(16) unsigned char data[];
};

struct core_arena {
    struct arena_chunk *head;
    size_t chunk_B;
    size_t used_B;
};

static struct arena_chunk *arena_chunk_new(size_t cap)
{
    struct arena_chunk *c = malloc(sizeof *c + cap);
    if (!c)
        return NULL;
    c->next = NULL;
    c->cap = cap;
    c->used = 0;
    return c;
}

struct core_arena *core_arena_create(size_t chunk_B)
{
    struct core_arena *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->chunk_B = chunk_B ? chunk_B : 64 * 1024;
    return a;
}

void core_arena_destroy(struct core_arena *a)
{
    if (!a)
        return;
    struct arena_chunk *c = a->head;
    while (c) {
        struct arena_chunk *n = c->next;
        free(c);
        c = n;
    }
    free(a);
}

void core_arena_reset(struct core_arena *a)
{
    if (!a || !a->head)
        return;
    /* keep the oldest chunk (the tail of the list), free the rest */
    struct arena_chunk *c = a->head, *keep = NULL;
    while (c) {
        struct arena_chunk *n = c->next;
        if (!n)
            keep = c;
        else
            free(c);
        c = n;
    }
    keep->used = 0;
    keep->next = NULL;
    a->head = keep;
    a->used_B = 0;
}

void *core_arena_alloc(struct core_arena *a, size_t n)
{
    US_ASSERT(a != NULL, "arena is NULL");
    size_t need = (n + 15u) & ~(size_t)15u;
    if (need < n)
        return NULL;
    struct arena_chunk *c = a->head;
    if (!c || c->cap - c->used < need) {
        size_t cap = need > a->chunk_B ? need : a->chunk_B;
        c = arena_chunk_new(cap);
        if (!c)
            return NULL;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += need;
    a->used_B += need;
    memset(p, 0, n);
    return p;
}

char *core_arena_strdup(struct core_arena *a, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = core_arena_alloc(a, n);
    if (p)
        memcpy(p, s, n);
    return p;
}

size_t core_arena_used_B(const struct core_arena *a)
{
    return a ? a->used_B : 0;
}

/* --- diagnostics --- */
enum us_status core_diag_vset(struct us_diag *d, enum us_status st, const char *file, int line,
                              int col, const char *path, const char *fmt, va_list ap)
{
    if (!d)
        return st;
    core_strlcpy(d->file, file ? file : "", sizeof d->file);
    d->line = line;
    d->col = col;
    core_strlcpy(d->path, path ? path : "", sizeof d->path);
    vsnprintf(d->msg, sizeof d->msg, fmt, ap);
    d->status = st;
    return st;
}

enum us_status core_diag_set(struct us_diag *d, const char *file, int line, int col,
                             const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum us_status st = core_diag_vset(d, US_EINPUT, file, line, col, path, fmt, ap);
    va_end(ap);
    return st;
}

enum us_status core_diag_status(struct us_diag *d, enum us_status st, const char *file, int line,
                                int col, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    core_diag_vset(d, st, file, line, col, path, fmt, ap);
    va_end(ap);
    return st;
}

void core_diag_format(const struct us_diag *d, char *buf, size_t n)
{
    struct core_buf b;
    core_buf_init(&b);
    if (d->file[0]) {
        core_buf_printf(&b, "%s:", d->file);
        if (d->line > 0) {
            core_buf_printf(&b, "%d:", d->line);
            if (d->col > 0)
                core_buf_printf(&b, "%d:", d->col);
        }
        core_buf_put(&b, " ", 1);
    }
    if (d->path[0])
        core_buf_printf(&b, "%s: ", d->path);
    core_buf_printf(&b, "%s", d->msg);
    core_strlcpy(buf, b.data ? b.data : d->msg, n);
    core_buf_fini(&b);
}

/* --- strings --- */
void core_strlcpy(char *dst, const char *src, size_t n)
{
    if (n == 0)
        return;
    size_t l = strlen(src);
    if (l >= n)
        l = n - 1;
    memcpy(dst, src, l);
    dst[l] = '\0';
}

void core_fmt(char *dst, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, n, fmt, ap);
    va_end(ap);
}

size_t core_utf8_check(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        size_t n;
        unsigned cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1Fu;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            cp = c & 0x0Fu;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07u;
        } else {
            return i;
        }
        if (len - i <= n)
            return i;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0u) != 0x80u)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3Fu);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += n + 1;
    }
    return len;
}

int core_parse_double(const char *s, double *out)
{
    if (!s || !*s || *s == ' ' || *s == '\t' || *s == '\n' || *s == '+')
        return -1;
    /* refuse hex floats, inf and nan spelled out */
    for (const char *p = s; *p; p++) {
        char ch = *p;
        if (!((ch >= '0' && ch <= '9') || ch == '.' || ch == 'e' || ch == 'E' || ch == '-' ||
              ch == '+'))
            return -1;
    }
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

int core_parse_i64(const char *s, int64_t *out)
{
    if (!s || !*s)
        return -1;
    const char *p = s;
    if (*p == '-')
        p++;
    if (!*p)
        return -1;
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9')
            return -1;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end != '\0' || errno == ERANGE)
        return -1;
    *out = (int64_t)v;
    return 0;
}

/* --- buffers --- */
void core_buf_init(struct core_buf *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
    b->max_B = 0;
    b->over = 0;
}

void core_buf_fini(struct core_buf *b)
{
    free(b->data);
    core_buf_init(b);
}

static int buf_reserve(struct core_buf *b, size_t extra)
{
    if (b->oom)
        return -1;
    if (b->max_B && b->len + extra > b->max_B) {
        b->oom = b->over = 1;
        return -1;
    }
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void core_buf_put(struct core_buf *b, const char *s, size_t n)
{
    if (buf_reserve(b, n))
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void core_buf_printf(struct core_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* --- files --- */
enum us_status core_write_file_atomic(const char *path, const char *data, size_t n,
                                      const char *magic, bool force, struct us_diag *d)
{
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISREG(st.st_mode))
            return core_diag_status(d, US_EINPUT, path, 0, 0, NULL,
                                    "is not a regular file; refusing to replace it");
        if (magic && !force) {
            char head[64] = {0};
            size_t m = strlen(magic) < sizeof head ? strlen(magic) : sizeof head;
            FILE *f = fopen(path, "rb");
            size_t got = f ? fread(head, 1, m, f) : 0;
            if (f)
                fclose(f);
            if (st.st_size > 0 && (got != m || memcmp(head, magic, m) != 0))
                return core_diag_status(d, US_EINPUT, path, 0, 0, NULL,
                                        "exists and is not a file this command writes; refusing "
                                        "to replace it (--force replaces it)");
        }
    }
    char tmp[1024];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return core_diag_status(d, US_EINPUT, path, 0, 0, NULL, "output path too long");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
    if (fd < 0 && errno == EEXIST && unlink(tmp) == 0) /* left by a killed run of this pid */
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return core_diag_status(d, US_EIO, path, 0, 0, NULL, "cannot write: %s", strerror(e));
    }
    size_t w = fwrite(data, 1, n, f);
    int bad = (w != n);
    if (fflush(f) != 0)
        bad = 1;
    if (ferror(f))
        bad = 1;
    int e = errno;
    if (fclose(f) != 0) {
        bad = 1;
        e = errno;
    }
    if (bad || rename(tmp, path) != 0) {
        if (!bad)
            e = errno;
        remove(tmp);
        return core_diag_status(d, US_EIO, path, 0, 0, NULL, "cannot write: %s", strerror(e));
    }
    return US_OK;
}

enum us_status core_read_file(const char *path, size_t max_B, char **out, size_t *len,
                              struct us_diag *d)
{
    *out = NULL;
    *len = 0;
    struct stat st;
    if (stat(path, &st) != 0)
        return core_diag_set(d, path, 0, 0, NULL, "cannot open: %s", strerror(errno));
    if (!S_ISREG(st.st_mode))
        return core_diag_set(d, path, 0, 0, NULL, "not a regular file");
    if ((uintmax_t)st.st_size > max_B)
        return core_diag_set(d, path, 0, 0, NULL, "file is %jd bytes, over the limit of %zu",
                             (intmax_t)st.st_size, max_B);
    FILE *f = fopen(path, "rb");
    if (!f)
        return core_diag_set(d, path, 0, 0, NULL, "cannot open: %s", strerror(errno));
    char *buf = malloc(max_B + 1 < (size_t)st.st_size + 1 ? max_B + 1 : (size_t)st.st_size + 1);
    if (!buf) {
        fclose(f);
        return core_diag_status(d, US_ENOMEM, path, 0, 0, NULL, "out of memory");
    }
    size_t n = fread(buf, 1, (size_t)st.st_size, f);
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return core_diag_status(d, US_EIO, path, 0, 0, NULL, "read error");
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return US_OK;
}

uint64_t core_hash_words(const int64_t *w, int n)
{
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < n; i++) {
        h ^= (uint64_t)w[i];
        h *= 1099511628211ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

void *core_grow(void *v, size_t n, size_t *cap, size_t elem_B, size_t first)
{
    if (n < *cap)
        return v;
    size_t c = *cap ? 2 * *cap : first;
    void *w = realloc(v, c * elem_B);
    if (w)
        *cap = c;
    return w;
}
