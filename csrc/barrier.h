/*
 * barrier.h - Barrier: the state machine of threading.Barrier on shared
 * words, guarded by a small internal lock, with a generation word to sleep on.
 *
 * Shared layout (the body of a cmp object of kind CMP_KIND_BARRIER):
 *
 *   +0   cmp_lock mutex     internal lock (owner: the process id), held
 *                           only to read-modify-write state and count and
 *                           while the action runs
 *   +24  uint32_t gen       the futex word: bumped on every state change
 *   +28  uint32_t sleepers  waiters inside futex_wait on `gen` (or about to)
 *   +32  int32_t state      BARRIER_FILLING / DRAINING / RESETTING / BROKEN
 *   +36  uint32_t count     threads inside wait()
 *   +40  uint32_t parties
 *   +44  uint32_t spin      adaptive spin estimate (spin.h)
 *   +48  uint64_t seen[2]   the last threads to use it, and their CPUs (spin.h)
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
 * Killed processes: the internal lock is taken over from a dead holder
 * (lock.h); the binding then breaks the barrier, as a waiter that was
 * killed can never arrive.
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

typedef struct {
    cmp_lock mutex;
    uint32_t gen;
    uint32_t sleepers;
    int32_t state;
    uint32_t count;
    uint32_t parties;
    uint32_t spin;
    uint64_t seen[2];
} cmp_barrier;

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
