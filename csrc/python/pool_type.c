/*
 * pool_type.c - the C helpers of cmp's Pool (cmp/pool.py).
 *
 * _pool_ring_worker_loop(task_ring, result_ring, maxtasks, run) is a
 * worker's loop over its two rings (see "the ring channel" below): take the
 * next message (the GIL released while it waits), hand it to run(payload)
 * -> (result bytes, tasks it held), post the result, until the STOP message
 * or `maxtasks` tasks.  Unpickling, running and pickling stay in Python
 * (`run`).  _pool_ring_new/_free/_put/_steal/_taken/_take_all/_spin are
 * the parent's end.
 *
 * _pool_pack/_pool_unpack give a map chunk's list of plain numbers a
 * compact form (see "packed chunk results").
 *
 * _pool_set_pdeathsig(sig) asks the kernel to send `sig` to this process
 * when the thread that forked it ends (prctl PR_SET_PDEATHSIG).  A pool
 * worker calls it first thing, so that a parent killed by SIGKILL does not
 * leave its workers behind; cmp/pool.py starts workers from the main thread
 * or from the pool's handler thread, which live as long as the process and
 * the pool.  A forkserver's child is the forkserver's: see "the worker's
 * loop" for the check that covers every start method.
 */
#include "shared.h"
#include "ring_wait.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <poll.h>
#include <sched.h>
#include <sys/prctl.h>

#include "../ring.h"

PyDoc_STRVAR(pool_set_pdeathsig_doc,
"_pool_set_pdeathsig(sig, /)\n--\n\n"
"Deliver `sig` to this process when the thread that forked it ends.");

static PyObject *pool_set_pdeathsig(PyObject *module, PyObject *arg)
{
    (void)module;
    long sig = PyLong_AsLong(arg);
    if (sig == -1 && PyErr_Occurred())
        return NULL;
    if (sig < 0 || sig >= NSIG) {
        PyErr_Format(PyExc_ValueError, "signal number out of range: %ld", sig);
        return NULL;
    }
    if (prctl(PR_SET_PDEATHSIG, (unsigned long)sig, 0UL, 0UL, 0UL) != 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    Py_RETURN_NONE;
}

/* What run() returned, (bytes, count) -> the bytes (borrowed) with *count
 * set, or NULL. */
static PyObject *result_bytes(PyObject *out, long long *count)
{
    if (!PyTuple_Check(out) || PyTuple_GET_SIZE(out) != 2 ||
        !PyBytes_Check(PyTuple_GET_ITEM(out, 0))) {
        PyErr_SetString(PyExc_TypeError, "run() must return (bytes, int)");
        return NULL;
    }
    *count = PyLong_AsLongLong(PyTuple_GET_ITEM(out, 1));
    if (*count == -1 && PyErr_Occurred())
        return NULL;
    return PyTuple_GET_ITEM(out, 0);
}

/* The loops' maxtasks argument: None -> -1 (no limit). */
static int as_maxtasks(PyObject *o, long long *maxtasks)
{
    *maxtasks = -1;
    if (o == Py_None)
        return 0;
    *maxtasks = PyLong_AsLongLong(o);
    return *maxtasks == -1 && PyErr_Occurred() ? -1 : 0;
}

/* ---- the ring channel ----------------------------------------------------
 *
 * Each worker has two rings (csrc/ring.h), each in a plain arena block
 * (cmp_alloc, not a shared object: a forked child takes no reference, so a
 * worker killed by a signal keeps nothing alive) that the parent frees once
 * the worker is dead; Python names a ring by its offset.
 *
 *   task ring    the parent produces (never waits: a full ring makes
 *                _pool_ring_put return False and the parent retries after
 *                the next result), the worker consumes (futex wait)
 *   result ring  the worker produces (waits for room), the parent consumes;
 *                created with a pipe (rfd, wfd) and poll interest, so rfd
 *                is readable while the ring holds a result
 *                (csrc/selectable.h), which the handler polls
 *
 * A record is one message: tag RTAG_MSG a pickle, tag RTAG_STOP the STOP
 * message.  Payloads above an eighth of the ring go out of line in an
 * arena block. */

#define RTAG_MSG 1u
#define RTAG_STOP 2u

static PyObject *arena_full(void)
{
    PyErr_SetString(PyExc_MemoryError,
                    "cmp's shared arena is full (set CMP_ARENA_SIZE "
                    "to reserve more before importing cmp)");
    return NULL;
}

/* The ring at arena offset `o` (from _pool_ring_new), or NULL. */
static cmp_ring *ring_of(PyObject *module, PyObject *o)
{
    (void)module;
    unsigned long long off = PyLong_AsUnsignedLongLong(o);
    if (off == (unsigned long long)-1 && PyErr_Occurred())
        return NULL;
    if (off == 0) {
        PyErr_SetString(PyExc_ValueError, "not a pool ring");
        return NULL;
    }
    return (cmp_ring *)cmp_ptr(cmp_the_arena, off);
}

PyDoc_STRVAR(pool_ring_new_doc,
"_pool_ring_new(slots, rfd=-1, wfd=-1, /)\n--\n\n"
"A ring of `slots` cells in a plain arena block (no shared reference for a\n"
"forked child to take, so a killed worker leaks nothing): its offset.\n"
"With a pipe's fds, the ring makes rfd readable while it holds a message.");

static PyObject *pool_ring_new(PyObject *module, PyObject *const *args,
                               Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 1 && nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "_pool_ring_new(slots, rfd=-1, wfd=-1)");
        return NULL;
    }
    long slots = PyLong_AsLong(args[0]);
    if (slots == -1 && PyErr_Occurred())
        return NULL;
    long rfd = -1, wfd = -1;
    if (nargs == 3) {
        rfd = PyLong_AsLong(args[1]);
        wfd = PyLong_AsLong(args[2]);
        if ((rfd == -1 || wfd == -1) && PyErr_Occurred())
            return NULL;
    }
    uint32_t n = cmp_ring_slots(slots > 0 ? (uint64_t)slots : CMP_RING_MIN_SLOTS);
    uint64_t size = cmp_ring_size(n);
    int err = 0;
    uint64_t off = cmp_alloc(cmp_the_arena, size, &err);
    if (!off)
        return arena_full();
    cmp_ring *r = cmp_ptr(cmp_the_arena, off);
    memset(r, 0, size);
    cmp_ring_init(r, n, CMP_RING_UNBOUNDED);
    cmp_sel_init(&r->sel, (int)rfd, (int)wfd, 0);
    if (rfd >= 0 && wfd >= 0)
        cmp_ring_poll_interest(r, (int)wfd);
    return PyLong_FromUnsignedLongLong(off);
}

