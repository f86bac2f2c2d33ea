/* event_type.c - placeholder until the event type lands; adds nothing. */
#include "shared.h"

int cmp_add_event_type(PyObject *module)
{
    (void)module;
    return 0;
}
