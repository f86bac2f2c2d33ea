/* ring_io.c - the fds, codec and records shared by the bindings over a
 * ring (see ring_io.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "ring_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../owner.h"

/* ---- fds ----------------------------------------------------------------- */

int cmp_ring_fds_open(cmp_ring_fds *f)
{
    int p[2];
    if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0) {
        cmp_raise_errno(errno);
        return -1;
    }
    f->rfd = p[0];
    f->wfd = p[1];
    f->owns = 1;
    f->pid = cmp_self_pid();
    return 0;
}

void cmp_ring_fds_publish(const cmp_ring_fds *f, cmp_ring *r)
{
    struct stat st;
    fstat(f->rfd, &st);
    cmp_sel_init(&r->sel, f->rfd, f->wfd, (uint64_t)st.st_ino);
}

static int is_pipe(int fd, uint64_t ino)
{
    struct stat st;
    return fd >= 0 && fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) &&
           (uint64_t)st.st_ino == ino;
}

void cmp_ring_fds_close(cmp_ring_fds *f)
{
    if (f->owns) {
        close(f->rfd);
        close(f->wfd);
    }
    f->owns = 0;
    f->rfd = f->wfd = -1;
    f->pid = 0;
}

int cmp_ring_fds_resolve(cmp_ring_fds *f, const cmp_ring *r)
{
    uint32_t me = cmp_self_pid();
    if (f->pid == me)
        return 0;
    const cmp_selectable *s = &r->sel;
    if (f->pid && is_pipe(f->rfd, s->pipe_ino) && is_pipe(f->wfd, s->pipe_ino)) {
        f->pid = me;        /* inherited through fork */
        return 0;
    }
    f->owns = 0;
    f->rfd = f->wfd = -1;
    f->pid = 0;
    int rfd = -1, wfd = -1;
    if (is_pipe(s->rfd, s->pipe_ino) && is_pipe(s->wfd, s->pipe_ino)) {
        rfd = fcntl(s->rfd, F_DUPFD_CLOEXEC, 3);
        wfd = fcntl(s->wfd, F_DUPFD_CLOEXEC, 3);
    } else {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)s->fd_pid, (int)s->rfd);
        rfd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)s->fd_pid, (int)s->wfd);
        wfd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if ((rfd >= 0 && !is_pipe(rfd, s->pipe_ino)) ||
            (wfd >= 0 && !is_pipe(wfd, s->pipe_ino))) {
            close(rfd);
            close(wfd);
            errno = ENOENT;
            return -1;
        }
    }
    if (rfd < 0 || wfd < 0) {
        int e = errno;
        if (rfd >= 0)
            close(rfd);
        if (wfd >= 0)
            close(wfd);
        errno = e;
        return -1;
    }
    f->rfd = rfd;
    f->wfd = wfd;
    f->owns = 1;
    f->pid = me;
    return 0;
}

/* ---- codec --------------------------------------------------------------- */

/* Exact builtin scalars, and small tuples and lists of them, need no
 * ForkingPickler (its reducers cannot apply): plain pickle.dumps is the
 * same bytes, without the BytesIO and Pickler set-up. */
static int plain(PyObject *o, int depth)
{
    PyTypeObject *t = Py_TYPE(o);
    if (t == &PyLong_Type || t == &PyUnicode_Type || t == &PyBytes_Type ||
        t == &PyFloat_Type || o == Py_None || t == &PyBool_Type)
        return 1;
    if (depth > 0 && (t == &PyTuple_Type || t == &PyList_Type)) {
        Py_ssize_t n = Py_SIZE(o);
        if (n > 16)
            return 0;
        for (Py_ssize_t i = 0; i < n; i++)
            if (!plain(t == &PyTuple_Type ? PyTuple_GET_ITEM(o, i) : PyList_GET_ITEM(o, i),
                       depth - 1))
                return 0;
        return 1;
    }
    return 0;
}

