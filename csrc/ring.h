/*
 * ring.h - a lock-free multi-producer multi-consumer ring of variable-length
 * records in the shared arena (the core of cmp's Queue, SimpleQueue and
 * JoinableQueue, and of the Pool's channels).
 *
 * Shared layout (the body of a cmp object of kind CMP_KIND_QUEUE or
 * CMP_KIND_CHANNEL):
 *
 *   +0     cmp_ring header, one cache line per group of words that different
 *          parties write: configuration | tail, puts | head, takes |
 *          counts + futex words
 *          | the ring user's selectability (cmp_selectable, selectable.h:
 *          the ring itself never touches it)
 *   +hdr   uint64_t ctl[nslots]        one control word per cell
 *   +..    char data[nslots][CELL]     the cells' bytes (CELL = 64)
 *
 * Positions (head, tail) count cells and never wrap (64 bits); a cell's
 * index is pos & (nslots - 1).  A record is one or more consecutive cells
 * (wrapping at the end of the data array): an 8-byte header
 * {uint32 len, uint32 flags | tag << 8} and then `len` payload bytes.  A
 * payload larger than an eighth of the ring (at most CMP_RING_INLINE_MAX)
 * lives out of line in an arena block; the record then holds
 * {len, RING_OOB, block offset}, so a payload of any size goes through.
 * put_cpu/take_cpu (next to tail/head) are scheduling hints: a waiter does
 * not spin when the peer it waits for last ran on its own CPU.
 *
 * States of a control word (the top 3 bits):
 *   FREE       the low 61 bits are the position the cell is free for: a
 *              producer at tail == that position may claim it
 *   CLAIMED    first cell of a record a producer (pid) is writing
 *   PUBLISHED  first cell of a record ready for a consumer
 *   READING    first cell of a record a consumer (pid) is copying out
 *   BODY       a record's later cell; its low bits say how far back the
 *              record's first cell is
 * A busy word (not FREE) packs state | pid (22 bits) | seq (19 low bits of
 * the first cell's position) | stamp (9 low bits of the claimer's start
 * time, owner.h) | k (11 bits: cells of the record, or the distance for
 * BODY).  nslots <= 2^17, so the 19-bit seq tells this lap from the last;
 * a record has at most (8 + CMP_RING_INLINE_MAX) / 64 + 1 cells.
 *
 * Transitions of a record's first cell:
 *   FREE(p) --claim CAS--> CLAIMED --store--> PUBLISHED --claim CAS-->
 *   READING --release: every cell FREE(p + nslots)--> FREE(p + nslots)
 * The claiming CAS carries the claimer's pid and stamp and the record's
 * size, so a process killed at any instruction leaves a word that names it:
 *   - a producer dead in CLAIMED: a consumer whose nap at head ended (at
 *     most CMP_LIVENESS_INTERVAL, spin.h) and finds the claimer dead takes
 *     the record over (READING) and drops it;
 *   - a consumer dead in READING: a producer blocked on one of its cells
 *     finds the record's first cell through BODY, sees the claimer dead,
 *     takes it over and frees it.
 * Dead means: no such pid, a zombie, or a pid whose start time disagrees
 * with the stamp (the kernel gave the pid to a new process).  Nine bits
 * are what the word has room for: a new process started a multiple of
 * 512 clock ticks (5.12 s) after the dead one still passes for it, and
 * the record then waits until that process exits too.
 * head and tail are advanced by the claimer with a CAS, and by anyone who
 * finds a claimed record at the position they read ("helping"), so a death
 * between the claim and the advance blocks nobody.
 *
 * Counting: qsize is `puts` - `takes` + `spilled`.  `puts` and `takes`
 * count records, each in one word with the position the next record to
 * count starts at (count: 24 high bits, position: 40 low bits); a record
 * is counted by a compare-exchange from its own position to its end, by
 * its claimer or by anyone who helps tail (puts) or head (takes) past it,
 * and always before tail or head moves past it.  So a record is counted
 * exactly once in each, in the same step that moves the count word past
 * it: a process killed at any instruction leaves a count that the next
 * helper completes, and the dead-producer and dead-consumer recoveries
 * below count what they drop as taken.  A bounded ring's bound is
 * checked in the claim: a producer claims the cell at tail only while
 * puts - takes < maxsize (takes read first: stale means fuller, never
 * over the bound), so no count is reserved ahead of the claim and a
 * producer killed before its claim holds nothing.  `spilled` (signed)
 * counts messages in the Python layer's feeder buffers (unbounded queues
 * only): raised after a message is buffered, lowered before one is
 * pushed; a process killed in between loses that message and does not
 * count it, but a process killed with messages in its buffer leaves them
 * counted (the stdlib's semaphore keeps them too).  `tasks` counts
 * JoinableQueue's unfinished tasks.  Futex words: `data_seq` (bumped after a publish when
 * data_waiters != 0), `space_seq` (bumped after a take when space_waiters
 * != 0 and head has reached `space_want`, the lowest position a waiter
 * asked for: a producer waiting for room asks for an eighth of the ring
 * more than it needs, so that consumers do not wake it for every message),
 * `tasks` itself (woken at zero when tasks_waiters != 0).  Waits follow
 * the cores' one policy (spin.h): an adaptive spin (`data_spin`,
 * `space_spin`; none when the peer last ran on our CPU), then naps that
 * return EINTR to the binding when they end, after looking for a killed
 * producer or consumer.
 */
#ifndef CMP_RING_H
#define CMP_RING_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "futex.h"
#include "selectable.h"

