/* queue_type.c - the queue types over csrc/ring.c: _cmp.Queue,
 * _cmp.JoinableQueue and _cmp.SimpleQueue, which are cmp.queues' classes
 * (cmp/queues.py attaches their Python policy: the feeder thread, close,
 * join_thread).  Pickling, the GIL, timeouts, and the stdlib's exceptions
 * are here; the contract with the Python layer is the Queue docstring
 * (queue_doc, below). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "ring_io.h"
#include "../owner.h"
#include "../ring.h"

#include <errno.h>

/* Per-wrapper flags (process-local, like the stdlib's attributes). */
#define Q_JOINABLE 1    /* put counts an unfinished task */
#define Q_SPILL 2       /* unbounded Queue: a full ring hands over to the feeder */
#define Q_SIMPLE 4      /* SimpleQueue: closed means OSError */

/* Seconds an unbounded put waits for room before it spills. */
#define SPILL_GRACE 50e-6

typedef struct {
    cmp_shared s;
    int flags;
    int closed;             /* close() was called here */
    int used;               /* a put succeeded here since _configure: then
                               close() ends this process's reading end,
                               as the stdlib's feeder does */
    PyObject *feeder;       /* the feeder object given to _configure, or NULL */
    PyObject *buffer;       /* its buffer: this process's deque of
                               (bytes, tag) not yet in the ring, or NULL */
    PyObject *on_error;     /* its on_error, or NULL: put raises */
    cmp_ring_fds fds;       /* the wake-up pipe in this process */
} QueueObject;

#define RING(self) ((cmp_ring *)((cmp_shared *)(self))->body)

/* ---- helpers ----------------------------------------------------------- */

static int check_open(QueueObject *q)
{
    if (cmp_shared_check(&q->s) < 0)
        return -1;
    if (!q->closed)
        return 0;
    if (q->flags & Q_SIMPLE)
        cmp_raise(CMP_ERR_HANDLE_CLOSED);
    else
        PyErr_Format(PyExc_ValueError, "Queue %R is closed", (PyObject *)q);
    return -1;
}

static int wait_items(void *p, const cmp_deadline *d)
{
    return cmp_ring_items_wait((cmp_ring *)p, d);
}

static int wait_tasks(void *p, const cmp_deadline *d)
{
    return cmp_ring_tasks_wait((cmp_ring *)p, d);
}

/* Push (without blocking, GIL held) the front items of a feeder buffer,
 * a deque of (bytes, tag), while they fit.  Returns how many are left
 * (the first non-tuple, the feeder's sentinel, stops it), or -1. */
static Py_ssize_t drain(QueueObject *q, PyObject *buffer)
{
    static const cmp_deadline now = {{0, 0}, 0};
    for (;;) {
        Py_ssize_t n = PyObject_Length(buffer);
        if (n <= 0)
            return n;
        PyObject *front = PySequence_GetItem(buffer, 0);
        if (!front)
            return -1;
        if (!PyTuple_Check(front) || PyTuple_GET_SIZE(front) != 2 ||
            !PyBytes_Check(PyTuple_GET_ITEM(front, 0))) {
            Py_DECREF(front);
            return n;
        }
        PyObject *data = PyTuple_GET_ITEM(front, 0);
        unsigned long tag = PyLong_AsUnsignedLong(PyTuple_GET_ITEM(front, 1));
        /* Uncounted as spilled before the push counts it in the ring: a
         * death in between loses the message and does not count it. */
        cmp_ring_spilled(RING(q), -1);
        int rc = cmp_ring_write(RING(q), &q->fds, PyBytes_AS_STRING(data),
                                PyBytes_GET_SIZE(data), (uint32_t)tag & 0xffu, 0, &now);
        Py_DECREF(front);
        if (rc != 0)
            cmp_ring_spilled(RING(q), 1);
        if (rc < 0)
            return -1;
        if (rc == 1)
            return n;
        PyObject *gone = PyObject_CallMethod(buffer, "popleft", NULL);
        if (!gone)
            return -1;
        Py_DECREF(gone);
    }
}

/* ---- methods ----------------------------------------------------------- */

