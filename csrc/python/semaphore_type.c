/* semaphore_type.c - the Semaphore type (Semaphore and BoundedSemaphore in
 * cmp/synchronize.py) over csrc/semaphore.c. */
#include "shared.h"
#include "../semaphore.h"

#define SEM(self) ((cmp_sem *)((cmp_shared *)(self))->body)

/* The hot methods test for a body inline and call cmp_shared_check (which
 * raises) only when it is missing. */
#define NOT_READY(self) \
    (__builtin_expect(SEM(self) == NULL, 0) && cmp_shared_check((cmp_shared *)(self)) < 0)

static int sem_init(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"value", "maxvalue", NULL};
    int value = 1, maxvalue = -1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|ii:Semaphore", kwlist,
                                     &value, &maxvalue))
        return -1;
    /* The stdlib's sem_open reports a negative value as EINVAL. */
    if (value < 0 || (maxvalue >= 0 && value > maxvalue)) {
        cmp_raise_errno(EINVAL);
        return -1;
    }
    if (cmp_shared_create((cmp_shared *)self, CMP_KIND_SEMAPHORE, sizeof(cmp_sem)) < 0)
        return -1;
    cmp_sem_init(SEM(self), (uint32_t)value,
                 maxvalue < 0 ? SEM_UNBOUNDED : (uint32_t)maxvalue);
    return 0;
}

static int wait_sem(void *p, const cmp_deadline *d)
{
    return cmp_sem_acquire_slow(p, d);
}

/* 1 acquired, 0 not, -1 error. */
static int do_acquire(PyObject *self, int block, PyObject *timeout)
{
    if (NOT_READY(self))
        return -1;
    cmp_sem *s = SEM(self);
    if (cmp_sem_try(s))
        return 1;
    if (!block)
        return 0;
    cmp_deadline d;
    if (cmp_timeout_to_deadline(timeout, &d) < 0)
        return -1;
    if (!d.forever && cmp_deadline_passed(&d))
        return 0;
    int r = cmp_wait(wait_sem, s, &d);
    if (r < 0)
        return -1;
    return r == 0;
}

static const char *const acquire_names[] = {"block", "timeout"};

static PyObject *sem_acquire(PyObject *self, PyObject *const *args,
                             Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *a[2] = {NULL, NULL};
    if (nargs == 0 && kwnames == NULL) {
        /* acquire(): no arguments to parse. */
        if (do_acquire(self, 1, NULL) < 0)
            return NULL;
        Py_RETURN_TRUE;
    }
    if (cmp_parse_args("acquire", args, nargs, kwnames, acquire_names, 2, 0, a) < 0)
        return NULL;
    int block;
    if (cmp_parse_block(a[0], &block) < 0 || cmp_check_timeout(a[1]) < 0)
        return NULL;
    int r = do_acquire(self, block, a[1]);
    if (r < 0)
        return NULL;
    return PyBool_FromLong(r);
}

static PyObject *sem_enter(PyObject *self, PyObject *unused)
{
    (void)unused;
    if (do_acquire(self, 1, NULL) < 0)
        return NULL;
    Py_RETURN_TRUE;
}

/* release() is METH_FASTCALL: see cmp_no_args. */
static PyObject *sem_release(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)args;
    if (cmp_no_args("Semaphore.release", nargs) < 0 || NOT_READY(self))
        return NULL;
    int r = cmp_sem_release(SEM(self));
    if (r)
        return cmp_raise_errno(r);
    Py_RETURN_NONE;
}

static PyObject *sem_exit(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)args; (void)nargs;
    return sem_release(self, NULL, 0);
}

static PyObject *sem_get_value(PyObject *self, PyObject *unused)
{
    (void)unused;
    if (cmp_shared_check((cmp_shared *)self) < 0)
        return NULL;
    return PyLong_FromUnsignedLong(cmp_sem_value(SEM(self)));
}

