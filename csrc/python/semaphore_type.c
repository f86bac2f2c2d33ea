/* semaphore_type.c - placeholder until the semaphore type lands; adds nothing. */
#include "shared.h"

int cmp_add_semaphore_type(PyObject *module)
{
    (void)module;
    return 0;
}
