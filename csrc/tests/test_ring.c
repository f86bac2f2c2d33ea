/*
 * test_ring.c - the message ring (ring.h) on its own, without Python:
 * wrap-around, out-of-line payloads, a full ring, producers and consumers
 * racing across fork()ed processes (head and tail helped along), a
 * producer killed while its record is CLAIMED and a consumer killed while
 * its record is READING.  Uses only ring.h's API (and the arena for
 * out-of-line blocks).
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
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../arena.h"
#include "check.h"
#include "../ring.h"

#define WAIT_SECONDS 30.0   /* only matters when something is broken */
#define SMALL_SLOTS CMP_RING_MIN_SLOTS

static cmp_arena *arena;

static cmp_ring *new_ring(uint32_t nslots, uint32_t maxsize, uint64_t *off)
{
    int err = 0;
    uint64_t size = cmp_ring_size(nslots);
    *off = cmp_alloc(arena, size, &err);
    CHECK(*off != 0);
    cmp_ring *r = cmp_ptr(arena, *off);
    memset(r, 0, size);
    cmp_ring_init(r, nslots, maxsize);
    return r;
}

static void drop_ring(cmp_ring *r, uint64_t off)
{
    cmp_ring_destroy(arena, r);
    cmp_free(arena, off);
}

/* Deterministic bytes for message `i` of `len` bytes. */
static void fill(char *buf, uint32_t len, uint32_t i)
{
    for (uint32_t j = 0; j < len; j++)
        buf[j] = (char)(i * 31 + j * 7 + (j >> 8));
}

/* The payload of a taken record, into buf (at most cap bytes). */
static uint32_t copy_out(const cmp_ring_rec *rec, char *buf, uint32_t cap)
{
    CHECK(rec->len <= cap);
    if (rec->oob) {
        memcpy(buf, cmp_ptr(arena, rec->oob), rec->len);
    } else {
        CHECK(rec->n1 + rec->n2 == rec->len);
        memcpy(buf, rec->p1, rec->n1);
        memcpy(buf + rec->n1, rec->p2, rec->n2);
    }
    return rec->len;
}

static int put(cmp_ring *r, const char *p, uint32_t len, uint32_t tag)
{
    CHECK(cmp_ring_items_try(r));
    uint64_t oob = 0;
    if (len > CMP_RING_CELL * r->nslots / 8 || len > CMP_RING_INLINE_MAX) {
        int err = 0;
        oob = cmp_alloc(arena, len, &err);
        CHECK(oob != 0);
        memcpy(cmp_ptr(arena, oob), p, len);
    }
    int rc = cmp_ring_try_put(r, p, len, oob, tag);
    if (rc) {
        if (oob)
            cmp_free(arena, oob);
        cmp_ring_items_undo(r);
    }
    return rc;
}

/* Take one record and check it is message `i` of `len` bytes. */
static void take_expect(cmp_ring *r, uint32_t len, uint32_t i, uint32_t tag)
{
    static char got[1 << 20], want[1 << 20];
    cmp_ring_rec rec;
    CHECK(cmp_ring_try_take(r, &rec) == 0);
    CHECK(rec.tag == tag);
    CHECK(copy_out(&rec, got, sizeof got) == len);
    cmp_ring_release(r, &rec);
    if (rec.oob)
        cmp_free(arena, rec.oob);
    fill(want, len, i);
    CHECK(memcmp(got, want, len) == 0);
}

static uint64_t blocks_in_use(void)
{
    cmp_arena_stats st;
    cmp_arena_get_stats(arena, &st);
    return st.blocks_in_use;
}

/* ---- wrap-around ---------------------------------------------------------- */

