/* queue_type.c - placeholder until the queue type lands; adds nothing. */
#include "shared.h"

int cmp_add_queue_types(PyObject *module)
{
    (void)module;
    return 0;
}
