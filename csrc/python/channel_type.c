/*
 * channel_type.c - _cmp.Channel, the pool's transport (cmp/pool.py): a
 * ring (csrc/ring.h) with, optionally, its doorbell pipe, as a shared
 * object of the arena like a Queue (kind CMP_KIND_CHANNEL): the wrapper
 * holds one reference, counted in this process's entry of the process
 * table, pickled as a handle that a process of the tree adopts.  So a
 * channel lives while any process holding it does: when the pool's
 * process and its workers are all gone, however they died, the
 * survivors' reap frees it (shared.c).
 *
 * Each pool worker has two channels:
 *   tasks    the parent produces (never waits: put returns None on a
 *            full ring, and the parent retries after the next result),
 *            the worker consumes (futex wait, in _pool_serve);
 *   results  the worker produces (waits for room), the parent consumes;
 *            made with doorbell=True: from fileno() on, its pipe is
 *            readable while the ring holds a result (csrc/selectable.h),
 *            which the pool's handler polls.
 * A record is one message, encoded by the queues' codec (ring_io.h: the
 * pool's messages are bytes, which travel as they are); a record marked
 * with CHANNEL_STOP is the STOP message, which ends _pool_serve.
 *
 * _pool_serve(tasks, results, parent_fd, maxtasks, run) is a worker's
 * loop; _pool_spin(channels, seconds) the parent's spin before it sleeps
 * in poll(); _channel_keep_only(keep) what a forked worker does first.
 */
#include "ring_io.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>

#include "../owner.h"
#include "../ring.h"

/* The record tag's mark of the STOP message. */
#define CHANNEL_STOP CMP_RING_TAG_FLAG

typedef struct {
    cmp_shared s;
    cmp_ring_fds fds;       /* the doorbell in this process */
} ChannelObject;

#define CHANNEL(op) ((ChannelObject *)(op))
#define RING(op) ((cmp_ring *)((cmp_shared *)(op))->body)

static const cmp_deadline no_wait;

static PyTypeObject *channel_type(void)
{
    return cmp_state.kind_type[CMP_KIND_CHANNEL];
}

/* op as an open Channel: its ring, or NULL with TypeError or ValueError. */
static cmp_ring *open_ring(const char *fname, PyObject *op)
{
    if (!PyObject_TypeCheck(op, channel_type())) {
        PyErr_Format(PyExc_TypeError, "%s() needs a Channel, not %.200s",
                     fname, Py_TYPE(op)->tp_name);
        return NULL;
    }
    if (!((cmp_shared *)op)->body) {
        PyErr_SetString(PyExc_ValueError, "operation on a closed Channel");
        return NULL;
    }
    return RING(op);
}

/* Let go: the reference and this process's fds. */
static void channel_close_here(ChannelObject *c)
{
    cmp_ring_fds_close(&c->fds);
    cmp_shared_drop(&c->s);
}

/* ---- the type ------------------------------------------------------------ */

static int channel_init(PyObject *op, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"slots", "doorbell", NULL};
    Py_ssize_t slots = 0;
    int doorbell = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|np:Channel", kwlist, &slots, &doorbell))
        return -1;
    ChannelObject *c = CHANNEL(op);
    if (c->s.off) {
        PyErr_SetString(PyExc_RuntimeError, "object already initialised");
        return -1;
    }
    uint32_t n = cmp_ring_slots(slots > 0 ? (uint64_t)slots : CMP_RING_MIN_SLOTS);
    c->fds.rfd = c->fds.wfd = -1;
    if (doorbell && cmp_ring_fds_open(&c->fds) < 0)
        return -1;
    if (cmp_shared_create(&c->s, CMP_KIND_CHANNEL, cmp_ring_size(n)) < 0) {
        cmp_ring_fds_close(&c->fds);
        return -1;
    }
    cmp_ring *r = RING(c);
    cmp_ring_init(r, n, CMP_RING_UNBOUNDED);
    if (doorbell)
        cmp_ring_fds_publish(&c->fds, r);
    else
        cmp_sel_init(&r->sel, -1, -1, 0);
    return 0;
}

static void channel_dealloc(PyObject *op)
{
    cmp_ring_fds_close(&CHANNEL(op)->fds);
    cmp_shared_dealloc(op);
}

