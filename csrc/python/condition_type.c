/* condition_type.c - the Condition type over csrc/condition.c, waiting on
 * a cmp Lock or RLock (the user lock, held as a Python object). */
#include "shared.h"
#include "../condition.h"
#include "../lock.h"

#include <structmember.h>

typedef struct {
    cmp_shared s;
    PyObject *lock;     /* the user lock: a cmp Lock or RLock */
    int recursive;      /* the lock is an RLock */
} CondObject;

#define COND(self) ((cmp_cond *)((cmp_shared *)(self))->body)
#define ULOCK(self) ((cmp_lock *)((cmp_shared *)((CondObject *)(self))->lock)->body)

/* Adopt `lock` as the user lock.  0 or -1 with TypeError. */
static int set_lock(CondObject *self, PyObject *lock)
{
    int recursive;
    if (PyObject_TypeCheck(lock, cmp_state.kind_type[CMP_KIND_RLOCK]))
        recursive = 1;
    else if (PyObject_TypeCheck(lock, cmp_state.kind_type[CMP_KIND_LOCK]))
        recursive = 0;
    else {
        PyErr_Format(PyExc_TypeError,
                     "a cmp Condition needs a cmp Lock or RLock, not %.200s",
                     Py_TYPE(lock)->tp_name);
        return -1;
    }
    if (cmp_shared_check((cmp_shared *)lock) < 0)
        return -1;
    Py_INCREF(lock);
    Py_XSETREF(self->lock, lock);
    self->recursive = recursive;
    return 0;
}

static int cond_init(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"lock", NULL};
    PyObject *lock;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:Condition", kwlist, &lock))
        return -1;
    if (set_lock((CondObject *)self, lock) < 0)
        return -1;
    return cmp_shared_create((cmp_shared *)self, CMP_KIND_CONDITION, sizeof(cmp_cond));
}

static int cond_check(PyObject *self)
{
    if (cmp_shared_check((cmp_shared *)self) < 0)
        return -1;
    if (!((CondObject *)self)->lock) {
        PyErr_SetString(PyExc_ValueError, "Condition has no lock");
        return -1;
    }
    return 0;
}

/* Whether the calling thread holds the user lock. */
static int lock_is_mine(CondObject *self)
{
    cmp_lock *l = ULOCK(self);
    if (self->recursive)
        return cmp_lock_owner(l) == cmp_thread_owner();
    /* Relaxed: our own writes, when we hold it. */
    return cmp_lock_owner(l) == cmp_self_owner() &&
           __atomic_load_n(&l->tid, __ATOMIC_RELAXED) == cmp_self_tid();
}

/* ---- wait ---------------------------------------------------------------- */

/* One wait: its epoch (cmp_cond_register), whether it slept, and the
 * owner id it takes the user lock back as. */
typedef struct {
    cmp_cond *c;
    cmp_lock *l;
    uint32_t epoch;
    uint32_t me;
    int slept;
} wait_arg;

static int wait_cond(void *p, const cmp_deadline *d)
{
    wait_arg *w = p;
    int slept;
    int r = cmp_cond_wait(w->c, w->l, w->epoch, d, &slept);
    w->slept |= slept;
    return r;
}

static int relock_cond(void *p, const cmp_deadline *d)
{
    wait_arg *w = p;
    return cmp_cond_relock(w->c, w->l, w->me, w->slept, d);
}

/* Re-acquire the user lock, whatever happens (cmp_wait_through: a signal
 * handler's exception is kept pending).  Returns 0, or -1 when an
 * exception is set (the lock is held either way). */
static int relock(wait_arg *w, int recursive)
{
    int r = cmp_cond_relock_try(w->l, w->me, w->slept) ? 0 : cmp_wait_through(relock_cond, w);
    if (!recursive)
        w->l->tid = cmp_self_tid();
    if (PyErr_Occurred())
        return -1;
    if (r == EOWNERDEAD && cmp_warn_owner_died("Condition's lock") < 0)
        return -1;
    return 0;
}

static const char *const wait_names[] = {"timeout"};