PyDoc_STRVAR(pool_ring_free_doc,
"_pool_ring_free(ring, /)\n--\n\n"
"Free a ring from _pool_ring_new, and the messages left in it; only once\n"
"the worker that used it is dead.");

static PyObject *pool_ring_free(PyObject *module, PyObject *arg)
{
    cmp_ring *r = ring_of(module, arg);
    if (r == NULL)
        return NULL;
    cmp_ring_rec rec;
    for (;;) {
        int got = cmp_ring_try_take(r, &rec);
        if (got == EBUSY) {
            /* A record its dead writer never finished: drop it. */
            /* Relaxed: the worker is dead; nobody else moves head. */
            uint64_t head = __atomic_load_n(&r->head, __ATOMIC_RELAXED);
            cmp_ring_reap_dead_writer(r);
            if (__atomic_load_n(&r->head, __ATOMIC_RELAXED) == head &&
                cmp_ring_try_take(r, &rec) != 0)
                break;
            continue;
        }
        if (got != 0)
            break;
        if (rec.oob)
            cmp_free(cmp_the_arena, rec.oob);
        cmp_ring_release(r, &rec);
    }
    cmp_free(cmp_the_arena, PyLong_AsUnsignedLongLong(arg));
    Py_RETURN_NONE;
}

static uint32_t inline_limit(const cmp_ring *r)
{
    uint64_t limit = (uint64_t)r->nslots * CMP_RING_CELL / 8;
    return limit > CMP_RING_INLINE_MAX ? CMP_RING_INLINE_MAX : (uint32_t)limit;
}

/* Publish one message: 0, EAGAIN (no room), ENOMEM (arena full).  *pos:
 * where it went, when the caller is the ring's only producer.  wfd: the
 * ring's wake-up pipe as this process knows it (a spawned worker's number
 * is not the parent's), or -1 for a ring nobody polls. */
