/* semaphore.c - the semaphore's slow paths (layout and states: semaphore.h). */
#include "semaphore.h"
#include "handoff.h"
#include "spin.h"

static int ready(void *arg)
{
    return cmp_sem_try((cmp_sem *)arg);
}

int cmp_sem_acquire_slow(cmp_sem *s, const cmp_deadline *d)
{
    uint64_t start;
    if (cmp_spin(&s->spin, s->seen, ready, s, &start))
        return 0;
    __atomic_fetch_add(&s->waiters, 1, __ATOMIC_SEQ_CST);
    /* From here until we return, our death wakes another sleeper. */
    cmp_handoff h = cmp_handoff_arm(&s->bell);
    int r;
    for (;;) {
        uint32_t v = __atomic_load_n(&s->value, __ATOMIC_SEQ_CST);
        while (v != SEM_EMPTY) {
            /* Relaxed on failure: retried with the value read. */
            if (__atomic_compare_exchange_n(&s->value, &v, v - 1, 1,
                                            __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
                /* Relaxed: only the release side's wake decision reads it,
                 * and a stale larger count only costs one spare wake. */
                __atomic_fetch_sub(&s->waiters, 1, __ATOMIC_RELAXED);
                cmp_handoff_disarm(&h);
                cmp_spin_slept(&s->spin, start);
                return 0;
            }
        }
        r = cmp_handoff_nap(&h, &s->value, SEM_EMPTY, &s->bell, d);
        if (r == ETIMEDOUT || r == EINTR)
            break;
    }
    /* Leaving without a unit.  A release may have woken us just now: take
     * the unit after all, or hand the wake-up on to another waiter. */
    if (r == ETIMEDOUT && cmp_sem_try(s)) {
        __atomic_fetch_sub(&s->waiters, 1, __ATOMIC_RELAXED);   /* as above */
        cmp_handoff_disarm(&h);
        return 0;
    }
    uint32_t others = __atomic_sub_fetch(&s->waiters, 1, __ATOMIC_SEQ_CST);
    if (others && __atomic_load_n(&s->value, __ATOMIC_SEQ_CST) != SEM_EMPTY)
        futex_wake(&s->value, 1);
    cmp_handoff_disarm(&h);
    return r;
}

int cmp_sem_release(cmp_sem *s)
{
    /* Relaxed: maxvalue is written once, before the object is shared. */
    uint32_t max = __atomic_load_n(&s->maxvalue, __ATOMIC_RELAXED);
    /* Relaxed load and failure order: the compare-exchange validates it;
     * success is sequentially consistent (see semaphore.h). */
    uint32_t v = __atomic_load_n(&s->value, __ATOMIC_RELAXED);
    do {
        if (v >= max)
            return max == SEM_UNBOUNDED ? EOVERFLOW : ERANGE;
    } while (!__atomic_compare_exchange_n(&s->value, &v, v + 1, 1,
                                          __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
    cmp_spin_mark(s->seen);
    if (__atomic_load_n(&s->waiters, __ATOMIC_SEQ_CST) != 0)
        futex_wake(&s->value, 1);
    return 0;
}
