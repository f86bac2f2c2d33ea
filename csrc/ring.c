/* ring.c - the message ring's claim, publish, take and release paths, its
 * waits and its recovery from killed processes (layout and states: ring.h). */
#define _GNU_SOURCE
#include "ring.h"

#include <sched.h>
#include <string.h>

#include "owner.h"
#include "spin.h"

_Static_assert(sizeof(cmp_ring) == 320, "ring header is five cache lines");

/* The points of put and take between their atomic steps, where a test
 * (csrc/tests/test_ring.c, which includes this file) kills the caller;
 * nothing in a build of cmp. */
#ifndef RING_POINT
#define RING_POINT(n) ((void)0)
#endif

/* The count words (ring.h, Counting): count (24 bits) | position (40). */
#define CNT_POS_BITS 40
#define CNT_POS_MASK ((1ull << CNT_POS_BITS) - 1)
#define CNT_MASK ((1ull << (64 - CNT_POS_BITS)) - 1)
_Static_assert(CMP_RING_MAX_SLOTS < CNT_MASK, "the count holds a full ring's records");

/* A busy control word, from the top: state (3 bits) | pid (22) | seq (19)
 * | stamp (9) | k (11). */
#define SEQ_BITS 19
#define SEQ_MASK ((1ull << SEQ_BITS) - 1)
#define K_BITS 11
#define K_MASK ((1ull << K_BITS) - 1)
#define STAMP_BITS 9
#define STAMP_MASK ((1ull << STAMP_BITS) - 1)
#define PID_MASK 0x3fffffull
#define POS_MASK ((1ull << RING_ST_SHIFT) - 1)
_Static_assert((CMP_RING_HDR + CMP_RING_INLINE_MAX + CMP_RING_CELL - 1) / CMP_RING_CELL <= K_MASK,
               "a record's cells fit in k");
_Static_assert(CMP_OWNER_ID_BITS == 22, "a pid fits in PID_MASK");

static inline uint64_t *ctl_of(cmp_ring *r) { return (uint64_t *)(r + 1); }

static inline char *data_of(cmp_ring *r)
{
    return (char *)(ctl_of(r) + r->nslots);
}

static inline uint64_t free_word(uint64_t pos) { return pos & POS_MASK; }

/* Who claims a record: our pid and the low bits of our start time
 * (owner.h), as one value for busy_word. */
static inline uint64_t ring_me(void)
{
    const cmp_self_ids *me = cmp_self_proc();
    return (uint64_t)me->id | ((uint64_t)me->start & STAMP_MASK) << CMP_OWNER_ID_BITS;
}

static inline uint64_t busy_word(uint64_t st, uint64_t who, uint64_t pos, uint64_t k)
{
    return (st << RING_ST_SHIFT) | ((who & PID_MASK) << 39) | ((pos & SEQ_MASK) << 20) |
           (((who >> CMP_OWNER_ID_BITS) & STAMP_MASK) << K_BITS) | (k & K_MASK);
}

static inline uint64_t w_state(uint64_t w) { return w >> RING_ST_SHIFT; }
static inline uint32_t w_pid(uint64_t w) { return (uint32_t)((w >> 39) & PID_MASK); }
static inline uint32_t w_stamp(uint64_t w) { return (uint32_t)((w >> K_BITS) & STAMP_MASK); }

/* The process that claimed the record of word `w` still lives (the same
 * process: its pid and its start time's low bits, owner.h). */
static inline int w_alive(uint64_t w)
{
    return cmp_task_alive(w_pid(w), w_stamp(w), STAMP_BITS);
}
static inline uint64_t w_seq(uint64_t w) { return (w >> 20) & SEQ_MASK; }
static inline uint32_t w_k(uint64_t w) { return (uint32_t)(w & K_MASK); }

/* The first cell of a record of this lap at `pos`? */
static inline int is_record_at(uint64_t w, uint64_t pos)
{
    uint64_t st = w_state(w);
    return st != RING_FREE && st != RING_BODY && w_seq(w) == (pos & SEQ_MASK);
}

static inline uint64_t inline_max(const cmp_ring *r)
{
    uint64_t m = (uint64_t)r->nslots * CMP_RING_CELL / 8;
    return m < CMP_RING_INLINE_MAX ? m : CMP_RING_INLINE_MAX;
}

