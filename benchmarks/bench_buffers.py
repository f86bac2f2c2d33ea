"""numpy arrays through a Queue and a Pool: large buffers out of band.

- A queue from one producer to one consumer, on two CPUs: float64 arrays of
  64 KiB, 1 MiB, 16 MiB and 128 MiB, GB/s of payload received.  Beside
  each, the floor: one copy of an array of that size in this process
  (numpy.copyto into a fresh array, so its pages are touched for the first
  time as a received block's are), GB/s.  cmp writes each array once into
  the arena and hands the consumer a view; the stdlib pickles it into
  bytes, writes them through a pipe, reads and unpickles them.
- Pool.map(f, arrays) where each task takes a 4 MiB array and returns one
  of the same size: tasks per second.

Every array received is checked: the producer fills array i with i, and the
consumer reads its first, middle and last elements (and all of every
seventh).
"""
import time

from benchmarks.common import SIZE, case, cross_cpus, finish, param_name, pin_self

SIZES = (64 << 10, 1 << 20, 16 << 20, 128 << 20)
_END = None


def _count(size, quick):
    """How many arrays of `size` bytes a measurement sends."""
    total = (64 << 20) if quick else (1 << 30)
    return max(4, min(2000, total // size))


def _produce(q, n, size, cpu):
    import numpy as np
    pin_self(cpu)
    for i in range(n):
        # A fresh array each time: the stdlib's put() pickles it later, in
        # its feeder thread.
        q.put(np.full(size // 8, float(i)))
    q.put(_END)


def _check(a, i, size, full):
    assert a.nbytes == size and a.dtype.name == 'float64', (a.nbytes, a.dtype)
    mid = len(a) // 2
    assert a[0] == i and a[mid] == i and a[-1] == i, (i, a[0], a[mid], a[-1])
    if full:
        assert (a == i).all(), i


def _queue_case(size):
    def run(mp, quick):
        n = _count(size, quick)
        q = mp.Queue(4)
        cpus = cross_cpus()
        pin_self(cpus[0])
        p = mp.Process(target=_produce, args=(q, n, size, cpus[1]))
        p.start()
        first = q.get(timeout=120)         # the clock starts with it
        t0 = time.perf_counter()
        _check(first, 0, size, True)
        del first
        for i in range(1, n):
            a = q.get(timeout=120)
            _check(a, i, size, i % 7 == 0)
            del a
        elapsed = time.perf_counter() - t0
        assert q.get(timeout=120) is _END
        finish(p)
        return (n - 1) * size / elapsed / 1e9
    return run


def _copy_floor(size):
    def run(quick):
        import numpy as np
        n = max(3, _count(size, quick) // 4)
        src = np.arange(size // 8, dtype=np.float64)
        t0 = time.perf_counter()
        for _ in range(n):
            dst = np.empty_like(src)
            np.copyto(dst, src)
            assert dst[-1] == src[-1]
            del dst
        return n * size / (time.perf_counter() - t0) / 1e9
    return run


for _size in SIZES:
    case(param_name("queue numpy float64 array, 1 producer -> 1 consumer, GB/s",
                    **{SIZE: _size}),
         unit="GB/s", pin="cross", repeat=3,
         competitors={"one copy (floor)": _copy_floor(_size)})(_queue_case(_size))


def _twice(a):
    return a * 2.0


@case("pool map, 4 MiB numpy array in and out per task, 2 workers", unit="tasks/s",
      repeat=3)
def pool_map_arrays(mp, quick):
    import numpy as np
    n = 16 if quick else 64
    arrays = [np.full((4 << 20) // 8, float(i)) for i in range(n)]
    with mp.Pool(2) as pool:
        pool.map(_twice, arrays[:2])        # the workers are up
        t0 = time.perf_counter()
        out = pool.map(_twice, arrays, chunksize=1)
        elapsed = time.perf_counter() - t0
    for i, a in enumerate(out):
        _check(a, 2 * i, 4 << 20, i % 7 == 0)
    return n / elapsed
