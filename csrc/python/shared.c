/* shared.c - wrappers of shared objects: references, fork, pickling,
 * waiting and argument parsing for every cmp type (see shared.h). */
#include "shared.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "../proc.h"

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

cmp_shared *cmp_shared_live_next(cmp_shared *s)
{
    cmp_shared *n = s ? s->next : live_head.next;
    return n == &live_head ? NULL : n;
}

static void unlink_live(cmp_shared *self)
{
    if (self->next) {
        self->prev->next = self->next;
        self->next->prev = self->prev;
        self->next = self->prev = NULL;
    }
}

/* Drop n references; the last one destroys and frees the object.  Also
 * what a reaper calls for a dead process's holdings (proc.h). */
static void release_refs(cmp_arena *a, uint64_t off, uint32_t n)
{
    if (cmp_obj_release(a, off, n)) {
        uint32_t kind = cmp_obj(a, off)->kind;
        if (kind < CMP_KIND_COUNT && destroy_fns[kind])
            destroy_fns[kind](a, cmp_obj_body(a, off));
        cmp_free(a, off);
    }
}

/* This process's entry of the process table, claimed at the first need
 * (when the table is full, after giving back what dead processes held). */
static uint32_t self_entry(void)
{
    uint32_t idx = cmp_proc_self();
    if (idx == CMP_PROC_NONE && cmp_proc_attach(cmp_the_arena) == EAGAIN) {
        cmp_proc_reap(cmp_the_arena, release_refs, 1);
        cmp_proc_attach(cmp_the_arena);
        idx = cmp_proc_self();
    }
    return idx == CMP_PROC_NONE ? cmp_proc_self() : idx;
}

/* Count the wrapper's reference (already taken) in this process's entry.
 * Without room to count it the reference is held uncounted: it works, and
 * is lost only if this process dies without letting go. */
static void count_ref(cmp_shared *self)
{
    uint32_t idx = self_entry();
    self->proc = cmp_proc_hold(cmp_the_arena, idx, self->off, 1) ? CMP_PROC_NONE : idx;
}

static void uncount_ref(cmp_shared *self)
{
    if (cmp_proc_owns(self->proc))
        cmp_proc_unhold(cmp_the_arena, self->proc, self->off, 1);
    self->proc = CMP_PROC_NONE;
}

int cmp_shared_create(cmp_shared *self, uint32_t kind, uint64_t body_size)
{
    return cmp_shared_create_partly_zeroed(self, kind, body_size, body_size);
}

int cmp_shared_create_partly_zeroed(cmp_shared *self, uint32_t kind,
                                    uint64_t body_size, uint64_t zeroed)
{
    if (self->off) {
        PyErr_SetString(PyExc_RuntimeError, "object already initialised");
        return -1;
    }
    if (cmp_arena_check() < 0)
        return -1;
    int err = 0;
    uint64_t off = cmp_obj_new_partly_zeroed(cmp_the_arena, kind, body_size, zeroed, &err);
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
    count_ref(self);
    link_live(self);
    /* The periodic look for dead processes (at most one a second in the
     * whole tree). */
    cmp_proc_reap(cmp_the_arena, release_refs, 0);
    return 0;
}

void cmp_shared_drop(cmp_shared *self)
{
    if (!self->off)
        return;
    unlink_live(self);
    if (!self->released) {
        uncount_ref(self);
        release_refs(cmp_the_arena, self->off, 1);
    }
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

/* While this thread pickles a new process's start data: the entry that
 * counts what it pickles (proc.h, start entries). */
static __thread uint32_t start_entry = CMP_PROC_NONE;

/* Handle forms: (token, off, gen) a transfer; (token, off, gen, 1) a
 * durable handle; (token, off, gen, 2, entry) a reference counted in a
 * start entry, for the process that adopts it. */
#define HANDLE_DURABLE 1u
#define HANDLE_STARTED 2u

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
        return Py_BuildValue("(KKII)", token, off, gen, HANDLE_DURABLE);
    }
    if (start_entry != CMP_PROC_NONE) {
        cmp_obj_incref(cmp_the_arena, self->off);
        if (cmp_proc_hold(cmp_the_arena, start_entry, self->off, 1) == 0)
            return Py_BuildValue("(KKIII)", token, off, gen, HANDLE_STARTED,
                                 start_entry);
        release_refs(cmp_the_arena, self->off, 1);   /* not the last */
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
            release_refs(cmp_the_arena, self->off, 1);
            break;
        }
    }
    Py_RETURN_NONE;
}

