"""How fast do messages go through Queue?

- one producer process to one consumer process, for several message sizes
  (small ints, 1 KiB, 1 MiB): messages/s, and MB/s for the large ones;
- put+get in one process (the per-call cost, no partner);
- ping-pong round trips between two processes, on one core and across two;
- two producers to two consumers.

Every case checks what arrived: the count, the order per producer, and
for payloads their bytes.  faster-fifo is measured as a competitor when it
is installed.
"""
import os
import time

from benchmarks.common import SIZE, case, cross_cpus, finish, param_name, pin_self

_END = None


def _n(quick, size):
    if size >= 1 << 20:
        return 20 if quick else 300
    if size >= 1024:
        return 2000 if quick else 50_000
    return 10_000 if quick else 300_000


def _payload(size):
    return bytes(range(256)) * (size // 256) + bytes(size % 256)


# ---- one producer, one consumer ---------------------------------------------

def _produce(q, n, size, cpu):
    if cpu is not None:
        pin_self(cpu)
    put = q.put
    if size == 0:
        for i in range(n):
            put(i)
    else:
        data = _payload(size)
        for _ in range(n):
            put(data)
    put(_END)


def _one_to_one(Process, q, n, size, get=None):
    """Seconds from the first message to the end marker (process start-up
    is not measured: the clock starts when the first message arrives)."""
    cpus = cross_cpus()
    pin_self(cpus[0])
    p = Process(target=_produce, args=(q, n, size, cpus[1]))
    get = get or q.get
    p.start()
    count, i = 0, 0
    want = _payload(size) if size else None
    t0 = None
    while True:
        item = get()
        if t0 is None:
            t0 = time.perf_counter()
        if item is _END:
            break
        if size == 0:
            assert item == i, (item, i)
            i += 1
        else:
            assert len(item) == size and (count % 97 or item == want)
        count += 1
    elapsed = time.perf_counter() - t0
    finish(p)
    assert count == n, (count, n)
    return elapsed


def _close(q):
    if hasattr(q, "join_thread"):
        q.close()
        q.join_thread()


def _msgs(size):
    def run(mp, quick):
        q, n = mp.Queue(), _n(quick, size)
        elapsed = _one_to_one(mp.Process, q, n, size)
        _close(q)
        return (n - 1) / elapsed
    return run


def _ff_msgs(size):
    def run(quick):
        import multiprocessing
        import faster_fifo
        q, n = faster_fifo.Queue(max_size_bytes=64 << 20), _n(quick, size)
        elapsed = _one_to_one(multiprocessing.get_context("fork").Process, q, n, size,
                              get=lambda: q.get(timeout=60))
        return (n - 1) / elapsed
    return run


for _size, _label in ((0, "small ints"), (1024, "1 KiB"), (1 << 20, "1 MiB")):
    case(param_name("queue 1 producer -> 1 consumer, %s" % _label, **{SIZE: max(_size, 8)}),
         unit="msgs/s", pin="cross",
         competitors={"faster-fifo": _ff_msgs(_size)})(_msgs(_size))


@case("queue 1 producer -> 1 consumer, 1 MiB payloads, MB/s", unit="MB/s", pin="cross",
      competitors={"faster-fifo": lambda quick: _ff_msgs(1 << 20)(quick) * 1.048576})
def mb_per_s(mp, quick):
    return _msgs(1 << 20)(mp, quick) * 1.048576


# ---- put+get in one process --------------------------------------------------

@case("queue put+get, one process", unit="ops/s")
def put_get_one_process(mp, quick):
    q = mp.Queue()
    n = 5000 if quick else 100_000
    put, get = q.put, q.get
    t0 = time.perf_counter()
    for i in range(n):
        put(i)
        assert get() == i
    elapsed = time.perf_counter() - t0
    _close(q)
    return n / elapsed


# ---- ping-pong ---------------------------------------------------------------

def _pong(a, b, n, cpu):
    if cpu is not None:
        pin_self(cpu)
    get, put = a.get, b.put
    for _ in range(n):
        put(get() + 1)


def _ping_pong(mp, quick, cpu):
    a, b = mp.Queue(), mp.Queue()
    n = 1000 if quick else 20_000
    p = mp.Process(target=_pong, args=(a, b, n, cpu))
    p.start()
    put, get = a.put, b.get
    t0 = time.perf_counter()
    for i in range(n):
        put(i)
        assert get() == i + 1
    elapsed = time.perf_counter() - t0
    finish(p)
    _close(a)
    _close(b)
    return elapsed / n * 1e6


@case("queue ping-pong round trip, same core", unit="us", higher_is_better=False, pin="same")
def ping_pong_same(mp, quick):
    return _ping_pong(mp, quick, None)


@case("queue ping-pong round trip, across cores", unit="us", higher_is_better=False,
      pin="cross")
def ping_pong_cross(mp, quick):
    cpus = cross_cpus()
    pin_self(cpus[0])
    return _ping_pong(mp, quick, cpus[1])


# ---- two producers, two consumers ---------------------------------------------

def _produce_tagged(q, who, n):
    put = q.put
    for i in range(n):
        put((who, i))
    put(_END)


def _consume_checked(q, results, producers):
    last = {}
    count = 0
    get = q.get
    first = None
    while True:
        item = get()
        if first is None:
            first = time.perf_counter()
        if item is _END:
            break
        who, i = item
        assert last.get(who, -1) < i
        last[who] = i
        count += 1
    results.put((count, first, time.perf_counter()))


@case("queue 2 producers -> 2 consumers, small tuples", unit="msgs/s")
def two_to_two(mp, quick):
    """From the first message any consumer saw to the last (the monotonic
    clock is the same in every process)."""
    q, results = mp.Queue(), mp.Queue()
    n = 20_000 if quick else 200_000
    procs = [mp.Process(target=_consume_checked, args=(q, results, 2)) for _ in range(2)]
    procs += [mp.Process(target=_produce_tagged, args=(q, w, n)) for w in range(2)]
    for p in procs:
        p.start()
    got = [results.get(timeout=120) for _ in range(2)]
    for p in procs:
        finish(p)
    assert sum(g[0] for g in got) == 2 * n, got
    elapsed = max(g[2] for g in got) - min(g[1] for g in got)
    _close(q)
    _close(results)
    return 2 * n / elapsed


if __name__ == "__main__":
    import multiprocessing
    import cmp
    for c in [c for c in __import__("benchmarks.common", fromlist=["CASES"]).CASES
              if c.module == __name__]:
        print(c.name, c.fn(multiprocessing.get_context("fork"), True), c.fn(cmp, True))
    os._exit(0)
