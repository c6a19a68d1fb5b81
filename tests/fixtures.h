/* Test fixtures shared by the step-engine tests: a job from YAML text, and the full layout
 * a job states (unset fields get the planner's plain defaults). Header-only, static. */
#ifndef US_TEST_FIXTURES_H
#define US_TEST_FIXTURES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/spec.h"

/* Loads a job from text; a job the loader refuses ends the test program (fixture bug). */
static inline struct spec_job *fixture_job(const char *text)
{
    struct spec_job *j = malloc(sizeof *j);
    struct us_diag d;
    if (!j || spec_job_load_text("test.yaml", text, strlen(text), NULL, 0, j, &d) != US_OK) {
        fprintf(stderr, "job refused: %d:%d %s: %s\n", d.line, d.col, d.path, d.msg);
        exit(1);
    }
    return j;
}

/* The layout the job states; cp/ep/vpp default to 1, ZeRO to 0, the schedule to 1F1B or
 * interleaved by vpp unless the job names one. */
static inline struct us_layout fixture_layout(const struct spec_job *j)
{
    struct us_layout l;
    memset(&l, 0, sizeof l);
    l.tp = j->par.tp;
    l.pp = j->par.pp;
    l.dp = j->par.dp;
    l.cp = j->par.cp > 0 ? j->par.cp : 1;
    l.ep = j->par.ep > 0 ? j->par.ep : 1;
    l.vpp = j->par.vpp > 0 ? j->par.vpp : 1;
    l.zero = j->par.zero > 0 ? j->par.zero : 0;
    l.sequence_parallel = j->par.sequence_parallel > 0;
    l.recompute = j->par.recompute > 0 ? (enum us_recompute)j->par.recompute : US_RECOMPUTE_NONE;
    l.schedule = j->par.schedule >= 0 ? (enum us_schedule)j->par.schedule
                 : l.vpp > 1          ? US_SCHEDULE_INTERLEAVED
                                      : US_SCHEDULE_1F1B;
    l.micro_batch = j->train.micro_batch;
    l.first_stage_layers = j->par.first_stage_layers;
    l.last_stage_layers = j->par.last_stage_layers;
    return l;
}

#endif
