/*
 * futex.h - waiting and waking on shared 32-bit words.
 *
 * Every cmp primitive sleeps here.  Words live in the shared arena, so the
 * futexes are shared (no FUTEX_PRIVATE_FLAG).  Waits take one absolute
 * CLOCK_MONOTONIC deadline (FUTEX_WAIT_BITSET) that survives every retry, so
 * a wall-clock change never stretches or shortens a timeout.
 *
 * Return values follow the cores' convention: 0 or a positive errno.
 *   futex_wait: 0 (woken, or the word had already changed: EAGAIN folds into
 *               0 because callers re-check the word anyway), ETIMEDOUT, EINTR.
 */
#ifndef CMP_FUTEX_H
#define CMP_FUTEX_H

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* A deadline: absolute CLOCK_MONOTONIC time, or none (wait forever), and
 * when the wait it belongs to began (`since_ns`, monotonic nanoseconds;
 * 0: unknown), which sets the length of its naps (spin.h). */
typedef struct {
    struct timespec ts;
    int forever;
    uint64_t since_ns;
} cmp_deadline;

static inline uint64_t cmp_ts_ns(const struct timespec *t)
{
    return (uint64_t)t->tv_sec * 1000000000u + (uint64_t)t->tv_nsec;
}

static inline cmp_deadline cmp_deadline_forever(void)
{
    cmp_deadline d = {{0, 0}, 1, 0};
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    d.since_ns = cmp_ts_ns(&now);
    return d;
}

/* Deadline `seconds` from now; negative counts as zero (the stdlib's rule). */
static inline cmp_deadline cmp_deadline_after(double seconds)
{
    cmp_deadline d;
    clock_gettime(CLOCK_MONOTONIC, &d.ts);
    d.forever = 0;
    d.since_ns = cmp_ts_ns(&d.ts);
    if (seconds <= 0)
        return d;
    if (seconds > 1e9)      /* ~31 years: treat as forever */
        return cmp_deadline_forever();
    time_t whole = (time_t)seconds;
    long nsec = (long)((seconds - (double)whole) * 1e9);
    d.ts.tv_sec += whole;
    d.ts.tv_nsec += nsec;
    if (d.ts.tv_nsec >= 1000000000L) {
        d.ts.tv_sec += 1;
        d.ts.tv_nsec -= 1000000000L;
    }
    return d;
}

static inline int cmp_deadline_passed(const cmp_deadline *d)
{
    if (d->forever)
        return 0;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > d->ts.tv_sec ||
           (now.tv_sec == d->ts.tv_sec && now.tv_nsec >= d->ts.tv_nsec);
}

/* The earlier of `d` and `ns` nanoseconds after `now` (bounds a nap). */
static inline cmp_deadline cmp_deadline_min_ns(cmp_deadline d, const struct timespec *now,
                                               uint64_t ns)
{
    cmp_deadline s = d;
    s.forever = 0;
    s.ts.tv_sec = now->tv_sec + (time_t)(ns / 1000000000u);
    s.ts.tv_nsec = now->tv_nsec + (long)(ns % 1000000000u);
    if (s.ts.tv_nsec >= 1000000000L) {
        s.ts.tv_sec += 1;
        s.ts.tv_nsec -= 1000000000L;
    }
    if (d.forever)
        return s;
    if (s.ts.tv_sec < d.ts.tv_sec ||
        (s.ts.tv_sec == d.ts.tv_sec && s.ts.tv_nsec < d.ts.tv_nsec))
        return s;
    return d;
}

/* Seconds left until `d` (0 when passed, -1 for forever). */
static inline double cmp_deadline_left(const cmp_deadline *d)
{
    if (d->forever)
        return -1.0;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double left = (double)(d->ts.tv_sec - now.tv_sec) +
                  (double)(d->ts.tv_nsec - now.tv_nsec) * 1e-9;
    return left > 0 ? left : 0.0;
}

/* Sleep while *word == expected, until woken, the deadline, or a signal. */
static inline int futex_wait(uint32_t *word, uint32_t expected,
                             const cmp_deadline *d)
{
    long r = syscall(SYS_futex, word, FUTEX_WAIT_BITSET, expected,
                     d->forever ? NULL : &d->ts, NULL, FUTEX_BITSET_MATCH_ANY);
    if (r == 0)
        return 0;
    if (errno == EAGAIN)
        return 0;
    return errno;   /* ETIMEDOUT or EINTR */
}

/* Wake up to `n` waiters; returns how many were woken. */
static inline int futex_wake(uint32_t *word, int n)
{
    long r = syscall(SYS_futex, word, FUTEX_WAKE, n, NULL, NULL, 0);
    return r < 0 ? 0 : (int)r;
}

static inline int futex_wake_all(uint32_t *word)
{
    return futex_wake(word, INT_MAX);
}

/* One pause of a spin loop. */
static inline void cmp_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#endif /* CMP_FUTEX_H */
