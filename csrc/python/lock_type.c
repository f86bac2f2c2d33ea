/* lock_type.c - the Lock and RLock types over csrc/lock.c. */
#include "shared.h"
#include "../lock.h"

#include <structmember.h>

typedef struct {
    cmp_shared s;
} LockObject;

#define LOCK(self) ((cmp_lock *)((cmp_shared *)(self))->body)

/* The hot methods test for a body inline and call cmp_shared_check (which
 * raises) only when it is missing. */
#define NOT_READY(self) \
    (__builtin_expect(LOCK(self) == NULL, 0) && cmp_shared_check((cmp_shared *)(self)) < 0)

PyObject *cmp_OwnerDiedWarning;

typedef struct {
    cmp_lock *l;
    uint32_t me;
} wait_arg;

static int wait_lock(void *p, const cmp_deadline *d)
{
    wait_arg *w = p;
    return cmp_lock_acquire_slow(w->l, w->me, d);
}

static int lock_init(PyObject *self, PyObject *args, PyObject *kwds)
{
    uint32_t kind;
    static char *kwlist[] = {NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, ":Lock", kwlist))
        return -1;
    PyObject *k = PyObject_GetAttrString((PyObject *)Py_TYPE(self), "_kind");
    if (!k)
        return -1;
    kind = (uint32_t)PyLong_AsUnsignedLong(k);
    Py_DECREF(k);
    if (PyErr_Occurred())
        return -1;
    return cmp_shared_create((cmp_shared *)self, kind, sizeof(cmp_lock));
}

/* After a successful slow acquire: warn when the owner had died.  Returns
 * 0, or -1 (lock released again) when the warning was raised as an error. */
static int owner_died(cmp_lock *l, int recursive)
{
    if (PyErr_WarnEx(cmp_OwnerDiedWarning,
                     recursive
                         ? "the previous owner of this RLock died while "
                           "holding it; the lock was taken over, and the data "
                           "it guards may be inconsistent"
                         : "the previous owner of this Lock died while "
                           "holding it; the lock was taken over, and the data "
                           "it guards may be inconsistent",
                     1) < 0) {
        if (recursive)
            cmp_rlock_release(l, cmp_self_tid());
        else
            cmp_lock_release(l);
        return -1;
    }
    return 0;
}

/* Shared by Lock and RLock: 1 acquired, 0 not, -1 error. */
static int do_acquire(PyObject *self, int block, PyObject *timeout, int recursive)
{
    if (NOT_READY(self))
        return -1;
    cmp_lock *l = LOCK(self);
    uint32_t me = recursive ? cmp_self_tid() : cmp_self_pid();
    if (recursive ? cmp_rlock_try(l, me) : cmp_lock_try(l, me)) {
        if (!recursive)
            l->tid = cmp_self_tid();
        return 1;
    }
    if (!block)
        return 0;
    cmp_deadline d;
    if (cmp_timeout_to_deadline(timeout, &d) < 0)
        return -1;
    if (!d.forever && cmp_deadline_passed(&d))
        return 0;
    wait_arg w = {l, me};
    int r = cmp_wait(wait_lock, &w, &d);
    if (r < 0)
        return -1;
    if (r == ETIMEDOUT)
        return 0;
    if (recursive)
        l->count = 1;
    else
        l->tid = cmp_self_tid();
    if (r == EOWNERDEAD && owner_died(l, recursive) < 0)
        return -1;
    return 1;
}

static const char *const acquire_names[] = {"block", "timeout"};

static PyObject *acquire_common(PyObject *self, PyObject *const *args,
                                Py_ssize_t nargs, PyObject *kwnames, int recursive)
{
    PyObject *a[2] = {NULL, NULL};
    if (nargs == 0 && kwnames == NULL) {
        /* acquire(): no arguments to parse. */
        if (do_acquire(self, 1, NULL, recursive) < 0)
            return NULL;
        Py_RETURN_TRUE;
    }
    if (cmp_parse_args("acquire", args, nargs, kwnames, acquire_names, 2, 0, a) < 0)
        return NULL;
    int block = 1;
    if (a[0] && (block = PyObject_IsTrue(a[0])) < 0)
        return NULL;
    int r = do_acquire(self, block, a[1], recursive);
    if (r < 0)
        return NULL;
    return PyBool_FromLong(r);
}

static PyObject *lock_acquire(PyObject *self, PyObject *const *args,
                              Py_ssize_t nargs, PyObject *kwnames)
{
    return acquire_common(self, args, nargs, kwnames, 0);
}

static PyObject *rlock_acquire(PyObject *self, PyObject *const *args,
                               Py_ssize_t nargs, PyObject *kwnames)
{
    return acquire_common(self, args, nargs, kwnames, 1);
}

static PyObject *lock_enter(PyObject *self, PyObject *unused)
{
    (void)unused;
    if (do_acquire(self, 1, NULL, 0) < 0)
        return NULL;
    Py_RETURN_TRUE;
}

