/* ring.c - the message ring's claim, publish, take and release paths, its
 * waits and its recovery from killed processes (layout and states: ring.h). */
#define _GNU_SOURCE
#include "ring.h"

#include <sched.h>
#include <string.h>

#include "owner.h"
#include "spin.h"

_Static_assert(sizeof(cmp_ring) == 320, "ring header is five cache lines");

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

/* ---- item count -------------------------------------------------------- */

int cmp_ring_items_try(cmp_ring *r)
{
    if (r->maxsize == CMP_RING_UNBOUNDED) {
        /* Relaxed: a counter for qsize; no data is published by it. */
        __atomic_fetch_add(&r->items, 1, __ATOMIC_RELAXED);
        return 1;
    }
    uint32_t c = __atomic_load_n(&r->items, __ATOMIC_RELAXED);
    do {
        if (c >= r->maxsize)
            return 0;
        /* Relaxed: the reservation orders nothing else; the data goes
         * through the cells. */
    } while (!__atomic_compare_exchange_n(&r->items, &c, c + 1, 1,
                                          __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    return 1;
}

void cmp_ring_items_undo(cmp_ring *r)
{
    /* Relaxed: see items_try; the wake below has its own fence. */
    __atomic_fetch_sub(&r->items, 1, __ATOMIC_RELAXED);
    notify_space(r);
}

uint32_t cmp_ring_items(const cmp_ring *r)
{
    /* Relaxed: an instantaneous reading, stale by nature. */
    return __atomic_load_n(&r->items, __ATOMIC_RELAXED);
}

int cmp_ring_items_wait(cmp_ring *r, const cmp_deadline *d)
{
    int rc;
    __atomic_fetch_add(&r->space_waiters, 1, __ATOMIC_SEQ_CST);
    for (;;) {
        want_space(r, 0);       /* every lowered count matters */
        uint32_t seen = __atomic_load_n(&r->space_seq, __ATOMIC_ACQUIRE);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (__atomic_load_n(&r->items, __ATOMIC_RELAXED) < r->maxsize) {
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
            if (i < k) {
                if (__atomic_load_n(&r->tail, __ATOMIC_ACQUIRE) != pos)
                    continue;
                return EAGAIN;
            }
            /* Acquire: the previous lap's readers are done with the cell. */
            if (!__atomic_compare_exchange_n(&ctl[pos & mask], &w,
                                             busy_word(RING_CLAIMED, me, pos, k), 0,
                                             __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
                continue;
            advance(&r->tail, pos, pos + k);
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
            /* Release: the bytes before the state. */
            __atomic_store_n(&ctl[pos & mask], busy_word(RING_PUBLISHED, me, pos, k),
                             __ATOMIC_RELEASE);
            notify(&r->data_seq, &r->data_waiters);
            return 0;
        }
        if (is_record_at(w, pos)) {
            advance(&r->tail, pos, pos + w_k(w));       /* help */
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
        /* Wake me when an eighth of the ring more than I need is free. */
        uint64_t tail = __atomic_load_n(&r->tail, __ATOMIC_RELAXED);  /* a hint */
        uint64_t ask = (uint64_t)k + r->nslots / 8;
        want_space(r, tail + ask > r->nslots ? tail + ask - r->nslots : 0);
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
                advance(&r->head, pos, pos + k);        /* help */
                continue;
            }
            if (w_state(w) != RING_PUBLISHED)
                return EBUSY;       /* CLAIMED: its producer is writing */
            /* Acquire: the producer's bytes are visible. */
            if (!__atomic_compare_exchange_n(&ctl[pos & mask], &w,
                                             busy_word(RING_READING, ring_me(), pos, k),
                                             0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
                continue;
            advance(&r->head, pos, pos + k);
            /* Relaxed: a scheduling hint for waiters (peer_elsewhere). */
            __atomic_store_n(&r->take_cpu, my_cpu(), __ATOMIC_RELAXED);
            /* Relaxed: a counter; see items_try. */
            __atomic_fetch_sub(&r->items, 1, __ATOMIC_RELAXED);
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
            advance(&r->head, pos, pos + w_k(w));
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
    if (!__atomic_compare_exchange_n(&ctl[pos & mask], &w,
                                     busy_word(RING_READING, ring_me(), pos, k), 0,
                                     __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        return;
    advance(&r->head, pos, pos + k);
    __atomic_fetch_sub(&r->items, 1, __ATOMIC_RELAXED);   /* counter: see items_try */
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
