/* dict_type.c - the Dict type over csrc/dict.c: encoding of keys and
 * values, the interpreter lock around the segment locks, and the errors.
 *
 * Encodings (the first byte is a tag; a pickle starts with its PROTO
 * opcode, 0x80, which no tag uses):
 *
 *   'N' 'T' 'F'          None, True, False
 *   'i' int64            an exact int that fits 64 bits (little-endian)
 *   'f' double           an exact float (its bits: -0.0 is not 0.0)
 *   's' kind data        an exact str: its PEP 393 kind (1, 2 or 4) and its
 *                        code units (the canonical form of equal strings)
 *   'b' data             exact bytes
 *   't' count {u32 len, item}...   keys only: an exact tuple (depth < 32)
 *   0x80 ...             anything else: pickle.dumps(obj, protocol 5)
 *
 * Keys compare by these bytes: two keys are the same when they are of the
 * same exact type and equal value (so 1, 1.0 and True are three keys), or,
 * pickled, when their pickles are identical.  Tuples are encoded item by
 * item so that equal tuples give equal bytes (a pickle of a tuple depends
 * on which items are the very same object).  A key must be hashable (as a
 * dict's), and a frozenset is refused anywhere in a tuple key: its pickle
 * follows its iteration order, which depends on the hash seed and on its
 * history.
 *
 * Objects are only built while a segment is held when they are not tracked
 * by the garbage collector (int, float, str, bytes), so no Python code (a
 * finaliser run by a collection) can run under a segment's lock; the rest
 * is copied out as bytes and decoded after the lock is let go.
 */
#include "shared.h"
#include "../dict.h"

#include <string.h>
#include <structmember.h>
#include <sys/random.h>

#define DICT(self) ((cmp_dict *)((cmp_shared *)(self))->body)
#define NOT_READY(self) \
    (__builtin_expect(DICT(self) == NULL, 0) && cmp_shared_check((cmp_shared *)(self)) < 0)

#define TAG_NONE 'N'
#define TAG_TRUE 'T'
#define TAG_FALSE 'F'
#define TAG_INT 'i'
#define TAG_FLOAT 'f'
#define TAG_STR 's'
#define TAG_BYTES 'b'
#define TAG_TUPLE 't'
#define TAG_PICKLE 0x80
#define KEY_DEPTH 32
#define PICKLE_PROTOCOL 5


/* ---- encoding ------------------------------------------------------------ */

typedef struct {
    char *p;
    Py_ssize_t len, cap;
    PyObject *owner;        /* a bytes object p points into, or NULL */
    char small[64];
} enc;

static void enc_init(enc *e)
{
    e->p = e->small;
    e->len = 0;
    e->cap = sizeof e->small;
    e->owner = NULL;
}

static void enc_free(enc *e)
{
    if (e->p != e->small && !e->owner)
        PyMem_Free(e->p);
    Py_CLEAR(e->owner);
    e->p = e->small;
}

static char *enc_grow(enc *e, Py_ssize_t n)
{
    if (e->len + n > e->cap) {
        Py_ssize_t cap = e->cap * 2;
        while (cap < e->len + n)
            cap *= 2;
        char *p = PyMem_Malloc((size_t)cap);
        if (!p) {
            PyErr_NoMemory();
            return NULL;
        }
        memcpy(p, e->p, (size_t)e->len);
        if (e->p != e->small)
            PyMem_Free(e->p);
        e->p = p;
        e->cap = cap;
    }
    char *at = e->p + e->len;
    e->len += n;
    return at;
}

static int enc_put(enc *e, const void *data, Py_ssize_t n)
{
    char *at = enc_grow(e, n);
    if (!at)
        return -1;
    memcpy(at, data, (size_t)n);
    return 0;
}

static int enc_tag8(enc *e, char tag, const void *eight)
{
    char *at = enc_grow(e, 9);
    if (!at)
        return -1;
    at[0] = tag;
    memcpy(at + 1, eight, 8);
    return 0;
}

/* A value's pickle is stored and rebuilt any number of times: the cmp
 * objects in it are pickled with durable handles (shared.h). */
static PyObject *dumps(PyObject *obj)
{
    PyObject *protocol = PyLong_FromLong(PICKLE_PROTOCOL);  /* a cached small int */
    if (!protocol)
        return NULL;
    PyObject *args[2] = {obj, protocol};
    cmp_durable_handles++;
    PyObject *r = PyObject_Vectorcall(cmp_state.pickle_dumps, args, 2, NULL);
    cmp_durable_handles--;
    Py_DECREF(protocol);
    return r;
}