static void test_wrap_around(void)
{
    uint64_t off;
    cmp_ring *r = new_ring(SMALL_SLOTS, CMP_RING_UNBOUNDED, &off);
    char buf[512];
    int wrapped = 0;
    /* Records of 0..400 bytes (1..8 cells) through 64 cells: dozens of
     * laps, records split at the end of the data array. */
    for (uint32_t i = 0; i < 5000; i++) {
        uint32_t len = (i * 37) % 401;
        fill(buf, len, i);
        CHECK(put(r, buf, len, i & 0xff) == 0);
        cmp_ring_rec rec;
        CHECK(cmp_ring_try_take(r, &rec) == 0);
        CHECK(rec.len == len && rec.oob == 0 && rec.tag == (i & 0xff));
        if (rec.n2)
            wrapped++;
        char got[512];
        copy_out(&rec, got, sizeof got);
        cmp_ring_release(r, &rec);
        CHECK(memcmp(got, buf, len) == 0);
    }
    CHECK(wrapped > 100);
    CHECK(cmp_ring_items(r) == 0);
    cmp_ring_rec rec;
    CHECK(cmp_ring_try_take(r, &rec) == EAGAIN);
    drop_ring(r, off);
    printf("ok ring wrap-around: 5000 records, %d split at the end\n", wrapped);
}

/* ---- out-of-line payloads ------------------------------------------------- */

static void test_out_of_line(void)
{
    uint64_t before = blocks_in_use();
    uint64_t off;
    cmp_ring *r = new_ring(SMALL_SLOTS, CMP_RING_UNBOUNDED, &off);
    static char buf[300000];
    uint32_t sizes[] = {513, 4096, 70000, 300000, 500};   /* the last inline */
    for (uint32_t i = 0; i < 5; i++) {
        fill(buf, sizes[i], i);
        CHECK(put(r, buf, sizes[i], 7) == 0);
    }
    CHECK(blocks_in_use() == before + 1 + 4);     /* the ring, 4 blocks */
    for (uint32_t i = 0; i < 5; i++)
        take_expect(r, sizes[i], i, 7);
    CHECK(blocks_in_use() == before + 1);
    /* Records never taken: destroy frees their blocks. */
    for (uint32_t i = 0; i < 3; i++) {
        fill(buf, 100000, i);
        CHECK(put(r, buf, 100000, 1) == 0);
    }
    CHECK(blocks_in_use() == before + 1 + 3);
    drop_ring(r, off);
    CHECK(blocks_in_use() == before);
    puts("ok ring out-of-line payloads: taken, and freed by destroy");
}

/* ---- a full ring ------------------------------------------------------------ */

/* Put messages 0, 1, ... of 100 bytes until the ring is full: how many. */
static uint32_t fill_ring(cmp_ring *r)
{
    char buf[100];
    uint32_t n = 0;
    for (;; n++) {
        fill(buf, 100, n);
        if (put(r, buf, 100, 0) == EAGAIN)
            return n;
    }
}

static void test_full_ring(void)
{
    uint64_t off;
    cmp_ring *r = new_ring(SMALL_SLOTS, CMP_RING_UNBOUNDED, &off);
    char buf[100];
    uint32_t n = fill_ring(r);
    CHECK(n == SMALL_SLOTS / 2);        /* 108 bytes: two cells each */
    CHECK(cmp_ring_items(r) == n);
    cmp_deadline soon = cmp_deadline_after(0.05);
    int rc;
    while ((rc = cmp_ring_space_wait(r, 100, &soon)) == EINTR)
        ;
    CHECK(rc == ETIMEDOUT);
    take_expect(r, 100, 0, 0);
    cmp_deadline later = cmp_deadline_after(WAIT_SECONDS);
    while ((rc = cmp_ring_space_wait(r, 100, &later)) == EINTR)
        ;
    CHECK(rc == 0);
    fill(buf, 100, n);
    CHECK(put(r, buf, 100, 0) == 0);
    for (uint32_t i = 1; i <= n; i++)
        take_expect(r, 100, i, 0);
    drop_ring(r, off);

    /* A bounded ring: the item count stops at maxsize. */
    r = new_ring(SMALL_SLOTS, 3, &off);
    for (int i = 0; i < 3; i++)
        CHECK(cmp_ring_items_try(r));
    CHECK(!cmp_ring_items_try(r));
    cmp_deadline d = cmp_deadline_after(0.05);
    while ((rc = cmp_ring_items_wait(r, &d)) == EINTR)
        ;
    CHECK(rc == ETIMEDOUT);
    cmp_ring_items_undo(r);
    CHECK(cmp_ring_items_try(r));
    for (int i = 0; i < 3; i++)
        cmp_ring_items_undo(r);
    drop_ring(r, off);
    printf("ok ring full: %u records, then room after a take; bounded at 3\n", n);
}

