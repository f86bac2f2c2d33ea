/* barrier_type.c - the Barrier type: threading.Barrier's state machine
 * (csrc/barrier.h names the states) run on shared words. */
#include "shared.h"
#include "../barrier.h"
#include "../spin.h"

#include <structmember.h>

typedef struct {
    cmp_shared s;
    PyObject *action;   /* callable or None: run by the last arrival */
    PyObject *timeout;  /* the default timeout of wait(), or None */
} BarrierObject;

#define BARRIER(self) ((cmp_barrier *)((cmp_shared *)(self))->body)

static int barrier_init(PyObject *op, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"parties", "action", "timeout", NULL};
    BarrierObject *self = (BarrierObject *)op;
    int parties;
    PyObject *action = Py_None, *timeout = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "i|OO:Barrier", kwlist,
                                     &parties, &action, &timeout))
        return -1;
    if (cmp_shared_create((cmp_shared *)self, CMP_KIND_BARRIER, cmp_barrier_size(parties)) < 0)
        return -1;
    cmp_barrier_init(BARRIER(self), parties);
    Py_INCREF(action);
    Py_XSETREF(self->action, action);
    Py_INCREF(timeout);
    Py_XSETREF(self->timeout, timeout);
    return 0;
}

/* Everything below runs with the interpreter lock held unless it says so. */

static void set_state(cmp_barrier *b, int32_t state)
{
    /* Relaxed: under the internal lock; lock-free readers want a snapshot. */
    __atomic_store_n(&b->state, state, __ATOMIC_RELAXED);
    cmp_barrier_notify_all(b);
}

/* With the lock held: forget the parties that died inside wait()
 * (barrier.h).  A round they were part of can never complete: break it.
 * A drain or reset that only they kept from ending is over. */
static void reap_dead_parties(cmp_barrier *b)
{
    if (!cmp_barrier_reap(b))
        return;
    if (b->state == BARRIER_FILLING)
        set_state(b, BARRIER_BROKEN);
    else if (b->count == 0 && (b->state == BARRIER_DRAINING || b->state == BARRIER_RESETTING))
        set_state(b, BARRIER_FILLING);
    else
        cmp_barrier_notify_all(b);
}

/* After taking the lock over from a dead holder: a party died, so nobody
 * can count on the barrier any more. */
static void holder_died(cmp_barrier *b)
{
    set_state(b, BARRIER_BROKEN);
    reap_dead_parties(b);
}

typedef struct {
    cmp_barrier *b;
    uint32_t seen;
} sleep_arg;

static int lock_fn(void *p, const cmp_deadline *d)
{
    return cmp_barrier_lock(p, d);
}

static int sleep_fn(void *p, const cmp_deadline *d)
{
    sleep_arg *a = p;
    return cmp_barrier_sleep(a->b, a->seen, d);
}

/* Take the internal lock; signal handlers may interrupt (-1). */
static int lock_barrier(cmp_barrier *b)
{
    if (cmp_barrier_trylock(b))
        return 0;
    cmp_deadline forever = cmp_deadline_forever();
    int r = cmp_wait(lock_fn, b, &forever);
    if (r < 0)
        return -1;
    if (r == EOWNERDEAD)
        holder_died(b);
    return 0;
}

/* Take the internal lock back no matter what (cmp_wait_through: a signal
 * handler's exception is kept pending; the lock is held on return either
 * way, -1 then). */
static int relock_barrier(cmp_barrier *b)
{
    if (cmp_barrier_trylock(b))
        return 0;
    if (cmp_wait_through(lock_fn, b) == EOWNERDEAD)
        holder_died(b);
    return PyErr_Occurred() ? -1 : 0;
}

/* With the lock held: release it, wait for the next state change (or the
 * deadline, or CMP_LIVENESS_INTERVAL: then look for dead parties), take
 * it back.  0 (look at the state again), ETIMEDOUT, or -1 with an
 * exception set (lock held again in every case). */
static int sleep_locked(cmp_barrier *b, const cmp_deadline *d)
{
    sleep_arg a = {b, cmp_barrier_gen(b)};
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    cmp_deadline step = cmp_deadline_min_ns(*d, &now, (uint64_t)(CMP_LIVENESS_INTERVAL * 1e9));
    cmp_barrier_unlock(b);
    int r = cmp_wait(sleep_fn, &a, &step);
    if (r < 0) {
        PyObject *et, *ev, *tb;
        PyErr_Fetch(&et, &ev, &tb);
        if (relock_barrier(b) < 0)
            PyErr_Clear();
        PyErr_Restore(et, ev, tb);
        return -1;
    }
    if (relock_barrier(b) < 0)
        return -1;
    if (r == ETIMEDOUT) {
        reap_dead_parties(b);
        if (!cmp_deadline_passed(d))
            r = 0;
    }
    return r;
}