/* Append a builtin scalar's encoding: 1 done, 0 not a scalar, -1 error. */
static int enc_scalar(enc *e, PyObject *o)
{
    PyTypeObject *t = Py_TYPE(o);
    if (t == &PyLong_Type) {
        int overflow;
        long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
        if (overflow)
            return 0;       /* beyond 64 bits: pickled (always, by value) */
        if (v == -1 && PyErr_Occurred())
            return -1;
        return enc_tag8(e, TAG_INT, &v) < 0 ? -1 : 1;
    }
    if (t == &PyUnicode_Type) {
#if PY_VERSION_HEX < 0x030C0000
        if (PyUnicode_READY(o) < 0)
            return -1;
#endif
        Py_ssize_t n = PyUnicode_GET_LENGTH(o) * PyUnicode_KIND(o);
        char *at = enc_grow(e, 2 + n);
        if (!at)
            return -1;
        at[0] = TAG_STR;
        at[1] = (char)PyUnicode_KIND(o);
        memcpy(at + 2, PyUnicode_DATA(o), (size_t)n);
        return 1;
    }
    if (t == &PyFloat_Type) {
        double v = PyFloat_AS_DOUBLE(o);
        return enc_tag8(e, TAG_FLOAT, &v) < 0 ? -1 : 1;
    }
    if (t == &PyBytes_Type) {
        char *at = enc_grow(e, 1 + PyBytes_GET_SIZE(o));
        if (!at)
            return -1;
        at[0] = TAG_BYTES;
        memcpy(at + 1, PyBytes_AS_STRING(o), (size_t)PyBytes_GET_SIZE(o));
        return 1;
    }
    if (o == Py_None || o == Py_True || o == Py_False) {
        char tag = o == Py_None ? TAG_NONE : o == Py_True ? TAG_TRUE : TAG_FALSE;
        return enc_put(e, &tag, 1) < 0 ? -1 : 1;
    }
    return 0;
}

/* Append obj pickled; when it is all of `e`, point at the bytes instead. */
static int enc_pickle(enc *e, PyObject *o)
{
    PyObject *b = dumps(o);
    if (!b)
        return -1;
    if (!PyBytes_Check(b)) {
        Py_SETREF(b, PyBytes_FromObject(b));
        if (!b)
            return -1;
    }
    if (e->len == 0 && e->p == e->small) {
        e->owner = b;
        e->p = PyBytes_AS_STRING(b);
        e->len = e->cap = PyBytes_GET_SIZE(b);
        return 0;
    }
    int r = enc_put(e, PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b));
    Py_DECREF(b);
    return r;
}

static int enc_key(enc *e, PyObject *o, int depth)
{
    int r = enc_scalar(e, o);
    if (r)
        return r < 0 ? -1 : 0;
    if (PyFrozenSet_Check(o)) {
        PyErr_Format(PyExc_TypeError,
                     "a %.100s cannot be (part of) a cmp.Dict key: keys compare "
                     "by their pickled bytes, and its pickle follows its "
                     "iteration order, which depends on the hash seed and "
                     "its history (use a sorted tuple instead)",
                     Py_TYPE(o)->tp_name);
        return -1;
    }
    if (Py_IS_TYPE(o, &PyTuple_Type) && depth < KEY_DEPTH) {
        uint32_t n = (uint32_t)PyTuple_GET_SIZE(o);
        char *at = enc_grow(e, 5);
        if (!at)
            return -1;
        at[0] = TAG_TUPLE;
        memcpy(at + 1, &n, 4);
        for (uint32_t i = 0; i < n; i++) {
            Py_ssize_t lenat = e->len;
            if (!enc_grow(e, 4) || enc_key(e, PyTuple_GET_ITEM(o, i), depth + 1) < 0)
                return -1;
            uint32_t len = (uint32_t)(e->len - lenat - 4);
            memcpy(e->p + lenat, &len, 4);
        }
        return 0;
    }
    if (PyObject_Hash(o) == -1)
        return -1;
    return enc_pickle(e, o);
}

/* After encoding: r < 0 failed; else the length must fit an entry's u32.
 * 0, or -1 with `e` freed. */
static int encoded(enc *e, int r, const char *what)
{
    if (r >= 0 && e->len > UINT32_MAX) {
        PyErr_Format(PyExc_OverflowError, "cmp.Dict %s too large (4 GiB or more pickled)", what);
        r = -1;
    }
    if (r < 0)
        enc_free(e);
    return r < 0 ? -1 : 0;
}

static int encode_key(enc *e, PyObject *o)
{
    enc_init(e);
    return encoded(e, enc_key(e, o, 0), "key");
}

static int encode_value(enc *e, PyObject *o)
{
    enc_init(e);
    int r = enc_scalar(e, o);
    return encoded(e, r ? r : enc_pickle(e, o), "value");
}

/* ---- decoding ------------------------------------------------------------ */

static PyObject *corrupt(void)
{
    PyErr_SetString(PyExc_RuntimeError, "corrupt cmp.Dict entry");
    return NULL;
}

/* A scalar from its encoding, safe under a segment's lock (nothing built is
 * tracked by the collector).  NULL without an exception: not a scalar. */
static PyObject *dec_scalar(const char *p, size_t n)
{
    char tag = p[0];
    if (tag == TAG_NONE || tag == TAG_TRUE || tag == TAG_FALSE) {
        PyObject *o = tag == TAG_NONE ? Py_None : tag == TAG_TRUE ? Py_True : Py_False;
        Py_INCREF(o);
        return o;
    }
    switch ((unsigned char)tag) {
    case TAG_INT: {
        int64_t v;
        memcpy(&v, p + 1, 8);
        return PyLong_FromLongLong(v);
    }
    case TAG_FLOAT: {
        double v;
        memcpy(&v, p + 1, 8);
        return PyFloat_FromDouble(v);
    }
    case TAG_STR: {
        int kind = p[1];
        if (n < 2 || (kind != 1 && kind != 2 && kind != 4))
            return corrupt();
        return PyUnicode_FromKindAndData(kind, p + 2, (Py_ssize_t)(n - 2) / kind);
    }
    case TAG_BYTES:
        return PyBytes_FromStringAndSize(p + 1, (Py_ssize_t)n - 1);
    default:
        return NULL;
    }
}

