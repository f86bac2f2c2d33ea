/* barrier.c - Barrier's internal lock and generation word (layout and
 * states: barrier.h). */
#include "barrier.h"

#include <stddef.h>

#include "spin.h"

_Static_assert(offsetof(cmp_barrier, party) == 88, "layout of barrier.h");

uint64_t cmp_barrier_size(int parties)
{
    uint32_t n = parties < 1 ? 0u : (uint32_t)parties;
    if (n > BARRIER_MAX_SLOTS)
        n = BARRIER_MAX_SLOTS;
    return sizeof(cmp_barrier) + (uint64_t)n * sizeof(uint64_t);
}

void cmp_barrier_init(cmp_barrier *b, int parties)
{
    b->parties = (uint32_t)parties;
    b->state = BARRIER_FILLING;
    b->nslots = (uint32_t)((cmp_barrier_size(parties) - sizeof(cmp_barrier)) /
                           sizeof(uint64_t));
}

static uint64_t my_entry(void)
{
    const cmp_self_ids *me = cmp_self_proc();
    return (uint64_t)me->start << 32 | me->id;
}

/* Relaxed below: under the mutex; count is read lock-free as a snapshot. */
int cmp_barrier_enter(cmp_barrier *b)
{
    int slot = BARRIER_UNTRACKED;
    for (uint32_t i = 0; i < b->nslots; i++) {
        if (__atomic_load_n(&b->party[i], __ATOMIC_RELAXED) == BARRIER_NOBODY) {
            __atomic_store_n(&b->party[i], my_entry(), __ATOMIC_RELAXED);
            slot = (int)i;
            break;
        }
    }
    __atomic_store_n(&b->count, b->count + 1, __ATOMIC_RELAXED);
    return slot;
}

void cmp_barrier_leave(cmp_barrier *b, int slot)
{
    if (b->count > 0)
        __atomic_store_n(&b->count, b->count - 1, __ATOMIC_RELAXED);
    if (slot >= 0 && (uint32_t)slot < b->nslots)
        __atomic_store_n(&b->party[slot], BARRIER_NOBODY, __ATOMIC_RELAXED);
}

uint32_t cmp_barrier_reap(cmp_barrier *b)
{
    uint32_t dead = 0, left = 0;
    for (uint32_t i = 0; i < b->nslots; i++) {
        uint64_t e = __atomic_load_n(&b->party[i], __ATOMIC_RELAXED);
        if (e == BARRIER_NOBODY)
            continue;
        if (cmp_task_alive((uint32_t)e, (uint32_t)(e >> 32), 32)) {
            left++;
        } else {
            __atomic_store_n(&b->party[i], BARRIER_NOBODY, __ATOMIC_RELAXED);
            dead++;
        }
    }
    /* Every waiter holds an entry while the table has room for all
     * parties: count is the entries left (also after a death between
     * the two stores of enter or leave). */
    if (dead && b->nslots == b->parties)
        __atomic_store_n(&b->count, left, __ATOMIC_RELAXED);
    else if (dead)
        __atomic_store_n(&b->count, b->count > dead ? b->count - dead : 0, __ATOMIC_RELAXED);
    return dead;
}

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
