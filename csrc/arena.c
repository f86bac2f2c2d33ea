/*
 * arena.c - the shared arena's mapping, allocator and object references.
 * The layout and the states are drawn in arena.h.
 */
#define _GNU_SOURCE
#include "arena.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define HDR_SIZE 4096u
#define PAGE 4096u
#define SPAN (64u * 1024u)
#define SPAN_HDR 64u                    /* block header + span info */
#define BLOCK_HDR ((uint64_t)sizeof(cmp_block_hdr))

/* States of a free range's pages (range_node.state). */
#define RANGE_RESIDENT 0u   /* every page is backed: hand out without a call */
#define RANGE_HOLEY 1u      /* only the first page (the node) is sure to be */

/* The shared header at offset 0.  Every field but magic, token, size and
 * data is guarded by `mu`; the stats are also read without it (relaxed). */
typedef struct {
    uint32_t magic;
    uint32_t version;
    uint64_t token;
    uint64_t size;
    uint64_t top;           /* first never-used byte (page aligned) */
    uint64_t bytes_in_use;
    uint64_t blocks_in_use;
    uint64_t meta_bytes;    /* of the blocks the arena's own tables use */
    uint64_t spans[CMP_SMALL_CLASSES];  /* spans with room, per class */
    uint64_t ranges;        /* block offset of the first free range */
    uint64_t free_resident; /* bytes of RANGE_RESIDENT free ranges */
    uint64_t data;          /* offset of the first range (after the table) */
    uint64_t procs;         /* offset of the process table (proc.h) */
    uint32_t next_gen;      /* the next live (odd) generation */
    uint32_t pad;
    pthread_mutex_t mu;
} shared_hdr;

/* A free range, stored just after its block header. */
typedef struct {
    uint64_t next;          /* block offset of the next free range, 0 = end */
    uint64_t len;           /* bytes of the whole range */
    uint32_t state;         /* RANGE_RESIDENT or RANGE_HOLEY */
    uint32_t pad;
} range_node;

/* A span's bookkeeping, just after its block header (CMP_SPAN_CLASS). */
typedef struct {
    uint32_t klass;         /* the size class of its blocks */
    uint32_t live;          /* blocks handed out */
    uint32_t carved;        /* blocks carved so far, from the front */
    uint32_t capacity;      /* blocks that fit */
    uint64_t free;          /* payload offset of the first free block, 0 = none */
    uint64_t next, prev;    /* neighbours in the class's list (spans with room) */
} span_info;

_Static_assert(BLOCK_HDR + sizeof(span_info) <= SPAN_HDR, "span header fits");
_Static_assert(SPAN_HDR % 16 == 0, "blocks keep 16-byte alignment");

struct cmp_arena {
    char *base;
    uint64_t size;
    int fd;
};

_Static_assert(sizeof(shared_hdr) <= HDR_SIZE, "arena header fits a page");
_Static_assert(sizeof(cmp_block_hdr) == 16, "block header keeps alignment");
_Static_assert(sizeof(cmp_obj_hdr) == 16, "object header keeps alignment");

static shared_hdr *H(const cmp_arena *a) { return (shared_hdr *)a->base; }

static span_info *span_at(const char *base, uint64_t off);

/* After a death inside the allocator: every list is whole walking forward
 * (each step writes its forward link first); mend the backward links. */
static void repair(shared_hdr *h)
{
    const char *base = (const char *)h;
    for (unsigned k = 0; k < CMP_SMALL_CLASSES; k++) {
        uint64_t prev = 0;
        for (uint64_t s = h->spans[k]; s; s = span_at(base, s)->next) {
            span_at(base, s)->prev = prev;
            prev = s;
        }
    }
}

static void hdr_lock(shared_hdr *h)
{
    /* A process killed inside the allocator leaves the mutex to the next
     * taker: the lists are updated so that an interrupted step at worst
     * leaks the block or range in hand. */
    if (pthread_mutex_lock(&h->mu) == EOWNERDEAD) {
        repair(h);
        pthread_mutex_consistent(&h->mu);
    }
}

static void hdr_unlock(shared_hdr *h) { pthread_mutex_unlock(&h->mu); }