static PyObject *shared_rebuild(PyObject *cls, PyObject *handle)
{
    unsigned long long token, off;
    unsigned int gen, form = 0, entry = CMP_PROC_NONE;
    if (!PyArg_ParseTuple(handle, "KKI|II:_rebuild", &token, &off, &gen, &form, &entry))
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
    int r;
    if (form == HANDLE_STARTED) {
        /* Counted for this process by its parent: adopt the count. */
        r = cmp_proc_adopt(cmp_the_arena, entry);
        if (r == 0)
            r = cmp_obj_check(cmp_the_arena, off, gen, kind);
    } else {
        /* A durable handle's object lives as long as the process tree:
         * give the rebuild a transfer of its own to adopt. */
        if (form == HANDLE_DURABLE)
            cmp_obj_transfer_out(cmp_the_arena, off);
        r = cmp_obj_transfer_in(cmp_the_arena, off, gen, kind);
    }
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
    if (form == HANDLE_STARTED)
        self->proc = entry;
    else
        count_ref(self);
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

/* ---- fork and exit ------------------------------------------------------
 *
 * Before fork() the parent claims the child's entry and takes, for each
 * wrapper the child inherits, a reference counted there.  After fork()
 * the parent names the child (its pid, the one new in this thread's
 * /proc children list), so a child killed before it ever runs is still
 * found dead and given back; the child names itself too and adopts the
 * entry. */

static uint32_t forking_child = CMP_PROC_NONE;
static pid_t *children_before;
static size_t n_children_before;

/* The children of this thread, from /proc/thread-self/children (a
 * malloc'd array, NULL and 0 when unreadable). */
static pid_t *read_children(size_t *n)
{
    *n = 0;
    int fd = open("/proc/thread-self/children", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    for (ssize_t r; buf; len += (size_t)r) {
        if (len + 1 >= cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
        }
        r = read(fd, buf + len, cap - 1 - len);
        if (r <= 0)
            break;
    }
    close(fd);
    if (!buf)
        return NULL;
    buf[len] = '\0';
    pid_t *pids = malloc((len / 2 + 1) * sizeof *pids);
    for (char *p = buf, *end; pids && *p; p = end) {
        long v = strtol(p, &end, 10);
        if (end == p)
            break;
        pids[(*n)++] = (pid_t)v;
    }
    free(buf);
    return pids;
}

static PyObject *mod_before_fork(PyObject *m, PyObject *unused)
{
    (void)m; (void)unused;
    if (!cmp_the_arena)
        Py_RETURN_NONE;     /* no arena yet: no wrapper */
    cmp_proc_reap(cmp_the_arena, release_refs, 0);
    uint32_t child = cmp_proc_prepare_child(cmp_the_arena);
    if (child == CMP_PROC_NONE) {
        cmp_proc_reap(cmp_the_arena, release_refs, 1);
        child = cmp_proc_prepare_child(cmp_the_arena);
    }
    /* The child inherits every live wrapper: take its references now, while
     * the parent's keep the objects alive. */
    for (cmp_shared *s = live_head.next; s != &live_head; s = s->next) {
        cmp_obj_incref(cmp_the_arena, s->off);
        cmp_proc_hold(cmp_the_arena, child, s->off, 1);
    }
    free(children_before);
    children_before = child == CMP_PROC_NONE ? NULL : read_children(&n_children_before);
    forking_child = child;
    cmp_proc_forking(cmp_the_arena, child);
    Py_RETURN_NONE;
}

static PyObject *mod_after_fork_parent(PyObject *m, PyObject *unused)
{
    (void)m; (void)unused;
    uint32_t child = forking_child;
    forking_child = CMP_PROC_NONE;
    if (child == CMP_PROC_NONE || !children_before)
        Py_RETURN_NONE;
    size_t n_after;
    pid_t *after = read_children(&n_after), found = 0;
    int news = 0;
    for (size_t i = 0; after && i < n_after; i++) {
        size_t j = 0;
        while (j < n_children_before && children_before[j] != after[i])
            j++;
        if (j == n_children_before) {
            found = after[i];
            news++;
        }
    }
    free(after);
    free(children_before);
    children_before = NULL;
    /* Exactly one new child: it is this fork's.  Already gone (killed
     * before it ran): give back what was taken for it.  No new child (the
     * fork failed, or another thread reaped it, or its pid came back
     * between the two reads): the child names itself if it runs. */
    if (news == 1 && cmp_proc_name(cmp_the_arena, child, (uint32_t)found) == ESRCH)
        cmp_proc_abandon(cmp_the_arena, child, release_refs);
    Py_RETURN_NONE;
}

static PyObject *mod_after_fork_child(PyObject *m, PyObject *unused)
{
    (void)m; (void)unused;
    uint32_t child = forking_child;
    forking_child = CMP_PROC_NONE;
    free(children_before);
    children_before = NULL;
    if (!cmp_the_arena)
        Py_RETURN_NONE;
    cmp_proc_become(cmp_the_arena, child);
    if (child != CMP_PROC_NONE) {
        for (cmp_shared *s = live_head.next; s != &live_head; s = s->next)
            s->proc = child;
    } else {
        /* The parent had no entry for this child: count the inherited
         * references (taken by the parent) in an entry of its own. */
        for (cmp_shared *s = live_head.next; s != &live_head; s = s->next)
            count_ref(s);
    }
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
        uncount_ref(s);
        release_refs(cmp_the_arena, s->off, 1);
    }
    if (cmp_the_arena)
        cmp_proc_leave(cmp_the_arena, release_refs);
    Py_RETURN_NONE;
}

/* Start entries (proc.h): _start_begin() before a new process's start data
 * is pickled, _start_end(entry) after (None: nothing was counted), then
 * _start_named(entry, pid) once its pid is known, or _start_abandon(entry)
 * when it did not start. */
static PyObject *mod_start_begin(PyObject *m, PyObject *unused)
{
    (void)m; (void)unused;
    if (cmp_arena_check() < 0)
        return NULL;
    cmp_proc_reap(cmp_the_arena, release_refs, 0);
    uint32_t idx = cmp_proc_prepare_child(cmp_the_arena);
    if (idx == CMP_PROC_NONE) {
        cmp_proc_reap(cmp_the_arena, release_refs, 1);
        idx = cmp_proc_prepare_child(cmp_the_arena);
    }
    start_entry = idx;
    if (idx == CMP_PROC_NONE)
        Py_RETURN_NONE;     /* a full table: transfers, as without one */
    return PyLong_FromUnsignedLong(idx);
}

/* An entry from Python: an index, or None for CMP_PROC_NONE. */
static int entry_arg(PyObject *obj, uint32_t *idx)
{
    *idx = CMP_PROC_NONE;
    if (obj == Py_None)
        return 0;
    unsigned long v = PyLong_AsUnsignedLong(obj);
    if (v == (unsigned long)-1 && PyErr_Occurred())
        return -1;
    if (v >= CMP_PROC_MAX) {
        PyErr_SetString(PyExc_ValueError, "not a process-table entry");
        return -1;
    }
    *idx = (uint32_t)v;
    return 0;
}

static PyObject *mod_start_end(PyObject *m, PyObject *arg)
{
    (void)m;
    start_entry = CMP_PROC_NONE;
    uint32_t idx;
    if (entry_arg(arg, &idx) < 0)
        return NULL;
    if (cmp_proc_counts_nothing(cmp_the_arena, idx)) {
        /* Nothing pickled for the new process: no entry needed. */
        cmp_proc_abandon(cmp_the_arena, idx, release_refs);
        Py_RETURN_NONE;
    }
    cmp_proc_forking(cmp_the_arena, idx);
    return PyLong_FromUnsignedLong(idx);
}

static const char *const start_named_names[] = {"entry", "pid"};

static PyObject *mod_start_named(PyObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    (void)m;
    PyObject *a[2] = {NULL, NULL};
    uint32_t idx;
    if (cmp_parse_args("_start_named", args, nargs, NULL, start_named_names, 2, 2, a) < 0 ||
        entry_arg(a[0], &idx) < 0)
        return NULL;
    unsigned long pid = PyLong_AsUnsignedLong(a[1]);
    if (pid == (unsigned long)-1 && PyErr_Occurred())
        return NULL;
    if (cmp_proc_name(cmp_the_arena, idx, (uint32_t)pid) == ESRCH)
        cmp_proc_abandon(cmp_the_arena, idx, release_refs);     /* gone already */
    Py_RETURN_NONE;
}

static PyObject *mod_start_abandon(PyObject *m, PyObject *arg)
{
    (void)m;
    start_entry = CMP_PROC_NONE;
    uint32_t idx;
    if (entry_arg(arg, &idx) < 0)
        return NULL;
    cmp_proc_abandon(cmp_the_arena, idx, release_refs);
    Py_RETURN_NONE;
}

static PyObject *mod_reap(PyObject *m, PyObject *unused)
{
    (void)m; (void)unused;
    if (cmp_arena_check() < 0)
        return NULL;
    return PyLong_FromLong(cmp_proc_reap(cmp_the_arena, release_refs, 1));
}

static PyObject *mod_proc_stats(PyObject *m, PyObject *obj)
{
    (void)m;
    if (cmp_arena_check() < 0)
        return NULL;
    uint32_t self = cmp_proc_self();
    unsigned long held = 0;
    if (obj != Py_None) {
        if (!cmp_type_kind(Py_TYPE(obj))) {
            PyErr_Format(PyExc_TypeError, "_proc_stats() needs a shared cmp "
                         "object or None, not %.200s", Py_TYPE(obj)->tp_name);
            return NULL;
        }
        held = cmp_proc_count(cmp_the_arena, self, ((cmp_shared *)obj)->off);
    }
    return Py_BuildValue("{sIsIsk}", "in_use", cmp_proc_in_use(cmp_the_arena),
                         "self", self, "held", held);
}

static PyObject *mod_arena_stats(PyObject *m, PyObject *unused)
{
    (void)m; (void)unused;
    if (cmp_arena_check() < 0)
        return NULL;
    /* Exact figures: first give back what dead processes held. */
    cmp_proc_reap(cmp_the_arena, release_refs, 1);
    cmp_arena_stats st;
    cmp_arena_get_stats(cmp_the_arena, &st);
    return Py_BuildValue("{sKsKsKsKsKsKsKsK}", "size", (unsigned long long)st.size,
                         "meta_bytes", (unsigned long long)st.meta_bytes,
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
    {"_after_fork_parent", mod_after_fork_parent, METH_NOARGS,
     "_after_fork_parent()\n--\n\nName the child this fork made in its entry."},
    {"_after_fork_child", mod_after_fork_child, METH_NOARGS,
     "_after_fork_child()\n--\n\nAdopt the entry the parent prepared."},
    {"_start_begin", mod_start_begin, METH_NOARGS,
     "_start_begin()\n--\n\nClaim a start entry for the process whose start data\n"
     "this thread pickles next; its index, or None."},
    {"_start_end", mod_start_end, METH_O,
     "_start_end(entry, /)\n--\n\nThe start data is pickled: the entry to name, or None."},
    {"_start_named", (PyCFunction)(void (*)(void))mod_start_named, METH_FASTCALL,
     "_start_named(entry, pid, /)\n--\n\nThe started process is pid."},
    {"_start_abandon", mod_start_abandon, METH_O,
     "_start_abandon(entry, /)\n--\n\nThe process did not start: give back."},
    {"_reap", mod_reap, METH_NOARGS,
     "_reap()\n--\n\nGive back what dead processes held; how many were found."},
    {"_proc_stats", mod_proc_stats, METH_O,
     "_proc_stats(obj, /)\n--\n\nThe process table: entries in use, this process's\n"
     "entry, and how many references of obj (or None) it counts."},
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
