/* proc.c - the process table and the holdings of each process (proc.h). */
#define _GNU_SOURCE
#include "proc.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "owner.h"

enum { FREE = 0, PREPARING = 1, FORKING = 2, ALIVE = 3, REAPING = 4 };

#define STATE_MASK 7ull
#define SEQ_SHIFT 3
#define SEQ_MASK ((1ull << 31) - 1)
#define TOKEN_SHIFT 34
#define MIN_CAP 16u

typedef struct {
    uint32_t hi;            /* entries ever claimed: the scan's bound */
    uint32_t pad;
    uint64_t last_scan;     /* CLOCK_MONOTONIC ns of the last periodic scan */
    uint64_t pad2[6];
} table_hdr;

typedef struct {
    uint64_t word;          /* state | seq | reaper token (proc.h) */
    uint32_t pid;           /* 0 until named */
    uint32_t start;         /* low 32 bits of its start time */
    uint32_t creator_pid;   /* who claimed the entry */
    uint32_t creator_start;
    uint64_t holdings;      /* offset of its holdings block, 0 = none */
    uint64_t pad[4];
} entry;

typedef struct {
    uint64_t off;           /* object offset; 0 = never used */
    uint32_t count;         /* references held; 0 with off set = tombstone */
    uint32_t pad;
} slot;

typedef struct {
    uint32_t cap;           /* slots, a power of two */
    uint32_t used;          /* slots with off set (tombstones included) */
    uint32_t live;          /* slots with a count */
    uint32_t pad;
    slot s[];
} holdings;

_Static_assert(sizeof(table_hdr) == 64 && sizeof(entry) == 64, "cache lines");
_Static_assert(sizeof(table_hdr) + CMP_PROC_MAX * sizeof(entry) <= CMP_PROC_REGION,
               "the table fits its region");

static uint32_t self_idx = CMP_PROC_NONE;
static uint32_t adopted_idx = CMP_PROC_NONE;   /* the start entry (proc.h) */
static uint32_t self_pid;

static table_hdr *T(cmp_arena *a) { return (table_hdr *)cmp_arena_procs(a); }

static entry *E(cmp_arena *a, uint32_t idx)
{
    return (entry *)((char *)cmp_arena_procs(a) + sizeof(table_hdr)) + idx;
}

static holdings *HB(cmp_arena *a, uint64_t off)
{
    return off ? (holdings *)cmp_ptr(a, off) : NULL;
}

static uint64_t state_of(uint64_t w) { return w & STATE_MASK; }
static uint64_t seq_of(uint64_t w) { return (w >> SEQ_SHIFT) & SEQ_MASK; }
static uint64_t make_word(uint64_t state, uint64_t seq, uint64_t token)
{
    return state | (seq & SEQ_MASK) << SEQ_SHIFT | token << TOKEN_SHIFT;
}

uint32_t cmp_proc_self(void)
{
    /* After a fork that ran no cmp hook, the inherited index is the
     * parent's: never count in it. */
    return self_idx != CMP_PROC_NONE && self_pid == cmp_self_pid() ? self_idx
                                                                   : CMP_PROC_NONE;
}

int cmp_proc_owns(uint32_t idx)
{
    return idx != CMP_PROC_NONE && self_pid == cmp_self_pid() &&
           (idx == self_idx || idx == adopted_idx);
}

/* ---- claiming -------------------------------------------------------- */