/* ---- sending that a signal handler cannot cut in two --------------------- */
/*
 * The pool's parent may send from the main thread, where a Python signal
 * handler that raises (Ctrl-C) runs after any call of Python code.  So the
 * steps that must happen together -- a task entering its worker's fifo,
 * its message published in the ring or queued in outbuf, its position in
 * `sent` -- happen in one C call, which runs no Python code in between
 * (the containers are deques and lists: C methods).
 */

/* Publish msg (stop: as the STOP message): 0 with *pos, 1 when the ring
 * is full, -1 with an exception (MemoryError: no arena block). */
static int publish(PyObject *op, cmp_ring *r, PyObject *msg, int stop, uint64_t *pos)
{
    cmp_encoded e;
    if (cmp_encode(msg, &e) < 0)
        return -1;
    /* A sole producer's record starts where tail is now (acquire: after
     * the record the last put published). */
    *pos = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
    int rc = cmp_ring_write(r, &CHANNEL(op)->fds, e.p, e.len,
                            e.tag | (stop ? CHANNEL_STOP : 0), 0, &no_wait);
    Py_XDECREF(e.owner);
    return rc < 0 ? -1 : rc != 0;
}

/* Take back the oldest message nobody took yet: it, with *pos, None when
 * there is none, or NULL with an exception. */
static PyObject *take_oldest(PyObject *op, cmp_ring *r, uint64_t *pos)
{
    cmp_ring_rec rec;
    if (cmp_ring_take_now(r, &rec) != 0)
        Py_RETURN_NONE;
    *pos = rec.pos;
    return cmp_ring_read(r, &CHANNEL(op)->fds, &rec, 0);
}

/* The pool's STOP message: empty bytes (cmp/_pool/wire.py). */
static int is_stop(PyObject *msg)
{
    return PyBytes_Check(msg) && PyBytes_GET_SIZE(msg) == 0;
}

/* Record a published message's position in `sent` (not the STOP's). */
static int note_sent(PyObject *sent, PyObject *msg, uint64_t pos)
{
    if (is_stop(msg))
        return 0;
    PyObject *p = PyLong_FromUnsignedLongLong(pos);
    if (!p)
        return -1;
    PyObject *r = PyObject_CallMethod(sent, "append", "O", p);
    Py_DECREF(p);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

static int append_to(PyObject *seq, PyObject *item)
{
    PyObject *r = PyObject_CallMethod(seq, "append", "O", item);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

/* Publish msg unless outbuf holds messages or the ring is full, then
 * queue it in outbuf: True when published.  MemoryError (no arena block
 * for it) leaves it queued in outbuf. */
static PyObject *send_or_queue(PyObject *op, cmp_ring *r, PyObject *msg,
                               PyObject *sent, PyObject *outbuf)
{
    Py_ssize_t queued = PyObject_Length(outbuf);
    if (queued < 0)
        return NULL;
    if (queued == 0) {
        uint64_t pos;
        int rc = publish(op, r, msg, is_stop(msg), &pos);
        if (rc == 0) {
            if (note_sent(sent, msg, pos) < 0)
                return NULL;
            Py_RETURN_TRUE;
        }
        if (rc < 0) {
            if (!PyErr_ExceptionMatches(PyExc_MemoryError))
                return NULL;
            PyObject *type, *value, *tb;
            PyErr_Fetch(&type, &value, &tb);
            if (append_to(outbuf, msg) < 0) {
                Py_XDECREF(type), Py_XDECREF(value), Py_XDECREF(tb);
                return NULL;
            }
            PyErr_Restore(type, value, tb);
            return NULL;
        }
    }
    if (append_to(outbuf, msg) < 0)
        return NULL;
    Py_RETURN_FALSE;
}

static PyObject *channel_send(PyObject *op, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError,
                        "send() takes msg, sent, outbuf, fifo and task");
        return NULL;
    }
    cmp_ring *r = open_ring("send", op);
    if (!r)
        return NULL;
    if (args[3] != Py_None && append_to(args[3], args[4]) < 0)
        return NULL;
    return send_or_queue(op, r, args[0], args[1], args[2]);
}

