/* lock_type.c - the Lock and RLock types over csrc/lock.c. */
#include "shared.h"
#include "../lock.h"

#include <string.h>
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

/* A type's name without its module ("Lock", as the stdlib's messages say). */
static const char *short_name(PyTypeObject *tp)
{
    const char *dot = strrchr(tp->tp_name, '.');
    return dot ? dot + 1 : tp->tp_name;
}

/* Lock(*, ctx) and RLock(*, ctx), as the stdlib's: ctx is required, and
 * unused (every context of the tree shares the one arena). */
static int lock_init(PyObject *self, PyObject *args, PyObject *kwds)
{
    const char *name = short_name(Py_TYPE(self));
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
    PyObject *k = PyObject_GetAttrString((PyObject *)Py_TYPE(self), "_kind");
    if (!k)
        return -1;
    uint32_t kind = (uint32_t)PyLong_AsUnsignedLong(k);
    Py_DECREF(k);
    if (PyErr_Occurred())
        return -1;
    return cmp_shared_create((cmp_shared *)self, kind, sizeof(cmp_lock));
}

static void lock_dealloc(PyObject *self)
{
    if (((cmp_shared *)self)->weakreflist)
        PyObject_ClearWeakRefs(self);
    cmp_shared_dealloc(self);
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
    {"__weaklistoffset__", T_PYSSIZET, offsetof(cmp_shared, weakreflist), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

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
    if (cmp_rlock_release(LOCK(self), cmp_thread_owner())) {
        PyErr_SetString(PyExc_AssertionError,
                        "attempt to release recursive lock not owned by thread");
        return NULL;
    }
    Py_RETURN_NONE;
}

static inline PyObject *enter_common(PyObject *self, Py_ssize_t nargs, int recursive)
{
    if (__builtin_expect(nargs != 0, 0) && no_args("__enter__", nargs) < 0)
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

/* ---- __enter__ and __exit__ without a method object per `with` ---------
 *
 * `with lock:` looks __enter__ and __exit__ up on the type and binds both to
 * the lock.  Ordinary C methods would allocate, track and free two method
 * objects per `with`, about a third of what `with v.get_lock(): v.value += 1`
 * costs.  So these two are descriptors of a type of this file's own
 * (WithMethod), whose bound objects come from a small free list.  A bound
 * WithMethod holds a reference to its lock, like a bound method; it looks
 * like a built-in method to introspection (__self__, __name__,
 * __text_signature__, repr, pickling, equality). */

typedef PyObject *(*with_fn)(PyObject *self, PyObject *const *args, Py_ssize_t nargs);

typedef struct {
    const char *name;
    const char *signature;      /* __text_signature__ */
    const char *doc;
    with_fn fn;
} with_def;

typedef struct {
    PyObject_HEAD
    const with_def *def;
    PyTypeObject *owner;        /* the type it is defined on: strong in the
                                 * descriptor, borrowed when bound (the
                                 * lock's type keeps it alive) */
    PyObject *self;             /* the lock; NULL in the descriptor */
    PyTypeObject *seen;         /* descriptor: the last subtype of owner
                                 * it bound to (strong), to skip the
                                 * subtype check next time */
    vectorcallfunc vectorcall;
} WithMethod;

static PyTypeObject *with_method_type;

/* Bound objects let go, kept for the next bind (the GIL guards it). */
#define WITH_FREE_MAX 16
static WithMethod *with_free[WITH_FREE_MAX];
static int with_nfree;

static const with_def lock_enter_def = {
    "__enter__", "($self, /)", "Acquire the lock.", lock_enter};
static const with_def lock_exit_def = {
    "__exit__", "($self, /, *args)", "Release the lock.", lock_exit};
static const with_def rlock_enter_def = {
    "__enter__", "($self, /)", "Acquire the lock.", rlock_enter};
static const with_def rlock_exit_def = {
    "__exit__", "($self, /, *args)", "Release the lock once.", rlock_exit};

static int with_check_self(WithMethod *m, PyObject *obj)
{
    if (Py_IS_TYPE(obj, m->owner) || PyObject_TypeCheck(obj, m->owner))
        return 0;
    PyErr_Format(PyExc_TypeError,
                 "descriptor '%s' for '%s' objects doesn't apply to a '%s' object",
                 m->def->name, short_name(m->owner), short_name(Py_TYPE(obj)));
    return -1;
}

static PyObject *with_vectorcall(PyObject *op, PyObject *const *args,
                                 size_t nargsf, PyObject *kwnames)
{
    WithMethod *m = (WithMethod *)op;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (kwnames && PyTuple_GET_SIZE(kwnames)) {
        PyErr_Format(PyExc_TypeError, "%s() takes no keyword arguments", m->def->name);
        return NULL;
    }
    if (m->self)
        return m->def->fn(m->self, args, nargs);
    /* Unbound (Lock.__enter__(lock)): the lock comes first. */
    if (nargs < 1) {
        PyErr_Format(PyExc_TypeError, "unbound method %s.%s() needs an argument",
                     short_name(m->owner), m->def->name);
        return NULL;
    }
    if (with_check_self(m, args[0]) < 0)
        return NULL;
    return m->def->fn(args[0], args + 1, nargs - 1);
}

static PyObject *with_call(PyObject *op, PyObject *args, PyObject *kwds)
{
    Py_ssize_t nkw = kwds ? PyDict_GET_SIZE(kwds) : 0;
    if (nkw) {
        PyErr_Format(PyExc_TypeError, "%s() takes no keyword arguments",
                     ((WithMethod *)op)->def->name);
        return NULL;
    }
    return with_vectorcall(op, &PyTuple_GET_ITEM(args, 0),
                           (size_t)PyTuple_GET_SIZE(args), NULL);
}

/* Binding: the hot half of every `with`. */
static PyObject *with_get(PyObject *op, PyObject *obj, PyObject *type)
{
    (void)type;
    WithMethod *d = (WithMethod *)op, *b;
    if (obj == NULL || d->self) {
        Py_INCREF(op);
        return op;
    }
    PyTypeObject *tp = Py_TYPE(obj);
    if (tp != d->owner && tp != d->seen) {
        if (with_check_self(d, obj) < 0)
            return NULL;
        Py_INCREF(tp);
        Py_XSETREF(d->seen, tp);
    }
    if (with_nfree > 0) {
        b = with_free[--with_nfree];
        PyObject_Init((PyObject *)b, Py_TYPE(d));
    } else {
        b = PyObject_GC_New(WithMethod, Py_TYPE(d));
        if (!b)
            return NULL;
    }
    b->def = d->def;
    b->owner = d->owner;
    Py_INCREF(obj);
    b->self = obj;
    b->seen = NULL;
    b->vectorcall = with_vectorcall;
    /* A lock of a type without GC cannot be part of a cycle, and neither
     * can this then: the collector need not know it. */
    if (PyType_IS_GC(tp))
        PyObject_GC_Track(b);
    return (PyObject *)b;
}

static PyObject *with_new_descr(PyTypeObject *owner, const with_def *def)
{
    WithMethod *d = PyObject_GC_New(WithMethod, with_method_type);
    if (!d)
        return NULL;
    d->def = def;
    Py_INCREF(owner);
    d->owner = owner;
    d->self = NULL;
    d->seen = NULL;
    d->vectorcall = with_vectorcall;
    PyObject_GC_Track(d);
    return (PyObject *)d;
}

static void with_dealloc(PyObject *op)
{
    WithMethod *m = (WithMethod *)op;
    PyTypeObject *tp = Py_TYPE(op);
    /* Tracked unless bound to a lock without GC (with_get). */
    if (!m->self || PyType_IS_GC(Py_TYPE(m->self)))
        PyObject_GC_UnTrack(op);
    if (m->self) {
        Py_CLEAR(m->self);
        if (with_nfree < WITH_FREE_MAX) {
            with_free[with_nfree++] = m;
            Py_DECREF(tp);
            return;
        }
    } else {
        Py_CLEAR(m->owner);
        Py_CLEAR(m->seen);
    }
    PyObject_GC_Del(op);
    Py_DECREF(tp);
}

static int with_traverse(PyObject *op, visitproc visit, void *arg)
{
    WithMethod *m = (WithMethod *)op;
    Py_VISIT(Py_TYPE(op));
    Py_VISIT(m->self);
    if (!m->self) {
        Py_VISIT(m->owner);
        Py_VISIT(m->seen);
    }
    return 0;
}

static PyObject *with_repr(PyObject *op)
{
    WithMethod *m = (WithMethod *)op;
    if (m->self)
        return PyUnicode_FromFormat("<built-in method %s of %s object at %p>",
                                    m->def->name, short_name(Py_TYPE(m->self)), m->self);
    return PyUnicode_FromFormat("<method '%s' of '%s' objects>",
                                m->def->name, short_name(m->owner));
}

static PyObject *with_richcompare(PyObject *a, PyObject *b, int op)
{
    if ((op != Py_EQ && op != Py_NE) || !Py_IS_TYPE(b, Py_TYPE(a)))
        Py_RETURN_NOTIMPLEMENTED;
    WithMethod *x = (WithMethod *)a, *y = (WithMethod *)b;
    int eq = x->def == y->def && x->self == y->self && x->owner == y->owner;
    return PyBool_FromLong(op == Py_EQ ? eq : !eq);
}

static Py_hash_t with_hash(PyObject *op)
{
    WithMethod *m = (WithMethod *)op;
    Py_hash_t h = (Py_hash_t)(((uintptr_t)m->self >> 4) ^ (uintptr_t)m->def);
    return h == -1 ? -2 : h;
}

static PyObject *with_reduce(PyObject *op, PyObject *unused)
{
    (void)unused;
    WithMethod *m = (WithMethod *)op;
    PyObject *getattr = PyDict_GetItemString(PyEval_GetBuiltins(), "getattr");
    if (!getattr)
        return NULL;
    return Py_BuildValue("O(Os)", getattr,
                         m->self ? m->self : (PyObject *)m->owner, m->def->name);
}

static PyObject *with_get_self(PyObject *op, void *unused)
{
    (void)unused;
    WithMethod *m = (WithMethod *)op;
    if (!m->self) {
        PyErr_Format(PyExc_AttributeError, "'%s' object has no attribute '__self__'",
                     Py_TYPE(op)->tp_name);
        return NULL;
    }
    Py_INCREF(m->self);
    return m->self;
}

static PyObject *with_get_objclass(PyObject *op, void *unused)
{
    (void)unused;
    PyObject *owner = (PyObject *)((WithMethod *)op)->owner;
    Py_INCREF(owner);
    return owner;
}

static PyObject *with_get_name(PyObject *op, void *unused)
{
    (void)unused;
    return PyUnicode_FromString(((WithMethod *)op)->def->name);
}

static PyObject *with_get_qualname(PyObject *op, void *unused)
{
    (void)unused;
    WithMethod *m = (WithMethod *)op;
    PyObject *q = PyObject_GetAttrString((PyObject *)m->owner, "__qualname__");
    if (!q)
        return NULL;
    PyObject *r = PyUnicode_FromFormat("%U.%s", q, m->def->name);
    Py_DECREF(q);
    return r;
}

static PyObject *with_get_doc(PyObject *op, void *unused)
{
    (void)unused;
    return PyUnicode_FromString(((WithMethod *)op)->def->doc);
}

static PyObject *with_get_signature(PyObject *op, void *unused)
{
    (void)unused;
    return PyUnicode_FromString(((WithMethod *)op)->def->signature);
}

static PyGetSetDef with_getset[] = {
    {"__self__", with_get_self, NULL, NULL, NULL},
    {"__objclass__", with_get_objclass, NULL, NULL, NULL},
    {"__name__", with_get_name, NULL, NULL, NULL},
    {"__qualname__", with_get_qualname, NULL, NULL, NULL},
    {"__doc__", with_get_doc, NULL, NULL, NULL},
    {"__text_signature__", with_get_signature, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef with_methods[] = {
    {"__reduce__", with_reduce, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef with_members[] = {
    {"__vectorcalloffset__", T_PYSSIZET, offsetof(WithMethod, vectorcall), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot with_slots[] = {
    {Py_tp_dealloc, with_dealloc},
    {Py_tp_traverse, with_traverse},
    {Py_tp_call, with_call},
    {Py_tp_descr_get, with_get},
    {Py_tp_repr, with_repr},
    {Py_tp_richcompare, with_richcompare},
    {Py_tp_hash, with_hash},
    {Py_tp_getset, with_getset},
    {Py_tp_methods, with_methods},
    {Py_tp_members, with_members},
    {0, NULL},
};

static PyType_Spec with_spec = {
    "_cmp.lock_method", sizeof(WithMethod), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL, with_slots,
};

/* Put __enter__ and __exit__ on a lock type. */
static int add_with_methods(PyObject *tp, const with_def *enter, const with_def *exit)
{
    const with_def *defs[2] = {enter, exit};
    for (int i = 0; i < 2; i++) {
        PyObject *d = with_new_descr((PyTypeObject *)tp, defs[i]);
        if (!d || PyObject_SetAttrString(tp, defs[i]->name, d) < 0) {
            Py_XDECREF(d);
            return -1;
        }
        Py_DECREF(d);
    }
    return 0;
}

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

/* cmp.synchronize.Lock and RLock are these types themselves (the Python
 * layer adds __repr__ and __reduce__ to them): a lock's hot methods resolve
 * on an exact C type. */
static PyType_Slot lock_slots[] = {
    {Py_tp_init, lock_init},
    {Py_tp_dealloc, lock_dealloc},
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
    {Py_tp_init, lock_init},
    {Py_tp_dealloc, lock_dealloc},
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
    with_method_type = (PyTypeObject *)PyType_FromSpec(&with_spec);
    if (!with_method_type)
        return -1;
    PyObject *lock, *rlock;
    if (cmp_add_shared_type(module, &lock_spec, CMP_KIND_LOCK, &lock) < 0 ||
        add_with_methods(lock, &lock_enter_def, &lock_exit_def) < 0 ||
        cmp_add_shared_type(module, &rlock_spec, CMP_KIND_RLOCK, &rlock) < 0)
        return -1;
    return add_with_methods(rlock, &rlock_enter_def, &rlock_exit_def);
}
