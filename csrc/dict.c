/* dict.c - the shared hash table (the layout and the states are in dict.h). */
#include "dict.h"

#include <signal.h>
#include <string.h>

static inline uint64_t mum(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* A seeded multiply-fold hash, 8 bytes a step.  The segment comes from the
 * top bits and the slot from the bottom ones, so both halves must mix. */
uint64_t cmp_dict_hash(const cmp_dict *d, const void *key, size_t len)
{
    const unsigned char *p = key;
    uint64_t h = d->seed ^ ((uint64_t)len * 0x9e3779b97f4a7c15ull);
    size_t n = len;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = mum(h ^ w, 0xbf58476d1ce4e5b9ull);
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, p, n);
    h = mum(h ^ w ^ ((uint64_t)n << 56), 0x94d049bb133111ebull);
    return mum(h, 0x2545f4914f6cdd1dull);
}

void cmp_dict_init(cmp_dict *d, uint64_t seed)
{
    d->seed = seed;
}

static inline cmp_dslot *table_of(cmp_arena *a, uint64_t w, uint64_t *mask)
{
    *mask = w ? (1ull << (w >> 48)) - 1 : 0;
    return w ? (cmp_dslot *)cmp_ptr(a, w & TABLE_OFF_MASK) : NULL;
}

uint64_t cmp_dentry_new(cmp_arena *a, const void *key, uint32_t klen,
                        const void *value, uint32_t vlen, int *err)
{
    uint64_t off = cmp_alloc(a, cmp_dentry_size(klen, vlen), err);
    if (!off)
        return 0;
    cmp_dentry *e = cmp_dentry_at(a, off);
    e->klen = klen;
    e->vlen = vlen;
    memcpy(cmp_dentry_key(e), key, klen);
    memcpy(cmp_dentry_value(e), value, vlen);
    return off;
}

uint64_t cmp_dict_len(cmp_dict *d)
{
    uint64_t n = 0;
    /* Relaxed: a count, exact only when nobody writes meanwhile. */
    for (unsigned i = 0; i < CMP_DICT_SEGMENTS; i++)
        n += __atomic_load_n(&d->seg[i].count, __ATOMIC_RELAXED);
    return n;
}

static inline void set_count(cmp_dseg *s, uint32_t n)
{
    /* Relaxed: the lock orders it for holders; len reads it without. */
    __atomic_store_n(&s->count, n, __ATOMIC_RELAXED);
}

cmp_dslot *cmp_dseg_find(cmp_arena *a, cmp_dseg *s, uint64_t hash,
                         const void *key, uint32_t klen)
{
    uint64_t mask;
    cmp_dslot *t = table_of(a, s->table, &mask);
    if (!t)
        return NULL;
    for (uint64_t i = hash & mask;; i = (i + 1) & mask) {
        cmp_dslot *slot = &t[i];
        uint64_t e = slot->entry;
        if (e == DSLOT_EMPTY)
            return NULL;
        if (e != DSLOT_DELETED && slot->hash == hash) {
            cmp_dentry *en = cmp_dentry_at(a, e);
            if (en->klen == klen && memcmp(cmp_dentry_key(en), key, klen) == 0)
                return slot;
        }
    }
}

/* Put (hash, entry) in the first free slot of its probe. */
static int place(cmp_dslot *t, uint64_t mask, uint64_t hash, uint64_t entry)
{
    for (uint64_t i = hash & mask;; i = (i + 1) & mask) {
        cmp_dslot *slot = &t[i];
        uint64_t e = slot->entry;
        if (e <= DSLOT_DELETED) {
            slot->hash = hash;
            /* Release: the entry and the hash are in place before the slot
             * names it (dict.h, publication). */
            __atomic_store_n(&slot->entry, entry, __ATOMIC_RELEASE);
            return e == DSLOT_EMPTY;
        }
    }
}

/* Rebuild the table with 2^log2 slots (0: none), published by one store.
 * 0 or ENOMEM (nothing changed). */
