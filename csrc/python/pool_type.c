/* pool_type.c - placeholder until the pool type lands; adds nothing. */
#include "shared.h"

int cmp_add_pool_types(PyObject *module)
{
    (void)module;
    return 0;
}