static inline uint32_t cells_for(uint32_t len, uint64_t oob)
{
    uint64_t bytes = CMP_RING_HDR + (oob ? 8 : (uint64_t)len);
    return (uint32_t)((bytes + CMP_RING_CELL - 1) / CMP_RING_CELL);
}

uint32_t cmp_ring_slots(uint64_t want)
{
    uint32_t n = CMP_RING_MIN_SLOTS;
    while (n < want && n < CMP_RING_MAX_SLOTS)
        n <<= 1;
    return n;
}

uint64_t cmp_ring_size(uint32_t nslots)
{
    return sizeof(cmp_ring) + (uint64_t)nslots * (8 + CMP_RING_CELL);
}

void cmp_ring_init(cmp_ring *r, uint32_t nslots, uint32_t maxsize)
{
    r->nslots = nslots;
    r->maxsize = maxsize;
    r->sel.fd_pid = 0;
    r->sel.rfd = r->sel.wfd = -1;
    r->space_want = UINT64_MAX;
    uint64_t *ctl = ctl_of(r);
    for (uint32_t i = 0; i < nslots; i++)
        ctl[i] = free_word(i);
    /* Release: the cells are FREE before anyone sees the object (the
     * arena publishes refs with release after this). */
    __atomic_thread_fence(__ATOMIC_RELEASE);
}

/* Bytes of the record at `pos` (k cells): copy `n` bytes at `off` into the
 * record, wrapping at the end of the data array. */
static void ring_write(cmp_ring *r, uint64_t pos, uint64_t off, const void *src, size_t n)
{
    uint64_t total = (uint64_t)r->nslots * CMP_RING_CELL;
    uint64_t at = ((pos & (r->nslots - 1)) * CMP_RING_CELL + off) % total;
    size_t first = n < total - at ? n : (size_t)(total - at);
    memcpy(data_of(r) + at, src, first);
    if (first < n)
        memcpy(data_of(r), (const char *)src + first, n - first);
}

static void ring_read_at(cmp_ring *r, uint64_t pos, uint64_t off, size_t n,
                         const char **p1, size_t *n1, const char **p2, size_t *n2)
{
    uint64_t total = (uint64_t)r->nslots * CMP_RING_CELL;
    uint64_t at = ((pos & (r->nslots - 1)) * CMP_RING_CELL + off) % total;
    size_t first = n < total - at ? n : (size_t)(total - at);
    *p1 = data_of(r) + at;
    *n1 = first;
    *p2 = data_of(r);
    *n2 = n - first;
}

/* ---- waking ------------------------------------------------------------ */

static void notify(uint32_t *seq, uint32_t *waiters)
{
    /* SeqCst fence: our publish (or release) above and the load of the
     * waiter count below must not pass each other, against the waiter's
     * increment-then-recheck (ring.h's Dekker pair). */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    /* Relaxed: ordered by the fence. */
    if (__atomic_load_n(waiters, __ATOMIC_RELAXED)) {
        __atomic_fetch_add(seq, 1, __ATOMIC_RELEASE);
        futex_wake_all(seq);
    }
}

/* After cells were freed or the count lowered: wake space waiters once
 * head has reached what they asked for. */
static void notify_space(cmp_ring *r)
{
    /* SeqCst fence: as in notify(), against the waiter's registration. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    /* Relaxed loads: ordered by the fence. */
    if (!__atomic_load_n(&r->space_waiters, __ATOMIC_RELAXED))
        return;
    uint64_t want = __atomic_load_n(&r->space_want, __ATOMIC_RELAXED);
    if (__atomic_load_n(&r->head, __ATOMIC_RELAXED) < want)
        return;
    /* Relaxed: woken waiters ask again (lowering it) before they sleep. */
    __atomic_store_n(&r->space_want, UINT64_MAX, __ATOMIC_RELAXED);
    __atomic_fetch_add(&r->space_seq, 1, __ATOMIC_RELEASE);
    futex_wake_all(&r->space_seq);
}

