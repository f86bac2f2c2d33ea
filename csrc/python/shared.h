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

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "../arena.h"
#include "../futex.h"
#include "../kinds.h"

typedef struct cmp_shared {
    PyObject_HEAD
    void *body;                 /* the object's body in the arena */
    uint64_t off;               /* the object's offset */
    struct cmp_shared *prev, *next;
    uint32_t kind;
    uint32_t proc;              /* the process-table entry that counts the
                                   reference (CMP_PROC_NONE: none) */
    int released;               /* the reference was let go at exit */
    PyObject *weakreflist;
    PyObject *dict;
} cmp_shared;

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
/* Drop the reference (from tp_dealloc and tp_clear). */
void cmp_shared_drop(cmp_shared *self);
/* The generic parts of a type's slots. */
void cmp_shared_dealloc(PyObject *self);
int cmp_shared_traverse(PyObject *self, visitproc visit, void *arg);
int cmp_shared_clear(PyObject *self);
/* Raise ValueError if the wrapper has no object (not initialised). */
int cmp_shared_check(cmp_shared *self);

/* Methods every shared type gets: _handle() -> (token, offset, generation)
 * with a transfer reference taken, and classmethod _rebuild(handle). */
extern PyMethodDef cmp_shared_methods[];

/* Waiting: run `fn(arg, deadline)` with the GIL released.  On EINTR run
 * the signal handlers: raise if they raised, else wait again with the time
 * left.  Returns what `fn` returned (0, ETIMEDOUT, EOWNERDEAD, ...) or -1
 * with an exception set. */
typedef int (*cmp_wait_fn)(void *arg, const cmp_deadline *d);
int cmp_wait(cmp_wait_fn fn, void *arg, const cmp_deadline *d);

/* timeout (None or a number) to a deadline for a wait that must block;
 * -1 with TypeError set, or with the stdlib's OSError(EINVAL) for NaN or a
 * timeout past what a timespec holds (the stdlib's SemLock answer). */
int cmp_timeout_to_deadline(PyObject *timeout, cmp_deadline *d);

/* The stdlib's SemLock.acquire(block, timeout) converts both before it
 * tries, so a bad one raises even when nothing would wait: check them the
 * same way.  A NULL argument is absent (block: 1).  0, or -1 with
 * TypeError set. */
int cmp_parse_block(PyObject *obj, int *block);
int cmp_check_timeout(PyObject *timeout);

/* METH_FASTCALL|METH_KEYWORDS argument parsing: fill out[0..nnames) from
 * positional and keyword arguments; missing ones stay as given (defaults).
 * `required` leading names must be present.  0 or -1 with TypeError. */
int cmp_parse_args(const char *fname, PyObject *const *args, Py_ssize_t nargs,
                   PyObject *kwnames, const char *const *names, int nnames,
                   int required, PyObject **out);

/* Create a heap type from `spec` (named "_cmp.X"), give it the shared
 * methods and the class attribute _kind, and add it to the module. */
int cmp_add_shared_type(PyObject *module, PyType_Spec *spec, uint32_t kind,
                        PyObject **out);

/* Warned when a lock is taken over from a dead owner. */
extern PyObject *cmp_OwnerDiedWarning;

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
int cmp_add_dict_type(PyObject *module);

#endif /* CMP_SHARED_H */
