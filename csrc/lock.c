/* lock.c - Lock and RLock slow paths (the layout and states are in lock.h). */
#include "lock.h"
#include "spin.h"

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
                                            __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
                cmp_lock_stamp(l, me);
                return 0;
            }
            continue;
        }
        if (!(v & LOCK_WAITERS)) {
            if (!__atomic_compare_exchange_n(&l->word, &v, v | LOCK_WAITERS, 0,
                                             __ATOMIC_RELAXED, __ATOMIC_RELAXED))
                continue;
            v |= LOCK_WAITERS;
        }
        /* Sequentially consistent: counted before we can sleep (lock.h). */
        __atomic_fetch_add(&l->sleepers, 1, __ATOMIC_SEQ_CST);
        int r = cmp_futex_nap(&l->word, v, d);
        __atomic_fetch_sub(&l->sleepers, 1, __ATOMIC_SEQ_CST);
        if (r == ETIMEDOUT)
            return ETIMEDOUT;
        if (r == EINTR) {
            /* A signal, or the nap is over: look at the owner, then let
             * the caller run signal handlers (spin.h, step 4).  Relaxed:
             * the stamp is checked against the word (owner.h). */
            uint32_t stamp = __atomic_load_n(&l->stamp, __ATOMIC_RELAXED);
            /* A debt the dead owner left stays for our release to pay. */
            if (!cmp_owner_alive(v & CMP_OWNER_MASK, stamp) &&
                __atomic_compare_exchange_n(&l->word, &v,
                                            (v & LOCK_OWED) | me | LOCK_WAITERS, 0,
                                            __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
                cmp_lock_stamp(l, me);
                return EOWNERDEAD;
            }
            return EINTR;
        }
    }
}

/* The debt a release pays (lock.h), taken while the caller still holds the
 * lock whose word was `v`; NULL when nothing is owed.  *n: how many. */
static cmp_lock_debt *take_debt(cmp_lock *l, uint32_t v, uint32_t *n)
{
    if (!(v & LOCK_OWED))
        return NULL;
    /* Acquire: pairs with cmp_lock_owe's release, for a release by
     * another thread or process than the one that notified. */
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    cmp_lock_debt *d = (cmp_lock_debt *)((char *)l + l->debt);
    *n = d->n;
    d->n = 0;
    return d;
}

/* After the word went from `v` to LOCK_UNLOCKED: wake one acquirer, then
 * the sleepers a Condition was owed (they find the lock free). */
static void wake_after_release(cmp_lock *l, uint32_t v, cmp_lock_debt *d, uint32_t n)
{
    if (v & LOCK_WAITERS)
        futex_wake(&l->word, 1);
    if (d && n)
        futex_wake(&d->word, n > INT_MAX ? INT_MAX : (int)n);
}

int cmp_lock_owe(cmp_lock *l, cmp_lock_debt *d, uint32_t n)
{
    int64_t at = (int64_t)((char *)d - (char *)l);
    /* Relaxed: only the holder (the caller) sets LOCK_OWED and `debt`. */
    uint32_t v = __atomic_load_n(&l->word, __ATOMIC_RELAXED);
    for (;;) {
        if (v == LOCK_UNLOCKED)     /* released under the caller's feet */
            return 0;
        if (v & LOCK_OWED) {
            if (l->debt != at)
                return 0;
            d->n = n > UINT32_MAX - d->n ? UINT32_MAX : d->n + n;
            return 1;
        }
        l->debt = at;
        d->n = n;
        /* Release: whoever sees the bit sees the debt (take_debt). */
        if (__atomic_compare_exchange_n(&l->word, &v, v | LOCK_OWED, 0,
                                        __ATOMIC_RELEASE, __ATOMIC_RELAXED))
            return 1;
    }
}

int cmp_lock_release(cmp_lock *l)
{
    /* Release: our writes under the lock happen before the next holder's
     * acquire. */
    uint32_t v = __atomic_load_n(&l->word, __ATOMIC_RELAXED);
    cmp_lock_debt *d = NULL;
    uint32_t n = 0;
    do {
        if (v == LOCK_UNLOCKED) {
            /* Released twice at once (another thread or process): a debt
             * we took is still ours to pay. */
            wake_after_release(l, 0, d, n);
            return EPERM;
        }
        if (!d)
            d = take_debt(l, v, &n);
    } while (!__atomic_compare_exchange_n(&l->word, &v, LOCK_UNLOCKED, 0,
                                          __ATOMIC_RELEASE, __ATOMIC_RELAXED));
    wake_after_release(l, v, d, n);
    return 0;
}

int cmp_rlock_release(cmp_lock *l, uint32_t me)
{
    if (cmp_lock_owner(l) != me)
        return EPERM;
    if (--l->count > 0)
        return 0;
    /* Relaxed: our own word; others only add LOCK_WAITERS meanwhile. */
    uint32_t n = 0;
    cmp_lock_debt *d = take_debt(l, __atomic_load_n(&l->word, __ATOMIC_RELAXED), &n);
    uint32_t v = __atomic_exchange_n(&l->word, LOCK_UNLOCKED, __ATOMIC_RELEASE);
    wake_after_release(l, v, d, n);
    return 0;
}
