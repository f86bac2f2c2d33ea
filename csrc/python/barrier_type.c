/* barrier_type.c - placeholder until the barrier type lands; adds nothing. */
#include "shared.h"

int cmp_add_barrier_type(PyObject *module)
{
    (void)module;
    return 0;
}