static PyObject *rlock_enter(PyObject *self, PyObject *unused)
{
    (void)unused;
    if (do_acquire(self, 1, NULL, 1) < 0)
        return NULL;
    Py_RETURN_TRUE;
}

/* release() is METH_FASTCALL rather than METH_NOARGS: the interpreter
 * (3.11) specialises calls of fastcall builtins, not of no-argument ones. */
static int no_args(const char *method, Py_ssize_t nargs)
{
    if (nargs == 0)
        return 0;
    PyErr_Format(PyExc_TypeError, "%s() takes no arguments (%zd given)", method, nargs);
    return -1;
}

static PyObject *lock_release(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)args;
    if (no_args("Lock.release", nargs) < 0 || NOT_READY(self))
        return NULL;
    if (cmp_lock_release(LOCK(self))) {
        PyErr_SetString(PyExc_ValueError, "semaphore or lock released too many times");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *rlock_release(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)args;
    if (no_args("RLock.release", nargs) < 0 || NOT_READY(self))
        return NULL;
    if (cmp_rlock_release(LOCK(self), cmp_self_tid())) {
        PyErr_SetString(PyExc_AssertionError,
                        "attempt to release recursive lock not owned by thread");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *lock_exit(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)args; (void)nargs;
    return lock_release(self, NULL, 0);
}

static PyObject *rlock_exit(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)args; (void)nargs;
    return rlock_release(self, NULL, 0);
}

/* 1 when the calling thread holds it. */
static PyObject *lock_is_mine(PyObject *self, PyObject *unused)
{
    (void)unused;
    if (cmp_shared_check((cmp_shared *)self) < 0)
        return NULL;
    cmp_lock *l = LOCK(self);
    return PyBool_FromLong(cmp_lock_owner(l) == cmp_self_pid() &&
                           __atomic_load_n(&l->tid, __ATOMIC_RELAXED) == cmp_self_tid());
}

static PyObject *rlock_is_mine(PyObject *self, PyObject *unused)
{
    (void)unused;
    if (cmp_shared_check((cmp_shared *)self) < 0)
        return NULL;
    return PyBool_FromLong(cmp_lock_owner(LOCK(self)) == cmp_self_tid());
}

static PyObject *rlock_count(PyObject *self, PyObject *unused)
{
    (void)unused;
    if (cmp_shared_check((cmp_shared *)self) < 0)
        return NULL;
    cmp_lock *l = LOCK(self);
    return PyLong_FromUnsignedLong(cmp_lock_owner(l) == cmp_self_tid() ? l->count : 0);
}

static PyObject *lock_count(PyObject *self, PyObject *unused)
{
    PyObject *mine = lock_is_mine(self, unused);
    if (!mine)
        return NULL;
    long c = mine == Py_True;
    Py_DECREF(mine);
    return PyLong_FromLong(c);
}

/* The owner's id: a pid for Lock, a kernel thread id for RLock; 0 if free. */
static PyObject *lock_owner(PyObject *self, PyObject *unused)
{
    (void)unused;
    if (cmp_shared_check((cmp_shared *)self) < 0)
        return NULL;
    return PyLong_FromUnsignedLong(cmp_lock_owner(LOCK(self)));
}

static PyObject *lock_get_value(PyObject *self, PyObject *unused)
{
    (void)unused;
    if (cmp_shared_check((cmp_shared *)self) < 0)
        return NULL;
    return PyLong_FromLong(cmp_lock_owner(LOCK(self)) == 0);
}

static PyObject *lock_is_zero(PyObject *self, PyObject *unused)
{
    (void)unused;
    if (cmp_shared_check((cmp_shared *)self) < 0)
        return NULL;
    return PyBool_FromLong(cmp_lock_owner(LOCK(self)) != 0);
}


static PyMethodDef lock_methods[] = {
    {"acquire", (PyCFunction)(void (*)(void))lock_acquire,
     METH_FASTCALL | METH_KEYWORDS,
     "acquire($self, /, block=True, timeout=None)\n--\n\n"
     "Acquire the lock; return whether it was acquired."},
    {"release", (PyCFunction)(void (*)(void))lock_release, METH_FASTCALL,
     "release($self, /)\n--\n\nRelease the lock."},
    {"__enter__", lock_enter, METH_NOARGS,
     "__enter__($self, /)\n--\n\nAcquire the lock."},
    {"__exit__", (PyCFunction)(void (*)(void))lock_exit, METH_FASTCALL,
     "__exit__($self, /, *args)\n--\n\nRelease the lock."},
    {"_is_mine", lock_is_mine, METH_NOARGS,
     "_is_mine($self, /)\n--\n\nWhether the calling thread holds it."},
    {"_count", lock_count, METH_NOARGS,
     "_count($self, /)\n--\n\n1 when the calling thread holds it, else 0."},
    {"_owner", lock_owner, METH_NOARGS,
     "_owner($self, /)\n--\n\nThe owning process's id, 0 when free."},
    {"_get_value", lock_get_value, METH_NOARGS,
     "_get_value($self, /)\n--\n\n1 when free, else 0."},
    {"_is_zero", lock_is_zero, METH_NOARGS,
     "_is_zero($self, /)\n--\n\nWhether it is held."},
    {NULL, NULL, 0, NULL},
};

