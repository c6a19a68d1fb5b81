/* sweep: every point of a grid of overrides applied to one job, evaluated in parallel and
 * written to SQLite (one row per point). Points are shared by rank: rank r of n takes
 * points r, r+n, ... (the caller says which rank it is; the CLI does so under MPI). Each rank
 * commits every finished point at once to its own part file, <out>.part<r>, so a killed rank
 * loses at most the points it was computing; a rerun skips every point already in the output
 * or in any part. Rank 0 then merges the parts into a temporary file and renames it over the
 * output, which is replaced only when it is a database of this same sweep (unless force).
 * The sweep file itself is read by spec_sweep_load (src/spec/sweep.c). */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <strings.h>
#include <unistd.h>

#include "api/api.h"
#include "core/core.h"
#include "spec/spec.h"

/* one "key=value" override: a 127-byte key and a 180-byte value quoted and escaped */
#define SWEEP_SET_B  512
#define SWEEP_PATH_B 1100
#define SWEEP_FORMAT "ultrasim-sweep-1"

struct sweep_row {
    enum us_status st;
    struct us_result r;
    char err[300];
};

/* State shared by the worker threads of one rank; mu guards everything below it. */
struct sweep_shared {
    const struct spec_sweep *s;
    const struct us_sweep_options *opt;
    long long rank, size, mine; /* this rank's points: rank + k*size, k < mine */
    const unsigned char *done;  /* bitmap over k: already in the output or a part */
    pthread_mutex_t mu;
    long long next;     /* the next k no thread has taken */
    long long finished; /* points of this rank written (or found written) */
    sqlite3 *db;        /* this rank's part file */
    sqlite3_stmt *ins;
    long long ok, infeasible, errors;
    int failed; /* a write failed: stop */
    char errmsg[300];
};

static void point_sets(const struct spec_sweep *s, long long p, char buf[][SWEEP_SET_B],
                       const char **v)
{
    for (int a = s->naxes - 1; a >= 0; a--) {
        const struct spec_sweep_axis *ax = &s->axes[a];
        int i = (int)(p % ax->nvalues);
        p /= ax->nvalues;
        snprintf(buf[a], SWEEP_SET_B, "%s=%s", ax->key, ax->values[i]);
        v[a] = buf[a];
    }
}

static const char *const result_cols[] = {"status",
                                          "reason",
                                          "chips",
                                          "tp",
                                          "pp",
                                          "dp",
                                          "cp",
                                          "ep",
                                          "vpp",
                                          "zero",
                                          "sp",
                                          "recompute",
                                          "micro_batch",
                                          "step_time_s",
                                          "tokens_per_s",
                                          "mfu",
                                          "peak_memory_gib",
                                          "fits",
                                          "energy_j_per_step",
                                          "cost_usd_per_hour",
                                          "time_to_train_days",
                                          "goodput",
                                          "energy_mwh",
                                          "cost_usd"};

/* An axis named like a result column (`chips`): SQLite column names ignore case, and two
 * alike would make the table invalid, so that axis's column is "axis.chips". */
static bool axis_collides(const char *key)
{
    for (size_t i = 0; i < US_ARRAY_LEN(result_cols); i++)
        if (strcasecmp(key, result_cols[i]) == 0)
            return true;
    return strcasecmp(key, "point") == 0;
}

static int db_exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

static const char *status_name(enum us_status st)
{
    switch (st) {
    case US_OK:
        return "ok";
    case US_INFEASIBLE:
        return "infeasible";
    default:
        return "error";
    }
}

/* FNV-1a over bytes, continuing from h. */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        h ^= c[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* What a database must carry to be resumed by this sweep: the engine, the axes with their
 * values in order (they fix what a point number means) and the base job file's bytes. */
static void sweep_fingerprint(const struct spec_sweep *s, char out[40])
{
    uint64_t h = 1469598103934665603ull;
    h = fnv(h, s->closed_form ? "c" : "e", 1);
    for (int a = 0; a < s->naxes; a++) {
        h = fnv(h, s->axes[a].key, strlen(s->axes[a].key) + 1);
        for (int i = 0; i < s->axes[a].nvalues; i++)
            h = fnv(h, s->axes[a].values[i], strlen(s->axes[a].values[i]) + 1);
    }
    FILE *f = fopen(s->job_path, "rb");
    if (f) {
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0)
            h = fnv(h, buf, n);
        fclose(f);
    }
    snprintf(out, 40, "%016" PRIx64, h);
}

