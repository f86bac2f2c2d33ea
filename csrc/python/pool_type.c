/*
 * pool_type.c - the C helpers of cmp's Pool (cmp/pool.py) beside its
 * transport (_cmp.Channel, channel_type.c).
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
 * loop" in channel_type.c for the check that covers every start method.
 */
#include "shared.h"

#include <signal.h>
#include <string.h>
#include <sys/prctl.h>

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
