/*
 * handoff.h - a sleeper killed as a wake-up picks it passes the wake-up on.
 *
 * The loss: FUTEX_WAKE(n) takes the first n tasks queued on the word.  A
 * task that has just been sent SIGKILL is still queued there until it runs
 * again and dequeues itself (the signal made it runnable; on a busy
 * machine it may wait milliseconds for a CPU), so a wake can pick it: the
 * wake is spent on a process that dies without taking the unit or token
 * it was woken for, and the live sleepers sleep on until their naps end
 * (up to CMP_LIVENESS_INTERVAL).  A Semaphore released right after its
 * first sleeper was killed lost the wake-up that way in 19 of 30 trials.
 * No waker can tell: the task is alive when it is picked.
 *
 * The hand-off: the kernel passes one wake-up on for a task that dies,
 * through the task's robust futex list (set_robust_list(2), which glibc
 * registers for every thread).  At exit it looks at the word that the
 * list's `list_op_pending` names, and when that word's owner bits
 * (FUTEX_TID_MASK, the low 30) are 0 it wakes one waiter of it.  So while
 * a waiter may sleep on a primitive, list_op_pending names the primitive's
 * `bell`, a shared word that is always 0, and every sleep waits on the
 * primitive's word and on the bell at once (futex_waitv, Linux 5.16): a
 * waiter killed at any instant of its wait wakes one sleeper of the bell,
 * which looks again and takes what the dead one was woken for (or, when
 * the dead one was woken for nothing, sleeps again: one spare wake-up per
 * death).  A chain of deaths passes it along: each dead sleeper, woken by
 * the word or by the bell, wakes the next.
 *
 * list_op_pending is glibc's otherwise, used only inside its robust mutex
 * operations (the arena's allocator lock): it is set after a wait began
 * and put back before the core returns, and nothing between takes a
 * mutex.  Where the kernel has no futex_waitv or the thread no robust list
 * (another libc), the sleep is the plain nap on the word and a wake-up
 * taken by a dying sleeper costs the others one nap, as before.
 */
#ifndef CMP_HANDOFF_H
#define CMP_HANDOFF_H

#include <errno.h>
#include <linux/futex.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "futex.h"
#include "spin.h"

/* futex_waitv(2) as Linux 5.16 defines it, for older kernel headers (the
 * manylinux images'): one number on every architecture. */
#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif
#define CMP_FUTEX2_SIZE_U32 0x02
typedef struct {
    uint64_t val;
    uint64_t uaddr;
    uint32_t flags;
    uint32_t reserved;
} cmp_futex_waitv;

/* What a waiter arms and puts back (cmp_handoff_arm, cmp_handoff_disarm):
 * its thread's robust list head and what list_op_pending held. */
typedef struct {
    struct robust_list_head *head;
    struct robust_list *saved;
} cmp_handoff;

/* From now until cmp_handoff_disarm, this thread's death wakes one sleeper
 * of `bell` (always 0).  Call before the first sleep of a wait. */
static inline cmp_handoff cmp_handoff_arm(uint32_t *bell)
{
    cmp_handoff h = {NULL, NULL};
    struct robust_list_head *head = NULL;
    size_t len = 0;
    if (syscall(SYS_get_robust_list, 0, &head, &len) != 0 || head == NULL ||
        len != sizeof *head)
        return h;
    h.head = head;
    h.saved = head->list_op_pending;
    /* The kernel adds futex_offset to the entry to find the word. */
    struct robust_list *entry =
        (struct robust_list *)((char *)bell - head->futex_offset);
    /* Volatile, then a compiler barrier: the kernel reads it when this
     * thread exits, after whatever instruction it was at. */
    *(struct robust_list *volatile *)&head->list_op_pending = entry;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    return h;
}

/* Give list_op_pending back (before the core returns to its caller). */
static inline void cmp_handoff_disarm(const cmp_handoff *h)
{
    if (h->head == NULL)
        return;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    *(struct robust_list *volatile *)&h->head->list_op_pending = h->saved;
}

/* One nap (as cmp_futex_nap, spin.h) on `word` while it holds `expected`,
 * also woken through `bell` when `h` is armed.  Returns 0 (woken, or the
 * word changed), ETIMEDOUT, or EINTR (a signal, or the nap ended). */
static inline int cmp_handoff_nap(const cmp_handoff *h, uint32_t *word, uint32_t expected,
                                  uint32_t *bell, const cmp_deadline *d)
{
    if (h->head == NULL)
        return cmp_futex_nap(word, expected, d);
    cmp_deadline nap = cmp_nap_deadline(d);
    /* Shared words (no FUTEX2_PRIVATE): the bell's wake at a death comes
     * from another process. */
    cmp_futex_waitv w[2] = {
        {expected, (uint64_t)(uintptr_t)word, CMP_FUTEX2_SIZE_U32, 0},
        {0, (uint64_t)(uintptr_t)bell, CMP_FUTEX2_SIZE_U32, 0},
    };
    long r = syscall(SYS_futex_waitv, w, 2u, 0u, &nap.ts, CLOCK_MONOTONIC);
    if (r >= 0)
        return 0;
    int e = errno;
    if (e == ENOSYS)        /* before Linux 5.16 (costs a call per nap) */
        return cmp_futex_nap(word, expected, d);
    if (e == EAGAIN)
        return 0;
    if (e == ETIMEDOUT && !cmp_deadline_passed(d))
        return EINTR;
    return e;   /* ETIMEDOUT or EINTR */
}

#endif /* CMP_HANDOFF_H */