static PyObject *channel_flush(PyObject *op, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "flush() takes outbuf and sent");
        return NULL;
    }
    cmp_ring *r = open_ring("flush", op);
    if (!r)
        return NULL;
    PyObject *outbuf = args[0], *sent = args[1];
    for (;;) {
        Py_ssize_t queued = PyObject_Length(outbuf);
        if (queued < 0)
            return NULL;
        if (queued == 0)
            Py_RETURN_TRUE;
        PyObject *msg = PySequence_GetItem(outbuf, 0);
        if (!msg)
            return NULL;
        uint64_t pos;
        int rc = publish(op, r, msg, is_stop(msg), &pos);
        if (rc != 0) {
            Py_DECREF(msg);
            if (rc < 0)
                return NULL;    /* MemoryError: the message stays first */
            Py_RETURN_FALSE;
        }
        int bad = note_sent(sent, msg, pos);
        Py_DECREF(msg);
        PyObject *gone = PyObject_CallMethod(outbuf, "popleft", NULL);
        if (!gone)
            return NULL;
        Py_DECREF(gone);
        if (bad < 0)
            return NULL;
    }
}

static PyObject *channel_steal_into(PyObject *op, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "steal_into() takes sent, fifo, "
                        "thief, thief_sent, thief_outbuf and thief_fifo");
        return NULL;
    }
    PyObject *sent = args[0], *fifo = args[1], *thief = args[2];
    cmp_ring *r = open_ring("steal_into", op);
    cmp_ring *tr = r ? open_ring("steal_into", thief) : NULL;
    if (!tr)
        return NULL;
    /* What can fail before the message is taken, does. */
    Py_ssize_t nfifo = PyObject_Length(fifo);
    if (nfifo < 0)
        return NULL;
    uint64_t pos;
    PyObject *msg = take_oldest(op, r, &pos);
    if (!msg || msg == Py_None)
        return msg;
    PyObject *task = NULL;
    PyObject *p = PyLong_FromUnsignedLongLong(pos);
    Py_ssize_t i = p ? PySequence_Index(sent, p) : -1;
    Py_XDECREF(p);
    if (i < 0 || i >= nfifo)
        goto fail;
    task = PySequence_GetItem(fifo, i);
    if (!task || PySequence_DelItem(sent, i) < 0 || PySequence_DelItem(fifo, i) < 0)
        goto fail;
    if (append_to(args[5], task) < 0)
        goto fail;
    PyObject *res = send_or_queue(thief, tr, msg, args[3], args[4]);
    Py_DECREF(msg);
    if (!res) {
        Py_DECREF(task);
        return NULL;
    }
    Py_DECREF(res);
    return task;
fail:
    if (!PyErr_Occurred())
        PyErr_SetString(PyExc_SystemError, "steal_into: a task message not in sent");
    Py_XDECREF(task);
    Py_DECREF(msg);
    return NULL;
}

static const char *const put_names[] = {"msg", "stop"};

static PyObject *channel_put(PyObject *op, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames)
{
    PyObject *a[2] = {NULL, NULL};
    if ((nargs == 1 || nargs == 2) && !kwnames)
        a[0] = args[0], a[1] = nargs == 2 ? args[1] : NULL;
    else if (cmp_parse_args("put", args, nargs, kwnames, put_names, 2, 1, a) < 0)
        return NULL;
    cmp_ring *r = open_ring("put", op);
    if (!r)
        return NULL;
    int stop = a[1] ? PyObject_IsTrue(a[1]) : 0;
    if (stop < 0)
        return NULL;
    uint64_t pos;
    int rc = publish(op, r, a[0], stop, &pos);
    if (rc != 0) {
        if (rc < 0)
            return NULL;
        Py_RETURN_NONE;
    }
    return PyLong_FromUnsignedLongLong(pos);
}

static PyObject *channel_steal(PyObject *op, PyObject *unused)
{
    (void)unused;
    cmp_ring *r = open_ring("steal", op);
    if (!r)
        return NULL;
    uint64_t pos;
    PyObject *msg = take_oldest(op, r, &pos);
    if (!msg || msg == Py_None)
        return msg;
    return Py_BuildValue("KN", (unsigned long long)pos, msg);
}

