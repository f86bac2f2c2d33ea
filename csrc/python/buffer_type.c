/*
 * buffer_type.c - sharedctypes in C: the shared bytes of a Value or Array
 * (SharedBuffer, over csrc/buffer.h) and the synchronized wrappers' fast
 * paths (SyncBase, SyncValue, SyncArray).
 *
 * SharedBuffer owns one shared object of kind CMP_KIND_BUFFER and exports
 * its payload through the buffer protocol; cmp/sharedctypes.py lays ctypes
 * objects over it with from_buffer (they keep it alive through the
 * memoryview ctypes stores).
 *
 * A wrapper (SyncBase) holds the ctypes object, the lock, and what the fast
 * paths need: the payload's address, the typecode and the lock's body.  For
 * the typecodes of the table, `.value` and `arr[i]` load or store the scalar
 * here (one atomic access, csrc/buffer.h) under the lock; when the lock is
 * a cmp Lock or RLock it is taken and released by its C fast path, and only
 * a contended acquire goes through the lock's Python method (which sleeps
 * with the GIL released).  Everything else (ctypes types outside the table,
 * Structures, slices assigned, values of other Python types) goes through
 * the ctypes object under the same lock, so errors are ctypes' own.
 */
#include "shared.h"
#include "../buffer.h"
#include "../lock.h"

#include <structmember.h>

/* ---- SharedBuffer ------------------------------------------------------- */

#define BUF(self) ((cmp_buffer *)((cmp_shared *)(self))->body)

static int sharedbuffer_init(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"nbytes", NULL};
    Py_ssize_t nbytes;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "n:SharedBuffer", kwlist, &nbytes))
        return -1;
    if (nbytes < 0) {
        PyErr_SetString(PyExc_ValueError, "nbytes must not be negative");
        return -1;
    }
    if (cmp_shared_create((cmp_shared *)self, CMP_KIND_BUFFER,
                          CMP_BUFFER_HDR + (uint64_t)nbytes) < 0)
        return -1;
    BUF(self)->nbytes = (uint64_t)nbytes;
    return 0;
}

static int sharedbuffer_getbuffer(PyObject *self, Py_buffer *view, int flags)
{
    if (cmp_shared_check((cmp_shared *)self) < 0) {
        view->obj = NULL;
        return -1;
    }
    cmp_buffer *b = BUF(self);
    return PyBuffer_FillInfo(view, self, cmp_buffer_data(b), (Py_ssize_t)b->nbytes,
                             0, flags);
}

static PyObject *sharedbuffer_nbytes(PyObject *self, void *unused)
{
    (void)unused;
    if (cmp_shared_check((cmp_shared *)self) < 0)
        return NULL;
    return PyLong_FromUnsignedLongLong(BUF(self)->nbytes);
}

PyDoc_STRVAR(sharedbuffer_copy_of_doc,
"_copy_of(data, /)\n--\n\n"
"A new SharedBuffer holding a copy of the bytes of `data` (any contiguous\n"
"buffer), copied once with the GIL released.");

static PyObject *sharedbuffer_copy_of(PyObject *cls, PyObject *data)
{
    Py_buffer src;
    if (PyObject_GetBuffer(data, &src, PyBUF_C_CONTIGUOUS) < 0)
        return NULL;
    PyTypeObject *type = (PyTypeObject *)cls;
    PyObject *self = type->tp_alloc(type, 0);
    /* The payload is overwritten whole before anyone can see it: only the
     * buffer's header is zeroed. */
    if (!self || cmp_shared_create_partly_zeroed(
                     (cmp_shared *)self, CMP_KIND_BUFFER,
                     CMP_BUFFER_HDR + (uint64_t)src.len, CMP_BUFFER_HDR) < 0) {
        PyBuffer_Release(&src);
        Py_XDECREF(self);
        return NULL;
    }
    cmp_buffer *b = BUF(self);
    b->nbytes = (uint64_t)src.len;
    Py_BEGIN_ALLOW_THREADS
    memcpy(cmp_buffer_data(b), src.buf, (size_t)src.len);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&src);
    return self;
}