/* Ask to be woken once head reaches `want` (the lowest request wins). */
static void want_space(cmp_ring *r, uint64_t want)
{
    uint64_t cur = __atomic_load_n(&r->space_want, __ATOMIC_RELAXED);
    /* SeqCst: the store is the waiter's half of the Dekker pair. */
    while (want < cur && !__atomic_compare_exchange_n(&r->space_want, &cur, want, 1,
                                                      __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
        ;
}

static inline uint32_t my_cpu(void)
{
    int c = sched_getcpu();     /* vDSO/rseq: no system call */
    return c < 0 ? 0 : (uint32_t)c + 1;
}

/* Worth spinning: the peer we wait for did not last run on our own CPU
 * (spinning would only keep it from running). */
static int peer_elsewhere(const uint32_t *peer_cpu)
{
    /* Relaxed: a scheduling hint. */
    uint32_t peer = __atomic_load_n(peer_cpu, __ATOMIC_RELAXED);
    return peer == 0 || peer != my_cpu();
}

int cmp_ring_producer_elsewhere(const cmp_ring *r)
{
    return peer_elsewhere(&r->put_cpu);
}

/* ---- cells ------------------------------------------------------------- */

static void free_cells(cmp_ring *r, uint64_t pos, uint32_t k)
{
    uint64_t *ctl = ctl_of(r);
    uint64_t mask = r->nslots - 1;
    /* Release: our reads of the cells happen before a producer's writes
     * (it loads each word with acquire).  The first cell goes last. */
    for (uint32_t i = 1; i < k; i++)
        __atomic_store_n(&ctl[(pos + i) & mask], free_word(pos + i + r->nslots),
                         __ATOMIC_RELEASE);
    __atomic_store_n(&ctl[pos & mask], free_word(pos + r->nslots), __ATOMIC_RELEASE);
}

static void advance(uint64_t *word, uint64_t from, uint64_t to)
{
    /* Release/relaxed: the position is a hint; each cell's word carries its
     * own synchronisation.  Failure means someone advanced it already. */
    __atomic_compare_exchange_n(word, &from, to, 0, __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}

/* Count the record of `k` cells at `pos` in `word` (puts or takes), unless
 * it is counted already: the word moves from pos to pos + k in one
 * compare-exchange, so of all who try (its claimer and its helpers) one
 * counts it, once.  A word at another position has counted the record
 * (or a record 2^40 cells away: a helper would have to stall for 64 TiB
 * of traffic to be fooled). */
static void count_record(uint64_t *word, uint64_t pos, uint32_t k)
{
    /* Relaxed: the count and position are one word; ordering against tail
     * and head comes from their release advance, which follows this. */
    uint64_t w = __atomic_load_n(word, __ATOMIC_RELAXED);
    if ((w & CNT_POS_MASK) != (pos & CNT_POS_MASK))
        return;
    uint64_t next = ((w & ~CNT_POS_MASK) + (1ull << CNT_POS_BITS)) | ((pos + k) & CNT_POS_MASK);
    __atomic_compare_exchange_n(word, &w, next, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

/* Count the record at pos, then move tail (or head) past it. */
static void pass_tail(cmp_ring *r, uint64_t pos, uint32_t k)
{
    count_record(&r->puts, pos, k);
    advance(&r->tail, pos, pos + k);
}

static void pass_head(cmp_ring *r, uint64_t pos, uint32_t k)
{
    count_record(&r->takes, pos, k);
    advance(&r->head, pos, pos + k);
}

/* Records put and not yet taken.  takes first (acquire: before puts), so
 * that puts is as late: never below it. */
static uint32_t in_ring(const cmp_ring *r)
{
    uint64_t t = __atomic_load_n(&r->takes, __ATOMIC_ACQUIRE);
    uint64_t p = __atomic_load_n(&r->puts, __ATOMIC_RELAXED);
    return (uint32_t)(((p >> CNT_POS_BITS) - (t >> CNT_POS_BITS)) & CNT_MASK);
}

/* ---- item count -------------------------------------------------------- */

int cmp_ring_items_try(cmp_ring *r)
{
    return r->maxsize == CMP_RING_UNBOUNDED || in_ring(r) < r->maxsize;
}

void cmp_ring_spilled(cmp_ring *r, int delta)
{
    /* Relaxed: a counter for qsize; the messages are in a process's own
     * buffer, not here. */
    __atomic_fetch_add(&r->spilled, (uint32_t)delta, __ATOMIC_RELAXED);
}

uint32_t cmp_ring_items(const cmp_ring *r)
{
    /* An instantaneous reading, stale by nature: spilled is relaxed, and
     * may be read just before a feeder's +1 that follows its push. */
    int64_t n = (int64_t)in_ring(r) +
                (int32_t)__atomic_load_n(&r->spilled, __ATOMIC_RELAXED);
    if (n < 0)
        return 0;
    if (r->maxsize != CMP_RING_UNBOUNDED && n > r->maxsize)
        return r->maxsize;      /* takes read before puts: a late reading */
    return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

int cmp_ring_items_wait(cmp_ring *r, const cmp_deadline *d)
{
    int rc;
    __atomic_fetch_add(&r->space_waiters, 1, __ATOMIC_SEQ_CST);
    for (;;) {
        want_space(r, 0);       /* every lowered count matters */
        uint32_t seen = __atomic_load_n(&r->space_seq, __ATOMIC_ACQUIRE);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (in_ring(r) < r->maxsize) {
            rc = 0;
            break;
        }
        /* 0: look again; EINTR also after a nap ended (spin.h, step 4:
         * a killed consumer never woke us, and the caller looks again). */
        rc = cmp_futex_nap(&r->space_seq, seen, d);
        if (rc)
            break;
    }
    __atomic_fetch_sub(&r->space_waiters, 1, __ATOMIC_RELAXED);
    return rc;
}

/* ---- producing --------------------------------------------------------- */

/* What a producer killed at each point of try_put costs (the points are
 * RING_POINT's numbers; before 1 it has touched nothing):
 *   1  claimed, not counted, tail not moved: the next producer counts the
 *      record and moves tail past it (helping); a consumer that finds it
 *      CLAIMED at head with its claimer dead does the same, then drops it
 *      and counts it taken: the message is lost, the counts are right;
 *   2  counted, tail not moved: the same, but for the count;
 *   3, 4  tail moved (and bytes written, in part or whole): the record is
 *      dropped as in 1;
 *   5  published: the message goes through; only the wake-up of a
 *      sleeping consumer is lost, whose nap ends within
 *      CMP_LIVENESS_INTERVAL. */
int cmp_ring_try_put(cmp_ring *r, const void *data, uint32_t len, uint64_t oob,
                     uint32_t tag)
{
    uint64_t *ctl = ctl_of(r);
    uint64_t mask = r->nslots - 1;
    uint32_t k = cells_for(len, oob);
    uint64_t me = ring_me();
    for (;;) {
        uint64_t pos = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
        uint64_t w = __atomic_load_n(&ctl[pos & mask], __ATOMIC_ACQUIRE);
        if (w == free_word(pos)) {
            uint32_t i = 1;
            while (i < k && __atomic_load_n(&ctl[(pos + i) & mask], __ATOMIC_ACQUIRE) ==
                                free_word(pos + i))
                i++;
            if (i < k || (r->maxsize != CMP_RING_UNBOUNDED && in_ring(r) >= r->maxsize)) {
                if (__atomic_load_n(&r->tail, __ATOMIC_ACQUIRE) != pos)
                    continue;
                return EAGAIN;      /* no cells, or maxsize records */
            }
            /* Acquire: the previous lap's readers are done with the cell.
             * The claim is also the bounded ring's reservation: every
             * record before pos is counted (tail moves only after its
             * count), and in_ring above read takes no later than now. */
            if (!__atomic_compare_exchange_n(&ctl[pos & mask], &w,
                                             busy_word(RING_CLAIMED, me, pos, k), 0,
                                             __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
                continue;
            RING_POINT(1);
            count_record(&r->puts, pos, k);
            RING_POINT(2);
            advance(&r->tail, pos, pos + k);
            RING_POINT(3);
            /* Relaxed: a scheduling hint for waiters (peer_elsewhere). */
            __atomic_store_n(&r->put_cpu, my_cpu(), __ATOMIC_RELAXED);
            /* Relaxed: BODY words are only read to find a dead reader's
             * first cell, which is then checked with acquire. */
            for (i = 1; i < k; i++)
                __atomic_store_n(&ctl[(pos + i) & mask], busy_word(RING_BODY, me, pos, i),
                                 __ATOMIC_RELAXED);
            uint32_t hdr[2] = {len, (oob ? RING_OOB : 0u) | (tag & 0xffu) << RING_TAG_SHIFT};
            ring_write(r, pos, 0, hdr, sizeof hdr);
            if (oob)
                ring_write(r, pos, CMP_RING_HDR, &oob, sizeof oob);
            else
                ring_write(r, pos, CMP_RING_HDR, data, len);
            RING_POINT(4);
            /* Release: the bytes before the state. */
            __atomic_store_n(&ctl[pos & mask], busy_word(RING_PUBLISHED, me, pos, k),
                             __ATOMIC_RELEASE);
            RING_POINT(5);
            notify(&r->data_seq, &r->data_waiters);
            return 0;
        }
        if (is_record_at(w, pos)) {
            pass_tail(r, pos, w_k(w));      /* help */
            continue;
        }
        if (__atomic_load_n(&r->tail, __ATOMIC_ACQUIRE) != pos)
            continue;
        return EAGAIN;      /* the previous lap still holds the cell */
    }
}

/* 1 when a record of `k` cells would fit at tail now (or tail moved). */
static int room_for(cmp_ring *r, uint32_t k)
{
    if (r->maxsize != CMP_RING_UNBOUNDED && in_ring(r) >= r->maxsize)
        return 0;
    uint64_t *ctl = ctl_of(r);
    uint64_t mask = r->nslots - 1;
    uint64_t pos = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
    for (uint32_t i = 0; i < k; i++) {
        uint64_t w = __atomic_load_n(&ctl[(pos + i) & mask], __ATOMIC_ACQUIRE);
        if (w != free_word(pos + i))
            return i == 0 && is_record_at(w, pos);
    }
    return 1;
}

/* Take over and free a record whose reader died (from a producer blocked
 * on one of its cells). */
static void reap_dead_readers(cmp_ring *r, uint32_t k)
{
    uint64_t *ctl = ctl_of(r);
    uint64_t mask = r->nslots - 1;
    uint64_t pos = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
    for (uint32_t i = 0; i < k; i++) {
        uint64_t c = pos + i;
        uint64_t w = __atomic_load_n(&ctl[c & mask], __ATOMIC_ACQUIRE);
        if (w == free_word(c))
            continue;
        uint64_t first = c;
        if (w_state(w) == RING_BODY) {
            first = c - w_k(w);
            w = __atomic_load_n(&ctl[first & mask], __ATOMIC_ACQUIRE);
        }
        if (w_state(w) != RING_READING || w_alive(w))
            continue;
        /* The record started at a position whose low bits are in w. */
        uint64_t fpos = (first & ~SEQ_MASK) | w_seq(w);
        if (fpos > first)
            fpos -= SEQ_MASK + 1;
        uint64_t mine = busy_word(RING_READING, ring_me(), fpos, w_k(w));
        /* Acquire: the dead reader's writes are ours before we free. */
        if (__atomic_compare_exchange_n(&ctl[fpos & mask], &w, mine, 0,
                                        __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
            /* The reader may have died before it counted the record or
             * moved head past it: both, before the cells are FREE (a
             * FREE cell at head would stop head there for good). */
            pass_head(r, fpos, w_k(w));
            free_cells(r, fpos, w_k(w));
            notify_space(r);
        }
    }
}

typedef struct {
    cmp_ring *r;
    uint32_t k;
} room_arg;

static int room_ready(void *p)
{
    room_arg *a = p;
    return room_for(a->r, a->k);
}

int cmp_ring_space_wait(cmp_ring *r, uint32_t len, const cmp_deadline *d)
{
    uint32_t k = cells_for(len, len > inline_max(r));
    int rc;
    uint64_t start;
    room_arg a = {r, k};
    if (cmp_spin_with(&r->space_spin, peer_elsewhere(&r->take_cpu), room_ready, &a, &start))
        return 0;
    __atomic_fetch_add(&r->space_waiters, 1, __ATOMIC_SEQ_CST);
    for (;;) {
        /* Wake me when an eighth of the ring more than I need is free;
         * a bounded ring: at every take (its count may be what stops us). */
        uint64_t tail = __atomic_load_n(&r->tail, __ATOMIC_RELAXED);  /* a hint */
        uint64_t ask = (uint64_t)k + r->nslots / 8;
        want_space(r, r->maxsize == CMP_RING_UNBOUNDED && tail + ask > r->nslots
                          ? tail + ask - r->nslots : 0);
        uint32_t seen = __atomic_load_n(&r->space_seq, __ATOMIC_ACQUIRE);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (room_for(r, k)) {
            cmp_spin_slept(&r->space_spin, start);
            rc = 0;
            break;
        }
        rc = cmp_futex_nap(&r->space_seq, seen, d);
        if (rc == EINTR) {
            /* A signal, or the nap ended: a reader killed on our cells
             * never frees them; then back to the binding (spin.h). */
            reap_dead_readers(r, k);
            break;
        }
        if (rc)
            break;
    }
    __atomic_fetch_sub(&r->space_waiters, 1, __ATOMIC_RELAXED);
    return rc;
}

/* ---- consuming --------------------------------------------------------- */

/* What a consumer killed at each point of try_take costs (RING_POINT's
 * numbers; before 11 it has touched nothing):
 *   11  READING, not counted, head not moved: the next consumer counts it
 *      taken and moves head past it (helping); a producer blocked on its
 *      cells finds the reader dead, does the same and frees them: the
 *      message is lost (it was in the dead one's hands), the counts are
 *      right;
 *   12  counted, head not moved: the same, but for the count;
 *   13  head moved: the cells are freed as in 11.
 * After try_take returns, only cmp_ring_release is left: a death before
 * it costs the same as 13. */
int cmp_ring_try_take(cmp_ring *r, cmp_ring_rec *rec)
{
    uint64_t *ctl = ctl_of(r);
    uint64_t mask = r->nslots - 1;
    for (;;) {
        uint64_t pos = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
        uint64_t w = __atomic_load_n(&ctl[pos & mask], __ATOMIC_ACQUIRE);
        if (is_record_at(w, pos)) {
            uint32_t k = w_k(w);
            if (w_state(w) == RING_READING) {
                pass_head(r, pos, k);       /* help */
                continue;
            }
            if (w_state(w) != RING_PUBLISHED)
                return EBUSY;       /* CLAIMED: its producer is writing */
            /* Acquire: the producer's bytes are visible. */
            if (!__atomic_compare_exchange_n(&ctl[pos & mask], &w,
                                             busy_word(RING_READING, ring_me(), pos, k),
                                             0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
                continue;
            RING_POINT(11);
            count_record(&r->takes, pos, k);
            RING_POINT(12);
            advance(&r->head, pos, pos + k);
            RING_POINT(13);
            /* Relaxed: a scheduling hint for waiters (peer_elsewhere). */
            __atomic_store_n(&r->take_cpu, my_cpu(), __ATOMIC_RELAXED);
            const char *p1, *p2;
            size_t n1, n2;
            uint32_t hdr[2];
            ring_read_at(r, pos, 0, sizeof hdr, &p1, &n1, &p2, &n2);
            memcpy(hdr, p1, n1);
            memcpy((char *)hdr + n1, p2, n2);
            rec->pos = pos;
            rec->k = k;
            rec->len = hdr[0];
            rec->tag = (hdr[1] >> RING_TAG_SHIFT) & 0xffu;
            rec->oob = 0;
            if (hdr[1] & RING_OOB) {
                uint64_t off;
                ring_read_at(r, pos, CMP_RING_HDR, sizeof off, &p1, &n1, &p2, &n2);
                memcpy(&off, p1, n1);
                memcpy((char *)&off + n1, p2, n2);
                rec->oob = off;
                rec->p1 = rec->p2 = NULL;
                rec->n1 = rec->n2 = 0;
            } else {
                ring_read_at(r, pos, CMP_RING_HDR, hdr[0], &rec->p1, &rec->n1,
                             &rec->p2, &rec->n2);
            }
            return 0;
        }
        if (__atomic_load_n(&r->head, __ATOMIC_ACQUIRE) != pos)
            continue;
        return EAGAIN;
    }
}

void cmp_ring_release(cmp_ring *r, const cmp_ring_rec *rec)
{
    free_cells(r, rec->pos, rec->k);
    notify_space(r);
}

/* 1: a record is published at head.  Helps head past taken records. */
int cmp_ring_has_data(cmp_ring *r)
{
    uint64_t *ctl = ctl_of(r);
    uint64_t mask = r->nslots - 1;
    for (;;) {
        uint64_t pos = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
        uint64_t w = __atomic_load_n(&ctl[pos & mask], __ATOMIC_ACQUIRE);
        if (!is_record_at(w, pos))
            return 0;
        if (w_state(w) == RING_READING) {
            pass_head(r, pos, w_k(w));
            continue;
        }
        return w_state(w) == RING_PUBLISHED;
    }
}

/* Drop the record at head if its producer died while writing it. */
void cmp_ring_reap_dead_writer(cmp_ring *r)
{
    uint64_t *ctl = ctl_of(r);
    uint64_t mask = r->nslots - 1;
    uint64_t pos = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
    uint64_t w = __atomic_load_n(&ctl[pos & mask], __ATOMIC_ACQUIRE);
    if (!is_record_at(w, pos) || w_state(w) != RING_CLAIMED || w_alive(w))
        return;
    uint32_t k = w_k(w);
    /* It may have died before it counted the record or moved tail past
     * it: both first (taken before put would break the count; FREE cells
     * at tail would stop tail there for good). */
    pass_tail(r, pos, k);
    if (!__atomic_compare_exchange_n(&ctl[pos & mask], &w,
                                     busy_word(RING_READING, ring_me(), pos, k), 0,
                                     __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        return;
    pass_head(r, pos, k);
    free_cells(r, pos, k);
    notify_space(r);
}

static int data_ready(void *r)
{
    return cmp_ring_has_data(r);
}

int cmp_ring_data_wait(cmp_ring *r, const cmp_deadline *d)
{
    int rc;
    uint64_t start;
    if (cmp_spin_with(&r->data_spin, peer_elsewhere(&r->put_cpu), data_ready, r, &start))
        return 0;
    __atomic_fetch_add(&r->data_waiters, 1, __ATOMIC_SEQ_CST);
    for (;;) {
        uint32_t seen = __atomic_load_n(&r->data_seq, __ATOMIC_ACQUIRE);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (cmp_ring_has_data(r)) {
            cmp_spin_slept(&r->data_spin, start);
            rc = 0;
            break;
        }
        rc = cmp_futex_nap(&r->data_seq, seen, d);
        if (rc == EINTR) {
            /* A signal, or the nap ended: a writer killed at head never
             * publishes; then back to the binding (spin.h). */
            cmp_ring_reap_dead_writer(r);
            break;
        }
        if (rc)
            break;
    }
    __atomic_fetch_sub(&r->data_waiters, 1, __ATOMIC_RELAXED);
    return rc;
}

/* ---- unfinished tasks -------------------------------------------------- */

void cmp_ring_tasks_add(cmp_ring *r)
{
    /* Relaxed: a counter; join's waiters are woken only at zero. */
    __atomic_fetch_add(&r->tasks, 1, __ATOMIC_RELAXED);
}

int cmp_ring_tasks_done(cmp_ring *r)
{
    uint32_t t = __atomic_load_n(&r->tasks, __ATOMIC_RELAXED);
    do {
        if (t == 0)
            return ERANGE;
        /* Release: the task's work happens before join returns. */
    } while (!__atomic_compare_exchange_n(&r->tasks, &t, t - 1, 1,
                                          __ATOMIC_RELEASE, __ATOMIC_RELAXED));
    if (t == 1) {
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (__atomic_load_n(&r->tasks_waiters, __ATOMIC_RELAXED))  /* after the fence */
            futex_wake_all(&r->tasks);
    }
    return 0;
}

int cmp_ring_tasks_wait(cmp_ring *r, const cmp_deadline *d)
{
    int rc = 0;
    /* No spin: join waits for whole tasks, not for a peer's next step. */
    __atomic_fetch_add(&r->tasks_waiters, 1, __ATOMIC_SEQ_CST);
    for (;;) {
        uint32_t t = __atomic_load_n(&r->tasks, __ATOMIC_ACQUIRE);
        if (t == 0)
            break;
        rc = cmp_futex_nap(&r->tasks, t, d);     /* EINTR: spin.h, step 4 */
        if (rc)
            break;
    }
    __atomic_fetch_sub(&r->tasks_waiters, 1, __ATOMIC_RELAXED);
    return rc;
}

/* ---- teardown ---------------------------------------------------------- */

void cmp_ring_destroy(cmp_arena *a, cmp_ring *r)
{
    cmp_ring_rec rec;
    /* Nobody else holds the ring any more: take what is left, and drop a
     * record its writer (dead: it held no reference) never finished. */
    for (;;) {
        int got = cmp_ring_try_take(r, &rec);
        if (got == EBUSY) {
            /* Relaxed: nobody else moves head now. */
            uint64_t head = __atomic_load_n(&r->head, __ATOMIC_RELAXED);
            cmp_ring_reap_dead_writer(r);
            if (__atomic_load_n(&r->head, __ATOMIC_RELAXED) == head)
                break;
            continue;
        }
        if (got != 0)
            break;
        if (rec.oob)
            cmp_free(a, rec.oob);
        cmp_ring_release(r, &rec);
    }
}
