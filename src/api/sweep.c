/* sweep: every point of a grid of overrides applied to one job, evaluated in parallel and
 * written to SQLite (one row per point). With MPI (built with US_HAVE_MPI and launched by
 * mpirun) rank r takes points r, r+size, ...; each rank writes its own database and rank 0
 * merges them. The output database appears only when complete (temporary file, rename).
 * The sweep file itself is read by spec_sweep_load (src/spec/sweep.c). */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#ifdef US_HAVE_MPI
#include <mpi.h>
#endif

#include "api/api.h"
#include "core/core.h"
#include "spec/spec.h"

#define SWEEP_CHUNK 2048
/* one "key=value" override: a 127-byte key and a 180-byte value quoted and escaped */
#define SWEEP_SET_B 512

struct sweep_row {
    enum us_status st;
    struct us_result r;
    char err[300];
};

struct sweep_work {
    const struct spec_sweep *s;
    long long first, stride, count; /* point index = first + k*stride, k < count */
    struct sweep_row *rows;
    int nthreads, tid;
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

static void *sweep_worker(void *arg)
{
    struct sweep_work *w = arg;
    struct us_ctx *ctx = us_ctx_create();
    char buf[SPEC_SWEEP_MAX_AXES][SWEEP_SET_B];
    const char *v[SPEC_SWEEP_MAX_AXES];
    for (long long k = w->tid; k < w->count; k += w->nthreads) {
        struct sweep_row *row = &w->rows[k];
        long long p = w->first + k * w->stride;
        point_sets(w->s, p, buf, v);
        struct us_job *job = NULL;
        struct us_diag d;
        row->err[0] = '\0';
        row->st = us_job_load(ctx, w->s->job_path, v, (size_t)w->s->naxes, &job, &d);
        if (row->st == US_OK) {
            struct us_run_options opt = {.closed_form_only = w->s->closed_form, .threads = 1};
            row->st = us_run(ctx, job, &opt, &row->r, &d);
        }
        if (row->st != US_OK && row->st != US_INFEASIBLE)
            us_diag_format(&d, row->err, sizeof row->err);
        else if (row->st == US_INFEASIBLE)
            core_strlcpy(row->err, row->r.reason, sizeof row->err);
        us_job_destroy(job);
    }
    us_ctx_destroy(ctx);
    return NULL;
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

static enum us_status db_open(const char *path, const struct spec_sweep *s, sqlite3 **out,
                              sqlite3_stmt **ins, struct us_diag *d)
{
    remove(path);
    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK) {
        sqlite3_close(db);
        return core_diag_status(d, US_EIO, path, 0, 0, NULL, "cannot create the database");
    }
    struct core_buf sql, q;
    core_buf_init(&sql);
    core_buf_init(&q);
    core_buf_printf(&sql, "CREATE TABLE results(point INTEGER PRIMARY KEY");
    core_buf_printf(&q, "INSERT INTO results VALUES(?");
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
    core_buf_printf(&sql, ")");
    core_buf_printf(&q, ")");
    int bad = sql.oom || q.oom || db_exec(db, "PRAGMA journal_mode=OFF") ||
              db_exec(db, "PRAGMA synchronous=OFF") || db_exec(db, sql.data) ||
              sqlite3_prepare_v2(db, q.data, -1, ins, NULL) != SQLITE_OK;
    core_buf_fini(&sql);
    core_buf_fini(&q);
    if (bad) {
        enum us_status st =
            core_diag_status(d, US_EIO, path, 0, 0, NULL, "database: %s", sqlite3_errmsg(db));
        sqlite3_close(db);
        return st;
    }
    *out = db;
    return US_OK;
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

enum us_status us_sweep(struct us_ctx *ctx, const char *sweep_path, const char *db_path,
                        const struct us_sweep_options *opt, struct us_sweep_summary *sum,
                        struct us_diag *d)
{
    (void)ctx;
    memset(sum, 0, sizeof *sum);
    struct spec_sweep *s = calloc(1, sizeof *s);
    if (!s)
        return core_diag_status(d, US_ENOMEM, sweep_path, 0, 0, NULL, "out of memory");
    enum us_status st = spec_sweep_load(sweep_path, s, d);
    if (st != US_OK)
        goto out_spec;
    int rank = 0, size = 1;
#ifdef US_HAVE_MPI
    int inited = 0, we_inited = 0;
    MPI_Initialized(&inited);
    if (!inited) {
        MPI_Init(NULL, NULL);
        we_inited = 1;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
#endif
    sum->ranks = size;
    sum->rank = rank;
    sum->points = s->points;
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.part%d.%ld", db_path, rank, (long)getpid());
    sqlite3 *db = NULL;
    sqlite3_stmt *ins = NULL;
    st = db_open(tmp, s, &db, &ins, d);
    if (st != US_OK)
        goto out_db; /* still meet the other ranks in the collectives below */
    int threads = opt && opt->threads > 0 ? opt->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (threads < 1)
        threads = 1;
    if (threads > 64)
        threads = 64;
    struct sweep_row *rows = calloc(SWEEP_CHUNK, sizeof *rows);
    if (!rows) {
        st = core_diag_status(d, US_ENOMEM, sweep_path, 0, 0, NULL, "out of memory");
        goto out_db;
    }
    long long mine = s->points > rank ? (s->points - rank + size - 1) / size : 0;
    db_exec(db, "BEGIN");
    for (long long k0 = 0; k0 < mine; k0 += SWEEP_CHUNK) {
        long long n = mine - k0 < SWEEP_CHUNK ? mine - k0 : SWEEP_CHUNK;
        pthread_t th[64];
        struct sweep_work w[64];
        for (int t = 0; t < threads; t++) {
            w[t] = (struct sweep_work){s, rank + k0 * size, size, n, rows, threads, t};
            if (threads == 1 || pthread_create(&th[t], NULL, sweep_worker, &w[t]) != 0) {
                sweep_worker(&w[t]);
                th[t] = 0;
            }
        }
        for (int t = 0; t < threads; t++)
            if (th[t])
                pthread_join(th[t], NULL);
        for (long long k = 0; k < n; k++) {
            long long p = rank + (k0 + k) * size;
            sum->ok += rows[k].st == US_OK;
            sum->infeasible += rows[k].st == US_INFEASIBLE;
            sum->errors += rows[k].st != US_OK && rows[k].st != US_INFEASIBLE;
            if (db_insert(ins, s, p, &rows[k]) != 0) {
                st = core_diag_status(d, US_EIO, db_path, 0, 0, NULL, "database: %s",
                                      sqlite3_errmsg(db));
                break;
            }
        }
        if (opt && opt->progress)
            opt->progress(opt->progress_user, k0 + n, mine);
        if (st != US_OK)
            break;
    }
    free(rows);
    if (st == US_OK && db_exec(db, "COMMIT") != 0)
        st = core_diag_status(d, US_EIO, db_path, 0, 0, NULL, "database: %s", sqlite3_errmsg(db));
out_db:
    sqlite3_finalize(ins);
    sqlite3_close(db);
#ifdef US_HAVE_MPI
    {
        int local_ok = st == US_OK, all_ok = 0;
        MPI_Allreduce(&local_ok, &all_ok, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
        long long counts[3] = {sum->ok, sum->infeasible, sum->errors}, tot[3];
        MPI_Reduce(counts, tot, 3, MPI_LONG_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
        /* every rank's part file name travels to rank 0 */
        char names[1100 * 1];
        memcpy(names, tmp, sizeof tmp);
        char *all = rank == 0 ? malloc((size_t)size * sizeof tmp) : NULL;
        MPI_Gather(names, (int)sizeof tmp, MPI_CHAR, all, (int)sizeof tmp, MPI_CHAR, 0,
                   MPI_COMM_WORLD);
        if (rank == 0) {
            sum->ok = tot[0];
            sum->infeasible = tot[1];
            sum->errors = tot[2];
            if (all_ok && size > 1) {
                sqlite3 *m = NULL;
                if (sqlite3_open(tmp, &m) == SQLITE_OK) {
                    /* SQLite refuses ATTACH inside a transaction: one per part */
                    for (int r = 1; r < size && all_ok; r++) {
                        char *q = sqlite3_mprintf(
                            "ATTACH %Q AS part; BEGIN; INSERT INTO results SELECT * FROM "
                            "part.results; COMMIT; DETACH part;",
                            all + (size_t)r * sizeof tmp);
                        if (!q || db_exec(m, q) != 0)
                            all_ok = 0;
                        sqlite3_free(q);
                    }
                } else {
                    all_ok = 0;
                }
                sqlite3_close(m);
                if (!all_ok && st == US_OK)
                    st = core_diag_status(d, US_EIO, db_path, 0, 0, NULL,
                                          "merging the ranks' databases failed");
            } else if (!all_ok && st == US_OK) {
                st = core_diag_status(d, US_EIO, db_path, 0, 0, NULL, "another rank failed");
            }
            for (int r = 1; r < size; r++)
                remove(all + (size_t)r * sizeof tmp);
        }
        free(all);
        MPI_Barrier(MPI_COMM_WORLD);
    }
#endif
    if (rank == 0) {
        if (st == US_OK && rename(tmp, db_path) != 0)
            st = core_diag_status(d, US_EIO, db_path, 0, 0, NULL, "cannot write the database");
        if (st != US_OK)
            remove(tmp);
    }
#ifdef US_HAVE_MPI

    if (we_inited)
        MPI_Finalize();
#endif
out_spec:
    spec_sweep_fini(s);
    free(s);
    return st;
}
