/*
 * ring_io.h - what the two bindings over a ring (csrc/ring.h) share: the
 * queues (queue_type.c) and the pool's channel (channel_type.c).
 *
 *   fds      the ring's wake-up pipe (selectable.h) as this process knows
 *            it: created here, inherited through fork, or reopened
 *            through /proc from the process that created it;
 *   codec    a message's encoding, the record's tag: exact builtin
 *            scalars travel unpickled, everything else is pickled by the
 *            stdlib's ForkingPickler;
 *   records  writing one (inline, or out of line in an arena block when
 *            above an eighth of the ring) and reading one back.
 *
 * Tags 0..7 are the codec's; a binding may use the record tag's bit 7
 * (CMP_RING_TAG_FLAG) for a mark of its own, cleared before decoding.
 */
#ifndef CMP_RING_IO_H
#define CMP_RING_IO_H

#include "shared.h"
#include "ring_wait.h"

/* ---- fds ----------------------------------------------------------------- */

typedef struct {
    uint32_t pid;               /* rfd/wfd are valid in this process (0: none) */
    int rfd, wfd;
    int owns;                   /* this wrapper closes them */
} cmp_ring_fds;

/* A new pipe (non-blocking, close-on-exec) into `f`: 0, or -1 with the
 * exception set. */
int cmp_ring_fds_open(cmp_ring_fds *f);
/* Record f's pipe (just opened) in the ring, for the other processes. */
void cmp_ring_fds_publish(const cmp_ring_fds *f, cmp_ring *r);
/* Make f valid in this process: inherited through fork, a copy of fds
 * this process already has, or reopened through /proc from the creator.
 * 0, or -1 (no way to reach the pipe; errno set). */
int cmp_ring_fds_resolve(cmp_ring_fds *f, const cmp_ring *r);
/* Close the fds this wrapper owns, and know none. */
void cmp_ring_fds_close(cmp_ring_fds *f);

/* ---- codec --------------------------------------------------------------- */

enum {
    CMP_TAG_PICKLE = 0,
    CMP_TAG_INT = 1,            /* int64, native byte order */
    CMP_TAG_FLOAT = 2,          /* double */
    CMP_TAG_BYTES = 3,
    CMP_TAG_STR = 4,            /* UTF-8 */
    CMP_TAG_NONE = 5,
    CMP_TAG_TRUE = 6,
    CMP_TAG_FALSE = 7,
};
#define CMP_RING_TAG_FLAG 0x80u

typedef struct {
    uint32_t tag;
    const char *p;
    Py_ssize_t len;
    PyObject *owner;            /* keeps p alive (a new reference), or NULL */
    char scratch[8];
} cmp_encoded;

/* Fill `e` for obj: 0, or -1 with an exception (pickling failed). */
int cmp_encode(PyObject *obj, cmp_encoded *e);
/* The object of a record whose bytes are p1[n1] + p2[n2]. */
PyObject *cmp_decode(uint32_t tag, const char *p1, size_t n1, const char *p2, size_t n2);

/* ---- records ------------------------------------------------------------- */

/* The largest payload a record holds inline. */
static inline uint32_t cmp_ring_inline_limit(const cmp_ring *r)
{
    uint64_t limit = (uint64_t)r->nslots * CMP_RING_CELL / 8;
    return limit > CMP_RING_INLINE_MAX ? CMP_RING_INLINE_MAX : (uint32_t)limit;
}

/* Publish n bytes as one record (after an item was reserved), waiting for
 * room until `d` when `block`; wakes f's pipe when someone polls it.
 * 0, 1 (full, or timed out), or -1 with an exception. */
int cmp_ring_write(cmp_ring *r, cmp_ring_fds *f, const char *p, Py_ssize_t n,
                   uint32_t tag, int block, const cmp_deadline *d);

/* Take the record at head without waiting: 0 taken, else EAGAIN/EBUSY as
 * cmp_ring_try_take; a record whose writer died is dropped first. */
int cmp_ring_take_now(cmp_ring *r, cmp_ring_rec *rec);

/* The message of a taken record (its tag's flag cleared): the object, or
 * with `raw` its pickle (bytes).  Gives the cells back and frees the
 * out-of-line block, whatever happens; keeps f's pipe in step. */
PyObject *cmp_ring_read(cmp_ring *r, cmp_ring_fds *f, cmp_ring_rec *rec, int raw);

#endif /* CMP_RING_IO_H */