static int queue_init(PyObject *op, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"maxsize", "slots", NULL};
    Py_ssize_t maxsize = 0, slots = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|nn:Queue", kwlist, &maxsize, &slots))
        return -1;
    if (maxsize < 0 || maxsize >= 0x7fffffff)
        maxsize = 0;
    if (slots <= 0)
        slots = CMP_RING_DEFAULT_SLOTS;
    if (maxsize > 0 && slots > (Py_ssize_t)CMP_RING_DEFAULT_SLOTS / 4 &&
        maxsize * 4 < slots)
        slots = maxsize * 4;      /* a small bounded queue needs a small ring */
    uint32_t n = cmp_ring_slots((uint64_t)slots);
    QueueObject *q = (QueueObject *)op;
    if (cmp_ring_fds_open(&q->fds) < 0)
        return -1;
    if (cmp_shared_create(&q->s, CMP_KIND_QUEUE, cmp_ring_size(n)) < 0) {
        cmp_ring_fds_close(&q->fds);
        return -1;
    }
    cmp_ring *r = RING(q);
    cmp_ring_init(r, n, (uint32_t)maxsize);
    cmp_ring_fds_publish(&q->fds, r);
    return 0;
}

static int queue_traverse(PyObject *op, visitproc visit, void *arg)
{
    QueueObject *q = (QueueObject *)op;
    Py_VISIT(q->feeder);
    Py_VISIT(q->buffer);
    Py_VISIT(q->on_error);
    return cmp_shared_traverse(op, visit, arg);
}

static int queue_clear(PyObject *op)
{
    QueueObject *q = (QueueObject *)op;
    Py_CLEAR(q->feeder);
    Py_CLEAR(q->buffer);
    Py_CLEAR(q->on_error);
    return cmp_shared_clear(op);
}

static void queue_dealloc(PyObject *op)
{
    QueueObject *q = (QueueObject *)op;
    cmp_ring_fds_close(&q->fds);
    cmp_shared_dealloc(op);     /* GC untrack, queue_clear, the reference */
}

static const char *const put_names[] = {"obj", "block", "timeout"};

static PyObject *queue_put(PyObject *op, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames)
{
    QueueObject *q = (QueueObject *)op;
    PyObject *a[3] = {NULL, NULL, NULL};
    if (nargs == 1 && !kwnames)
        a[0] = args[0];
    else if (cmp_parse_args("put", args, nargs, kwnames, put_names, 3, 1, a) < 0)
        return NULL;
    if (check_open(q) < 0)
        return NULL;
    /* put goes through the stdlib's semaphore: its checks of both. */
    int block;
    if (cmp_parse_block(a[1], &block) < 0 || cmp_check_timeout(a[2]) < 0)
        return NULL;
    cmp_ring *r = RING(q);
    /* The timeout is for the wait for room (the stdlib's semaphore): made
     * a deadline only when there is none, so that a timeout of NaN raises
     * only when put would wait. */
    cmp_deadline d = cmp_deadline_forever();
    /* Encode first: bad input raises here and changes nothing. */
    cmp_encoded e;
    if (cmp_encode(a[0], &e) < 0) {
        if (!q->on_error)
            return NULL;
        /* The feeder's on_error gets the exception instead. */
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyErr_NormalizeException(&type, &value, &tb);
        if (tb)
            PyException_SetTraceback(value, tb);
        PyObject *res = PyObject_CallFunctionObjArgs(q->on_error, value, a[0], NULL);
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
        return res;
    }
    int timed = 0;
    if (!cmp_ring_items_try(r)) {
        int rc = ETIMEDOUT;
        if (block && a[2] && cmp_timeout_to_deadline(a[2], &d) < 0) {
            Py_XDECREF(e.owner);
            return NULL;
        }
        timed = 1;
        while (block && !cmp_deadline_passed(&d)) {
            rc = cmp_wait(wait_items, r, &d);
            if (rc != 0 || cmp_ring_items_try(r))
                break;
            rc = ETIMEDOUT;
        }
        if (rc) {
            Py_XDECREF(e.owner);
            if (rc > 0)
                PyErr_SetNone(cmp_state.Full);
            return NULL;
        }
    }
    if (q->flags & Q_JOINABLE)
        cmp_ring_tasks_add(r);
    int rc;
    Py_ssize_t buffered = 0;
    if (q->buffer) {
        if ((buffered = drain(q, q->buffer)) < 0) {
            Py_XDECREF(e.owner);
            goto undo;
        }
    }
    if (buffered == 0) {
        /* An unbounded Queue never blocks: a full ring hands the bytes to
         * the feeder (which keeps this process's order). */
        int spill = q->buffer != NULL;
        if (spill) {
            /* Give the consumers a moment (SPILL_GRACE, the GIL released)
             * before handing over to the feeder thread, which is much
             * slower; put still returns at once by any human measure. */
            cmp_deadline grace = cmp_deadline_after(SPILL_GRACE);
            rc = cmp_ring_write(r, &q->fds, e.p, e.len, e.tag, 1, &grace);
            if (rc == 1)
                rc = 2;
        } else {
            /* A bounded ring checks maxsize again in the claim: room the
             * check above saw may be gone, and then put waits, within its
             * timeout. */
            int untimed = r->maxsize != CMP_RING_UNBOUNDED && a[2] && !timed;
            rc = cmp_ring_write(r, &q->fds, e.p, e.len, e.tag, block && !untimed, &d);
            if (rc == 1 && block && untimed)
                rc = cmp_timeout_to_deadline(a[2], &d) < 0
                         ? -1 : cmp_ring_write(r, &q->fds, e.p, e.len, e.tag, 1, &d);
        }
    } else {
        rc = 2;
    }
    if (rc == 2) {
        /* Into the feeder's buffer: counted as spilled once it is there. */
        PyObject *data = e.owner;
        e.owner = NULL;
        if (!data)
            data = PyBytes_FromStringAndSize(e.p, e.len);
        PyObject *item = data ? Py_BuildValue("(NI)", data, e.tag) : NULL;
        if (!item)
            goto undo;
        PyObject *res = buffered ? PyObject_CallMethod(q->buffer, "append", "(O)", item)
                                 : PyObject_CallOneArg(q->feeder, item);
        Py_DECREF(item);
        if (!res)
            goto undo;
        Py_DECREF(res);
        cmp_ring_spilled(r, 1);
        q->used = 1;
        Py_RETURN_NONE;
    }
    Py_XDECREF(e.owner);
    if (rc == 0) {
        q->used = 1;
        Py_RETURN_NONE;
    }
    if (rc == 1)
        PyErr_SetNone(cmp_state.Full);
undo:
    if (q->flags & Q_JOINABLE)
        cmp_ring_tasks_done(r);
    return NULL;
}

