/* event_type.c - the Event type over csrc/event.c. */
#include "shared.h"
#include "../event.h"

#define EVENT(self) ((cmp_event *)((cmp_shared *)(self))->body)

static int event_init(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, ":Event", kwlist))
        return -1;
    return cmp_shared_create((cmp_shared *)self, CMP_KIND_EVENT, sizeof(cmp_event));
}

static PyObject *event_is_set(PyObject *self, PyObject *unused)
{
    (void)unused;
    if (cmp_shared_check((cmp_shared *)self) < 0)
        return NULL;
    return PyBool_FromLong(cmp_event_is_set(EVENT(self)));
}

static PyObject *event_set(PyObject *self, PyObject *unused)
{
    (void)unused;
    if (cmp_shared_check((cmp_shared *)self) < 0)
        return NULL;
    cmp_event_set(EVENT(self));
    Py_RETURN_NONE;
}

static PyObject *event_clear(PyObject *self, PyObject *unused)
{
    (void)unused;
    if (cmp_shared_check((cmp_shared *)self) < 0)
        return NULL;
    cmp_event_clear(EVENT(self));
    Py_RETURN_NONE;
}

typedef struct {
    cmp_event *e;
    uint32_t seen;
} wait_arg;

static int wait_event(void *p, const cmp_deadline *d)
{
    wait_arg *w = p;
    return cmp_event_wait_slow(w->e, w->seen, d);
}

static const char *const wait_names[] = {"timeout"};

static PyObject *event_wait(PyObject *self, PyObject *const *args,
                            Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *timeout = NULL;
    if (cmp_parse_args("wait", args, nargs, kwnames, wait_names, 1, 0, &timeout) < 0)
        return NULL;
    if (cmp_shared_check((cmp_shared *)self) < 0)
        return NULL;
    cmp_event *e = EVENT(self);
    uint32_t seen = cmp_event_snapshot(e);
    if (seen & EVENT_SET)
        Py_RETURN_TRUE;
    cmp_deadline d;
    if (cmp_timeout_to_deadline(timeout, &d) < 0)
        return NULL;
    if (!d.forever && cmp_deadline_passed(&d))
        return PyBool_FromLong(cmp_event_is_set(e));
    wait_arg w = {e, seen};
    int r = cmp_wait(wait_event, &w, &d);
    if (r < 0)
        return NULL;
    return PyBool_FromLong(r == 0);
}

static PyMethodDef event_methods[] = {
    {"is_set", event_is_set, METH_NOARGS,
     "is_set($self, /)\n--\n\nWhether the flag is set."},
    {"set", event_set, METH_NOARGS,
     "set($self, /)\n--\n\nSet the flag and wake every waiter."},
    {"clear", event_clear, METH_NOARGS,
     "clear($self, /)\n--\n\nReset the flag."},
    {"wait", (PyCFunction)(void (*)(void))event_wait,
     METH_FASTCALL | METH_KEYWORDS,
     "wait($self, /, timeout=None)\n--\n\n"
     "Block until the flag is set or the timeout passes; return whether it "
     "was set."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef event_members[] = {
    CMP_SHARED_WEAKREFS,
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot event_slots[] = {
    {Py_tp_init, event_init},
    {Py_tp_dealloc, cmp_shared_dealloc},
    {Py_tp_methods, event_methods},
    {Py_tp_members, event_members},
    {Py_tp_doc, "Event()\n--\n\nA process-shared event flag."},
    {0, NULL},
};

static PyType_Spec event_spec = {
    "_cmp.Event", sizeof(cmp_shared), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE, event_slots,
};

int cmp_add_event_type(PyObject *module)
{
    return cmp_add_type(module, &event_spec, NULL, CMP_KIND_EVENT, NULL);
}
