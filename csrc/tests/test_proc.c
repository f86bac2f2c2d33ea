/*
 * test_proc.c - the process table on its own, without Python: children
 * SIGKILLed before they run, after they hold objects of their own, with
 * their pid given to a live process, while preparing a child, while
 * reaping; holdings that grow and shrink; a start entry adopted or given
 * up.  Every case ends with the arena's usage back where it started.
 *
 * Built (this file includes proc.c, to reach an entry's fields) and run by
 * tests/test_c_core.py under AddressSanitizer and UndefinedBehaviorSanitizer.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../proc.c"
#include "check.h"

static cmp_arena *A;

static void rel(cmp_arena *a, uint64_t off, uint32_t n)
{
    if (cmp_obj_release(a, off, n))
        cmp_free(a, off);
}

static uint64_t in_use(void)
{
    cmp_arena_stats st;
    cmp_arena_get_stats(A, &st);
    return st.blocks_in_use;
}

static uint64_t new_obj(void)
{
    int err = 0;
    uint64_t off = cmp_obj_new(A, 1, 64, &err);
    CHECK(off != 0);
    CHECK(cmp_proc_hold(A, cmp_proc_self(), off, 1) == 0);
    return off;
}

static void drop_obj(uint64_t off)
{
    cmp_proc_unhold(A, cmp_proc_self(), off, 1);
    rel(A, off, 1);
}

static uint32_t refs(uint64_t off) { return cmp_obj(A, off)->refs; }

/* Prepare a child's entry holding one reference of `off`, as a fork does. */
static uint32_t prepare(uint64_t off)
{
    uint32_t e = cmp_proc_prepare_child(A);
    CHECK(e != CMP_PROC_NONE);
    cmp_obj_incref(A, off);
    CHECK(cmp_proc_hold(A, e, off, 1) == 0);
    cmp_proc_forking(A, e);
    return e;
}

/* A child that never runs any code of the table (paused at once), named
 * by its parent in the entry prepared for it. */
static pid_t fork_idle(uint32_t e)
{
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        for (;;)
            pause();
    }
    CHECK(cmp_proc_name(A, e, (uint32_t)pid) == 0);
    return pid;
}

static void kill_and_wait(pid_t pid)
{
    CHECK(kill(pid, SIGKILL) == 0);
    int st;
    CHECK(waitpid(pid, &st, 0) == pid && WIFSIGNALED(st));
}

/* The parent names a child that never ran; killed, it is reaped. */
static void test_killed_before_running(void)
{
    uint64_t obj = new_obj(), start = in_use();
    for (int i = 0; i < 50; i++) {
        kill_and_wait(fork_idle(prepare(obj)));
        CHECK(refs(obj) == 2);
        CHECK(cmp_proc_reap(A, rel, 1) == 1);
        CHECK(refs(obj) == 1);
    }
    CHECK(in_use() == start);
    drop_obj(obj);
    puts("ok killed before running");
}

/* The child names itself and holds objects of its own, many of them
 * (its holdings grow); killed, everything it alone held is freed. */
static void test_killed_holding_its_own(void)
{
    uint64_t obj = new_obj(), start = in_use();
    for (int i = 0; i < 20; i++) {
        int p[2];
        CHECK(pipe(p) == 0);
        uint32_t e = prepare(obj);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            cmp_proc_become(A, e);
            CHECK(cmp_proc_self() == e);
            for (int k = 0; k < 300; k++)
                new_obj();
            CHECK(write(p[1], "k", 1) == 1);
            for (;;)
                pause();
        }
        char c;
        CHECK(read(p[0], &c, 1) == 1);
        close(p[0]);
        close(p[1]);
        CHECK(in_use() == start + 300);  /* holdings blocks are meta_bytes */
        kill_and_wait(pid);
        CHECK(cmp_proc_reap(A, rel, 1) == 1);
        CHECK(in_use() == start);
        CHECK(refs(obj) == 1);
    }
    drop_obj(obj);
    puts("ok killed holding its own");
}

/* A dead process's pid now names a live process (here: this one) with
 * another start time: the entry is still found dead. */
static void test_pid_reused(void)
{
    uint64_t obj = new_obj();
    uint32_t e = prepare(obj);
    kill_and_wait(fork_idle(e));
    /* The reused pid: a live process, started at another time. */
    E(A, e)->pid = (uint32_t)getpid();
    E(A, e)->start = cmp_self_proc()->start + 1;
    CHECK(cmp_proc_reap(A, rel, 1) == 1);
    CHECK(refs(obj) == 1);
    /* The same pid and start time is alive: never reaped. */
    uint32_t live = cmp_proc_prepare_child(A);
    cmp_proc_forking(A, live);
    CHECK(cmp_proc_name(A, live, (uint32_t)getpid()) == 0);
    CHECK(cmp_proc_reap(A, rel, 1) == 0);
    CHECK(cmp_proc_abandon(A, live, rel) == 0);     /* named: not abandoned */
    E(A, live)->start++;                            /* now "dead" */
    CHECK(cmp_proc_reap(A, rel, 1) == 1);
    drop_obj(obj);
    puts("ok pid reused");
}

/* A process dies while it prepares a child (no fork happened): the entry
 * it claimed comes back once its creator is found dead. */
static void test_creator_died_preparing(void)
{
    uint64_t obj = new_obj(), start = in_use();
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        uint32_t e = cmp_proc_prepare_child(A);
        cmp_obj_incref(A, obj);
        cmp_proc_hold(A, e, obj, 1);
        _exit(0);
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(refs(obj) == 2);
    CHECK(cmp_proc_reap(A, rel, 1) == 1);
    CHECK(refs(obj) == 1 && in_use() == start);
    drop_obj(obj);
    puts("ok creator died preparing");
}

