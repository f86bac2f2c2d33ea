/*
 * with_method.h - __enter__ and __exit__ without a method object per
 * `with`, for the lock types.
 *
 * `with lock:` looks __enter__ and __exit__ up on the type and binds both
 * to the lock.  Ordinary C methods would allocate, track and free two
 * method objects per `with`, about a third of what
 * `with v.get_lock(): v.value += 1` costs.  So these two are descriptors
 * of a type of their own (with_method.c), whose bound objects come from a
 * small free list.  A bound one holds a reference to its lock, like a
 * bound method, and looks like a built-in method to introspection
 * (__self__, __name__, __text_signature__, repr, pickling, equality).
 */
#ifndef CMP_WITH_METHOD_H
#define CMP_WITH_METHOD_H

#include "spine.h"

typedef PyObject *(*cmp_with_fn)(PyObject *self, PyObject *const *args, Py_ssize_t nargs);

typedef struct {
    const char *name;
    const char *signature;      /* __text_signature__ */
    const char *doc;
    cmp_with_fn fn;
} cmp_with_def;

/* Put __enter__ and __exit__ on the type `tp`.  0 or -1. */
int cmp_add_with_methods(PyObject *tp, const cmp_with_def *enter,
                         const cmp_with_def *exit);

#endif /* CMP_WITH_METHOD_H */
