/*
 * test_ring.c - the message ring (ring.h) on its own, without Python:
 * wrap-around, out-of-line payloads, a full ring, producers and consumers
 * racing across fork()ed processes (head and tail helped along), a
 * producer killed while its record is CLAIMED and a consumer killed while
 * its record is READING.  Those use only ring.h's API (and the arena for
 * out-of-line blocks).  Two more write control words by hand (the layout
 * ring.h documents) to reach states a race only reaches by chance: a
 * producer stalled between its claim and its advance of tail, a consumer
 * stalled between its claim and its advance of head (the others must help
 * past them), and records held by a dead process whose pid now belongs to
 * a live one (told apart by the stamp bits).  And a producer and a consumer
 * killed at each point between the atomic steps of put and take (ring.c's
 * RING_POINTs, reached here because this file includes ring.c): the item
 * count and a bounded ring's room come back every time.
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
#include "../owner.h"

/* In a child: the RING_POINT of put or take where it dies (0: none). */
static int kill_at;

static void ring_point(int n)
{
    if (n == kill_at)
        raise(SIGKILL);
}

#define RING_POINT(n) ring_point(n)
#include "../ring.c"

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
    uint64_t oob = 0;
    if (len > CMP_RING_CELL * r->nslots / 8 || len > CMP_RING_INLINE_MAX) {
        int err = 0;
        oob = cmp_alloc(arena, len, &err);
        CHECK(oob != 0);
        memcpy(cmp_ptr(arena, oob), p, len);
    }
    int rc = cmp_ring_try_put(r, p, len, oob, tag);
    if (rc && oob)
        cmp_free(arena, oob);
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

/* Nap-bounded waits until `deadline`: what they return last. */
static int space_wait_until(cmp_ring *r, uint32_t len, double seconds)
{
    cmp_deadline d = cmp_deadline_after(seconds);
    int rc;
    while ((rc = cmp_ring_space_wait(r, len, &d)) == EINTR)
        ;
    return rc;
}


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

    /* A bounded ring: puts stop at maxsize records, with cells to spare. */
    r = new_ring(SMALL_SLOTS, 3, &off);
    for (uint32_t i = 0; i < 3; i++) {
        CHECK(cmp_ring_items_try(r));
        fill(buf, 100, i);
        CHECK(put(r, buf, 100, 0) == 0);
    }
    CHECK(!cmp_ring_items_try(r));
    CHECK(cmp_ring_items(r) == 3);
    CHECK(put(r, buf, 100, 0) == EAGAIN);
    cmp_deadline d = cmp_deadline_after(0.05);
    while ((rc = cmp_ring_items_wait(r, &d)) == EINTR)
        ;
    CHECK(rc == ETIMEDOUT);
    CHECK(space_wait_until(r, 100, 0.05) == ETIMEDOUT);
    take_expect(r, 100, 0, 0);
    CHECK(cmp_ring_items_try(r));
    CHECK(space_wait_until(r, 100, 0.05) == 0);
    for (uint32_t i = 1; i < 3; i++)
        take_expect(r, 100, i, 0);
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

/* ---- control words by hand -------------------------------------------------
 *
 * ring.h's layout: the control words follow the header, the cells follow
 * the words; a busy word is state (3 bits) | pid (22) | seq (19) | stamp
 * (9) | k (11); a record's cells hold {len, flags | tag << 8} and then its
 * payload. */

static uint64_t *ctl_words(cmp_ring *r)
{
    return (uint64_t *)(r + 1);
}

static uint64_t hand_word(uint64_t st, uint32_t pid, uint32_t stamp, uint64_t pos,
                          uint32_t k)
{
    return st << RING_ST_SHIFT | (uint64_t)(pid & 0x3fffffu) << 39 |
           (pos & 0x7ffffull) << 20 | (uint64_t)(stamp & 0x1ffu) << 11 | k;
}

/* Claim the `k` cells at `pos` for (pid, stamp) as try_put's CAS does,
 * and stop there: tail is not advanced, nothing is written. */
static void hand_claim(cmp_ring *r, uint64_t pos, uint32_t k, uint32_t pid, uint32_t stamp)
{
    uint64_t *ctl = ctl_words(r);
    uint64_t mask = r->nslots - 1;
    CHECK(ctl[pos & mask] == (pos & ((1ull << RING_ST_SHIFT) - 1)));   /* FREE(pos) */
    for (uint32_t i = 1; i < k; i++)
        __atomic_store_n(&ctl[(pos + i) & mask], hand_word(RING_BODY, pid, stamp, pos, i),
                         __ATOMIC_RELEASE);
    __atomic_store_n(&ctl[pos & mask], hand_word(RING_CLAIMED, pid, stamp, pos, k),
                     __ATOMIC_RELEASE);
}

