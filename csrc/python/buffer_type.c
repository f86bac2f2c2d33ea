/* buffer_type.c - placeholder until the buffer type lands; adds nothing. */
#include "shared.h"

int cmp_add_buffer_type(PyObject *module)
{
    (void)module;
    return 0;
}
