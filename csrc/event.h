/*
 * event.h - Event on one shared futex word.
 *
 * Shared layout (the body of a cmp object of kind CMP_KIND_EVENT):
 *
 *   +0  uint32_t word   the futex word (below)
 *   +4  uint32_t spin   adaptive spin estimate (spin.h)
 *   +8  uint64_t seen[2] the last threads to use it, and their CPUs (spin.h)
 *
 * `word` = generation << EVENT_GEN_SHIFT | EVENT_WAITERS? | EVENT_SET?
 *
 *   EVENT_SET      the flag: set() turns it on, clear() off
 *   EVENT_WAITERS  someone may sleep on the word: set() must wake
 *   generation     counts set() calls that turned the flag on (wrapping)
 *
 * States (ignoring the generation):
 *   EVENT_CLEAR            flag off, nobody sleeps
 *   EVENT_CLEAR | WAITERS  flag off, waiters may sleep
 *   EVENT_SET              flag on (set() clears WAITERS as it wakes all)
 *
 * A waiter remembers the word it saw and returns as soon as the flag is on
 * or the generation moved on: a set() quickly followed by clear() still
 * releases everybody who waited at the time (as threading.Event does).
 *
 * Every sleep is a nap (spin.h), also beside a partner on our own CPU where
 * the nap's timer costs about a tenth of a round trip: without it, a Ctrl-C
 * landing between the interpreter's last look at signals and the sleep
 * would wait for the next set() (the hang cmp exists to avoid).
 */
#ifndef CMP_EVENT_H
#define CMP_EVENT_H

#include <errno.h>
#include <stdint.h>

#include "futex.h"

#define EVENT_CLEAR 0u
#define EVENT_SET 1u
#define EVENT_WAITERS 2u
#define EVENT_GEN_SHIFT 2
#define EVENT_GEN_ONE (1u << EVENT_GEN_SHIFT)

typedef struct {
    uint32_t word;
    uint32_t spin;
    uint64_t seen[2];
} cmp_event;

static inline int cmp_event_is_set(const cmp_event *e)
{
    /* Acquire: a waiter that sees the flag sees what the setter wrote
     * before set(). */
    return (__atomic_load_n(&e->word, __ATOMIC_ACQUIRE) & EVENT_SET) != 0;
}

/* The word a waiter starts from (when it has EVENT_SET, no need to wait). */
static inline uint32_t cmp_event_snapshot(const cmp_event *e)
{
    return __atomic_load_n(&e->word, __ATOMIC_ACQUIRE);   /* as above */
}

void cmp_event_set(cmp_event *e);
void cmp_event_clear(cmp_event *e);

/* Slow path: wait, starting from `seen` (a snapshot without EVENT_SET),
 * until the flag is set or a set() happened, or the deadline.  Call without
 * the interpreter lock.  Returns 0 (set), ETIMEDOUT or EINTR. */
int cmp_event_wait_slow(cmp_event *e, uint32_t seen, const cmp_deadline *d);

#endif /* CMP_EVENT_H */