static PyObject *broken_error(void)
{
    PyErr_SetNone(cmp_state.BrokenBarrierError);
    return NULL;
}

static const char *const wait_names[] = {"timeout"};

static PyObject *barrier_wait(PyObject *op, PyObject *const *args,
                              Py_ssize_t nargs, PyObject *kwnames)
{
    BarrierObject *self = (BarrierObject *)op;
    PyObject *timeout = NULL;
    if (cmp_parse_args("wait", args, nargs, kwnames, wait_names, 1, 0, &timeout) < 0)
        return NULL;
    if (cmp_shared_check((cmp_shared *)self) < 0)
        return NULL;
    if (timeout == NULL || timeout == Py_None)
        timeout = self->timeout;
    cmp_deadline d;
    if (cmp_timeout_to_deadline(timeout, &d) < 0)
        return NULL;
    cmp_barrier *b = BARRIER(self);
    if (lock_barrier(b) < 0)
        return NULL;

    /* Wait while the previous round drains or a reset completes.  The
     * timeout counts here too: a drain that never ends (a party killed
     * after the barrier tripped, untracked) must not hold us forever. */
    while (b->state == BARRIER_DRAINING || b->state == BARRIER_RESETTING) {
        int r = sleep_locked(b, &d);
        if (r < 0) {
            cmp_barrier_unlock(b);
            return NULL;
        }
        if (r == ETIMEDOUT &&
            (b->state == BARRIER_DRAINING || b->state == BARRIER_RESETTING)) {
            set_state(b, BARRIER_BROKEN);
            cmp_barrier_unlock(b);
            return broken_error();
        }
    }
    if (b->state < 0) {
        cmp_barrier_unlock(b);
        return broken_error();
    }

    uint32_t index = b->count;
    if (index + 1 == b->parties && index > 0 &&
        cmp_now_ns() - b->filling_since > BARRIER_REAP_AFTER_NS) {
        /* A slow round: did a party die in it (barrier.h)? */
        reap_dead_parties(b);
        if (b->state < 0) {
            cmp_barrier_unlock(b);
            return broken_error();
        }
        index = b->count;
    }
    if (index == 0)
        b->filling_since = cmp_now_ns();
    int slot = cmp_barrier_enter(b);
    int failed = 0;
    if (index + 1 == b->parties) {
        /* The last arrival runs the action, then releases everybody. */
        if (self->action && self->action != Py_None) {
            PyObject *res = PyObject_CallNoArgs(self->action);
            if (!res) {
                set_state(b, BARRIER_BROKEN);
                failed = 1;
            }
            Py_XDECREF(res);
        }
        if (!failed)
            set_state(b, BARRIER_DRAINING);
    } else {
        while (b->state == BARRIER_FILLING) {
            int r = sleep_locked(b, &d);
            if (r < 0) {
                failed = 1;
                break;
            }
            if (r == ETIMEDOUT && b->state == BARRIER_FILLING) {
                set_state(b, BARRIER_BROKEN);
                broken_error();
                failed = 1;
                break;
            }
        }
        if (!failed && b->state < 0) {
            broken_error();
            failed = 1;
        }
    }

    /* Leave; the last one out of a drain or reset re-opens the barrier. */
    cmp_barrier_leave(b, slot);
    if (b->count == 0 && (b->state == BARRIER_RESETTING || b->state == BARRIER_DRAINING))
        set_state(b, BARRIER_FILLING);
    cmp_barrier_unlock(b);
    if (failed)
        return NULL;
    return PyLong_FromUnsignedLong(index);
}

static PyObject *barrier_reset(PyObject *op, PyObject *unused)
{
    (void)unused;
    if (cmp_shared_check((cmp_shared *)op) < 0)
        return NULL;
    cmp_barrier *b = BARRIER(op);
    if (lock_barrier(b) < 0)
        return NULL;
    cmp_barrier_reap(b);        /* the dead are not waited for */
    if (b->count > 0) {
        if (b->state == BARRIER_FILLING || b->state == BARRIER_BROKEN)
            __atomic_store_n(&b->state, BARRIER_RESETTING, __ATOMIC_RELAXED);
    } else {
        __atomic_store_n(&b->state, BARRIER_FILLING, __ATOMIC_RELAXED);
    }
    /* Relaxed stores above: under the internal lock (see set_state). */
    cmp_barrier_notify_all(b);
    cmp_barrier_unlock(b);
    Py_RETURN_NONE;
}