/* _drain(buffer): the feeder thread's step.  Pushes what fits from the
 * front of the buffer; if something is left, waits (the GIL released) until
 * the ring has room for its front item.  Stops at a non-tuple (the
 * sentinel).  Returns the number of items left. */
static PyObject *queue_drain(PyObject *op, PyObject *buffer)
{
    QueueObject *q = (QueueObject *)op;
    if (cmp_shared_check(&q->s) < 0)
        return NULL;
    Py_ssize_t left = drain(q, buffer);
    if (left <= 0)
        return left < 0 ? NULL : PyLong_FromLong(0);
    PyObject *front = PySequence_GetItem(buffer, 0);
    if (!front)
        return NULL;
    if (PyTuple_Check(front) && PyTuple_GET_SIZE(front) == 2 &&
        PyBytes_Check(PyTuple_GET_ITEM(front, 0))) {
        Py_ssize_t n = PyBytes_GET_SIZE(PyTuple_GET_ITEM(front, 0));
        cmp_ring *r = RING(q);
        uint32_t limit = cmp_ring_inline_limit(r);
        cmp_ring_space_arg a = {r, (uint64_t)n > limit ? limit + 1 : (uint32_t)n};
        cmp_deadline d = cmp_deadline_forever();
        if (cmp_wait(cmp_ring_wait_space, &a, &d) < 0) {
            Py_DECREF(front);
            return NULL;
        }
    }
    Py_DECREF(front);
    return PyLong_FromSsize_t(left);
}

/* Take one record: returns the pickled bytes (raw=1) or the object. */
static PyObject *take(QueueObject *q, int block, PyObject *timeout, int raw)
{
    cmp_ring *r = RING(q);
    cmp_ring_rec rec;
    /* Blocking, the wait's naps look for a dead writer at head. */
    int got = block ? cmp_ring_try_take(r, &rec) : cmp_ring_take_now(r, &rec);
    if (got != 0) {
        if (!block) {
            PyErr_SetNone(cmp_state.Empty);
            return NULL;
        }
        cmp_deadline d;
        if (cmp_timeout_to_deadline(timeout, &d) < 0)
            return NULL;
        for (;;) {
            int rc = cmp_deadline_passed(&d) ? ETIMEDOUT : cmp_wait(cmp_ring_wait_data, r, &d);
            if (rc < 0)
                return NULL;
            if (cmp_ring_try_take(r, &rec) == 0)
                break;
            if (rc == ETIMEDOUT) {
                PyErr_SetNone(cmp_state.Empty);
                return NULL;
            }
        }
    }
    return cmp_ring_read(r, &q->fds, &rec, raw);
}

