/* lock_type.c - the Lock and RLock types over csrc/lock.c. */
#include "shared.h"
#include "with_method.h"
#include "../lock.h"


#define LOCK(self) ((cmp_lock *)((cmp_shared *)(self))->body)

/* The hot methods test for a body inline and call cmp_shared_check (which
 * raises) only when it is missing. */
#define NOT_READY(self) \
    (__builtin_expect(LOCK(self) == NULL, 0) && cmp_shared_check((cmp_shared *)(self)) < 0)

typedef struct {
    cmp_lock *l;
    uint32_t me;
} wait_arg;

static int wait_lock(void *p, const cmp_deadline *d)
{
    wait_arg *w = p;
    return cmp_lock_acquire_slow(w->l, w->me, d);
}

/* Lock(*, ctx) and RLock(*, ctx), as the stdlib's: ctx is required, and
 * unused (every context of the tree shares the one arena). */
static int init_common(PyObject *self, PyObject *args, PyObject *kwds, uint32_t kind)
{
    const char *name = cmp_short_name(Py_TYPE(self));
    if (PyTuple_GET_SIZE(args)) {
        PyErr_Format(PyExc_TypeError,
                     "%s.__init__() takes 1 positional argument but %zd were given",
                     name, PyTuple_GET_SIZE(args) + 1);
        return -1;
    }
    PyObject *key;
    Py_ssize_t pos = 0;
    int ctx = 0;
    while (kwds && PyDict_Next(kwds, &pos, &key, NULL)) {
        if (!PyUnicode_Check(key) || PyUnicode_CompareWithASCIIString(key, "ctx") != 0) {
            PyErr_Format(PyExc_TypeError,
                         "%s.__init__() got an unexpected keyword argument '%S'",
                         name, key);
            return -1;
        }
        ctx = 1;
    }
    if (!ctx) {
        PyErr_Format(PyExc_TypeError,
                     "%s.__init__() missing 1 required keyword-only argument: 'ctx'",
                     name);
        return -1;
    }
    return cmp_shared_create((cmp_shared *)self, kind, sizeof(cmp_lock));
}

static int lock_init(PyObject *self, PyObject *args, PyObject *kwds)
{
    return init_common(self, args, kwds, CMP_KIND_LOCK);
}

static int rlock_init(PyObject *self, PyObject *args, PyObject *kwds)
{
    return init_common(self, args, kwds, CMP_KIND_RLOCK);
}

/* Stdlib code reaches into a lock's SemLock (JoinableQueue.join calls
 * _semlock._is_zero()): a cmp lock is its own. */
static PyObject *lock_semlock(PyObject *self, void *unused)
{
    (void)unused;
    Py_INCREF(self);
    return self;
}

static PyGetSetDef lock_getset[] = {
    {"_semlock", lock_semlock, NULL, "The lock itself (the stdlib's SemLock).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef lock_members[] = {
    CMP_SHARED_WEAKREFS,
    {NULL, 0, 0, 0, NULL},
};

/* After a successful slow acquire: warn when the owner had died.  Returns
 * 0, or -1 (lock released again) when the warning was raised as an error. */
static int owner_died(cmp_lock *l, int recursive)
{
    if (cmp_warn_owner_died(recursive ? "RLock" : "Lock") < 0) {
        if (recursive)
            cmp_rlock_release(l, cmp_thread_owner());
        else
            cmp_lock_release(l);
        return -1;
    }
    return 0;
}

/* The uncontended acquire, inline in the hot methods: 1 when taken, 0 when
 * the caller must go the slow way (do_acquire: not initialised, held). */
static inline int try_fast(PyObject *self, int recursive)
{
    cmp_lock *l = LOCK(self);
    if (__builtin_expect(l == NULL, 0))
        return 0;
    if (recursive)
        return cmp_rlock_try(l, cmp_thread_owner());
    if (!cmp_lock_try(l, cmp_self_owner()))
        return 0;
    /* Relaxed: tid is informational (repr, _is_mine). */
    __atomic_store_n(&l->tid, cmp_self_tid(), __ATOMIC_RELAXED);
    return 1;
}

/* Shared by Lock and RLock: 1 acquired, 0 not, -1 error. */
static int do_acquire(PyObject *self, int block, PyObject *timeout, int recursive)
{
    if (NOT_READY(self))
        return -1;
    if (try_fast(self, recursive))
        return 1;
    if (!block)
        return 0;
    cmp_deadline d;
    if (cmp_timeout_to_deadline(timeout, &d) < 0)
        return -1;
    if (!d.forever && cmp_deadline_passed(&d))
        return 0;
    cmp_lock *l = LOCK(self);
    wait_arg w = {l, recursive ? cmp_thread_owner() : cmp_self_owner()};
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
        if (!try_fast(self, recursive) && do_acquire(self, 1, NULL, recursive) < 0)
            return NULL;
        Py_RETURN_TRUE;
    }
    if (cmp_parse_args("acquire", args, nargs, kwnames, acquire_names, 2, 0, a) < 0)
        return NULL;
    int block;
    if (cmp_parse_block(a[0], &block) < 0)
        return NULL;
    /* An RLock this thread holds already is taken again before the
     * stdlib looks at the timeout. */
    cmp_lock *l = LOCK(self);
    if (!(recursive && l && cmp_lock_owner(l) == cmp_self_tid()) && cmp_check_timeout(a[1]) < 0)
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

/* release() is METH_FASTCALL: see cmp_no_args. */
static PyObject *lock_release(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)args;
    if (cmp_no_args("Lock.release", nargs) < 0 || NOT_READY(self))
        return NULL;
    if (cmp_lock_release(LOCK(self)))
        return cmp_raise(CMP_ERR_RELEASED_TOO_MANY);
    Py_RETURN_NONE;
}

