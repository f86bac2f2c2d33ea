/* condition_type.c - placeholder until the condition type lands; adds nothing. */
#include "shared.h"

int cmp_add_condition_type(PyObject *module)
{
    (void)module;
    return 0;
}