static uint32_t claim(cmp_arena *a)
{
    table_hdr *t = T(a);
    const cmp_self_ids *me = cmp_self_proc();
    for (uint32_t i = 0; i < CMP_PROC_MAX; i++) {
        /* Entries at and past hi are FREE: open this one to the reapers'
         * scans before it can be claimed. */
        uint32_t hi = __atomic_load_n(&t->hi, __ATOMIC_ACQUIRE);
        while (hi <= i && !__atomic_compare_exchange_n(&t->hi, &hi, i + 1, 0,
                                                       __ATOMIC_ACQ_REL,
                                                       __ATOMIC_ACQUIRE))
            ;
        entry *e = E(a, i);
        uint64_t w = __atomic_load_n(&e->word, __ATOMIC_ACQUIRE);
        if (state_of(w) != FREE ||
            !__atomic_compare_exchange_n(&e->word, &w,
                                         make_word(PREPARING, seq_of(w) + 1, 0), 0,
                                         __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            continue;
        /* A reaper gives back a PREPARING entry whose creator is dead. */
        e->creator_start = me->start;
        __atomic_store_n(&e->creator_pid, me->id, __ATOMIC_RELEASE);
        e->start = 0;
        __atomic_store_n(&e->pid, 0, __ATOMIC_RELEASE);
        return i;
    }
    return CMP_PROC_NONE;
}

static void set_state(entry *e, uint64_t state)
{
    uint64_t w = __atomic_load_n(&e->word, __ATOMIC_ACQUIRE);
    __atomic_store_n(&e->word, make_word(state, seq_of(w), 0), __ATOMIC_RELEASE);
}

int cmp_proc_attach(cmp_arena *a)
{
    if (cmp_proc_self() != CMP_PROC_NONE)
        return 0;
    uint32_t idx = claim(a);
    if (idx == CMP_PROC_NONE)
        return EAGAIN;
    entry *e = E(a, idx);
    const cmp_self_ids *me = cmp_self_proc();
    e->start = me->start;
    __atomic_store_n(&e->pid, me->id, __ATOMIC_RELEASE);
    set_state(e, ALIVE);
    self_idx = idx;
    self_pid = me->id;
    return 0;
}

/* ---- holdings --------------------------------------------------------- */

static uint32_t hash(uint64_t off, uint32_t cap)
{
    return (uint32_t)(((off >> 4) * 0x9e3779b97f4a7c15ull) >> 32) & (cap - 1);
}

/* The slot of `off`, or NULL; *free_slot: where it would go. */
static slot *find(holdings *h, uint64_t off, slot **free_slot)
{
    slot *tomb = NULL;
    for (uint32_t i = hash(off, h->cap), n = 0; n < h->cap; i = (i + 1) & (h->cap - 1), n++) {
        slot *s = &h->s[i];
        if (s->off == off)
            return s;
        if (s->off == 0) {
            if (free_slot)
                *free_slot = tomb ? tomb : s;
            return NULL;
        }
        if (!tomb && __atomic_load_n(&s->count, __ATOMIC_RELAXED) == 0)
            tomb = s;
    }
    if (free_slot)
        *free_slot = tomb;
    return NULL;
}

/* A new holdings block with room for `live` counts and the next ones,
 * filled from `old` (may be NULL).  0 on ENOMEM. */
static uint64_t rebuild(cmp_arena *a, holdings *old, uint32_t live)
{
    uint32_t cap = MIN_CAP;
    while (cap < 4 * (live + 1))
        cap *= 2;
    int err = 0;
    uint64_t off = cmp_alloc_meta(a, sizeof(holdings) + (uint64_t)cap * sizeof(slot), &err);
    if (!off)
        return 0;
    holdings *h = HB(a, off);
    memset(h, 0, sizeof(holdings) + (uint64_t)cap * sizeof(slot));
    h->cap = cap;
    for (uint32_t i = 0; old && i < old->cap; i++) {
        if (old->s[i].off && old->s[i].count) {
            slot *fs = NULL;
            find(h, old->s[i].off, &fs);
            fs->off = old->s[i].off;
            fs->count = old->s[i].count;
            h->used++;
            h->live++;
        }
    }
    return off;
}

int cmp_proc_hold(cmp_arena *a, uint32_t idx, uint64_t off, uint32_t n)
{
    if (idx == CMP_PROC_NONE)
        return 0;
    entry *e = E(a, idx);
    holdings *h = HB(a, e->holdings);
    slot *free_slot = NULL, *s = h ? find(h, off, &free_slot) : NULL;
    if (s) {
        h->live += s->count == 0;
        __atomic_store_n(&s->count, s->count + n, __ATOMIC_RELEASE);
        return 0;
    }
    if (!free_slot || (free_slot->off == 0 && 4 * (h->used + 1) > 3 * h->cap)) {
        /* The first block, or a bigger one: published whole, then the old
         * one freed. */
        uint32_t live = 0;
        for (uint32_t i = 0; h && i < h->cap; i++)
            live += h->s[i].off && h->s[i].count;
        uint64_t nb = rebuild(a, h, live);
        if (!nb)
            return ENOMEM;
        uint64_t old = e->holdings;
        __atomic_store_n(&e->holdings, nb, __ATOMIC_RELEASE);
        if (old)
            cmp_free_meta(a, old);
        h = HB(a, nb);
        find(h, off, &free_slot);
    }
    s = free_slot;
    if (s->off == 0)
        h->used++;
    h->live++;
    /* A tombstone's count is 0: the offset first, the count last. */
    __atomic_store_n(&s->off, off, __ATOMIC_RELAXED);
    __atomic_store_n(&s->count, n, __ATOMIC_RELEASE);
    return 0;
}

void cmp_proc_unhold(cmp_arena *a, uint32_t idx, uint64_t off, uint32_t n)
{
    if (idx == CMP_PROC_NONE)
        return;
    entry *e = E(a, idx);
    holdings *h = HB(a, e->holdings);
    slot *s = h ? find(h, off, NULL) : NULL;
    if (!s || s->count == 0)
        return;
    /* Fewer counted than given back would be a bug; never go below 0 (an
     * undercount leaks, an overcount would free under a live holder). */
    __atomic_store_n(&s->count, s->count > n ? s->count - n : 0, __ATOMIC_RELEASE);
    if (s->count == 0 && --h->live == 0) {
        /* Nothing held: the block goes, so an idle process holds no memory. */
        uint64_t hb = e->holdings;
        __atomic_store_n(&e->holdings, 0, __ATOMIC_RELEASE);
        cmp_free_meta(a, hb);
    }
}

uint32_t cmp_proc_count(cmp_arena *a, uint32_t idx, uint64_t off)
{
    if (idx == CMP_PROC_NONE)
        return 0;
    holdings *h = HB(a, E(a, idx)->holdings);
    slot *s = h ? find(h, off, NULL) : NULL;
    return s ? s->count : 0;
}

/* ---- fork ------------------------------------------------------------- */

uint32_t cmp_proc_prepare_child(cmp_arena *a)
{
    return claim(a);
}

void cmp_proc_forking(cmp_arena *a, uint32_t idx)
{
    if (idx != CMP_PROC_NONE)
        set_state(E(a, idx), FORKING);
}

/* Give back every count of entry `e` (claimed by the caller as REAPING,
 * or PREPARING and its own), free its block, and free the entry. */
static void give_back(cmp_arena *a, entry *e, cmp_proc_release_fn rel)
{
    holdings *h = HB(a, __atomic_load_n(&e->holdings, __ATOMIC_ACQUIRE));
    for (uint32_t i = 0; h && i < h->cap; i++) {
        uint32_t c = __atomic_load_n(&h->s[i].count, __ATOMIC_ACQUIRE);
        if (!h->s[i].off || !c)
            continue;
        /* Zeroed before it is given back: a reaper that dies here loses
         * this count, and its successor gives back only the others. */
        __atomic_store_n(&h->s[i].count, 0, __ATOMIC_RELEASE);
        rel(a, h->s[i].off, c);
    }
    uint64_t hb = e->holdings;
    __atomic_store_n(&e->holdings, 0, __ATOMIC_RELEASE);
    if (hb)
        cmp_free_meta(a, hb);
    __atomic_store_n(&e->pid, 0, __ATOMIC_RELEASE);
    set_state(e, FREE);
}

int cmp_proc_abandon(cmp_arena *a, uint32_t idx, cmp_proc_release_fn rel)
{
    if (idx == CMP_PROC_NONE)
        return 0;
    entry *e = E(a, idx);
    uint64_t w = __atomic_load_n(&e->word, __ATOMIC_ACQUIRE);
    /* Only while no process has named it: a child that adopted the entry
     * keeps it. */
    if ((state_of(w) != PREPARING && state_of(w) != FORKING) ||
        !__atomic_compare_exchange_n(&e->word, &w,
                                     make_word(REAPING, seq_of(w), cmp_self_owner()),
                                     0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return 0;
    give_back(a, e, rel);
    return 1;
}

int cmp_proc_name(cmp_arena *a, uint32_t idx, uint32_t pid)
{
    if (idx == CMP_PROC_NONE)
        return 0;
    entry *e = E(a, idx);
    uint64_t w = __atomic_load_n(&e->word, __ATOMIC_ACQUIRE);
    if (state_of(w) != FORKING)
        return 0;               /* named already (by the other side) */
    uint32_t start;
    if (pid == cmp_self_pid()) {
        start = cmp_self_proc()->start;
    } else if (!cmp_task_start(pid, &start)) {
        return ESRCH;
    }
    /* Both sides write the same values; the start before the pid, which a
     * reaper reads first. */
    e->start = start;
    __atomic_store_n(&e->pid, pid, __ATOMIC_RELEASE);
    __atomic_compare_exchange_n(&e->word, &w, make_word(ALIVE, seq_of(w), 0), 0,
                                __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
    return 0;
}

/* Is entry idx ALIVE and this process's? */
static int named_self(cmp_arena *a, uint32_t idx)
{
    entry *e = E(a, idx);
    return state_of(__atomic_load_n(&e->word, __ATOMIC_ACQUIRE)) == ALIVE &&
           __atomic_load_n(&e->pid, __ATOMIC_ACQUIRE) == cmp_self_pid();
}

void cmp_proc_become(cmp_arena *a, uint32_t idx)
{
    self_idx = adopted_idx = CMP_PROC_NONE;
    if (idx == CMP_PROC_NONE)
        return;
    cmp_proc_name(a, idx, cmp_self_pid());
    if (named_self(a, idx)) {
        self_idx = idx;
        self_pid = cmp_self_pid();
    }
}

int cmp_proc_adopt(cmp_arena *a, uint32_t idx)
{
    if (idx >= CMP_PROC_MAX)
        return EINVAL;
    if (cmp_proc_owns(idx))
        return 0;
    if (adopted_idx != CMP_PROC_NONE && self_pid == cmp_self_pid())
        return EINVAL;          /* one start, one start entry */
    cmp_proc_name(a, idx, cmp_self_pid());
    if (!named_self(a, idx))
        return ESTALE;          /* abandoned, or not this process's */
    if (self_pid != cmp_self_pid()) {
        self_idx = CMP_PROC_NONE;
        self_pid = cmp_self_pid();
    }
    adopted_idx = idx;
    return 0;
}

void cmp_proc_leave(cmp_arena *a, cmp_proc_release_fn rel)
{
    uint32_t mine[2] = {self_idx, adopted_idx};
    int owned = self_pid == cmp_self_pid();
    self_idx = adopted_idx = CMP_PROC_NONE;
    for (int i = 0; owned && i < 2; i++) {
        if (mine[i] != CMP_PROC_NONE)
            give_back(a, E(a, mine[i]), rel);
    }
}

/* ---- reaping ---------------------------------------------------------- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Is the process of entry `e` (word `w`) gone, so its holdings can go? */
static int dead(entry *e, uint64_t w)
{
    switch (state_of(w)) {
    case ALIVE:
    case FORKING: {
        uint32_t pid = __atomic_load_n(&e->pid, __ATOMIC_ACQUIRE);
        /* An unnamed child may be alive: wait for it to name itself. */
        return pid != 0 && !cmp_task_alive(pid, e->start, 32);
    }
    case PREPARING: {
        uint32_t pid = __atomic_load_n(&e->creator_pid, __ATOMIC_ACQUIRE);
        return pid != 0 && !cmp_task_alive(pid, e->creator_start, 32);
    }
    case REAPING: {
        uint32_t token = (uint32_t)(w >> TOKEN_SHIFT);
        return !cmp_task_alive(cmp_owner_id(token), token >> CMP_OWNER_ID_BITS,
                               CMP_OWNER_STAMP_BITS);
    }
    default:
        return 0;
    }
}

int cmp_proc_reap(cmp_arena *a, cmp_proc_release_fn rel, int force)
{
    table_hdr *t = T(a);
    if (!force) {
        uint64_t now = now_ns(), last = __atomic_load_n(&t->last_scan, __ATOMIC_RELAXED);
        if (now - last < CMP_PROC_SCAN_NS ||
            !__atomic_compare_exchange_n(&t->last_scan, &last, now, 0,
                                         __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            return 0;
    }
    uint32_t hi = __atomic_load_n(&t->hi, __ATOMIC_ACQUIRE);
    uint64_t token = cmp_self_owner();
    int reaped = 0;
    for (uint32_t i = 0; i < hi && i < CMP_PROC_MAX; i++) {
        if (cmp_proc_owns(i))
            continue;
        entry *e = E(a, i);
        uint64_t w = __atomic_load_n(&e->word, __ATOMIC_ACQUIRE);
        if (state_of(w) == FREE || !dead(e, w))
            continue;
        if (!__atomic_compare_exchange_n(&e->word, &w, make_word(REAPING, seq_of(w), token),
                                         0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            continue;
        give_back(a, e, rel);
        reaped++;
    }
    return reaped;
}

int cmp_proc_counts_nothing(cmp_arena *a, uint32_t idx)
{
    return idx == CMP_PROC_NONE || __atomic_load_n(&E(a, idx)->holdings, __ATOMIC_ACQUIRE) == 0;
}

uint32_t cmp_proc_in_use(cmp_arena *a)
{
    table_hdr *t = T(a);
    uint32_t n = 0, hi = __atomic_load_n(&t->hi, __ATOMIC_ACQUIRE);
    for (uint32_t i = 0; i < hi && i < CMP_PROC_MAX; i++)
        n += state_of(__atomic_load_n(&E(a, i)->word, __ATOMIC_ACQUIRE)) != FREE;
    return n;
}