/* Any encoding (outside the lock). */
static PyObject *decode(const char *p, size_t n)
{
    if (n == 0)
        return corrupt();
    PyObject *r = dec_scalar(p, n);
    if (r || PyErr_Occurred())
        return r;
    if ((unsigned char)p[0] == TAG_PICKLE) {
        PyObject *b = PyMemoryView_FromMemory((char *)p, (Py_ssize_t)n, PyBUF_READ);
        if (!b)
            return NULL;
        r = PyObject_CallOneArg(cmp_state.pickle_loads, b);
        Py_DECREF(b);
        return r;
    }
    if (p[0] != TAG_TUPLE || n < 5)
        return corrupt();
    uint32_t count;
    memcpy(&count, p + 1, 4);
    if (count > (n - 5) / 5 + 1)
        return corrupt();
    PyObject *t = PyTuple_New(count);
    size_t at = 5;
    for (uint32_t i = 0; t && i < count; i++) {
        uint32_t len;
        if (at + 4 > n || (memcpy(&len, p + at, 4), at + 4 + len > n)) {
            Py_DECREF(t);
            return corrupt();
        }
        PyObject *item = decode(p + at + 4, len);
        if (!item)
            Py_CLEAR(t);
        else
            PyTuple_SET_ITEM(t, i, item);
        at += 4 + len;
    }
    return t;
}

/* A value read under the lock: the object when it is a scalar (*raw = 0),
 * else its bytes to decode after the lock (*raw = 1). */
static PyObject *read_locked(const char *p, size_t n, int *raw)
{
    PyObject *r = dec_scalar(p, n);
    *raw = 0;
    if (r || PyErr_Occurred())
        return r;
    *raw = 1;
    return PyBytes_FromStringAndSize(p, (Py_ssize_t)n);
}

static PyObject *finish_read(PyObject *r, int raw)
{
    if (!r || !raw)
        return r;
    PyObject *obj = decode(PyBytes_AS_STRING(r), (size_t)PyBytes_GET_SIZE(r));
    Py_DECREF(r);
    return obj;
}

/* ---- errors -------------------------------------------------------------- */

static void no_memory(void)
{
    cmp_raise_arena_full("the cmp.Dict is unchanged");
}

static void key_error(PyObject *key)
{
    PyObject *t = PyTuple_Pack(1, key);
    if (t) {
        PyErr_SetObject(PyExc_KeyError, t);
        Py_DECREF(t);
    }
}

/* ---- segment locks ------------------------------------------------------- */

typedef struct {
    cmp_dict *d;
    cmp_dseg *s;
    uint32_t me;
} lock_arg;

static int wait_seg(void *p, const cmp_deadline *dl)
{
    lock_arg *w = p;
    return cmp_dseg_lock_slow(cmp_the_arena, w->d, w->s, w->me, dl);
}

/* 1 held, 0 timed out, -1 error (nothing held). */
static int lock_slow(cmp_dict *d, cmp_dseg *s, const cmp_deadline *dl)
{
    lock_arg w = {d, s, cmp_thread_owner()};
    int r = cmp_wait(wait_seg, &w, dl);
    if (r < 0)
        return -1;
    if (r == ETIMEDOUT)
        return 0;
    if (r == EOWNERDEAD &&
        PyErr_WarnEx(cmp_state.OwnerDiedWarning,
                     "a process died while holding this cmp.Dict's lock (with "
                     "d.lock:); the dict itself is consistent (every write is "
                     "published whole), but the multi-step update it was making "
                     "may be incomplete", 1) < 0) {
        cmp_dseg_unlock(s, w.me);
        return -1;
    }
    return 1;
}

static inline int lock_seg(cmp_dict *d, cmp_dseg *s)
{
    if (__builtin_expect(cmp_dseg_try_lock(s, cmp_thread_owner()), 1))
        return 0;
    cmp_deadline forever = cmp_deadline_forever();
    return lock_slow(d, s, &forever) == 1 ? 0 : -1;
}

static inline void unlock_seg(cmp_dseg *s)
{
    cmp_dseg_unlock(s, cmp_thread_owner());
}

static void unlock_upto(cmp_dict *d, unsigned n, int user)
{
    while (n-- > 0) {
        if (user)
            d->seg[n].user--;
        unlock_seg(&d->seg[n]);
    }
}

/* Every segment in order.  1 held, 0 timed out, -1 error (nothing held). */
static int lock_all(cmp_dict *d, const cmp_deadline *dl, int user)
{
    for (unsigned i = 0; i < CMP_DICT_SEGMENTS; i++) {
        cmp_dseg *s = &d->seg[i];
        if (!cmp_dseg_try_lock(s, cmp_thread_owner())) {
            int r = lock_slow(d, s, dl);
            if (r <= 0) {
                unlock_upto(d, i, user);
                return r;
            }
        }
        if (user)
            s->user++;
    }
    return 1;
}

/* ---- the operations under a segment's lock -------------------------------- */