#define CMP_RING_CELL 64u
#define CMP_RING_HDR 8u
#define CMP_RING_MIN_SLOTS 64u
#define CMP_RING_MAX_SLOTS (1u << 17)
#define CMP_RING_DEFAULT_SLOTS (1u << 13)     /* 512 KiB of cells */
/* Payloads above this go out of line (one arena block each). */
#define CMP_RING_INLINE_MAX (64u * 1024u)
#define CMP_RING_UNBOUNDED 0u

/* Record header flags: RING_OOB, and the caller's encoding tag (0..255)
 * in bits 8..15. */
#define RING_OOB 1u
#define RING_TAG_SHIFT 8

/* Control word states (top 3 bits). */
#define RING_ST_SHIFT 61
#define RING_FREE 0ull
#define RING_CLAIMED 1ull
#define RING_PUBLISHED 2ull
#define RING_READING 3ull
#define RING_BODY 4ull

typedef struct {
    /* configuration, written once */
    uint32_t nslots;
    uint32_t maxsize;           /* 0: unbounded */
    uint32_t pad0[14];
    /* producers */
    uint64_t tail;
    uint32_t put_cpu;           /* CPU of the last put, +1 (0: none yet) */
    uint32_t pad1x2;
    uint64_t puts;              /* records counted at tail (see Counting) */
    uint64_t pad1[5];
    /* consumers */
    uint64_t head;
    uint32_t take_cpu;          /* CPU of the last take, +1 (0: none yet) */
    uint32_t pad2x2;
    uint64_t takes;             /* records counted at head (see Counting) */
    uint64_t pad2[5];
    /* counts and futex words */
    uint32_t spilled;           /* int32: in feeder buffers (see Counting) */
    uint32_t tasks;
    uint32_t data_seq;
    uint32_t data_waiters;
    uint32_t space_seq;
    uint32_t space_waiters;
    uint32_t tasks_waiters;
    uint32_t data_spin;         /* adaptive spin estimates (spin.h) */
    uint32_t space_spin;
    uint32_t pad3x;
    uint64_t space_want;        /* wake space waiters once head reaches it */
    uint32_t pad3[4];
    /* the user's (selectable.h) */
    cmp_selectable sel;
} cmp_ring;

/* A record taken by a consumer: its bytes in at most two pieces (the second
 * when it wraps), or an out-of-line block. */
typedef struct {
    uint64_t pos;
    uint32_t k;
    uint32_t len;
    const char *p1;
    size_t n1;
    const char *p2;
    size_t n2;
    uint64_t oob;               /* arena offset of the block, or 0 */
    uint32_t tag;               /* the producer's encoding tag */
} cmp_ring_rec;

/* Bytes needed for a ring of `nslots` cells (a power of two, clamped). */
uint32_t cmp_ring_slots(uint64_t want);
uint64_t cmp_ring_size(uint32_t nslots);
void cmp_ring_init(cmp_ring *r, uint32_t nslots, uint32_t maxsize);
/* Free the out-of-line blocks of records never taken (last reference). */
void cmp_ring_destroy(cmp_arena *a, cmp_ring *r);

/* Item count (qsize).  try: 1 when a bounded ring is below maxsize now (it
 * reserves nothing: try_put checks the bound again), always 1 for an
 * unbounded one.  wait: 0 (below maxsize), ETIMEDOUT, EINTR.  spilled: +1
 * after a message went into a feeder buffer, -1 before one leaves it for
 * try_put (+1 again if that fails). */
int cmp_ring_items_try(cmp_ring *r);
int cmp_ring_items_wait(cmp_ring *r, const cmp_deadline *d);
uint32_t cmp_ring_items(const cmp_ring *r);
void cmp_ring_spilled(cmp_ring *r, int delta);

/* Producing.  Payloads above CMP_RING_INLINE_MAX must come with `oob`, an
 * arena block holding them.  try: 0 published, EAGAIN the ring has no room
 * (cells, or a bounded ring's maxsize).  wait: 0 (room may have appeared),
 * ETIMEDOUT, EINTR. */
int cmp_ring_try_put(cmp_ring *r, const void *data, uint32_t len, uint64_t oob,
                     uint32_t tag);
int cmp_ring_space_wait(cmp_ring *r, uint32_t len, const cmp_deadline *d);

/* Consuming.  try: 0 taken (the item count was lowered), EAGAIN empty,
 * EBUSY a producer is still writing the record at head.
 * After copying out, cmp_ring_release gives the cells back (and the
 * caller frees rec->oob after using it).  wait: 0, ETIMEDOUT, EINTR. */
int cmp_ring_try_take(cmp_ring *r, cmp_ring_rec *rec);
void cmp_ring_release(cmp_ring *r, const cmp_ring_rec *rec);
int cmp_ring_data_wait(cmp_ring *r, const cmp_deadline *d);
/* 1 when a published record waits at head. */
int cmp_ring_has_data(cmp_ring *r);
/* 0 when the ring's last producer last put from the calling thread's CPU
 * (a scheduling hint: spinning for its next record would only keep it
 * from running). */
int cmp_ring_producer_elsewhere(const cmp_ring *r);
/* Drop the record at head if the producer writing it is dead (costs a
 * liveness check: call it after EBUSY, not on every attempt). */
void cmp_ring_reap_dead_writer(cmp_ring *r);

/* JoinableQueue's unfinished tasks.  done: 0, or ERANGE when at zero.
 * wait: 0 (zero reached), ETIMEDOUT, EINTR. */
void cmp_ring_tasks_add(cmp_ring *r);
int cmp_ring_tasks_done(cmp_ring *r);
int cmp_ring_tasks_wait(cmp_ring *r, const cmp_deadline *d);

#endif /* CMP_RING_H */