static PyObject *barrier_abort(PyObject *op, PyObject *unused)
{
    (void)unused;
    if (cmp_shared_check((cmp_shared *)op) < 0)
        return NULL;
    cmp_barrier *b = BARRIER(op);
    if (lock_barrier(b) < 0)
        return NULL;
    set_state(b, BARRIER_BROKEN);
    cmp_barrier_unlock(b);
    Py_RETURN_NONE;
}

static PyObject *get_parties(PyObject *op, void *closure)
{
    (void)closure;
    if (cmp_shared_check((cmp_shared *)op) < 0)
        return NULL;
    return PyLong_FromLong((int32_t)BARRIER(op)->parties);
}

static PyObject *get_n_waiting(PyObject *op, void *closure)
{
    (void)closure;
    if (cmp_shared_check((cmp_shared *)op) < 0)
        return NULL;
    cmp_barrier *b = BARRIER(op);
    if (cmp_barrier_state(b) == BARRIER_FILLING)
        return PyLong_FromUnsignedLong(cmp_barrier_count(b));
    return PyLong_FromLong(0);
}

static PyObject *get_broken(PyObject *op, void *closure)
{
    (void)closure;
    if (cmp_shared_check((cmp_shared *)op) < 0)
        return NULL;
    return PyBool_FromLong(cmp_barrier_state(BARRIER(op)) == BARRIER_BROKEN);
}

static PyGetSetDef barrier_getset[] = {
    {"parties", get_parties, NULL, "The number of threads required to trip the barrier.", NULL},
    {"n_waiting", get_n_waiting, NULL, "The number of threads waiting in the barrier.", NULL},
    {"broken", get_broken, NULL, "Whether the barrier is broken.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef barrier_members[] = {
    {"_action", T_OBJECT, offsetof(BarrierObject, action), 0, "the action"},
    {"_timeout", T_OBJECT, offsetof(BarrierObject, timeout), 0, "the default timeout"},
    CMP_SHARED_WEAKREFS,
    CMP_SHARED_DICT,
    {NULL, 0, 0, 0, NULL},
};

static PyMethodDef barrier_methods[] = {
    {"wait", (PyCFunction)(void (*)(void))barrier_wait, METH_FASTCALL | METH_KEYWORDS,
     "wait($self, /, timeout=None)\n--\n\n"
     "Wait for the barrier; return this arrival's index (0 .. parties-1)."},
    {"reset", barrier_reset, METH_NOARGS,
     "reset($self, /)\n--\n\nReset the barrier to its initial state; "
     "current waiters get BrokenBarrierError."},
    {"abort", barrier_abort, METH_NOARGS,
     "abort($self, /)\n--\n\nPut the barrier in the broken state."},
    {NULL, NULL, 0, NULL},
};

static int barrier_traverse(PyObject *op, visitproc visit, void *arg)
{
    Py_VISIT(((BarrierObject *)op)->action);
    Py_VISIT(((BarrierObject *)op)->timeout);
    return cmp_shared_traverse(op, visit, arg);
}

static int barrier_clear(PyObject *op)
{
    Py_CLEAR(((BarrierObject *)op)->action);
    Py_CLEAR(((BarrierObject *)op)->timeout);
    return cmp_shared_clear(op);
}

static PyType_Slot barrier_slots[] = {
    {Py_tp_init, barrier_init},
    {Py_tp_dealloc, cmp_shared_dealloc},
    {Py_tp_traverse, barrier_traverse},
    {Py_tp_clear, barrier_clear},
    {Py_tp_methods, barrier_methods},
    {Py_tp_members, barrier_members},
    {Py_tp_getset, barrier_getset},
    {Py_tp_doc, "Barrier(parties, action=None, timeout=None)\n--\n\n"
                "A process-shared barrier."},
    {0, NULL},
};

static PyType_Spec barrier_spec = {
    "_cmp.Barrier", sizeof(BarrierObject), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC, barrier_slots,
};

int cmp_add_barrier_type(PyObject *module)
{
    return cmp_add_type(module, &barrier_spec, NULL, CMP_KIND_BARRIER, NULL);
}
