"""What does each start method cost, with cmp and with the stdlib?

For fork, spawn and forkserver, the same method's context of each backend
(cmp.get_context(m) against multiprocessing.get_context(m)):

- starting a process: Process(target).start() + join(), seconds per
  process, one at a time (after one warm-up process, which for forkserver
  also starts the fork server);
- a Queue round trip with a child started by that method: the parent puts
  i, the child puts i + 1 back (the child's start is not timed);
- a Value incremented under its lock by the parent and such a child at
  once (`with v.get_lock(): v.value += 1`), increments per second of both.

The Pool's rows per method (start-up, map, apply_async round trip) are in
bench_pool.py.  Every case checks its result: the exit status the children
chose, each reply, the final count.
"""
import sys
import time

from benchmarks.common import case, finish

METHODS = ('fork', 'spawn', 'forkserver')
EXIT = 7        # the children's exit status: proof that they ran


def _exit_with(code):
    sys.exit(code)


def _start_case(method):
    def run(mp, quick):
        ctx = mp.get_context(method)
        n = 3 if quick else 10
        warm = ctx.Process(target=_exit_with, args=(EXIT,))
        warm.start()
        warm.join()
        t0 = time.perf_counter()
        for _ in range(n):
            p = ctx.Process(target=_exit_with, args=(EXIT,))
            p.start()
            p.join()
            if p.exitcode != EXIT:
                raise AssertionError('%r exited with %s' % (p, p.exitcode))
        return (time.perf_counter() - t0) / n
    return run


def _echo_plus_one(requests, replies):
    get, put = requests.get, replies.put
    while True:
        item = get()
        if item is None:
            return
        put(item + 1)


def _queue_case(method):
    def run(mp, quick):
        ctx = mp.get_context(method)
        n = 300 if quick else 5000
        requests, replies = ctx.Queue(), ctx.Queue()
        p = ctx.Process(target=_echo_plus_one, args=(requests, replies))
        p.start()
        requests.put(-1)            # the child is up once this comes back
        if replies.get(timeout=60) != 0:
            raise AssertionError('wrong first reply')
        put, get = requests.put, replies.get
        t0 = time.perf_counter()
        for i in range(n):
            put(i)
            got = get()
            if got != i + 1:
                raise AssertionError('sent %d, got %r back' % (i, got))
        elapsed = time.perf_counter() - t0
        requests.put(None)
        finish(p)
        return n / elapsed
    return run


def _increment(v, n, ready, go, done):
    ready.set()
    go.wait()
    lock = v.get_lock()
    for _ in range(n):
        with lock:
            v.value += 1
    done.set()


def _value_case(method):
    def run(mp, quick):
        ctx = mp.get_context(method)
        n = 2000 if quick else 50_000
        v = ctx.Value('i', 0)
        ready, go, done = ctx.Event(), ctx.Event(), ctx.Event()
        p = ctx.Process(target=_increment, args=(v, n, ready, go, done))
        p.start()
        if not ready.wait(60):
            raise AssertionError('the child did not start')
        lock = v.get_lock()
        t0 = time.perf_counter()
        go.set()
        for _ in range(n):
            with lock:
                v.value += 1
        if not done.wait(120):
            raise AssertionError('the child did not finish')
        elapsed = time.perf_counter() - t0
        finish(p)
        if v.value != 2 * n:
            raise AssertionError('count %d, not %d' % (v.value, 2 * n))
        return 2 * n / elapsed
    return run


for _m in METHODS:
    case('start (%s) Process start()+join(), per process' % _m, 's',
         higher_is_better=False)(_start_case(_m))
    case('start (%s) Queue round trip with a child' % _m, 'round trips/s')(
        _queue_case(_m))
    case('start (%s) Value += 1 under its lock, parent and child at once' % _m,
         'increments/s')(_value_case(_m))
