/* sim/queue: the event queue - a binary min-heap on (time_ps, seq) over caller storage.
 * Equal times pop in insertion order, so a simulation is deterministic. O(log n) push and
 * pop; never allocates. */
#include "sim/sim.h"

static bool ev_less(const struct sim_event *a, const struct sim_event *b)
{
    if (a->time_ps != b->time_ps)
        return a->time_ps < b->time_ps;
    return a->seq < b->seq;
}

void sim_queue_init(struct sim_queue *q, struct sim_event *storage, int32_t cap)
{
    q->ev = storage;
    q->n = 0;
    q->cap = cap;
}

bool sim_queue_push(struct sim_queue *q, struct sim_event e)
{
    if (q->n >= q->cap)
        return false;
    int32_t i = q->n++;
    while (i > 0) {
        int32_t parent = (i - 1) / 2;
        if (!ev_less(&e, &q->ev[parent]))
            break;
        q->ev[i] = q->ev[parent];
        i = parent;
    }
    q->ev[i] = e;
    return true;
}

bool sim_queue_pop(struct sim_queue *q, struct sim_event *out)
{
    if (q->n == 0)
        return false;
    *out = q->ev[0];
    struct sim_event last = q->ev[--q->n];
    int32_t i = 0;
    for (;;) {
        int32_t l = 2 * i + 1;
        if (l >= q->n)
            break;
        int32_t c = l;
        if (l + 1 < q->n && ev_less(&q->ev[l + 1], &q->ev[l]))
            c = l + 1;
        if (!ev_less(&q->ev[c], &last))
            break;
        q->ev[i] = q->ev[c];
        i = c;
    }
    if (q->n > 0)
        q->ev[i] = last;
    return true;
}
