/*
 * lock.h - Lock and RLock on one shared futex word.
 *
 * Shared layout (the body of a cmp object of kind CMP_KIND_LOCK or
 * CMP_KIND_RLOCK):
 *
 *   +0  uint32_t word    the futex word: owner token | LOCK_WAITERS, or 0
 *   +4  uint32_t count   RLock: recursion depth (touched by the owner only)
 *   +8  uint32_t tid     Lock: kernel thread id of the acquiring thread,
 *                        written after the word (for repr and _is_mine only)
 *   +12 uint32_t stamp   the owner's start time, low 32 bits, written by
 *                        every acquirer right after its compare-exchange
 *                        (read only by a waiter judging the owner dead)
 *   +16 uint32_t sleepers acquirers inside futex_wait on `word` (or about to)
 *   +20 uint32_t pad
 *   +24 int64_t debt     with LOCK_OWED: where the wake-up a Condition owes
 *                        its sleepers lives (cmp_lock_debt), as a byte offset
 *                        from the lock
 *
 * States of `word`:
 *   LOCK_UNLOCKED           0: free
 *   owner                   held by `owner`, nobody sleeps on the word
 *   owner | LOCK_WAITERS    held, and a waiter may sleep: release must wake
 *   owner | LOCK_OWED       held, and a Condition over this lock notified
 *                           sleepers that are still asleep: release wakes
 *                           them (after the word is free, so that they do
 *                           not block on the lock again); may come with
 *                           LOCK_WAITERS
 *
 * Owed wake-ups (condition.h): a notify under the lock moves no sleeper
 * and makes no system call; it records the debt (set `debt`, then
 * LOCK_OWED) and every release of the lock, whichever path it takes (the
 * Condition's wait or __exit__, Lock.release, a Value's lock, another
 * process releasing a Lock), reads and zeroes the debt while it still holds
 * the word, frees the word, then wakes.  Only the holder sets LOCK_OWED and
 * `debt`, and only a release clears them; a second Condition on the same
 * lock that notifies while the first's debt is pending falls back to moving
 * its sleepers onto the word (LOCK_WAITERS).
 *
 * Who sets LOCK_WAITERS: an acquirer before it sleeps, and a Condition's
 * notify when it moves sleepers onto the word.  A release clears it and
 * wakes one; the thread that takes the lock next sets it again only when
 * `sleepers` (itself not counted) says someone else may still sleep there,
 * so a lone waiter's release makes no wake call.  Everyone counts itself
 * in `sleepers` before it sleeps, so whoever sleeps when the bit is cleared
 * is seen; whoever comes later sets the bit itself.  A process killed
 * while counted leaves the count high: later releases make a spare wake
 * call, nothing worse.
 *
 * The owner token (owner.h) is the process's for a Lock (any thread of
 * the owning process, or another process, may release it, as with the
 * stdlib's) and the thread's for an RLock: its kernel id with the low
 * bits of its start time, completed by `stamp`, so that an id the kernel
 * gave to a new process after the owner died does not pass for the owner.
 *
 * Dead owners: a blocked waiter wakes at the end of every nap (at most
 * CMP_LIVENESS_INTERVAL seconds, spin.h) and looks whether the owner still
 * exists with its start time.  If it died (a SIGKILLed process, or the
 * thread that held an RLock exited), the waiter takes the lock over in one
 * compare-exchange and gets EOWNERDEAD: it holds the lock now, and the
 * caller tells the user that the previous owner died.
 */
#ifndef CMP_LOCK_H
#define CMP_LOCK_H

#include <errno.h>
#include <stdint.h>

#include "futex.h"
#include "owner.h"

#define LOCK_UNLOCKED 0u
#define LOCK_WAITERS 0x40000000u
#define LOCK_OWED 0x80000000u

typedef struct {
    uint32_t word;
    uint32_t count;
    uint32_t tid;
    uint32_t stamp;
    uint32_t sleepers;
    uint32_t pad;
    int64_t debt;
} cmp_lock;

/* What a release pays for LOCK_OWED: wake `n` sleepers of the futex word
 * `word` (a Condition's; guarded by the lock). */
typedef struct {
    uint32_t word;
    uint32_t n;
} cmp_lock_debt;

/* Holder only: owe `n` more wake-ups on `d` at release.  1 when recorded,
 * 0 when another debt is pending on the lock (the caller wakes its
 * sleepers some other way). */
int cmp_lock_owe(cmp_lock *l, cmp_lock_debt *d, uint32_t n);

/* After any compare-exchange that made `me` (one of our own tokens) the
 * owner.  Relaxed: a waiter reads it only to judge the owner dead, and
 * trusts it only when it agrees with the word (owner.h). */
static inline void cmp_lock_stamp(cmp_lock *l, uint32_t me)
{
    __atomic_store_n(&l->stamp, cmp_owner_stamp(me), __ATOMIC_RELAXED);
}

/* Fast path: one compare-exchange.  Acquire: the holder must see what the
 * previous holder wrote before it released. */
static inline int cmp_lock_try(cmp_lock *l, uint32_t me)
{
    uint32_t expected = LOCK_UNLOCKED;
    if (!__atomic_compare_exchange_n(&l->word, &expected, me, 0,
                                     __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        return 0;
    cmp_lock_stamp(l, me);
    return 1;
}

/* The owner's token (owner.h), or 0 when free. */
static inline uint32_t cmp_lock_owner(const cmp_lock *l)
{
    /* Relaxed: informational (repr, ownership checks by the owner itself,
     * whose own writes it always sees). */
    return __atomic_load_n(&l->word, __ATOMIC_RELAXED) & CMP_OWNER_MASK;
}

/* The state a thread that takes the lock after a sleep stores: with
 * LOCK_WAITERS when someone else may still sleep on the word (the caller
 * no longer counts itself in `sleepers`).  Sequentially consistent: a
 * sleeper counted itself before it slept. */
static inline uint32_t cmp_lock_taken_state(cmp_lock *l, uint32_t me)
{
    return __atomic_load_n(&l->sleepers, __ATOMIC_SEQ_CST) ? me | LOCK_WAITERS : me;
}

/* Slow path: spin, then sleep until acquired or the deadline.  Call without
 * any interpreter lock held.  Returns 0, EOWNERDEAD (acquired from a dead
 * owner), ETIMEDOUT or EINTR (a signal, or a nap of CMP_LIVENESS_INTERVAL
 * ended: the caller runs signal handlers and calls again, so a signal that
 * arrived while it spun is not left waiting until the lock comes free). */
int cmp_lock_acquire_slow(cmp_lock *l, uint32_t me, const cmp_deadline *d);

/* Release whoever holds it (Lock).  Returns 0, or EPERM when unlocked. */
int cmp_lock_release(cmp_lock *l);

/* RLock: the caller passes its thread token (cmp_thread_owner) as `me`. */
static inline int cmp_rlock_try(cmp_lock *l, uint32_t me)
{
    if (cmp_lock_owner(l) == me) {
        l->count++;
        return 1;
    }
    if (cmp_lock_try(l, me)) {
        l->count = 1;
        return 1;
    }
    return 0;
}

/* Returns 0, or EPERM when `me` does not own it. */
int cmp_rlock_release(cmp_lock *l, uint32_t me);

#endif /* CMP_LOCK_H */
