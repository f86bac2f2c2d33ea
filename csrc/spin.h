/*
 * spin.h - bounded, adaptive spinning before a futex sleep.
 *
 * A waiter whose partner runs on another core usually gets its answer within
 * a few microseconds: spinning that long is much cheaper than a futex sleep
 * and wake-up.  A waiter whose partner is slow, or shares its only core,
 * wastes the time it spins.  So each object keeps one shared word, `est`,
 * an estimate in nanoseconds of how long its waiters wait, and a waiter
 * spins for at most min(2 * est + CMP_SPIN_FLOOR_NS, CMP_SPIN_CEIL_NS):
 *
 *   - a spin that succeeds after t ns moves est a quarter of the way to t;
 *   - a waiter that had to sleep reports the whole wait: a wait shorter than
 *     the ceiling (a longer spin would have caught it) moves est towards its
 *     length, a longer one lets est decay by a quarter.
 *
 * Nobody spins when a partner runs on our own CPU: it could only answer
 * once we stop.  Each object remembers the last two threads that used it
 * (`seen`: kernel thread id << 32 | CPU number + 1), marked by the waking
 * side (release, set, notify) and by every waiter that enters its slow
 * path (cmp_spin_mark).  A waiter does not spin when another thread among
 * them last ran on its CPU: it yields the CPU once instead, so that a
 * partner it has just woken answers first (on one core a ping-pong is then
 * two sched_yield calls a round trip instead of two futex sleeps and
 * wakes).  These words are hints: every access is relaxed, and a lost
 * update only makes one spin longer or shorter.
 *
 * Spinning happens in the cores' slow paths, which the bindings call with
 * the interpreter lock released.
 *
 * The one wait policy of every core (lock, semaphore, event, condition,
 * barrier, the ring's data, space, item and task waits):
 *
 *   1. the fast path: one atomic operation, no system call;
 *   2. a bounded spin: cmp_spin (adaptive, as above; the ring judges the
 *      partner's CPU from its own hints with cmp_spin_with), or for a
 *      lock CMP_SPIN_LIMIT pauses that stop as soon as a waiter sleeps
 *      (queueing behind it is fairer; lock.c);
 *   3. naps: futex sleeps (cmp_futex_nap) bounded by the caller's one
 *      absolute CLOCK_MONOTONIC deadline (cmp_deadline, made once per
 *      call by the binding and kept across every retry) and by a nap
 *      length that grows with the time already waited, from
 *      CMP_NAP_FIRST_NS to CMP_LIVENESS_INTERVAL;
 *   4. the end of every nap returns EINTR from the core to the binding
 *      (after the core's look at dead owners), which runs the
 *      interpreter's signal handlers (cmp_wait in csrc/python/shared.c)
 *      and calls again with the same deadline.
 *
 * Why 4: CPython's C-level signal handler only sets a flag.  A signal
 * that lands after the binding last looked at that flag but before the
 * futex sleep began (while spinning, say) does not interrupt the sleep.
 * Returning at the end of each nap bounds how long it waits: about the
 * time the wait had already lasted when the signal came (the first naps
 * are short), at most CMP_LIVENESS_INTERVAL.  A signal that lands during
 * a sleep ends it at once (EINTR).
 */
#ifndef CMP_SPIN_H
#define CMP_SPIN_H

#include <sched.h>
#include <stdint.h>
#include <time.h>

#include "futex.h"
#include "owner.h"

#define CMP_SPIN_FLOOR_NS 2000u     /* spin at least this long (when at all) */
#define CMP_SPIN_CEIL_NS 40000u     /* never spin longer than this */
#define CMP_SPIN_CHECK_EVERY 32     /* pauses between two clock readings */

#define CMP_SPIN_SEEN 2     /* threads remembered per object */

/* A lock waiter's pauses before it sleeps (step 2 above, lock.c). */
#define CMP_SPIN_LIMIT 100

/* The first nap of a wait; later ones last as long as the wait so far,
 * up to CMP_LIVENESS_INTERVAL (owner.h). */
#define CMP_NAP_FIRST_NS 20000000u