static const char *const get_names[] = {"block", "timeout"};

/* get(block, timeout) with a timeout: the stdlib takes its read lock with
 * (block, timeout), then polls for what is left of the timeout, so its
 * answers to a bad one are those of both, even when an item is there. */
static int get_timeout_check(PyObject *block_obj, PyObject *timeout, int *block)
{
    if (cmp_parse_block(block_obj, block) < 0)
        return -1;
    double t = PyFloat_AsDouble(timeout);
    if (t == -1.0 && PyErr_Occurred())
        return -1;
    if (!*block)
        return 0;
    if (t != t) {
        PyErr_SetString(PyExc_ValueError, "cannot convert float NaN to integer");
        return -1;
    }
    if (t > 2147483.647) {      /* poll() takes int milliseconds */
        PyErr_SetString(PyExc_OverflowError, t == HUGE_VAL
                        ? "cannot convert float infinity to integer"
                        : "timeout is too large");
        return -1;
    }
    return 0;
}

static PyObject *queue_get(PyObject *op, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames)
{
    QueueObject *q = (QueueObject *)op;
    PyObject *a[2] = {NULL, NULL};
    if ((nargs || kwnames) &&
        cmp_parse_args("get", args, nargs, kwnames, get_names, 2, 0, a) < 0)
        return NULL;
    if (check_open(q) < 0)
        return NULL;
    int block = 1;
    if (a[1] && a[1] != Py_None) {
        if (get_timeout_check(a[0], a[1], &block) < 0)
            return NULL;
    } else if (a[0] && (block = PyObject_IsTrue(a[0])) < 0) {
        return NULL;
    }
    return take(q, block, block ? a[1] : NULL, 0);
}

static PyObject *queue_get_nowait(PyObject *op, PyObject *unused)
{
    (void)unused;
    QueueObject *q = (QueueObject *)op;
    if (check_open(q) < 0)
        return NULL;
    return take(q, 0, NULL, 0);
}

/* _get_bytes(block=True, timeout=None): the next message, still pickled. */
static PyObject *queue_get_bytes(PyObject *op, PyObject *const *args, Py_ssize_t nargs,
                                 PyObject *kwnames)
{
    QueueObject *q = (QueueObject *)op;
    PyObject *a[2] = {NULL, NULL};
    if (cmp_parse_args("_get_bytes", args, nargs, kwnames, get_names, 2, 0, a) < 0)
        return NULL;
    if (cmp_shared_check(&q->s) < 0)
        return NULL;
    int block = 1;
    if (a[0] && (block = PyObject_IsTrue(a[0])) < 0)
        return NULL;
    return take(q, block, block ? a[1] : NULL, 1);
}

static const char *const many_names[] = {"max_items", "timeout"};

static PyObject *queue_get_many(PyObject *op, PyObject *const *args, Py_ssize_t nargs,
                                PyObject *kwnames)
{
    QueueObject *q = (QueueObject *)op;
    PyObject *a[2] = {NULL, NULL};
    if (cmp_parse_args("get_many", args, nargs, kwnames, many_names, 2, 0, a) < 0)
        return NULL;
    if (check_open(q) < 0)
        return NULL;
    Py_ssize_t max = PY_SSIZE_T_MAX;
    if (a[0] && a[0] != Py_None) {
        max = PyLong_AsSsize_t(a[0]);
        if (max == -1 && PyErr_Occurred())
            return NULL;
        if (max < 1) {
            PyErr_SetString(PyExc_ValueError, "max_items must be at least 1");
            return NULL;
        }
    }
    PyObject *first = take(q, 1, a[1], 0);
    if (!first)
        return NULL;
    PyObject *list = PyList_New(1);
    if (!list) {
        Py_DECREF(first);
        return NULL;
    }
    PyList_SET_ITEM(list, 0, first);
    while (PyList_GET_SIZE(list) < max) {
        PyObject *o = take(q, 0, NULL, 0);
        if (!o) {
            if (PyErr_ExceptionMatches(cmp_state.Empty)) {
                PyErr_Clear();
                break;
            }
            Py_DECREF(list);
            return NULL;
        }
        int rc = PyList_Append(list, o);
        Py_DECREF(o);
        if (rc < 0) {
            Py_DECREF(list);
            return NULL;
        }
    }
    return list;
}

