/* event.c - Event set, clear and wait (layout and states: event.h). */
#include "event.h"
#include "spin.h"

void cmp_event_set(cmp_event *e)
{
    /* Relaxed load and failure order: the compare-exchange validates it. */
    uint32_t v = __atomic_load_n(&e->word, __ATOMIC_RELAXED);
    uint32_t next;
    do {
        if (v & EVENT_SET)
            return;
        next = ((v & ~EVENT_WAITERS) + EVENT_GEN_ONE) | EVENT_SET;
        /* Release: waiters that see the flag see our earlier writes. */
    } while (!__atomic_compare_exchange_n(&e->word, &v, next, 1,
                                          __ATOMIC_RELEASE, __ATOMIC_RELAXED));
    cmp_spin_mark(e->seen);
    if (v & EVENT_WAITERS)
        futex_wake_all(&e->word);
}

void cmp_event_clear(cmp_event *e)
{
    /* Relaxed: clearing publishes nothing; the flag bit is the only change. */
    __atomic_fetch_and(&e->word, ~EVENT_SET, __ATOMIC_RELAXED);
}

/* Satisfied once the word left `seen` other than by gaining WAITERS. */
static inline int done(const cmp_event *e, uint32_t seen)
{
    uint32_t v = __atomic_load_n(&e->word, __ATOMIC_ACQUIRE);
    return (v & EVENT_SET) || ((v ^ seen) & ~(EVENT_WAITERS | EVENT_SET)) != 0;
}

typedef struct {
    cmp_event *e;
    uint32_t seen;
} spin_arg;

static int ready(void *p)
{
    spin_arg *a = p;
    return done(a->e, a->seen);
}

int cmp_event_wait_slow(cmp_event *e, uint32_t seen, const cmp_deadline *d)
{
    uint64_t start;
    spin_arg a = {e, seen};
    if (cmp_spin(&e->spin, e->seen, ready, &a, &start))
        return 0;
    for (;;) {
        uint32_t v = __atomic_load_n(&e->word, __ATOMIC_ACQUIRE);
        if (done(e, seen))
            break;
        if (!(v & EVENT_WAITERS)) {
            /* Relaxed: the flag bit alone is published by this exchange;
             * the futex call re-checks the word. */
            if (!__atomic_compare_exchange_n(&e->word, &v, v | EVENT_WAITERS, 1,
                                             __ATOMIC_RELAXED, __ATOMIC_RELAXED))
                continue;
            v |= EVENT_WAITERS;
        }
        int r = cmp_futex_nap(&e->word, v, d);
        if (r == ETIMEDOUT || r == EINTR)
            return done(e, seen) ? 0 : r;
    }
    cmp_spin_slept(&e->spin, start);
    return 0;
}
