/* shared.c - wrappers of shared objects: references, fork, pickling,
 * waiting and argument parsing for every cmp type (see shared.h). */
#include "shared.h"

#include <errno.h>

cmp_arena *cmp_the_arena;

static cmp_destroy_fn destroy_fns[CMP_KIND_COUNT];

/* The live wrappers of this process; guarded by the GIL. */
static cmp_shared live_head = {.prev = &live_head, .next = &live_head};

void cmp_register_destroy(uint32_t kind, cmp_destroy_fn fn)
{
    if (kind < CMP_KIND_COUNT)
        destroy_fns[kind] = fn;
}

static void link_live(cmp_shared *self)
{
    self->next = live_head.next;
    self->prev = &live_head;
    live_head.next->prev = self;
    live_head.next = self;
}

static void unlink_live(cmp_shared *self)
{
    if (self->next) {
        self->prev->next = self->next;
        self->next->prev = self->prev;
        self->next = self->prev = NULL;
    }
}

static void let_go(cmp_arena *a, uint64_t off, uint32_t kind)
{
    if (cmp_obj_decref(a, off)) {
        if (kind < CMP_KIND_COUNT && destroy_fns[kind])
            destroy_fns[kind](a, cmp_obj_body(a, off));
        cmp_free(a, off);
    }
}

int cmp_shared_create(cmp_shared *self, uint32_t kind, uint64_t body_size)
{
    if (self->off) {
        PyErr_SetString(PyExc_RuntimeError, "object already initialised");
        return -1;
    }
    if (cmp_arena_check() < 0)
        return -1;
    int err = 0;
    uint64_t off = cmp_obj_new(cmp_the_arena, kind, body_size, &err);
    if (!off) {
        if (err == ENOMEM)
            cmp_raise(CMP_ERR_ARENA_FULL);
        else
            cmp_raise_errno(err);
        return -1;
    }
    self->off = off;
    self->kind = kind;
    self->body = cmp_obj_body(cmp_the_arena, off);
    link_live(self);
    return 0;
}

void cmp_shared_drop(cmp_shared *self)
{
    if (!self->off)
        return;
    unlink_live(self);
    if (!self->released)
        let_go(cmp_the_arena, self->off, self->kind);
    self->off = 0;
    self->body = NULL;
}

int cmp_shared_check(cmp_shared *self)
{
    return self->body ? 0 : cmp_not_initialised((PyObject *)self);
}

void cmp_shared_dealloc(PyObject *op)
{
    PyTypeObject *tp = Py_TYPE(op);
    if (PyType_IS_GC(tp))
        PyObject_GC_UnTrack(op);
    if (((cmp_shared *)op)->weakreflist)
        PyObject_ClearWeakRefs(op);
    if (tp->tp_clear)
        tp->tp_clear(op);
    Py_CLEAR(((cmp_shared *)op)->dict);
    cmp_shared_drop((cmp_shared *)op);
    tp->tp_free(op);
    Py_DECREF(tp);
}

int cmp_shared_traverse(PyObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(((cmp_shared *)self)->dict);
    return 0;
}

int cmp_shared_clear(PyObject *self)
{
    Py_CLEAR(((cmp_shared *)self)->dict);
    return 0;
}

/* ---- pickling ---------------------------------------------------------- */

__thread int cmp_durable_handles;

static PyObject *shared_handle(PyObject *op, PyObject *unused)
{
    (void)unused;
    cmp_shared *self = (cmp_shared *)op;
    if (cmp_shared_check(self) < 0)
        return NULL;
    unsigned long long token = cmp_arena_token(cmp_the_arena), off = self->off;
    unsigned gen = cmp_block_generation(cmp_the_arena, self->off);
    if (cmp_durable_handles) {
        /* A reference kept by the stored pickle itself (shared.h). */
        cmp_obj_incref(cmp_the_arena, self->off);
        return Py_BuildValue("(KKII)", token, off, gen, 1u);
    }
    cmp_obj_transfer_out(cmp_the_arena, self->off);
    return Py_BuildValue("(KKI)", token, off, gen);
}

