/* ring_wait.h - cmp_wait() adapters for the ring's blocking edges, shared
 * by the queue and the pool bindings. */
#ifndef CMP_RING_WAIT_H
#define CMP_RING_WAIT_H

#include "../ring.h"

/* Wait until the ring holds data (arg: the cmp_ring). */
static inline int cmp_ring_wait_data(void *p, const cmp_deadline *d)
{
    return cmp_ring_data_wait((cmp_ring *)p, d);
}

/* Wait until `len` bytes fit (arg: a cmp_ring_space_arg). */
typedef struct {
    cmp_ring *r;
    uint32_t len;
} cmp_ring_space_arg;

static inline int cmp_ring_wait_space(void *p, const cmp_deadline *d)
{
    cmp_ring_space_arg *a = p;
    return cmp_ring_space_wait(a->r, a->len, d);
}

#endif /* CMP_RING_WAIT_H */