static int ring_put_at(cmp_ring *r, const char *p, uint32_t len, uint32_t tag,
                       int wfd, uint64_t *pos)
{
    uint64_t oob = 0;
    /* A sole producer's record starts where tail is now. */
    *pos = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
    if (len > inline_limit(r)) {
        int err = 0;
        oob = cmp_alloc(cmp_the_arena, len, &err);
        if (!oob)
            return ENOMEM;
        memcpy(cmp_ptr(cmp_the_arena, oob), p, len);
    }
    if (cmp_ring_try_put(r, p, len, oob, tag) != 0) {
        if (oob)
            cmp_free(cmp_the_arena, oob);
        return EAGAIN;
    }
    /* cmp_sel_wanted is relaxed: the put's notify fenced (selectable.h). */
    if (cmp_sel_wanted(&r->sel))
        cmp_ring_poll_after_put(r, wfd);
    return 0;
}


PyDoc_STRVAR(pool_ring_put_doc,
"_pool_ring_put(ring, payload, stop=False, /)\n--\n\n"
"Publish one message without waiting: its position in the ring (the\n"
"caller is the ring's only producer), or None when the ring is full.");

static PyObject *pool_ring_put(PyObject *module, PyObject *const *args,
                               Py_ssize_t nargs)
{
    if (nargs < 2 || nargs > 3 || !PyBytes_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "_pool_ring_put(ring, bytes, stop=False)");
        return NULL;
    }
    cmp_ring *r = ring_of(module, args[0]);
    if (r == NULL)
        return NULL;
    int stop = nargs == 3 ? PyObject_IsTrue(args[2]) : 0;
    if (stop < 0)
        return NULL;
    Py_ssize_t n = PyBytes_GET_SIZE(args[1]);
    if (n > (Py_ssize_t)UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "task too large for a cmp pool (4 GiB)");
        return NULL;
    }
    uint64_t pos = 0;
    int rc = ring_put_at(r, PyBytes_AS_STRING(args[1]), (uint32_t)n,
                         stop ? RTAG_STOP : RTAG_MSG, -1, &pos);
    if (rc == ENOMEM)
        return arena_full();
    if (rc != 0)
        Py_RETURN_NONE;
    return PyLong_FromUnsignedLongLong(pos);
}

/* Take one record as bytes: 1 taken (*out set), 0 none, -1 error. */
static int ring_take_at(cmp_ring *r, PyObject **out, uint32_t *tag, uint64_t *pos)
{
    cmp_ring_rec rec;
    int got = cmp_ring_try_take(r, &rec);
    if (got == EBUSY) {
        cmp_ring_reap_dead_writer(r);
        got = cmp_ring_try_take(r, &rec);
    }
    if (got != 0)
        return 0;
    *tag = rec.tag;
    *pos = rec.pos;
    PyObject *b;
    if (rec.oob) {
        cmp_ring_release(r, &rec);
        b = PyBytes_FromStringAndSize(cmp_ptr(cmp_the_arena, rec.oob), rec.len);
        cmp_free(cmp_the_arena, rec.oob);
    } else {
        b = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)rec.len);
        if (b) {
            memcpy(PyBytes_AS_STRING(b), rec.p1, rec.n1);
            if (rec.n2)
                memcpy(PyBytes_AS_STRING(b) + rec.n1, rec.p2, rec.n2);
        }
        cmp_ring_release(r, &rec);
    }
    if (b == NULL)
        return -1;
    *out = b;
    return 1;
}

static int ring_take(cmp_ring *r, PyObject **out, uint32_t *tag)
{
    uint64_t pos;
    return ring_take_at(r, out, tag, &pos);
}

PyDoc_STRVAR(pool_ring_steal_doc,
"_pool_ring_steal(ring, /)\n--\n\n"
"Take the oldest message a worker has not taken yet from its task ring:\n"
"(position, payload), or None when there is none.");

static PyObject *pool_ring_steal(PyObject *module, PyObject *arg)
{
    cmp_ring *r = ring_of(module, arg);
    if (r == NULL)
        return NULL;
    PyObject *b = NULL;
    uint32_t tag = 0;
    uint64_t pos = 0;
    int rc = ring_take_at(r, &b, &tag, &pos);
    if (rc < 0)
        return NULL;
    if (rc == 0)
        Py_RETURN_NONE;
    return Py_BuildValue("KN", (unsigned long long)pos, b);
}

