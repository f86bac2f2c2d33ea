/*
 * barrier.h - Barrier: the state machine of threading.Barrier on shared
 * words, guarded by a small internal lock, with a generation word to sleep on.
 *
 * Shared layout (the body of a cmp object of kind CMP_KIND_BARRIER):
 *
 *   +0   cmp_lock mutex     internal lock (owner: the process), held
 *                           only to read-modify-write state, count and
 *                           party and while the action runs
 *   +32  uint32_t gen       the futex word: bumped on every state change
 *   +36  uint32_t sleepers  waiters inside futex_wait on `gen` (or about to)
 *   +40  int32_t state      BARRIER_FILLING / DRAINING / RESETTING / BROKEN
 *   +44  uint32_t count     threads inside wait()
 *   +48  uint32_t parties
 *   +52  uint32_t spin      adaptive spin estimate (spin.h)
 *   +56  uint64_t seen[2]   the last threads to use it, and their CPUs (spin.h)
 *   +72  uint32_t nslots    entries of `party`: parties, at most
 *                           BARRIER_MAX_SLOTS (0 for parties < 1)
 *   +76  uint32_t pad
 *   +80  uint64_t filling_since  when the round's first party arrived
 *                           (monotonic ns)
 *   +88  uint64_t party[nslots]  who is inside wait(): BARRIER_NOBODY, or
 *                           the process's start time (low 32 bits) << 32
 *                           | its pid (owner.h); one entry per thread
 *
 * States (the stdlib's numbering, so the logic reads the same):
 *   BARRIER_FILLING    0  threads arrive; the last one runs the action
 *   BARRIER_DRAINING   1  everybody was released; new arrivals wait until
 *                         the last one has left (count == 0 -> FILLING)
 *   BARRIER_RESETTING -1  reset() while threads waited: they raise
 *                         BrokenBarrierError; the last one out -> FILLING
 *   BARRIER_BROKEN    -2  abort(), a timeout or a failed action: every
 *                         wait raises until reset()
 *
 * The binding (csrc/python/barrier_type.c) runs the state machine: lock,
 * look at and change state and count, cmp_barrier_notify_all after each
 * change, cmp_barrier_sleep (lock released) to wait for the next change.
 *
 * Killed processes.  Every thread inside wait() holds an entry of
 * `party`, written (one 8-byte store) before count is raised and cleared
 * after it is lowered, both under the mutex.  A waiter whose nap ends
 * (the binding wakes it at least every CMP_LIVENESS_INTERVAL) takes the
 * mutex and calls cmp_barrier_reap: entries of processes that no longer
 * exist (pid and start time, so a reused pid does not count) are cleared
 * and count becomes the number of entries left, exact even when the
 * process died between the two stores.  The binding then breaks a
 * filling barrier (a party that died can never arrive, as when a thread
 * raises inside the stdlib's wait) and re-opens a draining or resetting
 * one that only the dead kept from emptying.  The last arrival of a round
 * that has been filling for more than BARRIER_REAP_AFTER_NS reaps too
 * before it trips the barrier, so a round does not trip with a party that
 * died in it counted (unless the round lasted less than that: a quick
 * round costs no look at /proc).  The internal lock is taken
 * over from a dead holder (lock.h) and the barrier broken and reaped the
 * same way.  With more than BARRIER_MAX_SLOTS parties, the threads beyond
 * the table are not tracked: a death among them is not detected (count
 * then keeps them), and timeouts, abort() and reset() are the way out.
 */
#ifndef CMP_BARRIER_H
#define CMP_BARRIER_H

#include <errno.h>
#include <stdint.h>

#include "futex.h"
#include "lock.h"

#define BARRIER_FILLING 0
#define BARRIER_DRAINING 1
#define BARRIER_RESETTING (-1)
#define BARRIER_BROKEN (-2)

#define BARRIER_MAX_SLOTS 1024u
#define BARRIER_REAP_AFTER_NS 1000000u
#define BARRIER_NOBODY 0ull
#define BARRIER_UNTRACKED (-1)      /* a waiter beyond the table */

typedef struct {
    cmp_lock mutex;
    uint32_t gen;
    uint32_t sleepers;
    int32_t state;
    uint32_t count;
    uint32_t parties;
    uint32_t spin;
    uint64_t seen[2];
    uint32_t nslots;
    uint32_t pad;
    uint64_t filling_since;
    uint64_t party[];
} cmp_barrier;

/* The body's size for `parties`, and its initialisation (zeroed body). */
uint64_t cmp_barrier_size(int parties);
void cmp_barrier_init(cmp_barrier *b, int parties);

/* With the lock held: count the caller in (its entry, then count + 1);
 * returns its entry's index, or BARRIER_UNTRACKED. */
int cmp_barrier_enter(cmp_barrier *b);
/* With the lock held: count the caller out (count - 1, then its entry). */
void cmp_barrier_leave(cmp_barrier *b, int slot);
/* With the lock held: drop the entries of dead processes and recount;
 * returns how many were dropped. */
uint32_t cmp_barrier_reap(cmp_barrier *b);

/* Internal lock.  Returns 0, EOWNERDEAD (taken from a dead holder: break
 * the barrier), ETIMEDOUT or EINTR.  Call without the interpreter lock. */
int cmp_barrier_lock(cmp_barrier *b, const cmp_deadline *d);
void cmp_barrier_unlock(cmp_barrier *b);

/* Fast path of cmp_barrier_lock: 1 when taken. */
static inline int cmp_barrier_trylock(cmp_barrier *b)
{
    return cmp_lock_try(&b->mutex, cmp_self_owner());
}

/* With the lock held: the generation to pass to cmp_barrier_sleep. */
static inline uint32_t cmp_barrier_gen(const cmp_barrier *b)
{
    /* Relaxed: changed only under the internal lock, which we hold. */
    return __atomic_load_n(&b->gen, __ATOMIC_RELAXED);
}

/* With the lock held, after changing state: wake everybody sleeping. */
void cmp_barrier_notify_all(cmp_barrier *b);

/* Without the lock (and without the interpreter lock): spin, then sleep
 * until gen != seen.  Returns 0, ETIMEDOUT or EINTR. */
int cmp_barrier_sleep(cmp_barrier *b, uint32_t seen, const cmp_deadline *d);

/* Lock-free snapshots (for n_waiting, broken, repr).  Relaxed: stale by
 * nature, as the stdlib's unlocked reads. */
static inline int32_t cmp_barrier_state(const cmp_barrier *b)
{
    return __atomic_load_n(&b->state, __ATOMIC_RELAXED);
}

static inline uint32_t cmp_barrier_count(const cmp_barrier *b)
{
    return __atomic_load_n(&b->count, __ATOMIC_RELAXED);
}

#endif /* CMP_BARRIER_H */
