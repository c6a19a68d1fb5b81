/* replay: a main for the fuzz entry points, so their corpora (and tests/bad, data/ and
 * the reference configs) run as plain ctest tests in every build. Feeds each regular file
 * under each directory given, recursing one level, to LLVMFuzzerTestOneInput and prints
 * "N passed, M failed". A crash fails the test by ending the process. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_INPUT_B (16u << 20) /* larger files are skipped: the loaders refuse > 4 MiB */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct tally {
    int passed, failed, skipped;
};

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_file(const char *path, struct tally *t)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        t->failed++;
        return;
    }
    uint8_t *buf = malloc(MAX_INPUT_B + 1);
    size_t n = buf ? fread(buf, 1, MAX_INPUT_B + 1, f) : 0;
    fclose(f);
    if (!buf || n > MAX_INPUT_B) {
        t->skipped++;
        free(buf);
        return;
    }
    if (LLVMFuzzerTestOneInput(buf, n) != 0) {
        fprintf(stderr, "replay: %s: entry point returned non-zero\n", path);
        t->failed++;
    } else {
        t->passed++;
    }
    free(buf);
}

static void run_dir(const char *dir, int depth, struct tally *t)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "replay: cannot open directory %s\n", dir);
        t->failed++;
        return;
    }
    char **names = NULL;
    size_t count = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (count == cap) {
            cap = cap ? 2 * cap : 64;
            char **p = realloc(names, cap * sizeof *names);
            if (!p)
                break;
            names = p;
        }
        names[count] = malloc(strlen(e->d_name) + 1);
        if (!names[count])
            break;
        strcpy(names[count++], e->d_name);
    }
    closedir(d);
    qsort(names, count, sizeof *names, name_cmp);
    for (size_t i = 0; i < count; i++) {
        size_t len = strlen(dir) + strlen(names[i]) + 2;
        char *path = malloc(len);
        struct stat st;
        if (path) {
            snprintf(path, len, "%s/%s", dir, names[i]);
            if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
                run_file(path, t);
            else if (stat(path, &st) == 0 && S_ISDIR(st.st_mode) && depth == 0)
                run_dir(path, 1, t);
            free(path);
        }
        free(names[i]);
    }
    free(names);
}

int main(int argc, char **argv)
{
    struct tally t = {0, 0, 0};
    for (int i = 1; i < argc; i++)
        run_dir(argv[i], 0, &t);
    printf("%d passed, %d failed", t.passed, t.failed);
    if (t.skipped)
        printf(" (%d over %u bytes skipped)", t.skipped, MAX_INPUT_B);
    printf("\n");
    return t.failed ? 1 : 0;
}