PyDoc_STRVAR(pool_ring_taken_doc,
"_pool_ring_taken(ring, position, /)\n--\n\n"
"Has a consumer taken the message put at `position` (from _pool_ring_put)?");

static PyObject *pool_ring_taken(PyObject *module, PyObject *const *args,
                                 Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "_pool_ring_taken(ring, position)");
        return NULL;
    }
    cmp_ring *r = ring_of(module, args[0]);
    if (r == NULL)
        return NULL;
    unsigned long long pos = PyLong_AsUnsignedLongLong(args[1]);
    if (pos == (unsigned long long)-1 && PyErr_Occurred())
        return NULL;
    /* Acquire: pairs with the consumer's claim, which moves head past the
     * record before it copies it out. */
    return PyBool_FromLong(__atomic_load_n(&r->head, __ATOMIC_ACQUIRE) > pos);
}

PyDoc_STRVAR(pool_ring_take_all_doc,
"_pool_ring_take_all(ring, out, /)\n--\n\n"
"Append every message now in the ring to list `out`.");

static PyObject *pool_ring_take_all(PyObject *module, PyObject *const *args,
                                    Py_ssize_t nargs)
{
    if (nargs != 2 || !PyList_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "_pool_ring_take_all(ring, list)");
        return NULL;
    }
    cmp_ring *r = ring_of(module, args[0]);
    if (r == NULL)
        return NULL;
    for (;;) {
        PyObject *b = NULL;
        uint32_t tag = 0;
        int rc = ring_take(r, &b, &tag);
        if (rc < 0)
            return NULL;
        if (rc == 0)
            break;
        rc = PyList_Append(args[1], b);
        Py_DECREF(b);
        if (rc < 0)
            return NULL;
    }
    cmp_ring_poll_after_take(r, r->sel.rfd);
    Py_RETURN_NONE;
}


/* ---- the worker's loop --------------------------------------------------
 *
 * A worker is started by any start method, so what it knows of its parent
 * travels as arguments: the rings as arena offsets (valid in every process
 * that joined the arena), the result ring's wake-up pipe as the worker's
 * own fd, and a pidfd of the pool's process.  PR_SET_PDEATHSIG (set first
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

/* Wait as cmp_wait does, PARENT_CHECK at a time: 0 (woken), 1 (the parent
 * is gone), -1 (a signal handler raised). */
static int worker_wait(cmp_wait_fn fn, void *arg, int parent_fd)
{
    cmp_deadline d = cmp_deadline_after(PARENT_CHECK);
    int rc = cmp_wait(fn, arg, &d);
    if (rc < 0)
        return -1;
    if (rc == ETIMEDOUT && parent_gone(parent_fd))
        return 1;
    return 0;
}

/* Post one result on the result ring, waiting for room: 0, 1 (the parent
 * is gone) or -1. */
static int ring_post(cmp_ring *r, int wfd, int parent_fd, PyObject *out,
                     long long *count)
{
    PyObject *data = result_bytes(out, count);
    if (data == NULL)
        return -1;
    Py_ssize_t n = PyBytes_GET_SIZE(data);
    if (n > (Py_ssize_t)UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "result too large for a cmp pool (4 GiB)");
        return -1;
    }
    uint32_t len = (uint32_t)n;
    for (;;) {
        uint64_t pos;
        int rc = ring_put_at(r, PyBytes_AS_STRING(data), len, RTAG_MSG, wfd, &pos);
        if (rc == 0)
            return 0;
        if (rc == ENOMEM) {
            arena_full();
            return -1;
        }
        uint32_t lim = inline_limit(r);
        cmp_ring_space_arg a = {r, len > lim ? 16u : len};
        rc = worker_wait(cmp_ring_wait_space, &a, parent_fd);
        if (rc != 0)
            return rc;
    }
}

PyDoc_STRVAR(pool_ring_worker_loop_doc,
"_pool_ring_worker_loop(task_ring, result_ring, wake_fd, parent_fd, maxtasks, run, /)\n--\n\n"
"Take, run and answer tasks until STOP or maxtasks (None: no limit);\n"
"run(payload) returns (result bytes, number of tasks).  wake_fd: the\n"
"write end of the result ring's pipe; parent_fd: a pidfd of the pool's\n"
"process.  True when the loop ended because the parent is gone.");

