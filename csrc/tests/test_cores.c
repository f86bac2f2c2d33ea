/*
 * test_cores.c - the C cores (lock, semaphore, event, condition, barrier, dict)
 * across fork()ed processes sharing one arena, without Python.
 *
 * Built and run by tests/test_c_core.py under AddressSanitizer and
 * UndefinedBehaviorSanitizer.  Prints one line per check; exits 0 when all
 * pass, 1 at the first failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../arena.h"
#include "check.h"
#include "../barrier.h"
#include "../condition.h"
#include "../dict.h"
#include "../event.h"
#include "../kinds.h"
#include "../lock.h"
#include "../semaphore.h"

#define CHILDREN 3
#define WAIT_SECONDS 30.0   /* only matters when something is broken */

static cmp_arena *arena;

static void *new_obj(uint32_t kind, uint64_t size)
{
    int err = 0;
    uint64_t off = cmp_obj_new(arena, kind, size, &err);
    CHECK(off != 0);
    return cmp_obj_body(arena, off);
}

static pid_t spawn(void (*fn)(void *, int), void *arg, int i)
{
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        fn(arg, i);
        _exit(0);
    }
    return pid;
}

/* Every child exits with `code` (0, or -SIGKILL as 128 + 9 for killed). */
static void reap(pid_t pid, int expect_killed)
{
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    if (expect_killed)
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    else
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static cmp_deadline soon(void) { return cmp_deadline_after(WAIT_SECONDS); }

/* Retry the slow paths' EINTR (naps end with EINTR; no signals here). */
static int lock_acquire(cmp_lock *l, uint32_t me)
{
    if (cmp_lock_try(l, me))
        return 0;
    cmp_deadline d = soon();
    int r;
    while ((r = cmp_lock_acquire_slow(l, me, &d)) == EINTR)
        ;
    return r;
}

static int sem_acquire(cmp_sem *s, double seconds)
{
    if (cmp_sem_try(s))
        return 0;
    cmp_deadline d = cmp_deadline_after(seconds);
    int r;
    while ((r = cmp_sem_acquire_slow(s, &d)) == EINTR)
        ;
    return r;
}

/* ---- lock ------------------------------------------------------------- */

typedef struct {
    cmp_lock lock;
    uint64_t counter;   /* guarded by lock */
} locked_counter;

#define INCREMENTS 20000

static void lock_child(void *p, int i)
{
    (void)i;
    locked_counter *lc = p;
    for (int k = 0; k < INCREMENTS; k++) {
        CHECK(lock_acquire(&lc->lock, cmp_self_owner()) == 0);
        lc->counter++;
        CHECK(cmp_lock_release(&lc->lock) == 0);
    }
}

static void test_lock(void)
{
    locked_counter *lc = new_obj(CMP_KIND_LOCK, sizeof *lc);
    pid_t pids[CHILDREN];
    for (int i = 0; i < CHILDREN; i++)
        pids[i] = spawn(lock_child, lc, i);
    for (int i = 0; i < CHILDREN; i++)
        reap(pids[i], 0);
    CHECK(lc->counter == (uint64_t)CHILDREN * INCREMENTS);
    CHECK(cmp_lock_release(&lc->lock) == EPERM);
    puts("ok lock: mutual exclusion across processes");
}

static void test_rlock(void)
{
    cmp_lock *l = new_obj(CMP_KIND_RLOCK, sizeof *l);
    uint32_t me = cmp_thread_owner();
    CHECK(cmp_rlock_try(l, me) && cmp_rlock_try(l, me));
    CHECK(l->count == 2);
    CHECK(cmp_rlock_release(l, me + 1) == EPERM);
    CHECK(cmp_rlock_release(l, me) == 0 && cmp_lock_owner(l) == me);
    CHECK(cmp_rlock_release(l, me) == 0 && cmp_lock_owner(l) == 0);
    CHECK(cmp_rlock_release(l, me) == EPERM);
    puts("ok rlock: recursion and ownership");
}

static void die_holding(void *p, int i)
{
    (void)i;
    CHECK(lock_acquire(p, cmp_self_owner()) == 0);
    kill(getpid(), SIGKILL);
}

static void test_lock_dead_owner(void)
{
    cmp_lock *l = new_obj(CMP_KIND_LOCK, sizeof *l);
    pid_t pid = spawn(die_holding, l, 0);
    reap(pid, 1);
    CHECK(cmp_owner_id(cmp_lock_owner(l)) == (uint32_t)pid);
    CHECK(lock_acquire(l, cmp_self_owner()) == EOWNERDEAD);
    CHECK(cmp_lock_owner(l) == cmp_self_owner());
    CHECK(cmp_lock_release(l) == 0);
    puts("ok lock: taken over from a killed owner");
}

/* ---- semaphore ---------------------------------------------------------- */

typedef struct {
    cmp_sem items;
    cmp_sem done;
} sem_pair;

#define ITEMS_PER_CHILD 5000

static void sem_child(void *p, int i)
{
    (void)i;
    sem_pair *sp = p;
    for (int k = 0; k < ITEMS_PER_CHILD; k++)
        CHECK(sem_acquire(&sp->items, WAIT_SECONDS) == 0);
    CHECK(cmp_sem_release(&sp->done) == 0);
}

static void test_semaphore(void)
{
    sem_pair *sp = new_obj(CMP_KIND_SEMAPHORE, sizeof *sp);
    cmp_sem_init(&sp->items, 0, SEM_UNBOUNDED);
    cmp_sem_init(&sp->done, 0, SEM_UNBOUNDED);
    pid_t pids[CHILDREN];
    for (int i = 0; i < CHILDREN; i++)
        pids[i] = spawn(sem_child, sp, i);
    for (int k = 0; k < CHILDREN * ITEMS_PER_CHILD; k++)
        CHECK(cmp_sem_release(&sp->items) == 0);
    for (int i = 0; i < CHILDREN; i++)
        CHECK(sem_acquire(&sp->done, WAIT_SECONDS) == 0);
    for (int i = 0; i < CHILDREN; i++)
        reap(pids[i], 0);
    CHECK(cmp_sem_value(&sp->items) == 0);
    CHECK(sp->items.waiters == 0);
    CHECK(sem_acquire(&sp->items, 0.05) == ETIMEDOUT);
    CHECK(sp->items.waiters == 0);

    cmp_sem bounded;
    cmp_sem_init(&bounded, 1, 1);
    CHECK(cmp_sem_release(&bounded) == ERANGE);
    CHECK(cmp_sem_try(&bounded) && !cmp_sem_try(&bounded));
    CHECK(cmp_sem_release(&bounded) == 0);
    cmp_sem full;
    cmp_sem_init(&full, SEM_VALUE_MAX_, SEM_UNBOUNDED);
    CHECK(cmp_sem_release(&full) == EOVERFLOW);
    puts("ok semaphore: counts across processes, bound, timeout");
}

/* ---- event -------------------------------------------------------------- */

typedef struct {
    cmp_event ping;
    cmp_event pong;
} event_pair;

#define ROUNDS 2000

static int event_wait(cmp_event *e, double seconds)
{
    uint32_t seen = cmp_event_snapshot(e);
    if (seen & EVENT_SET)
        return 0;
    cmp_deadline d = cmp_deadline_after(seconds);
    int r;
    while ((r = cmp_event_wait_slow(e, seen, &d)) == EINTR)
        ;
    return r;
}

static void event_child(void *p, int i)
{
    (void)i;
    event_pair *ep = p;
    for (int k = 0; k < ROUNDS; k++) {
        CHECK(event_wait(&ep->ping, WAIT_SECONDS) == 0);
        cmp_event_clear(&ep->ping);
        cmp_event_set(&ep->pong);
    }
}

static void test_event(void)
{
    event_pair *ep = new_obj(CMP_KIND_EVENT, sizeof *ep);
    CHECK(!cmp_event_is_set(&ep->ping));
    CHECK(event_wait(&ep->ping, 0.02) == ETIMEDOUT);
    pid_t pid = spawn(event_child, ep, 0);
    for (int k = 0; k < ROUNDS; k++) {
        cmp_event_set(&ep->ping);
        CHECK(event_wait(&ep->pong, WAIT_SECONDS) == 0);
        cmp_event_clear(&ep->pong);
    }
    reap(pid, 0);
    /* set() then clear() still releases a waiter that started before. */
    uint32_t seen = cmp_event_snapshot(&ep->ping);
    cmp_event_set(&ep->ping);
    cmp_event_clear(&ep->ping);
    cmp_deadline d = cmp_deadline_after(0);
    CHECK(cmp_event_wait_slow(&ep->ping, seen, &d) == 0);
    puts("ok event: ping-pong across processes, set-then-clear wakes");
}

/* ---- condition ---------------------------------------------------------- */

typedef struct {
    cmp_lock lock;      /* the user lock (a Lock: owner = pid) */
    cmp_cond cond;
    cmp_sem woken;      /* children post after their wait returned */
    cmp_sem ready;      /* children post once registered */
} cond_box;

/* The binding's wait protocol: 1 notified, 0 timed out. */
static int cond_wait(cond_box *b, double seconds)
{
    uint32_t me = cmp_self_owner();
    uint32_t epoch = cmp_cond_register(&b->cond);
    CHECK(cmp_lock_release(&b->lock) == 0);
    cmp_deadline d = cmp_deadline_after(seconds), forever = cmp_deadline_forever();
    int slept = 0, s, r;
    while ((r = cmp_cond_wait(&b->cond, &b->lock, epoch, &d, &s)) == EINTR)
        slept |= s;
    slept |= s;
    int rl;
    while ((rl = cmp_cond_relock(&b->cond, &b->lock, me, slept, &forever)) == EINTR)
        ;
    CHECK(rl == 0);
    return r == 0 ? 1 : cmp_cond_give_up(&b->cond, epoch);
}

static void cond_child(void *p, int i)
{
    (void)i;
    cond_box *b = p;
    CHECK(lock_acquire(&b->lock, cmp_self_owner()) == 0);
    CHECK(cmp_sem_release(&b->ready) == 0);
    CHECK(cond_wait(b, WAIT_SECONDS) == 1);
    CHECK(cmp_lock_owner(&b->lock) == cmp_self_owner());
    CHECK(cmp_lock_release(&b->lock) == 0);
    CHECK(cmp_sem_release(&b->woken) == 0);
}

static void test_condition(void)
{
    cond_box *b = new_obj(CMP_KIND_CONDITION, sizeof *b);
    cmp_sem_init(&b->woken, 0, SEM_UNBOUNDED);
    cmp_sem_init(&b->ready, 0, SEM_UNBOUNDED);
    uint32_t me = cmp_self_owner();

    /* Nobody waits: notify hands out nothing; a timed wait times out. */
    CHECK(lock_acquire(&b->lock, me) == 0);
    CHECK(cmp_cond_notify(&b->cond, &b->lock, 1) == 0);
    CHECK(cond_wait(b, 0.02) == 0);
    CHECK(b->cond.waiters == 0 && b->cond.tokens == 0);
    CHECK(cmp_lock_release(&b->lock) == 0);

    pid_t pids[CHILDREN];
    for (int i = 0; i < CHILDREN; i++)
        pids[i] = spawn(cond_child, b, i);
    for (int i = 0; i < CHILDREN; i++)
        CHECK(sem_acquire(&b->ready, WAIT_SECONDS) == 0);
    /* Each child released the lock inside its wait: all are waiting now. */
    CHECK(lock_acquire(&b->lock, me) == 0);
    CHECK(b->cond.waiters == CHILDREN);
    CHECK(cmp_cond_notify(&b->cond, &b->lock, 2) == 2);
    CHECK(cmp_lock_release(&b->lock) == 0);
    CHECK(sem_acquire(&b->woken, WAIT_SECONDS) == 0);
    CHECK(sem_acquire(&b->woken, WAIT_SECONDS) == 0);
    CHECK(sem_acquire(&b->woken, 0.1) == ETIMEDOUT);   /* only two woke */
    CHECK(lock_acquire(&b->lock, me) == 0);
    CHECK(cmp_cond_notify(&b->cond, &b->lock, UINT32_MAX) == 1);
    CHECK(cmp_lock_release(&b->lock) == 0);
    CHECK(sem_acquire(&b->woken, WAIT_SECONDS) == 0);
    for (int i = 0; i < CHILDREN; i++)
        reap(pids[i], 0);
    CHECK(b->cond.waiters == 0 && b->cond.tokens == 0 && b->cond.sleepers == 0);
    puts("ok condition: notify(n) wakes exactly n waiting processes");
}

/* Waiters with tiny timeouts race notifies: no wake-up may be lost or
 * invented, so once everybody left, waiters and tokens are both zero. */
#define STRESS_WAITS 3000

static void cond_stress_child(void *p, int i)
{
    cond_box *b = p;
    uint32_t me = cmp_self_owner();
    for (int k = 0; k < STRESS_WAITS; k++) {
        CHECK(lock_acquire(&b->lock, me) == 0);
        (void)cond_wait(b, (k + i) % 3 == 0 ? 0.0 : 0.0002);
        CHECK(cmp_lock_release(&b->lock) == 0);
    }
    CHECK(cmp_sem_release(&b->woken) == 0);
}

static void test_condition_stress(void)
{
    cond_box *b = new_obj(CMP_KIND_CONDITION, sizeof *b);
    cmp_sem_init(&b->woken, 0, SEM_UNBOUNDED);
    cmp_sem_init(&b->ready, 0, SEM_UNBOUNDED);
    uint32_t me = cmp_self_owner();
    pid_t pids[CHILDREN];
    for (int i = 0; i < CHILDREN; i++)
        pids[i] = spawn(cond_stress_child, b, i);
    int done = 0;
    for (uint32_t k = 0; done < CHILDREN; k++) {
        CHECK(lock_acquire(&b->lock, me) == 0);
        uint32_t present = b->cond.waiters + b->cond.tokens;
        CHECK(cmp_cond_notify(&b->cond, &b->lock, k % 4) <= present);
        CHECK(cmp_lock_release(&b->lock) == 0);
        if (cmp_sem_try(&b->woken))
            done++;
    }
    for (int i = 0; i < CHILDREN; i++)
        reap(pids[i], 0);
    CHECK(b->cond.waiters == 0 && b->cond.tokens == 0 && b->cond.sleepers == 0);
    CHECK(cmp_lock_owner(&b->lock) == 0);
    puts("ok condition: timeouts racing notifies lose and invent nothing");
}

/* ---- hand-over after a wake-up ---------------------------------------- */

/* Two processes sleep on a lock's word (as lock waiters, or as Condition
 * waiters that notify moved there because another debt was pending).  The release wakes one: it must set
 * LOCK_WAITERS again for the other, still asleep; the other, woken last,
 * must not (its release would call futex_wake for nobody). */
typedef struct {
    cond_box b;
    uint32_t taken;         /* acquisitions so far, under the lock */
    uint32_t kept[2];       /* per acquisition: LOCK_WAITERS was set */
    cmp_lock_debt other;    /* another Condition's debt */
} handoff_box;

static void handoff_record(handoff_box *h)
{
    CHECK(h->taken < 2);
    h->kept[h->taken++] = (__atomic_load_n(&h->b.lock.word, __ATOMIC_RELAXED) &
                           LOCK_WAITERS) != 0;
    CHECK(cmp_lock_release(&h->b.lock) == 0);
}

static void handoff_lock_child(void *p, int i)
{
    (void)i;
    handoff_box *h = p;
    CHECK(lock_acquire(&h->b.lock, cmp_self_owner()) == 0);
    handoff_record(h);
}

static void handoff_cond_child(void *p, int i)
{
    (void)i;
    handoff_box *h = p;
    CHECK(lock_acquire(&h->b.lock, cmp_self_owner()) == 0);
    CHECK(cond_wait(&h->b, WAIT_SECONDS) == 1);
    handoff_record(h);
}

static int asleep(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *paren = strrchr(buf, ')');
    return paren && paren[1] == ' ' && paren[2] == 'S';
}

/* Until both children counted themselves in the lock's sleepers and sleep
 * in the kernel. */
static void wait_both_asleep(handoff_box *h, const pid_t *pids)
{
    cmp_deadline d = soon();
    while (!(__atomic_load_n(&h->b.lock.sleepers, __ATOMIC_SEQ_CST) == 2 &&
             asleep(pids[0]) && asleep(pids[1]))) {
        CHECK(!cmp_deadline_passed(&d));
        usleep(1000);
    }
}

static void handoff(void (*child)(void *, int), int notify)
{
    handoff_box *h = new_obj(CMP_KIND_CONDITION, sizeof *h);
    uint32_t me = cmp_self_owner();
    pid_t pids[2];
    if (!notify)
        CHECK(lock_acquire(&h->b.lock, me) == 0);
    for (int i = 0; i < 2; i++)
        pids[i] = spawn(child, h, i);
    wait_both_asleep(h, pids);
    if (notify) {
        /* Another Condition's debt is pending on the lock (owing nobody),
         * so notify falls back to moving its sleepers onto the word. */
        CHECK(lock_acquire(&h->b.lock, me) == 0);
        CHECK(cmp_lock_owe(&h->b.lock, &h->other, 0) == 1);
        CHECK(cmp_cond_notify(&h->b.cond, &h->b.lock, 2) == 2);
        CHECK(h->b.cond.owed == 0 && (h->b.lock.word & LOCK_WAITERS));
    }
    CHECK(cmp_lock_release(&h->b.lock) == 0);
    for (int i = 0; i < 2; i++)
        reap(pids[i], 0);
    CHECK(h->taken == 2 && h->kept[0] == 1 && h->kept[1] == 0);
    CHECK(h->b.lock.word == LOCK_UNLOCKED && h->b.lock.sleepers == 0);
}

static void test_handoff(void)
{
    handoff(handoff_lock_child, 0);
    handoff(handoff_cond_child, 1);
    puts("ok hand-over: LOCK_WAITERS kept for a sleeper, dropped after the last");
}

/* ---- owed wake-ups (lock.h, condition.h) -------------------------------- */

/* A waiter that sleeps on the condition's word with no nap: only a
 * FUTEX_WAKE of that word (or a change of it) ends the sleep before the
 * deadline, so a release that forgot the debt fails the check. */
static void raw_cond_child(void *p, int i)
{
    (void)i;
    cond_box *b = p;
    CHECK(lock_acquire(&b->lock, cmp_self_owner()) == 0);
    uint32_t epoch = cmp_cond_register(&b->cond);
    __atomic_fetch_add(&b->cond.sleepers, 1, __ATOMIC_SEQ_CST);
    CHECK(cmp_sem_release(&b->ready) == 0);
    CHECK(cmp_lock_release(&b->lock) == 0);
    cmp_deadline d = soon();
    int r;
    while (__atomic_load_n(&b->cond.seq, __ATOMIC_SEQ_CST) == epoch)
        CHECK((r = futex_wait(&b->cond.seq, epoch, &d)) == 0);
    __atomic_fetch_sub(&b->cond.sleepers, 1, __ATOMIC_SEQ_CST);
    CHECK(__atomic_fetch_sub(&b->cond.tokens, 1, __ATOMIC_ACQUIRE) >= 1);
    CHECK(cmp_sem_release(&b->woken) == 0);
}

/* Until `n` children slept on the condition's word (or are about to). */
static void wait_cond_sleepers(cond_box *b, const pid_t *pids, int n)
{
    cmp_deadline d = soon();
    for (;;) {
        int all = __atomic_load_n(&b->cond.sleepers, __ATOMIC_SEQ_CST) == (uint32_t)n;
        for (int i = 0; all && i < n; i++)
            all = asleep(pids[i]);
        if (all)
            return;
        CHECK(!cmp_deadline_passed(&d));
        usleep(1000);
    }
}

/* The holder that notified dies: the next holder's release pays. */
static void notify_and_die(void *p, int i)
{
    (void)i;
    cond_box *b = p;
    CHECK(lock_acquire(&b->lock, cmp_self_owner()) == 0);
    CHECK(cmp_cond_notify(&b->cond, &b->lock, 1) == 1);
    kill(getpid(), SIGKILL);
}

/* Another process releases the Lock the parent notified under. */
static void release_for_parent(void *p, int i)
{
    (void)i;
    CHECK(cmp_lock_release(&((cond_box *)p)->lock) == 0);
}

static void test_condition_debt(void)
{
    cond_box *b = new_obj(CMP_KIND_CONDITION, sizeof *b);
    cmp_sem_init(&b->woken, 0, SEM_UNBOUNDED);
    cmp_sem_init(&b->ready, 0, SEM_UNBOUNDED);
    uint32_t me = cmp_self_owner();
    pid_t pids[2];

    /* notify records the debt, makes no system call; the release frees
     * the word, then wakes exactly what was owed. */
    for (int i = 0; i < 2; i++)
        pids[i] = spawn(raw_cond_child, b, i);
    for (int i = 0; i < 2; i++)
        CHECK(sem_acquire(&b->ready, WAIT_SECONDS) == 0);
    wait_cond_sleepers(b, pids, 2);
    CHECK(lock_acquire(&b->lock, me) == 0);
    CHECK(cmp_cond_notify(&b->cond, &b->lock, 1) == 1);
    CHECK(b->lock.word == (me | LOCK_OWED) && b->cond.owed == 1);
    CHECK((char *)&b->lock + b->lock.debt == (char *)&b->cond);
    CHECK(cmp_cond_notify(&b->cond, &b->lock, 1) == 1);   /* adds up */
    CHECK(b->lock.word == (me | LOCK_OWED) && b->cond.owed == 2);
    CHECK(cmp_lock_release(&b->lock) == 0);
    CHECK(b->lock.word == LOCK_UNLOCKED && b->cond.owed == 0);
    for (int i = 0; i < 2; i++) {
        CHECK(sem_acquire(&b->woken, WAIT_SECONDS) == 0);
        reap(pids[i], 0);
    }
    CHECK(b->cond.waiters == 0 && b->cond.tokens == 0 && b->cond.sleepers == 0);

    /* Released by another process (a Lock may be): that release pays. */
    pids[0] = spawn(raw_cond_child, b, 0);
    CHECK(sem_acquire(&b->ready, WAIT_SECONDS) == 0);
    wait_cond_sleepers(b, pids, 1);
    CHECK(lock_acquire(&b->lock, me) == 0);
    CHECK(cmp_cond_notify(&b->cond, &b->lock, 1) == 1);
    reap(spawn(release_for_parent, b, 0), 0);
    CHECK(sem_acquire(&b->woken, WAIT_SECONDS) == 0);
    reap(pids[0], 0);
    CHECK(b->lock.word == LOCK_UNLOCKED && b->cond.owed == 0);

    /* The notifier dies holding the lock: whoever takes it over keeps the
     * debt (LOCK_OWED) and pays it on release. */
    pids[0] = spawn(raw_cond_child, b, 0);
    CHECK(sem_acquire(&b->ready, WAIT_SECONDS) == 0);
    wait_cond_sleepers(b, pids, 1);
    reap(spawn(notify_and_die, b, 0), 1);
    CHECK(lock_acquire(&b->lock, me) == EOWNERDEAD);
    CHECK((b->lock.word & (CMP_OWNER_MASK | LOCK_OWED)) == (me | LOCK_OWED));
    CHECK(cmp_lock_release(&b->lock) == 0);
    CHECK(sem_acquire(&b->woken, WAIT_SECONDS) == 0);
    reap(pids[0], 0);
    CHECK(b->lock.word == LOCK_UNLOCKED && b->cond.owed == 0);

    /* An RLock pays at the release that frees it, not before. */
    cmp_lock *rl = new_obj(CMP_KIND_RLOCK, sizeof *rl);
    cmp_lock_debt *d = new_obj(CMP_KIND_CONDITION, sizeof *d);
    uint32_t tid = cmp_thread_owner();
    CHECK(cmp_rlock_try(rl, tid) && cmp_rlock_try(rl, tid));
    CHECK(cmp_lock_owe(rl, d, 3) == 1 && d->n == 3);
    cmp_lock_debt other = {0, 0};
    CHECK(cmp_lock_owe(rl, &other, 1) == 0 && other.n == 0);   /* one at a time */
    CHECK(cmp_rlock_release(rl, tid) == 0 && d->n == 3 && (rl->word & LOCK_OWED));
    CHECK(cmp_rlock_release(rl, tid) == 0 && d->n == 0 && rl->word == LOCK_UNLOCKED);
    CHECK(cmp_lock_owe(rl, d, 1) == 0);                     /* not held */
    puts("ok condition debt: notify owes, any release pays after freeing the lock");
}

/* ---- barrier ------------------------------------------------------------ */

#define BARRIER_ROUNDS 300

typedef struct {
    cmp_barrier bar;
    uint32_t arrivals[BARRIER_ROUNDS];   /* per round, under the barrier's lock */
} barrier_box;

static void barrier_lock(cmp_barrier *b)
{
    if (cmp_barrier_trylock(b))
        return;
    cmp_deadline d = soon();
    int r;
    while ((r = cmp_barrier_lock(b, &d)) == EINTR)
        ;
    CHECK(r == 0);
}

/* The binding's state machine without action, timeout or reset. */
static uint32_t barrier_wait(barrier_box *box, int round)
{
    cmp_barrier *b = &box->bar;
    cmp_deadline d = soon();
    barrier_lock(b);
    while (b->state == BARRIER_DRAINING) {
        uint32_t g = cmp_barrier_gen(b);
        cmp_barrier_unlock(b);
        while (cmp_barrier_sleep(b, g, &d) == EINTR)
            ;
        barrier_lock(b);
    }
    CHECK(b->state == BARRIER_FILLING);
    uint32_t index = b->count++;
    box->arrivals[round]++;
    if (index + 1 == b->parties) {
        CHECK(box->arrivals[round] == b->parties);
        b->state = BARRIER_DRAINING;
        cmp_barrier_notify_all(b);
    } else {
        while (b->state == BARRIER_FILLING) {
            uint32_t g = cmp_barrier_gen(b);
            cmp_barrier_unlock(b);
            int r;
            while ((r = cmp_barrier_sleep(b, g, &d)) == EINTR)
                ;
            CHECK(r == 0);
            barrier_lock(b);
        }
        CHECK(b->state == BARRIER_DRAINING);
    }
    CHECK(box->arrivals[round] == b->parties);
    if (--b->count == 0) {
        b->state = BARRIER_FILLING;
        cmp_barrier_notify_all(b);
    }
    cmp_barrier_unlock(b);
    return index;
}

static void barrier_child(void *p, int i)
{
    (void)i;
    for (int k = 0; k < BARRIER_ROUNDS; k++)
        CHECK(barrier_wait(p, k) < CHILDREN + 1);
}

static void test_barrier(void)
{
    barrier_box *box = new_obj(CMP_KIND_BARRIER, sizeof *box);
    box->bar.parties = CHILDREN + 1;
    pid_t pids[CHILDREN];
    for (int i = 0; i < CHILDREN; i++)
        pids[i] = spawn(barrier_child, box, i);
    barrier_child(box, CHILDREN);
    for (int i = 0; i < CHILDREN; i++)
        reap(pids[i], 0);
    for (int k = 0; k < BARRIER_ROUNDS; k++)
        CHECK(box->arrivals[k] == CHILDREN + 1);
    CHECK(box->bar.count == 0 && box->bar.state == BARRIER_FILLING);
    CHECK(box->bar.sleepers == 0);
    puts("ok barrier: rounds across processes");
}

/* ---- deadlines ---------------------------------------------------------- */

static double mono_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void test_deadlines(void)
{
    double before = mono_now();
    cmp_deadline d = cmp_deadline_after(100.0);
    double after = mono_now();
    double at = (double)d.ts.tv_sec + (double)d.ts.tv_nsec * 1e-9;
    CHECK(!d.forever && at >= before + 100.0 && at <= after + 100.0);
    CHECK(cmp_deadline_left(&d) > 99.0 && cmp_deadline_left(&d) <= 100.0);
    cmp_deadline past = cmp_deadline_after(-5);
    CHECK(cmp_deadline_passed(&past));
    /* The kernel measures FUTEX_WAIT_BITSET deadlines on CLOCK_MONOTONIC. */
    uint32_t word = 0;
    double t0 = mono_now();
    cmp_deadline short_wait = cmp_deadline_after(0.05);
    CHECK(futex_wait(&word, 0, &short_wait) == ETIMEDOUT);
    CHECK(mono_now() - t0 >= 0.05);
    puts("ok deadlines: absolute CLOCK_MONOTONIC");
}

/* ---- dict --------------------------------------------------------------- */

static cmp_dict *new_dict(void)
{
    cmp_dict *d = new_obj(CMP_KIND_DICT, sizeof(cmp_dict));
    cmp_dict_init(d, 0x1234567887654321ull);
    return d;
}

static int dseg_lock(cmp_dict *d, cmp_dseg *s)
{
    uint32_t me = cmp_thread_owner();
    if (cmp_dseg_try_lock(s, me))
        return 0;
    cmp_deadline dl = soon();
    int r;
    while ((r = cmp_dseg_lock_slow(arena, d, s, me, &dl)) == EINTR)
        ;
    return r;
}

/* d[key] = value through the core, as the binding does it. */
static void dict_put(cmp_dict *d, uint64_t key, uint64_t value)
{
    uint64_t h = cmp_dict_hash(d, &key, 8);
    cmp_dseg *s = cmp_dict_seg(d, h);
    CHECK(dseg_lock(d, s) == 0);
    int err = 0;
    uint64_t e = cmp_dentry_new(arena, &key, 8, "v\0\0\0\0\0\0\0\0", 9, &err);
    CHECK(e != 0);
    cmp_dentry_set_scalar(cmp_dentry_at(arena, e), value);
    cmp_dslot *slot = cmp_dseg_find(arena, s, h, &key, 8);
    if (slot)
        cmp_dseg_replace(arena, slot, e);
    else
        CHECK(cmp_dseg_add(arena, s, h, e) == 0);
    cmp_dseg_unlock(s, cmp_thread_owner());
}

/* d[key], or -1 when missing. */
static int64_t dict_get(cmp_dict *d, uint64_t key)
{
    uint64_t h = cmp_dict_hash(d, &key, 8);
    cmp_dseg *s = cmp_dict_seg(d, h);
    CHECK(dseg_lock(d, s) == 0);
    cmp_dslot *slot = cmp_dseg_find(arena, s, h, &key, 8);
    int64_t v = slot ? (int64_t)cmp_dentry_scalar(cmp_dentry_at(arena, slot->entry)) : -1;
    cmp_dseg_unlock(s, cmp_thread_owner());
    return v;
}

static int dict_del(cmp_dict *d, uint64_t key)
{
    uint64_t h = cmp_dict_hash(d, &key, 8);
    cmp_dseg *s = cmp_dict_seg(d, h);
    CHECK(dseg_lock(d, s) == 0);
    cmp_dslot *slot = cmp_dseg_find(arena, s, h, &key, 8);
    if (slot)
        cmp_dseg_remove(arena, s, slot);
    cmp_dseg_unlock(s, cmp_thread_owner());
    return slot != NULL;
}

static void dict_check_all(cmp_dict *d)
{
    for (unsigned i = 0; i < CMP_DICT_SEGMENTS; i++) {
        const char *bad = cmp_dseg_check(arena, d, &d->seg[i]);
        if (bad)
            fprintf(stderr, "segment %u: %s\n", i, bad);
        CHECK(bad == NULL);
    }
}

#define DICT_KEYS 20000

static void test_dict(void)
{
    cmp_arena_stats before, after;
    cmp_arena_get_stats(arena, &before);
    cmp_dict *d = new_dict();
    for (uint64_t k = 0; k < DICT_KEYS; k++)
        dict_put(d, k, k * 3);
    CHECK(cmp_dict_len(d) == DICT_KEYS);
    dict_check_all(d);
    for (uint64_t k = 0; k < DICT_KEYS; k++)
        CHECK(dict_get(d, k) == (int64_t)(k * 3));
    CHECK(dict_get(d, DICT_KEYS) == -1);
    for (uint64_t k = 0; k < DICT_KEYS; k += 2)
        dict_put(d, k, 7);
    for (uint64_t k = 1; k < DICT_KEYS; k += 2)
        CHECK(dict_del(d, k));
    CHECK(!dict_del(d, 1));
    CHECK(cmp_dict_len(d) == DICT_KEYS / 2);
    dict_check_all(d);
    for (uint64_t k = 0; k < DICT_KEYS; k++)
        CHECK(dict_get(d, k) == (k % 2 ? -1 : 7));
    /* Shrinking back to nothing returns every entry and table. */
    for (uint64_t k = 0; k < DICT_KEYS; k += 2)
        CHECK(dict_del(d, k));
    CHECK(cmp_dict_len(d) == 0);
    dict_check_all(d);
    for (unsigned i = 0; i < CMP_DICT_SEGMENTS; i++)
        CHECK(d->seg[i].table == 0);
    for (uint64_t k = 0; k < 1000; k++)
        dict_put(d, k, k);
    cmp_dict_destroy(arena, d);
    cmp_free(arena, (uint64_t)((char *)d - cmp_arena_base(arena)) - sizeof(cmp_obj_hdr));
    cmp_arena_get_stats(arena, &after);
    CHECK(after.blocks_in_use == before.blocks_in_use);
    CHECK(after.bytes_in_use == before.bytes_in_use);
    puts("ok dict: insert, replace, delete, shrink, memory back to the arena");
}

static void dict_child(void *p, int i)
{
    cmp_dict *d = p;
    for (uint64_t k = 0; k < DICT_KEYS / CHILDREN; k++) {
        dict_put(d, (uint64_t)i * DICT_KEYS + k, k);
        dict_put(d, 0xffffffffull, (uint64_t)i);     /* one contended key */
    }
}

static void test_dict_processes(void)
{
    cmp_dict *d = new_dict();
    pid_t pids[CHILDREN];
    for (int i = 0; i < CHILDREN; i++)
        pids[i] = spawn(dict_child, d, i);
    for (int i = 0; i < CHILDREN; i++)
        reap(pids[i], 0);
    CHECK(cmp_dict_len(d) == (uint64_t)CHILDREN * (DICT_KEYS / CHILDREN) + 1);
    dict_check_all(d);
    for (int i = 0; i < CHILDREN; i++)
        for (uint64_t k = 0; k < DICT_KEYS / CHILDREN; k++)
            CHECK(dict_get(d, (uint64_t)i * DICT_KEYS + k) == (int64_t)k);
    CHECK(dict_get(d, 0xffffffffull) < CHILDREN);
    cmp_dict_destroy(arena, d);
    puts("ok dict: concurrent writers in three processes");
}

/* Die holding the segment of key 1 halfway through adding it: the slot is
 * published, the count is not. */
static void dict_die_adding(void *p, int user)
{
    cmp_dict *d = p;
    uint64_t key = 1, h = cmp_dict_hash(d, &key, 8);
    cmp_dseg *s = cmp_dict_seg(d, h);
    CHECK(dseg_lock(d, s) == 0);
    s->user = (uint32_t)user;
    int err = 0;
    uint64_t e = cmp_dentry_new(arena, &key, 8, "v\0\0\0\0\0\0\0\0", 9, &err);
    CHECK(cmp_dseg_add(arena, s, h, e) == 0);
    s->count--;
    kill(getpid(), SIGKILL);
}

static void test_dict_dead_owner(void)
{
    for (int user = 0; user < 2; user++) {
        cmp_dict *d = new_dict();
        dict_put(d, 2, 2);
        uint64_t key = 1, h = cmp_dict_hash(d, &key, 8);
        cmp_dseg *s = cmp_dict_seg(d, h);
        pid_t pid = spawn(dict_die_adding, d, user);
        reap(pid, 1);
        CHECK(cmp_owner_id(cmp_lock_owner(&s->lock)) == (uint32_t)pid);
        CHECK(dseg_lock(d, s) == (user ? EOWNERDEAD : 0));
        CHECK(d->recovered == 1 && s->user == 0 && s->lock.count == 1);
        cmp_dseg_unlock(s, cmp_thread_owner());
        CHECK(cmp_lock_owner(&s->lock) == 0);
        dict_check_all(d);
        CHECK(cmp_dict_len(d) == 2);
        CHECK(dict_get(d, 1) == 0 && dict_get(d, 2) == 2);
        dict_put(d, 1, 5);
        CHECK(dict_get(d, 1) == 5);
        cmp_dict_destroy(arena, d);
    }
    puts("ok dict: a segment taken over from a killed owner is recounted");
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    CHECK(cmp_arena_create(64ull << 20, &arena) == 0);
    test_deadlines();
    test_lock();
    test_rlock();
    test_lock_dead_owner();
    test_semaphore();
    test_event();
    test_condition();
    test_condition_stress();
    test_handoff();
    test_condition_debt();
    test_barrier();
    test_dict();
    test_dict_processes();
    test_dict_dead_owner();
    cmp_arena_destroy(arena);
    puts("all passed");
    return 0;
}