/* ---- producers and consumers racing ---------------------------------------- */

#define PRODUCERS 3
#define CONSUMERS 2
#define PER_PRODUCER 20000

typedef struct {
    uint32_t taken;             /* records taken, by all consumers */
    uint32_t seen[PRODUCERS][PER_PRODUCER];   /* times each message arrived */
} race_counts;

static void producer(cmp_ring *r, uint32_t who)
{
    char buf[200];
    for (uint32_t i = 0; i < PER_PRODUCER; i++) {
        uint32_t len = 8 + (i % 150);
        uint32_t id[2] = {who, i};
        memset(buf, (int)(i & 0xff), len);
        memcpy(buf, id, sizeof id);
        for (;;) {
            if (put(r, buf, len, who) == 0)
                break;
            cmp_deadline d = cmp_deadline_after(WAIT_SECONDS);
            int rc = cmp_ring_space_wait(r, len, &d);
            CHECK(rc == 0 || rc == EINTR);
        }
    }
}

static void consumer(cmp_ring *r, race_counts *c)
{
    char buf[200];
    for (;;) {
        if (__atomic_load_n(&c->taken, __ATOMIC_ACQUIRE) >= PRODUCERS * PER_PRODUCER)
            return;
        cmp_ring_rec rec;
        int rc = cmp_ring_try_take(r, &rec);
        if (rc == 0) {
            uint32_t len = copy_out(&rec, buf, sizeof buf);
            cmp_ring_release(r, &rec);
            uint32_t id[2];
            memcpy(id, buf, sizeof id);
            CHECK(id[0] < PRODUCERS && id[1] < PER_PRODUCER && rec.tag == id[0]);
            CHECK(len == 8 + (id[1] % 150));
            CHECK((unsigned char)buf[len - 1] == (id[1] & 0xff) || len == 8);
            __atomic_fetch_add(&c->seen[id[0]][id[1]], 1, __ATOMIC_RELAXED);
            __atomic_fetch_add(&c->taken, 1, __ATOMIC_RELEASE);
            continue;
        }
        cmp_deadline d = cmp_deadline_after(0.01);
        rc = cmp_ring_data_wait(r, &d);
        CHECK(rc == 0 || rc == EINTR || rc == ETIMEDOUT);
    }
}

