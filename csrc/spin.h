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

static inline int cmp_spin(uint32_t *est, uint64_t *seen,
                           cmp_ready_fn ready, void *arg, uint64_t *start)
{
    *start = cmp_now_ns();
    if (!cmp_spin_worthwhile(seen)) {
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

/* After a sleep that ended with the wait satisfied. */
static inline void cmp_spin_slept(uint32_t *est, uint64_t start)
{
    cmp_spin_learn(est, cmp_now_ns() - start);
}

/* Sleep on `word` while it holds `expected`, for one nap of at most
 * CMP_LIVENESS_INTERVAL seconds.  Returns 0 (woken or the word changed),
 * ETIMEDOUT (the deadline passed) or EINTR: a signal, or the nap ended
 * first.  The caller's binding then runs the Python signal handlers and
 * calls again: a signal that arrived while we spun, just before the sleep
 * began, is handled at the latest one nap later instead of never. */
static inline int cmp_futex_nap(uint32_t *word, uint32_t expected,
                                const cmp_deadline *d)
{
    cmp_deadline nap = cmp_deadline_min(*d, CMP_LIVENESS_INTERVAL);
    int r = futex_wait(word, expected, &nap);
    if (r == ETIMEDOUT && !cmp_deadline_passed(d))
        return EINTR;
    return r;
}

#endif /* CMP_SPIN_H */
