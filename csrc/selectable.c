/* selectable.c - keeping a pipe readable exactly while a condition holds
 * (layout and states: selectable.h). */
#include "selectable.h"

#include <unistd.h>

void cmp_sel_init(cmp_selectable *s, int rfd, int wfd, uint64_t pipe_ino)
{
    s->fd_pid = (int32_t)cmp_self_pid();
    s->rfd = rfd;
    s->wfd = wfd;
    s->pipe_ino = pipe_ino;
}

static void sel_lock(cmp_selectable *s)
{
    uint32_t me = cmp_self_owner();
    if (!cmp_lock_try(&s->lock, me)) {
        cmp_deadline forever = cmp_deadline_forever();
        /* EINTR: a nap ended; nobody to run handlers for here (the holder
         * only writes or drains one pipe). */
        while (cmp_lock_acquire_slow(&s->lock, me, &forever) == EINTR)
            ;
    }
}

static void drain(int rfd)
{
    char buf[64];
    while (read(rfd, buf, sizeof buf) > 0)
        ;
}

void cmp_sel_interest(cmp_selectable *s, int wfd, cmp_ready_fn ready, void *arg)
{
    /* SeqCst: against a producer's publish-fence-load of interest. */
    if (!__atomic_load_n(&s->interest, __ATOMIC_SEQ_CST))
        __atomic_store_n(&s->interest, SEL_POLLED, __ATOMIC_SEQ_CST);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (ready(arg))
        cmp_sel_after_put(s, wfd, ready, arg);
}

void cmp_sel_after_put(cmp_selectable *s, int wfd, cmp_ready_fn ready, void *arg)
{
    /* Relaxed loads: the producer fenced since making the condition true;
     * a stale SEL_SIGNALED is corrected by the taker's re-check under the
     * lock. */
    if (!cmp_sel_wanted(s) ||
        __atomic_load_n(&s->signaled, __ATOMIC_RELAXED) != SEL_EMPTY || wfd < 0)
        return;
    sel_lock(s);
    if (__atomic_load_n(&s->signaled, __ATOMIC_RELAXED) == SEL_EMPTY && ready(arg)) {
        ssize_t n = write(wfd, "x", 1);
        (void)n;    /* a full pipe is readable already */
        __atomic_store_n(&s->signaled, SEL_SIGNALED, __ATOMIC_RELAXED);  /* under the lock */
    }
    cmp_lock_release(&s->lock);
}

void cmp_sel_after_take(cmp_selectable *s, int rfd, cmp_ready_fn ready, void *arg)
{
    /* No early return on SEL_EMPTY outside the lock: a producer may be
     * inside it, between finding the condition true and storing
     * SEL_SIGNALED after its write, and the byte it writes must not
     * outlive the condition. */
    if (!cmp_sel_wanted(s) || rfd < 0 || ready(arg))
        return;
    sel_lock(s);
    if (__atomic_load_n(&s->signaled, __ATOMIC_RELAXED) != SEL_EMPTY) {
        __atomic_store_n(&s->signaled, SEL_EMPTY, __ATOMIC_RELAXED);
        /* SeqCst: the store above against a producer's publish and its
         * load of `signaled` (Dekker). */
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (ready(arg))
            __atomic_store_n(&s->signaled, SEL_SIGNALED, __ATOMIC_RELAXED);
        else
            drain(rfd);
    }
    cmp_lock_release(&s->lock);
}
