/*
 * arena.h - the shared-memory arena every cmp object lives in.
 *
 * One arena per process tree: a memfd mapped MAP_SHARED, reserved large and
 * backed lazily by the kernel.  The first process of a tree creates it when
 * it imports cmp, so every process forked afterwards maps it at the same
 * address.  A process started by cmp's spawn or forkserver method gets the
 * memfd with its start (the fd is the only thing passed: nothing is named in
 * the file system) and joins the arena when it imports cmp, before it can
 * allocate anything (cmp_arena_join); it maps it at another address, which
 * is why objects are named by their offset from the arena's base, so a
 * reference can be pickled and rebuilt in any process of the tree.  The
 * memfd is close-on-exec in every process: only a child started for the
 * purpose gets it.
 *
 * Layout (offsets from the base):
 *
 *   0            cmp_arena_hdr: magic, version, token, size (at these
 *                fixed offsets, which cmp_arena_join checks), bump pointer,
 *                the allocator's robust process-shared mutex, free lists,
 *                stats
 *   4096         the range map: one bit per page, set on the first page of
 *                every range handed out (a large block or a span)
 *   after the map  the process table (proc.h): who holds which object
 *   data         ranges of whole pages, each starting with a cmp_block_hdr:
 *
 *     large block  [cmp_block_hdr klass=CMP_LARGE_CLASS][payload ...]
 *     span         [cmp_block_hdr klass=CMP_SPAN_CLASS][span info]
 *                  [cmp_block_hdr][payload of one size class] x n
 *     free range   [cmp_block_hdr][free-range node] (pages after the first
 *                  may be holes given back to the kernel)
 *
 *   payloads are 16-byte aligned
 *
 * Requests of up to CMP_SMALL_MAX bytes are served by power-of-two size
 * classes carved from 64 KiB spans (one LIFO free list per span); a span
 * whose last block is freed goes back to the ranges (each class keeps one
 * empty span to avoid churn).  Larger requests take whole pages.  Free
 * ranges sit on one address-ordered list and are merged with their
 * neighbours, so memory freed by any class serves any later request.  The
 * pages of free ranges go back to the kernel (fallocate PUNCH_HOLE) once
 * more than CMP_ARENA_KEEP_FREE bytes of them are resident; pages are
 * reserved again (fallocate) before a range is handed out, so a full
 * tmpfs or memory cgroup is ENOMEM from the allocating call, never a
 * SIGBUS at the first touch.
 *
 * A process killed inside the allocator (the robust mutex passes to the
 * next taker) costs at most the block or range it had in hand.
 *
 * A shared object is a block whose payload starts with cmp_obj_hdr:
 *
 *   refs     shared reference count: one per Python wrapper in any process,
 *            one per pickled reference not yet rebuilt
 *   kind     which primitive lives here (CMP_KIND_*)
 *   pending  pickled references not yet rebuilt ("transfers")
 *
 * States of a block, told by its generation: LIVE (odd: handed out; an
 * object is LIVE while refs >= 1) -> FREE (even) when freed.  Every
 * allocation takes a fresh odd generation from one arena-wide counter, and
 * a pickled reference is checked against the range map and the block's
 * generation under the allocator's mutex, so a stale reference is told
 * apart from the block's next occupant and from memory that is no longer
 * a block at all.
 */
#ifndef CMP_ARENA_H
#define CMP_ARENA_H

#include <stddef.h>
#include <stdint.h>

#define CMP_ARENA_MAGIC 0x636d7061u     /* "cmpa" */
#define CMP_ARENA_VERSION 3u            /* bumped when the layout changes */
#define CMP_ARENA_DEFAULT_SIZE (8ULL << 30)
#define CMP_ARENA_MIN_SIZE (1ULL << 20)
#define CMP_SMALL_MIN 16u
#define CMP_SMALL_CLASSES 8             /* 16 B .. 2 KiB */
#define CMP_SMALL_MAX (CMP_SMALL_MIN << (CMP_SMALL_CLASSES - 1))
#define CMP_LARGE_CLASS 0xffffffffu
#define CMP_SPAN_CLASS 0xfffffffeu
#define CMP_ARENA_KEEP_FREE (8ULL << 20)   /* resident free bytes kept */

typedef struct cmp_arena cmp_arena;

typedef struct {
    uint64_t size;          /* usable payload bytes */
    uint32_t klass;         /* size class, or CMP_LARGE_CLASS */
    uint32_t generation;    /* bumped on every allocation */
} cmp_block_hdr;

typedef struct {
    uint32_t refs;
    uint32_t kind;
    uint32_t pending;
    uint32_t flags;         /* kind-specific, free for the kind to use */
} cmp_obj_hdr;