static PyObject *pool_ring_worker_loop(PyObject *module, PyObject *const *args,
                                       Py_ssize_t nargs)
{
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "_pool_ring_worker_loop() takes 6 arguments");
        return NULL;
    }
    cmp_ring *tasks = ring_of(module, args[0]);
    if (tasks == NULL)
        return NULL;
    cmp_ring *results = ring_of(module, args[1]);
    if (results == NULL)
        return NULL;
    int wfd = PyObject_AsFileDescriptor(args[2]);
    if (wfd < 0)
        return NULL;
    int parent_fd = PyObject_AsFileDescriptor(args[3]);
    if (parent_fd < 0)
        return NULL;
    long long maxtasks;
    if (as_maxtasks(args[4], &maxtasks) < 0)
        return NULL;
    PyObject *run = args[5];
    long long completed = 0;
    while (maxtasks < 0 || completed < maxtasks) {
        PyObject *payload = NULL;
        uint32_t tag = 0;
        int rc = ring_take(tasks, &payload, &tag);
        if (rc < 0)
            return NULL;
        if (rc == 0) {
            rc = worker_wait(cmp_ring_wait_data, tasks, parent_fd);
            if (rc < 0)
                return NULL;
            if (rc > 0)
                Py_RETURN_TRUE;
            continue;
        }
        if (tag == RTAG_STOP) {
            Py_DECREF(payload);
            break;
        }
        PyObject *out = PyObject_CallOneArg(run, payload);
        Py_DECREF(payload);
        if (out == NULL)
            return NULL;
        long long count = 0;
        rc = ring_post(results, wfd, parent_fd, out, &count);
        Py_DECREF(out);
        if (rc < 0)
            return NULL;
        if (rc > 0)
            Py_RETURN_TRUE;
        completed += count;
    }
    Py_RETURN_FALSE;
}

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

PyDoc_STRVAR(pool_ring_spin_doc,
"_pool_ring_spin(rings, seconds, /)\n--\n\n"
"Spin (the GIL released) up to `seconds` until one of the rings holds a\n"
"message: True when one does.  Spares the reader a sleep in poll() when\n"
"a result is a few microseconds away.");

static PyObject *pool_ring_spin(PyObject *module, PyObject *const *args,
                                Py_ssize_t nargs)
{
    enum { MAX_RINGS = 256 };
    if (nargs != 2 || !PyTuple_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "_pool_ring_spin(tuple of rings, seconds)");
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(args[0]);
    if (n > MAX_RINGS)
        n = MAX_RINGS;
    cmp_ring *rings[MAX_RINGS];
    for (Py_ssize_t i = 0; i < n; i++) {
        rings[i] = ring_of(module, PyTuple_GET_ITEM(args[0], i));
        if (rings[i] == NULL)
            return NULL;
    }
    double secs = PyFloat_AsDouble(args[1]);
    if (secs == -1.0 && PyErr_Occurred())
        return NULL;
    cmp_deadline d = cmp_deadline_after(secs);
    int found = 0;
    Py_BEGIN_ALLOW_THREADS
    found = rings_spin(rings, n, &d);
    Py_END_ALLOW_THREADS
    return PyBool_FromLong(found);
}

/* ---- packed chunk results ------------------------------------------------
 *
 * A map chunk's result list whose items are all exact ints that fit in 64
 * bits, or all exact floats, travels as one tag byte ('i' or 'f') and then
 * the items' 8-byte native values: far cheaper to write and read back than
 * a pickle (parent and workers are the same machine and the same build).
 * The list read back holds objects of the same types and values. */

#define PACK_MIN 16

PyDoc_STRVAR(pool_pack_doc,
"_pool_pack(list, /)\n--\n\n"
"The packed form of a list of exact ints (64-bit) or exact floats: bytes,\n"
"or None when the list is short (under 16) or holds anything else.");

