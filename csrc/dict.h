/*
 * dict.h - a hash table shared by every process of the tree (cmp.Dict).
 *
 * Keys and values are byte strings (the binding stores encoded objects:
 * csrc/python/dict_type.c).  Keys compare by their bytes and hash by a
 * seeded hash of their bytes.
 *
 * Shared layout (the body of a cmp object of kind CMP_KIND_DICT):
 *
 *   cmp_dict    +0    seed      hash seed, random per dict
 *               +8    recovered segments taken over from a dead owner
 *               +64   seg[CMP_DICT_SEGMENTS], 64 bytes (a cache line) each
 *
 *   cmp_dseg    +0    lock      a cmp_lock used as an RLock (owner: kernel
 *                                thread id): every access to the segment
 *                                holds it, readers included
 *               +24   table     TABLE_WORD(offset, log2 capacity) of the
 *                                slot array, 0 when it has none (no entry);
 *                                offset and capacity change in one store
 *               +32   count     live entries (read without the lock by len)
 *               +36   used      live + deleted slots
 *               +40   user      how deep the holder holds it through
 *                                cmp_dict_lock_all (d.lock)
 *
 *   slot array  cmp_dslot[capacity]: {hash, entry}, open addressing with
 *               linear probing from hash & (capacity - 1).  The segment is
 *               seg[hash >> (64 - CMP_DICT_SEG_BITS)].
 *
 *   entry       an arena block:
 *               +0  uint32 klen
 *               +4  uint32 vlen
 *               +8  key[klen]
 *               +cmp_dentry_voff(klen)  value[vlen]: value + 1 is 8-byte
 *                   aligned, so an 8-byte scalar after a 1-byte tag can be
 *                   rewritten with one aligned store
 *
 * States of a slot's `entry` word (the slot's meaning is this word alone):
 *   DSLOT_EMPTY    0: never used since the table was built; ends a probe
 *   DSLOT_DELETED  1: a tombstone; probes go on past it
 *   offset         a live entry whose key hashes to `hash`
 *
 * Publication: every change a reader or a recovering process can observe
 * is one aligned 8-byte store made last: a new entry is written completely,
 * then its slot's hash, then (release) the slot's entry word; a replaced
 * value is a new entry swapped in by one store, or, for an 8-byte scalar of
 * the same type, the scalar rewritten in place by one store; a deletion
 * stores DSLOT_DELETED; a table is rebuilt aside and published by one store
 * of `table`.  So a process that dies at any instruction while holding a
 * segment leaves every slot either as it was or as it was meant to become,
 * never a half-written entry.  What it can leave behind: `count` and `used`
 * off by one (recounted by the next holder, cmp_dseg_recover) and, leaked,
 * the one entry or table it was replacing or building.
 *
 * Growth: a segment whose table is three quarters used is rebuilt at about
 * twice its live count (shrunk when under an eighth full), under the
 * segment's lock only: the other segments' readers and writers go on.  A
 * rebuild moves (hash, entry) pairs without touching the entries, so the
 * longest pause is one segment's rebuild: about 1/CMP_DICT_SEGMENTS of the
 * dict's slots.
 *
 * Lock order: segments in increasing index (cmp_dict_lock_all), then the
 * arena's allocator mutex (entries and tables are allocated and freed under
 * a segment's lock, except that a clear detaches every table under the
 * locks and frees them after).  A single-key operation holds one segment.
 */
#ifndef CMP_DICT_H
#define CMP_DICT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "arena.h"
#include "lock.h"

#define CMP_DICT_SEG_BITS 6
#define CMP_DICT_SEGMENTS (1u << CMP_DICT_SEG_BITS)
#define CMP_DICT_MIN_LOG2 3                 /* 8 slots */

#define DSLOT_EMPTY 0u
#define DSLOT_DELETED 1u

#define TABLE_OFF_MASK ((1ull << 48) - 1)
#define TABLE_WORD(off, log2cap) ((uint64_t)(off) | ((uint64_t)(log2cap) << 48))

typedef struct {
    uint64_t hash;
    uint64_t entry;
} cmp_dslot;

typedef struct {
    cmp_lock lock;
    uint64_t table;
    uint32_t count;
    uint32_t used;
    uint32_t user;
    uint32_t pad[(64 - sizeof(cmp_lock) - 20) / 4];
} cmp_dseg;

typedef struct {
    uint64_t seed;
    uint32_t recovered;
    uint32_t pad[13];
    cmp_dseg seg[CMP_DICT_SEGMENTS];
} cmp_dict;

typedef struct {
    uint32_t klen;
    uint32_t vlen;
} cmp_dentry;

_Static_assert(sizeof(cmp_dseg) == 64, "a segment is one cache line");
_Static_assert(offsetof(cmp_dict, seg) == 64, "segments start on a line");

/* ---- entries ------------------------------------------------------------- */

static inline uint64_t cmp_dentry_voff(uint32_t klen)
{
    return 8 + (((uint64_t)klen + 1 + 7) & ~(uint64_t)7) - 1;
}