/* Record the calling thread and its CPU in seen[CMP_SPIN_SEEN]. */
void cmp_spin_mark(uint64_t *seen);

/* Mark, then: 0 when another thread in `seen` last ran on our CPU. */
int cmp_spin_worthwhile(uint64_t *seen);

static inline uint64_t cmp_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static inline void cmp_spin_learn(uint32_t *est, uint64_t took_ns)
{
    /* Relaxed: a hint (see above). */
    uint32_t e = __atomic_load_n(est, __ATOMIC_RELAXED);
    int64_t target = took_ns < CMP_SPIN_CEIL_NS ? (int64_t)took_ns : 0;
    int64_t next = (int64_t)e + (target - (int64_t)e) / 4;
    __atomic_store_n(est, (uint32_t)(next < 0 ? 0 : next), __ATOMIC_RELAXED);
}

/* Spin until ready(arg) returns nonzero or the budget runs out.  Returns
 * ready's last answer.  *start receives the time the wait began (pass it to
 * cmp_spin_slept after a sleep). */
typedef int (*cmp_ready_fn)(void *arg);

/* cmp_spin with the caller's own judgement of the partner's CPU:
 * `worthwhile` 0 when the partner it waits for last ran on ours. */
static inline int cmp_spin_with(uint32_t *est, int worthwhile,
                                cmp_ready_fn ready, void *arg, uint64_t *start)
{
    *start = cmp_now_ns();
    if (!worthwhile) {
        /* The partner shares our CPU: let it run first.  When we have just
         * woken it (a release, set or notify before this wait), it answers
         * before we come back and neither side sleeps nor wakes the other
         * with a system call. */
        if (ready(arg))
            return 1;
        sched_yield();
        return ready(arg);
    }
    /* Relaxed: a hint. */
    uint64_t limit = 2u * (uint64_t)__atomic_load_n(est, __ATOMIC_RELAXED) +
                     CMP_SPIN_FLOOR_NS;
    if (limit > CMP_SPIN_CEIL_NS)
        limit = CMP_SPIN_CEIL_NS;
    for (unsigned i = 1;; i++) {
        int r = ready(arg);
        if (r) {
            cmp_spin_learn(est, cmp_now_ns() - *start);
            return r;
        }
        cmp_cpu_relax();
        if (i % CMP_SPIN_CHECK_EVERY == 0 && cmp_now_ns() - *start >= limit)
            return 0;
    }
}

static inline int cmp_spin(uint32_t *est, uint64_t *seen,
                           cmp_ready_fn ready, void *arg, uint64_t *start)
{
    return cmp_spin_with(est, cmp_spin_worthwhile(seen), ready, arg, start);
}

/* After a sleep that ended with the wait satisfied. */
static inline void cmp_spin_slept(uint32_t *est, uint64_t start)
{
    cmp_spin_learn(est, cmp_now_ns() - start);
}

/* The deadline of the next nap of the wait `d` (step 3 above). */
static inline cmp_deadline cmp_nap_deadline(const cmp_deadline *d)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    uint64_t t = cmp_ts_ns(&now);
    uint64_t waited = d->since_ns && t > d->since_ns ? t - d->since_ns : UINT64_MAX;
    uint64_t max = (uint64_t)(CMP_LIVENESS_INTERVAL * 1e9);
    uint64_t len = waited < CMP_NAP_FIRST_NS ? CMP_NAP_FIRST_NS : waited > max ? max : waited;
    return cmp_deadline_min_ns(*d, &now, len);
}

/* Sleep on `word` while it holds `expected`, for one nap (step 3 above).
 * Returns 0 (woken or the word changed), ETIMEDOUT (the deadline
 * passed) or EINTR: a signal, or the nap ended first.  The core then
 * returns EINTR to its binding, which runs the signal handlers and calls
 * again (step 4). */
static inline int cmp_futex_nap(uint32_t *word, uint32_t expected,
                                const cmp_deadline *d)
{
    cmp_deadline nap = cmp_nap_deadline(d);
    int r = futex_wait(word, expected, &nap);
    if (r == ETIMEDOUT && !cmp_deadline_passed(d))
        return EINTR;
    return r;
}

#endif /* CMP_SPIN_H */
