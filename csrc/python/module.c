/*
 * module.c - the _cmp extension module: multi-phase init that adds each
 * primitive's type and the arena functions.  The arena is process-wide by
 * nature (every process of the tree maps it), so it is a C global, not
 * module state; cmp/_core.py creates or joins it right after this import
 * (_arena_init).  So are the objects the bindings cache (cmp_state,
 * spine.h), filled first; each type then registers with cmp_add_type.
 */
#include "shared.h"

static int cmp_exec(PyObject *m)
{
    if (cmp_state_init(m) < 0 ||
        cmp_init_shared(m) < 0 ||
        cmp_add_lock_types(m) < 0 ||
        cmp_add_semaphore_type(m) < 0 ||
        cmp_add_event_type(m) < 0 ||
        cmp_add_condition_type(m) < 0 ||
        cmp_add_barrier_type(m) < 0 ||
        cmp_add_buffer_type(m) < 0 ||
        cmp_add_queue_types(m) < 0 ||
        cmp_add_pool_types(m) < 0 ||
        cmp_add_channel_type(m) < 0 ||
        cmp_add_dict_type(m) < 0)
        return -1;
    return 0;
}

static PyModuleDef_Slot cmp_slots[] = {
    {Py_mod_exec, cmp_exec},
#if PY_VERSION_HEX >= 0x030C0000
    {Py_mod_multiple_interpreters, Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED},
#endif
    {0, NULL},
};

static struct PyModuleDef cmp_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_cmp",
    .m_doc = "cmp's C core: the shared arena and the primitives living in it.",
    .m_size = 0,
    .m_slots = cmp_slots,
};

PyMODINIT_FUNC PyInit__cmp(void)
{
    return PyModuleDef_Init(&cmp_module);
}
