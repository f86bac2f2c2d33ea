/*
 * selectable.h - a pipe that is readable while a shared condition holds,
 * for stdlib code that waits on file descriptors (multiprocessing.connection
 * .wait, select) on an object that has none of its own: a cmp Queue's
 * _reader, a Pool's result rings.  The condition ("the ring holds a
 * message") is the caller's, asked through a cmp_ready_fn; the pipe
 * belongs to the caller's binding, which passes fds valid in its process.
 *
 * Shared layout (64 bytes, inside the object it makes selectable: the
 * ring's header, ring.h):
 *
 *   +0   int32_t fd_pid     the process that created the pipe, and its
 *   +4   int32_t rfd, wfd   fds there (others reopen them via /proc)
 *   +12  uint32_t interest  SEL_IDLE, or SEL_POLLED once anyone polled rfd
 *   +16  uint64_t pipe_ino  the pipe's inode (to recognise inherited fds)
 *   +24  uint32_t signaled  SEL_EMPTY, or SEL_SIGNALED: a byte is in the
 *                           pipe (changed under `lock` only)
 *   +28  uint32_t pad
 *   +32  cmp_lock lock      serialises writing and draining the byte
 *
 * Without interest no system call is made: the fast paths of the object
 * only load `interest`.  From the first poll on, a producer that finds
 * `signaled` SEL_EMPTY after making the condition true writes a byte and
 * sets SEL_SIGNALED; a consumer that leaves the condition false drains the
 * pipe; both under `lock`, re-checking the condition.  The producer must
 * have made the condition true and issued a sequentially consistent fence
 * before cmp_sel_after_put (the ring's publish does, in its notify), the
 * pair to the fence in cmp_sel_after_take.
 *
 * A process killed holding `lock` leaves it to be taken over (lock.h); a
 * byte it wrote without setting `signaled` is drained by the next taker
 * that empties the object.
 */
#ifndef CMP_SELECTABLE_H
#define CMP_SELECTABLE_H

#include <stdint.h>

#include "lock.h"
#include "spin.h"

#define SEL_IDLE 0u
#define SEL_POLLED 1u
#define SEL_EMPTY 0u
#define SEL_SIGNALED 1u

typedef struct {
    int32_t fd_pid;
    int32_t rfd, wfd;
    uint32_t interest;
    uint64_t pipe_ino;
    uint32_t signaled;
    uint32_t pad;
    cmp_lock lock;
} cmp_selectable;

_Static_assert(sizeof(cmp_selectable) == 64, "one cache line");

/* The pipe's fds as created in this process (fd_pid = our pid). */
void cmp_sel_init(cmp_selectable *s, int rfd, int wfd, uint64_t pipe_ino);

/* 1 once anyone polled (then put and take call the functions below).
 * Relaxed: the callers' own fences order it (see above). */
static inline int cmp_sel_wanted(const cmp_selectable *s)
{
    return __atomic_load_n(&s->interest, __ATOMIC_RELAXED) != SEL_IDLE;
}

/* Someone polls rfd: from now on keep the pipe in step (and signal a
 * condition that already holds). */
void cmp_sel_interest(cmp_selectable *s, int wfd, cmp_ready_fn ready, void *arg);
/* After the condition may have become true. */
void cmp_sel_after_put(cmp_selectable *s, int wfd, cmp_ready_fn ready, void *arg);
/* After the condition may have become false. */
void cmp_sel_after_take(cmp_selectable *s, int rfd, cmp_ready_fn ready, void *arg);

#endif /* CMP_SELECTABLE_H */