/* Set key to value (both encoded).  0 or ENOMEM (unchanged). */
static int put_locked(cmp_arena *a, cmp_dseg *s, uint64_t h, const enc *k, const enc *v)
{
    int err = 0;
    cmp_dslot *slot = cmp_dseg_find(a, s, h, k->p, (uint32_t)k->len);
    if (slot) {
        cmp_dentry *e = cmp_dentry_at(a, slot->entry);
        const char *old = cmp_dentry_value(e);
        if (v->len == 9 && e->vlen == 9 && old[0] == v->p[0] &&
            (old[0] == TAG_INT || old[0] == TAG_FLOAT)) {
            uint64_t bits;
            memcpy(&bits, v->p + 1, 8);
            cmp_dentry_set_scalar(e, bits);
            return 0;
        }
        uint64_t ne = cmp_dentry_new(a, k->p, (uint32_t)k->len, v->p, (uint32_t)v->len, &err);
        if (!ne)
            return err;
        cmp_dseg_replace(a, slot, ne);
        return 0;
    }
    uint64_t ne = cmp_dentry_new(a, k->p, (uint32_t)k->len, v->p, (uint32_t)v->len, &err);
    if (!ne)
        return err;
    if ((err = cmp_dseg_add(a, s, h, ne)) != 0)
        cmp_free(a, ne);
    return err;
}

/* A located key: the segment held, and the slot (NULL when missing). */
typedef struct {
    enc k;
    uint64_t h;
    cmp_dseg *s;
    cmp_dslot *slot;
} located;

/* Encode key, lock its segment, find it.  0, or -1 (nothing held). */
static int locate(cmp_dict *d, PyObject *key, located *l)
{
    if (encode_key(&l->k, key) < 0)
        return -1;
    l->h = cmp_dict_hash(d, l->k.p, (size_t)l->k.len);
    l->s = cmp_dict_seg(d, l->h);
    if (lock_seg(d, l->s) < 0) {
        enc_free(&l->k);
        return -1;
    }
    l->slot = cmp_dseg_find(cmp_the_arena, l->s, l->h, l->k.p, (uint32_t)l->k.len);
    return 0;
}

static void release(located *l)
{
    unlock_seg(l->s);
    enc_free(&l->k);
}

static PyObject *slot_value(located *l, int *raw)
{
    cmp_dentry *e = cmp_dentry_at(cmp_the_arena, l->slot->entry);
    return read_locked(cmp_dentry_value(e), e->vlen, raw);
}

/* ---- methods ------------------------------------------------------------- */

static Py_ssize_t dict_len(PyObject *op)
{
    if (NOT_READY(op))
        return -1;
    return (Py_ssize_t)cmp_dict_len(DICT(op));
}

/* d[key], d.get(key, default): default NULL raises KeyError. */
static PyObject *lookup(PyObject *op, PyObject *key, PyObject *dflt)
{
    if (NOT_READY(op))
        return NULL;
    located l;
    if (locate(DICT(op), key, &l) < 0)
        return NULL;
    int raw = 0;
    PyObject *r = NULL;
    if (l.slot)
        r = slot_value(&l, &raw);
    release(&l);
    if (!l.slot) {
        if (!dflt)
            key_error(key);
        else
            Py_INCREF(dflt);
        return dflt;
    }
    return finish_read(r, raw);
}

static PyObject *dict_subscript(PyObject *op, PyObject *key)
{
    return lookup(op, key, NULL);
}

static int dict_ass(PyObject *op, PyObject *key, PyObject *value)
{
    if (NOT_READY(op))
        return -1;
    cmp_dict *d = DICT(op);
    enc v;
    if (value && encode_value(&v, value) < 0)
        return -1;
    located l;
    if (locate(d, key, &l) < 0) {
        if (value)
            enc_free(&v);
        return -1;
    }
    int r = 0;
    if (!value) {
        if (l.slot)
            cmp_dseg_remove(cmp_the_arena, l.s, l.slot);
        else
            r = -1;
    } else {
        r = put_locked(cmp_the_arena, l.s, l.h, &l.k, &v);
        enc_free(&v);
    }
    release(&l);
    if (r == -1)
        key_error(key);
    else if (r)
        no_memory();
    return r ? -1 : 0;
}

static int dict_contains(PyObject *op, PyObject *key)
{
    if (NOT_READY(op))
        return -1;
    located l;
    if (locate(DICT(op), key, &l) < 0)
        return -1;
    int found = l.slot != NULL;
    release(&l);
    return found;
}

static PyObject *dict_get(PyObject *op, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 2)
        return PyErr_Format(PyExc_TypeError, "get expected 1 or 2 arguments, got %zd", nargs);
    return lookup(op, args[0], nargs > 1 ? args[1] : Py_None);
}

static PyObject *dict_setdefault(PyObject *op, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 2)
        return PyErr_Format(PyExc_TypeError,
                            "setdefault expected 1 or 2 arguments, got %zd", nargs);
    if (NOT_READY(op))
        return NULL;
    PyObject *dflt = nargs > 1 ? args[1] : Py_None;
    enc v;
    if (encode_value(&v, dflt) < 0)
        return NULL;
    located l;
    if (locate(DICT(op), args[0], &l) < 0) {
        enc_free(&v);
        return NULL;
    }
    int raw = 0, err = 0;
    PyObject *r = NULL;
    if (l.slot)
        r = slot_value(&l, &raw);
    else
        err = put_locked(cmp_the_arena, l.s, l.h, &l.k, &v);
    release(&l);
    enc_free(&v);
    if (l.slot)
        return finish_read(r, raw);
    if (err) {
        no_memory();
        return NULL;
    }
    Py_INCREF(dflt);
    return dflt;
}

