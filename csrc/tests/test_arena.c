/*
 * test_arena.c - the arena's allocator on its own, without Python: random
 * sizes allocated and freed by several fork()ed processes at once (every
 * block's bytes checked), drifting size classes through a small arena,
 * exhaustion and recovery, pages given back, stale object handles.
 *
 * Built and run by tests/test_c_core.py under AddressSanitizer and
 * UndefinedBehaviorSanitizer.  Prints one line per check; exits 0 when all
 * pass, 1 at the first failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../arena.h"
#include "check.h"

static cmp_arena_stats stats(cmp_arena *a)
{
    cmp_arena_stats st;
    cmp_arena_get_stats(a, &st);
    return st;
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* A size from 1 B to 400 KB, small ones most often. */
static uint64_t some_size(uint64_t *s)
{
    unsigned shift = (unsigned)(rnd(s) % 19);
    return 1 + rnd(s) % (1ull << shift);
}

static void stamp(cmp_arena *a, uint64_t off, uint64_t size, uint8_t v)
{
    uint8_t *p = cmp_ptr(a, off);
    p[0] = v;
    p[size / 2] = v;
    p[size - 1] = v;
}

static int stamped(cmp_arena *a, uint64_t off, uint64_t size, uint8_t v)
{
    uint8_t *p = cmp_ptr(a, off);
    return p[0] == v && p[size / 2] == v && p[size - 1] == v;
}

/* ---- random sizes, several processes ------------------------------------- */

#define LIVE 300
#define OPS 20000
#define PROCS 3

static void churn(cmp_arena *a, uint64_t seed)
{
    uint64_t off[LIVE] = {0}, size[LIVE] = {0};
    uint64_t s = seed;
    for (int i = 0; i < OPS; i++) {
        int j = (int)(rnd(&s) % LIVE);
        if (off[j]) {
            CHECK(stamped(a, off[j], size[j], (uint8_t)j));
            CHECK(cmp_block_size(a, off[j]) >= size[j]);
            cmp_free(a, off[j]);
            off[j] = 0;
        } else {
            int err = 0;
            size[j] = some_size(&s);
            off[j] = cmp_alloc(a, size[j], &err);
            CHECK(off[j] != 0 && (off[j] & 15) == 0);
            CHECK(cmp_block_generation(a, off[j]) & 1);    /* LIVE: odd */
            stamp(a, off[j], size[j], (uint8_t)j);
        }
    }
    for (int j = 0; j < LIVE; j++) {
        if (off[j]) {
            CHECK(stamped(a, off[j], size[j], (uint8_t)j));
            cmp_free(a, off[j]);
        }
    }
}

static void test_random_sizes(cmp_arena *a)
{
    cmp_arena_stats start = stats(a);
    pid_t pids[PROCS];
    for (int i = 0; i < PROCS; i++) {
        pids[i] = fork();
        CHECK(pids[i] >= 0);
        if (pids[i] == 0) {
            churn(a, 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1));
            _exit(0);
        }
    }
    churn(a, 12345);
    for (int i = 0; i < PROCS; i++) {
        int status;
        CHECK(waitpid(pids[i], &status, 0) == pids[i]);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    cmp_arena_stats end = stats(a);
    CHECK(end.bytes_in_use == start.bytes_in_use && end.blocks_in_use == start.blocks_in_use);
    printf("ok arena random sizes: %d processes x %d operations, all bytes intact\n",
           PROCS + 1, OPS);
}

/* ---- drifting sizes, exhaustion and recovery ----------------------------- */

/* Allocate blocks of `size` until the arena is full; returns how many. */
static uint64_t fill_up(cmp_arena *a, uint64_t size, uint64_t *offs, uint64_t cap)
{
    uint64_t n = 0;
    for (;;) {
        int err = 0;
        uint64_t off = cmp_alloc(a, size, &err);
        if (!off) {
            CHECK(err == ENOMEM);
            return n;
        }
        CHECK(n < cap);
        stamp(a, off, size, (uint8_t)n);
        offs[n++] = off;
    }
}