static PyMethodDef sharedbuffer_methods[] = {
    {"_copy_of", sharedbuffer_copy_of, METH_O | METH_CLASS, sharedbuffer_copy_of_doc},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef sharedbuffer_getset[] = {
    {"nbytes", sharedbuffer_nbytes, NULL, "Size of the payload in bytes.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef sharedbuffer_members[] = {
    CMP_SHARED_WEAKREFS,
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot sharedbuffer_slots[] = {
    {Py_tp_init, sharedbuffer_init},
    {Py_tp_dealloc, cmp_shared_dealloc},
    {Py_tp_getset, sharedbuffer_getset},
    {Py_tp_methods, sharedbuffer_methods},
    {Py_bf_getbuffer, sharedbuffer_getbuffer},
    {Py_tp_members, sharedbuffer_members},
    {Py_tp_doc, "SharedBuffer(nbytes)\n--\n\n"
                "nbytes zeroed bytes in cmp's shared arena (buffer protocol)."},
    {0, NULL},
};

static PyType_Spec sharedbuffer_spec = {
    "_cmp.SharedBuffer", sizeof(cmp_shared), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE, sharedbuffer_slots,
};

/* ---- the synchronized wrappers ----------------------------------------- */

/* How the wrapper takes its lock. */
enum {
    LK_PYTHON = 0,  /* any object with acquire()/release(): call them */
    LK_LOCK = 1,    /* a cmp Lock: C fast path on its body */
    LK_RLOCK = 2,   /* a cmp RLock: C fast path on its body */
};

typedef struct {
    PyObject_HEAD
    char *data;             /* the ctypes object's memory */
    Py_ssize_t length;      /* elements of an Array, 1 for a Value */
    Py_ssize_t itemsize;    /* bytes per element when code != 0 */
    char code;              /* typecode of the table, or 0: through ctypes */
    char lkind;             /* LK_* */
    cmp_lock *lk;           /* the lock's body (LK_LOCK, LK_RLOCK) */
    PyObject *obj;          /* the ctypes object (get_obj) */
    PyObject *lock;         /* get_lock */
    PyObject *dict;         /* __dict__ */
    PyObject *weakreflist;
} SyncObject;

/* 1 (ValueError set) when the wrapper has no object yet. */
static int sync_not_ready(SyncObject *s)
{
    if (s->obj)
        return 0;
    cmp_not_initialised((PyObject *)s);
    return 1;
}

static int sync_call(PyObject *lock, PyObject *name)
{
    PyObject *r = PyObject_CallMethodObjArgs(lock, name, NULL);
    if (!r)
        return -1;
    Py_DECREF(r);
    return 0;
}

/* Take the lock: 0 or -1 with an exception set. */
static inline int sync_acquire(SyncObject *s)
{
    if (s->lkind == LK_RLOCK) {
        if (cmp_rlock_try(s->lk, cmp_thread_owner()))
            return 0;
    } else if (s->lkind == LK_LOCK) {
        if (cmp_lock_try(s->lk, cmp_self_owner())) {
            /* Relaxed: tid is informational (repr, _is_mine), as in
             * lock_type.c. */
            __atomic_store_n(&s->lk->tid, cmp_self_tid(), __ATOMIC_RELAXED);
            return 0;
        }
    }
    /* Contended, or not a cmp lock: the lock's own acquire (it sleeps with
     * the GIL released and lets signals through). */
    return sync_call(s->lock, cmp_state.str_acquire);
}

/* Release the lock.  `failed`: an exception is already set by the work
 * done under the lock; it is kept (and a release error is dropped). */
static int sync_release(SyncObject *s, int failed)
{
    if (s->lkind == LK_RLOCK) {
        if (cmp_rlock_release(s->lk, cmp_thread_owner()) == 0)
            return failed ? -1 : 0;
        if (!failed)
            cmp_raise(CMP_ERR_RLOCK_NOT_MINE);
        return -1;
    }
    if (s->lkind == LK_LOCK) {
        if (cmp_lock_release(s->lk) == 0)
            return failed ? -1 : 0;
        if (!failed)
            cmp_raise(CMP_ERR_RELEASED_TOO_MANY);
        return -1;
    }
    if (!failed)
        return sync_call(s->lock, cmp_state.str_release);
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    if (sync_call(s->lock, cmp_state.str_release) < 0)
        PyErr_Clear();
    PyErr_Restore(t, v, tb);
    return -1;
}

/* Release after work that produced `r` (NULL: failed); returns r, or NULL
 * when the release failed. */
static PyObject *sync_done(SyncObject *s, PyObject *r)
{
    if (sync_release(s, r == NULL) < 0) {
        Py_XDECREF(r);
        return NULL;
    }
    return r;
}

static PyObject *scalar_to_py(char code, const char *p)
{
    cmp_scalar x = cmp_scalar_load(code, p);
    switch (cmp_code_class(code)) {
    case CMP_CODE_SIGNED:
        return PyLong_FromLongLong(x.i);
    case CMP_CODE_UNSIGNED:
        if (code == 'c') {
            char c = (char)x.u;
            return PyBytes_FromStringAndSize(&c, 1);
        }
        return PyLong_FromUnsignedLongLong(x.u);
    default:
        return PyFloat_FromDouble(x.d);
    }
}

/* Convert the common Python values (exact int for integer codes, exact
 * float or int for floating codes) without running any user code.  Returns
 * 1 when converted, 0 when the value must go through ctypes (which then
 * converts it, or raises its own error).  Never leaves an exception. */
static int py_to_scalar(char code, PyObject *v, cmp_scalar *out)
{
    switch (cmp_code_class(code)) {
    case CMP_CODE_SIGNED:
    case CMP_CODE_UNSIGNED:
        if (code == 'c' || !PyLong_CheckExact(v))
            return 0;
        /* ctypes truncates integers to the type's width; so does this. */
        out->u = PyLong_AsUnsignedLongLongMask(v);
        return 1;
    case CMP_CODE_FLOAT:
        if (PyFloat_CheckExact(v)) {
            out->d = PyFloat_AS_DOUBLE(v);
            return 1;
        }
        if (PyLong_CheckExact(v)) {
            out->d = PyLong_AsDouble(v);
            if (out->d == -1.0 && PyErr_Occurred()) {
                PyErr_Clear();
                return 0;
            }
            return 1;
        }
        return 0;
    default:
        return 0;
    }
}

/* An integer argument of an atomic operation, truncated like a store. */
static int py_to_bits(PyObject *v, uint64_t *out)
{
    if (PyLong_CheckExact(v)) {
        *out = PyLong_AsUnsignedLongLongMask(v);
        return 0;
    }
    PyObject *i = PyNumber_Index(v);
    if (!i)
        return -1;
    *out = PyLong_AsUnsignedLongLongMask(i);
    Py_DECREF(i);
    return 0;
}

static PyObject *bits_to_py(char code, cmp_scalar x)
{
    if (cmp_code_class(code) == CMP_CODE_SIGNED)
        return PyLong_FromLongLong(x.i);
    return PyLong_FromUnsignedLongLong(x.u);
}

static int sync_check_atomic(SyncObject *s)
{
    if (sync_not_ready(s))
        return -1;
    int k = cmp_code_class(s->code);
    if ((k == CMP_CODE_SIGNED || k == CMP_CODE_UNSIGNED) && s->code != 'c')
        return 0;
    PyErr_Format(PyExc_TypeError,
                 "atomic operations need an integer typecode "
                 "(b B h H i I l L q Q), not %R", s->obj);
    return -1;
}

/* SyncBase._setup(obj, lock, code, length) */
static PyObject *sync_setup(PyObject *op, PyObject *const *args, Py_ssize_t nargs)
{
    SyncObject *s = (SyncObject *)op;
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "_setup(obj, lock, code, length)");
        return NULL;
    }
    PyObject *obj = args[0], *lock = args[1], *code = args[2];
    Py_ssize_t length = PyLong_AsSsize_t(args[3]);
    if (length == -1 && PyErr_Occurred())
        return NULL;
    if (s->obj) {
        PyErr_SetString(PyExc_RuntimeError, "wrapper already initialised");
        return NULL;
    }
    char c = 0;
    if (code != Py_None) {
        const char *u = PyUnicode_AsUTF8(code);
        if (!u)
            return NULL;
        c = u[0];
    }
    Py_buffer view;
    char *data = NULL;
    Py_ssize_t len = 0;
    if (PyObject_GetBuffer(obj, &view, PyBUF_SIMPLE) < 0) {
        /* Not a ctypes object (the stdlib wraps anything): no fast path. */
        PyErr_Clear();
        c = 0;
    } else {
        data = view.buf;
        len = view.len;
        PyBuffer_Release(&view);
    }
    Py_ssize_t itemsize = (Py_ssize_t)cmp_code_size(c);
    if (c && (itemsize == 0 || length < 0 || len < length * itemsize ||
              ((uintptr_t)data % (uintptr_t)itemsize) != 0)) {
        /* Not a layout the fast paths can serve: go through ctypes. */
        c = 0;
        itemsize = 0;
    }
    s->data = data;
    s->length = length;
    s->itemsize = itemsize;
    s->code = c;
    s->lkind = LK_PYTHON;
    s->lk = NULL;
    if ((PyObject_TypeCheck(lock, cmp_state.kind_type[CMP_KIND_RLOCK]) ||
         PyObject_TypeCheck(lock, cmp_state.kind_type[CMP_KIND_LOCK])) &&
        ((cmp_shared *)lock)->body) {
        s->lkind = PyObject_TypeCheck(lock, cmp_state.kind_type[CMP_KIND_RLOCK]) ? LK_RLOCK : LK_LOCK;
        s->lk = ((cmp_shared *)lock)->body;
    }
    Py_INCREF(obj);
    s->obj = obj;
    Py_INCREF(lock);
    s->lock = lock;
    Py_RETURN_NONE;
}

static PyObject *sync_get_obj(PyObject *op, PyObject *unused)
{
    (void)unused;
    SyncObject *s = (SyncObject *)op;
    if (sync_not_ready(s))
        return NULL;
    Py_INCREF(s->obj);
    return s->obj;
}

static PyObject *sync_get_lock(PyObject *op, PyObject *unused)
{
    (void)unused;
    SyncObject *s = (SyncObject *)op;
    if (sync_not_ready(s))
        return NULL;
    Py_INCREF(s->lock);
    return s->lock;
}

static PyObject *sync_enter(PyObject *op, PyObject *unused)
{
    (void)unused;
    SyncObject *s = (SyncObject *)op;
    if (sync_not_ready(s))
        return NULL;
    if (s->lkind == LK_PYTHON)
        return PyObject_CallMethod(s->lock, "__enter__", NULL);
    if (sync_acquire(s) < 0)
        return NULL;
    Py_RETURN_TRUE;
}

static PyObject *sync_exit(PyObject *op, PyObject *const *args, Py_ssize_t nargs)
{
    SyncObject *s = (SyncObject *)op;
    if (sync_not_ready(s))
        return NULL;
    if (s->lkind == LK_PYTHON) {
        PyObject *m = PyObject_GetAttrString(s->lock, "__exit__");
        if (!m)
            return NULL;
        PyObject *r = PyObject_Vectorcall(m, args, (size_t)nargs, NULL);
        Py_DECREF(m);
        return r;
    }
    if (sync_release(s, 0) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static int sync_traverse(PyObject *op, visitproc visit, void *arg)
{
    SyncObject *s = (SyncObject *)op;
    Py_VISIT(Py_TYPE(op));
    Py_VISIT(s->obj);
    Py_VISIT(s->lock);
    Py_VISIT(s->dict);
    return 0;
}

static int sync_clear(PyObject *op)
{
    SyncObject *s = (SyncObject *)op;
    s->data = NULL;
    s->lk = NULL;
    s->lkind = LK_PYTHON;
    s->code = 0;
    Py_CLEAR(s->obj);
    Py_CLEAR(s->lock);
    Py_CLEAR(s->dict);
    return 0;
}

static void sync_dealloc(PyObject *op)
{
    PyTypeObject *tp = Py_TYPE(op);
    PyObject_GC_UnTrack(op);
    if (((SyncObject *)op)->weakreflist)
        PyObject_ClearWeakRefs(op);
    sync_clear(op);
    tp->tp_free(op);
    Py_DECREF(tp);
}

static PyMethodDef sync_methods[] = {
    {"_setup", (PyCFunction)(void (*)(void))sync_setup, METH_FASTCALL,
     "_setup($self, obj, lock, code, length, /)\n--\n\n"
     "Attach the ctypes object and its lock (code: typecode or None)."},
    {"get_obj", sync_get_obj, METH_NOARGS,
     "get_obj($self, /)\n--\n\nThe ctypes object over the shared memory."},
    {"get_lock", sync_get_lock, METH_NOARGS,
     "get_lock($self, /)\n--\n\nThe lock that guards the object."},
    {"__enter__", sync_enter, METH_NOARGS,
     "__enter__($self, /)\n--\n\nAcquire the lock."},
    {"__exit__", (PyCFunction)(void (*)(void))sync_exit, METH_FASTCALL,
     "__exit__($self, /, *args)\n--\n\nRelease the lock."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef sync_members[] = {
    {"_obj", T_OBJECT, offsetof(SyncObject, obj), READONLY, NULL},
    {"_lock", T_OBJECT, offsetof(SyncObject, lock), READONLY, NULL},
    {"__dictoffset__", T_PYSSIZET, offsetof(SyncObject, dict), READONLY, NULL},
    {"__weaklistoffset__", T_PYSSIZET, offsetof(SyncObject, weakreflist), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot sync_slots[] = {
    {Py_tp_dealloc, sync_dealloc},
    {Py_tp_traverse, sync_traverse},
    {Py_tp_clear, sync_clear},
    {Py_tp_methods, sync_methods},
    {Py_tp_members, sync_members},
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_doc, "The C base of cmp's synchronized wrappers."},
    {0, NULL},
};

static PyType_Spec sync_spec = {
    "_cmp.SyncBase", sizeof(SyncObject), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC, sync_slots,
};

/* ---- SyncValue: .value and atomics on a scalar -------------------------- */

static PyObject *value_get(PyObject *op, void *unused)
{
    (void)unused;
    SyncObject *s = (SyncObject *)op;
    if (sync_not_ready(s) || sync_acquire(s) < 0)
        return NULL;
    PyObject *r = s->code ? scalar_to_py(s->code, s->data)
                          : PyObject_GetAttr(s->obj, cmp_state.str_value);
    return sync_done(s, r);
}

static int value_set(PyObject *op, PyObject *v, void *unused)
{
    (void)unused;
    SyncObject *s = (SyncObject *)op;
    if (!v) {
        PyErr_SetString(PyExc_AttributeError, "can't delete attribute");
        return -1;
    }
    if (sync_not_ready(s))
        return -1;
    cmp_scalar x;
    int fast = s->code && py_to_scalar(s->code, v, &x);
    if (sync_acquire(s) < 0)
        return -1;
    int r = 0;
    if (fast)
        cmp_scalar_store(s->code, s->data, x);
    else
        r = PyObject_SetAttr(s->obj, cmp_state.str_value, v);
    return sync_release(s, r < 0);
}

/* Writes of `v.value` on SyncValue itself (cmp.sharedctypes.Synchronized)
 * skip the generic attribute lookup.  Subclasses, which may redefine
 * `value`, take the generic path. */
static int value_setattro(PyObject *op, PyObject *name, PyObject *v)
{
    if (name == cmp_state.str_value && v && Py_IS_TYPE(op, cmp_state.sync_value_type))
        return value_set(op, v, NULL);
    return PyObject_GenericSetAttr(op, name, v);
}

static PyObject *value_fetch_add(PyObject *op, PyObject *const *args,
                                 Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"delta"};
    SyncObject *s = (SyncObject *)op;
    if (nargs == 1 && !kwnames && PyLong_CheckExact(args[0]) && s->obj &&
        cmp_code_class(s->code) != CMP_CODE_FLOAT && s->code != 'c' && s->code)
        return bits_to_py(s->code, cmp_scalar_fetch_add(
                                       s->code, s->data,
                                       PyLong_AsUnsignedLongLongMask(args[0])));
    PyObject *a[1] = {NULL};
    if (cmp_parse_args("fetch_add", args, nargs, kwnames, names, 1, 0, a) < 0 ||
        sync_check_atomic(s) < 0)
        return NULL;
    uint64_t delta = 1;
    if (a[0] && py_to_bits(a[0], &delta) < 0)
        return NULL;
    return bits_to_py(s->code, cmp_scalar_fetch_add(s->code, s->data, delta));
}

static PyObject *value_exchange(PyObject *op, PyObject *arg)
{
    SyncObject *s = (SyncObject *)op;
    uint64_t v;
    if (sync_check_atomic(s) < 0 || py_to_bits(arg, &v) < 0)
        return NULL;
    return bits_to_py(s->code, cmp_scalar_exchange(s->code, s->data, v));
}

static PyObject *value_compare_exchange(PyObject *op, PyObject *const *args,
                                        Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"expected", "desired"};
    SyncObject *s = (SyncObject *)op;
    PyObject *a[2] = {NULL, NULL};
    uint64_t e, d;
    if (cmp_parse_args("compare_exchange", args, nargs, kwnames, names, 2, 2, a) < 0 ||
        sync_check_atomic(s) < 0 || py_to_bits(a[0], &e) < 0 ||
        py_to_bits(a[1], &d) < 0)
        return NULL;
    return bits_to_py(s->code, cmp_scalar_compare_exchange(s->code, s->data, e, d));
}

static PyGetSetDef value_getset[] = {
    {"value", value_get, value_set, "The shared value (read and written under the lock).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef value_methods[] = {
    {"fetch_add", (PyCFunction)(void (*)(void))value_fetch_add,
     METH_FASTCALL | METH_KEYWORDS,
     "fetch_add($self, /, delta=1)\n--\n\n"
     "Atomically add delta (wrapping at the type's width) and return the old\n"
     "value.  Lock-free: does not take the lock (cmp extension)."},
    {"exchange", value_exchange, METH_O,
     "exchange($self, value, /)\n--\n\n"
     "Atomically store value and return the old value.  Lock-free (cmp\n"
     "extension)."},
    {"compare_exchange", (PyCFunction)(void (*)(void))value_compare_exchange,
     METH_FASTCALL | METH_KEYWORDS,
     "compare_exchange($self, /, expected, desired)\n--\n\n"
     "Atomically store desired if the value equals expected.  Returns the\n"
     "value found: the store happened exactly when it equals expected.\n"
     "Lock-free (cmp extension)."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot value_slots[] = {
    {Py_tp_setattro, value_setattro},
    {Py_tp_dealloc, sync_dealloc},
    {Py_tp_traverse, sync_traverse},
    {Py_tp_clear, sync_clear},
    {Py_tp_getset, value_getset},
    {Py_tp_methods, value_methods},
    {Py_tp_doc, "The C base of cmp's Synchronized (a Value with a lock)."},
    {0, NULL},
};

static PyType_Spec value_spec = {
    "_cmp.SyncValue", sizeof(SyncObject), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC, value_slots,
};

/* ---- SyncArray: items, slices, buffer, atomics --------------------------- */

static Py_ssize_t array_length(PyObject *op)
{
    SyncObject *s = (SyncObject *)op;
    if (sync_not_ready(s))
        return -1;
    return s->length;
}

static PyObject *invalid_index(void)
{
    PyErr_SetString(PyExc_IndexError, "invalid index");
    return NULL;
}

/* Through ctypes, under the lock: get (value == NULL, del == 0), set, or
 * delete (value == NULL, del == 1). */
static PyObject *array_generic_get(SyncObject *s, PyObject *key)
{
    if (sync_acquire(s) < 0)
        return NULL;
    PyObject *r = PyObject_GetItem(s->obj, key);
    return sync_done(s, r);
}

static int array_generic_set(SyncObject *s, PyObject *key, PyObject *value)
{
    if (sync_acquire(s) < 0)
        return -1;
    int r = value ? PyObject_SetItem(s->obj, key, value)
                  : PyObject_DelItem(s->obj, key);
    return sync_release(s, r < 0);
}

static PyObject *array_get_at(SyncObject *s, Py_ssize_t i)
{
    if (sync_acquire(s) < 0)
        return NULL;
    PyObject *r = scalar_to_py(s->code, s->data + i * s->itemsize);
    return sync_done(s, r);
}

static PyObject *array_slice(SyncObject *s, PyObject *key)
{
    Py_ssize_t start, stop, step;
    if (PySlice_Unpack(key, &start, &stop, &step) < 0)
        return NULL;
    Py_ssize_t n = PySlice_AdjustIndices(s->length, &start, &stop, step);
    PyObject *list = PyList_New(n);
    if (!list)
        return NULL;
    if (sync_acquire(s) < 0) {
        Py_DECREF(list);
        return NULL;
    }
    int failed = 0;
    const char *p = s->data + start * s->itemsize;
    Py_ssize_t stride = step * s->itemsize;
    for (Py_ssize_t k = 0; k < n; k++, p += stride) {
        PyObject *item = scalar_to_py(s->code, p);
        if (!item) {
            failed = 1;
            break;
        }
        PyList_SET_ITEM(list, k, item);
    }
    if (sync_release(s, failed) < 0) {
        Py_DECREF(list);
        return NULL;
    }
    return list;
}

/* An exact int index, normalised; -2 when it needs ctypes (overflow), -1
 * with IndexError when out of range. */
static Py_ssize_t array_index(SyncObject *s, PyObject *key)
{
    Py_ssize_t i = PyLong_AsSsize_t(key);
    if (i == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return -2;
    }
    if (i < 0)
        i += s->length;
    if (i < 0 || i >= s->length) {
        invalid_index();
        return -1;
    }
    return i;
}

static PyObject *array_subscript(PyObject *op, PyObject *key)
{
    SyncObject *s = (SyncObject *)op;
    if (sync_not_ready(s))
        return NULL;
    if (s->code) {
        if (PyLong_CheckExact(key)) {
            Py_ssize_t i = array_index(s, key);
            if (i >= 0)
                return array_get_at(s, i);
            if (i == -1)
                return NULL;
        } else if (PySlice_Check(key) && s->code != 'c') {
            return array_slice(s, key);
        }
    }
    return array_generic_get(s, key);
}

static PyObject *array_item(PyObject *op, Py_ssize_t i)
{
    SyncObject *s = (SyncObject *)op;
    if (sync_not_ready(s))
        return NULL;
    if (i < 0 || i >= s->length)
        return invalid_index();
    if (s->code)
        return array_get_at(s, i);
    PyObject *key = PyLong_FromSsize_t(i);
    if (!key)
        return NULL;
    PyObject *r = array_generic_get(s, key);
    Py_DECREF(key);
    return r;
}

static int array_ass_subscript(PyObject *op, PyObject *key, PyObject *value)
{
    SyncObject *s = (SyncObject *)op;
    if (sync_not_ready(s))
        return -1;
    if (!value) {
        /* The stdlib's wrapper has __setitem__ but no __delitem__. */
        PyErr_SetString(PyExc_AttributeError, "__delitem__");
        return -1;
    }
    cmp_scalar x;
    if (s->code && value && PyLong_CheckExact(key) && py_to_scalar(s->code, value, &x)) {
        Py_ssize_t i = array_index(s, key);
        if (i == -1)
            return -1;
        if (i >= 0) {
            if (sync_acquire(s) < 0)
                return -1;
            cmp_scalar_store(s->code, s->data + i * s->itemsize, x);
            return sync_release(s, 0);
        }
    }
    return array_generic_set(s, key, value);
}

static int array_ass_item(PyObject *op, Py_ssize_t i, PyObject *value)
{
    PyObject *key = PyLong_FromSsize_t(i);
    if (!key)
        return -1;
    int r = array_ass_subscript(op, key, value);
    Py_DECREF(key);
    return r;
}

static int array_getbuffer(PyObject *op, Py_buffer *view, int flags)
{
    SyncObject *s = (SyncObject *)op;
    if (sync_not_ready(s)) {
        view->obj = NULL;
        return -1;
    }
    if (!s->code)   /* ctypes' own view (its format, e.g. a Structure's) */
        return PyObject_GetBuffer(s->obj, view, flags);
    /* The typecode itself is the native struct format (ctypes would say
     * "<d", which memoryview cannot index): zero-copy, writable, 1-D. */
    static const char codes[] = "cbBhHiIlLqQfd";
    static const char formats[][2] = {"c", "b", "B", "h", "H", "i", "I",
                                      "l", "L", "q", "Q", "f", "d"};
    const char *format = strchr(codes, s->code);
    if (!format) {
        PyErr_SetString(PyExc_BufferError, "no buffer format for this typecode");
        view->obj = NULL;
        return -1;
    }
    view->buf = s->data;
    view->obj = op;
    Py_INCREF(op);
    view->len = s->length * s->itemsize;
    view->readonly = 0;
    view->itemsize = s->itemsize;
    view->format = (flags & PyBUF_FORMAT) ? (char *)formats[format - codes] : NULL;
    view->ndim = 1;
    view->shape = (flags & PyBUF_ND) == PyBUF_ND ? &s->length : NULL;
    view->strides = (flags & PyBUF_STRIDES) == PyBUF_STRIDES ? &s->itemsize : NULL;
    view->suboffsets = NULL;
    view->internal = NULL;
    return 0;
}

/* The element index of an atomic operation; -1 with an exception. */
static Py_ssize_t atomic_index(SyncObject *s, PyObject *key)
{
    Py_ssize_t i = PyNumber_AsSsize_t(key, PyExc_IndexError);
    if (i == -1 && PyErr_Occurred())
        return -1;
    if (i < 0)
        i += s->length;
    if (i < 0 || i >= s->length) {
        invalid_index();
        return -1;
    }
    return i;
}

static PyObject *array_fetch_add(PyObject *op, PyObject *const *args,
                                 Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"index", "delta"};
    SyncObject *s = (SyncObject *)op;
    PyObject *a[2] = {NULL, NULL};
    if (cmp_parse_args("fetch_add", args, nargs, kwnames, names, 2, 1, a) < 0 ||
        sync_check_atomic(s) < 0)
        return NULL;
    Py_ssize_t i = atomic_index(s, a[0]);
    uint64_t delta = 1;
    if (i < 0 || (a[1] && py_to_bits(a[1], &delta) < 0))
        return NULL;
    return bits_to_py(s->code, cmp_scalar_fetch_add(s->code, s->data + i * s->itemsize,
                                                    delta));
}

static PyObject *array_exchange(PyObject *op, PyObject *const *args,
                                Py_ssize_t nargs)
{
    SyncObject *s = (SyncObject *)op;
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "exchange() takes 2 arguments (%zd given)", nargs);
        return NULL;
    }
    uint64_t v;
    if (sync_check_atomic(s) < 0)
        return NULL;
    Py_ssize_t i = atomic_index(s, args[0]);
    if (i < 0 || py_to_bits(args[1], &v) < 0)
        return NULL;
    return bits_to_py(s->code, cmp_scalar_exchange(s->code, s->data + i * s->itemsize, v));
}

static PyObject *array_compare_exchange(PyObject *op, PyObject *const *args,
                                        Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"index", "expected", "desired"};
    SyncObject *s = (SyncObject *)op;
    PyObject *a[3] = {NULL, NULL, NULL};
    uint64_t e, d;
    if (cmp_parse_args("compare_exchange", args, nargs, kwnames, names, 3, 3, a) < 0 ||
        sync_check_atomic(s) < 0)
        return NULL;
    Py_ssize_t i = atomic_index(s, a[0]);
    if (i < 0 || py_to_bits(a[1], &e) < 0 || py_to_bits(a[2], &d) < 0)
        return NULL;
    return bits_to_py(s->code, cmp_scalar_compare_exchange(
                                   s->code, s->data + i * s->itemsize, e, d));
}

static PyMethodDef array_methods[] = {
    {"fetch_add", (PyCFunction)(void (*)(void))array_fetch_add,
     METH_FASTCALL | METH_KEYWORDS,
     "fetch_add($self, /, index, delta=1)\n--\n\n"
     "Atomically add delta to element index (wrapping at the type's width)\n"
     "and return its old value.  Lock-free (cmp extension)."},
    {"exchange", (PyCFunction)(void (*)(void))array_exchange, METH_FASTCALL,
     "exchange($self, index, value, /)\n--\n\n"
     "Atomically store value at index and return the old value.  Lock-free\n"
     "(cmp extension)."},
    {"compare_exchange", (PyCFunction)(void (*)(void))array_compare_exchange,
     METH_FASTCALL | METH_KEYWORDS,
     "compare_exchange($self, /, index, expected, desired)\n--\n\n"
     "Atomically store desired at index if the element equals expected.\n"
     "Returns the value found: the store happened exactly when it equals\n"
     "expected.  Lock-free (cmp extension)."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot array_slots[] = {
    {Py_tp_dealloc, sync_dealloc},
    {Py_tp_traverse, sync_traverse},
    {Py_tp_clear, sync_clear},
    {Py_mp_length, array_length},
    {Py_mp_subscript, array_subscript},
    {Py_mp_ass_subscript, array_ass_subscript},
    {Py_sq_length, array_length},
    {Py_sq_item, array_item},
    {Py_sq_ass_item, array_ass_item},
    {Py_bf_getbuffer, array_getbuffer},
    {Py_tp_methods, array_methods},
    {Py_tp_doc, "The C base of cmp's SynchronizedArray (an Array with a lock)."},
    {0, NULL},
};

static PyType_Spec array_spec = {
    "_cmp.SyncArray", sizeof(SyncObject), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC, array_slots,
};

/* An Array of c_char with a lock (value and raw: cmp/sharedctypes.py). */
static PyType_Slot string_slots[] = {
    {Py_tp_dealloc, sync_dealloc},
    {Py_tp_traverse, sync_traverse},
    {Py_tp_clear, sync_clear},
    {Py_tp_doc, "The C base of cmp's SynchronizedString."},
    {0, NULL},
};

static PyType_Spec string_spec = {
    "_cmp.SyncString", sizeof(SyncObject), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC, string_slots,
};

/* ---- registration -------------------------------------------------------- */

int cmp_add_buffer_type(PyObject *module)
{
    /* SyncValue, SyncArray and SyncString are cmp.sharedctypes'
     * Synchronized, SynchronizedArray and SynchronizedString: each owns
     * the methods it inherits. */
    PyObject *base, *value, *array, *string;
    if (cmp_add_type(module, &sharedbuffer_spec, NULL, CMP_KIND_BUFFER, NULL) < 0 ||
        cmp_add_type(module, &sync_spec, NULL, 0, &base) < 0 ||
        cmp_add_type(module, &value_spec, (PyTypeObject *)base, 0, &value) < 0 ||
        cmp_add_methods(value, sync_methods) < 0 ||
        cmp_add_type(module, &array_spec, (PyTypeObject *)base, 0, &array) < 0 ||
        cmp_add_methods(array, sync_methods) < 0 ||
        cmp_add_type(module, &string_spec, (PyTypeObject *)array, 0, &string) < 0 ||
        cmp_add_methods(string, sync_methods) < 0 ||
        cmp_add_methods(string, array_methods) < 0)
        return -1;
    Py_INCREF(value);
    cmp_state.sync_value_type = (PyTypeObject *)value;
    return 0;
}