/* Write message `i` of `len` bytes into the record claimed at `pos` (not
 * wrapping) and publish it, as the stalled producer would. */
static void hand_publish(cmp_ring *r, uint64_t pos, uint32_t len, uint32_t i, uint32_t tag)
{
    uint64_t *ctl = ctl_words(r);
    uint64_t mask = r->nslots - 1;
    char *cell = (char *)(ctl + r->nslots) + (pos & mask) * CMP_RING_CELL;
    uint32_t hdr[2] = {len, tag << RING_TAG_SHIFT};
    CHECK((pos & mask) * CMP_RING_CELL + CMP_RING_HDR + len <= r->nslots * CMP_RING_CELL);
    memcpy(cell, hdr, sizeof hdr);
    fill(cell + CMP_RING_HDR, len, i);
    uint64_t w = ctl[pos & mask];
    CHECK(w >> RING_ST_SHIFT == RING_CLAIMED);
    __atomic_store_n(&ctl[pos & mask], (w & ~(7ull << RING_ST_SHIFT)) |
                                           RING_PUBLISHED << RING_ST_SHIFT,
                     __ATOMIC_RELEASE);
}

/* Replace the stamp bits of the busy word at `pos`. */
static void hand_restamp(cmp_ring *r, uint64_t pos, uint32_t stamp)
{
    uint64_t *ctl = ctl_words(r);
    uint64_t mask = r->nslots - 1;
    uint64_t w = ctl[pos & mask];
    w = (w & ~(0x1ffull << 11)) | (uint64_t)(stamp & 0x1ffu) << 11;
    __atomic_store_n(&ctl[pos & mask], w, __ATOMIC_RELEASE);
}

/* ---- helping: a producer and a consumer stalled mid-claim ------------------ */

static void test_helping(void)
{
    uint64_t off;
    cmp_ring *r = new_ring(SMALL_SLOTS, CMP_RING_UNBOUNDED, &off);
    const cmp_self_ids *me = cmp_self_proc();
    char buf[100];
    cmp_ring_rec rec;
    /* A live producer (this process, its true stamp) claimed two cells
     * at tail and stalls before it counts the record and advances tail. */
    hand_claim(r, 0, 2, me->id, me->start);
    CHECK(r->tail == 0);
    /* The next producer finds the claim at tail, helps tail past it, and
     * puts its own record behind. */
    fill(buf, 100, 1);
    CHECK(put(r, buf, 100, 5) == 0);
    CHECK(r->tail == 4);
    /* Consumers wait for the stalled one (alive: not reaped) and do not
     * skip it. */
    CHECK(cmp_ring_try_take(r, &rec) == EBUSY);
    cmp_ring_reap_dead_writer(r);
    CHECK(cmp_ring_try_take(r, &rec) == EBUSY);
    CHECK(!cmp_ring_has_data(r));
    /* It goes on: both arrive, in order. */
    hand_publish(r, 0, 100, 0, 5);
    CHECK(cmp_ring_has_data(r));
    take_expect(r, 100, 0, 5);
    take_expect(r, 100, 1, 5);

    /* A consumer claimed (READING) the record at head and stalls before it
     * advances head: head put back by hand to where it claimed. */
    for (uint32_t i = 2; i < 5; i++) {
        fill(buf, 100, i);
        CHECK(put(r, buf, 100, 6) == 0);
    }
    cmp_ring_rec stalled;
    CHECK(cmp_ring_try_take(r, &stalled) == 0);
    CHECK(r->head == stalled.pos + stalled.k);
    __atomic_store_n(&r->head, stalled.pos, __ATOMIC_RELEASE);
    /* has_data helps head past it, and so does the next take. */
    CHECK(cmp_ring_has_data(r));
    CHECK(r->head == stalled.pos + stalled.k);
    __atomic_store_n(&r->head, stalled.pos, __ATOMIC_RELEASE);
    take_expect(r, 100, 3, 6);
    static char got[100], want[100];
    CHECK(copy_out(&stalled, got, sizeof got) == 100);
    fill(want, 100, 2);
    CHECK(memcmp(got, want, 100) == 0);
    cmp_ring_release(r, &stalled);
    take_expect(r, 100, 4, 6);
    CHECK(cmp_ring_items(r) == 0);
    CHECK(cmp_ring_try_take(r, &rec) == EAGAIN);
    /* Laps later, nothing is left of either. */
    for (uint32_t i = 0; i < 200; i++) {
        fill(buf, 100, i);
        CHECK(put(r, buf, 100, 0) == 0);
        take_expect(r, 100, i, 0);
    }
    drop_ring(r, off);
    puts("ok ring helping: tail and head helped past a stalled producer and consumer");
}

