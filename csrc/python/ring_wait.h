/* ring_wait.h - cmp_wait() adapters for the ring's blocking edges, and the
 * ring's selectability (csrc/selectable.h over "the ring holds a message"),
 * shared by the queue and the pool bindings. */
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

/* The condition a ring's pipe is readable for. */
static inline int cmp_ring_ready(void *r)
{
    return cmp_ring_has_data((cmp_ring *)r);
}

/* The pipe's fds, valid in the calling process. */
static inline void cmp_ring_poll_interest(cmp_ring *r, int wfd)
{
    cmp_sel_interest(&r->sel, wfd, cmp_ring_ready, r);
}

static inline void cmp_ring_poll_after_put(cmp_ring *r, int wfd)
{
    cmp_sel_after_put(&r->sel, wfd, cmp_ring_ready, r);
}

static inline void cmp_ring_poll_after_take(cmp_ring *r, int rfd)
{
    cmp_sel_after_take(&r->sel, rfd, cmp_ring_ready, r);
}

#endif /* CMP_RING_WAIT_H */
