"""Value, Array, RawValue, RawArray and sharedctypes: the stdlib's behaviour,
run against both backends.  Where a result is the stdlib's by definition
(conversions, errors), it is compared with a plain ctypes object doing the
same thing, so every test is differential."""
import array
import ctypes
import gc
import inspect
import pickle
import sys
import threading

import pytest

from conftest import TIMEOUT

CODES = {
    'c': (b'x', b'y'), 'u': ('x', 'y'),
    'b': (-5, 7), 'B': (5, 250), 'h': (-232, 234), 'H': (232, 60000),
    'i': (4343, -24234), 'I': (4343, 2 ** 32 - 1), 'l': (2 ** 40, -2 ** 40),
    'L': (2 ** 40, 2 ** 64 - 1), 'q': (2 ** 33, -2 ** 62), 'Q': (2 ** 33, 2 ** 63),
    'f': (3.625, -4.25), 'd': (1.0 / 3.0, -2.5e300),
}
TYPES = {
    'c': ctypes.c_char, 'u': ctypes.c_wchar, 'b': ctypes.c_byte,
    'B': ctypes.c_ubyte, 'h': ctypes.c_short, 'H': ctypes.c_ushort,
    'i': ctypes.c_int, 'I': ctypes.c_uint, 'l': ctypes.c_long,
    'L': ctypes.c_ulong, 'q': ctypes.c_longlong, 'Q': ctypes.c_ulonglong,
    'f': ctypes.c_float, 'd': ctypes.c_double,
}
# Values that ctypes converts in its own way (truncation, bool, errors).
ODD_VALUES = [2 ** 40 + 5, -1, 2 ** 70, True, 1.5, 7, 'x', b'z', None, 10 ** 400,
              float('inf'), 2 ** 63]
INT_CODES = 'bBhHiIlLqQ'


@pytest.fixture(scope='module', autouse=True)
def stdlib_heap_warmed_up():
    """The stdlib keeps the small arenas of its sharedctypes heap (one open
    file each) for reuse: create them before the leftover check looks."""
    import multiprocessing.sharedctypes as std
    blocks = [std.RawArray('c', 1 << k) for k in range(10, 22)]
    del blocks
    gc.collect()
    yield


def _sharedctypes(mp):
    if getattr(mp, '__name__', '') == 'cmp':
        import cmp.sharedctypes as sc
    else:
        import multiprocessing.sharedctypes as sc
    return sc


def _outcome(fn):
    """What fn() gives: ('ok', result) or (exception type, message)."""
    try:
        return ('ok', fn())
    except Exception as e:
        return (type(e), str(e))


def _set_value(obj, v):
    obj.value = v
    return obj.value


class Foo(ctypes.Structure):
    _fields_ = [('x', ctypes.c_int), ('y', ctypes.c_double), ('z', ctypes.c_longlong)]


# ---- Value --------------------------------------------------------------

@pytest.mark.parametrize('code', sorted(CODES))
@pytest.mark.parametrize('kind', ['Value', 'RawValue', 'Value-nolock', 'type'])
def test_value_every_typecode(mp, code, kind):
    first, second = CODES[code]
    if kind == 'Value':
        v = mp.Value(code, first)
    elif kind == 'RawValue':
        v = mp.RawValue(code, first)
    elif kind == 'Value-nolock':
        v = mp.Value(code, first, lock=False)
    else:
        v = mp.Value(TYPES[code], first)
    ref = TYPES[code](first)
    assert v.value == ref.value
    v.value = second
    ref.value = second
    assert v.value == ref.value
    zero = mp.Value(code) if kind != 'RawValue' else mp.RawValue(code)
    assert zero.value == TYPES[code]().value
    for odd in ODD_VALUES:
        assert _outcome(lambda: _set_value(v, odd)) == \
            _outcome(lambda: _set_value(ref, odd)), (code, odd)