static PyObject *channel_taken(PyObject *op, PyObject *arg)
{
    cmp_ring *r = open_ring("taken", op);
    if (!r)
        return NULL;
    unsigned long long pos = PyLong_AsUnsignedLongLong(arg);
    if (pos == (unsigned long long)-1 && PyErr_Occurred())
        return NULL;
    /* Acquire: pairs with the consumer's claim, which moves head past the
     * record before it copies it out. */
    return PyBool_FromLong(__atomic_load_n(&r->head, __ATOMIC_ACQUIRE) > pos);
}

static PyObject *channel_take_all(PyObject *op, PyObject *out)
{
    cmp_ring *r = open_ring("take_all", op);
    if (!r)
        return NULL;
    if (!PyList_Check(out)) {
        PyErr_Format(PyExc_TypeError, "take_all() needs a list, not %.200s",
                     Py_TYPE(out)->tp_name);
        return NULL;
    }
    ChannelObject *c = CHANNEL(op);
    cmp_ring_rec rec;
    int taken = 0;
    for (; cmp_ring_take_now(r, &rec) == 0; taken++) {
        PyObject *msg = cmp_ring_read(r, &c->fds, &rec, 0);
        if (!msg)
            return NULL;
        int rc = PyList_Append(out, msg);
        Py_DECREF(msg);
        if (rc < 0)
            return NULL;
    }
    /* Polled ready with nothing to take (a byte left by a writer killed
     * before it marked it): drain the doorbell. */
    if (!taken && cmp_sel_wanted(&r->sel) && cmp_ring_fds_resolve(&c->fds, r) == 0)
        cmp_ring_poll_after_take(r, c->fds.rfd);
    Py_RETURN_NONE;
}

static PyObject *channel_fileno(PyObject *op, PyObject *unused)
{
    (void)unused;
    cmp_ring *r = open_ring("fileno", op);
    if (!r)
        return NULL;
    if (!r->sel.pipe_ino) {
        PyErr_SetString(PyExc_ValueError, "this Channel has no doorbell");
        return NULL;
    }
    ChannelObject *c = CHANNEL(op);
    if (cmp_ring_fds_resolve(&c->fds, r) < 0)
        return cmp_raise_errno(errno);
    cmp_ring_poll_interest(r, c->fds.wfd);
    return PyLong_FromLong(c->fds.rfd);
}

static PyObject *channel_close(PyObject *op, PyObject *unused)
{
    (void)unused;
    channel_close_here(CHANNEL(op));
    Py_RETURN_NONE;
}

static PyObject *channel_reduce(PyObject *op, PyObject *unused)
{
    (void)unused;
    if (!open_ring("__reduce__", op))
        return NULL;
    PyObject *rebuild = PyObject_GetAttrString((PyObject *)Py_TYPE(op), "_rebuild");
    if (!rebuild)
        return NULL;
    PyObject *handle = PyObject_CallMethod(op, "_handle", NULL);
    if (!handle) {
        Py_DECREF(rebuild);
        return NULL;
    }
    return Py_BuildValue("(N(N))", rebuild, handle);
}

static PyObject *channel_get_closed(PyObject *op, void *unused)
{
    (void)unused;
    return PyBool_FromLong(((cmp_shared *)op)->body == NULL);
}

