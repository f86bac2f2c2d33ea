"""ctypes objects in cmp's shared arena: the stdlib's sharedctypes API.

``RawValue``/``RawArray`` return ctypes objects laid over a block of the
shared arena (``SharedBuffer``); the block lives while any process of the
tree holds it.  ``Value``/``Array`` wrap them with a lock as the stdlib
does (``Synchronized``, ``SynchronizedArray``, ``SynchronizedString``, or
``Synchronized<Structure>``), but for the typecodes of the table
(``c b B h H i I l L q Q f d`` and their ctypes types) ``.value`` and
``arr[i]`` run in C, taking a cmp lock by its C fast path.  The lock is
still taken for every access, as in the stdlib: a reader never sees a
half-written value, and ``get_lock()`` returns the lock that guards it.

Extensions (additive):

* ``Array`` wrappers support the buffer protocol: ``memoryview(arr)`` and
  ``numpy.frombuffer(arr)`` are zero-copy views of the shared memory (so are
  views of ``arr.get_obj()``, as in the stdlib).  A view is not guarded by
  the lock: take it yourself around accesses that must be consistent.
* Lock-free atomic read-modify-write on integer Values and Array elements
  (typecodes ``b B h H i I l L q Q``)::

      v.fetch_add(delta=1) -> old         arr.fetch_add(i, delta=1) -> old
      v.exchange(value) -> old            arr.exchange(i, value) -> old
      v.compare_exchange(expected, desired) -> found
      arr.compare_exchange(i, expected, desired) -> found

  They are sequentially consistent and do not take the lock, so a shared
  counter needs none: ``v.fetch_add(1)`` from many processes counts
  exactly.  Values wrap around at the type's width, as ctypes' stores do.
  ``compare_exchange`` returns the value it found; the store happened
  exactly when that equals ``expected``.  They are atomic with respect to
  each other and to single reads and writes, but not to a read-then-write
  made under the lock (``with v.get_lock(): v.value += 1`` in one process
  and ``v.fetch_add(1)`` in another may lose an update): use one or the
  other for a given value.
* Every object here (raw or synchronized) may be pickled to any process of
  the same process tree at any time (through a queue, as Pool arguments),
  not only passed at process creation.
"""
import ctypes
import weakref

from multiprocessing import context as _mpctx
from multiprocessing import reduction as _reduction
from multiprocessing import sharedctypes as _std

from . import _cmp
from ._core import c_class
from ._reduce import reduce_shared

_ForkingPickler = _reduction.ForkingPickler
assert_spawning = _mpctx.assert_spawning

__all__ = ['RawValue', 'RawArray', 'Value', 'Array', 'copy', 'synchronized']

typecode_to_type = {
    'c': ctypes.c_char,     'u': ctypes.c_wchar,
    'b': ctypes.c_byte,     'B': ctypes.c_ubyte,
    'h': ctypes.c_short,    'H': ctypes.c_ushort,
    'i': ctypes.c_int,      'I': ctypes.c_uint,
    'l': ctypes.c_long,     'L': ctypes.c_ulong,
    'q': ctypes.c_longlong, 'Q': ctypes.c_ulonglong,
    'f': ctypes.c_float,    'd': ctypes.c_double
    }

# ctypes type -> the typecode whose C fast path serves it ('u' goes through
# ctypes).  On LP64, c_longlong is c_long: both are 8-byte signed.
_fast_code = {t: code for code, t in typecode_to_type.items() if code != 'u'}


@c_class(_cmp.SharedBuffer)
class SharedBuffer:
    """SharedBuffer(nbytes): zeroed bytes in the shared arena."""

    __reduce__ = reduce_shared

    def __repr__(self):
        return '<%s nbytes=%d>' % (type(self).__name__, self.nbytes)


#
# Raw objects
#

def _new_value(type_):
    return rebuild_ctype(type_, SharedBuffer(ctypes.sizeof(type_)))


def rebuild_ctype(type_, buf, length=None):
    if length is not None:
        type_ = type_ * length
    _ForkingPickler.register(type_, reduce_ctype)
    obj = type_.from_buffer(buf)
    obj._cmp_buffer = buf
    return obj


def reduce_ctype(obj):
    buf = getattr(obj, '_cmp_buffer', None)
    if buf is None:
        # Not ours (the stdlib's, say): the stdlib's reduction.
        return _std.reduce_ctype(obj)
    if isinstance(obj, ctypes.Array):
        return rebuild_ctype, (obj._type_, buf, obj._length_)
    return rebuild_ctype, (type(obj), buf)


def RawValue(typecode_or_type, *args):
    '''
    Returns a ctypes object allocated from shared memory
    '''
    type_ = typecode_to_type.get(typecode_or_type, typecode_or_type)
    obj = _new_value(type_)
    obj.__init__(*args)
    return obj