/* ---- a dead owner's pid given to a live process ---------------------------- */

/* Field 22 of /proc/PID/stat: the start time in clock ticks. */
static uint32_t start_ticks(pid_t pid)
{
    char path[64], text[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    char *p = strrchr(text, ')');
    CHECK(p != NULL);
    unsigned long long start = 0;
    /* after ")": state is field 3, start time field 22 */
    CHECK(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d "
                        "%*d %*d %*d %*d %llu", &start) == 1);
    return (uint32_t)start;
}

static void test_pid_reused(void)
{
    /* The live process that has the dead owner's pid now. */
    int gate[2];
    CHECK(pipe(gate) == 0);
    pid_t live = fork();
    CHECK(live >= 0);
    if (live == 0) {
        char c;
        close(gate[1]);
        while (read(gate[0], &c, 1) < 0 && errno == EINTR)
            ;
        _exit(0);
    }
    close(gate[0]);
    uint32_t stamp = start_ticks(live);
    uint32_t dead_stamp = stamp + 1;        /* another start time: the first owner */
    uint64_t off;
    cmp_ring_rec rec;
    char buf[100];

    /* A producer dead in CLAIMED.  Named with the live process's own
     * stamp, the record is that process's and is left alone; with the
     * dead owner's stamp it is dropped, though the pid is alive. */
    cmp_ring *r = new_ring(SMALL_SLOTS, CMP_RING_UNBOUNDED, &off);
    hand_claim(r, 0, 2, (uint32_t)live, stamp);
    fill(buf, 100, 1);
    CHECK(put(r, buf, 100, 0) == 0);
    cmp_ring_reap_dead_writer(r);
    CHECK(cmp_ring_try_take(r, &rec) == EBUSY);
    CHECK(cmp_ring_items(r) == 2);
    hand_restamp(r, 0, dead_stamp);
    cmp_ring_reap_dead_writer(r);
    CHECK(cmp_ring_items(r) == 1);
    take_expect(r, 100, 1, 0);
    CHECK(cmp_ring_try_take(r, &rec) == EAGAIN);
    drop_ring(r, off);

    /* A consumer dead in READING, its cells in the way of tail: the same,
     * for the producers that wait for room. */
    r = new_ring(SMALL_SLOTS, CMP_RING_UNBOUNDED, &off);
    uint32_t n = fill_ring(r);
    cmp_ring_rec held;
    CHECK(cmp_ring_try_take(r, &held) == 0);
    uint64_t *ctl = ctl_words(r);
    ctl[held.pos & (r->nslots - 1)] =
        hand_word(RING_READING, (uint32_t)live, stamp, held.pos, held.k);
    for (uint32_t i = 1; i < n; i++)
        take_expect(r, 100, i, 0);
    fill(buf, 100, n);
    CHECK(put(r, buf, 100, 0) == EAGAIN);
    /* Several naps end and look: the reader is alive, its cells stay. */
    CHECK(space_wait_until(r, 100, 0.3) == ETIMEDOUT);
    CHECK(put(r, buf, 100, 0) == EAGAIN);
    hand_restamp(r, held.pos, dead_stamp);
    CHECK(space_wait_until(r, 100, WAIT_SECONDS) == 0);
    CHECK(put(r, buf, 100, 0) == 0);
    take_expect(r, 100, n, 0);
    CHECK(cmp_ring_items(r) == 0);
    drop_ring(r, off);

    close(gate[1]);
    int status;
    CHECK(waitpid(live, &status, 0) == live);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    puts("ok ring pid reused: records of a dead owner whose pid lives again recovered");
}

/* ---- killed at every point of put and take -------------------------------- */

/* Fork a child that puts message `i` (or takes one: i == UINT32_MAX) and
 * is killed at RING_POINT `point`. */
