/* spine.c - the bindings' state, registration, errors, waiting and
 * argument parsing (see spine.h). */
#include "shared.h"

#include <errno.h>
#include <string.h>

cmp_state_t cmp_state;

/* ---- state ---------------------------------------------------------------- */

static PyObject *import_attr(const char *module, const char *name)
{
    PyObject *m = PyImport_ImportModule(module);
    if (!m)
        return NULL;
    PyObject *r = PyObject_GetAttrString(m, name);
    Py_DECREF(m);
    return r;
}

static PyObject *forking_dumps(void)
{
    PyObject *pickler = import_attr("multiprocessing.reduction", "ForkingPickler");
    if (!pickler)
        return NULL;
    PyObject *r = PyObject_GetAttrString(pickler, "dumps");
    Py_DECREF(pickler);
    return r;
}

int cmp_state_init(PyObject *module)
{
    cmp_state_t *s = &cmp_state;
    s->OwnerDiedWarning = PyErr_NewExceptionWithDoc(
        "_cmp.OwnerDiedWarning",
        "A process or thread died while holding a cmp lock; the lock was "
        "taken over by the next acquirer.",
        PyExc_RuntimeWarning, NULL);
    if (!s->OwnerDiedWarning ||
        !(s->BrokenBarrierError = import_attr("threading", "BrokenBarrierError")) ||
        !(s->Empty = import_attr("queue", "Empty")) ||
        !(s->Full = import_attr("queue", "Full")) ||
        !(s->pickle_dumps = import_attr("_pickle", "dumps")) ||
        !(s->pickle_loads = import_attr("_pickle", "loads")) ||
        !(s->forking_dumps = forking_dumps()) ||
        !(s->str_acquire = PyUnicode_InternFromString("acquire")) ||
        !(s->str_release = PyUnicode_InternFromString("release")) ||
        !(s->str_value = PyUnicode_InternFromString("value")))
        goto fail;
    Py_INCREF(s->OwnerDiedWarning);
    if (PyModule_AddObject(module, "OwnerDiedWarning", s->OwnerDiedWarning) < 0) {
        Py_DECREF(s->OwnerDiedWarning);
        goto fail;
    }
    return 0;
fail:
    cmp_state_clear();
    return -1;
}

void cmp_state_clear(void)
{
    cmp_state_t *s = &cmp_state;
    for (int k = 0; k < CMP_KIND_COUNT; k++)
        Py_CLEAR(s->kind_type[k]);
    for (; s->ntyped > 0; s->ntyped--)
        Py_CLEAR(s->typed[s->ntyped - 1].type);
    Py_CLEAR(s->with_method_type);
    Py_CLEAR(s->sync_value_type);
    Py_CLEAR(s->OwnerDiedWarning);
    Py_CLEAR(s->BrokenBarrierError);
    Py_CLEAR(s->Empty);
    Py_CLEAR(s->Full);
    Py_CLEAR(s->pickle_dumps);
    Py_CLEAR(s->pickle_loads);
    Py_CLEAR(s->forking_dumps);
    Py_CLEAR(s->str_acquire);
    Py_CLEAR(s->str_release);
    Py_CLEAR(s->str_value);
}

/* ---- types ---------------------------------------------------------------- */

int cmp_add_methods(PyObject *tp, PyMethodDef *defs)
{
    for (PyMethodDef *m = defs; m->ml_name; m++) {
        PyObject *f = (m->ml_flags & METH_CLASS)
                          ? PyDescr_NewClassMethod((PyTypeObject *)tp, m)
                          : PyDescr_NewMethod((PyTypeObject *)tp, m);
        if (!f || PyObject_SetAttrString(tp, m->ml_name, f) < 0) {
            Py_XDECREF(f);
            return -1;
        }
        Py_DECREF(f);
    }
    return 0;
}

