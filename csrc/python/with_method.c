/* with_method.c - the descriptors of a lock type's __enter__ and
 * __exit__, bound without allocating (see with_method.h). */
#include "with_method.h"

#include <structmember.h>

typedef struct {
    PyObject_HEAD
    const cmp_with_def *def;
    PyTypeObject *owner;        /* the type it is defined on: strong in the
                                 * descriptor, borrowed when bound (the
                                 * lock's type keeps it alive) */
    PyObject *self;             /* the lock; NULL in the descriptor */
    PyTypeObject *seen;         /* descriptor: the last subtype of owner
                                 * it bound to (strong), to skip the
                                 * subtype check next time */
    vectorcallfunc vectorcall;
} WithMethod;

/* Bound objects let go, kept for the next bind (the GIL guards it). */
#define WITH_FREE_MAX 16
static WithMethod *with_free[WITH_FREE_MAX];
static int with_nfree;

static int with_check_self(WithMethod *m, PyObject *obj)
{
    if (Py_IS_TYPE(obj, m->owner) || PyObject_TypeCheck(obj, m->owner))
        return 0;
    PyErr_Format(PyExc_TypeError,
                 "descriptor '%s' for '%s' objects doesn't apply to a '%s' object",
                 m->def->name, cmp_short_name(m->owner), cmp_short_name(Py_TYPE(obj)));
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
                     cmp_short_name(m->owner), m->def->name);
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

static PyObject *with_new_descr(PyTypeObject *owner, const cmp_with_def *def)
{
    WithMethod *d = PyObject_GC_New(WithMethod, cmp_state.with_method_type);
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
                                    m->def->name, cmp_short_name(Py_TYPE(m->self)), m->self);
    return PyUnicode_FromFormat("<method '%s' of '%s' objects>",
                                m->def->name, cmp_short_name(m->owner));
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

int cmp_add_with_methods(PyObject *tp, const cmp_with_def *enter,
                         const cmp_with_def *exit)
{
    if (!cmp_state.with_method_type &&
        !(cmp_state.with_method_type = (PyTypeObject *)PyType_FromSpec(&with_spec)))
        return -1;
    const cmp_with_def *defs[2] = {enter, exit};
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