def RawArray(typecode_or_type, size_or_initializer):
    '''
    Returns a ctypes array allocated from shared memory
    '''
    type_ = typecode_to_type.get(typecode_or_type, typecode_or_type)
    if isinstance(size_or_initializer, int):
        return _new_value(type_ * size_or_initializer)
    type_ = type_ * len(size_or_initializer)
    result = _new_value(type_)
    result.__init__(*size_or_initializer)
    return result


def _new_rlock(ctx):
    # As the stdlib: a context's RLock, the current start method's by default.
    if ctx is None:
        from .context import _default_context as ctx
    return ctx.RLock()


def _resolve_lock(lock, ctx):
    if lock in (True, None):
        lock = _new_rlock(ctx)
    if not hasattr(lock, 'acquire'):
        raise AttributeError("%r has no method 'acquire'" % lock)
    return lock


def Value(typecode_or_type, *args, lock=True, ctx=None):
    '''
    Return a synchronization wrapper for a Value
    '''
    obj = RawValue(typecode_or_type, *args)
    if lock is False:
        return obj
    return synchronized(obj, _resolve_lock(lock, ctx), ctx=ctx)


def Array(typecode_or_type, size_or_initializer, *, lock=True, ctx=None):
    '''
    Return a synchronization wrapper for a RawArray
    '''
    obj = RawArray(typecode_or_type, size_or_initializer)
    if lock is False:
        return obj
    return synchronized(obj, _resolve_lock(lock, ctx), ctx=ctx)


def copy(obj):
    new_obj = _new_value(type(obj))
    ctypes.pointer(new_obj)[0] = obj
    return new_obj


def synchronized(obj, lock=None, ctx=None):
    assert not isinstance(obj, SynchronizedBase), 'object already synchronized'

    if isinstance(obj, ctypes._SimpleCData):
        return Synchronized(obj, lock, ctx)
    elif isinstance(obj, ctypes.Array):
        if obj._type_ is ctypes.c_char:
            return SynchronizedString(obj, lock, ctx)
        return SynchronizedArray(obj, lock, ctx)
    else:
        cls = type(obj)
        try:
            scls = class_cache[cls]
        except KeyError:
            names = [field[0] for field in cls._fields_]
            d = {name: make_property(name) for name in names}
            classname = 'Synchronized' + cls.__name__
            scls = class_cache[cls] = type(classname, (SynchronizedBase,), d)
        return scls(obj, lock, ctx)


def _rebuild_synchronized(type_, buf, length, lock):
    return synchronized(rebuild_ctype(type_, buf, length), lock)


#
# Properties of Structure wrappers and of SynchronizedString
#

def make_property(name):
    try:
        return prop_cache[name]
    except KeyError:
        pass

    def get(self):
        with self:
            return getattr(self._obj, name)

    def set(self, value):
        with self:
            setattr(self._obj, name, value)

    prop_cache[name] = prop = property(get, set)
    return prop


prop_cache = {}
class_cache = weakref.WeakKeyDictionary()


#
# Synchronized wrappers
#

# Synchronized, SynchronizedArray and SynchronizedString are C types
# (cmp._core.c_class) on SynchronizedBase: `.value`, items, atomics and
# the lock's fast path are theirs.

@c_class(_cmp.SyncBase)
class SynchronizedBase:
    """A ctypes object and the lock every access takes."""

    def __init__(self, obj, lock=None, ctx=None):
        if not lock:
            lock = _new_rlock(ctx)
        if isinstance(obj, ctypes.Array):
            code, length = _fast_code.get(obj._type_), len(obj)
        else:
            code, length = _fast_code.get(type(obj)), 1
        self._setup(obj, lock, code, length)
        self.acquire = lock.acquire
        self.release = lock.release

    def __reduce__(self):
        obj = self._obj
        buf = getattr(obj, '_cmp_buffer', None)
        if buf is None:
            assert_spawning(self)
            return synchronized, (self._obj, self._lock)
        if isinstance(obj, ctypes.Array):
            return _rebuild_synchronized, (obj._type_, buf, obj._length_, self._lock)
        return _rebuild_synchronized, (type(obj), buf, None, self._lock)

    def __repr__(self):
        return '<%s wrapper for %s>' % (type(self).__name__, self._obj)


@c_class(_cmp.SyncValue)
class Synchronized:
    """A Value with a lock: ``.value`` (C fast path), atomics."""


@c_class(_cmp.SyncArray)
class SynchronizedArray:
    """An Array with a lock: items, slices, len, iteration, buffer."""

    def __getslice__(self, start, stop):
        return self[start:stop]

    def __setslice__(self, start, stop, values):
        self[start:stop] = values


@c_class(_cmp.SyncString)
class SynchronizedString:
    """An Array of c_char with a lock: also ``.value`` and ``.raw``."""
    value = make_property('value')
    raw = make_property('raw')