/* Creates the results table, the meta table and the insert statement in an empty db. */
static int db_schema(sqlite3 *db, const struct spec_sweep *s, const char *fp, sqlite3_stmt **ins)
{
    struct core_buf sql, q;
    core_buf_init(&sql);
    core_buf_init(&q);
    core_buf_printf(&sql, "CREATE TABLE IF NOT EXISTS results(point INTEGER PRIMARY KEY");
    core_buf_printf(&q, "INSERT OR REPLACE INTO results VALUES(?");
    for (int a = 0; a < s->naxes; a++) {
        core_buf_printf(&sql, ", \"%s", axis_collides(s->axes[a].key) ? "axis." : "");
        for (const char *c = s->axes[a].key; *c; c++)
            core_buf_printf(&sql, "%s", *c == '"' ? "\"\"" : (char[]){*c, 0});
        core_buf_printf(&sql, "\" TEXT");
        core_buf_printf(&q, ",?");
    }
    for (size_t i = 0; i < US_ARRAY_LEN(result_cols); i++) {
        core_buf_printf(&sql, ", %s", result_cols[i]);
        core_buf_printf(&q, ",?");
    }
    core_buf_printf(&sql,
                    "); CREATE TABLE IF NOT EXISTS sweep_meta(key TEXT PRIMARY KEY, "
                    "value TEXT); INSERT OR REPLACE INTO sweep_meta VALUES('format', '" SWEEP_FORMAT
                    "'); INSERT OR REPLACE INTO sweep_meta VALUES('fingerprint', '%s');",
                    fp);
    core_buf_printf(&q, ")");
    int bad = sql.oom || q.oom || db_exec(db, sql.data) ||
              (ins && sqlite3_prepare_v2(db, q.data, -1, ins, NULL) != SQLITE_OK);
    core_buf_fini(&sql);
    core_buf_fini(&q);
    return bad ? -1 : 0;
}

enum db_kind { DB_NONE, DB_SAME, DB_OTHER_SWEEP, DB_FOREIGN, DB_NOT_REGULAR };

/* What is at path: nothing, a sweep database of this sweep (fingerprint fp), of another
 * sweep, something else, or not a regular file at all (a link, a device, a folder). */
static enum db_kind db_probe(const char *path, const char *fp)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? DB_NONE : DB_NOT_REGULAR;
    if (!S_ISREG(st.st_mode))
        return DB_NOT_REGULAR;
    char head[16] = {0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return DB_FOREIGN;
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    if (n != sizeof head || memcmp(head, "SQLite format 3", 16) != 0)
        return DB_FOREIGN;
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    enum db_kind k = DB_FOREIGN;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db,
                           "SELECT (SELECT value FROM sweep_meta WHERE key='format'), "
                           "(SELECT value FROM sweep_meta WHERE key='fingerprint')",
                           -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW) {
        const unsigned char *fmt = sqlite3_column_text(q, 0);
        const unsigned char *f2 = sqlite3_column_text(q, 1);
        if (fmt && strcmp((const char *)fmt, SWEEP_FORMAT) == 0)
            k = f2 && strcmp((const char *)f2, fp) == 0 ? DB_SAME : DB_OTHER_SWEEP;
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    return k;
}

/* Marks in done[] the points of this rank found in the database at path. */
static void db_mark_done(const char *path, const struct sweep_shared *sh, unsigned char *done,
                         long long *found)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT point FROM results", -1, &q, NULL) == SQLITE_OK) {
        while (sqlite3_step(q) == SQLITE_ROW) {
            long long p = sqlite3_column_int64(q, 0);
            if (p < 0 || p >= sh->s->points || p % sh->size != sh->rank)
                continue;
            long long k = p / sh->size;
            if (!(done[k / 8] & (1u << (k % 8)))) {
                done[k / 8] |= (unsigned char)(1u << (k % 8));
                (*found)++;
            }
        }
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
}

/* Calls fn(path, user) for every part file of out (<out>.part*, including the -wal and -shm
 * files SQLite keeps beside them and the <out>.partN.PID files of older versions). */