static inline uint64_t cmp_dentry_size(uint32_t klen, uint32_t vlen)
{
    return cmp_dentry_voff(klen) + vlen;
}

static inline cmp_dentry *cmp_dentry_at(cmp_arena *a, uint64_t off)
{
    return (cmp_dentry *)cmp_ptr(a, off);
}

static inline char *cmp_dentry_key(cmp_dentry *e) { return (char *)e + 8; }

static inline char *cmp_dentry_value(cmp_dentry *e)
{
    return (char *)e + cmp_dentry_voff(e->klen);
}

/* A new entry holding key and value (not yet in any table): its offset, or
 * 0 with *err = ENOMEM. */
uint64_t cmp_dentry_new(cmp_arena *a, const void *key, uint32_t klen,
                        const void *value, uint32_t vlen, int *err);

/* Rewrite the 8 bytes after the value's tag with one store (the caller
 * holds the segment and checked that the value is a tag + 8 bytes). */
static inline void cmp_dentry_set_scalar(cmp_dentry *e, uint64_t bits)
{
    /* Relaxed: readers hold the segment's lock; one store so that a death
     * leaves the old scalar or the new one. */
    __atomic_store_n((uint64_t *)(cmp_dentry_value(e) + 1), bits, __ATOMIC_RELAXED);
}

static inline uint64_t cmp_dentry_scalar(cmp_dentry *e)
{
    uint64_t bits;
    memcpy(&bits, cmp_dentry_value(e) + 1, 8);     /* under the lock */
    return bits;
}

/* ---- the dict ------------------------------------------------------------ */

void cmp_dict_init(cmp_dict *d, uint64_t seed);
/* Free every entry and table (the last reference went: nobody holds it). */
void cmp_dict_destroy(cmp_arena *a, cmp_dict *d);

uint64_t cmp_dict_hash(const cmp_dict *d, const void *key, size_t len);

static inline cmp_dseg *cmp_dict_seg(cmp_dict *d, uint64_t hash)
{
    return &d->seg[hash >> (64 - CMP_DICT_SEG_BITS)];
}

/* Live entries, summed without locks (exact when nobody writes). */
uint64_t cmp_dict_len(cmp_dict *d);

/* ---- locking a segment --------------------------------------------------- */

static inline int cmp_dseg_try_lock(cmp_dseg *s, uint32_t me)
{
    return cmp_rlock_try(&s->lock, me);
}

/* Slow path, without the interpreter lock: spin, sleep, take over from a
 * dead owner.  Returns 0 (held), EOWNERDEAD (held, taken over from a dead
 * owner that held it through cmp_dict_lock_all: a multi-step update may be
 * incomplete), ETIMEDOUT or EINTR (call again).  A takeover recounts the
 * segment (cmp_dseg_recover) before it returns, whichever of 0 and
 * EOWNERDEAD it returns. */
int cmp_dseg_lock_slow(cmp_arena *a, cmp_dict *d, cmp_dseg *s, uint32_t me,
                       const cmp_deadline *dl);

static inline void cmp_dseg_unlock(cmp_dseg *s, uint32_t me)
{
    cmp_rlock_release(&s->lock, me);
}

/* ---- under the segment's lock -------------------------------------------- */

/* The slot of key, or NULL. */
cmp_dslot *cmp_dseg_find(cmp_arena *a, cmp_dseg *s, uint64_t hash,
                         const void *key, uint32_t klen);
/* Add `entry` (whose key is not in the segment).  0, or ENOMEM (the table
 * could not grow; nothing changed). */
int cmp_dseg_add(cmp_arena *a, cmp_dseg *s, uint64_t hash, uint64_t entry);
/* Swap the slot's entry for `entry` and free the old one. */
void cmp_dseg_replace(cmp_arena *a, cmp_dslot *slot, uint64_t entry);
/* Delete the slot's entry and free it (the table may shrink). */
void cmp_dseg_remove(cmp_arena *a, cmp_dseg *s, cmp_dslot *slot);
/* Empty the segment in one store; returns its old table word, which the
 * caller frees with cmp_dict_free_table (after letting the segment go: a
 * detached table is nobody else's).  A death in between leaks it. */
uint64_t cmp_dseg_detach(cmp_dseg *s);
void cmp_dict_free_table(cmp_arena *a, uint64_t table);
/* Recount `count` and `used` from the slots (after a takeover). */
void cmp_dseg_recover(cmp_arena *a, cmp_dseg *s);
/* The next live slot at index >= *i (then *i is past it), or NULL. */
cmp_dslot *cmp_dseg_next(cmp_arena *a, cmp_dseg *s, uint64_t *i);
/* 0 when the counts match the slots, every entry sits in the segment its
 * hash names, is reachable by its probe and no key appears twice; else a
 * short description of what is wrong (tests). */
const char *cmp_dseg_check(cmp_arena *a, cmp_dict *d, cmp_dseg *s);

#endif /* CMP_DICT_H */