static PyObject *dict_pop(PyObject *op, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 2)
        return PyErr_Format(PyExc_TypeError, "pop expected 1 or 2 arguments, got %zd", nargs);
    if (NOT_READY(op))
        return NULL;
    located l;
    if (locate(DICT(op), args[0], &l) < 0)
        return NULL;
    int raw = 0;
    PyObject *r = NULL;
    if (l.slot) {
        r = slot_value(&l, &raw);
        if (r)
            cmp_dseg_remove(cmp_the_arena, l.s, l.slot);
    }
    release(&l);
    if (l.slot)
        return finish_read(r, raw);
    if (nargs > 1) {
        Py_INCREF(args[1]);
        return args[1];
    }
    key_error(args[0]);
    return NULL;
}

/* An entry copied out as one bytes object: [u32 klen][key][value]. */
static PyObject *copy_entry(cmp_dentry *e)
{
    PyObject *b = PyBytes_FromStringAndSize(NULL, 4 + (Py_ssize_t)e->klen + e->vlen);
    if (!b)
        return NULL;
    char *p = PyBytes_AS_STRING(b);
    memcpy(p, &e->klen, 4);
    memcpy(p + 4, cmp_dentry_key(e), e->klen);
    memcpy(p + 4 + e->klen, cmp_dentry_value(e), e->vlen);
    return b;
}

/* what: 0 the key, 1 the value, 2 (key, value). */
static PyObject *decode_entry(PyObject *b, int what)
{
    const char *p = PyBytes_AS_STRING(b);
    uint32_t klen;
    memcpy(&klen, p, 4);
    size_t vlen = (size_t)PyBytes_GET_SIZE(b) - 4 - klen;
    if (what == 0)
        return decode(p + 4, klen);
    if (what == 1)
        return decode(p + 4 + klen, vlen);
    PyObject *k = decode(p + 4, klen);
    PyObject *v = k ? decode(p + 4 + klen, vlen) : NULL;
    PyObject *t = v ? PyTuple_Pack(2, k, v) : NULL;
    Py_XDECREF(k);
    Py_XDECREF(v);
    return t;
}

static unsigned pop_cursor;     /* where popitem looks first (GIL) */

static PyObject *dict_popitem(PyObject *op, PyObject *unused)
{
    (void)unused;
    if (NOT_READY(op))
        return NULL;
    cmp_dict *d = DICT(op);
    for (unsigned n = 0; n < CMP_DICT_SEGMENTS; n++) {
        cmp_dseg *s = &d->seg[(pop_cursor + n) % CMP_DICT_SEGMENTS];
        /* Relaxed: a hint; the segment is looked at under its lock. */
        if (__atomic_load_n(&s->count, __ATOMIC_RELAXED) == 0)
            continue;
        if (lock_seg(d, s) < 0)
            return NULL;
        uint64_t i = 0;
        cmp_dslot *slot = cmp_dseg_next(cmp_the_arena, s, &i);
        PyObject *b = NULL;
        if (slot) {
            b = copy_entry(cmp_dentry_at(cmp_the_arena, slot->entry));
            if (b)
                cmp_dseg_remove(cmp_the_arena, s, slot);
        }
        unlock_seg(s);
        if (slot) {
            pop_cursor = (pop_cursor + n) % CMP_DICT_SEGMENTS;
            if (!b)
                return NULL;
            PyObject *r = decode_entry(b, 2);
            Py_DECREF(b);
            return r;
        }
    }
    PyErr_SetString(PyExc_KeyError, "popitem(): dictionary is empty");
    return NULL;
}

/* _snapshot(what): a list of the keys (0), values (1) or items (2), each
 * segment copied under its lock (a snapshot of one instant when the
 * caller holds d.lock). */
static PyObject *dict_snapshot(PyObject *op, PyObject *arg)
{
    if (NOT_READY(op))
        return NULL;
    long what = PyLong_AsLong(arg);
    if (what == -1 && PyErr_Occurred())
        return NULL;
    cmp_dict *d = DICT(op);
    PyObject *out = PyList_New(0);
    for (unsigned n = 0; out && n < CMP_DICT_SEGMENTS; n++) {
        cmp_dseg *s = &d->seg[n];
        /* Relaxed: see popitem. */
        if (__atomic_load_n(&s->count, __ATOMIC_RELAXED) == 0)
            continue;
        if (lock_seg(d, s) < 0) {
            Py_CLEAR(out);
            break;
        }
        /* Copies only: a list of bytes is built after the lock (a list is
         * tracked by the collector, bytes objects are not). */
        uint32_t count = s->count, got = 0;
        PyObject **copies = PyMem_Malloc((count ? count : 1) * sizeof(PyObject *));
        uint64_t i = 0;
        cmp_dslot *slot;
        while (copies && got < count && (slot = cmp_dseg_next(cmp_the_arena, s, &i))) {
            if (!(copies[got] = copy_entry(cmp_dentry_at(cmp_the_arena, slot->entry))))
                break;
            got++;
        }
        unlock_seg(s);
        if (!copies) {
            PyErr_NoMemory();
            Py_CLEAR(out);
            break;
        }
        for (uint32_t j = 0; j < got; j++) {
            PyObject *item = out && !PyErr_Occurred() ? decode_entry(copies[j], (int)what) : NULL;
            if (item && PyList_Append(out, item) < 0)
                Py_CLEAR(out);
            if (!item)
                Py_CLEAR(out);
            Py_XDECREF(item);
            Py_DECREF(copies[j]);
        }
        PyMem_Free(copies);
    }
    return out;
}