static PyGetSetDef channel_getset[] = {
    {"closed", channel_get_closed, NULL, "Whether close() was called here.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef channel_methods[] = {
    {"put", (PyCFunction)(void (*)(void))channel_put, METH_FASTCALL | METH_KEYWORDS,
     "put($self, /, msg, stop=False)\n--\n\n"
     "Publish msg without waiting: its position in the ring (the caller is\n"
     "the channel's only producer), or None when the ring is full.  stop:\n"
     "msg is the STOP message, which ends _pool_serve."},
    {"send", (PyCFunction)(void (*)(void))channel_send, METH_FASTCALL,
     "send($self, msg, sent, outbuf, fifo, task, /)\n--\n\n"
     "In one step: append task to fifo (unless fifo is None), then publish\n"
     "msg (empty: the STOP message) and append its position to sent, or\n"
     "append msg to outbuf when outbuf is not empty or the ring is full.\n"
     "True when published.  MemoryError (no arena block for msg) leaves msg\n"
     "in outbuf."},
    {"flush", (PyCFunction)(void (*)(void))channel_flush, METH_FASTCALL,
     "flush($self, outbuf, sent, /)\n--\n\n"
     "Publish the messages of outbuf from its head while there is room,\n"
     "each position appended to sent as its message leaves outbuf: True\n"
     "when outbuf is empty.  MemoryError leaves the message first in outbuf."},
    {"steal_into", (PyCFunction)(void (*)(void))channel_steal_into, METH_FASTCALL,
     "steal_into($self, sent, fifo, thief, thief_sent, thief_outbuf, thief_fifo, /)\n"
     "--\n\n"
     "In one step: take back the oldest message nobody took, remove its\n"
     "position from sent and its task from fifo (at the same index), append\n"
     "the task to thief_fifo and send the message on the thief Channel as\n"
     "send() does.  The task, or None when there was nothing to take."},
    {"steal", channel_steal, METH_NOARGS,
     "steal($self, /)\n--\n\n"
     "Take the oldest message nobody took yet: (position, msg), or None."},
    {"taken", channel_taken, METH_O,
     "taken($self, position, /)\n--\n\n"
     "Has a consumer taken the message put at `position`?"},
    {"take_all", channel_take_all, METH_O,
     "take_all($self, out, /)\n--\n\nAppend every message now in the ring to list `out`."},
    {"fileno", channel_fileno, METH_NOARGS,
     "fileno($self, /)\n--\n\n"
     "The doorbell's read end in this process; from now on it is readable\n"
     "while the ring holds a message."},
    {"close", channel_close, METH_NOARGS,
     "close($self, /)\n--\n\n"
     "Let go of the channel here (and of its fds); the last holder frees it."},
    {"__reduce__", channel_reduce, METH_NOARGS,
     "__reduce__($self, /)\n--\n\nA handle a process of this tree rebuilds."},
    {NULL, NULL, 0, NULL},
};

static void channel_destroy(cmp_arena *a, void *body)
{
    cmp_ring_destroy(a, (cmp_ring *)body);
}

static PyType_Slot channel_slots[] = {
    {Py_tp_init, channel_init},
    {Py_tp_dealloc, channel_dealloc},
    {Py_tp_methods, channel_methods},
    {Py_tp_getset, channel_getset},
    {Py_tp_doc, "Channel(slots=0, doorbell=False)\n--\n\n"
                "A cmp Pool's one-way message ring between its process and one\n"
                "worker: a shared object of the arena (see csrc/python/channel_type.c)."},
    {0, NULL},
};

static PyType_Spec channel_spec = {
    "_cmp.Channel", sizeof(ChannelObject), 0, Py_TPFLAGS_DEFAULT, channel_slots,
};

/* ---- the worker's loop --------------------------------------------------
 *
 * A worker is started by any start method, so what it knows of its parent
 * travels as arguments: the channels (inherited, or pickled handles it
 * adopted) and a pidfd of the pool's process.  PR_SET_PDEATHSIG (set first
 * thing by cmp/pool.py) kills a worker whose forking thread ends; that is
 * the pool's process only under fork and spawn (a forkserver's child is the
 * forkserver's), so a worker that waits for a task or for room also looks
 * at the parent's pidfd every PARENT_CHECK seconds and leaves once it is
 * readable (the parent is gone, whoever else holds the pidfd). */

#define PARENT_CHECK 0.5

/* 1 when the process behind pidfd `fd` has exited. */
static int parent_gone(int fd)
{
    struct pollfd p = {fd, POLLIN, 0};
    return poll(&p, 1, 0) > 0;
}

/* Post run()'s answer, (msg, tasks it held), on the result ring, waiting
 * for room: 0 (*count set), 1 (the parent is gone) or -1. */
static int post(ChannelObject *results, int parent_fd, PyObject *out, long long *count)
{
    if (!PyTuple_Check(out) || PyTuple_GET_SIZE(out) != 2) {
        PyErr_SetString(PyExc_TypeError, "run() must return (message, int)");
        return -1;
    }
    *count = PyLong_AsLongLong(PyTuple_GET_ITEM(out, 1));
    if (*count == -1 && PyErr_Occurred())
        return -1;
    cmp_encoded e;
    if (cmp_encode(PyTuple_GET_ITEM(out, 0), &e) < 0)
        return -1;
    cmp_ring *r = RING(results);
    int rc;
    for (;;) {
        cmp_deadline d = cmp_deadline_after(PARENT_CHECK);
        rc = cmp_ring_write(r, &results->fds, e.p, e.len, e.tag, 1, &d);
        if (rc != 1)
            break;
        if (parent_gone(parent_fd))
            break;
    }
    Py_XDECREF(e.owner);
    return rc;
}

static const char *const serve_names[] = {"tasks", "results", "parent_fd", "maxtasks", "run"};

static PyObject *pool_serve(PyObject *module, PyObject *const *args, Py_ssize_t nargs,
                            PyObject *kwnames)
{
    (void)module;
    PyObject *a[5] = {NULL, NULL, NULL, NULL, NULL};
    if (cmp_parse_args("_pool_serve", args, nargs, kwnames, serve_names, 5, 5, a) < 0)
        return NULL;
    cmp_ring *tasks = open_ring("_pool_serve", a[0]);
    if (!tasks || !open_ring("_pool_serve", a[1]))
        return NULL;
    int parent_fd = PyObject_AsFileDescriptor(a[2]);
    if (parent_fd < 0)
        return NULL;
    long long maxtasks = -1;
    if (a[3] != Py_None && (maxtasks = PyLong_AsLongLong(a[3])) == -1 && PyErr_Occurred())
        return NULL;
    ChannelObject *tc = CHANNEL(a[0]), *rc_ = CHANNEL(a[1]);
    PyObject *run = a[4];
    long long completed = 0;
    while (maxtasks < 0 || completed < maxtasks) {
        cmp_ring_rec rec;
        if (cmp_ring_take_now(tasks, &rec) != 0) {
            cmp_deadline d = cmp_deadline_after(PARENT_CHECK);
            int rc = cmp_wait(cmp_ring_wait_data, tasks, &d);
            if (rc < 0)
                return NULL;
            if (rc == ETIMEDOUT && parent_gone(parent_fd))
                Py_RETURN_TRUE;
            continue;
        }
        int stop = (rec.tag & CHANNEL_STOP) != 0;
        PyObject *msg = cmp_ring_read(tasks, &tc->fds, &rec, 0);
        if (!msg)
            return NULL;
        if (stop) {
            Py_DECREF(msg);
            break;
        }
        PyObject *out = PyObject_CallOneArg(run, msg);
        Py_DECREF(msg);
        if (!out)
            return NULL;
        long long count = 0;
        int rc = post(rc_, parent_fd, out, &count);
        Py_DECREF(out);
        if (rc < 0)
            return NULL;
        if (rc > 0)
            Py_RETURN_TRUE;
        completed += count;
    }
    Py_RETURN_FALSE;
}

/* ---- the parent's spin ----------------------------------------------------- */

static int rings_have_data(cmp_ring **rings, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++)
        if (cmp_ring_has_data(rings[i]))
            return 1;
    return 0;
}