int cmp_arena_create(uint64_t size, cmp_arena **out)
{
    if (size == 0)
        size = CMP_ARENA_DEFAULT_SIZE;
    if (size < CMP_ARENA_MIN_SIZE)
        size = CMP_ARENA_MIN_SIZE;
    size = (size + PAGE - 1) & ~(uint64_t)(PAGE - 1);

    cmp_arena *a = calloc(1, sizeof *a);
    if (!a)
        return ENOMEM;
    int fd = memfd_create("cmp-arena", MFD_CLOEXEC);
    if (fd < 0)
        goto fail_errno;
    if (ftruncate(fd, (off_t)size) < 0)
        goto fail_fd;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_NORESERVE, fd, 0);
    if (p == MAP_FAILED)
        goto fail_fd;
    a->base = p;
    a->size = size;
    a->fd = fd;
    /* The header and the range map are written from here on: back them now
     * (a full tmpfs is an error here, not a SIGBUS later). */
    uint64_t procs = HDR_SIZE + ((size / PAGE + 8 * PAGE - 1) / (8 * PAGE)) * PAGE;
    uint64_t data = procs + CMP_PROC_REGION;
    if (fallocate(fd, 0, 0, (off_t)data) < 0) {
        munmap(p, size);
        goto fail_fd;
    }

    shared_hdr *h = H(a);
    uint64_t token = 0;
    while (token == 0) {
        if (getrandom(&token, sizeof token, 0) != (ssize_t)sizeof token)
            token = (uint64_t)getpid() * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)p;
    }
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&h->mu, &attr);
    pthread_mutexattr_destroy(&attr);
    h->token = token;
    h->size = size;
    h->data = data;
    h->procs = procs;
    h->top = data;
    h->next_gen = 1;
    h->version = CMP_ARENA_VERSION;
    __atomic_store_n(&h->magic, CMP_ARENA_MAGIC, __ATOMIC_RELEASE);
    *out = a;
    return 0;

fail_fd:;
    int e = errno;
    close(fd);
    free(a);
    return e;
fail_errno:
    e = errno;
    free(a);
    return e;
}

/* What cmp_arena_join reads before it maps anything: the header's first
 * fields, whose offsets every version keeps. */
typedef struct {
    uint32_t magic;
    uint32_t version;
    uint64_t token;
    uint64_t size;
} fixed_hdr;

_Static_assert(offsetof(shared_hdr, token) == offsetof(fixed_hdr, token) &&
               offsetof(shared_hdr, size) == offsetof(fixed_hdr, size),
               "the fixed header fields open the shared header");

int cmp_arena_join(int fd, uint64_t token, cmp_arena **out)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return errno;
    /* Only a memfd (or tmpfs file) answers F_GET_SEALS. */
    if (!S_ISREG(st.st_mode) || fcntl(fd, F_GET_SEALS) < 0)
        return EINVAL;
    fixed_hdr f;
    if (pread(fd, &f, sizeof f, 0) != (ssize_t)sizeof f)
        return EINVAL;
    if (f.magic != CMP_ARENA_MAGIC || f.version != CMP_ARENA_VERSION ||
        f.size != (uint64_t)st.st_size || f.size < CMP_ARENA_MIN_SIZE ||
        (token != 0 && f.token != token))
        return EINVAL;
    cmp_arena *a = calloc(1, sizeof *a);
    if (!a)
        return ENOMEM;
    void *p = mmap(NULL, f.size, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_NORESERVE, fd, 0);
    if (p == MAP_FAILED) {
        int e = errno;
        free(a);
        return e;
    }
    /* The fd was passed to this process without close-on-exec. */
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    a->base = p;
    a->size = f.size;
    a->fd = fd;
    *out = a;
    return 0;
}

int cmp_arena_fd(const cmp_arena *a) { return a->fd; }

void cmp_arena_destroy(cmp_arena *a)
{
    if (!a)
        return;
    munmap(a->base, a->size);
    close(a->fd);
    free(a);
}

char *cmp_arena_base(const cmp_arena *a) { return a->base; }
void *cmp_arena_procs(const cmp_arena *a) { return a->base + H(a)->procs; }
uint64_t cmp_arena_token(const cmp_arena *a) { return H(a)->token; }

void cmp_arena_get_stats(cmp_arena *a, cmp_arena_stats *st)
{
    shared_hdr *h = H(a);
    hdr_lock(h);
    st->size = h->size;
    st->top = h->top;
    st->bytes_in_use = h->bytes_in_use;
    st->blocks_in_use = h->blocks_in_use;
    st->meta_bytes = h->meta_bytes;
    st->token = h->token;
    st->free_resident = h->free_resident;
    hdr_unlock(h);
    struct stat sb;
    st->resident = fstat(a->fd, &sb) == 0 ? (uint64_t)sb.st_blocks * 512 : 0;
}