static PyObject *queue_qsize(PyObject *op, PyObject *unused)
{
    (void)unused;
    if (cmp_shared_check((cmp_shared *)op) < 0)
        return NULL;
    return PyLong_FromUnsignedLong(cmp_ring_items(RING(op)));
}

static PyObject *queue_empty(PyObject *op, PyObject *unused)
{
    (void)unused;
    QueueObject *q = (QueueObject *)op;
    if (cmp_shared_check(&q->s) < 0)
        return NULL;
    if ((q->flags & Q_SIMPLE) && check_open(q) < 0)
        return NULL;
    /* The stdlib's empty() polls the reading end, which its feeder closes
     * once close() follows a put in this process. */
    if (q->closed && q->used)
        return cmp_raise(CMP_ERR_HANDLE_CLOSED);
    return PyBool_FromLong(!cmp_ring_has_data(RING(op)));
}

static PyObject *queue_full(PyObject *op, PyObject *unused)
{
    (void)unused;
    if (cmp_shared_check((cmp_shared *)op) < 0)
        return NULL;
    cmp_ring *r = RING(op);
    return PyBool_FromLong(r->maxsize != 0 && cmp_ring_items(r) >= r->maxsize);
}

static PyObject *queue_poll(PyObject *op, PyObject *const *args, Py_ssize_t nargs)
{
    QueueObject *q = (QueueObject *)op;
    if (cmp_shared_check(&q->s) < 0)
        return NULL;
    if (nargs > 1) {
        PyErr_SetString(PyExc_TypeError, "_poll() takes at most 1 argument");
        return NULL;
    }
    cmp_ring *r = RING(q);
    if (cmp_ring_has_data(r))
        Py_RETURN_TRUE;
    cmp_deadline d = cmp_deadline_after(0);
    if (nargs == 1 && cmp_timeout_to_deadline(args[0], &d) < 0)
        return NULL;
    while (!cmp_deadline_passed(&d)) {
        int rc = cmp_wait(cmp_ring_wait_data, r, &d);
        if (rc < 0)
            return NULL;
        if (rc == ETIMEDOUT)
            break;
        if (cmp_ring_has_data(r))
            Py_RETURN_TRUE;
    }
    return PyBool_FromLong(cmp_ring_has_data(r));
}

