"""How fast is a dict shared between processes?

The stdlib's way is a Manager's dict (a proxy: every operation a round trip
to the manager's server process); cmp's is cmp.Dict, in the shared arena.
UltraDict (shared memory with a stream of updates; its shared_lock=True so
that concurrent writers are safe) is measured too when installed.

Small int keys (1000 of them) and values, one process and two: reads,
writes, and atomic increments (the stdlib and UltraDict: ``d[k] += 1``
under a lock, what a program must write there; cmp: ``d.increment(k)``);
1 KiB values; a 90%-read mix from two processes.  Every case checks what
it read and what is left in the dict.
"""
import ctypes
import time

from benchmarks.common import case, finish, raw_shared

KEYS = 1000
PAYLOAD = b"v" * 1024


class _Shared:
    """One backend's dict, its increment, and how many operations a
    measurement does (sized to take about the same time on each)."""

    def __init__(self, d, increment, close, n, process):
        self.d, self.increment, self.close, self.n, self.process = d, increment, close, n, process


def _locked_increment(d, lock):
    def increment(k):
        with lock:
            d[k] = d[k] + 1
    return increment


def _backend(mp, quick):
    if hasattr(mp, "Dict"):
        d = mp.Dict()
        return _Shared(d, d.increment, lambda: None, 20_000 if quick else 400_000, mp.Process)
    manager = mp.Manager()
    d = manager.dict()
    return _Shared(d, _locked_increment(d, mp.Lock()), manager.shutdown,
                   300 if quick else 4_000, mp.Process)


def _ultradict(quick):
    import multiprocessing
    from UltraDict import UltraDict
    d = UltraDict(shared_lock=True, buffer_size=4 << 20, full_dump_size=4 << 20)
    return _Shared(d, _locked_increment(d, d.lock), d.unlink, 1_000 if quick else 10_000,
                   multiprocessing.get_context("fork").Process)


def _fill(s, value):
    for k in range(KEYS):
        s.d[k] = value(k)


# -- the workloads: (shared, n, worker index, bad counter) -> None ---------------

def _reader(ok):
    """A workload of reads, each checked by ok(key, value)."""
    def reads(s, n, me, bad):
        d = s.d
        wrong = 0
        for i in range(n):
            if not ok(i % KEYS, d[i % KEYS]):
                wrong += 1
        bad.value += wrong
    return reads


_reads = _reader(lambda k, v: v == 2 * k)
_payload_reads = _reader(lambda k, v: len(v) == 1024)


def _writer(value_of):
    """A workload of writes of value_of(i) (precomputed for 4 rounds of the
    keys: the loop costs the same on every backend)."""
    values = [value_of(i) for i in range(4 * KEYS)]

    def writes(s, n, me, bad):
        d = s.d
        for i in range(n):
            d[i % KEYS] = values[i % (4 * KEYS)]
    return writes


_writes = _writer(lambda i: i)
_payload_writes = _writer(lambda i: PAYLOAD)


def _increments(s, n, me, bad):
    increment = s.increment
    for i in range(n):
        increment(i % KEYS)


def _mixed(s, n, me, bad):
    d = s.d
    wrong = 0
    for i in range(n):
        k = i % KEYS
        if i % 10 == 0:
            d[k] = k + KEYS * i
        elif d[k] % KEYS != k:
            wrong += 1
    bad.value += wrong


# -- running them ---------------------------------------------------------------

def _child(s, work, n, me, go, times, bad):
    go.wait(60)
    times[2 * me] = time.perf_counter()
    work(s, n, me, bad[me])
    times[2 * me + 1] = time.perf_counter()


def _run(s, work, procs):
    """Operations per second of `procs` processes doing s.n operations each
    (procs=1: this process)."""
    bads = [raw_shared(ctypes.c_long) for _ in range(max(procs, 1))]
    if procs == 1:
        t0 = time.perf_counter()
        work(s, s.n, 0, bads[0])
        rate = s.n / (time.perf_counter() - t0)
    else:
        import multiprocessing
        go = multiprocessing.get_context("fork").Event()
        times = raw_shared(ctypes.c_double * (2 * procs))
        children = [s.process(target=_child, args=(s, work, s.n, me, go, times, bads))
                    for me in range(procs)]
        for p in children:
            p.start()
        go.set()
        for p in children:
            finish(p)
        rate = procs * s.n / (max(times[1::2]) - min(times[0::2]))
    assert all(b.value == 0 for b in bads), [b.value for b in bads]
    return rate


def _measure(s, work, procs, value, check):
    try:
        _fill(s, value)
        rate = _run(s, work, procs)
        check(s, procs)
        return rate
    finally:
        s.close()


def _keys_hold_their_own(s, procs):
    for k in range(KEYS):
        assert s.d[k] % KEYS == k, (k, s.d[k])


def _unchanged(s, procs):
    assert all(s.d[k] == 2 * k for k in range(KEYS))


def _counted(s, procs):
    assert sum(s.d[k] for k in range(KEYS)) == procs * s.n, sum(s.d[k] for k in range(KEYS))


def _payloads(s, procs):
    assert all(s.d[k] == PAYLOAD for k in range(min(KEYS, s.n)))


ROWS = [
    # name, workload, fill, check
    ("reads", _reads, lambda k: 2 * k, _unchanged),
    ("writes", _writes, lambda k: k, _keys_hold_their_own),
    ("increments", _increments, lambda k: 0, _counted),
]


def _declare(label, work, value, check, procs):
    def backend(mp, quick):
        return _measure(_backend(mp, quick), work, procs, value, check)

    def ultradict(quick):
        return _measure(_ultradict(quick), work, procs, value, check)

    name = "shared dict %s, small ints, %d process%s (stdlib: Manager().dict())" % (
        label, procs, "es" if procs > 1 else "")
    case(name, unit="ops/s", competitors={"UltraDict": ultradict})(backend)


for _label, _work, _value, _check in ROWS:
    for _procs in (1, 2):
        _declare(_label, _work, _value, _check, _procs)
_declare("1 KiB value writes", _payload_writes, lambda k: b"", _payloads, 1)
_declare("1 KiB value reads", _payload_reads, lambda k: PAYLOAD, _payloads, 1)
_declare("90% reads 10% writes", _mixed, lambda k: k, _keys_hold_their_own, 2)


@case("shared dict: worst single insert while the dict grows", unit="ms",
      higher_is_better=False, repeat=3)
def growth_pause(mp, quick):
    """The longest pause a growing table makes its writer wait (cmp: one
    segment's rebuild; the Manager: its dict's resize, plus a round trip)."""
    s = _backend(mp, quick)
    n = s.n // 2 if hasattr(mp, "Dict") else s.n
    n = max(n, 1000)
    worst = 0.0
    clock = time.perf_counter
    try:
        d = s.d
        for i in range(n):
            t0 = clock()
            d[i] = i
            worst = max(worst, clock() - t0)
        assert len(d) == n and d[n - 1] == n - 1
    finally:
        s.close()
    return worst * 1000
