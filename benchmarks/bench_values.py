"""How fast are shared Values and Arrays?

One process, no contention: what a program pays per access to a Value or
an Array element with its lock (lock=True: the stdlib takes an RLock for
every access; so does cmp, by the lock's C fast path), per locked
read-modify-write, per bulk copy of a large Array, and on the Raw (ctypes)
path.  "shared counter +1" is the stdlib's locked increment against cmp's
lock-free fetch_add (the stdlib has no atomic increment: the locked one is
what a stdlib program writes).  Every case checks what it read or wrote.
"""
import time
from itertools import repeat

from benchmarks.common import case


def _n(quick, full=1_000_000):
    return full // 20 if quick else full


def _rate(n, t0):
    return n / (time.perf_counter() - t0)


@case("Value('i') .value read (lock=True)", unit="ops/s")
def value_read(mp, quick):
    n, v = _n(quick), mp.Value('i', 7)
    t0 = time.perf_counter()
    for _ in repeat(None, n):
        v.value
    rate = _rate(n, t0)
    assert v.value == 7 and sum(v.value for _ in range(100)) == 700
    return rate


@case("Value('i') .value write (lock=True)", unit="ops/s")
def value_write(mp, quick):
    n, v = _n(quick), mp.Value('i')
    t0 = time.perf_counter()
    for _ in repeat(None, n):
        v.value = 12345
    rate = _rate(n, t0)
    assert v.value == 12345, v.value
    return rate


def _locked_increments(v, n):
    for _ in repeat(None, n):
        with v.get_lock():
            v.value += 1


def _atomic_increments(v, n):
    for _ in repeat(None, n):
        v.fetch_add(1)


def _count(mp, quick, loop):
    n, v = _n(quick, 500_000), mp.Value('i')
    t0 = time.perf_counter()
    loop(v, n)
    rate = _rate(n, t0)
    assert v.value == n, v.value
    return rate


@case("with v.get_lock(): v.value += 1", unit="ops/s")
def value_locked_increment(mp, quick):
    return _count(mp, quick, _locked_increments)


@case("shared counter +1 (stdlib: locked += 1; cmp: v.fetch_add(1))", unit="ops/s")
def value_atomic_increment(mp, quick):
    atomic = hasattr(mp.Value('i'), 'fetch_add')
    return _count(mp, quick, _atomic_increments if atomic else _locked_increments)


@case("Array('d', 1000) element get (lock=True)", unit="ops/s")
def array_get(mp, quick):
    n, arr = _n(quick), mp.Array('d', [0.5] * 1000)
    total = 0.0
    t0 = time.perf_counter()
    for i in range(n):
        total += arr[i % 1000]
    rate = _rate(n, t0)
    assert total == 0.5 * n, total
    return rate


@case("Array('d', 1000) element set (lock=True)", unit="ops/s")
def array_set(mp, quick):
    n, arr = _n(quick), mp.Array('d', 1000)
    t0 = time.perf_counter()
    for i in range(n):
        arr[i % 1000] = 1.5
    rate = _rate(n, t0)
    assert arr[:] == [1.5] * 1000
    return rate


def _big(mp):
    arr = mp.Array('d', 1_000_000)
    obj = arr.get_obj()
    for i in range(0, 1_000_000, 997):
        obj[i] = float(i)
    return arr, sum(range(0, 1_000_000, 997))


@case("arr[:] of Array('d', 1_000_000) (lock=True)", unit="GB/s")
def array_slice_read(mp, quick):
    arr, want = _big(mp)
    reps = 2 if quick else 10
    t0 = time.perf_counter()
    for _ in range(reps):
        got = arr[:]
    rate = _rate(reps * 8e6, t0) / 1e9
    assert len(got) == 1_000_000 and sum(got) == want
    return rate


@case("memoryview(arr.get_obj()) copy of 1M doubles", unit="GB/s")
def array_memoryview_copy(mp, quick):
    arr, want = _big(mp)
    dst = bytearray(8_000_000)
    reps = 20 if quick else 200
    t0 = time.perf_counter()
    for _ in range(reps):
        dst[:] = memoryview(arr.get_obj())
    rate = _rate(reps * 8e6, t0) / 1e9
    got = memoryview(dst).cast('d')
    assert got[997] == 997.0 and sum(got[::997]) == want
    return rate


@case("numpy.frombuffer(arr.get_obj()) sum of 1M doubles", unit="GB/s")
def array_numpy_sum(mp, quick):
    import numpy as np
    arr, want = _big(mp)
    reps = 20 if quick else 200
    t0 = time.perf_counter()
    for _ in range(reps):
        total = np.frombuffer(arr.get_obj()).sum()
    rate = _rate(reps * 8e6, t0) / 1e9
    assert total == want, total
    return rate


@case("RawValue('i') .value read+write", unit="ops/s")
def rawvalue_access(mp, quick):
    n, v = _n(quick), mp.RawValue('i')
    t0 = time.perf_counter()
    for _ in range(n):
        v.value = v.value + 1
    rate = _rate(n, t0)
    assert v.value == n, v.value
    return rate


@case("RawArray('d', 1000) element get+set", unit="ops/s")
def rawarray_access(mp, quick):
    n, arr = _n(quick), mp.RawArray('d', 1000)
    t0 = time.perf_counter()
    for i in range(n):
        j = i % 1000
        arr[j] = arr[j] + 1.0
    rate = _rate(n, t0)
    assert sum(arr) == float(n), sum(arr)
    return rate