static PyObject *dumps(PyObject *obj)
{
    if (plain(obj, 2))
        return PyObject_CallOneArg(cmp_state.pickle_dumps, obj);
    return PyObject_CallOneArg(cmp_state.forking_dumps, obj);
}

int cmp_encode(PyObject *obj, cmp_encoded *e)
{
    PyTypeObject *t = Py_TYPE(obj);
    e->owner = NULL;
    e->p = e->scratch;
    e->len = 0;
    if (t == &PyLong_Type) {
        int overflow;
        long long v = PyLong_AsLongLongAndOverflow(obj, &overflow);
        if (!overflow && !(v == -1 && PyErr_Occurred())) {
            e->tag = CMP_TAG_INT;
            memcpy(e->scratch, &v, 8);
            e->len = 8;
            return 0;
        }
        PyErr_Clear();
    } else if (t == &PyFloat_Type) {
        double v = PyFloat_AS_DOUBLE(obj);
        e->tag = CMP_TAG_FLOAT;
        memcpy(e->scratch, &v, 8);
        e->len = 8;
        return 0;
    } else if (t == &PyBytes_Type) {
        e->tag = CMP_TAG_BYTES;
        e->p = PyBytes_AS_STRING(obj);
        e->len = PyBytes_GET_SIZE(obj);
        return 0;
    } else if (t == &PyUnicode_Type) {
        Py_ssize_t n;
        const char *u = PyUnicode_AsUTF8AndSize(obj, &n);
        if (u) {
            e->tag = CMP_TAG_STR;
            e->p = u;
            e->len = n;
            return 0;
        }
        PyErr_Clear();      /* lone surrogates: pickle copes */
    } else if (obj == Py_None || obj == Py_True || obj == Py_False) {
        e->tag = obj == Py_None ? CMP_TAG_NONE : obj == Py_True ? CMP_TAG_TRUE : CMP_TAG_FALSE;
        return 0;
    }
    PyObject *data = dumps(obj);
    if (!data)
        return -1;
    if (!PyBytes_Check(data)) {
        PyObject *b = PyBytes_FromObject(data);
        Py_DECREF(data);
        if (!b)
            return -1;
        data = b;
    }
    e->tag = CMP_TAG_PICKLE;
    e->owner = data;
    e->p = PyBytes_AS_STRING(data);
    e->len = PyBytes_GET_SIZE(data);
    return 0;
}

PyObject *cmp_decode(uint32_t tag, const char *p1, size_t n1, const char *p2, size_t n2)
{
    size_t len = n1 + n2;
    char small[8];
    if ((tag == CMP_TAG_INT || tag == CMP_TAG_FLOAT) && len == 8) {
        memcpy(small, p1, n1);
        memcpy(small + n1, p2, n2);
        if (tag == CMP_TAG_INT) {
            long long v;
            memcpy(&v, small, 8);
            return PyLong_FromLongLong(v);
        }
        double v;
        memcpy(&v, small, 8);
        return PyFloat_FromDouble(v);
    }
    switch (tag) {
    case CMP_TAG_NONE:
        Py_RETURN_NONE;
    case CMP_TAG_TRUE:
        Py_RETURN_TRUE;
    case CMP_TAG_FALSE:
        Py_RETURN_FALSE;
    default:
        break;
    }
    if (tag == CMP_TAG_STR && n2 == 0)
        return PyUnicode_DecodeUTF8(p1, (Py_ssize_t)n1, "surrogatepass");
    PyObject *bytes = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)len);
    if (!bytes)
        return NULL;
    memcpy(PyBytes_AS_STRING(bytes), p1, n1);
    if (n2)
        memcpy(PyBytes_AS_STRING(bytes) + n1, p2, n2);
    if (tag == CMP_TAG_BYTES)
        return bytes;
    PyObject *res;
    if (tag == CMP_TAG_STR)
        res = PyUnicode_DecodeUTF8(PyBytes_AS_STRING(bytes), (Py_ssize_t)len, "surrogatepass");
    else if (tag == CMP_TAG_PICKLE)
        res = PyObject_CallOneArg(cmp_state.pickle_loads, bytes);
    else
        res = PyErr_Format(PyExc_RuntimeError, "corrupt ring record (tag %u)", tag);
    Py_DECREF(bytes);
    return res;
}

