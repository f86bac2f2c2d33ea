/*
 * owner.h - who am I, and is that owner still alive?
 *
 * A kernel id (process or thread id) alone does not name a process: once
 * it died and was reaped, the kernel hands the id to the next process
 * (pid_max is 32768 on many systems, so that takes seconds on a busy
 * machine).  cmp names an owner by its id *and its start time* (field 22
 * of /proc/ID/stat, in clock ticks since boot): two tasks with the same id
 * started at least one tick (10 ms) apart, since the first had to die and
 * be reaped before the second could be created.
 *
 * Owner tokens (what a lock word holds, CMP_OWNER_MASK bits):
 *
 *   bits  0..21  the kernel id (pid_max is at most 2^22)
 *   bits 22..29  the low CMP_OWNER_STAMP_BITS bits of the start time
 *
 * so the word alone tells a reused id from its dead first owner unless
 * their start times differ by a multiple of 2^8 ticks (2.56 s).  A lock
 * also keeps the start time's low 32 bits beside the word (cmp_lock's
 * `stamp`, lock.h), written by every acquirer right after its
 * compare-exchange: a checker that finds its low 8 bits equal to the
 * word's trusts all 32 (a wrap every 497 days), otherwise the word's 8.
 * The ring's control words have room for 9 stamp bits only (ring.h).
 *
 * Process tokens name a Lock's owner (any thread of the owning process may
 * release it, as with the stdlib's), thread tokens an RLock's.  Both are
 * cached, the thread's in initial-exec TLS (one %fs-relative load, no
 * call), and read again after fork: the uncontended paths make no system
 * call.  The first use in a process or thread reads /proc once.
 */
#ifndef CMP_OWNER_H
#define CMP_OWNER_H

#include <stdint.h>
#include <sys/types.h>

#define CMP_OWNER_ID_BITS 22
#define CMP_OWNER_ID_MASK ((1u << CMP_OWNER_ID_BITS) - 1)
#define CMP_OWNER_STAMP_BITS 8
#define CMP_OWNER_MASK 0x3fffffffu      /* id | stamp << CMP_OWNER_ID_BITS */

/* Seconds a blocked waiter sleeps at most before it looks whether the
 * owner died (and its binding runs the signal handlers, spin.h). */
#define CMP_LIVENESS_INTERVAL 0.2

/* The caches (owner.c): 0 until first read, and again after fork. */
typedef struct {
    uint32_t id;        /* the kernel id */
    uint32_t token;     /* id | low stamp bits << CMP_OWNER_ID_BITS */
    uint32_t start;     /* the start time's low 32 bits (clock ticks) */
} cmp_self_ids;

extern cmp_self_ids cmp_cached_proc __attribute__((visibility("hidden")));
extern __thread cmp_self_ids cmp_cached_thread
    __attribute__((tls_model("initial-exec"), visibility("hidden")));
const cmp_self_ids *cmp_read_proc(void);
const cmp_self_ids *cmp_read_thread(void);

static inline const cmp_self_ids *cmp_self_proc(void)
{
    return __builtin_expect(cmp_cached_proc.id != 0, 1) ? &cmp_cached_proc
                                                        : cmp_read_proc();
}

static inline const cmp_self_ids *cmp_self_thread(void)
{
    return __builtin_expect(cmp_cached_thread.id != 0, 1) ? &cmp_cached_thread
                                                          : cmp_read_thread();
}

/* The process id and this thread's kernel id. */
static inline uint32_t cmp_self_pid(void) { return cmp_self_proc()->id; }
static inline uint32_t cmp_self_tid(void) { return cmp_self_thread()->id; }

/* Owner tokens: this process's (Lock) and this thread's (RLock). */
static inline uint32_t cmp_self_owner(void) { return cmp_self_proc()->token; }
static inline uint32_t cmp_thread_owner(void) { return cmp_self_thread()->token; }

/* The full 32-bit start stamp that goes with one of our own tokens. */
static inline uint32_t cmp_owner_stamp(uint32_t token)
{
    const cmp_self_ids *p = cmp_self_proc();
    return token == p->token ? p->start : cmp_self_thread()->start;
}

static inline uint32_t cmp_owner_id(uint32_t token) { return token & CMP_OWNER_ID_MASK; }

/* Liveness: 1 while the task `id` exists, is not a zombie, and its start
 * time agrees with the low `bits` bits of `stamp`.  The caller passes what
 * it knows of the owner's start: 32 bits from a lock's `stamp`, 8 from a
 * lock word, 9 from a ring word, 0 bits for none. */
int cmp_task_alive(uint32_t id, uint32_t stamp, unsigned bits);

/* 1 with *start the low 32 bits of task `id`'s start time while it runs
 * (not a zombie); 0 when it is gone or /proc cannot tell. */
int cmp_task_start(uint32_t id, uint32_t *start);

/* A lock owner: `token` from the word, `stamp` read beside it (lock.h). */
int cmp_owner_alive(uint32_t token, uint32_t stamp);

#endif /* CMP_OWNER_H */