static void die_at(cmp_ring *r, int point, uint32_t i)
{
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        char buf[100];
        kill_at = point;
        if (i == UINT32_MAX) {
            cmp_ring_rec rec;
            cmp_ring_try_take(r, &rec);
        } else {
            fill(buf, 100, i);
            put(r, buf, 100, 0);
        }
        _exit(3);                   /* never: killed at the point */
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

/* A bounded ring (maxsize 4) holds its full room again: 4 puts, a fifth
 * refused, 4 takes in order, for a few laps (a put that finds a dead
 * reader's cells at tail waits: its nap's end frees them); the count 0
 * after. */
static void check_room_back(cmp_ring *r, uint32_t first)
{
    char buf[100];
    for (uint32_t lap = 0; lap < 40; lap++) {
        for (uint32_t i = 0; i < 4; i++) {
            fill(buf, 100, first + i);
            while (put(r, buf, 100, 0) != 0)
                CHECK(space_wait_until(r, 100, WAIT_SECONDS) == 0);
        }
        CHECK(cmp_ring_items(r) == 4);
        CHECK(put(r, buf, 100, 0) == EAGAIN);
        for (uint32_t i = 0; i < 4; i++)
            take_expect(r, 100, first + i, 0);
        CHECK(cmp_ring_items(r) == 0);
    }
}

static void test_killed_at_every_point(void)
{
    char buf[100];
    cmp_ring_rec rec;
    int puts_lost = 0, takes_lost = 0;
    /* A producer, at each point of put; then (helped) another producer
     * comes by before any consumer, or (alone) none does. */
    for (int point = 1; point <= 5; point++) {
        for (int helped = 0; helped < 2; helped++) {
            uint64_t off;
            cmp_ring *r = new_ring(SMALL_SLOTS, 4, &off);
            for (uint32_t i = 0; i < 2; i++) {
                fill(buf, 100, i);
                CHECK(put(r, buf, 100, 0) == 0);
            }
            die_at(r, point, 2);
            if (helped) {
                fill(buf, 100, 3);
                CHECK(put(r, buf, 100, 0) == 0);
                CHECK(cmp_ring_items(r) == 4);      /* the dead one's too */
            }
            take_expect(r, 100, 0, 0);
            take_expect(r, 100, 1, 0);
            if (point < 5) {
                /* Never published: a consumer finds it at head, its
                 * writer dead, and drops it. */
                CHECK(cmp_ring_try_take(r, &rec) == EBUSY);
                cmp_ring_reap_dead_writer(r);
                puts_lost++;
            } else {
                take_expect(r, 100, 2, 0);
            }
            if (helped)
                take_expect(r, 100, 3, 0);
            CHECK(cmp_ring_items(r) == 0);
            CHECK(cmp_ring_try_take(r, &rec) == EAGAIN);
            CHECK(r->head == r->tail);
            check_room_back(r, 10);
            drop_ring(r, off);
        }
    }
    /* A consumer, at each point of take, holding message 0; then
     * (helped) another consumer comes by, or (alone) only producers do,
     * which come round to its cells (an unbounded ring, filled). */
    for (int point = 11; point <= 13; point++) {
        uint64_t off;
        cmp_ring *r = new_ring(SMALL_SLOTS, 4, &off);
        for (uint32_t i = 0; i < 3; i++) {
            fill(buf, 100, i);
            CHECK(put(r, buf, 100, 0) == 0);
        }
        die_at(r, point, UINT32_MAX);
        takes_lost++;
        take_expect(r, 100, 1, 0);
        take_expect(r, 100, 2, 0);
        CHECK(cmp_ring_items(r) == 0);
        check_room_back(r, 10);     /* laps: tail passes its cells too */
        drop_ring(r, off);

        r = new_ring(SMALL_SLOTS, CMP_RING_UNBOUNDED, &off);
        fill(buf, 100, 0);
        CHECK(put(r, buf, 100, 0) == 0);
        die_at(r, point, UINT32_MAX);
        takes_lost++;
        CHECK(cmp_ring_items(r) == (point == 11 ? 1u : 0u));    /* not counted yet */
        uint32_t n = 0;
        for (;; n++) {
            fill(buf, 100, 1 + n);
            if (put(r, buf, 100, 0) == EAGAIN)
                break;
        }
        CHECK(n == SMALL_SLOTS / 2 - 1);    /* the dead reader's cells in the way */
        CHECK(space_wait_until(r, 100, WAIT_SECONDS) == 0);
        CHECK(cmp_ring_items(r) == n);
        CHECK(put(r, buf, 100, 0) == 0);
        for (uint32_t i = 1; i <= n + 1; i++)
            take_expect(r, 100, i, 0);
        CHECK(cmp_ring_items(r) == 0);
        CHECK(r->head == r->tail);
        drop_ring(r, off);
    }
    printf("ok ring killed at every point: put (5 points, %d messages lost), take (3 "
           "points, %d lost), the count and a bounded ring's room back each time\n",
           puts_lost, takes_lost);
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
    test_helping();
    test_pid_reused();
    test_killed_at_every_point();
    CHECK(blocks_in_use() == start);
    cmp_arena_destroy(arena);
    puts("all passed");
    return 0;
}