static PyMethodDef rlock_methods[] = {
    {"acquire", (PyCFunction)(void (*)(void))rlock_acquire,
     METH_FASTCALL | METH_KEYWORDS,
     "acquire($self, /, block=True, timeout=None)\n--\n\n"
     "Acquire the lock (again, if this thread holds it)."},
    {"release", (PyCFunction)(void (*)(void))rlock_release, METH_FASTCALL,
     "release($self, /)\n--\n\nRelease the lock once."},
    {"__enter__", rlock_enter, METH_NOARGS,
     "__enter__($self, /)\n--\n\nAcquire the lock."},
    {"__exit__", (PyCFunction)(void (*)(void))rlock_exit, METH_FASTCALL,
     "__exit__($self, /, *args)\n--\n\nRelease the lock once."},
    {"_is_mine", rlock_is_mine, METH_NOARGS,
     "_is_mine($self, /)\n--\n\nWhether the calling thread holds it."},
    {"_count", rlock_count, METH_NOARGS,
     "_count($self, /)\n--\n\nThe calling thread's recursion depth."},
    {"_owner", lock_owner, METH_NOARGS,
     "_owner($self, /)\n--\n\nThe owning thread's kernel id, 0 when free."},
    {"_get_value", lock_get_value, METH_NOARGS,
     "_get_value($self, /)\n--\n\n1 when free, else 0."},
    {"_is_zero", lock_is_zero, METH_NOARGS,
     "_is_zero($self, /)\n--\n\nWhether it is held."},
    {NULL, NULL, 0, NULL},
};

/* Adds the shared methods (_handle, _drop_handle, _rebuild) to a type. */
int cmp_add_shared_type(PyObject *module, PyType_Spec *spec, uint32_t kind,
                        PyObject **out)
{
    PyObject *tp = PyType_FromModuleAndSpec(module, spec, NULL);
    if (!tp)
        return -1;
    for (PyMethodDef *m = cmp_shared_methods; m->ml_name; m++) {
        PyObject *f = (m->ml_flags & METH_CLASS)
                          ? PyDescr_NewClassMethod((PyTypeObject *)tp, m)
                          : PyDescr_NewMethod((PyTypeObject *)tp, m);
        if (!f || PyObject_SetAttrString(tp, m->ml_name, f) < 0) {
            Py_XDECREF(f);
            Py_DECREF(tp);
            return -1;
        }
        Py_DECREF(f);
    }
    PyObject *k = PyLong_FromUnsignedLong(kind);
    if (!k || PyObject_SetAttrString(tp, "_kind", k) < 0) {
        Py_XDECREF(k);
        Py_DECREF(tp);
        return -1;
    }
    Py_DECREF(k);
    if (PyModule_AddObject(module, spec->name + 5 /* skip "_cmp." */, tp) < 0) {
        Py_DECREF(tp);
        return -1;
    }
    if (out)
        *out = tp;
    return 0;
}

static PyType_Slot lock_slots[] = {
    {Py_tp_init, lock_init},
    {Py_tp_dealloc, cmp_shared_dealloc},
    {Py_tp_methods, lock_methods},
    {Py_tp_doc, "Lock()\n--\n\nA process-shared non-recursive lock."},
    {0, NULL},
};

static PyType_Slot rlock_slots[] = {
    {Py_tp_init, lock_init},
    {Py_tp_dealloc, cmp_shared_dealloc},
    {Py_tp_methods, rlock_methods},
    {Py_tp_doc, "RLock()\n--\n\nA process-shared recursive lock."},
    {0, NULL},
};

static PyType_Spec lock_spec = {
    "_cmp.Lock", sizeof(LockObject), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE, lock_slots,
};

static PyType_Spec rlock_spec = {
    "_cmp.RLock", sizeof(LockObject), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE, rlock_slots,
};

int cmp_add_lock_types(PyObject *module)
{
    cmp_OwnerDiedWarning = PyErr_NewExceptionWithDoc(
        "_cmp.OwnerDiedWarning",
        "A process or thread died while holding a cmp lock; the lock was "
        "taken over by the next acquirer.",
        PyExc_RuntimeWarning, NULL);
    if (!cmp_OwnerDiedWarning)
        return -1;
    Py_INCREF(cmp_OwnerDiedWarning);
    if (PyModule_AddObject(module, "OwnerDiedWarning", cmp_OwnerDiedWarning) < 0) {
        Py_DECREF(cmp_OwnerDiedWarning);
        return -1;
    }
    if (cmp_add_shared_type(module, &lock_spec, CMP_KIND_LOCK, NULL) < 0)
        return -1;
    return cmp_add_shared_type(module, &rlock_spec, CMP_KIND_RLOCK, NULL);
}