static PyObject *cond_wait(PyObject *op, PyObject *const *args,
                           Py_ssize_t nargs, PyObject *kwnames)
{
    CondObject *self = (CondObject *)op;
    PyObject *timeout = NULL;
    if (cmp_parse_args("wait", args, nargs, kwnames, wait_names, 1, 0, &timeout) < 0)
        return NULL;
    if (cond_check(op) < 0)
        return NULL;
    if (!lock_is_mine(self)) {
        PyErr_SetString(PyExc_AssertionError,
                        "must acquire() condition before using wait()");
        return NULL;
    }
    cmp_deadline d;
    if (cmp_timeout_to_deadline(timeout, &d) < 0)
        return NULL;
    cmp_cond *c = COND(op);
    cmp_lock *l = ULOCK(self);
    Py_INCREF(self->lock);      /* keep it while we wait without the GIL */
    PyObject *lock = self->lock;
    int recursive = self->recursive;

    /* REGISTERED, then release the user lock completely. */
    wait_arg w = {c, l, cmp_cond_register(c),
                  recursive ? cmp_thread_owner() : cmp_self_owner(), 0};
    uint32_t depth = recursive ? l->count : 1;
    if (recursive) {
        l->count = 1;
        cmp_rlock_release(l, cmp_thread_owner());
    } else {
        cmp_lock_release(l);
    }

    int r = cmp_wait(wait_cond, &w, &d);
    PyObject *et = NULL, *ev = NULL, *tb = NULL;
    if (r < 0)
        PyErr_Fetch(&et, &ev, &tb);

    int failed = relock(&w, recursive) < 0;
    int notified = r == 0 ? 1 : cmp_cond_give_up(c, w.epoch);
    if (recursive)
        l->count = depth;
    Py_DECREF(lock);
    if (et) {
        /* The signal handler's exception wins over a warning's. */
        if (failed)
            PyErr_Clear();
        PyErr_Restore(et, ev, tb);
        return NULL;
    }
    if (failed)
        return NULL;
    return PyBool_FromLong(notified);
}

/* ---- notify --------------------------------------------------------------- */

static const char *const notify_names[] = {"n"};

static PyObject *cond_notify(PyObject *op, PyObject *const *args,
                             Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *nobj = NULL;
    if (cmp_parse_args("notify", args, nargs, kwnames, notify_names, 1, 0, &nobj) < 0)
        return NULL;
    if (cond_check(op) < 0)
        return NULL;
    if (!lock_is_mine((CondObject *)op)) {
        PyErr_SetString(PyExc_AssertionError, "lock is not owned");
        return NULL;
    }
    uint32_t n = 1;
    if (nobj) {
        Py_ssize_t v = PyNumber_AsSsize_t(nobj, NULL);   /* clamps */
        if (v == -1 && PyErr_Occurred())
            return NULL;
        n = v <= 0 ? 0 : v >= (Py_ssize_t)UINT32_MAX ? UINT32_MAX : (uint32_t)v;
    }
    cmp_cond_notify(COND(op), ULOCK(op), n);
    Py_RETURN_NONE;
}

static PyObject *cond_notify_all(PyObject *op, PyObject *unused)
{
    (void)unused;
    if (cond_check(op) < 0)
        return NULL;
    if (!lock_is_mine((CondObject *)op)) {
        PyErr_SetString(PyExc_AssertionError, "lock is not owned");
        return NULL;
    }
    cmp_cond_notify(COND(op), ULOCK(op), UINT32_MAX);
    Py_RETURN_NONE;
}

/* ---- the user lock's methods ------------------------------------------- */

static PyObject *cond_enter(PyObject *op, PyObject *unused)
{
    (void)unused;
    CondObject *self = (CondObject *)op;
    if (cond_check(op) < 0)
        return NULL;
    cmp_lock *l = ULOCK(self);
    if (self->recursive ? cmp_rlock_try(l, cmp_thread_owner())
                        : cmp_lock_try(l, cmp_self_owner())) {
        if (!self->recursive)
            l->tid = cmp_self_tid();
        Py_RETURN_TRUE;
    }
    return PyObject_CallMethod(self->lock, "__enter__", NULL);
}