static int rebuild(cmp_arena *a, cmp_dseg *s, unsigned log2)
{
    uint64_t old = s->table, omask, off = 0, word = 0;
    cmp_dslot *ot = table_of(a, old, &omask);
    if (log2) {
        uint64_t cap = 1ull << log2;
        int err = 0;
        off = cmp_alloc(a, cap * sizeof(cmp_dslot), &err);
        if (!off)
            return err;
        cmp_dslot *nt = (cmp_dslot *)cmp_ptr(a, off);
        memset(nt, 0, cap * sizeof(cmp_dslot));
        for (uint64_t i = 0; ot && i <= omask; i++)
            if (ot[i].entry > DSLOT_DELETED)
                place(nt, cap - 1, ot[i].hash, ot[i].entry);
        word = TABLE_WORD(off, log2);
    }
    /* Release: the new table is filled before it is published. */
    __atomic_store_n(&s->table, word, __ATOMIC_RELEASE);
    s->used = s->count;
    if (old)
        cmp_free(a, old & TABLE_OFF_MASK);
    return 0;
}

/* The log2 size for `n` live entries: at most half full, at least 8. */
static unsigned log2_for(uint64_t n)
{
    unsigned lg = CMP_DICT_MIN_LOG2;
    while ((1ull << lg) < 2 * n)
        lg++;
    return lg;
}

int cmp_dseg_add(cmp_arena *a, cmp_dseg *s, uint64_t hash, uint64_t entry)
{
    uint64_t mask;
    table_of(a, s->table, &mask);
    uint64_t cap = s->table ? mask + 1 : 0;
    if ((uint64_t)s->used + 1 > cap / 4 * 3) {
        int r = rebuild(a, s, log2_for((uint64_t)s->count + 1));
        /* Out of memory for a bigger table: go on while a slot is left. */
        if (r && (uint64_t)s->used + 1 >= cap)
            return r;
    }
    cmp_dslot *t = table_of(a, s->table, &mask);
    s->used += (uint32_t)place(t, mask, hash, entry);
    set_count(s, s->count + 1);
    return 0;
}

void cmp_dseg_replace(cmp_arena *a, cmp_dslot *slot, uint64_t entry)
{
    uint64_t old = slot->entry;
    /* Release: the new entry is complete before the slot names it. */
    __atomic_store_n(&slot->entry, entry, __ATOMIC_RELEASE);
    cmp_free(a, old);
}

void cmp_dseg_remove(cmp_arena *a, cmp_dseg *s, cmp_dslot *slot)
{
    uint64_t old = slot->entry;
    /* Relaxed: a tombstone publishes nothing but itself. */
    __atomic_store_n(&slot->entry, DSLOT_DELETED, __ATOMIC_RELAXED);
    set_count(s, s->count - 1);
    cmp_free(a, old);
    uint64_t mask;
    table_of(a, s->table, &mask);
    if (s->count == 0)
        rebuild(a, s, 0);
    else if (mask + 1 > (1ull << CMP_DICT_MIN_LOG2) && (uint64_t)s->count * 8 < mask + 1)
        rebuild(a, s, log2_for(s->count));      /* ENOMEM: stay as we are */
}

uint64_t cmp_dseg_detach(cmp_dseg *s)
{
    uint64_t old = s->table;
    /* Release: pairs with nothing in particular; the segment is empty from
     * this store on, and its old table is the caller's alone. */
    __atomic_store_n(&s->table, 0, __ATOMIC_RELEASE);
    set_count(s, 0);
    s->used = 0;
    return old;
}

void cmp_dict_free_table(cmp_arena *a, uint64_t table)
{
    uint64_t mask;
    cmp_dslot *t = table_of(a, table, &mask);
    if (!t)
        return;
    for (uint64_t i = 0; i <= mask; i++)
        if (t[i].entry > DSLOT_DELETED)
            cmp_free(a, t[i].entry);
    cmp_free(a, table & TABLE_OFF_MASK);
}

