/*
 * spine.h - what every binding file leans on, each in one place:
 *
 *   state      the objects the bindings keep between calls (cmp_state),
 *              filled by one init and emptied by one clear;
 *   types      one registration helper, and the kind of a type (a C
 *              constant given at registration, found without attributes);
 *   errors     the stdlib's exception and message for each failure a core
 *              reports, and the owner-died warning; no message is written
 *              twice;
 *   waiting    cmp_wait (interruptible by signal handlers) and
 *              cmp_wait_through (an uninterruptible re-lock);
 *   arguments  one style: tp_init parses with PyArg_ParseTupleAndKeywords,
 *              every method is METH_NOARGS, METH_O or METH_FASTCALL and
 *              parses with cmp_parse_args; the stdlib's checks of block
 *              and timeout.
 */
#ifndef CMP_SPINE_H
#define CMP_SPINE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "../futex.h"
#include "../kinds.h"

/* ---- state ---------------------------------------------------------------- */

#define CMP_TYPES_MAX 24

typedef struct {
    PyTypeObject *kind_type[CMP_KIND_COUNT]; /* the first _cmp type of each kind */
    struct {
        PyTypeObject *type;         /* strong */
        uint32_t kind;
    } typed[CMP_TYPES_MAX];         /* every _cmp type of a kind */
    int ntyped;
    PyTypeObject *with_method_type; /* with_method.h */
    PyTypeObject *sync_value_type;  /* _cmp.SyncValue (buffer_type.c) */
    PyObject *OwnerDiedWarning;     /* _cmp.OwnerDiedWarning */
    PyObject *BrokenBarrierError;   /* threading's */
    PyObject *Empty, *Full;         /* the queue module's */
    PyObject *pickle_dumps, *pickle_loads;  /* _pickle's */
    PyObject *forking_dumps;        /* multiprocessing's ForkingPickler.dumps */
    PyObject *str_acquire, *str_release, *str_value;  /* interned */
} cmp_state_t;

/* Process-wide, as the arena is (the module supports one interpreter). */
extern cmp_state_t cmp_state;

/* Fill cmp_state (before any type is added; adds OwnerDiedWarning to the
 * module), and empty it again.  0 or -1. */
int cmp_state_init(PyObject *module);
void cmp_state_clear(void);

/* ---- types ---------------------------------------------------------------- */

/* Create the heap type of `spec` (named "_cmp.X") on `base` (NULL: object)
 * and add it to the module as X.  A type of shared objects (kind != 0)
 * is a type of that kind (the first one registered: kind_type).  It, and
 * a type on a base of a kind, owns
 * the shared methods (_handle, _drop_handle, _rebuild).  *out, when
 * given: the type, borrowed (the module holds it).  0 or -1. */
int cmp_add_type(PyObject *module, PyType_Spec *spec, PyTypeObject *base,
                 uint32_t kind, PyObject **out);

/* Give `tp` descriptors of its own for the methods `defs` (which a base
 * may already have): the interpreter specialises a call of a C method
 * only on the method's exact type.  0 or -1. */
int cmp_add_methods(PyObject *tp, PyMethodDef *defs);

/* A type's name without its module ("Lock", as the stdlib's messages say). */
const char *cmp_short_name(PyTypeObject *tp);

/* The kind of the shared objects of `tp` (a type of a kind or a subclass
 * of one); 0 when it has none. */
uint32_t cmp_type_kind(PyTypeObject *tp);

/* ---- errors --------------------------------------------------------------- */

/* The failures a binding reports, each with its stdlib exception and
 * message. */
typedef enum {
    CMP_ERR_RELEASED_TOO_MANY,  /* ValueError, a Lock's or semaphore's */
    CMP_ERR_RLOCK_NOT_MINE,     /* AssertionError, an RLock's */
    CMP_ERR_HANDLE_CLOSED,      /* OSError, a closed queue end's */
    CMP_ERR_ARENA_FULL,         /* MemoryError */
} cmp_error;

/* Raise `e`; returns NULL. */
PyObject *cmp_raise(cmp_error e);

/* The stdlib's exception for an errno a core or the system returned:
 * ERANGE and EOVERFLOW (a release past a bound), else OSError(err).
 * Returns NULL. */
PyObject *cmp_raise_errno(int err);

/* MemoryError for a full arena, saying what the failed call left behind
 * (`state`, e.g. "the cmp.Dict is unchanged"; NULL: nothing to say). */
PyObject *cmp_raise_arena_full(const char *state);

/* "<type> object is not initialised" (ValueError); returns -1. */
int cmp_not_initialised(PyObject *self);

/* Warn that the owner of `what` ("Lock", "RLock", "Condition's lock")
 * died holding it.  0, or -1 when the warning was raised as an error. */
int cmp_warn_owner_died(const char *what);

/* ---- waiting -------------------------------------------------------------- */

/* Run `fn(arg, deadline)` with the GIL released.  On EINTR run the signal
 * handlers: raise if they raised, else wait again with the time left.
 * Returns what `fn` returned (0, ETIMEDOUT, EOWNERDEAD, ...) or -1 with
 * an exception set. */
typedef int (*cmp_wait_fn)(void *arg, const cmp_deadline *d);
int cmp_wait(cmp_wait_fn fn, void *arg, const cmp_deadline *d);

/* Wait forever for `fn` (a re-lock that must succeed; call it with no
 * exception set) through signals:
 * their handlers run, and the first exception they raise is set on
 * return (later ones are dropped, as Python chains nothing here).
 * Returns what `fn` returned other than EINTR (0, EOWNERDEAD). */
int cmp_wait_through(cmp_wait_fn fn, void *arg);

/* ---- arguments ------------------------------------------------------------ */

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

/* For METH_FASTCALL methods without arguments (the interpreter, 3.11,
 * specialises calls of fastcall builtins, not of no-argument ones):
 * 0, or -1 with "<method>() takes no arguments" when nargs is not 0
 * (cmp_args_given raises that; inline, the test costs no call). */
int cmp_args_given(const char *method, Py_ssize_t nargs);
static inline int cmp_no_args(const char *method, Py_ssize_t nargs)
{
    return __builtin_expect(nargs == 0, 1) ? 0 : cmp_args_given(method, nargs);
}

#endif /* CMP_SPINE_H */