/* Undo an unused _handle() (pickling failed after it was taken). */
static PyObject *shared_drop_handle(PyObject *op, PyObject *unused)
{
    (void)unused;
    cmp_shared *self = (cmp_shared *)op;
    if (cmp_shared_check(self) < 0)
        return NULL;
    cmp_obj_hdr *o = cmp_obj(cmp_the_arena, self->off);
    uint32_t p = __atomic_load_n(&o->pending, __ATOMIC_ACQUIRE);
    while (p > 0) {
        if (__atomic_compare_exchange_n(&o->pending, &p, p - 1, 1,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            let_go(cmp_the_arena, self->off, self->kind);
            break;
        }
    }
    Py_RETURN_NONE;
}

static PyObject *shared_rebuild(PyObject *cls, PyObject *handle)
{
    unsigned long long token, off;
    unsigned int gen, durable = 0;
    if (!PyArg_ParseTuple(handle, "KKI|I:_rebuild", &token, &off, &gen, &durable))
        return NULL;
    if (!cmp_the_arena || token != cmp_arena_token(cmp_the_arena)) {
        PyErr_Format(PyExc_RuntimeError,
                     "this cmp %s was created in a process tree whose shared "
                     "arena this process does not share; cmp objects can be "
                     "passed to the processes that the process which created "
                     "them starts (forked, or started by cmp's spawn or "
                     "forkserver context) and to their descendants",
                     ((PyTypeObject *)cls)->tp_name);
        return NULL;
    }
    PyTypeObject *tp = (PyTypeObject *)cls;
    cmp_shared *self = (cmp_shared *)tp->tp_alloc(tp, 0);
    if (!self)
        return NULL;
    /* The kind this type holds (given when it was registered). */
    uint32_t kind = cmp_type_kind(tp);
    /* A durable handle's object lives as long as the process tree: give
     * the rebuild a transfer of its own to adopt. */
    if (durable)
        cmp_obj_transfer_out(cmp_the_arena, off);
    int r = cmp_obj_transfer_in(cmp_the_arena, off, gen, kind);
    if (r) {
        Py_DECREF(self);
        PyErr_Format(PyExc_RuntimeError,
                     r == ESTALE ? "the shared %s no longer exists (every "
                                   "process holding it let it go)"
                                 : "invalid handle for a shared %s",
                     tp->tp_name);
        return NULL;
    }
    self->off = off;
    self->kind = kind;
    self->body = cmp_obj_body(cmp_the_arena, off);
    link_live(self);
    return (PyObject *)self;
}

PyMethodDef cmp_shared_methods[] = {
    {"_handle", shared_handle, METH_NOARGS,
     "_handle($self, /)\n--\n\nA picklable handle; takes a transfer reference."},
    {"_drop_handle", shared_drop_handle, METH_NOARGS,
     "_drop_handle($self, /)\n--\n\nGive back a transfer reference never rebuilt."},
    {"_rebuild", shared_rebuild, METH_O | METH_CLASS,
     "_rebuild($cls, handle, /)\n--\n\nRebuild a wrapper from _handle()."},
    {NULL, NULL, 0, NULL},
};

/* ---- module-level functions -------------------------------------------- */

static PyObject *mod_before_fork(PyObject *m, PyObject *unused)
{
    (void)m; (void)unused;
    /* The child inherits every live wrapper: take its references now, while
     * the parent's keep the objects alive.  (No arena yet: no wrapper.) */
    for (cmp_shared *s = live_head.next; s != &live_head; s = s->next)
        cmp_obj_incref(cmp_the_arena, s->off);
    Py_RETURN_NONE;
}

static PyObject *mod_release_all(PyObject *m, PyObject *unused)
{
    (void)m; (void)unused;
    /* This process is leaving: let every object go.  The wrappers stay
     * usable until they are collected, but no longer count. */
    while (live_head.next != &live_head) {
        cmp_shared *s = live_head.next;
        unlink_live(s);
        s->released = 1;
        let_go(cmp_the_arena, s->off, s->kind);
    }
    Py_RETURN_NONE;
}

static PyObject *mod_arena_stats(PyObject *m, PyObject *unused)
{
    (void)m; (void)unused;
    if (cmp_arena_check() < 0)
        return NULL;
    cmp_arena_stats st;
    cmp_arena_get_stats(cmp_the_arena, &st);
    return Py_BuildValue("{sKsKsKsKsKsKsK}", "size", (unsigned long long)st.size,
                         "top", (unsigned long long)st.top,
                         "bytes_in_use", (unsigned long long)st.bytes_in_use,
                         "blocks_in_use", (unsigned long long)st.blocks_in_use,
                         "token", (unsigned long long)st.token,
                         "resident", (unsigned long long)st.resident,
                         "free_resident", (unsigned long long)st.free_resident);
}

static PyObject *mod_live_wrappers(PyObject *m, PyObject *unused)
{
    (void)m; (void)unused;
    Py_ssize_t n = 0;
    for (cmp_shared *s = live_head.next; s != &live_head; s = s->next)
        n++;
    return PyLong_FromSsize_t(n);
}

static PyObject *mod_refcount(PyObject *m, PyObject *obj)
{
    (void)m;
    if (!cmp_type_kind(Py_TYPE(obj))) {
        PyErr_Format(PyExc_TypeError, "_shared_refcount() needs a shared cmp "
                     "object, not %.200s", Py_TYPE(obj)->tp_name);
        return NULL;
    }
    cmp_shared *s = (cmp_shared *)obj;
    if (cmp_shared_check(s) < 0)
        return NULL;
    return PyLong_FromUnsignedLong(
        __atomic_load_n(&cmp_obj(cmp_the_arena, s->off)->refs, __ATOMIC_RELAXED));
}

/* _arena_init(fd=-1, token=0): create this process's arena (fd < 0), or
 * join the one whose memfd this process was given at its start. */
static const char *const arena_init_names[] = {"fd", "token"};

static PyObject *mod_arena_init(PyObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    (void)m;
    PyObject *a[2] = {NULL, NULL};
    if (cmp_parse_args("_arena_init", args, nargs, NULL, arena_init_names, 2, 0, a) < 0)
        return NULL;
    long lfd = a[0] ? PyLong_AsLong(a[0]) : -1;
    unsigned long long token = a[1] ? PyLong_AsUnsignedLongLong(a[1]) : 0;
    if (PyErr_Occurred())
        return NULL;
    if (lfd > INT_MAX || lfd < INT_MIN) {
        PyErr_SetString(PyExc_OverflowError, "fd does not fit a C int");
        return NULL;
    }
    int fd = (int)lfd;
    if (cmp_the_arena) {
        if (fd < 0)
            Py_RETURN_NONE;
        PyErr_SetString(PyExc_RuntimeError,
                        "this process already maps a cmp arena: it cannot "
                        "join another one");
        return NULL;
    }
    int r;
    if (fd < 0) {
        uint64_t size = 0;
        const char *env = getenv("CMP_ARENA_SIZE");
        if (env && *env)
            size = strtoull(env, NULL, 0);
        r = cmp_arena_create(size, &cmp_the_arena);
    } else {
        r = cmp_arena_join(fd, token, &cmp_the_arena);
        if (r == EINVAL) {
            PyErr_Format(PyExc_RuntimeError,
                         "fd %d is not the cmp arena of the process that "
                         "started this one (it is closed, not a memfd, or "
                         "another arena)", fd);
            return NULL;
        }
    }
    if (r) {
        errno = r;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    Py_RETURN_NONE;
}

static PyObject *mod_arena_fd(PyObject *m, PyObject *unused)
{
    (void)m; (void)unused;
    if (cmp_arena_check() < 0)
        return NULL;
    return PyLong_FromLong(cmp_arena_fd(cmp_the_arena));
}

static PyMethodDef module_functions[] = {
    {"_arena_init", (PyCFunction)(void (*)(void))mod_arena_init, METH_FASTCALL,
     "_arena_init(fd=-1, token=0, /)\n--\n\nCreate this process's arena, or join "
     "the one of the memfd fd\n(passed at this process's start; token: the "
     "arena's, 0 for any)."},
    {"_arena_fd", mod_arena_fd, METH_NOARGS,
     "_arena_fd()\n--\n\nThe arena's memfd (close-on-exec), for a child that joins."},
    {"_before_fork", mod_before_fork, METH_NOARGS,
     "_before_fork()\n--\n\nTake the references a forked child inherits."},
    {"_release_all", mod_release_all, METH_NOARGS,
     "_release_all()\n--\n\nLet go of every shared object (process exit)."},
    {"arena_stats", mod_arena_stats, METH_NOARGS,
     "arena_stats()\n--\n\nThe shared arena's size and usage as a dict."},
    {"_live_wrappers", mod_live_wrappers, METH_NOARGS,
     "_live_wrappers()\n--\n\nHow many wrappers of shared objects live here."},
    {"_shared_refcount", mod_refcount, METH_O,
     "_shared_refcount(obj, /)\n--\n\nThe shared reference count of obj."},
    {NULL, NULL, 0, NULL},
};

int cmp_arena_check(void)
{
    if (cmp_the_arena)
        return 0;
    PyErr_SetString(PyExc_RuntimeError,
                    "cmp's shared arena is not mapped yet (cmp._core maps it "
                    "when cmp is imported)");
    return -1;
}

int cmp_init_shared(PyObject *module)
{
    /* The arena is mapped by _arena_init, which cmp/_core.py calls right
     * after this import: it knows whether this process creates the arena
     * or joins its parent's. */
    return PyModule_AddFunctions(module, module_functions);
}