static void each_part(const char *out, void (*fn)(const char *path, void *user), void *user)
{
    char dir[SWEEP_PATH_B], prefix[SWEEP_PATH_B], path[2 * SWEEP_PATH_B];
    const char *slash = strrchr(out, '/');
    if (slash) {
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - out), out);
        if (!dir[0])
            strcpy(dir, "/");
        snprintf(prefix, sizeof prefix, "%s.part", slash + 1);
    } else {
        strcpy(dir, ".");
        snprintf(prefix, sizeof prefix, "%s.part", out);
    }
    DIR *dd = opendir(dir);
    if (!dd)
        return;
    struct dirent *e;
    size_t pl = strlen(prefix);
    while ((e = readdir(dd)) != NULL) {
        if (strncmp(e->d_name, prefix, pl) != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        fn(path, user);
    }
    closedir(dd);
}

/* A part file proper: <out>.part<digits>, no suffix. */
static bool is_part_db(const char *path)
{
    const char *p = strrchr(path, 't'); /* the last 't' of ".part" */
    if (!p || p[1] == '\0')
        return false;
    for (p++; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

struct mark_ctx {
    struct sweep_shared *sh;
    unsigned char *done;
    long long found;
    const char *fp;
};

static void mark_part(const char *path, void *user)
{
    struct mark_ctx *m = user;
    if (is_part_db(path) && db_probe(path, m->fp) == DB_SAME)
        db_mark_done(path, m->sh, m->done, &m->found);
}

static int db_insert(sqlite3_stmt *ins, const struct spec_sweep *s, long long p,
                     const struct sweep_row *row)
{
    char buf[SPEC_SWEEP_MAX_AXES][SWEEP_SET_B];
    const char *v[SPEC_SWEEP_MAX_AXES];
    point_sets(s, p, buf, v);
    int c = 1;
    sqlite3_bind_int64(ins, c++, p);
    for (int a = 0; a < s->naxes; a++)
        sqlite3_bind_text(ins, c++, strchr(v[a], '=') + 1, -1, SQLITE_TRANSIENT);
    const struct us_result *r = &row->r;
    const struct us_layout *l = &r->layout;
    bool ran = row->st == US_OK || (row->st == US_INFEASIBLE && r->valid);
    sqlite3_bind_text(ins, c++, status_name(row->st), -1, SQLITE_STATIC);
    sqlite3_bind_text(ins, c++, row->err, -1, SQLITE_TRANSIENT);
    int ints[] = {r->nchips,           l->tp, l->pp, l->dp, l->cp, l->ep, l->vpp, l->zero,
                  l->sequence_parallel};
    for (size_t i = 0; i < US_ARRAY_LEN(ints); i++) {
        if (row->st == US_OK || row->st == US_INFEASIBLE)
            sqlite3_bind_int(ins, c++, ints[i]);
        else
            sqlite3_bind_null(ins, c++);
    }
    if (row->st == US_OK || row->st == US_INFEASIBLE)
        sqlite3_bind_text(ins, c++, us_recompute_name(l->recompute), -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(ins, c++);
    sqlite3_bind_int(ins, c++, l->micro_batch);
    double reals[] = {r->step_time_s, r->tokens_per_s, r->mfu, r->memory.peak_B / 1073741824.0};
    for (size_t i = 0; i < US_ARRAY_LEN(reals); i++) {
        if (ran)
            sqlite3_bind_double(ins, c++, reals[i]);
        else
            sqlite3_bind_null(ins, c++);
    }
    sqlite3_bind_int(ins, c++, r->fits);
    double more[] = {r->energy_j_per_step, r->cost_usd_per_hour};
    for (size_t i = 0; i < US_ARRAY_LEN(more); i++) {
        if (ran)
            sqlite3_bind_double(ins, c++, more[i]);
        else
            sqlite3_bind_null(ins, c++);
    }
    double run[] = {r->time_to_train_s / 86400.0, r->goodput, r->energy_J / 3.6e9, r->cost_usd};
    for (size_t i = 0; i < US_ARRAY_LEN(run); i++) {
        if (ran && r->has_run)
            sqlite3_bind_double(ins, c++, run[i]);
        else
            sqlite3_bind_null(ins, c++);
    }
    int rc = sqlite3_step(ins);
    sqlite3_reset(ins);
    return rc == SQLITE_DONE ? 0 : -1;
}

static void run_point(struct us_ctx *ctx, const struct spec_sweep *s, long long p,
                      struct sweep_row *row)
{
    char buf[SPEC_SWEEP_MAX_AXES][SWEEP_SET_B];
    const char *v[SPEC_SWEEP_MAX_AXES];
    point_sets(s, p, buf, v);
    struct us_job *job = NULL;
    struct us_diag d;
    memset(row, 0, sizeof *row);
    row->st = us_job_load(ctx, s->job_path, v, (size_t)s->naxes, &job, &d);
    if (row->st == US_OK) {
        struct us_run_options opt = {.closed_form_only = s->closed_form, .threads = 1};
        row->st = us_run(ctx, job, &opt, &row->r, &d);
    }
    if (row->st != US_OK && row->st != US_INFEASIBLE)
        us_diag_format(&d, row->err, sizeof row->err);
    else if (row->st == US_INFEASIBLE)
        core_strlcpy(row->err, row->r.reason, sizeof row->err);
    us_job_destroy(job);
}

static void *sweep_worker(void *arg)
{
    struct sweep_shared *sh = arg;
    struct us_ctx *ctx = us_ctx_create();
    struct sweep_row *row = malloc(sizeof *row);
    if (!ctx || !row) {
        pthread_mutex_lock(&sh->mu);
        if (!sh->failed) {
            sh->failed = 1;
            core_strlcpy(sh->errmsg, "out of memory", sizeof sh->errmsg);
        }
        pthread_mutex_unlock(&sh->mu);
    }
    for (;;) {
        pthread_mutex_lock(&sh->mu);
        while (!sh->failed && sh->next < sh->mine &&
               (sh->done[sh->next / 8] & (1u << (sh->next % 8))))
            sh->next++;
        long long k = sh->failed ? sh->mine : sh->next++;
        pthread_mutex_unlock(&sh->mu);
        if (k >= sh->mine || !row || !ctx)
            break;
        long long p = sh->rank + k * sh->size;
        run_point(ctx, sh->s, p, row);
        pthread_mutex_lock(&sh->mu);
        sh->ok += row->st == US_OK;
        sh->infeasible += row->st == US_INFEASIBLE;
        sh->errors += row->st != US_OK && row->st != US_INFEASIBLE;
        /* autocommit: the point is in the part file before the next one starts */
        if (!sh->failed && db_insert(sh->ins, sh->s, p, row) != 0) {
            sh->failed = 1;
            core_fmt(sh->errmsg, sizeof sh->errmsg, "database: %s", sqlite3_errmsg(sh->db));
        }
        sh->finished++;
        if (sh->opt && sh->opt->progress)
            sh->opt->progress(sh->opt->progress_user, sh->finished, sh->mine);
        pthread_mutex_unlock(&sh->mu);
    }
    free(row);
    us_ctx_destroy(ctx);
    return NULL;
}

/* Refuses to go on when out is something this sweep may not replace. */
static enum us_status check_out(const char *out, const char *fp, bool force, bool *resume,
                                struct us_diag *d)
{
    enum db_kind k = db_probe(out, fp);
    *resume = k == DB_SAME && !force;
    switch (k) {
    case DB_NONE:
    case DB_SAME:
        return US_OK;
    case DB_NOT_REGULAR:
        return core_diag_status(d, US_EINPUT, out, 0, 0, NULL,
                                "is not a regular file; refusing to replace it");
    case DB_OTHER_SWEEP:
        if (force)
            return US_OK;
        return core_diag_status(d, US_EINPUT, out, 0, 0, NULL,
                                "holds the results of a different sweep (other axes, engine or "
                                "base job); refusing to replace it (--force replaces it)");
    case DB_FOREIGN:
    default:
        if (force)
            return US_OK;
        return core_diag_status(d, US_EINPUT, out, 0, 0, NULL,
                                "exists and is not an ultrasim sweep database; refusing to "
                                "replace it (--force replaces it)");
    }
}

static void remove_part(const char *path, void *user)
{
    (void)user;
    remove(path);
}

struct merge_ctx {
    sqlite3 *db;
    const char *fp;
    int bad;
};

static void merge_part(const char *path, void *user)
{
    struct merge_ctx *m = user;
    if (m->bad || !is_part_db(path) || db_probe(path, m->fp) != DB_SAME)
        return;
    char *q = sqlite3_mprintf("ATTACH %Q AS part; BEGIN; INSERT OR IGNORE INTO results SELECT * "
                              "FROM part.results; COMMIT; DETACH part;",
                              path);
    if (!q || db_exec(m->db, q) != 0)
        m->bad = 1;
    sqlite3_free(q);
}

/* Rank 0, after every rank has written its part: the output (if resumed) and every part of
 * this sweep into a temporary file, renamed over out when it holds every point. */
static enum us_status merge(const struct spec_sweep *s, const char *out, const char *fp,
                            bool resume, struct us_sweep_summary *sum, struct us_diag *d)
{
    char tmp[SWEEP_PATH_B];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out, (long)getpid()) >= (int)sizeof tmp)
        return core_diag_status(d, US_EINPUT, out, 0, 0, NULL, "output path too long");
    remove(tmp);
    sqlite3 *db = NULL;
    struct merge_ctx m = {NULL, fp, 0};
    enum us_status st = US_OK;
    if (sqlite3_open(tmp, &db) != SQLITE_OK || db_exec(db, "PRAGMA journal_mode=OFF") ||
        db_exec(db, "PRAGMA synchronous=OFF") || db_schema(db, s, fp, NULL) != 0) {
        st = core_diag_status(d, US_EIO, out, 0, 0, NULL, "cannot create the database: %s",
                              db ? sqlite3_errmsg(db) : "out of memory");
        goto done;
    }
    m.db = db;
    if (resume) {
        char *q = sqlite3_mprintf("ATTACH %Q AS old; INSERT OR IGNORE INTO results SELECT * FROM "
                                  "old.results; DETACH old;",
                                  out);
        if (!q || db_exec(db, q) != 0)
            m.bad = 1;
        sqlite3_free(q);
    }
    each_part(out, merge_part, &m);
    sqlite3_stmt *q = NULL;
    long long rows = -1;
    if (!m.bad &&
        sqlite3_prepare_v2(db,
                           "SELECT count(*), sum(status='ok'), sum(status='infeasible'), "
                           "sum(status='error') FROM results",
                           -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW) {
        rows = sqlite3_column_int64(q, 0);
        sum->ok = sqlite3_column_int64(q, 1);
        sum->infeasible = sqlite3_column_int64(q, 2);
        sum->errors = sqlite3_column_int64(q, 3);
    }
    sqlite3_finalize(q);
    if (m.bad || rows < 0) {
        st = core_diag_status(d, US_EIO, out, 0, 0, NULL, "merging the parts failed: %s",
                              sqlite3_errmsg(db));
    } else if (rows != s->points) {
        st = core_diag_status(d, US_EIO, out, 0, 0, NULL,
                              "only %lld of %lld points were written (a rank failed); run the "
                              "sweep again to finish it",
                              rows, s->points);
    }
done:
    if (db && sqlite3_close(db) != SQLITE_OK && st == US_OK)
        st = core_diag_status(d, US_EIO, out, 0, 0, NULL, "cannot write the database");
    if (st == US_OK && rename(tmp, out) != 0)
        st = core_diag_status(d, US_EIO, out, 0, 0, NULL, "cannot write the database: %s",
                              strerror(errno));
    if (st != US_OK)
        remove(tmp);
    else
        each_part(out, remove_part, NULL);
    return st;
}

enum us_status us_sweep(struct us_ctx *ctx, const char *sweep_path, const char *db_path,
                        const struct us_sweep_options *opt, struct us_sweep_summary *sum,
                        struct us_diag *d)
{
    memset(sum, 0, sizeof *sum);
    int rank = opt && opt->ranks > 1 ? opt->rank : 0;
    int size = opt && opt->ranks > 1 ? opt->ranks : 1;
    if (rank < 0 || rank >= size || (size > 1 && !opt->all_ok))
        return core_diag_status(d, US_EINPUT, "", 0, 0, NULL,
                                "rank %d of %d: ranks must be 0..%d and all_ok set", rank, size,
                                size - 1);
    if (strlen(db_path) + 32 >= SWEEP_PATH_B)
        return core_diag_status(d, US_EINPUT, db_path, 0, 0, NULL, "output path too long");
    struct spec_sweep *s = calloc(1, sizeof *s);
    if (!s)
        return core_diag_status(d, US_ENOMEM, sweep_path, 0, 0, NULL, "out of memory");
    unsigned char *done = NULL;
    struct sweep_shared sh = {.s = s, .opt = opt, .rank = rank, .size = size};
    bool resume = false, locked = false;
    char fp[40], part[SWEEP_PATH_B];
    enum us_status st = spec_sweep_load(sweep_path, s, d);
    if (st != US_OK)
        goto out;
    sum->ranks = size;
    sum->rank = rank;
    sum->points = s->points;
    sweep_fingerprint(s, fp);
    st = check_out(db_path, fp, opt && opt->force, &resume, d);
    if (st != US_OK)
        goto out;
    {
        /* the base job with the first point's overrides: a job that cannot load is the
         * sweep's error (exit 2), not 3,200 failed points */
        char buf[SPEC_SWEEP_MAX_AXES][SWEEP_SET_B];
        const char *v[SPEC_SWEEP_MAX_AXES];
        point_sets(s, 0, buf, v);
        struct us_job *job = NULL;
        struct us_diag jd;
        enum us_status js = us_job_load(ctx, s->job_path, v, (size_t)s->naxes, &job, &jd);
        us_job_destroy(job);
        if (js != US_OK && strcmp(jd.file, "--set") != 0) {
            *d = jd;
            st = js;
            goto out;
        }
    }
    sh.mine = s->points > rank ? (s->points - rank + size - 1) / size : 0;
    done = calloc((size_t)(sh.mine / 8 + 1), 1);
    if (!done) {
        st = core_diag_status(d, US_ENOMEM, sweep_path, 0, 0, NULL, "out of memory");
        goto run_done;
    }
    sh.done = done;
    snprintf(part, sizeof part, "%s.part%d", db_path, rank);
    /* this rank's part: resumed when it belongs to this sweep, else started afresh */
    enum db_kind pk = db_probe(part, fp);
    if (pk == DB_NOT_REGULAR && access(part, F_OK) == 0) {
        st = core_diag_status(d, US_EINPUT, part, 0, 0, NULL,
                              "is not a regular file; refusing to replace it");
        goto run_done;
    }
    if (pk != DB_SAME || (opt && opt->force)) {
        remove(part);
        char side[SWEEP_PATH_B + 8];
        snprintf(side, sizeof side, "%s-wal", part);
        remove(side);
        snprintf(side, sizeof side, "%s-shm", part);
        remove(side);
    }
    {
        struct mark_ctx m = {&sh, done, 0, fp};
        if (resume)
            db_mark_done(db_path, &sh, done, &m.found);
        if (!(opt && opt->force))
            each_part(db_path, mark_part, &m);
        sh.finished = m.found;
        sum->resumed = m.found;
    }
    if (sqlite3_open(part, &sh.db) != SQLITE_OK || db_exec(sh.db, "PRAGMA journal_mode=WAL") ||
        db_exec(sh.db, "PRAGMA synchronous=NORMAL") || db_schema(sh.db, s, fp, &sh.ins) != 0) {
        st = core_diag_status(d, US_EIO, part, 0, 0, NULL, "cannot create the database: %s",
                              sh.db ? sqlite3_errmsg(sh.db) : "out of memory");
        goto run_done;
    }
    if (pthread_mutex_init(&sh.mu, NULL) != 0) {
        st = core_diag_status(d, US_ENOMEM, sweep_path, 0, 0, NULL, "cannot create a mutex");
        goto run_done;
    }
    locked = true;
    {
        int threads = opt && opt->threads > 0 ? opt->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
        if (threads < 1)
            threads = 1;
        if (threads > 64)
            threads = 64;
        if (opt && opt->progress)
            opt->progress(opt->progress_user, sh.finished, sh.mine);
        pthread_t th[64];
        int started[64] = {0};
        for (int t = 1; t < threads; t++)
            started[t] = pthread_create(&th[t], NULL, sweep_worker, &sh) == 0;
        sweep_worker(&sh);
        for (int t = 1; t < threads; t++)
            if (started[t])
                pthread_join(th[t], NULL);
    }
    if (sh.failed)
        st = core_diag_status(d, US_EIO, part, 0, 0, NULL, "%s", sh.errmsg);
run_done:
    sqlite3_finalize(sh.ins);
    if (sh.db && sqlite3_close(sh.db) != SQLITE_OK && st == US_OK)
        st = core_diag_status(d, US_EIO, part, 0, 0, NULL, "cannot close the database");
    sh.db = NULL;
    if (size > 1 && opt && opt->all_ok) {
        /* every rank's part is complete before rank 0 merges them */
        int all = opt->all_ok(opt->all_ok_user, st == US_OK);
        if (!all && st == US_OK)
            st = core_diag_status(d, US_EIO, db_path, 0, 0, NULL,
                                  "another rank failed; run the sweep again to finish it");
    }
    if (st == US_OK && rank == 0)
        st = merge(s, db_path, fp, resume, sum, d);
    if (rank != 0) {
        sum->ok = sh.ok;
        sum->infeasible = sh.infeasible;
        sum->errors = sh.errors;
    }
out:
    if (locked)
        pthread_mutex_destroy(&sh.mu);
    free(done);
    spec_sweep_fini(s);
    free(s);
    return st;
}
