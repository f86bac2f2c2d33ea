/*
 * arena.c - the shared arena's mapping, allocator and object references.
 * The layout and the states are drawn in arena.h.
 */
#define _GNU_SOURCE
#include "arena.h"

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
#define BLOCK_HDR ((uint64_t)sizeof(cmp_block_hdr))

/* The shared header at offset 0.  Every field but magic, token and size is
 * guarded by `mu`; the stats are also read without it (relaxed). */
typedef struct {
    uint32_t magic;
    uint32_t version;
    uint64_t token;
    uint64_t size;
    uint64_t top;
    uint64_t bytes_in_use;
    uint64_t blocks_in_use;
    uint64_t small_free[CMP_SMALL_CLASSES];  /* payload offsets, 0 = empty */
    uint64_t large_free;    /* block offset of the first free range */
    pthread_mutex_t mu;
} shared_hdr;

/* A free large range, stored just after its block header. */
typedef struct {
    uint64_t next;          /* block offset of the next free range, 0 = end */
    uint64_t len;           /* bytes of the whole range */
} large_node;

struct cmp_arena {
    char *base;
    uint64_t size;
    int fd;
};

_Static_assert(sizeof(shared_hdr) <= HDR_SIZE, "arena header fits a page");
_Static_assert(sizeof(cmp_block_hdr) == 16, "block header keeps alignment");
_Static_assert(sizeof(cmp_obj_hdr) == 16, "object header keeps alignment");

static shared_hdr *H(const cmp_arena *a) { return (shared_hdr *)a->base; }

static void hdr_lock(shared_hdr *h)
{
    /* A process killed inside the allocator leaves the mutex to the next
     * taker: the lists are updated so that an interrupted step at worst
     * leaks the block in hand. */
    if (pthread_mutex_lock(&h->mu) == EOWNERDEAD)
        pthread_mutex_consistent(&h->mu);
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
    h->top = HDR_SIZE;
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
uint64_t cmp_arena_token(const cmp_arena *a) { return H(a)->token; }

void cmp_arena_get_stats(cmp_arena *a, cmp_arena_stats *st)
{
    shared_hdr *h = H(a);
    hdr_lock(h);
    st->size = h->size;
    st->top = h->top;
    st->bytes_in_use = h->bytes_in_use;
    st->blocks_in_use = h->blocks_in_use;
    st->token = h->token;
    hdr_unlock(h);
}

static cmp_block_hdr *block_of(const cmp_arena *a, uint64_t payload_off)
{
    return (cmp_block_hdr *)(a->base + payload_off - BLOCK_HDR);
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

/* Take *len bytes (a page multiple) of free large range, first fit; 0 when
 * none fits.  A remainder under a page goes with the range (*len grows). */
static uint64_t large_take(cmp_arena *a, shared_hdr *h, uint64_t *lenp)
{
    uint64_t len = *lenp;
    uint64_t *link = &h->large_free;
    while (*link) {
        uint64_t off = *link;
        large_node *n = (large_node *)(a->base + off + BLOCK_HDR);
        if (n->len >= len) {
            if (n->len - len >= PAGE) {
                uint64_t rest = off + len;
                large_node *r = (large_node *)(a->base + rest + BLOCK_HDR);
                r->next = n->next;
                r->len = n->len - len;
                *link = rest;
            } else {
                *lenp = n->len;
                *link = n->next;
            }
            return off;
        }
        link = &n->next;
    }
    return 0;
}

uint64_t cmp_alloc(cmp_arena *a, uint64_t size, int *err)
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
        unsigned k = small_class(size);
        uint64_t csize = (uint64_t)CMP_SMALL_MIN << k;
        payload = h->small_free[k];
        if (payload) {
            h->small_free[k] = *(uint64_t *)(a->base + payload);
        } else {
            if (h->top + BLOCK_HDR + csize > h->size)
                goto nomem;
            payload = h->top + BLOCK_HDR;
            h->top += BLOCK_HDR + csize;
            cmp_block_hdr *b = block_of(a, payload);
            b->klass = k;
            b->size = csize;
        }
    } else {
        uint64_t len = (size + BLOCK_HDR + PAGE - 1) & ~(uint64_t)(PAGE - 1);
        uint64_t off = large_take(a, h, &len);
        if (!off) {
            uint64_t start = (h->top + PAGE - 1) & ~(uint64_t)(PAGE - 1);
            if (start + len > h->size)
                goto nomem;
            off = start;
            h->top = start + len;
        }
        cmp_block_hdr *b = (cmp_block_hdr *)(a->base + off);
        b->klass = CMP_LARGE_CLASS;
        b->size = len - BLOCK_HDR;
        payload = off + BLOCK_HDR;
    }
    cmp_block_hdr *b = block_of(a, payload);
    b->generation++;
    h->bytes_in_use += b->size;
    h->blocks_in_use++;
    hdr_unlock(h);
    return payload;
nomem:
    hdr_unlock(h);
    *err = ENOMEM;
    return 0;
}

