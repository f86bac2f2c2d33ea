/*
 * pool_type.c - the C helpers of cmp's Pool (cmp/pool.py).
 *
 * _pool_set_pdeathsig(sig) asks the kernel to send `sig` to this process
 * when the thread that forked it ends (prctl PR_SET_PDEATHSIG).  A pool
 * worker calls it first thing, so that a parent killed by SIGKILL does not
 * leave its workers behind; cmp/pool.py forks workers from the pool's
 * handler thread, which lives as long as the pool.
 */
#include "shared.h"

#include <signal.h>
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

static PyMethodDef pool_functions[] = {
    {"_pool_set_pdeathsig", pool_set_pdeathsig, METH_O, pool_set_pdeathsig_doc},
    {NULL, NULL, 0, NULL},
};

int cmp_add_pool_types(PyObject *module)
{
    return PyModule_AddFunctions(module, pool_functions);
}
