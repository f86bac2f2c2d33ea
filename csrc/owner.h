/*
 * owner.h - who am I, and is that owner still alive?
 *
 * Locks record their owner in the futex word: the process id for a Lock
 * (any thread of the owning process may release it, as with the stdlib's),
 * the kernel thread id for an RLock.  Both fit in CMP_OWNER_MASK (pid_max is
 * at most 2^22).  The ids are cached per thread and re-read after fork.
 */
#ifndef CMP_OWNER_H
#define CMP_OWNER_H

#include <stdint.h>
#include <sys/types.h>

#define CMP_OWNER_MASK 0x3fffffffu

/* Seconds a blocked waiter sleeps before it looks whether the owner died. */
#define CMP_LIVENESS_INTERVAL 0.2

/* Spins before a waiter goes to sleep on a futex. */
#define CMP_SPIN_LIMIT 100

/* The caches (owner.c): 0 until first read, and again after fork.  The
 * thread's is initial-exec TLS: one %fs-relative load, no call. */
extern uint32_t cmp_cached_pid __attribute__((visibility("hidden")));
extern __thread uint32_t cmp_cached_tid
    __attribute__((tls_model("initial-exec"), visibility("hidden")));
uint32_t cmp_read_pid(void);
uint32_t cmp_read_tid(void);

/* The process id and this thread's kernel id: inline on the hot paths. */
static inline uint32_t cmp_self_pid(void)
{
    uint32_t p = cmp_cached_pid;
    return __builtin_expect(p != 0, 1) ? p : cmp_read_pid();
}

static inline uint32_t cmp_self_tid(void)
{
    uint32_t t = cmp_cached_tid;
    return __builtin_expect(t != 0, 1) ? t : cmp_read_tid();
}

/* 1 while the process or thread `id` exists and is not a zombie. */
int cmp_owner_alive(uint32_t id);

#endif /* CMP_OWNER_H */