typedef struct {
    uint64_t size;          /* reserved bytes */
    uint64_t top;           /* bump pointer: first never-used byte */
    uint64_t bytes_in_use;  /* payload bytes of live blocks */
    uint64_t blocks_in_use;
    uint64_t meta_bytes;    /* blocks of the arena's own tables (not above) */
    uint64_t token;
    uint64_t resident;      /* bytes of the arena's pages in memory */
    uint64_t free_resident; /* of which free ranges not yet given back */
} cmp_arena_stats;

/* Create and map a new arena of `size` reserved bytes (0: the default).
 * Returns 0 or an errno. */
int cmp_arena_create(uint64_t size, cmp_arena **out);
/* Map the arena another process of the tree created, from its memfd `fd`
 * (inherited through the start of this process).  Checks first that fd is
 * a memfd whose header carries CMP_ARENA_MAGIC, CMP_ARENA_VERSION, the
 * file's own size and `token` (0: any token).  On success the arena owns fd
 * and has made it close-on-exec again.  Returns 0, EINVAL when fd is not
 * such an arena (nothing is mapped, fd is left alone), or the errno of a
 * failed fstat/mmap. */
int cmp_arena_join(int fd, uint64_t token, cmp_arena **out);
/* Unmap and close (the memory goes when every process has let go). */
void cmp_arena_destroy(cmp_arena *a);
/* The arena's memfd (close-on-exec), to pass to a child that joins. */
int cmp_arena_fd(const cmp_arena *a);

char *cmp_arena_base(const cmp_arena *a);
/* The process table's region (proc.c). */
void *cmp_arena_procs(const cmp_arena *a);
uint64_t cmp_arena_token(const cmp_arena *a);
void cmp_arena_get_stats(cmp_arena *a, cmp_arena_stats *st);

/* Raw blocks.  `alloc` returns the payload's offset (never 0) or 0 with
 * *err set (ENOMEM when the reservation is used up or the kernel has no
 * memory left for its pages). */
uint64_t cmp_alloc(cmp_arena *a, uint64_t size, int *err);
void cmp_free(cmp_arena *a, uint64_t off);
/* The same for the arena's own bookkeeping (the process table's holdings,
 * proc.h): counted as meta_bytes, not in bytes/blocks_in_use, which are
 * the program's. */
uint64_t cmp_alloc_meta(cmp_arena *a, uint64_t size, int *err);
void cmp_free_meta(cmp_arena *a, uint64_t off);
uint64_t cmp_block_size(cmp_arena *a, uint64_t off);
uint32_t cmp_block_generation(cmp_arena *a, uint64_t off);

static inline void *cmp_ptr(const cmp_arena *a, uint64_t off)
{
    return cmp_arena_base(a) + off;
}

/* Shared objects: a zeroed payload of `size` bytes after a cmp_obj_hdr with
 * refs = 1.  Returns the offset of the header (0 and *err on failure). */
uint64_t cmp_obj_new(cmp_arena *a, uint32_t kind, uint64_t size, int *err);
/* The same with only the body's first `zeroed` bytes zeroed: for a body the
 * creator overwrites whole before anyone else can see it. */
uint64_t cmp_obj_new_partly_zeroed(cmp_arena *a, uint32_t kind, uint64_t size,
                                   uint64_t zeroed, int *err);

static inline cmp_obj_hdr *cmp_obj(const cmp_arena *a, uint64_t off)
{
    return (cmp_obj_hdr *)cmp_ptr(a, off);
}

static inline void *cmp_obj_body(const cmp_arena *a, uint64_t off)
{
    return (char *)cmp_ptr(a, off) + sizeof(cmp_obj_hdr);
}

/* One more reference held by the caller (who already holds one, so the
 * object cannot be freed meanwhile). */
void cmp_obj_incref(cmp_arena *a, uint64_t off);
/* Drop a reference.  Returns 1 when it was the last: the caller then
 * releases what the object owns and calls cmp_free(a, off). */
int cmp_obj_decref(cmp_arena *a, uint64_t off);
/* Drop `n` references at once (a dead process's, proc.h); 1 when they
 * were the last, as cmp_obj_decref. */
int cmp_obj_release(cmp_arena *a, uint64_t off, uint32_t n);

/* Pickling: take a transfer reference (refs and pending both +1). */
void cmp_obj_transfer_out(cmp_arena *a, uint64_t off);
/* Rebuilding: adopt a pending transfer reference, or take a fresh one when
 * every transfer was already adopted.  Returns 0, or ESTALE when the object
 * is gone (generation changed or refs already zero), or EINVAL when `off`
 * is not an object of `kind` inside the arena. */
int cmp_obj_transfer_in(cmp_arena *a, uint64_t off, uint32_t generation,
                        uint32_t kind);

/* Is `off` a live object of `kind` and `generation`?  For a reference the
 * caller's process already holds (a start entry's, proc.h): 0, ESTALE or
 * EINVAL as cmp_obj_transfer_in, and no reference taken. */
int cmp_obj_check(cmp_arena *a, uint64_t off, uint32_t generation, uint32_t kind);

#endif /* CMP_ARENA_H */
