/* spin.c - whether spinning can pay off for the calling thread (spin.h). */
#define _GNU_SOURCE
#include "spin.h"

#include <sched.h>

/* Affinity rarely changes: ask the kernel again every CMP_AFFINITY_RECHECK
 * calls per thread, not on every slow path. */
#define CMP_AFFINITY_RECHECK 256

static __thread int calls_left;
static __thread int worthwhile;

int cmp_spin_worthwhile(void)
{
    if (calls_left-- > 0)
        return worthwhile;
    calls_left = CMP_AFFINITY_RECHECK;
    cpu_set_t set;
    worthwhile = sched_getaffinity(0, sizeof set, &set) != 0 || CPU_COUNT(&set) > 1;
    return worthwhile;
}