/* Return a freed large range to the address-ordered list, merging it with
 * its neighbours, and give its pages back to the kernel. */
static void large_put(cmp_arena *a, shared_hdr *h, uint64_t off, uint64_t len)
{
    uint64_t *link = &h->large_free;
    uint64_t prev = 0;
    while (*link && *link < off) {
        prev = *link;
        link = &((large_node *)(a->base + prev + BLOCK_HDR))->next;
    }
    uint64_t next = *link;
    large_node *n = (large_node *)(a->base + off + BLOCK_HDR);
    n->len = len;
    n->next = next;
    if (next && off + len == next) {
        large_node *m = (large_node *)(a->base + next + BLOCK_HDR);
        n->len += m->len;
        n->next = m->next;
    }
    *link = off;
    if (prev) {
        large_node *p = (large_node *)(a->base + prev + BLOCK_HDR);
        if (prev + p->len == off) {
            p->len += n->len;
            p->next = n->next;
            off = prev;
            n = p;
        }
    }
    /* Keep the first page (it holds the node); drop the rest. */
    if (n->len > PAGE)
        fallocate(a->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  (off_t)(off + PAGE), (off_t)(n->len - PAGE));
}

void cmp_free(cmp_arena *a, uint64_t payload)
{
    shared_hdr *h = H(a);
    cmp_block_hdr *b = block_of(a, payload);
    hdr_lock(h);
    h->bytes_in_use -= b->size;
    h->blocks_in_use--;
    if (b->klass == CMP_LARGE_CLASS) {
        large_put(a, h, payload - BLOCK_HDR, b->size + BLOCK_HDR);
    } else {
        *(uint64_t *)(a->base + payload) = h->small_free[b->klass];
        h->small_free[b->klass] = payload;
    }
    hdr_unlock(h);
}

uint64_t cmp_block_size(cmp_arena *a, uint64_t off) { return block_of(a, off)->size; }

uint32_t cmp_block_generation(cmp_arena *a, uint64_t off)
{
    return block_of(a, off)->generation;
}

uint64_t cmp_obj_new(cmp_arena *a, uint32_t kind, uint64_t size, int *err)
{
    uint64_t off = cmp_alloc(a, sizeof(cmp_obj_hdr) + size, err);
    if (!off)
        return 0;
    memset(a->base + off, 0, sizeof(cmp_obj_hdr) + size);
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

int cmp_obj_transfer_in(cmp_arena *a, uint64_t off, uint32_t generation,
                        uint32_t kind)
{
    shared_hdr *h = H(a);
    if (off < HDR_SIZE + BLOCK_HDR || off >= h->top || (off & 15) != 0)
        return EINVAL;
    if (block_of(a, off)->generation != generation)
        return ESTALE;
    cmp_obj_hdr *o = cmp_obj(a, off);
    /* Adopt a pending transfer if there is one left. */
    uint32_t p = __atomic_load_n(&o->pending, __ATOMIC_ACQUIRE);
    while (p > 0) {
        if (__atomic_compare_exchange_n(&o->pending, &p, p - 1, 1,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            goto check_kind;
    }
    /* Every transfer was adopted already: take a fresh reference, but only
     * while the object is alive. */
    uint32_t r = __atomic_load_n(&o->refs, __ATOMIC_ACQUIRE);
    do {
        if (r == 0)
            return ESTALE;
    } while (!__atomic_compare_exchange_n(&o->refs, &r, r + 1, 1,
                                          __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
check_kind:
    if (o->kind != kind) {
        if (cmp_obj_decref(a, off))
            cmp_free(a, off);
        return EINVAL;
    }
    return 0;
}
