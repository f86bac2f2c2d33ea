/*
 * shared.h - what every cmp Python type that wraps a shared object shares.
 *
 * A wrapper holds one shared reference to its object, counted in this
 * process's entry of the process table (proc.h), so that the reference is
 * given back when the process dies without letting go.  The wrappers alive
 * in this process are kept on one list so that a fork can take a reference
 * for the child on behalf of each (the child inherits the wrappers) and
 * count it in the child's entry, and a child that exits can let all of them
 * go at once (_release_all).
 *
 * Pickling records (arena token, offset, generation) and takes a transfer
 * reference (arena.h); rebuilding in a process of the same tree adopts it.
 * A pickle that is stored and may be rebuilt any number of times (a value
 * in a cmp.Dict) is made with cmp_durable_handles set: its handle holds a
 * plain reference that is never let go (the object then lives as long as
 * the arena), and each rebuild takes a reference of its own.
 */
#ifndef CMP_SHARED_H
#define CMP_SHARED_H

#include "spine.h"

#include "../arena.h"

#include <structmember.h>

typedef struct cmp_shared {
    PyObject_HEAD
    void *body;                 /* the object's body in the arena */
    uint64_t off;               /* the object's offset */
    struct cmp_shared *prev, *next;
    uint32_t kind;
    uint32_t proc;              /* the process-table entry that counts the
                                   reference (CMP_PROC_NONE: none) */
    int released;               /* the reference was let go at exit */
    PyObject *weakreflist;      /* for the types that give weak references */
    PyObject *dict;             /* for the types that give a __dict__ */
} cmp_shared;

/* Py_tp_members entries of a type that gives weak references or a
 * __dict__ (cmp_shared_dealloc, _traverse and _clear handle both; a type
 * with a __dict__ is a GC type). */
#define CMP_SHARED_WEAKREFS \
    {"__weaklistoffset__", T_PYSSIZET, offsetof(cmp_shared, weakreflist), READONLY, NULL}
#define CMP_SHARED_DICT \
    {"__dictoffset__", T_PYSSIZET, offsetof(cmp_shared, dict), READONLY, NULL}

/* Nonzero while this thread pickles for storage (see above). */
extern __thread int cmp_durable_handles;

/* The arena of this process tree: created or joined by _arena_init, which
 * cmp/_core.py calls as soon as it has imported _cmp, before anything can
 * be allocated.  NULL until then. */
extern cmp_arena *cmp_the_arena;
/* 0 when the arena is mapped, else -1 with RuntimeError set. */
int cmp_arena_check(void);

/* Called when an object's last reference goes, before its block is freed. */
typedef void (*cmp_destroy_fn)(cmp_arena *a, void *body);
void cmp_register_destroy(uint32_t kind, cmp_destroy_fn fn);

/* Make `self` own a new object of `kind` with a zeroed body.  0 or -1. */
int cmp_shared_create(cmp_shared *self, uint32_t kind, uint64_t body_size);
/* The same with only the body's first `zeroed` bytes zeroed. */
int cmp_shared_create_partly_zeroed(cmp_shared *self, uint32_t kind,
                                    uint64_t body_size, uint64_t zeroed);
/* Drop the reference (from tp_dealloc and tp_clear). */
void cmp_shared_drop(cmp_shared *self);
/* The generic parts of a type's slots. */
void cmp_shared_dealloc(PyObject *self);
int cmp_shared_traverse(PyObject *self, visitproc visit, void *arg);
int cmp_shared_clear(PyObject *self);
/* Raise ValueError if the wrapper has no object (not initialised). */
int cmp_shared_check(cmp_shared *self);

/* The live wrapper of this process after `s` (NULL: the first), or NULL
 * at the end; `s` may be dropped once the next one is known. */
cmp_shared *cmp_shared_live_next(cmp_shared *s);

/* Methods every shared type gets: _handle() -> (token, offset, generation)
 * with a transfer reference taken, and classmethod _rebuild(handle). */
extern PyMethodDef cmp_shared_methods[];

/* Type registration, one function per primitive file. */
int cmp_init_shared(PyObject *module);
int cmp_add_lock_types(PyObject *module);
int cmp_add_semaphore_type(PyObject *module);
int cmp_add_event_type(PyObject *module);
int cmp_add_condition_type(PyObject *module);
int cmp_add_barrier_type(PyObject *module);
int cmp_add_buffer_type(PyObject *module);
int cmp_add_queue_types(PyObject *module);
int cmp_add_pool_types(PyObject *module);
int cmp_add_channel_type(PyObject *module);
int cmp_add_dict_type(PyObject *module);

#endif /* CMP_SHARED_H */