static cmp_block_hdr *block_of(const cmp_arena *a, uint64_t payload_off)
{
    return (cmp_block_hdr *)(a->base + payload_off - BLOCK_HDR);
}

static cmp_block_hdr *hdr_at(const cmp_arena *a, uint64_t off)
{
    return (cmp_block_hdr *)(a->base + off);
}

static range_node *node_at(const cmp_arena *a, uint64_t off)
{
    return (range_node *)(a->base + off + BLOCK_HDR);
}

static span_info *span_at(const char *base, uint64_t off)
{
    return (span_info *)(base + off + BLOCK_HDR);
}

static unsigned small_class(uint64_t size)
{
    unsigned k = 0;
    uint64_t c = CMP_SMALL_MIN;
    while (c < size) {
        c <<= 1;
        k++;
    }
    return k;
}

static uint64_t take_generation(shared_hdr *h)
{
    uint32_t g = h->next_gen;
    h->next_gen += 2;       /* odd values only: odd is LIVE */
    return g;
}

/* ---- the range map: one bit per page, set where a range starts --------- */

static int mapped(const cmp_arena *a, uint64_t off)
{
    uint64_t pg = off / PAGE;
    return (((uint8_t *)a->base + HDR_SIZE)[pg >> 3] >> (pg & 7)) & 1;
}

static void map_mark(const cmp_arena *a, uint64_t off, int on)
{
    uint64_t pg = off / PAGE;
    uint8_t *byte = (uint8_t *)a->base + HDR_SIZE + (pg >> 3);
    if (on)
        *byte |= (uint8_t)(1u << (pg & 7));
    else
        *byte &= (uint8_t)~(1u << (pg & 7));
}

/* ---- ranges of pages ------------------------------------------------------ */

/* Back [off, off+len) with memory now: ENOMEM when the kernel has none. */
static int reserve(const cmp_arena *a, uint64_t off, uint64_t len)
{
    return fallocate(a->fd, 0, (off_t)off, (off_t)len) < 0 ? ENOMEM : 0;
}

static void punch(const cmp_arena *a, uint64_t off, uint64_t len)
{
    if (len)
        (void)fallocate(a->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                        (off_t)off, (off_t)len);
}

/* Give the pages of every resident free range back to the kernel (all but
 * each node's first page) and merge the neighbours that differing states
 * kept apart. */
static void ranges_trim(cmp_arena *a, shared_hdr *h)
{
    uint64_t prev = 0, off = h->ranges;
    while (off) {
        range_node *n = node_at(a, off);
        if (n->state == RANGE_RESIDENT) {
            punch(a, off + PAGE, n->len - PAGE);
            n->state = RANGE_HOLEY;
        }
        if (prev && prev + node_at(a, prev)->len == off) {
            range_node *p = node_at(a, prev);
            p->len += n->len;
            p->next = n->next;
            off = p->next;
            punch(a, prev + p->len - n->len, PAGE);   /* n's node page */
            continue;
        }
        prev = off;
        off = n->next;
    }
    h->free_resident = 0;
}

/* Put a freed range (every page resident) on the address-ordered list,
 * merged with resident neighbours; give pages back past the budget. */
static void range_put(cmp_arena *a, shared_hdr *h, uint64_t off, uint64_t len)
{
    uint64_t *link = &h->ranges;
    uint64_t prev = 0;
    while (*link && *link < off) {
        prev = *link;
        link = &node_at(a, prev)->next;
    }
    uint64_t next = *link;
    range_node *n = node_at(a, off);
    n->len = len;
    n->state = RANGE_RESIDENT;
    n->next = next;
    if (next && off + len == next && node_at(a, next)->state == RANGE_RESIDENT) {
        range_node *m = node_at(a, next);
        n->len += m->len;
        n->next = m->next;
    }
    *link = off;
    h->free_resident += len;
    if (prev) {
        range_node *p = node_at(a, prev);
        if (prev + p->len == off && p->state == RANGE_RESIDENT) {
            p->len += n->len;
            p->next = n->next;
        }
    }
    if (h->free_resident > CMP_ARENA_KEEP_FREE)
        ranges_trim(a, h);
}

/* Take `len` bytes at an `align`ed offset from the first free range they
 * fit in.  Returns the offset, or 0 (*err: 0 when nothing fits, ENOMEM when
 * the kernel cannot back the pages). */