static PyObject *sem_is_zero(PyObject *self, PyObject *unused)
{
    (void)unused;
    if (cmp_shared_check((cmp_shared *)self) < 0)
        return NULL;
    return PyBool_FromLong(cmp_sem_value(SEM(self)) == SEM_EMPTY);
}

static PyObject *sem_maxvalue(PyObject *self, PyObject *unused)
{
    (void)unused;
    if (cmp_shared_check((cmp_shared *)self) < 0)
        return NULL;
    /* Relaxed: written once before the object was shared. */
    return PyLong_FromUnsignedLong(__atomic_load_n(&SEM(self)->maxvalue, __ATOMIC_RELAXED));
}

static PyMethodDef sem_methods[] = {
    {"acquire", (PyCFunction)(void (*)(void))sem_acquire,
     METH_FASTCALL | METH_KEYWORDS,
     "acquire($self, /, block=True, timeout=None)\n--\n\n"
     "Take one unit; return whether one was taken."},
    {"release", (PyCFunction)(void (*)(void))sem_release, METH_FASTCALL,
     "release($self, /)\n--\n\nGive one unit back."},
    {"__enter__", sem_enter, METH_NOARGS,
     "__enter__($self, /)\n--\n\nTake one unit."},
    {"__exit__", (PyCFunction)(void (*)(void))sem_exit, METH_FASTCALL,
     "__exit__($self, /, *args)\n--\n\nGive one unit back."},
    {"get_value", sem_get_value, METH_NOARGS,
     "get_value($self, /)\n--\n\nThe current counter."},
    {"_get_value", sem_get_value, METH_NOARGS,
     "_get_value($self, /)\n--\n\nThe current counter."},
    {"_is_zero", sem_is_zero, METH_NOARGS,
     "_is_zero($self, /)\n--\n\nWhether the counter is zero."},
    {"_maxvalue", sem_maxvalue, METH_NOARGS,
     "_maxvalue($self, /)\n--\n\nThe bound (SEM_VALUE_MAX when unbounded)."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef sem_members[] = {
    CMP_SHARED_WEAKREFS,
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot sem_slots[] = {
    {Py_tp_init, sem_init},
    {Py_tp_dealloc, cmp_shared_dealloc},
    {Py_tp_methods, sem_methods},
    {Py_tp_members, sem_members},
    {Py_tp_doc, "Semaphore(value=1, maxvalue=-1)\n--\n\n"
                "A process-shared counting semaphore (bounded when maxvalue "
                "is not negative)."},
    {0, NULL},
};

static PyType_Spec sem_spec = {
    "_cmp.Semaphore", sizeof(cmp_shared), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE, sem_slots,
};

/* BoundedSemaphore(value=1): a Semaphore bounded by its initial value.
 * It lists the methods again, so that they are its own (the interpreter's
 * specialised call of a C method wants the method's exact type). */
static int bounded_init(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"value", NULL};
    int value = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|i:BoundedSemaphore", kwlist, &value))
        return -1;
    PyObject *a = Py_BuildValue("(ii)", value, value);
    if (!a)
        return -1;
    int r = sem_init(self, a, NULL);
    Py_DECREF(a);
    return r;
}

static PyType_Slot bounded_slots[] = {
    {Py_tp_init, bounded_init},
    {Py_tp_methods, sem_methods},
    {Py_tp_doc, "BoundedSemaphore(value=1)\n--\n\n"
                "A process-shared semaphore that refuses to be released above "
                "its initial value."},
    {0, NULL},
};

static PyType_Spec bounded_spec = {
    "_cmp.BoundedSemaphore", sizeof(cmp_shared), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE, bounded_slots,
};

int cmp_add_semaphore_type(PyObject *module)
{
    PyObject *sem;
    if (cmp_add_type(module, &sem_spec, NULL, CMP_KIND_SEMAPHORE, &sem) < 0)
        return -1;
    return cmp_add_type(module, &bounded_spec, (PyTypeObject *)sem, 0, NULL);
}
