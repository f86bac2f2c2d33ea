/*
 * condition.h - a process-shared condition variable: a sequence counter and
 * wake tokens, no waiter list (another process's stack is not ours to link).
 *
 * Shared layout (the body of a cmp object of kind CMP_KIND_CONDITION):
 *
 *   +0   uint32_t seq       the futex word: bumped by every notify that wakes
 *   +4   uint32_t owed      sleepers on `seq` the user lock's release must
 *                           wake (seq and owed are the cmp_lock_debt the
 *                           lock points to, lock.h)
 *   +8   uint32_t waiters   waiters registered and not yet given a token
 *   +12  uint32_t tokens    wake-ups handed out by notify, not yet taken
 *   +16  uint32_t sleepers  waiters inside futex_wait on `seq` (or about to)
 *   +20  uint32_t spin      adaptive spin estimate for the wait (spin.h)
 *   +24  uint32_t lock_spin adaptive spin estimate for re-acquiring the lock
 *   +28  uint32_t bell      always 0: a sleeper killed as a wake picks it
 *                           passes the wake-up on through it (handoff.h)
 *   +32  uint64_t seen[2]   the last threads to use it, and their CPUs (spin.h)
 *
 * The user's lock (a cmp Lock or RLock, separate object) guards `waiters`
 * and every change of `seq`: waiters register, notify runs, and a waiter
 * that gives up re-acquires the lock before it unregisters.  `tokens` is
 * also taken by woken waiters before they re-acquire the lock, so it is
 * changed atomically.
 *
 * A waiter's life (e = the value of seq when it registered, its epoch):
 *
 *   REGISTERED   waiters += 1, e = seq               (user lock held)
 *   WAITING      lock released; sleeps on seq; a waiter is *eligible* for a
 *                token once seq != e (a notify came after it registered)
 *   NOTIFIED     took a token (tokens -= 1) -> re-acquires the lock, True
 *   GAVE UP      timeout or signal -> re-acquires the lock, then: takes a
 *                token if eligible and one is left (True), else
 *                waiters -= 1 (False)
 *
 * notify(n) (user lock held): k = min(n, waiters); waiters -= k;
 * tokens += k; seq += 1; if anyone sleeps, owe k wake-ups (owed += k, the
 * lock's LOCK_OWED, lock.h): the lock's next release, whoever makes it,
 * wakes k sleepers of seq once the lock is free, instead of a wake now
 * that would only make them block on the lock the notifier still holds.
 * No system call in notify, one (FUTEX_WAKE) in the release.  When
 * another Condition's debt is pending on the same lock, notify moves up
 * to k sleepers from seq to the lock's word instead (FUTEX_CMP_REQUEUE)
 * and sets LOCK_WAITERS: they wake one by one as the lock is released.
 * So at most n waiters wake per notify(n), and only waiters that
 * registered before it: a later waiter is not eligible until the next
 * notify.
 *
 * A debt's FUTEX_WAKE comes after the lock is free, so a waiter that
 * registers in between may already sleep on seq, not eligible.  Sleepers
 * of one futex word are woken in the order they went to sleep (among
 * threads of equal priority: every non-real-time thread), and every
 * eligible sleeper went to sleep before the notify's bump of seq (one
 * that comes later finds seq changed and takes its token), so the wake
 * reaches the eligible ones first.  A real-time-priority late waiter can
 * take the wake-up instead: it finds no token meant for it and sleeps
 * again, and the eligible waiter takes its token when its nap ends
 * (CMP_LIVENESS_INTERVAL): late, never lost.  Invariants:
 * waiters + tokens = the waiters present; tokens <= the eligible waiters
 * present (an eligible waiter that gives up prefers a token), hence a
 * waiter that gives up always finds its unit in `waiters` or `tokens`.
 *
 * Eligibility compares seq with e, so a waiter that sleeps through exactly
 * 2^32 notifies would miss its turn: not a practical concern.
 *
 * A waiter that sleeps counts itself in the lock's `sleepers` as well
 * (lock.h), since a notify may move it onto the lock's word; after a
 * sleep it re-acquires the lock with LOCK_WAITERS set only when someone
 * else may still sleep there, as lock.c's slow path does.  So the last
 * waiter woken by a release does not make its own release call futex_wake
 * for nobody.  Sleeps are cut into CMP_LIVENESS_INTERVAL naps, so a waiter moved
 * to the word of a lock whose holder died still notices (lock.h).
 *
 * Killed processes: a waiter killed while WAITING leaves its count in
 * `waiters` (a later notify_all hands it a token nobody takes, which the
 * next eligible waiter may take as a spurious wake-up).  A sleeper killed
 * just as a wake (the debt's FUTEX_WAKE, or a requeue's) picks it wakes
 * another sleeper of `seq` as it dies (handoff.h), which takes the token
 * the dead one was woken for: the wake-up is not lost.  A waiter killed
 * after it took its token and before it re-acquired the lock was woken:
 * notify(n) counts it among its n.
 */