static void test_racing(void)
{
    uint64_t off;
    cmp_ring *r = new_ring(SMALL_SLOTS, CMP_RING_UNBOUNDED, &off);
    int err = 0;
    uint64_t coff = cmp_alloc(arena, sizeof(race_counts), &err);
    CHECK(coff != 0);
    race_counts *c = cmp_ptr(arena, coff);
    memset(c, 0, sizeof *c);
    pid_t pids[PRODUCERS + CONSUMERS];
    for (uint32_t i = 0; i < PRODUCERS + CONSUMERS; i++) {
        pids[i] = fork();
        CHECK(pids[i] >= 0);
        if (pids[i] == 0) {
            if (i < PRODUCERS)
                producer(r, i);
            else
                consumer(r, c);
            _exit(0);
        }
    }
    for (uint32_t i = 0; i < PRODUCERS + CONSUMERS; i++) {
        int status;
        CHECK(waitpid(pids[i], &status, 0) == pids[i]);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    for (uint32_t p = 0; p < PRODUCERS; p++)
        for (uint32_t i = 0; i < PER_PRODUCER; i++)
            CHECK(c->seen[p][i] == 1);
    CHECK(cmp_ring_items(r) == 0);
    cmp_free(arena, coff);
    drop_ring(r, off);
    printf("ok ring racing: %d producers, %d consumers, 64 cells, every message once\n",
           PRODUCERS, CONSUMERS);
}

/* ---- a producer killed while its record is CLAIMED ------------------------ */

static void die(int sig)
{
    (void)sig;
    raise(SIGKILL);
}

static void test_producer_killed_in_claimed(void)
{
    uint64_t off;
    cmp_ring *r = new_ring(SMALL_SLOTS, CMP_RING_UNBOUNDED, &off);
    char buf[100];
    fill(buf, 100, 0);
    CHECK(put(r, buf, 100, 0) == 0);
    /* The child's payload is an unreadable page: try_put claims the cells,
     * writes the header and faults copying the payload, where the child is
     * killed: its record stays CLAIMED. */
    char *bad = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(bad != MAP_FAILED);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = die;
        sigaction(SIGSEGV, &sa, NULL);
        sigaction(SIGBUS, &sa, NULL);
        CHECK(cmp_ring_items_try(r));
        cmp_ring_try_put(r, bad, 200, 0, 9);
        _exit(3);                       /* never: the copy faults */
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    munmap(bad, 4096);
    CHECK(cmp_ring_items(r) == 2);
    /* Records behind the dead one still go in (tail moved past it). */
    fill(buf, 100, 2);
    CHECK(put(r, buf, 100, 0) == 0);
    take_expect(r, 100, 0, 0);
    cmp_ring_rec rec;
    CHECK(cmp_ring_try_take(r, &rec) == EBUSY);     /* CLAIMED at head */
    /* A consumer waiting for data finds the writer dead and drops its
     * record (within CMP_LIVENESS_INTERVAL). */
    cmp_deadline d = cmp_deadline_after(WAIT_SECONDS);
    int rc;
    while ((rc = cmp_ring_data_wait(r, &d)) == EINTR)
        ;
    CHECK(rc == 0);
    take_expect(r, 100, 2, 0);
    CHECK(cmp_ring_items(r) == 0);
    CHECK(cmp_ring_try_take(r, &rec) == EAGAIN);
    /* And the ring goes on working, lap after lap. */
    for (uint32_t i = 0; i < 500; i++) {
        fill(buf, 100, i);
        CHECK(put(r, buf, 100, 0) == 0);
        take_expect(r, 100, i, 0);
    }
    drop_ring(r, off);
    puts("ok ring producer killed in CLAIMED: its record dropped, nothing else lost");
}

/* ---- a consumer killed while its record is READING ------------------------ */

static void test_consumer_killed_in_reading(void)
{
    uint64_t off;
    cmp_ring *r = new_ring(SMALL_SLOTS, CMP_RING_UNBOUNDED, &off);
    char buf[100];
    uint32_t n = fill_ring(r);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        cmp_ring_rec rec;
        CHECK(cmp_ring_try_take(r, &rec) == 0);
        raise(SIGKILL);                 /* READING: never released */
        _exit(3);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    /* The rest come out in order. */
    for (uint32_t i = 1; i < n; i++)
        take_expect(r, 100, i, 0);
    /* tail has come round to the dead reader's cells: a producer waiting
     * for room finds the reader dead and frees them. */
    fill(buf, 100, n);
    CHECK(put(r, buf, 100, 0) == EAGAIN);
    cmp_deadline d = cmp_deadline_after(WAIT_SECONDS);
    int rc;
    while ((rc = cmp_ring_space_wait(r, 100, &d)) == EINTR)
        ;
    CHECK(rc == 0);
    CHECK(put(r, buf, 100, 0) == 0);
    take_expect(r, 100, n, 0);
    CHECK(cmp_ring_items(r) == 0);
    drop_ring(r, off);
    puts("ok ring consumer killed in READING: its cells freed by the next producer");
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    CHECK(cmp_arena_create(64ull << 20, &arena) == 0);
    uint64_t start = blocks_in_use();
    test_wrap_around();
    test_out_of_line();
    test_full_ring();
    test_racing();
    test_producer_killed_in_claimed();
    test_consumer_killed_in_reading();
    CHECK(blocks_in_use() == start);
    cmp_arena_destroy(arena);
    puts("all passed");
    return 0;
}
