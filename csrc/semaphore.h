/*
 * semaphore.h - Semaphore and BoundedSemaphore on one shared futex word.
 *
 * Shared layout (the body of a cmp object of kind CMP_KIND_SEMAPHORE):
 *
 *   +0   uint32_t value     the futex word: the counter, 0..SEM_VALUE_MAX
 *   +4   uint32_t waiters   threads registered to sleep on `value`
 *   +8   uint32_t maxvalue  the bound of a BoundedSemaphore, or SEM_UNBOUNDED
 *   +12  uint32_t spin      adaptive spin estimate (spin.h)
 *   +16  uint32_t bell      always 0: a sleeper killed as a release wakes it
 *                           passes the wake-up on through it (handoff.h)
 *   +20  uint32_t pad
 *   +24  uint64_t seen[2]   the last threads to use it, and their CPUs (spin.h)
 *
 * States of `value`:
 *   SEM_EMPTY   0: acquire must wait
 *   n > 0       n acquires succeed without waiting
 *
 * acquire takes one unit with a compare-exchange (no system call while
 * value > 0).  A waiter that has to sleep first counts itself in `waiters`,
 * then re-reads `value`; release adds the unit, then reads `waiters`, and
 * makes the wake system call only when someone waits.  Both sides use
 * sequentially consistent operations, so at least one of them sees the
 * other's write: the waiter sees the unit or the releaser sees the waiter.
 *
 * A process killed while it holds units keeps them: a semaphore has no
 * owner, as with the stdlib's.  A sleeper killed just as a release's wake
 * picks it wakes another sleeper as it dies (handoff.h): the unit it was
 * woken for is taken at once, not after a nap.
 */
#ifndef CMP_SEMAPHORE_H
#define CMP_SEMAPHORE_H

#include <errno.h>
#include <stdint.h>

#include "futex.h"

#define SEM_EMPTY 0u
#define SEM_VALUE_MAX_ 0x7fffffffu      /* the stdlib's SEM_VALUE_MAX on Linux */
#define SEM_UNBOUNDED SEM_VALUE_MAX_

typedef struct {
    uint32_t value;
    uint32_t waiters;
    uint32_t maxvalue;
    uint32_t spin;
    uint32_t bell;
    uint32_t pad;
    uint64_t seen[2];
} cmp_sem;

static inline void cmp_sem_init(cmp_sem *s, uint32_t value, uint32_t maxvalue)
{
    s->value = value;
    s->waiters = 0;
    s->maxvalue = maxvalue;
    s->spin = 0;
    s->bell = s->pad = 0;
    s->seen[0] = s->seen[1] = 0;
}

/* Fast path: take one unit if there is one.  Acquire: what the releaser
 * wrote before its release is visible to us. */
static inline int cmp_sem_try(cmp_sem *s)
{
    /* Relaxed load and failure order: the compare-exchange validates the
     * value, and a failed one only retries with what it read. */
    uint32_t v = __atomic_load_n(&s->value, __ATOMIC_RELAXED);
    while (v != SEM_EMPTY) {
        if (__atomic_compare_exchange_n(&s->value, &v, v - 1, 1,
                                        __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            return 1;
    }
    return 0;
}

static inline uint32_t cmp_sem_value(const cmp_sem *s)
{
    /* Relaxed: a snapshot for get_value() and repr, stale by nature. */
    return __atomic_load_n(&s->value, __ATOMIC_RELAXED);
}

/* Slow path: spin, then sleep until a unit is taken or the deadline.  Call
 * without the interpreter lock.  Returns 0, ETIMEDOUT or EINTR. */
int cmp_sem_acquire_slow(cmp_sem *s, const cmp_deadline *d);

/* Add one unit.  Returns 0, ERANGE when a bounded semaphore is already at
 * its bound, EOVERFLOW when the counter is at SEM_VALUE_MAX. */
int cmp_sem_release(cmp_sem *s);

#endif /* CMP_SEMAPHORE_H */