/* Spin until one of the rings holds a message or `d` passes: 1 when one
 * does.  When every ring's worker last posted from our CPU, spinning
 * would only keep it from running (a worker that yielded the CPU to us
 * when it found no task, spin.h, stays runnable behind us until we
 * sleep): yield the CPU once instead, as the cores' waits do. */
static int rings_spin(cmp_ring **rings, Py_ssize_t n, const cmp_deadline *d)
{
    int elsewhere = 0;
    for (Py_ssize_t i = 0; i < n && !elsewhere; i++)
        elsewhere = cmp_ring_producer_elsewhere(rings[i]);
    if (!elsewhere) {
        if (rings_have_data(rings, n))
            return 1;
        sched_yield();
        return rings_have_data(rings, n);
    }
    for (unsigned spins = 0;; spins++) {
        if (rings_have_data(rings, n))
            return 1;
        if ((spins & 63) == 63 && cmp_deadline_passed(d))
            return 0;
        cmp_cpu_relax();
    }
}

static PyObject *pool_spin(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    enum { MAX_RINGS = 256 };
    PyObject *a[2] = {NULL, NULL};
    static const char *const names[] = {"channels", "seconds"};
    if (cmp_parse_args("_pool_spin", args, nargs, NULL, names, 2, 2, a) < 0)
        return NULL;
    if (!PyTuple_Check(a[0])) {
        PyErr_Format(PyExc_TypeError, "_pool_spin() needs a tuple of Channels, not %.200s",
                     Py_TYPE(a[0])->tp_name);
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(a[0]);
    if (n > MAX_RINGS)
        n = MAX_RINGS;
    cmp_ring *rings[MAX_RINGS];
    for (Py_ssize_t i = 0; i < n; i++)
        if (!(rings[i] = open_ring("_pool_spin", PyTuple_GET_ITEM(a[0], i))))
            return NULL;
    double secs = PyFloat_AsDouble(a[1]);
    if (secs == -1.0 && PyErr_Occurred())
        return NULL;
    cmp_deadline d = cmp_deadline_after(secs);
    int found = 0;
    /* The tuple holds the wrappers, and they their references. */
    Py_BEGIN_ALLOW_THREADS
    found = rings_spin(rings, n, &d);
    Py_END_ALLOW_THREADS
    return PyBool_FromLong(found);
}

/* ---- a forked worker's start ---------------------------------------------- */

static PyObject *channel_keep_only(PyObject *module, PyObject *keep)
{
    (void)module;
    if (!PyTuple_Check(keep)) {
        PyErr_Format(PyExc_TypeError, "_channel_keep_only() needs a tuple, not %.200s",
                     Py_TYPE(keep)->tp_name);
        return NULL;
    }
    uint32_t me = cmp_self_pid();
    cmp_shared *next;
    for (cmp_shared *s = cmp_shared_live_next(NULL); s; s = next) {
        next = cmp_shared_live_next(s);
        if (Py_TYPE(s) != channel_type())
            continue;
        ChannelObject *c = (ChannelObject *)s;
        int kept = 0;
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(keep) && !kept; i++)
            kept = PyTuple_GET_ITEM(keep, i) == (PyObject *)s;
        if (!kept)
            channel_close_here(c);
        else if (c->fds.pid != me)
            cmp_ring_fds_close(&c->fds);   /* reopened when needed */
    }
    Py_RETURN_NONE;
}