static uint64_t range_take(cmp_arena *a, shared_hdr *h, uint64_t len,
                           uint64_t align, int *err)
{
    for (uint64_t *link = &h->ranges; *link; link = &node_at(a, *link)->next) {
        uint64_t off = *link;
        range_node *n = node_at(a, off);
        uint64_t s = (off + align - 1) & ~(align - 1);
        uint64_t end = off + n->len;
        if (s + len > end)
            continue;
        uint64_t tail = end - (s + len);
        uint32_t state = n->state;
        /* The pages handed out, and the page the tail's node goes in. */
        if (state == RANGE_HOLEY && reserve(a, s, len + (tail ? PAGE : 0))) {
            *err = ENOMEM;
            return 0;
        }
        uint64_t next = n->next;
        if (tail) {
            range_node *t = node_at(a, s + len);
            t->next = next;
            t->len = tail;
            t->state = state;
            next = s + len;
        }
        if (s > off) {
            n->next = next;         /* the front stays, shortened */
            n->len = s - off;
        } else {
            *link = next;
        }
        if (state == RANGE_RESIDENT)
            h->free_resident -= len;
        return s;
    }
    return 0;
}

/* A range of `len` bytes (page multiple) aligned to `align`, recorded in
 * the range map: from the free list, else from never-used memory. */
static uint64_t range_get(cmp_arena *a, shared_hdr *h, uint64_t len,
                          uint64_t align, int *err)
{
    *err = 0;
    uint64_t off = range_take(a, h, len, align, err);
    if (!off && !*err && h->free_resident) {
        ranges_trim(a, h);          /* merges what the states kept apart */
        off = range_take(a, h, len, align, err);
    }
    if (!off && !*err) {
        uint64_t start = (h->top + align - 1) & ~(align - 1);
        if (start + len > h->size || reserve(a, h->top, start + len - h->top)) {
            *err = ENOMEM;
            return 0;
        }
        uint64_t gap = h->top;
        h->top = start + len;
        off = start;
        if (start > gap)
            range_put(a, h, gap, start - gap);
    }
    if (off)
        map_mark(a, off, 1);
    return off;
}

static void range_free(cmp_arena *a, shared_hdr *h, uint64_t off, uint64_t len)
{
    map_mark(a, off, 0);
    range_put(a, h, off, len);
}

/* ---- spans of one size class ------------------------------------------- */

static uint64_t block_stride(unsigned k) { return BLOCK_HDR + ((uint64_t)CMP_SMALL_MIN << k); }

static void span_link(char *base, shared_hdr *h, uint64_t s)
{
    span_info *sp = span_at(base, s);
    sp->prev = 0;
    sp->next = h->spans[sp->klass];
    if (sp->next)
        span_at(base, sp->next)->prev = s;
    h->spans[sp->klass] = s;
}

static void span_unlink(char *base, shared_hdr *h, uint64_t s)
{
    /* The forward link first: a death between the two writes leaves a list
     * that hdr_lock's repair walks forward and mends. */
    span_info *sp = span_at(base, s);
    if (sp->prev)
        span_at(base, sp->prev)->next = sp->next;
    else
        h->spans[sp->klass] = sp->next;
    if (sp->next)
        span_at(base, sp->next)->prev = sp->prev;
}

static uint64_t span_new(cmp_arena *a, shared_hdr *h, unsigned k, int *err)
{
    uint64_t s = range_get(a, h, SPAN, SPAN, err);
    if (!s)
        return 0;
    cmp_block_hdr *b = hdr_at(a, s);
    b->size = SPAN - BLOCK_HDR;
    b->klass = CMP_SPAN_CLASS;
    b->generation = 0;
    span_info *sp = span_at(a->base, s);
    sp->klass = k;
    sp->live = 0;
    sp->carved = 0;
    sp->capacity = (uint32_t)((SPAN - SPAN_HDR) / block_stride(k));
    sp->free = 0;
    span_link(a->base, h, s);
    return s;
}

static uint64_t small_alloc(cmp_arena *a, shared_hdr *h, uint64_t size, int *err)
{
    unsigned k = small_class(size);
    uint64_t s = h->spans[k];
    if (!s && !(s = span_new(a, h, k, err)))
        return 0;
    span_info *sp = span_at(a->base, s);
    uint64_t payload = sp->free;
    if (payload) {
        sp->free = *(uint64_t *)(a->base + payload);
    } else {
        payload = s + SPAN_HDR + sp->carved * block_stride(k) + BLOCK_HDR;
        cmp_block_hdr *b = block_of(a, payload);
        b->size = (uint64_t)CMP_SMALL_MIN << k;
        b->klass = k;
        sp->carved++;
    }
    if (++sp->live == sp->capacity)
        span_unlink(a->base, h, s);
    return payload;
}