def test_value_reprs_and_classes(mp):
    sc = _sharedctypes(mp)
    v = mp.Value('i', 3)
    assert repr(v) == '<Synchronized wrapper for c_int(3)>'
    assert type(v).__name__ == 'Synchronized'
    assert isinstance(v, sc.Synchronized) and isinstance(v, sc.SynchronizedBase)
    assert repr(mp.Value('d', 1.5)) == '<Synchronized wrapper for c_double(1.5)>'
    assert repr(mp.Value('c', b'a')) == "<Synchronized wrapper for c_char(b'a')>"
    raw = mp.RawValue('i', 3)
    assert repr(raw) == 'c_int(3)' and type(raw) is ctypes.c_int
    a = mp.Array('i', 3)
    assert type(a).__name__ == 'SynchronizedArray'
    assert isinstance(a, sc.SynchronizedArray) and isinstance(a, sc.SynchronizedBase)
    assert repr(a).startswith('<SynchronizedArray wrapper for <') and 'c_int_Array_3' in repr(a)
    s = mp.Array('c', 3)
    assert isinstance(s, sc.SynchronizedString) and type(s).__name__ == 'SynchronizedString'
    assert isinstance(mp.RawArray('d', 2), ctypes.Array)
    assert not hasattr(a, 'value') and hasattr(s, 'value') and hasattr(s, 'raw')
    with pytest.raises(TypeError):
        len(v)
    with pytest.raises(TypeError):
        v[0]


def test_value_lock_argument(mp):
    v = mp.Value('i', 5)
    lock = v.get_lock()
    assert hasattr(lock, 'acquire') and v.get_obj().value == 5
    assert type(v.get_obj()) is ctypes.c_int
    assert mp.Value('i', 5, lock=None).get_lock() is not None
    given = mp.Lock()
    v3 = mp.Value('i', 5, lock=given)
    assert v3.get_lock() is given
    v3.value = 6            # a non-recursive lock is taken and released
    assert v3.value == 6 and given.acquire(False)
    given.release()
    rgiven = mp.RLock()
    assert mp.Value('d', lock=rgiven).get_lock() is rgiven
    raw = mp.Value('i', 5, lock=False)
    assert not hasattr(raw, 'get_lock') and not hasattr(raw, 'get_obj')
    with pytest.raises(AttributeError):
        mp.Value('i', 5, lock='navalue')
    with pytest.raises(AttributeError):
        mp.Array('i', 5, lock='notalock')
    arr = mp.Array('i', range(10), lock=False)
    assert not hasattr(arr, 'get_lock')
    raw = mp.RawArray('i', range(10))
    assert not hasattr(raw, 'get_lock') and not hasattr(raw, 'get_obj')


def test_value_acquire_release_context(mp):
    v = mp.Value('i', 1)
    assert v.acquire() is True
    v.value += 1            # the RLock is recursive: nested access works
    v.release()
    with v as entered:
        assert entered is True
        v.value += 1
    with v.get_lock():
        v.value += 1
    assert v.value == 4
    assert v.get_lock().acquire(False)      # released everything it took
    v.get_lock().release()
    with pytest.raises(AssertionError):
        v.release()


def test_value_with_foreign_lock(mp):
    """A lock of the other backend (or any object with acquire/release)."""
    import multiprocessing
    v = mp.Value('q', 1, lock=multiprocessing.get_context('fork').RLock())
    v.value += 41
    assert v.value == 42
    with v:
        v.value = 7
    assert v.value == 7


def test_value_structure(mp):
    sc = _sharedctypes(mp)
    foo = mp.Value(Foo, 3, 2.0, 2 ** 33)
    assert type(foo).__name__ == 'SynchronizedFoo'
    assert isinstance(foo, sc.SynchronizedBase)
    assert (foo.x, foo.y, foo.z) == (3, 2.0, 2 ** 33)
    foo.x *= 2
    foo.y = 0.5
    assert foo.get_obj().x == 6 and foo.y == 0.5
    assert repr(foo).startswith('<SynchronizedFoo wrapper for <')
    raw = mp.RawValue(Foo, 1, 2, 3)
    assert type(raw) is Foo and (raw.x, raw.y, raw.z) == (1, 2.0, 3)
    arr = mp.Array(Foo, [(1, 1.0, 1), (2, 2.0, 2)])
    assert len(arr) == 2 and arr[1].x == 2
    arr[0] = Foo(9, 9.0, 9)
    assert arr[0].y == 9.0 and arr[-1].z == 2
    assert [f.x for f in arr] == [9, 2]