static PyObject *dict_clear(PyObject *op, PyObject *unused)
{
    (void)unused;
    if (NOT_READY(op))
        return NULL;
    cmp_dict *d = DICT(op);
    cmp_deadline forever = cmp_deadline_forever();
    if (lock_all(d, &forever, 0) < 0)
        return NULL;
    /* Atomic, and the others wait only for 64 stores: the entries are
     * freed after the segments are let go. */
    uint64_t tables[CMP_DICT_SEGMENTS];
    for (unsigned i = 0; i < CMP_DICT_SEGMENTS; i++)
        tables[i] = cmp_dseg_detach(&d->seg[i]);
    unlock_upto(d, CMP_DICT_SEGMENTS, 0);
    for (unsigned i = 0; i < CMP_DICT_SEGMENTS; i++)
        cmp_dict_free_table(cmp_the_arena, tables[i]);
    Py_RETURN_NONE;
}

/* _update(pairs): set every (key, value) of a list, all under every
 * segment's lock.  Everything is encoded first: a key or value that cannot
 * be encoded raises before anything changes. */
static PyObject *dict_update_pairs(PyObject *op, PyObject *pairs)
{
    if (NOT_READY(op))
        return NULL;
    if (!PyList_Check(pairs))
        return PyErr_Format(PyExc_TypeError, "_update() needs a list");
    cmp_dict *d = DICT(op);
    Py_ssize_t n = PyList_GET_SIZE(pairs);
    enc all;        /* records: [u64 hash][u32 klen][u32 vlen][key][value] */
    enc_init(&all);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *pair = PyList_GET_ITEM(pairs, i);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
            enc_free(&all);
            return PyErr_Format(PyExc_TypeError, "_update() needs (key, value) tuples");
        }
        enc k, v;
        if (encode_key(&k, PyTuple_GET_ITEM(pair, 0)) < 0)
            goto fail;
        if (encode_value(&v, PyTuple_GET_ITEM(pair, 1)) < 0) {
            enc_free(&k);
            goto fail;
        }
        uint64_t h = cmp_dict_hash(d, k.p, (size_t)k.len);
        uint32_t lens[2] = {(uint32_t)k.len, (uint32_t)v.len};
        int r = enc_put(&all, &h, 8) < 0 || enc_put(&all, lens, 8) < 0 ||
                enc_put(&all, k.p, k.len) < 0 || enc_put(&all, v.p, v.len) < 0;
        enc_free(&k);
        enc_free(&v);
        if (r)
            goto fail;
    }
    cmp_deadline forever = cmp_deadline_forever();
    if (lock_all(d, &forever, 0) < 0)
        goto fail;
    int err = 0;
    for (Py_ssize_t at = 0; at < all.len && !err;) {
        uint64_t h;
        uint32_t lens[2];
        memcpy(&h, all.p + at, 8);
        memcpy(lens, all.p + at + 8, 8);
        enc k = {.p = all.p + at + 16, .len = lens[0]};
        enc v = {.p = all.p + at + 16 + lens[0], .len = lens[1]};
        err = put_locked(cmp_the_arena, cmp_dict_seg(d, h), h, &k, &v);
        at += 16 + lens[0] + lens[1];
    }
    unlock_upto(d, CMP_DICT_SEGMENTS, 0);
    enc_free(&all);
    if (err) {
        return cmp_raise_arena_full("the pairs before the one that did not fit were set");
    }
    Py_RETURN_NONE;
fail:
    enc_free(&all);
    return NULL;
}

/* increment(key, delta=1): the generic way, for any values with a `+`:
 * read, add outside the lock, store when the value is still the one read
 * (else read again). */
static PyObject *increment_generic(cmp_dict *d, PyObject *key, PyObject *delta)
{
    for (;;) {
        located l;
        if (locate(d, key, &l) < 0)
            return NULL;
        PyObject *seen = NULL;
        if (l.slot)
            seen = copy_entry(cmp_dentry_at(cmp_the_arena, l.slot->entry));
        release(&l);
        if (l.slot && !seen)
            return NULL;
        PyObject *old = seen ? decode_entry(seen, 1) : PyLong_FromLong(0);
        PyObject *sum = old ? PyNumber_Add(old, delta) : NULL;
        Py_XDECREF(old);
        enc v;
        if (!sum || encode_value(&v, sum) < 0) {
            Py_XDECREF(seen);
            Py_XDECREF(sum);
            return NULL;
        }
        if (locate(d, key, &l) < 0) {
            Py_XDECREF(seen);
            Py_DECREF(sum);
            enc_free(&v);
            return NULL;
        }
        int same, err = 0;
        if (!l.slot || !seen) {
            same = !l.slot && !seen;
        } else {
            cmp_dentry *e = cmp_dentry_at(cmp_the_arena, l.slot->entry);
            const char *p = PyBytes_AS_STRING(seen);
            same = (size_t)PyBytes_GET_SIZE(seen) == 4 + (size_t)e->klen + e->vlen &&
                   memcmp(p + 4 + e->klen, cmp_dentry_value(e), e->vlen) == 0;
        }
        if (same)
            err = put_locked(cmp_the_arena, l.s, l.h, &l.k, &v);
        release(&l);
        enc_free(&v);
        Py_XDECREF(seen);
        if (same && !err)
            return sum;
        Py_DECREF(sum);
        if (err) {
            no_memory();
            return NULL;
        }
    }
}

