/*
 * pool_type.c - the C helpers of cmp's Pool (cmp/pool.py).
 *
 * _pool_worker_loop(task_fd, result_fd, maxtasks, run) is a worker's loop:
 * take the next message (csrc/pool_worker.c, the GIL released while it
 * waits), hand it to run(payload) -> (result bytes, tasks it held), post
 * the result, until the STOP message, end of file or `maxtasks` tasks.
 * Unpickling, running and pickling stay in Python (`run`).
 *
 * _pool_set_pdeathsig(sig) asks the kernel to send `sig` to this process
 * when the thread that forked it ends (prctl PR_SET_PDEATHSIG).  A pool
 * worker calls it first thing, so that a parent killed by SIGKILL does not
 * leave its workers behind; cmp/pool.py forks workers from the pool's
 * handler thread, which lives as long as the pool.
 */
#include "shared.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <sys/prctl.h>

#include "../pool_worker.h"

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

PyDoc_STRVAR(pool_worker_loop_doc,
"_pool_worker_loop(task_fd, result_fd, maxtasks, run, /)\n--\n\n"
"Take, run and answer tasks until STOP, end of file or maxtasks (None:\n"
"no limit); run(payload) returns (result bytes, number of tasks).");

static int as_fd(PyObject *o)
{
    long v = PyLong_AsLong(o);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (v < 0 || v > INT_MAX) {
        PyErr_SetString(PyExc_ValueError, "bad file descriptor");
        return -1;
    }
    return (int)v;
}

static int frame_error(int rc)
{
    errno = rc == -EPROTO ? EPROTO : -rc;
    PyErr_SetFromErrno(PyExc_OSError);
    return -1;
}

/* Post one result: (bytes, count) -> 0 with *count set, or -1. */
static int post_result(int fd, PyObject *out, long long *count)
{
    if (!PyTuple_Check(out) || PyTuple_GET_SIZE(out) != 2 ||
        !PyBytes_Check(PyTuple_GET_ITEM(out, 0))) {
        PyErr_SetString(PyExc_TypeError, "run() must return (bytes, int)");
        return -1;
    }
    *count = PyLong_AsLongLong(PyTuple_GET_ITEM(out, 1));
    if (*count == -1 && PyErr_Occurred())
        return -1;
    PyObject *data = PyTuple_GET_ITEM(out, 0);
    const char *p = PyBytes_AS_STRING(data);
    uint64_t n = (uint64_t)PyBytes_GET_SIZE(data);
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = cmp_frame_write(fd, p, n);
    Py_END_ALLOW_THREADS
    return rc < 0 ? frame_error(rc) : 0;
}

static PyObject *pool_worker_loop(PyObject *module, PyObject *const *args,
                                  Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "_pool_worker_loop() takes 4 arguments");
        return NULL;
    }
    int task_fd = as_fd(args[0]);
    if (task_fd < 0)
        return NULL;
    int result_fd = as_fd(args[1]);
    if (result_fd < 0)
        return NULL;
    long long maxtasks = -1;            /* no limit */
    if (args[2] != Py_None) {
        maxtasks = PyLong_AsLongLong(args[2]);
        if (maxtasks == -1 && PyErr_Occurred())
            return NULL;
    }
    PyObject *run = args[3];
    cmp_frame_reader r;
    cmp_frame_reader_init(&r, task_fd);
    long long completed = 0;
    while (maxtasks < 0 || completed < maxtasks) {
        const char *msg = NULL;
        uint64_t len = 0;
        int rc;
        Py_BEGIN_ALLOW_THREADS
        rc = cmp_frame_next(&r, &msg, &len);
        Py_END_ALLOW_THREADS
        if (rc == -EINTR) {
            if (PyErr_CheckSignals() < 0)
                goto error;
            continue;
        }
        if (rc < 0) {
            frame_error(rc);
            goto error;
        }
        if (rc == CMP_FRAME_EOF || len == 0)
            break;
        PyObject *payload = PyBytes_FromStringAndSize(msg, (Py_ssize_t)len);
        if (payload == NULL)
            goto error;
        PyObject *out = PyObject_CallOneArg(run, payload);
        Py_DECREF(payload);
        if (out == NULL)
            goto error;
        long long count = 0;
        rc = post_result(result_fd, out, &count);
        Py_DECREF(out);
        if (rc < 0)
            goto error;
        completed += count;
    }
    cmp_frame_reader_free(&r);
    Py_RETURN_NONE;
error:
    cmp_frame_reader_free(&r);
    return NULL;
}

static PyMethodDef pool_functions[] = {
    {"_pool_worker_loop", (PyCFunction)(void (*)(void))pool_worker_loop, METH_FASTCALL,
     pool_worker_loop_doc},
    {"_pool_set_pdeathsig", pool_set_pdeathsig, METH_O, pool_set_pdeathsig_doc},
    {NULL, NULL, 0, NULL},
};

int cmp_add_pool_types(PyObject *module)
{
    return PyModule_AddFunctions(module, pool_functions);
}