def test_copy_and_synchronized(mp):
    sc = _sharedctypes(mp)
    foo = Foo(2, 5.0, 2 ** 33)
    bar = sc.copy(foo)
    foo.x = foo.y = foo.z = 0
    assert (bar.x, bar.y, bar.z) == (2, 5.0, 2 ** 33)
    raw = sc.RawValue('i', 4)
    s = sc.synchronized(raw)
    assert type(s).__name__ == 'Synchronized' and s.value == 4
    s.value = 5
    assert raw.value == 5
    with pytest.raises(AssertionError):
        sc.synchronized(s)
    sa = sc.synchronized(sc.RawArray('c', b'ab'))
    assert type(sa).__name__ == 'SynchronizedString' and sa.value == b'ab'
    # A plain ctypes object (not in shared memory) can be wrapped too.
    local = ctypes.c_double(2.5)
    sl = sc.synchronized(local, mp.RLock())
    sl.value += 1
    assert local.value == 3.5
    assert sc.typecode_to_type == {c: TYPES[c] for c in TYPES}


def test_module_api(mp):
    import multiprocessing.sharedctypes as std
    sc = _sharedctypes(mp)
    for name in ('RawValue', 'RawArray', 'Value', 'Array', 'copy', 'synchronized',
                 'typecode_to_type', 'Synchronized', 'SynchronizedArray',
                 'SynchronizedString', 'SynchronizedBase', 'make_property',
                 'reduce_ctype', 'rebuild_ctype'):
        assert hasattr(sc, name), name
    assert sc.__all__ == std.__all__
    for name in ('RawValue', 'RawArray', 'Value', 'Array', 'copy', 'synchronized'):
        assert inspect.signature(getattr(sc, name)) == inspect.signature(getattr(std, name))
    import multiprocessing
    ctx = multiprocessing.get_context('fork')
    for name in ('RawValue', 'RawArray', 'Value', 'Array'):
        assert inspect.signature(getattr(mp, name)) == inspect.signature(getattr(ctx, name))


# ---- Array --------------------------------------------------------------