static void small_free(cmp_arena *a, shared_hdr *h, uint64_t payload)
{
    uint64_t s = payload & ~(uint64_t)(SPAN - 1);
    span_info *sp = span_at(a->base, s);
    *(uint64_t *)(a->base + payload) = sp->free;
    sp->free = payload;
    if (sp->live-- == sp->capacity)
        span_link(a->base, h, s);
    /* An empty span goes back to the ranges, unless it is its class's only
     * span with room (one kept per class, so one block put and freed in a
     * loop does not take and give back a span each time). */
    if (sp->live == 0 && (h->spans[sp->klass] != s || sp->next)) {
        span_unlink(a->base, h, s);
        range_free(a, h, s, SPAN);
    }
}

/* ---- blocks ------------------------------------------------------------ */

static uint64_t alloc_block(cmp_arena *a, uint64_t size, int *err, int meta)
{
    shared_hdr *h = H(a);
    if (size == 0)
        size = 1;
    if (size > h->size) {
        *err = ENOMEM;
        return 0;
    }
    uint64_t payload;
    hdr_lock(h);
    if (size <= CMP_SMALL_MAX) {
        payload = small_alloc(a, h, size, err);
        if (!payload)
            goto fail;
    } else {
        uint64_t len = (size + BLOCK_HDR + PAGE - 1) & ~(uint64_t)(PAGE - 1);
        uint64_t off = range_get(a, h, len, PAGE, err);
        if (!off)
            goto fail;
        cmp_block_hdr *b = hdr_at(a, off);
        b->klass = CMP_LARGE_CLASS;
        b->size = len - BLOCK_HDR;
        payload = off + BLOCK_HDR;
    }
    cmp_block_hdr *b = block_of(a, payload);
    b->generation = take_generation(h);
    if (meta) {
        h->meta_bytes += b->size;
    } else {
        h->bytes_in_use += b->size;
        h->blocks_in_use++;
    }
    hdr_unlock(h);
    return payload;
fail:
    hdr_unlock(h);
    return 0;
}

static void free_block(cmp_arena *a, uint64_t payload, int meta)
{
    shared_hdr *h = H(a);
    cmp_block_hdr *b = block_of(a, payload);
    hdr_lock(h);
    if (meta) {
        h->meta_bytes -= b->size;
    } else {
        h->bytes_in_use -= b->size;
        h->blocks_in_use--;
    }
    b->generation++;        /* even: FREE */
    if (b->klass == CMP_LARGE_CLASS)
        range_free(a, h, payload - BLOCK_HDR, b->size + BLOCK_HDR);
    else
        small_free(a, h, payload);
    hdr_unlock(h);
}

uint64_t cmp_alloc(cmp_arena *a, uint64_t size, int *err)
{
    return alloc_block(a, size, err, 0);
}

void cmp_free(cmp_arena *a, uint64_t off) { free_block(a, off, 0); }

uint64_t cmp_alloc_meta(cmp_arena *a, uint64_t size, int *err)
{
    return alloc_block(a, size, err, 1);
}

void cmp_free_meta(cmp_arena *a, uint64_t off) { free_block(a, off, 1); }

uint64_t cmp_block_size(cmp_arena *a, uint64_t off) { return block_of(a, off)->size; }

uint32_t cmp_block_generation(cmp_arena *a, uint64_t off)
{
    return block_of(a, off)->generation;
}

/* Under the mutex: 0 when `off` is the payload of a LIVE block of
 * generation `gen`, else ESTALE (EINVAL when it is outside the blocks). */