void cmp_dseg_recover(cmp_arena *a, cmp_dseg *s)
{
    uint64_t mask;
    cmp_dslot *t = table_of(a, s->table, &mask);
    uint32_t live = 0, used = 0;
    for (uint64_t i = 0; t && i <= mask; i++) {
        live += t[i].entry > DSLOT_DELETED;
        used += t[i].entry != DSLOT_EMPTY;
    }
    set_count(s, live);
    s->used = used;
}

cmp_dslot *cmp_dseg_next(cmp_arena *a, cmp_dseg *s, uint64_t *i)
{
    uint64_t mask;
    cmp_dslot *t = table_of(a, s->table, &mask);
    for (; t && *i <= mask; (*i)++) {
        if (t[*i].entry > DSLOT_DELETED)
            return &t[(*i)++];
    }
    return NULL;
}

const char *cmp_dseg_check(cmp_arena *a, cmp_dict *d, cmp_dseg *s)
{
    uint64_t mask;
    cmp_dslot *t = table_of(a, s->table, &mask);
    uint32_t live = 0, used = 0;
    for (uint64_t i = 0; t && i <= mask; i++) {
        if (t[i].entry == DSLOT_EMPTY)
            continue;
        used++;
        if (t[i].entry == DSLOT_DELETED)
            continue;
        live++;
        cmp_dentry *e = cmp_dentry_at(a, t[i].entry);
        if (cmp_dict_hash(d, cmp_dentry_key(e), e->klen) != t[i].hash)
            return "a slot's hash is not its key's";
        if (cmp_dict_seg(d, t[i].hash) != s)
            return "an entry is in another segment than its hash names";
        if (cmp_dseg_find(a, s, t[i].hash, cmp_dentry_key(e), e->klen) != &t[i])
            return "a key is unreachable or appears twice";
        if (cmp_dentry_size(e->klen, e->vlen) > cmp_block_size(a, t[i].entry))
            return "an entry is larger than its block";
    }
    if (live != s->count)
        return "count is not the number of live slots";
    if (used != s->used)
        return "used is not the number of used slots";
    if (t && used >= mask + 1)
        return "no empty slot is left";
    return NULL;
}

/* A dead owner's segment: take it over in one compare-exchange. */
static int take_from_dead(cmp_lock *l, uint32_t me)
{
    /* Relaxed: the compare-exchange below acquires. */
    uint32_t v = __atomic_load_n(&l->word, __ATOMIC_RELAXED);
    uint32_t owner = v & CMP_OWNER_MASK;
    if (owner == 0 || owner == me || kill((pid_t)cmp_owner_id(owner), 0) == 0 || errno != ESRCH)
        return 0;
    if (!__atomic_compare_exchange_n(&l->word, &v, me | LOCK_WAITERS, 0,
                                     __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        return 0;
    cmp_lock_stamp(l, me);
    return 1;
}

int cmp_dseg_lock_slow(cmp_arena *a, cmp_dict *d, cmp_dseg *s, uint32_t me,
                       const cmp_deadline *dl)
{
    /* An owner that is gone altogether (reaped) is seen at once, without
     * the liveness nap of cmp_lock_acquire_slow. */
    int r = take_from_dead(&s->lock, me) ? EOWNERDEAD
                                         : cmp_lock_acquire_slow(&s->lock, me, dl);
    if (r != 0 && r != EOWNERDEAD)
        return r;
    s->lock.count = 1;
    if (r == 0)
        return 0;
    int user = s->user != 0;
    s->user = 0;
    cmp_dseg_recover(a, s);
    __atomic_fetch_add(&d->recovered, 1, __ATOMIC_RELAXED);   /* a statistic */
    return user ? EOWNERDEAD : 0;
}

void cmp_dict_destroy(cmp_arena *a, cmp_dict *d)
{
    for (unsigned i = 0; i < CMP_DICT_SEGMENTS; i++)
        cmp_dict_free_table(a, cmp_dseg_detach(&d->seg[i]));
}
