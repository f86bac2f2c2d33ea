/* spin.c - where the partners of a spinning waiter run (spin.h). */
#define _GNU_SOURCE
#include "spin.h"

#include <sched.h>

#include "owner.h"

#define CPU_UNKNOWN 0u

static uint64_t me_here(void)
{
    int c = sched_getcpu();
    return (uint64_t)cmp_self_tid() << 32 | (c < 0 ? CPU_UNKNOWN : (uint32_t)c + 1);
}

void cmp_spin_mark(uint64_t *seen)
{
    uint64_t me = me_here();
    /* Relaxed throughout: hints (spin.h). */
    uint64_t first = __atomic_load_n(&seen[0], __ATOMIC_RELAXED);
    if (first == me)
        return;
    if (first >> 32 != me >> 32)
        __atomic_store_n(&seen[1], first, __ATOMIC_RELAXED);
    __atomic_store_n(&seen[0], me, __ATOMIC_RELAXED);
}

int cmp_spin_worthwhile(uint64_t *seen)
{
    cmp_spin_mark(seen);
    uint64_t me = me_here();
    for (int i = 0; i < CMP_SPIN_SEEN; i++) {
        uint64_t other = __atomic_load_n(&seen[i], __ATOMIC_RELAXED);  /* hint */
        if (other >> 32 != me >> 32 && (uint32_t)other != CPU_UNKNOWN &&
            (uint32_t)other == (uint32_t)me)
            return 0;
    }
    return 1;
}