static PyMethodDef channel_functions[] = {
    {"_pool_serve", (PyCFunction)(void (*)(void))pool_serve, METH_FASTCALL | METH_KEYWORDS,
     "_pool_serve(tasks, results, parent_fd, maxtasks, run)\n--\n\n"
     "A pool worker's loop over its two Channels: take, run and answer tasks\n"
     "until STOP or maxtasks (None: no limit); run(msg) returns (answer,\n"
     "number of tasks).  parent_fd: a pidfd of the pool's process.  True\n"
     "when the loop ended because the parent is gone."},
    {"_pool_spin", (PyCFunction)(void (*)(void))pool_spin, METH_FASTCALL,
     "_pool_spin(channels, seconds, /)\n--\n\n"
     "Spin (the GIL released) up to `seconds` until one of the Channels (a\n"
     "tuple) holds a message: True when one does.  Spares the reader a sleep\n"
     "in poll() when a result is a few microseconds away."},
    {"_channel_keep_only", channel_keep_only, METH_O,
     "_channel_keep_only(keep, /)\n--\n\n"
     "Let go of every Channel this process holds but those in the tuple\n"
     "keep (a forked worker inherited its parent's), and forget the fds\n"
     "inherited for those kept (reopened when needed)."},
    {NULL, NULL, 0, NULL},
};

int cmp_add_channel_type(PyObject *module)
{
    cmp_register_destroy(CMP_KIND_CHANNEL, channel_destroy);
    PyObject *tp, *name;
    if (cmp_add_type(module, &channel_spec, NULL, CMP_KIND_CHANNEL, &tp) < 0 ||
        !(name = PyModule_GetNameObject(module)))
        return -1;
    /* Found by pickle where it is imported from (cmp._cmp): no Python
     * policy class names it. */
    int rc = PyObject_SetAttrString(tp, "__module__", name);
    Py_DECREF(name);
    if (rc < 0)
        return -1;
    return PyModule_AddFunctions(module, channel_functions);
}
