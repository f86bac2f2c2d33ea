/* spin.c - whether spinning can pay off for the calling thread (spin.h). */
#define _GNU_SOURCE
#include "spin.h"

#include <sched.h>

int cmp_spin_worthwhile(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return 1;
    return CPU_COUNT(&set) > 1;
}