int cmp_add_type(PyObject *module, PyType_Spec *spec, PyTypeObject *base,
                 uint32_t kind, PyObject **out)
{
    PyObject *bases = base ? PyTuple_Pack(1, (PyObject *)base) : NULL;
    if (base && !bases)
        return -1;
    PyObject *tp = PyType_FromModuleAndSpec(module, spec, bases);
    Py_XDECREF(bases);
    if (!tp)
        return -1;
    cmp_state_t *st = &cmp_state;
    if (kind >= CMP_KIND_COUNT || (kind && st->ntyped == CMP_TYPES_MAX) ||
        ((kind || (base && cmp_type_kind(base))) &&
         cmp_add_methods(tp, cmp_shared_methods) < 0)) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_SystemError, "cannot register kind %u", kind);
        Py_DECREF(tp);
        return -1;
    }
    if (kind) {
        Py_INCREF(tp);
        st->typed[st->ntyped].type = (PyTypeObject *)tp;
        st->typed[st->ntyped++].kind = kind;
        if (!st->kind_type[kind]) {
            Py_INCREF(tp);
            st->kind_type[kind] = (PyTypeObject *)tp;
        }
    }
    /* PyModule_AddObject steals the reference only when it succeeds. */
    if (PyModule_AddObject(module, spec->name + 5 /* skip "_cmp." */, tp) < 0) {
        Py_DECREF(tp);
        return -1;
    }
    if (out)
        *out = tp;
    return 0;
}

const char *cmp_short_name(PyTypeObject *tp)
{
    const char *dot = strrchr(tp->tp_name, '.');
    return dot ? dot + 1 : tp->tp_name;
}

uint32_t cmp_type_kind(PyTypeObject *tp)
{
    for (; tp; tp = tp->tp_base)
        for (int i = 0; i < cmp_state.ntyped; i++)
            if (cmp_state.typed[i].type == tp)
                return cmp_state.typed[i].kind;
    return 0;
}

/* ---- errors --------------------------------------------------------------- */

static const char arena_full_advice[] =
    "set CMP_ARENA_SIZE to reserve more before importing cmp";

PyObject *cmp_raise(cmp_error e)
{
    switch (e) {
    case CMP_ERR_RELEASED_TOO_MANY:
        /* At its bound, or at SEM_VALUE_MAX: the stdlib's answer to both. */
        PyErr_SetString(PyExc_ValueError, "semaphore or lock released too many times");
        break;
    case CMP_ERR_RLOCK_NOT_MINE:
        PyErr_SetString(PyExc_AssertionError,
                        "attempt to release recursive lock not owned by thread");
        break;
    case CMP_ERR_HANDLE_CLOSED:
        PyErr_SetString(PyExc_OSError, "handle is closed");
        break;
    case CMP_ERR_ARENA_FULL:
        return cmp_raise_arena_full(NULL);
    }
    return NULL;
}

PyObject *cmp_raise_arena_full(const char *state)
{
    if (state)
        PyErr_Format(PyExc_MemoryError, "cmp's shared arena is full: %s (%s)",
                     state, arena_full_advice);
    else
        PyErr_Format(PyExc_MemoryError, "cmp's shared arena is full (%s)",
                     arena_full_advice);
    return NULL;
}

PyObject *cmp_raise_errno(int err)
{
    if (err == ERANGE || err == EOVERFLOW)
        return cmp_raise(CMP_ERR_RELEASED_TOO_MANY);
    errno = err;
    return PyErr_SetFromErrno(PyExc_OSError);
}

int cmp_not_initialised(PyObject *self)
{
    PyErr_Format(PyExc_ValueError, "%s object is not initialised",
                 Py_TYPE(self)->tp_name);
    return -1;
}

int cmp_warn_owner_died(const char *what)
{
    return PyErr_WarnFormat(cmp_state.OwnerDiedWarning, 1,
                            "the previous owner of this %s died while holding "
                            "it; the lock was taken over, and the data it "
                            "guards may be inconsistent", what);
}

/* ---- waiting -------------------------------------------------------------- */