static PyObject *queue_task_done(PyObject *op, PyObject *unused)
{
    (void)unused;
    if (cmp_shared_check((cmp_shared *)op) < 0)
        return NULL;
    if (cmp_ring_tasks_done(RING(op))) {
        PyErr_SetString(PyExc_ValueError, "task_done() called too many times");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *queue_join(PyObject *op, PyObject *unused)
{
    (void)unused;
    if (cmp_shared_check((cmp_shared *)op) < 0)
        return NULL;
    cmp_deadline d = cmp_deadline_forever();
    if (cmp_wait(wait_tasks, RING(op), &d) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *queue_unfinished(PyObject *op, PyObject *unused)
{
    (void)unused;
    if (cmp_shared_check((cmp_shared *)op) < 0)
        return NULL;
    return PyLong_FromUnsignedLong(__atomic_load_n(&RING(op)->tasks, __ATOMIC_RELAXED));
}

/* _fileno(): the read end of the wakeup pipe in this process; from now on
 * the pipe is readable while the queue holds a message. */
static PyObject *queue_fileno(PyObject *op, PyObject *unused)
{
    (void)unused;
    QueueObject *q = (QueueObject *)op;
    if (cmp_shared_check(&q->s) < 0)
        return NULL;
    if (q->closed && (q->flags & Q_SIMPLE))
        return cmp_raise(CMP_ERR_HANDLE_CLOSED);
    if (cmp_ring_fds_resolve(&q->fds, RING(q)) < 0)
        return cmp_raise_errno(errno);
    cmp_ring_poll_interest(RING(q), q->fds.wfd);
    return PyLong_FromLong(q->fds.rfd);
}

static const char *const configure_names[] = {"flags", "feeder"};

/* _configure(flags, feeder=None): this wrapper's flags and feeder object
 * (queue_doc). */
static PyObject *queue_configure(PyObject *op, PyObject *const *args, Py_ssize_t nargs)
{
    QueueObject *q = (QueueObject *)op;
    PyObject *a[2] = {NULL, Py_None};
    if (cmp_parse_args("_configure", args, nargs, NULL, configure_names, 2, 1, a) < 0)
        return NULL;
    int flags = (int)PyLong_AsLong(a[0]);
    if (flags == -1 && PyErr_Occurred())
        return NULL;
    PyObject *feeder = a[1] == Py_None ? NULL : a[1], *buffer = NULL, *on_error = NULL;
    if (feeder) {
        if (!(buffer = PyObject_GetAttrString(feeder, "buffer")) ||
            !(on_error = PyObject_GetAttrString(feeder, "on_error"))) {
            Py_XDECREF(buffer);
            return NULL;
        }
        if (buffer == Py_None)
            Py_CLEAR(buffer);
        if (on_error == Py_None)
            Py_CLEAR(on_error);
        if (buffer && !(flags & Q_SPILL)) {
            Py_DECREF(buffer);
            Py_XDECREF(on_error);
            PyErr_SetString(PyExc_ValueError, "a feeder buffer needs QUEUE_SPILL");
            return NULL;
        }
        Py_INCREF(feeder);
    } else if (flags & Q_SPILL) {
        PyErr_SetString(PyExc_ValueError, "QUEUE_SPILL needs a feeder with a buffer");
        return NULL;
    }
    q->flags = flags;
    q->used = 0;
    Py_XSETREF(q->feeder, feeder);
    Py_XSETREF(q->buffer, buffer);
    Py_XSETREF(q->on_error, on_error);
    if (!q->fds.pid) {
        q->fds.rfd = q->fds.wfd = -1;
        q->fds.owns = 0;
    }
    Py_RETURN_NONE;
}

static const char *const set_closed_names[] = {"closed", "release_fds"};

/* _set_closed(closed, release_fds=False): the closed state of this wrapper. */
static PyObject *queue_set_closed(PyObject *op, PyObject *const *args, Py_ssize_t nargs)
{
    QueueObject *q = (QueueObject *)op;
    PyObject *a[2] = {NULL, NULL};
    if (cmp_parse_args("_set_closed", args, nargs, NULL, set_closed_names, 2, 1, a) < 0)
        return NULL;
    int closed = PyObject_IsTrue(a[0]);
    int release_fds = a[1] ? PyObject_IsTrue(a[1]) : 0;
    if (closed < 0 || release_fds < 0)
        return NULL;
    q->closed = closed;
    if (release_fds)
        cmp_ring_fds_close(&q->fds);
    Py_RETURN_NONE;
}

static PyObject *queue_get_closed(PyObject *op, void *unused)
{
    (void)unused;
    return PyBool_FromLong(((QueueObject *)op)->closed);
}

static PyObject *queue_get_pending(PyObject *op, void *unused)
{
    (void)unused;
    QueueObject *q = (QueueObject *)op;
    return PyLong_FromSsize_t(q->buffer ? PyObject_Length(q->buffer) : 0);
}

static PyObject *queue_get_maxsize(PyObject *op, void *unused)
{
    (void)unused;
    if (cmp_shared_check((cmp_shared *)op) < 0)
        return NULL;
    uint32_t m = RING(op)->maxsize;
    return PyLong_FromUnsignedLong(m ? m : 0x7fffffffu);
}

static PyObject *queue_get_slots(PyObject *op, void *unused)
{
    (void)unused;
    if (cmp_shared_check((cmp_shared *)op) < 0)
        return NULL;
    return PyLong_FromUnsignedLong(RING(op)->nslots);
}

static PyGetSetDef queue_getset[] = {
    {"_closed", queue_get_closed, NULL, "Whether close() was called here.", NULL},
    {"_pending", queue_get_pending, NULL, "Items in this process's feeder buffer.", NULL},
    {"_maxsize", queue_get_maxsize, NULL, "The bound (SEM_VALUE_MAX: none).", NULL},
    {"_slots", queue_get_slots, NULL, "Cells of the ring.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef queue_methods[] = {
    {"put", (PyCFunction)(void (*)(void))queue_put, METH_FASTCALL | METH_KEYWORDS,
     "put($self, /, obj, block=True, timeout=None)\n--\n\n"
     "Put obj into the queue."},
    {"_put", (PyCFunction)(void (*)(void))queue_put, METH_FASTCALL | METH_KEYWORDS,
     "_put($self, /, obj, block=True, timeout=None)\n--\n\n"
     "put, under a name no policy overrides."},
    {"get", (PyCFunction)(void (*)(void))queue_get, METH_FASTCALL | METH_KEYWORDS,
     "get($self, /, block=True, timeout=None)\n--\n\n"
     "Remove and return an item from the queue."},
    {"_get", (PyCFunction)(void (*)(void))queue_get, METH_FASTCALL | METH_KEYWORDS,
     "_get($self, /, block=True, timeout=None)\n--\n\n"
     "get, under a name no policy overrides."},
    {"get_nowait", queue_get_nowait, METH_NOARGS,
     "get_nowait($self, /)\n--\n\nget(False)."},
    {"get_many", (PyCFunction)(void (*)(void))queue_get_many, METH_FASTCALL | METH_KEYWORDS,
     "get_many($self, /, max_items=None, timeout=None)\n--\n\n"
     "Wait (up to timeout) for one item, then take up to max_items that are "
     "ready, as a list."},
    {"_get_bytes", (PyCFunction)(void (*)(void))queue_get_bytes,
     METH_FASTCALL | METH_KEYWORDS,
     "_get_bytes($self, /, block=True, timeout=None)\n--\n\n"
     "The next message, still pickled."},
    {"_drain", queue_drain, METH_O,
     "_drain($self, buffer, /)\n--\n\nThe feeder's step: push, then wait for room."},
    {"qsize", queue_qsize, METH_NOARGS,
     "qsize($self, /)\n--\n\nThe approximate number of items in the queue."},
    {"empty", queue_empty, METH_NOARGS,
     "empty($self, /)\n--\n\nWhether the queue holds no item."},
    {"full", queue_full, METH_NOARGS,
     "full($self, /)\n--\n\nWhether the queue holds maxsize items."},
    {"_poll", (PyCFunction)(void (*)(void))queue_poll, METH_FASTCALL,
     "_poll($self, timeout=0.0, /)\n--\n\nWait up to timeout for an item."},
    {"_task_done", queue_task_done, METH_NOARGS,
     "_task_done($self, /)\n--\n\nOne unfinished task less."},
    {"_join", queue_join, METH_NOARGS,
     "_join($self, /)\n--\n\nWait until no task is unfinished."},
    {"_unfinished", queue_unfinished, METH_NOARGS,
     "_unfinished($self, /)\n--\n\nThe number of unfinished tasks."},
    {"_fileno", queue_fileno, METH_NOARGS,
     "_fileno($self, /)\n--\n\nA fd readable while the queue holds an item."},
    {"_configure", (PyCFunction)(void (*)(void))queue_configure, METH_FASTCALL,
     "_configure($self, flags, feeder=None, /)\n--\n\n"
     "This wrapper's flags and feeder object."},
    {"_set_closed", (PyCFunction)(void (*)(void))queue_set_closed, METH_FASTCALL,
     "_set_closed($self, closed, release_fds=False, /)\n--\n\n"
     "Refuse (or allow again) put and get here."},
    {NULL, NULL, 0, NULL},
};

static void queue_destroy(cmp_arena *a, void *body)
{
    cmp_ring_destroy(a, (cmp_ring *)body);
}

static PyMemberDef queue_members[] = {
    CMP_SHARED_WEAKREFS,
    CMP_SHARED_DICT,
    {NULL, 0, 0, 0, NULL},
};

#define queue_doc \
    "Queue(maxsize=0, slots=0)\n--\n\n" \
    "A process-shared message ring: the C type of cmp's Queue,\n" \
    "JoinableQueue and SimpleQueue, whose Python policy cmp/queues.py\n" \
    "attaches.  The contract between the two layers:\n\n" \
    "- construction: __init__ makes the ring (maxsize 0: unbounded; slots:\n" \
    "  64-byte cells, 0 for the default).  A wrapper, made by __init__ or\n" \
    "  by _rebuild in another process, is then configured for this\n" \
    "  process by _configure(flags, feeder=None), again after a fork:\n" \
    "  flags are QUEUE_JOINABLE (put counts a task), QUEUE_SPILL (an\n" \
    "  unbounded Queue: a full ring never blocks put) and QUEUE_SIMPLE\n" \
    "  (closed means OSError).\n" \
    "- the feeder object: feeder.buffer is the deque of (bytes, tag) not\n" \
    "  yet in the ring (QUEUE_SPILL; None otherwise); put appends to it,\n" \
    "  behind what is already there, or calls feeder(item) when the ring\n" \
    "  is full (the feeder then starts its thread, which pushes the\n" \
    "  buffer with _drain(buffer)).  feeder.on_error, when not None, is\n" \
    "  called as on_error(exc, obj) when obj cannot be pickled, instead\n" \
    "  of put raising exc.  Both are read once, by _configure.\n" \
    "- the closed state: _set_closed(closed, release_fds=False), the one\n" \
    "  call that changes it (read as _closed); put and get then raise.\n" \
    "- put and get are the stdlib's; _put and _get are the same methods\n" \
    "  under names no policy overrides."

static PyType_Slot queue_slots[] = {
    {Py_tp_init, queue_init},
    {Py_tp_dealloc, queue_dealloc},
    {Py_tp_traverse, queue_traverse},
    {Py_tp_clear, queue_clear},
    {Py_tp_methods, queue_methods},
    {Py_tp_getset, queue_getset},
    {Py_tp_members, queue_members},
    {Py_tp_doc, queue_doc},
    {0, NULL},
};

static PyType_Spec queue_spec = {
    "_cmp.Queue", sizeof(QueueObject), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC, queue_slots,
};

/* JoinableQueue: a Queue that lists the methods again, so that they are
 * its own (the interpreter specialises a C method's call on its exact
 * type); SimpleQueue: the same slots, no Queue. */
static PyType_Slot joinable_slots[] = {
    {Py_tp_dealloc, queue_dealloc},
    {Py_tp_traverse, queue_traverse},
    {Py_tp_clear, queue_clear},
    {Py_tp_methods, queue_methods},
    {Py_tp_doc, "JoinableQueue(maxsize=0, slots=0)\n--\n\n"
                "The C type of cmp's JoinableQueue (see Queue)."},
    {0, NULL},
};

static PyType_Spec joinable_spec = {
    "_cmp.JoinableQueue", sizeof(QueueObject), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC, joinable_slots,
};

static PyType_Spec simple_spec = {
    "_cmp.SimpleQueue", sizeof(QueueObject), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC, queue_slots,
};

PyDoc_STRVAR(set_queue_dumps_doc,
"_set_queue_dumps(dumps, /)\n--\n\n"
"Pickle the messages of every queue that are not exact builtin scalars\n"
"with dumps(obj) -> bytes-like (cmp/_outofband.py: their large buffers\n"
"travel in the arena).  The default is ForkingPickler.dumps.");

static PyObject *set_queue_dumps(PyObject *module, PyObject *fn)
{
    (void)module;
    if (!PyCallable_Check(fn)) {
        PyErr_Format(PyExc_TypeError, "dumps must be callable, not %.100s",
                     Py_TYPE(fn)->tp_name);
        return NULL;
    }
    Py_INCREF(fn);
    Py_SETREF(cmp_state.forking_dumps, fn);
    Py_RETURN_NONE;
}

static PyMethodDef queue_functions[] = {
    {"_set_queue_dumps", set_queue_dumps, METH_O, set_queue_dumps_doc},
    {NULL, NULL, 0, NULL},
};

int cmp_add_queue_types(PyObject *module)
{
    if (PyModule_AddFunctions(module, queue_functions) < 0)
        return -1;
    cmp_register_destroy(CMP_KIND_QUEUE, queue_destroy);
    if (PyModule_AddIntConstant(module, "QUEUE_JOINABLE", Q_JOINABLE) < 0 ||
        PyModule_AddIntConstant(module, "QUEUE_SPILL", Q_SPILL) < 0 ||
        PyModule_AddIntConstant(module, "QUEUE_SIMPLE", Q_SIMPLE) < 0)
        return -1;
    PyObject *queue;
    if (cmp_add_type(module, &queue_spec, NULL, CMP_KIND_QUEUE, &queue) < 0 ||
        cmp_add_type(module, &joinable_spec, (PyTypeObject *)queue, 0, NULL) < 0)
        return -1;
    return cmp_add_type(module, &simple_spec, NULL, CMP_KIND_QUEUE, NULL);
}