static void test_drift(void)
{
    cmp_arena *a;
    CHECK(cmp_arena_create(32ull << 20, &a) == 0);
    static uint64_t offs[1 << 20];
    uint64_t sizes[] = {600000, 16, 300000, 2000, 150000, 48, 70000, 5000, 600000};
    for (unsigned r = 0; r < sizeof sizes / sizeof *sizes; r++) {
        /* How many fit in a fresh arena of the same size. */
        cmp_arena *fresh;
        CHECK(cmp_arena_create(32ull << 20, &fresh) == 0);
        uint64_t want = fill_up(fresh, sizes[r], offs, sizeof offs / sizeof *offs);
        cmp_arena_destroy(fresh);
        /* After the other classes came and went: (nearly) as many. */
        uint64_t n = fill_up(a, sizes[r], offs, sizeof offs / sizeof *offs);
        CHECK(n >= want * 95 / 100);
        for (uint64_t i = 0; i < n; i++) {
            CHECK(stamped(a, offs[i], sizes[r], (uint8_t)i));
            cmp_free(a, offs[i]);
        }
        cmp_arena_stats st = stats(a);
        CHECK(st.bytes_in_use == 0 && st.blocks_in_use == 0);
        /* The pages went back but for those kept for reuse. */
        CHECK(st.free_resident <= CMP_ARENA_KEEP_FREE);
        CHECK(st.resident <= CMP_ARENA_KEEP_FREE + (2u << 20));
    }
    cmp_arena_destroy(a);
    puts("ok arena drift: 9 rounds of one size each fill a 32 MiB arena, pages given back");
}

/* ---- stale handles ---------------------------------------------------------- */

static void test_stale_handles(cmp_arena *a)
{
    enum { N = 3000, KIND = 7 };
    static uint64_t offs[N];
    static uint32_t gens[N];
    int err = 0;
    for (int i = 0; i < N; i++) {
        offs[i] = cmp_obj_new(a, KIND, 16, &err);
        CHECK(offs[i] != 0);
        gens[i] = cmp_block_generation(a, offs[i]);
        /* A pickled reference, rebuilt: pending taken and adopted. */
        cmp_obj_transfer_out(a, offs[i]);
        CHECK(cmp_obj_transfer_in(a, offs[i], gens[i], KIND) == 0);
        CHECK(cmp_obj(a, offs[i])->refs == 2);
        CHECK(cmp_obj_transfer_in(a, offs[i], gens[i], KIND + 1) == EINVAL);
        CHECK(!cmp_obj_decref(a, offs[i]));
    }
    for (int i = 0; i < N; i++) {
        CHECK(cmp_obj_decref(a, offs[i]));
        cmp_free(a, offs[i]);
    }
    /* The spans went back; fill the memory with the old generations. */
    uint64_t big[64];
    for (int i = 0; i < 64; i++) {
        big[i] = cmp_alloc(a, 70000, &err);
        CHECK(big[i] != 0);
        uint32_t *p = cmp_ptr(a, big[i]);
        for (int j = 0; j < 70000 / 4; j++)
            p[j] = gens[(i * 7 + j) % N];
    }
    uint64_t small[N];
    for (int i = 0; i < N; i++) {
        small[i] = cmp_obj_new(a, KIND, 16, &err);
        CHECK(small[i] != 0);
    }
    for (int i = 0; i < N; i++) {
        int r = cmp_obj_transfer_in(a, offs[i], gens[i], KIND);
        CHECK(r == ESTALE || r == EINVAL);
    }
    CHECK(cmp_obj_transfer_in(a, 0, 1, KIND) == EINVAL);
    CHECK(cmp_obj_transfer_in(a, 1ull << 40, 1, KIND) == EINVAL);
    for (int i = 0; i < N; i++) {
        CHECK(cmp_obj_decref(a, small[i]));
        cmp_free(a, small[i]);
    }
    for (int i = 0; i < 64; i++)
        cmp_free(a, big[i]);
    printf("ok arena stale handles: %d refused after their memory was reused\n", N);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    cmp_arena *a;
    CHECK(cmp_arena_create(256ull << 20, &a) == 0);
    cmp_arena_stats start = stats(a);
    test_random_sizes(a);
    test_stale_handles(a);
    cmp_arena_stats end = stats(a);
    CHECK(end.bytes_in_use == start.bytes_in_use && end.blocks_in_use == start.blocks_in_use);
    cmp_arena_destroy(a);
    test_drift();
    puts("all passed");
    return 0;
}