static int check_block(const cmp_arena *a, const shared_hdr *h, uint64_t off,
                       uint32_t gen)
{
    if (off < h->data + BLOCK_HDR || off >= h->top || (off & 15) != 0)
        return EINVAL;
    uint64_t b = off - BLOCK_HDR;
    if (!((b & (PAGE - 1)) == 0 && mapped(a, b) && hdr_at(a, b)->klass == CMP_LARGE_CLASS)) {
        /* Not a large block: a block of the span it would lie in? */
        uint64_t s = off & ~(uint64_t)(SPAN - 1);
        if (s < h->data || !mapped(a, s) || hdr_at(a, s)->klass != CMP_SPAN_CLASS
            || off < s + SPAN_HDR + BLOCK_HDR)
            return ESTALE;
        const span_info *sp = span_at(a->base, s);
        uint64_t rel = off - (s + SPAN_HDR + BLOCK_HDR);
        uint64_t stride = block_stride(sp->klass);
        if (rel % stride != 0 || rel / stride >= sp->carved)
            return ESTALE;
    }
    return block_of(a, off)->generation == gen && (gen & 1) ? 0 : ESTALE;
}

uint64_t cmp_obj_new(cmp_arena *a, uint32_t kind, uint64_t size, int *err)
{
    return cmp_obj_new_partly_zeroed(a, kind, size, size, err);
}

uint64_t cmp_obj_new_partly_zeroed(cmp_arena *a, uint32_t kind, uint64_t size,
                                   uint64_t zeroed, int *err)
{
    uint64_t off = cmp_alloc(a, sizeof(cmp_obj_hdr) + size, err);
    if (!off)
        return 0;
    memset(a->base + off, 0, sizeof(cmp_obj_hdr) + (zeroed < size ? zeroed : size));
    cmp_obj_hdr *o = cmp_obj(a, off);
    o->kind = kind;
    /* Release: the zeroed body is visible before anyone sees refs != 0. */
    __atomic_store_n(&o->refs, 1, __ATOMIC_RELEASE);
    return off;
}

void cmp_obj_incref(cmp_arena *a, uint64_t off)
{
    /* Relaxed: the caller already holds a reference, so nothing is
     * published by this increment. */
    __atomic_fetch_add(&cmp_obj(a, off)->refs, 1, __ATOMIC_RELAXED);
}

int cmp_obj_release(cmp_arena *a, uint64_t off, uint32_t n)
{
    /* AcqRel, as a decref. */
    return __atomic_sub_fetch(&cmp_obj(a, off)->refs, n, __ATOMIC_ACQ_REL) == 0;
}

int cmp_obj_decref(cmp_arena *a, uint64_t off)
{
    /* AcqRel: the last dropper must see every write the others made before
     * they let go, and its own writes must not move after the drop. */
    return __atomic_sub_fetch(&cmp_obj(a, off)->refs, 1, __ATOMIC_ACQ_REL) == 0;
}

void cmp_obj_transfer_out(cmp_arena *a, uint64_t off)
{
    cmp_obj_hdr *o = cmp_obj(a, off);
    __atomic_fetch_add(&o->refs, 1, __ATOMIC_RELAXED);      /* held: see incref */
    __atomic_fetch_add(&o->pending, 1, __ATOMIC_RELEASE);
}

/* Under the mutex: adopt a pending transfer, or take a fresh reference
 * while the object is alive. */
static int take_transfer(cmp_obj_hdr *o)
{
    uint32_t p = __atomic_load_n(&o->pending, __ATOMIC_ACQUIRE);
    while (p > 0) {
        if (__atomic_compare_exchange_n(&o->pending, &p, p - 1, 1,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            return 0;
    }
    uint32_t r = __atomic_load_n(&o->refs, __ATOMIC_ACQUIRE);
    do {
        if (r == 0)
            return ESTALE;
    } while (!__atomic_compare_exchange_n(&o->refs, &r, r + 1, 1,
                                          __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
    return 0;
}

int cmp_obj_check(cmp_arena *a, uint64_t off, uint32_t generation, uint32_t kind)
{
    shared_hdr *h = H(a);
    hdr_lock(h);
    int rc = check_block(a, h, off, generation);
    hdr_unlock(h);
    if (rc == 0 && cmp_obj(a, off)->kind != kind)
        rc = EINVAL;
    return rc;
}

int cmp_obj_transfer_in(cmp_arena *a, uint64_t off, uint32_t generation,
                        uint32_t kind)
{
    shared_hdr *h = H(a);
    /* The mutex keeps the block from being freed or reused between the
     * check and the reference taken (cmp_free takes it too). */
    hdr_lock(h);
    int rc = check_block(a, h, off, generation);
    if (rc == 0)
        rc = take_transfer(cmp_obj(a, off));
    hdr_unlock(h);
    if (rc)
        return rc;
    if (cmp_obj(a, off)->kind != kind) {
        if (cmp_obj_decref(a, off))
            cmp_free(a, off);
        return EINVAL;
    }
    return 0;
}