static PyObject *cond_exit(PyObject *op, PyObject *const *args, Py_ssize_t nargs)
{
    (void)args; (void)nargs;
    CondObject *self = (CondObject *)op;
    if (cond_check(op) < 0)
        return NULL;
    cmp_lock *l = ULOCK(self);
    if ((self->recursive ? cmp_rlock_release(l, cmp_thread_owner())
                         : cmp_lock_release(l)) == 0)
        Py_RETURN_NONE;
    /* Not held: let the lock raise its own error. */
    return PyObject_CallMethod(self->lock, "release", NULL);
}

static PyObject *cond_num_waiters(PyObject *op, PyObject *unused)
{
    (void)unused;
    if (cmp_shared_check((cmp_shared *)op) < 0)
        return NULL;
    return PyLong_FromUnsignedLong(cmp_cond_present(COND(op)));
}

static PyObject *cond_num_tokens(PyObject *op, PyObject *unused)
{
    (void)unused;
    if (cmp_shared_check((cmp_shared *)op) < 0)
        return NULL;
    /* Relaxed: a snapshot for introspection only. */
    return PyLong_FromUnsignedLong(
        __atomic_load_n(&COND(op)->tokens, __ATOMIC_RELAXED));
}

static PyObject *cond_set_lock(PyObject *op, PyObject *lock)
{
    if (set_lock((CondObject *)op, lock) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef cond_methods[] = {
    {"wait", (PyCFunction)(void (*)(void))cond_wait, METH_FASTCALL | METH_KEYWORDS,
     "wait($self, /, timeout=None)\n--\n\n"
     "Release the lock, wait for a notification or the timeout, re-acquire "
     "the lock; return whether notified."},
    {"notify", (PyCFunction)(void (*)(void))cond_notify, METH_FASTCALL | METH_KEYWORDS,
     "notify($self, /, n=1)\n--\n\nWake up at most n waiters."},
    {"notify_all", cond_notify_all, METH_NOARGS,
     "notify_all($self, /)\n--\n\nWake up every waiter."},
    {"__enter__", cond_enter, METH_NOARGS,
     "__enter__($self, /)\n--\n\nAcquire the lock."},
    {"__exit__", (PyCFunction)(void (*)(void))cond_exit, METH_FASTCALL,
     "__exit__($self, /, *args)\n--\n\nRelease the lock."},
    {"_num_waiters", cond_num_waiters, METH_NOARGS,
     "_num_waiters($self, /)\n--\n\nWaiters present (for repr)."},
    {"_num_tokens", cond_num_tokens, METH_NOARGS,
     "_num_tokens($self, /)\n--\n\nWake-ups handed out by notify, not yet taken."},
    {"_set_lock", cond_set_lock, METH_O,
     "_set_lock($self, lock, /)\n--\n\nAdopt lock (unpickling)."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef cond_members[] = {
    {"_lock", T_OBJECT, offsetof(CondObject, lock), READONLY, "the lock"},
    CMP_SHARED_WEAKREFS,
    CMP_SHARED_DICT,
    {NULL, 0, 0, 0, NULL},
};

static int cond_traverse(PyObject *op, visitproc visit, void *arg)
{
    Py_VISIT(((CondObject *)op)->lock);
    return cmp_shared_traverse(op, visit, arg);
}

static int cond_clear(PyObject *op)
{
    Py_CLEAR(((CondObject *)op)->lock);
    return cmp_shared_clear(op);
}

static PyType_Slot cond_slots[] = {
    {Py_tp_init, cond_init},
    {Py_tp_dealloc, cmp_shared_dealloc},
    {Py_tp_traverse, cond_traverse},
    {Py_tp_clear, cond_clear},
    {Py_tp_methods, cond_methods},
    {Py_tp_members, cond_members},
    {Py_tp_doc, "Condition(lock)\n--\n\n"
                "A process-shared condition variable over a cmp Lock or RLock."},
    {0, NULL},
};

static PyType_Spec cond_spec = {
    "_cmp.Condition", sizeof(CondObject), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC, cond_slots,
};

int cmp_add_condition_type(PyObject *module)
{
    return cmp_add_type(module, &cond_spec, NULL, CMP_KIND_CONDITION, NULL);
}