static PyObject *rlock_release(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)args;
    if (cmp_no_args("RLock.release", nargs) < 0 || NOT_READY(self))
        return NULL;
    if (cmp_rlock_release(LOCK(self), cmp_thread_owner()))
        return cmp_raise(CMP_ERR_RLOCK_NOT_MINE);
    Py_RETURN_NONE;
}

static inline PyObject *enter_common(PyObject *self, Py_ssize_t nargs, int recursive)
{
    if (__builtin_expect(nargs != 0, 0) && cmp_no_args("__enter__", nargs) < 0)
        return NULL;
    if (!try_fast(self, recursive) && do_acquire(self, 1, NULL, recursive) < 0)
        return NULL;
    Py_RETURN_TRUE;
}

static PyObject *lock_enter(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)args;
    return enter_common(self, nargs, 0);
}

static PyObject *rlock_enter(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)args;
    return enter_common(self, nargs, 1);
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
    return PyBool_FromLong(cmp_lock_owner(l) == cmp_self_owner() &&
                           __atomic_load_n(&l->tid, __ATOMIC_RELAXED) == cmp_self_tid());
}

static PyObject *rlock_is_mine(PyObject *self, PyObject *unused)
{
    (void)unused;
    if (cmp_shared_check((cmp_shared *)self) < 0)
        return NULL;
    return PyBool_FromLong(cmp_lock_owner(LOCK(self)) == cmp_thread_owner());
}

static PyObject *rlock_count(PyObject *self, PyObject *unused)
{
    (void)unused;
    if (cmp_shared_check((cmp_shared *)self) < 0)
        return NULL;
    cmp_lock *l = LOCK(self);
    return PyLong_FromUnsignedLong(cmp_lock_owner(l) == cmp_thread_owner() ? l->count : 0);
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
    return PyLong_FromUnsignedLong(cmp_owner_id(cmp_lock_owner(LOCK(self))));
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

static const cmp_with_def lock_enter_def = {
    "__enter__", "($self, /)", "Acquire the lock.", lock_enter};
static const cmp_with_def lock_exit_def = {
    "__exit__", "($self, /, *args)", "Release the lock.", lock_exit};
static const cmp_with_def rlock_enter_def = {
    "__enter__", "($self, /)", "Acquire the lock.", rlock_enter};
static const cmp_with_def rlock_exit_def = {
    "__exit__", "($self, /, *args)", "Release the lock once.", rlock_exit};

/* cmp.synchronize.Lock and RLock are these types themselves (the Python
 * layer adds __repr__ and __reduce__ to them): a lock's hot methods resolve
 * on an exact C type. */
static PyType_Slot lock_slots[] = {
    {Py_tp_init, lock_init},
    {Py_tp_dealloc, cmp_shared_dealloc},
    {Py_tp_methods, lock_methods},
    {Py_tp_getset, lock_getset},
    {Py_tp_members, lock_members},
    {Py_tp_doc, "Lock(*, ctx)\n--\n\n"
                "A non-recursive lock shared by the processes of a tree.\n\n"
                "If the process holding it dies, the next acquirer takes it over and an\n"
                "OwnerDiedWarning says so."},
    {0, NULL},
};

static PyType_Slot rlock_slots[] = {
    {Py_tp_init, rlock_init},
    {Py_tp_dealloc, cmp_shared_dealloc},
    {Py_tp_methods, rlock_methods},
    {Py_tp_getset, lock_getset},
    {Py_tp_members, lock_members},
    {Py_tp_doc, "RLock(*, ctx)\n--\n\n"
                "A recursive lock shared by the processes of a tree.\n\n"
                "If the thread holding it dies, the next acquirer takes it over and an\n"
                "OwnerDiedWarning says so."},
    {0, NULL},
};

static PyType_Spec lock_spec = {
    "_cmp.Lock", sizeof(cmp_shared), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE, lock_slots,
};

static PyType_Spec rlock_spec = {
    "_cmp.RLock", sizeof(cmp_shared), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE, rlock_slots,
};

int cmp_add_lock_types(PyObject *module)
{
    PyObject *lock, *rlock;
    if (cmp_add_type(module, &lock_spec, NULL, CMP_KIND_LOCK, &lock) < 0 ||
        cmp_add_with_methods(lock, &lock_enter_def, &lock_exit_def) < 0 ||
        cmp_add_type(module, &rlock_spec, NULL, CMP_KIND_RLOCK, &rlock) < 0)
        return -1;
    return cmp_add_with_methods(rlock, &rlock_enter_def, &rlock_exit_def);
}