#ifndef CMP_CONDITION_H
#define CMP_CONDITION_H

#include <errno.h>
#include <stdint.h>

#include "futex.h"
#include "lock.h"

typedef struct {
    uint32_t seq;
    uint32_t owed;
    uint32_t waiters;
    uint32_t tokens;
    uint32_t sleepers;
    uint32_t spin;
    uint32_t lock_spin;
    uint32_t bell;
    uint64_t seen[2];
} cmp_cond;

/* REGISTERED: call with the user lock held; returns the epoch. */
static inline uint32_t cmp_cond_register(cmp_cond *c)
{
    /* Relaxed: both are only changed under the user lock, which we hold. */
    __atomic_store_n(&c->waiters, __atomic_load_n(&c->waiters, __ATOMIC_RELAXED) + 1,
                     __ATOMIC_RELAXED);
    return __atomic_load_n(&c->seq, __ATOMIC_RELAXED);
}

/* WAITING: call with the user lock `l` released and without the
 * interpreter lock.  Returns 0 (NOTIFIED: a token was taken), ETIMEDOUT or
 * EINTR (then call cmp_cond_give_up with the user lock held again).  *slept tells
 * whether it slept (pass it on to cmp_cond_relock). */
int cmp_cond_wait(cmp_cond *c, cmp_lock *l, uint32_t epoch, const cmp_deadline *d,
                  int *slept);

/* GAVE UP: with the user lock held.  1 when a token was taken after all. */
int cmp_cond_give_up(cmp_cond *c, uint32_t epoch);

/* One attempt to re-acquire the user lock `l` as `me` without waiting
 * (after a sleep with LOCK_WAITERS when others may still sleep on the
 * lock's word, lock.h).  Acquire: we take the lock. */
static inline int cmp_cond_relock_try(cmp_lock *l, uint32_t me, int slept)
{
    if (!slept)
        return cmp_lock_try(l, me);
    uint32_t v = LOCK_UNLOCKED;   /* relaxed on failure: not taken */
    if (!__atomic_compare_exchange_n(&l->word, &v, cmp_lock_taken_state(l, me), 0,
                                     __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        return 0;
    cmp_lock_stamp(l, me);
    return 1;
}

/* Re-acquire the user lock `l` as `me` (spinning adaptively first; with
 * LOCK_WAITERS when `slept`); the result of cmp_lock_acquire_slow.  Without
 * the interpreter lock. */
int cmp_cond_relock(cmp_cond *c, cmp_lock *l, uint32_t me, int slept,
                    const cmp_deadline *d);

/* With the user lock `l` held: wake up to n waiters; returns how many
 * tokens were handed out. */
uint32_t cmp_cond_notify(cmp_cond *c, cmp_lock *l, uint32_t n);

/* Waiters present (registered, not yet gone): for repr. */
static inline uint32_t cmp_cond_present(const cmp_cond *c)
{
    /* Relaxed: a snapshot for repr. */
    return __atomic_load_n(&c->waiters, __ATOMIC_RELAXED) +
           __atomic_load_n(&c->tokens, __ATOMIC_RELAXED);
}

#endif /* CMP_CONDITION_H */