static PyObject *pool_pack(PyObject *module, PyObject *arg)
{
    (void)module;
    /* A short list pickles about as fast, and costs the reader less. */
    if (!PyList_CheckExact(arg) || PyList_GET_SIZE(arg) < PACK_MIN)
        Py_RETURN_NONE;
    Py_ssize_t n = PyList_GET_SIZE(arg);
    PyTypeObject *t = Py_TYPE(PyList_GET_ITEM(arg, 0));
    if (t != &PyLong_Type && t != &PyFloat_Type)
        Py_RETURN_NONE;
    if (n > (PY_SSIZE_T_MAX - 1) / 8)
        Py_RETURN_NONE;
    PyObject *out = PyBytes_FromStringAndSize(NULL, 1 + 8 * n);
    if (out == NULL)
        return NULL;
    char *p = PyBytes_AS_STRING(out);
    *p++ = t == &PyLong_Type ? 'i' : 'f';
    for (Py_ssize_t i = 0; i < n; i++, p += 8) {
        PyObject *o = PyList_GET_ITEM(arg, i);
        if (Py_TYPE(o) != t)
            goto plain;
        if (t == &PyFloat_Type) {
            double v = PyFloat_AS_DOUBLE(o);
            memcpy(p, &v, 8);
        } else {
            int overflow = 0;
            long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
            if (overflow)
                goto plain;
            memcpy(p, &v, 8);
        }
    }
    return out;
plain:
    Py_DECREF(out);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(pool_unpack_doc,
"_pool_unpack(data, offset, /)\n--\n\n"
"The list that _pool_pack packed into data[offset:].");

static PyObject *pool_unpack(PyObject *module, PyObject *const *args,
                             Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "_pool_unpack(data, offset)");
        return NULL;
    }
    Py_ssize_t off = PyLong_AsSsize_t(args[1]);
    if (off == -1 && PyErr_Occurred())
        return NULL;
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0)
        return NULL;
    PyObject *list = NULL;
    if (off < 0 || off >= view.len) {
        PyErr_SetString(PyExc_ValueError, "not a packed pool result");
        goto done;
    }
    const char *p = (const char *)view.buf + off;
    Py_ssize_t left = view.len - off;
    if ((p[0] != 'i' && p[0] != 'f') || (left - 1) % 8) {
        PyErr_SetString(PyExc_ValueError, "not a packed pool result");
        goto done;
    }
    int floats = p[0] == 'f';
    Py_ssize_t n = (left - 1) / 8;
    p++;
    list = PyList_New(n);
    if (list == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < n; i++, p += 8) {
        PyObject *o;
        if (floats) {
            double v;
            memcpy(&v, p, 8);
            o = PyFloat_FromDouble(v);
        } else {
            long long v;
            memcpy(&v, p, 8);
            o = PyLong_FromLongLong(v);
        }
        if (o == NULL) {
            Py_CLEAR(list);
            goto done;
        }
        PyList_SET_ITEM(list, i, o);
    }
done:
    PyBuffer_Release(&view);
    return list;
}

static PyMethodDef pool_functions[] = {
    {"_pool_ring_put", (PyCFunction)(void (*)(void))pool_ring_put, METH_FASTCALL,
     pool_ring_put_doc},
    {"_pool_ring_steal", pool_ring_steal, METH_O, pool_ring_steal_doc},
    {"_pool_ring_taken", (PyCFunction)(void (*)(void))pool_ring_taken, METH_FASTCALL,
     pool_ring_taken_doc},
    {"_pool_ring_take_all", (PyCFunction)(void (*)(void))pool_ring_take_all, METH_FASTCALL,
     pool_ring_take_all_doc},
    {"_pool_ring_worker_loop", (PyCFunction)(void (*)(void))pool_ring_worker_loop,
     METH_FASTCALL, pool_ring_worker_loop_doc},
    {"_pool_ring_new", (PyCFunction)(void (*)(void))pool_ring_new, METH_FASTCALL,
     pool_ring_new_doc},
    {"_pool_ring_free", pool_ring_free, METH_O, pool_ring_free_doc},
    {"_pool_ring_spin", (PyCFunction)(void (*)(void))pool_ring_spin, METH_FASTCALL,
     pool_ring_spin_doc},
    {"_pool_pack", pool_pack, METH_O, pool_pack_doc},
    {"_pool_unpack", (PyCFunction)(void (*)(void))pool_unpack, METH_FASTCALL,
     pool_unpack_doc},
    {"_pool_set_pdeathsig", pool_set_pdeathsig, METH_O, pool_set_pdeathsig_doc},
    {NULL, NULL, 0, NULL},
};

int cmp_add_pool_types(PyObject *module)
{
    return PyModule_AddFunctions(module, pool_functions);
}
