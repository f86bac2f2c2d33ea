/* lock.c - Lock and RLock slow paths (the layout and states are in lock.h). */
#include "lock.h"

int cmp_lock_acquire_slow(cmp_lock *l, uint32_t me, const cmp_deadline *d)
{
    /* Spin while the owner is likely running and releases soon; stop early
     * when someone already sleeps (queueing behind them is fairer). */
    for (int i = 0; i < CMP_SPIN_LIMIT; i++) {
        uint32_t v = __atomic_load_n(&l->word, __ATOMIC_RELAXED);
        if (v == LOCK_UNLOCKED) {
            if (cmp_lock_try(l, me))
                return 0;
        } else if (v & LOCK_WAITERS) {
            break;
        }
        cmp_cpu_relax();
    }
    for (;;) {
        uint32_t v = __atomic_load_n(&l->word, __ATOMIC_RELAXED);
        if (v == LOCK_UNLOCKED) {
            /* Others may sleep on the word (a release cleared their bit):
             * set it again for them, so the next release wakes one. */
            if (__atomic_compare_exchange_n(&l->word, &v, cmp_lock_taken_state(l, me), 0,
                                            __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
                return 0;
            continue;
        }
        if (!(v & LOCK_WAITERS)) {
            if (!__atomic_compare_exchange_n(&l->word, &v, v | LOCK_WAITERS, 0,
                                             __ATOMIC_RELAXED, __ATOMIC_RELAXED))
                continue;
            v |= LOCK_WAITERS;
        }
        cmp_deadline nap = cmp_deadline_min(*d, CMP_LIVENESS_INTERVAL);
        /* Sequentially consistent: counted before we can sleep (lock.h). */
        __atomic_fetch_add(&l->sleepers, 1, __ATOMIC_SEQ_CST);
        int r = futex_wait(&l->word, v, &nap);
        __atomic_fetch_sub(&l->sleepers, 1, __ATOMIC_SEQ_CST);
        if (r == EINTR)
            return EINTR;
        if (r == ETIMEDOUT) {
            if (cmp_deadline_passed(d))
                return ETIMEDOUT;
            uint32_t owner = v & CMP_OWNER_MASK;
            if (!cmp_owner_alive(owner) &&
                __atomic_compare_exchange_n(&l->word, &v, me | LOCK_WAITERS, 0,
                                            __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
                return EOWNERDEAD;
            /* The nap is over: let the caller run signal handlers that a
             * signal caught while we spun could not interrupt us for. */
            return EINTR;
        }
    }
}

int cmp_lock_release(cmp_lock *l)
{
    /* Release: our writes under the lock happen before the next holder's
     * acquire. */
    uint32_t v = __atomic_load_n(&l->word, __ATOMIC_RELAXED);
    do {
        if (v == LOCK_UNLOCKED)
            return EPERM;
    } while (!__atomic_compare_exchange_n(&l->word, &v, LOCK_UNLOCKED, 0,
                                          __ATOMIC_RELEASE, __ATOMIC_RELAXED));
    if (v & LOCK_WAITERS)
        futex_wake(&l->word, 1);
    return 0;
}

int cmp_rlock_release(cmp_lock *l, uint32_t me)
{
    if (cmp_lock_owner(l) != me)
        return EPERM;
    if (--l->count > 0)
        return 0;
    uint32_t v = __atomic_exchange_n(&l->word, LOCK_UNLOCKED, __ATOMIC_RELEASE);
    if (v & LOCK_WAITERS)
        futex_wake(&l->word, 1);
    return 0;
}