int cmp_wait(cmp_wait_fn fn, void *arg, const cmp_deadline *d)
{
    for (;;) {
        int r;
        Py_BEGIN_ALLOW_THREADS
        r = fn(arg, d);
        Py_END_ALLOW_THREADS
        if (r != EINTR)
            return r;
        if (PyErr_CheckSignals() < 0)
            return -1;
    }
}

int cmp_wait_through(cmp_wait_fn fn, void *arg)
{
    cmp_deadline forever = cmp_deadline_forever();
    PyObject *et = NULL, *ev = NULL, *tb = NULL;
    int r;
    for (;;) {
        Py_BEGIN_ALLOW_THREADS
        r = fn(arg, &forever);
        Py_END_ALLOW_THREADS
        if (r != EINTR)
            break;
        if (PyErr_CheckSignals() < 0) {
            if (et)
                PyErr_Clear();
            else
                PyErr_Fetch(&et, &ev, &tb);
        }
    }
    if (et)
        PyErr_Restore(et, ev, tb);
    return r;
}

/* ---- arguments ------------------------------------------------------------ */

int cmp_timeout_to_deadline(PyObject *timeout, cmp_deadline *d)
{
    if (timeout == NULL || timeout == Py_None) {
        *d = cmp_deadline_forever();
        return 0;
    }
    double t = PyFloat_AsDouble(timeout);
    if (t == -1.0 && PyErr_Occurred())
        return -1;
    if (t != t || t >= 9.2e18) {
        /* What the stdlib's semaphores answer (sem_timedwait's EINVAL). */
        cmp_raise_errno(EINVAL);
        return -1;
    }
    *d = cmp_deadline_after(t);
    return 0;
}

int cmp_parse_block(PyObject *obj, int *block)
{
    *block = 1;
    if (!obj)
        return 0;
#if PY_VERSION_HEX < 0x030D0000
    /* Before 3.13 the stdlib's SemLock.acquire takes an integer block. */
    if (!PyIndex_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "'%.200s' object cannot be interpreted as an integer",
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
#endif
    *block = PyObject_IsTrue(obj);
    return *block < 0 ? -1 : 0;
}

int cmp_check_timeout(PyObject *timeout)
{
    if (!timeout || timeout == Py_None)
        return 0;
    return PyFloat_AsDouble(timeout) == -1.0 && PyErr_Occurred() ? -1 : 0;
}

int cmp_parse_args(const char *fname, PyObject *const *args, Py_ssize_t nargs,
                   PyObject *kwnames, const char *const *names, int nnames,
                   int required, PyObject **out)
{
    if (nargs > nnames) {
        PyErr_Format(PyExc_TypeError,
                     "%s() takes at most %d arguments (%zd given)", fname,
                     nnames, nargs);
        return -1;
    }
    for (Py_ssize_t i = 0; i < nargs; i++)
        out[i] = args[i];
    if (kwnames) {
        Py_ssize_t nkw = PyTuple_GET_SIZE(kwnames);
        for (Py_ssize_t j = 0; j < nkw; j++) {
            PyObject *key = PyTuple_GET_ITEM(kwnames, j);
            int i;
            for (i = 0; i < nnames; i++)
                if (PyUnicode_CompareWithASCIIString(key, names[i]) == 0)
                    break;
            if (i == nnames) {
                PyErr_Format(PyExc_TypeError,
                             "%s() got an unexpected keyword argument '%U'",
                             fname, key);
                return -1;
            }
            if (i < nargs) {
                PyErr_Format(PyExc_TypeError,
                             "%s() got multiple values for argument '%s'",
                             fname, names[i]);
                return -1;
            }
            out[i] = args[nargs + j];
        }
    }
    for (int i = 0; i < required; i++) {
        if (out[i] == NULL) {
            PyErr_Format(PyExc_TypeError,
                         "%s() missing required argument '%s' (pos %d)", fname,
                         names[i], i + 1);
            return -1;
        }
    }
    return 0;
}

int cmp_args_given(const char *method, Py_ssize_t nargs)
{
    PyErr_Format(PyExc_TypeError, "%s() takes no arguments (%zd given)", method, nargs);
    return -1;
}