/* A reaper dies halfway: another finishes, and gives back only what the
 * first had not. */
static void test_reaper_died(void)
{
    uint64_t a = new_obj(), b = new_obj();
    uint32_t e = prepare(a);
    cmp_obj_incref(A, b);
    CHECK(cmp_proc_hold(A, e, b, 1) == 0);
    kill_and_wait(fork_idle(e));
    pid_t reaper = fork();
    CHECK(reaper >= 0);
    if (reaper == 0) {
        /* Claim the entry as a reaper, give back the count of a only. */
        entry *en = E(A, e);
        uint64_t w = en->word;
        CHECK(__atomic_compare_exchange_n(&en->word, &w,
                                          make_word(REAPING, seq_of(w), cmp_self_owner()),
                                          0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
        slot *s = find(HB(A, en->holdings), a, NULL);
        s->count = 0;
        rel(A, a, 1);
        _exit(0);
    }
    int st;
    CHECK(waitpid(reaper, &st, 0) == reaper && WIFEXITED(st));
    CHECK(refs(a) == 1 && refs(b) == 2);
    CHECK(cmp_proc_reap(A, rel, 1) == 1);
    CHECK(refs(a) == 1 && refs(b) == 1);
    drop_obj(a);
    drop_obj(b);
    puts("ok reaper died");
}

/* Holdings grow past many objects, shrink, and are freed when empty. */
static void test_holdings(void)
{
    enum { N = 2000 };
    static uint64_t objs[N];
    uint64_t start = in_use();
    uint32_t me = cmp_proc_self();
    for (int i = 0; i < N; i++)
        objs[i] = new_obj();
    for (int i = 0; i < N; i += 2) {
        cmp_obj_incref(A, objs[i]);
        CHECK(cmp_proc_hold(A, me, objs[i], 1) == 0);
    }
    for (int i = 0; i < N; i++)
        CHECK(cmp_proc_count(A, me, objs[i]) == (i % 2 ? 1u : 2u));
    for (int i = 0; i < N; i += 2)
        drop_obj(objs[i]);
    for (int round = 0; round < 3; round++) {
        /* Churn: tombstones are reused, the table does not grow forever. */
        for (int i = 0; i < N; i += 2) {
            drop_obj(objs[i]);
            objs[i] = new_obj();
        }
    }
    for (int i = 0; i < N; i++)
        CHECK(cmp_proc_count(A, me, objs[i]) == 1);
    CHECK(HB(A, E(A, me)->holdings)->cap <= 4 * 4096u);
    for (int i = 0; i < N; i++)
        drop_obj(objs[i]);
    CHECK(E(A, me)->holdings == 0);         /* empty: the block went */
    CHECK(in_use() == start);
    puts("ok holdings");
}

/* A start entry: adopted by the child, it is the child's (its parent can
 * no longer give it up); given up first, the child cannot adopt it. */
static void test_start_entry(void)
{
    uint64_t obj = new_obj();
    for (int adopt_first = 0; adopt_first < 2; adopt_first++) {
        int p[2], q[2];
        CHECK(pipe(p) == 0 && pipe(q) == 0);
        uint32_t e = prepare(obj);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            cmp_proc_become(A, CMP_PROC_NONE);      /* as a spawned child */
            char c;
            if (!adopt_first)
                CHECK(read(q[0], &c, 1) == 1);      /* after the abandon */
            int r = cmp_proc_adopt(A, e);
            CHECK(r == (adopt_first ? 0 : ESTALE));
            if (r == 0)
                CHECK(cmp_proc_adopt(A, (e + 1) % CMP_PROC_MAX) == EINVAL);
            CHECK(write(p[1], "k", 1) == 1);
            for (;;)
                pause();
        }
        char c;
        if (adopt_first) {
            CHECK(read(p[0], &c, 1) == 1);
            CHECK(cmp_proc_abandon(A, e, rel) == 0);
            CHECK(refs(obj) == 2);
        } else {
            CHECK(cmp_proc_abandon(A, e, rel) == 1);
            CHECK(refs(obj) == 1);
            CHECK(write(q[1], "k", 1) == 1);
            CHECK(read(p[0], &c, 1) == 1);
        }
        kill_and_wait(pid);
        cmp_proc_reap(A, rel, 1);
        CHECK(refs(obj) == 1);
        close(p[0]); close(p[1]); close(q[0]); close(q[1]);
    }
    drop_obj(obj);
    puts("ok start entry");
}

/* Leaving gives back what the entries still count. */
static void test_leave(void)
{
    uint64_t start = in_use();
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        cmp_proc_become(A, CMP_PROC_NONE);
        CHECK(cmp_proc_attach(A) == 0);
        for (int i = 0; i < 10; i++)
            new_obj();
        cmp_proc_leave(A, rel);
        CHECK(cmp_proc_self() == CMP_PROC_NONE);
        _exit(in_use() == start ? 0 : 1);
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(in_use() == start);
    puts("ok leave");
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    CHECK(cmp_arena_create(64ull << 20, &A) == 0);
    CHECK(cmp_proc_attach(A) == 0);
    uint64_t start = in_use();
    uint32_t entries = cmp_proc_in_use(A);
    test_killed_before_running();
    test_killed_holding_its_own();
    test_pid_reused();
    test_creator_died_preparing();
    test_reaper_died();
    test_holdings();
    test_start_entry();
    test_leave();
    CHECK(in_use() == start);
    CHECK(cmp_proc_in_use(A) == entries);
    cmp_proc_leave(A, rel);
    cmp_arena_destroy(A);
    puts("all passed");
    return 0;
}