static const char *const increment_names[] = {"key", "delta"};

static PyObject *dict_increment(PyObject *op, PyObject *const *args, Py_ssize_t nargs,
                                PyObject *kwnames)
{
    PyObject *a[2] = {NULL, NULL};
    if (__builtin_expect(nargs == 1 && !kwnames, 1))
        a[0] = args[0];
    else if (cmp_parse_args("increment", args, nargs, kwnames, increment_names, 2, 1, a) < 0)
        return NULL;
    if (NOT_READY(op))
        return NULL;
    cmp_dict *d = DICT(op);
    long long delta = 1;
    if (a[1]) {
        int overflow = 0;
        if (!Py_IS_TYPE(a[1], &PyLong_Type) ||
            ((delta = PyLong_AsLongLongAndOverflow(a[1], &overflow)), overflow))
            return increment_generic(d, a[0], a[1]);
        if (delta == -1 && PyErr_Occurred())
            return NULL;
    }
    located l;
    if (locate(d, a[0], &l) < 0)
        return NULL;
    long long now = delta;
    int err = 0;
    if (l.slot) {
        cmp_dentry *e = cmp_dentry_at(cmp_the_arena, l.slot->entry);
        const char *v = cmp_dentry_value(e);
        if (e->vlen != 9 || v[0] != TAG_INT ||
            __builtin_add_overflow((long long)cmp_dentry_scalar(e), delta, &now)) {
            release(&l);
            PyObject *dl = a[1] ? (Py_INCREF(a[1]), a[1]) : PyLong_FromLong(1);
            PyObject *r = dl ? increment_generic(d, a[0], dl) : NULL;
            Py_XDECREF(dl);
            return r;
        }
        cmp_dentry_set_scalar(e, (uint64_t)now);
    } else {
        enc v;
        enc_init(&v);
        enc_tag8(&v, TAG_INT, &delta);      /* fits the small buffer */
        err = put_locked(cmp_the_arena, l.s, l.h, &l.k, &v);
    }
    release(&l);
    if (err) {
        no_memory();
        return NULL;
    }
    return PyLong_FromLongLong(now);
}

static const char *const lock_names[] = {"block", "timeout"};

/* _lock_all(block=True, timeout=None) -> bool: d.lock.acquire. */
static PyObject *dict_lock_all(PyObject *op, PyObject *const *args, Py_ssize_t nargs,
                               PyObject *kwnames)
{
    PyObject *a[2] = {NULL, NULL};
    if (cmp_parse_args("acquire", args, nargs, kwnames, lock_names, 2, 0, a) < 0 ||
        NOT_READY(op))
        return NULL;
    int block = 1;
    if (a[0] && (block = PyObject_IsTrue(a[0])) < 0)
        return NULL;
    cmp_deadline dl;
    if (!block)
        dl = cmp_deadline_after(0);
    else if (cmp_timeout_to_deadline(a[1], &dl) < 0)
        return NULL;
    int r = lock_all(DICT(op), &dl, 1);
    if (r < 0)
        return NULL;
    return PyBool_FromLong(r);
}

static PyObject *dict_unlock_all(PyObject *op, PyObject *const *args, Py_ssize_t nargs)
{
    (void)args; (void)nargs;
    if (NOT_READY(op))
        return NULL;
    cmp_dict *d = DICT(op);
    if (cmp_lock_owner(&d->seg[0].lock) != cmp_thread_owner() || d->seg[0].user == 0) {
        PyErr_SetString(PyExc_RuntimeError, "cannot release un-acquired lock");
        return NULL;
    }
    unlock_upto(d, CMP_DICT_SEGMENTS, 1);
    Py_RETURN_NONE;
}

static PyObject *dict_lock_held(PyObject *op, PyObject *unused)
{
    (void)unused;
    if (NOT_READY(op))
        return NULL;
    cmp_dict *d = DICT(op);
    return PyBool_FromLong(cmp_lock_owner(&d->seg[0].lock) == cmp_thread_owner() &&
                           d->seg[0].user > 0);
}

/* _check(): raise AssertionError unless every segment is consistent. */
static PyObject *dict_check(PyObject *op, PyObject *unused)
{
    (void)unused;
    if (NOT_READY(op))
        return NULL;
    cmp_dict *d = DICT(op);
    for (unsigned i = 0; i < CMP_DICT_SEGMENTS; i++) {
        if (lock_seg(d, &d->seg[i]) < 0)
            return NULL;
        const char *bad = cmp_dseg_check(cmp_the_arena, d, &d->seg[i]);
        unlock_seg(&d->seg[i]);
        if (bad)
            return PyErr_Format(PyExc_AssertionError, "segment %u: %s", i, bad);
    }
    Py_RETURN_NONE;
}