/* ---- records ------------------------------------------------------------- */

int cmp_ring_write(cmp_ring *r, cmp_ring_fds *f, const char *p, Py_ssize_t n,
                   uint32_t tag, int block, const cmp_deadline *d)
{
    if (n > (Py_ssize_t)UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "message too large for a cmp ring (4 GiB)");
        return -1;
    }
    uint32_t len = (uint32_t)n, limit = cmp_ring_inline_limit(r);
    uint64_t oob = 0;
    if (len > limit) {
        int err = 0;
        oob = cmp_alloc(cmp_the_arena, len, &err);
        if (!oob) {
            cmp_raise(CMP_ERR_ARENA_FULL);
            return -1;
        }
        memcpy(cmp_ptr(cmp_the_arena, oob), p, len);
    }
    for (;;) {
        if (cmp_ring_try_put(r, p, len, oob, tag) == 0) {
            /* cmp_sel_wanted is relaxed: the put's notify fenced
             * (selectable.h). */
            if (cmp_sel_wanted(&r->sel) && cmp_ring_fds_resolve(f, r) == 0)
                cmp_ring_poll_after_put(r, f->wfd);
            return 0;
        }
        int rc = ETIMEDOUT;
        if (block && !cmp_deadline_passed(d)) {
            cmp_ring_space_arg a = {r, oob ? limit + 1 : len};
            rc = cmp_wait(cmp_ring_wait_space, &a, d);
        }
        if (rc == 0)
            continue;
        if (oob)
            cmp_free(cmp_the_arena, oob);
        return rc < 0 ? -1 : 1;
    }
}

int cmp_ring_take_now(cmp_ring *r, cmp_ring_rec *rec)
{
    int got = cmp_ring_try_take(r, rec);
    if (got == EBUSY) {
        /* Without a wait nobody would ever look whether the writer at
         * head died: look now, once. */
        cmp_ring_reap_dead_writer(r);
        got = cmp_ring_try_take(r, rec);
    }
    return got;
}

PyObject *cmp_ring_read(cmp_ring *r, cmp_ring_fds *f, cmp_ring_rec *rec, int raw)
{
    uint32_t tag = rec->tag & ~CMP_RING_TAG_FLAG;
    uint32_t as = raw && tag == CMP_TAG_PICKLE ? CMP_TAG_BYTES : tag;
    PyObject *res;
    if (rec->oob) {
        cmp_ring_release(r, rec);
        if (cmp_sel_wanted(&r->sel) && cmp_ring_fds_resolve(f, r) == 0)
            cmp_ring_poll_after_take(r, f->rfd);
        char *p = cmp_ptr(cmp_the_arena, rec->oob);
        if (as == CMP_TAG_PICKLE) {
            /* Unpickled straight from the block, without a copy. */
            PyObject *mv = PyMemoryView_FromMemory(p, rec->len, PyBUF_READ);
            res = mv ? PyObject_CallOneArg(cmp_state.pickle_loads, mv) : NULL;
            Py_XDECREF(mv);
        } else {
            res = cmp_decode(as, p, rec->len, NULL, 0);
        }
        cmp_free(cmp_the_arena, rec->oob);
    } else {
        res = cmp_decode(as, rec->p1, rec->n1, rec->p2, rec->n2);
        cmp_ring_release(r, rec);
        if (cmp_sel_wanted(&r->sel) && cmp_ring_fds_resolve(f, r) == 0)
            cmp_ring_poll_after_take(r, f->rfd);
    }
    if (res && raw && tag != CMP_TAG_PICKLE) {
        /* The raw form of a scalar sent unpickled: pickle it now. */
        PyObject *obj = res;
        res = PyObject_CallOneArg(cmp_state.pickle_dumps, obj);
        Py_DECREF(obj);
    }
    return res;
}