def _array_ops(arr, n):
    """Everything a program does with an array; returns what it saw."""
    seen = [len(arr), list(arr), arr[0], arr[-1], arr[n // 2]]
    for key in (slice(None), slice(1, None, 2), slice(None, None, -1), slice(-3, -1),
                slice(5, 1, -2), slice(100, 200), slice(None, None, 3)):
        seen.append(arr[key])
    for bad in (n, -n - 1, 2 ** 70, 'x', 1.0, None):
        seen.append(_outcome(lambda: arr[bad]))
    return seen


@pytest.mark.parametrize('code', sorted(CODES))
def test_array_every_typecode(mp, code):
    n = 10
    first, second = CODES[code]
    init = [first if i % 2 else second for i in range(n)]
    for arr in (mp.Array(code, init), mp.RawArray(code, init),
                mp.Array(TYPES[code], init), mp.Array(code, init, lock=mp.Lock())):
        ref = (TYPES[code] * n)(*init)
        assert _array_ops(arr, n) == _array_ops(ref, n)
        for key, value in [(0, second), (-1, first), (3, 2 ** 70), (2, 1.5), (4, True),
                           (n, first), (-n - 1, first), ('a', first),
                           (slice(0, 2), [second, first]), (slice(0, 3), [first]),
                           (slice(None, None, 2), [second] * (n // 2)),
                           (slice(1, 4), 'abc'), (slice(0, 1), [None])]:
            assert _outcome(lambda: arr.__setitem__(key, value)) == \
                _outcome(lambda: ref.__setitem__(key, value)), (key, value)
            assert list(arr) == list(ref)
        # The stdlib's wrapper says AttributeError (it has no __delitem__).
        with pytest.raises(AttributeError if hasattr(arr, 'get_lock') else TypeError):
            del arr[0]
        assert (first in arr) == (first in ref)
    zero = mp.Array(code, n)
    assert list(zero) == list((TYPES[code] * n)())


def test_array_from_size_is_zeroed(mp):
    for _ in range(3):
        arr = mp.Array('i', 10)
        assert len(arr) == 10 and list(arr) == [0] * 10
        arr[:] = range(10)
        assert list(arr) == list(range(10))
        del arr
    assert len(mp.Array('d', 0)) == 0 and mp.Array('d', 0)[:] == []


def test_array_slices_from_array_module(mp):
    seq = [680, 626, 934, 821, 150, 233, 548, 982, 714, 831]
    arr = mp.Array('i', seq)
    assert list(arr[2:7]) == seq[2:7]
    arr[4:8] = seq[4:8] = array.array('i', [1, 2, 3, 4])
    assert list(arr[:]) == seq


def test_char_and_wchar_arrays(mp):
    s = mp.Array('c', 20)
    s.value = b'hello'
    assert s.value == b'hello' and s.raw[:6] == b'hello\x00' and len(s.raw) == 20
    assert s[0] == b'h' and s[1:3] == b'el' and s[-1] == b'\x00'
    s.raw = b'x' * 20
    assert s.value == b'x' * 20
    with pytest.raises(ValueError):
        s.value = b'y' * 21
    ref = (ctypes.c_char * 20)()
    for bad in ('str', 5, [b'a']):
        assert _outcome(lambda: setattr(s, 'value', bad)) == \
            _outcome(lambda: setattr(ref, 'value', bad))
    s[0] = b'A'
    assert s.value[:1] == b'A'
    s2 = mp.Array('c', b'abc')
    assert s2.value == b'abc' and len(s2) == 3
    u = mp.Array('u', 'hello')
    assert u[:] == 'hello' and u[1] == 'e'
    raw = mp.RawArray('c', 4)
    raw.value = b'ab'
    assert raw.value == b'ab' and raw.raw == b'ab\x00\x00'


def test_array_get_obj_lock(mp):
    arr = mp.Array('i', list(range(10)))
    obj = arr.get_obj()
    assert isinstance(obj, ctypes.Array) and obj._type_ is ctypes.c_int
    obj[3] = 42
    assert arr[3] == 42
    lock = mp.Lock()
    assert mp.Array('i', 3, lock=lock).get_lock() is lock


def test_wrong_initialiser_sizes(mp):
    for args in [('i', 'abc'), ('c', [1, 2]), ('d', [1, 'x'])]:
        ref_type = TYPES[args[0]] * len(args[1])
        expected = _outcome(lambda: list(ref_type(*args[1])))
        assert _outcome(lambda: list(mp.Array(*args))) == expected
    with pytest.raises(TypeError):
        mp.Value('i', 1, 2)
    with pytest.raises(TypeError):
        mp.Value('i', 'x')
    with pytest.raises((TypeError, ValueError)):
        mp.Array('i', -1)


# ---- zero-copy views ------------------------------------------------------

def test_memoryview_of_get_obj_is_zero_copy(mp):
    arr = mp.Array('d', 8)
    view = memoryview(arr.get_obj())
    assert view.nbytes == 64 and not view.readonly
    view.cast('B')[:8] = memoryview(ctypes.c_double(2.5)).cast('B')
    assert arr[0] == 2.5


def test_numpy_frombuffer_get_obj(mp):
    np = pytest.importorskip('numpy')
    arr = mp.Array('d', 100)
    a = np.frombuffer(arr.get_obj())
    a[:] = np.arange(100)
    assert arr[99] == 99.0 and arr[:3] == [0.0, 1.0, 2.0]
    raw = mp.RawArray('i', 10)
    b = np.frombuffer(raw, dtype=np.int32)
    b += 7
    assert list(raw) == [7] * 10


def test_memoryview_of_array_wrapper():
    """cmp extension: Array and RawArray export the shared memory."""
    np = pytest.importorskip('numpy')
    import cmp
    arr = cmp.Array('d', 1000)
    view = memoryview(arr)
    assert (view.format, view.shape, view.itemsize, view.readonly) == ('d', (1000,), 8, False)
    view[5] = 1.25
    assert arr[5] == 1.25
    a = np.frombuffer(arr)
    a[6] = 3.0
    assert arr[6] == 3.0 and a[5] == 1.25
    assert np.shares_memory(a, np.frombuffer(arr.get_obj()))
    for code in 'bBhHiIlLqQfdc':
        v = memoryview(cmp.Array(code, 3))
        # c_long is c_longlong on LP64: either letter names the same type.
        assert v.format in (code, {'l': 'q', 'q': 'l', 'L': 'Q', 'Q': 'L'}.get(code))
        assert v.nbytes == 3 * ctypes.sizeof(TYPES[code])
    foo = memoryview(cmp.Array(Foo, 2))
    assert foo.nbytes == 2 * ctypes.sizeof(Foo)
    del view, a, foo


# ---- across processes ---------------------------------------------------

def _write_values(values, second):
    for v, s in zip(values, second):
        v.value = s


@pytest.mark.parametrize('raw', [False, True])
def test_writes_seen_by_other_processes(ctx, raw):
    make = ctx.RawValue if raw else ctx.Value
    values = [make(code, CODES[code][0]) for code in sorted(CODES)]
    second = [CODES[code][1] for code in sorted(CODES)]
    p = ctx.Process(target=_write_values, args=(values, second))
    p.start()
    p.join(TIMEOUT)
    assert p.exitcode == 0
    for v, code in zip(values, sorted(CODES)):
        ref = TYPES[code](CODES[code][1])
        assert v.value == ref.value


def _prefix_sum(seq):
    for i in range(1, len(seq)):
        seq[i] += seq[i - 1]


@pytest.mark.parametrize('raw', [False, True])
def test_array_across_processes(ctx, raw):
    seq = [680, 626, 934, 821, 150, 233, 548, 982, 714, 831]
    arr = ctx.RawArray('i', seq) if raw else ctx.Array('i', seq)
    p = ctx.Process(target=_prefix_sum, args=(arr,))
    p.start()
    p.join(TIMEOUT)
    assert p.exitcode == 0
    _prefix_sum(seq)
    assert list(arr[:]) == seq


def _double(x, y, z, foo, arr, string):
    x.value *= 2
    y.value *= 2
    z.value *= 2
    foo.x *= 2
    foo.y *= 2
    string.value *= 2
    for i in range(len(arr)):
        arr[i] *= 2


@pytest.mark.parametrize('lock', [False, True])
def test_sharedctypes_in_child(ctx, lock):
    x = ctx.Value('i', 7, lock=lock)
    y = ctx.Value(ctypes.c_double, 1.0 / 3.0, lock=lock)
    z = ctx.Value(ctypes.c_longlong, 2 ** 33, lock=lock)
    foo = ctx.Value(Foo, 3, 2, lock=lock)
    arr = ctx.Array('d', list(range(10)), lock=lock)
    string = ctx.Array('c', 20, lock=lock)
    string.value = b'hello'
    p = ctx.Process(target=_double, args=(x, y, z, foo, arr, string))
    p.start()
    p.join(TIMEOUT)
    assert p.exitcode == 0
    assert x.value == 14 and y.value == pytest.approx(2.0 / 3.0)
    assert z.value == 2 ** 34 and foo.x == 6 and foo.y == pytest.approx(4.0)
    assert [arr[i] for i in range(10)] == [i * 2.0 for i in range(10)]
    assert string.value == b'hellohello'


def _count_locked(v, arr, n):
    for _ in range(n):
        with v.get_lock():
            v.value += 1
        with arr.get_lock():
            arr[1] += 1


def test_locked_increments_count_exactly(ctx):
    v = ctx.Value('i', 0)
    arr = ctx.Array('q', 3)
    n, nproc = 2000, 4
    procs = [ctx.Process(target=_count_locked, args=(v, arr, n)) for _ in range(nproc)]
    for p in procs:
        p.start()
    _count_locked(v, arr, n)
    for p in procs:
        p.join(TIMEOUT)
        assert p.exitcode == 0
    assert v.value == n * (nproc + 1) and arr[1] == n * (nproc + 1)


def _hold_then_write(v, ready, go):
    with v.get_lock():
        ready.set()
        go.wait(TIMEOUT)
        v.value = 42


def test_read_takes_the_lock(ctx):
    """A reader waits while another process holds the lock (the stdlib's
    guarantee), and then sees what was written under it."""
    v = ctx.Value('i', 0)
    ready, go = ctx.Event(), ctx.Event()
    p = ctx.Process(target=_hold_then_write, args=(v, ready, go))
    p.start()
    assert ready.wait(TIMEOUT)
    got = []
    t = threading.Thread(target=lambda: got.append(v.value))
    t.start()
    t.join(0.1)
    assert t.is_alive() and got == []
    go.set()
    t.join(TIMEOUT)
    assert got == [42]
    p.join(TIMEOUT)
    assert p.exitcode == 0


def _flip(v, stop, n):
    a, b = (0, -1) if not isinstance(v.value, float) else (1.0 / 3.0, -2.5e300)
    i = 0
    while not stop.is_set() or i < n:
        v.value = a if i % 2 else b
        i += 1


@pytest.mark.parametrize('code', ['q', 'd', 'i'])
@pytest.mark.parametrize('raw', [True, False])
def test_scalar_reads_are_not_torn(ctx, code, raw):
    v = ctx.RawValue(code) if raw else ctx.Value(code, lock=False)
    stop = ctx.Event()
    p = ctx.Process(target=_flip, args=(v, stop, 1000))
    p.start()
    allowed = {0, -1, 1.0 / 3.0, -2.5e300}
    seen = set()
    for _ in range(200000):
        seen.add(v.value)
    stop.set()
    p.join(TIMEOUT)
    assert p.exitcode == 0
    assert seen <= allowed, seen - allowed


# ---- lifetime and pickling ----------------------------------------------

def test_memory_is_freed():
    import cmp
    gc.collect()
    before = cmp._cmp.arena_stats()['blocks_in_use']
    objs = [cmp.Value('i'), cmp.Array('d', 1000), cmp.RawValue('q'), cmp.RawArray('c', 10),
            cmp.Value(Foo), cmp.Array('i', 3, lock=False)]
    assert cmp._cmp.arena_stats()['blocks_in_use'] > before
    view = memoryview(objs[1])
    ref = objs[2]
    del objs
    gc.collect()
    assert ref.value == 0 and view[999] == 0.0      # still alive
    del view, ref
    gc.collect()
    assert cmp._cmp.arena_stats()['blocks_in_use'] == before


def _receive_and_add(conn):
    items = conn.recv()
    v, arr, raw, rawarr, foo, s = items
    v.value += 1
    arr[2] = 2.5
    raw.value = 7
    rawarr[0] = 9
    foo.x = 11
    s.value = b'child'
    v.fetch_add(10)
    conn.send('done')
    conn.close()


def test_pickle_to_running_child():
    """cmp extension: objects travel to a process that already runs."""
    import cmp
    parent, child = cmp.Pipe()
    p = cmp.Process(target=_receive_and_add, args=(child,))
    p.start()
    v, arr = cmp.Value('i', 1), cmp.Array('d', 4)
    raw, rawarr, foo = cmp.RawValue('q'), cmp.RawArray('i', 3), cmp.Value(Foo)
    s = cmp.Array('c', 10)
    parent.send((v, arr, raw, rawarr, foo, s))
    assert parent.recv() == 'done'
    p.join(TIMEOUT)
    assert p.exitcode == 0
    assert (v.value, arr[2], raw.value, rawarr[0], foo.x, s.value) == (12, 2.5, 7, 9, 11, b'child')
    parent.close()
    child.close()


def test_stdlib_refuses_pickling_after_start(mp):
    """The stdlib refuses; cmp's extension accepts (same process tree)."""
    from multiprocessing.reduction import ForkingPickler
    for obj in (mp.Value('i', 3), mp.Array('i', 3), mp.RawValue('i', 3), mp.RawArray('d', 2)):
        if getattr(mp, '__name__', '') == 'cmp':
            back = pickle.loads(bytes(ForkingPickler.dumps(obj)))
            assert type(back) is type(obj)
            if hasattr(obj, 'get_obj'):
                assert back.get_obj()._cmp_buffer.nbytes == ctypes.sizeof(obj.get_obj())
        else:
            with pytest.raises(RuntimeError):
                ForkingPickler.dumps(obj)


# ---- cmp extension: atomics ---------------------------------------------

@pytest.mark.parametrize('code', INT_CODES)
def test_atomics_wrap_like_ctypes(code):
    import cmp
    v = cmp.Value(code, 5)
    assert v.fetch_add() == 5 and v.value == 6
    assert v.fetch_add(-10) == 6
    ref = TYPES[code](6 - 10)
    assert v.value == ref.value
    big = 2 ** 70 + 3
    old = v.exchange(big)
    assert old == ref.value
    ref.value = big
    assert v.value == ref.value
    assert v.compare_exchange(0, 1) == ref.value and v.value == ref.value
    assert v.compare_exchange(ref.value, 9) == ref.value and v.value == 9
    assert v.fetch_add(delta=1) == 9
    arr = cmp.Array(code, 4)
    assert arr.fetch_add(1) == 0 and arr.fetch_add(-1, 5) == 0
    assert list(arr) == [0, 1, 0, 5]
    assert arr.exchange(0, 3) == 0 and arr.compare_exchange(0, 3, 4) == 3
    assert arr.compare_exchange(index=0, expected=3, desired=5) == 4 and arr[0] == 4
    with pytest.raises(IndexError):
        arr.fetch_add(4)
    with pytest.raises(TypeError):
        v.fetch_add(1.5)


def test_atomics_need_integer_typecode():
    import cmp
    for obj in (cmp.Value('d'), cmp.Value('c'), cmp.Value(Foo), cmp.Array('f', 2),
                cmp.Array('u', 2), cmp.Value(ctypes.c_bool)):
        for name, args in (('fetch_add', (0,) if hasattr(obj, '__len__') else ()),
                           ('compare_exchange', ((0,) if hasattr(obj, '__len__') else ()) + (0, 1))):
            if hasattr(obj, name):
                with pytest.raises(TypeError):
                    getattr(obj, name)(*args)


def _count_atomic(v, arr, n):
    for _ in range(n):
        v.fetch_add(1)
        arr.fetch_add(2, 3)


def test_atomic_counter_across_processes():
    import cmp
    v = cmp.Value('i', 0)
    arr = cmp.Array('Q', 4)
    n, nproc = 20000, 4
    procs = [cmp.Process(target=_count_atomic, args=(v, arr, n)) for _ in range(nproc)]
    for p in procs:
        p.start()
    _count_atomic(v, arr, n)
    for p in procs:
        p.join(TIMEOUT)
        assert p.exitcode == 0
    assert v.value == n * (nproc + 1) and arr[2] == 3 * n * (nproc + 1)


def test_refcounts_do_not_leak():
    import cmp
    v = cmp.Value('d', 1.5)
    arr = cmp.Array('i', 100)
    x = 12345678
    before = sys.getrefcount(x), sys.getrefcount(v), sys.getrefcount(arr)
    for _ in range(1000):
        arr[3] = x
        arr[3]
        arr[:]
        v.value
        v.value = 2.5
        v.get_lock()
        v.get_obj()
        with v:
            pass
    assert (sys.getrefcount(x), sys.getrefcount(v), sys.getrefcount(arr)) == before


def test_subclass_may_redefine_value(mp):
    sc = _sharedctypes(mp)

    class Doubling(sc.Synchronized):
        @property
        def value(self):
            return self.get_obj().value * 2

        @value.setter
        def value(self, v):
            self.get_obj().value = v + 1

    d = Doubling(mp.RawValue('i', 1), mp.RLock())
    d.value = 4
    assert d.get_obj().value == 5 and d.value == 10
    plain = mp.Value('i')
    plain.value = 3
    plain.other = 'x'
    assert plain.value == 3 and plain.other == 'x'