/* _segment_sizes(): [(count, slots)] of every segment (tests). */
static PyObject *dict_segment_sizes(PyObject *op, PyObject *unused)
{
    (void)unused;
    if (NOT_READY(op))
        return NULL;
    cmp_dict *d = DICT(op);
    PyObject *out = PyList_New(CMP_DICT_SEGMENTS);
    for (unsigned i = 0; out && i < CMP_DICT_SEGMENTS; i++) {
        /* Relaxed: a statistic; the table word is published whole. */
        uint64_t w = __atomic_load_n(&d->seg[i].table, __ATOMIC_RELAXED);
        PyObject *t = Py_BuildValue("(IK)", __atomic_load_n(&d->seg[i].count, __ATOMIC_RELAXED),
                                    (unsigned long long)(w ? 1ull << (w >> 48) : 0));
        if (!t)
            Py_CLEAR(out);
        else
            PyList_SET_ITEM(out, i, t);
    }
    return out;
}

static PyObject *dict_recovered(PyObject *op, PyObject *unused)
{
    (void)unused;
    if (NOT_READY(op))
        return NULL;
    /* Relaxed: a statistic. */
    return PyLong_FromUnsignedLong(__atomic_load_n(&DICT(op)->recovered, __ATOMIC_RELAXED));
}

static int dict_init(PyObject *self, PyObject *args, PyObject *kwds)
{
    if (PyTuple_GET_SIZE(args) || (kwds && PyDict_GET_SIZE(kwds))) {
        PyErr_SetString(PyExc_TypeError, "_cmp.Dict() takes no arguments");
        return -1;
    }
    if (cmp_shared_create((cmp_shared *)self, CMP_KIND_DICT, sizeof(cmp_dict)) < 0)
        return -1;
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed)
        seed = cmp_arena_token(cmp_the_arena) ^ ((cmp_shared *)self)->off * 0x9e3779b97f4a7c15ull;
    cmp_dict_init(DICT(self), seed);
    return 0;
}

static void destroy_dict(cmp_arena *a, void *body)
{
    cmp_dict_destroy(a, (cmp_dict *)body);
}

static PyMemberDef dict_members[] = {
    CMP_SHARED_WEAKREFS,
    {NULL, 0, 0, 0, NULL},
};

#define FASTCALL(f) (PyCFunction)(void (*)(void))(f)

static PyMethodDef dict_methods[] = {
    {"get", FASTCALL(dict_get), METH_FASTCALL,
     "get($self, key, default=None, /)\n--\n\nd[key] if key is in d, else default."},
    {"setdefault", FASTCALL(dict_setdefault), METH_FASTCALL,
     "setdefault($self, key, default=None, /)\n--\n\n"
     "d[key] if key is in d, else set d[key] = default and return it (atomic)."},
    {"pop", FASTCALL(dict_pop), METH_FASTCALL,
     "pop($self, key, default=<unrepresentable>, /)\n--\n\n"
     "Remove key and return its value (atomic); default, or KeyError, when missing."},
    {"popitem", dict_popitem, METH_NOARGS,
     "popitem($self, /)\n--\n\nRemove and return some (key, value) pair (atomic); "
     "KeyError when empty."},
    {"increment", FASTCALL(dict_increment), METH_FASTCALL | METH_KEYWORDS,
     "increment($self, /, key, delta=1)\n--\n\n"
     "Atomically d[key] = d.get(key, 0) + delta; return the new value."},
    {"clear", dict_clear, METH_NOARGS,
     "clear($self, /)\n--\n\nRemove every item (atomic)."},
    {"_update", dict_update_pairs, METH_O,
     "_update($self, pairs, /)\n--\n\nSet each (key, value) of a list, atomically."},
    {"_snapshot", dict_snapshot, METH_O,
     "_snapshot($self, what, /)\n--\n\nA list of the keys (0), values (1) or items (2)."},
    {"_lock_all", FASTCALL(dict_lock_all), METH_FASTCALL | METH_KEYWORDS,
     "_lock_all($self, /, block=True, timeout=None)\n--\n\nTake every segment (d.lock)."},
    {"_unlock_all", FASTCALL(dict_unlock_all), METH_FASTCALL,
     "_unlock_all($self, /)\n--\n\nLet every segment go (d.lock)."},
    {"_lock_held", dict_lock_held, METH_NOARGS,
     "_lock_held($self, /)\n--\n\nWhether the calling thread holds d.lock."},
    {"_check", dict_check, METH_NOARGS,
     "_check($self, /)\n--\n\nRaise AssertionError unless the table is consistent."},
    {"_segment_sizes", dict_segment_sizes, METH_NOARGS,
     "_segment_sizes($self, /)\n--\n\n[(count, slots)] of every segment."},
    {"_recovered", dict_recovered, METH_NOARGS,
     "_recovered($self, /)\n--\n\nSegments taken over from dead owners so far."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot dict_slots[] = {
    {Py_tp_init, dict_init},
    {Py_tp_dealloc, cmp_shared_dealloc},
    {Py_tp_methods, dict_methods},
    {Py_tp_members, dict_members},
    {Py_mp_length, dict_len},
    {Py_mp_subscript, dict_subscript},
    {Py_mp_ass_subscript, dict_ass},
    {Py_sq_contains, dict_contains},
    {Py_tp_doc, "The C half of cmp.Dict (see cmp/shareddict.py)."},
    {0, NULL},
};

static PyType_Spec dict_spec = {
    "_cmp.Dict", sizeof(cmp_shared), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE, dict_slots,
};

int cmp_add_dict_type(PyObject *module)
{
    cmp_register_destroy(CMP_KIND_DICT, destroy_dict);
    return cmp_add_type(module, &dict_spec, NULL, CMP_KIND_DICT, NULL);
}
