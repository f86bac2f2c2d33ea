/* condition.c - condition variable wait and notify (layout and states are
 * in condition.h). */
#include "condition.h"

#include <stddef.h>

#include "handoff.h"
#include "spin.h"

/* seq and owed are the lock's cmp_lock_debt (condition.h). */
_Static_assert(offsetof(cmp_cond, seq) == offsetof(cmp_lock_debt, word) &&
                   offsetof(cmp_cond, owed) == offsetof(cmp_lock_debt, n),
               "seq and owed make a cmp_lock_debt");

/* Take one token if there is one.  Acquire: the notifier's writes under
 * the user lock are visible once we re-acquire it anyway; acquire here
 * pairs with notify's release for the token count itself. */
static int take_token(cmp_cond *c)
{
    uint32_t t = __atomic_load_n(&c->tokens, __ATOMIC_ACQUIRE);
    while (t != 0) {
        if (__atomic_compare_exchange_n(&c->tokens, &t, t - 1, 1,
                                        __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE))
            return 1;
    }
    return 0;
}

static int eligible(cmp_cond *c, uint32_t epoch)
{
    return __atomic_load_n(&c->seq, __ATOMIC_ACQUIRE) != epoch;
}

typedef struct {
    cmp_cond *c;
    uint32_t epoch;
} spin_arg;

static int ready(void *p)
{
    spin_arg *a = p;
    return eligible(a->c, a->epoch) && take_token(a->c);
}

int cmp_cond_wait(cmp_cond *c, cmp_lock *l, uint32_t epoch, const cmp_deadline *d,
                  int *slept)
{
    uint64_t start;
    spin_arg a = {c, epoch};
    *slept = 0;
    if (cmp_spin(&c->spin, c->seen, ready, &a, &start))
        return 0;
    *slept = 1;
    int r = 0;
    /* Sequentially consistent with notify's bump of seq and its read of
     * sleepers: either we see the new seq or it sees us. */
    __atomic_fetch_add(&c->sleepers, 1, __ATOMIC_SEQ_CST);
    /* A notify may move us onto the lock's word: count ourselves there
     * too (lock.h).  Sequentially consistent: counted before we sleep. */
    __atomic_fetch_add(&l->sleepers, 1, __ATOMIC_SEQ_CST);
    /* From here until we return, our death wakes another sleeper. */
    cmp_handoff h = cmp_handoff_arm(&c->bell);
    for (;;) {
        uint32_t now = __atomic_load_n(&c->seq, __ATOMIC_SEQ_CST);
        if (now != epoch && take_token(c))
            break;
        r = cmp_handoff_nap(&h, &c->seq, now, &c->bell, d);
        if (r == ETIMEDOUT || r == EINTR)
            break;
    }
    cmp_handoff_disarm(&h);
    /* Before we take the lock, which reads the count without us. */
    __atomic_fetch_sub(&l->sleepers, 1, __ATOMIC_SEQ_CST);
    /* Relaxed: a stale larger count only costs notify one spare wake. */
    __atomic_fetch_sub(&c->sleepers, 1, __ATOMIC_RELAXED);
    if (r == 0)
        cmp_spin_slept(&c->spin, start);
    return r;
}

int cmp_cond_give_up(cmp_cond *c, uint32_t epoch)
{
    if (eligible(c, epoch) && take_token(c))
        return 1;
    /* Relaxed: guarded by the user lock, which the caller holds. */
    __atomic_store_n(&c->waiters, __atomic_load_n(&c->waiters, __ATOMIC_RELAXED) - 1,
                     __ATOMIC_RELAXED);
    return 0;
}

uint32_t cmp_cond_notify(cmp_cond *c, cmp_lock *l, uint32_t n)
{
    /* Relaxed: guarded by the user lock, which the caller holds. */
    uint32_t w = __atomic_load_n(&c->waiters, __ATOMIC_RELAXED);
    uint32_t k = n < w ? n : w;
    if (k == 0)
        return 0;
    cmp_spin_mark(c->seen);
    __atomic_store_n(&c->waiters, w - k, __ATOMIC_RELAXED);
    /* Release: a waiter that takes a token sees the count we wrote. */
    __atomic_fetch_add(&c->tokens, k, __ATOMIC_RELEASE);
    uint32_t now = __atomic_add_fetch(&c->seq, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&c->sleepers, __ATOMIC_SEQ_CST) != 0 &&
        !cmp_lock_owe(l, (cmp_lock_debt *)c, k)) {
        /* Another Condition's debt is pending on the lock: we own it, so
         * its word holds our id: mark it so that our release wakes the
         * sleepers we move onto it.  Relaxed: the release's own
         * read-modify-write of the word sees it. */
        __atomic_fetch_or(&l->word, LOCK_WAITERS, __ATOMIC_RELAXED);
        syscall(SYS_futex, &c->seq, FUTEX_CMP_REQUEUE, 0,
                (unsigned long)(k > 0x7fffffffu ? 0x7fffffffu : k), &l->word, now);
    }
    return k;
}

typedef struct {
    cmp_lock *l;
    uint32_t me;
} relock_arg;

static int lock_ready(void *p)
{
    relock_arg *a = p;
    return cmp_lock_try(a->l, a->me);
}

int cmp_cond_relock(cmp_cond *c, cmp_lock *l, uint32_t me, int slept,
                    const cmp_deadline *d)
{
    if (slept) {
        /* Others may sleep on the lock word, moved there with us: then
         * set LOCK_WAITERS again (lock.h). */
        if (cmp_cond_relock_try(l, me, 1))
            return 0;
        return cmp_lock_acquire_slow(l, me, d);
    }
    uint64_t start;
    relock_arg a = {l, me};
    if (cmp_spin(&c->lock_spin, c->seen, lock_ready, &a, &start))
        return 0;
    int r = cmp_lock_acquire_slow(l, me, d);
    if (r == 0 || r == EOWNERDEAD)
        cmp_spin_slept(&c->lock_spin, start);
    return r;
}
