/* barrier.c - Barrier's internal lock and generation word (layout and
 * states: barrier.h). */
#include "barrier.h"
#include "spin.h"

int cmp_barrier_lock(cmp_barrier *b, const cmp_deadline *d)
{
    uint32_t me = cmp_self_owner();
    if (cmp_lock_try(&b->mutex, me))
        return 0;
    return cmp_lock_acquire_slow(&b->mutex, me, d);
}

void cmp_barrier_unlock(cmp_barrier *b)
{
    cmp_lock_release(&b->mutex);
}

void cmp_barrier_notify_all(cmp_barrier *b)
{
    /* Sequentially consistent with the sleeper's count and re-read in
     * cmp_barrier_sleep: either it sees the new gen or we see it. */
    cmp_spin_mark(b->seen);
    __atomic_fetch_add(&b->gen, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&b->sleepers, __ATOMIC_SEQ_CST) != 0)
        futex_wake_all(&b->gen);
}

typedef struct {
    cmp_barrier *b;
    uint32_t seen;
} spin_arg;

static int ready(void *p)
{
    spin_arg *a = p;
    return __atomic_load_n(&a->b->gen, __ATOMIC_ACQUIRE) != a->seen;
}

int cmp_barrier_sleep(cmp_barrier *b, uint32_t seen, const cmp_deadline *d)
{
    uint64_t start;
    spin_arg a = {b, seen};
    if (cmp_spin(&b->spin, b->seen, ready, &a, &start))
        return 0;
    int r = 0;
    __atomic_fetch_add(&b->sleepers, 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&b->gen, __ATOMIC_SEQ_CST) == seen) {
        r = cmp_futex_nap(&b->gen, seen, d);
        if (r == ETIMEDOUT || r == EINTR)
            break;
    }
    /* Relaxed: a stale larger count only costs one spare wake. */
    __atomic_fetch_sub(&b->sleepers, 1, __ATOMIC_RELAXED);
    if (r == 0)
        cmp_spin_slept(&b->spin, start);
    return r;
}
