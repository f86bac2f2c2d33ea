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

uint32_t cmp_self_pid(void);
uint32_t cmp_self_tid(void);

/* 1 while the process or thread `id` exists and is not a zombie. */
int cmp_owner_alive(uint32_t id);

#endif /* CMP_OWNER_H */
