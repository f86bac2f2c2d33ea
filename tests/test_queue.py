"""Queue, SimpleQueue and JoinableQueue: the stdlib's behaviour, run against
both backends (the `mp` fixture), and cmp's extensions."""
import concurrent.futures
import multiprocessing
import multiprocessing.connection
import multiprocessing.context
import multiprocessing.queues
import pickle
import queue
import random
import signal
import threading

import pytest

import cmp
import cmp.queues
from conftest import TIMEOUT


class Unpicklable(object):
    def __reduce__(self):
        raise TypeError("cannot pickle this")


SAMPLES = [0, 1, -1, 2 ** 63 - 1, -2 ** 63, 2 ** 64, 10 ** 100, 1.5, float("inf"),
           "", "abc", "\u00e9\u4e2d\U0001f600", "\ud800", b"", b"\x00" * 100,
           None, True, False, (), (1, "a"), [1, [2, 3]], {"k": {1, 2}},
           bytearray(b"xy"), 3 + 4j, b"z" * 70000, "s" * 100000]


def close(q):
    if isinstance(q, (multiprocessing.queues.Queue, cmp.queues.Queue)):
        q.close()
        q.join_thread()


def test_fifo_and_exact_types(mp):
    q = mp.Queue()
    for obj in SAMPLES:
        q.put(obj)
    got = [q.get(timeout=TIMEOUT) for _ in SAMPLES]
    assert got == SAMPLES
    assert [type(o) for o in got] == [type(o) for o in SAMPLES]
    close(q)


def test_empty_and_timeouts(mp):
    q = mp.Queue()
    assert q.empty()
    assert q.qsize() == 0
    with pytest.raises(queue.Empty):
        q.get_nowait()
    with pytest.raises(queue.Empty):
        q.get(False)
    with pytest.raises(queue.Empty):
        q.get(timeout=0.01)
    with pytest.raises(queue.Empty):
        q.get(True, -1)
    q.put(7)
    assert q.get(timeout=TIMEOUT) == 7
    close(q)


def test_maxsize_exact(mp):
    q = mp.Queue(3)
    for i in range(3):
        q.put_nowait(i)
    assert q.full()
    assert q.qsize() == 3
    with pytest.raises(queue.Full):
        q.put_nowait(3)
    with pytest.raises(queue.Full):
        q.put(3, timeout=0.01)
    with pytest.raises(queue.Full):
        q.put(3, False)
    assert q.get(timeout=TIMEOUT) == 0
    q.put(3, timeout=TIMEOUT)
    assert [q.get(timeout=TIMEOUT) for _ in range(3)] == [1, 2, 3]
    assert not q.full()
    close(q)


def test_qsize_counts_puts(mp):
    q = mp.Queue()
    for i in range(10):
        q.put(i)
    assert q.qsize() == 10
    for i in range(10):
        assert q.get(timeout=TIMEOUT) == i
    assert q.qsize() == 0
    close(q)


def test_put_blocks_until_room(mp):
    q = mp.Queue(1)
    q.put(1)
    done = []
    t = threading.Thread(target=lambda: done.append(q.put(2, timeout=TIMEOUT)))
    t.start()
    assert q.get(timeout=TIMEOUT) == 1
    t.join(TIMEOUT)
    assert done == [None]
    assert q.get(timeout=TIMEOUT) == 2
    close(q)


def test_close_semantics(mp):
    q = mp.Queue()
    with pytest.raises(AssertionError):
        q.join_thread()
    q.put(1)
    assert q.get(timeout=TIMEOUT) == 1
    q.close()
    with pytest.raises(ValueError, match="is closed"):
        q.put(2)
    with pytest.raises(ValueError, match="is closed"):
        q.get()
    q.join_thread()
    q.close()       # twice is fine


def test_cancel_join_thread(mp):
    before = set(threading.enumerate())
    q = mp.Queue()
    q.cancel_join_thread()
    q.put(1)
    assert q.get(timeout=TIMEOUT) == 1
    q.close()
    q.join_thread()     # cancelled: does not wait for the feeder
    # A feeder thread closes its queue's pipe ends only after close()'s
    # sentinel reaches it, which may be after join_thread() returned: wait
    # for it, or the fd check races it on a loaded machine.
    for t in set(threading.enumerate()) - before:
        if t.name == "QueueFeederThread":
            t.join(TIMEOUT)
            assert not t.is_alive()


def test_empty_after_close(mp):
    # close() is a no-op on a queue this process never put to; after a put,
    # the stdlib's feeder closes the reading end, so empty() raises.
    for q in mp.Queue(), mp.JoinableQueue():
        q.close()
        q.join_thread()
        assert q.empty()
    for q in mp.Queue(), mp.JoinableQueue():
        q.put("foo")
        q.close()
        q.join_thread()
        with pytest.raises(OSError, match="is closed"):
            q.empty()


def test_unbounded_put_never_blocks(mp):
    # Far more than fits in cmp's ring (or the stdlib's pipe): put returns
    # at once, the feeder delivers the rest in order.
    q = mp.Queue()
    n = 30000
    for i in range(n):
        q.put(i)
    q.put(b"x" * 300000)
    assert [q.get(timeout=TIMEOUT) for _ in range(n)] == list(range(n))
    assert q.get(timeout=TIMEOUT) == b"x" * 300000
    close(q)


def _producer(q, start, n, big):
    for i in range(start, start + n):
        q.put(i)
        if big and i % 50 == 0:
            q.put(bytes([i % 256]) * big)


def test_across_processes(ctx):
    q = ctx.Queue()
    p = ctx.Process(target=_producer, args=(q, 0, 2000, 5000))
    p.start()
    got = []
    while len(got) < 2000:
        o = q.get(timeout=TIMEOUT)
        if isinstance(o, bytes):
            assert o == bytes([got[-1] % 256]) * 5000
        else:
            got.append(o)
    assert got == list(range(2000))
    p.join(TIMEOUT)
    assert p.exitcode == 0
    close(q)


def _echo_big(q, r):
    r.put(q.get()[::-1])


@pytest.mark.parametrize("kind", ["Queue", "SimpleQueue"])
def test_payload_larger_than_ring(ctx, kind):
    q, r = getattr(ctx, kind)(), getattr(ctx, kind)()
    data = bytes(random.Random(1).getrandbits(8) for _ in range(256)) * 16384   # 4 MiB
    p = ctx.Process(target=_echo_big, args=(q, r))
    p.start()
    q.put(data)
    assert r.get() == data[::-1]
    p.join(TIMEOUT)
    assert p.exitcode == 0
    for x in (q, r):
        if kind == "Queue":
            close(x)
        else:
            x.close()


def test_joinable_queue(mp):
    q = mp.JoinableQueue()
    with pytest.raises(ValueError, match="task_done\\(\\) called too many times"):
        q.task_done()
    for i in range(5):
        q.put(i)
    for i in range(5):
        assert q.get(timeout=TIMEOUT) == i
    joined = threading.Event()
    t = threading.Thread(target=lambda: (q.join(), joined.set()))
    t.start()
    for i in range(4):
        q.task_done()
    assert not joined.wait(0.05)
    q.task_done()
    assert joined.wait(TIMEOUT)
    t.join(TIMEOUT)
    with pytest.raises(ValueError):
        q.task_done()
    q.join()        # nothing unfinished: returns at once
    close(q)


def _worker(q):
    while True:
        item = q.get(timeout=TIMEOUT)
        q.task_done()
        if item is None:
            break


def test_joinable_across_processes(ctx):
    q = ctx.JoinableQueue()
    p = ctx.Process(target=_worker, args=(q,))
    p.start()
    for i in range(100):
        q.put(i)
    q.put(None)
    q.join()
    p.join(TIMEOUT)
    assert p.exitcode == 0
    close(q)


def test_simple_queue(mp):
    q = mp.SimpleQueue()
    assert q.empty()
    small = SAMPLES[:-2]        # the stdlib's pipe holds 64 KiB
    for obj in small:
        q.put(obj)
    assert [q.get() for _ in small] == small
    assert q.empty()
    q.close()
    with pytest.raises(OSError):
        q.get()
    with pytest.raises(OSError):
        q.put(1)


def test_wait_on_reader(mp):
    for q in (mp.Queue(), mp.SimpleQueue()):
        assert multiprocessing.connection.wait([q._reader], timeout=0.01) == []
        q.put(5)
        assert multiprocessing.connection.wait([q._reader], timeout=TIMEOUT) == [q._reader]
        assert q._reader.poll(TIMEOUT)
        assert q.get() == 5
        assert multiprocessing.connection.wait([q._reader], timeout=0.01) == []
        if isinstance(q, mp.SimpleQueue().__class__):
            q.close()
        else:
            close(q)


def _put_later(q, ev):
    ev.wait(TIMEOUT)
    q.put("late")


def test_wait_on_reader_across_processes(ctx):
    q, ev = ctx.Queue(), ctx.Event()
    assert multiprocessing.connection.wait([q._reader], timeout=0.01) == []
    p = ctx.Process(target=_put_later, args=(q, ev))
    p.start()
    ev.set()
    assert multiprocessing.connection.wait([q._reader, p.sentinel], timeout=TIMEOUT)
    assert q.get(timeout=TIMEOUT) == "late"
    p.join(TIMEOUT)
    close(q)


class _Interrupted(Exception):
    pass


def _raise(signum, frame):
    raise _Interrupted()


def test_get_interruptible(mp):
    q = mp.Queue()
    old = signal.signal(signal.SIGALRM, _raise)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        with pytest.raises(_Interrupted):
            q.get()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    q.put(1)
    assert q.get(timeout=TIMEOUT) == 1
    close(q)


def _square(x):
    return x * x


def test_process_pool_executor_with_cmp_simple_queue():
    ctx = multiprocessing.context.ForkContext()
    ctx.SimpleQueue = lambda: cmp.queues.SimpleQueue(ctx=ctx)
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=ctx) as ex:
        assert isinstance(ex._result_queue, cmp.queues.SimpleQueue)
        assert list(ex.map(_square, range(50))) == [x * x for x in range(50)]


def test_process_pool_executor_with_cmp_context():
    with concurrent.futures.ProcessPoolExecutor(
            2, mp_context=cmp.get_context("fork")) as ex:
        assert list(ex.map(_square, range(20))) == [x * x for x in range(20)]


def test_module_names_match_stdlib():
    assert cmp.queues.__all__ == multiprocessing.queues.__all__
    for name in multiprocessing.queues.__all__:
        assert hasattr(cmp.queues, name)
    assert cmp.queues.Empty is queue.Empty and cmp.queues.Full is queue.Full
    for cls in ("Queue", "JoinableQueue", "SimpleQueue"):
        ours, theirs = getattr(cmp.queues, cls), getattr(multiprocessing.queues, cls)
        for meth in dir(theirs):
            if not meth.startswith("__"):
                assert hasattr(ours, meth), (cls, meth)
    assert cmp.queues.Queue[int] is not None


# ---- differential: one random workload, both backends ------------------------

def _workload(mp, seed):
    rnd = random.Random(seed)
    q = mp.Queue(rnd.choice([0, 5, 50]))
    out = []
    pending = 0
    for _ in range(400):
        op = rnd.random()
        if op < 0.55:
            obj = rnd.choice(SAMPLES[:20] + [rnd.random(), rnd.randrange(10 ** 6)])
            try:
                q.put(obj, timeout=0.001 if pending >= 5 else TIMEOUT)
                pending += 1
                out.append(("put", q.qsize()))
            except queue.Full:
                out.append(("full", q.qsize()))
        elif pending:
            out.append(("get", q.get(timeout=TIMEOUT)))
            pending -= 1
        out.append(("full?", q.full()))
    while pending:
        out.append(("get", q.get(timeout=TIMEOUT)))
        pending -= 1
    close(q)
    return out


@pytest.mark.parametrize("seed", range(4))
def test_differential(seed):
    expected = _workload(multiprocessing.get_context("fork"), seed)
    assert _workload(cmp, seed) == expected


# ---- cmp's additions ----------------------------------------------------------

def test_unpicklable_raises_in_put_and_loses_nothing():
    q = cmp.Queue()
    q.put(1)
    with pytest.raises(TypeError, match="cannot pickle this"):
        q.put(Unpicklable())
    q.put(2)
    assert q.qsize() == 2
    assert [q.get(timeout=TIMEOUT), q.get(timeout=TIMEOUT)] == [1, 2]
    s = cmp.SimpleQueue()
    with pytest.raises(TypeError):
        s.put(Unpicklable())
    s.put(3)
    assert s.get() == 3
    s.close()
    close(q)


@pytest.mark.parametrize("mod", [multiprocessing.queues, cmp.queues])
def test_on_queue_feeder_error_hook(mod):
    calls = []

    class SafeQueue(mod.Queue):
        @staticmethod
        def _on_queue_feeder_error(e, obj):
            calls.append((type(e), type(obj)))

    q = SafeQueue(ctx=multiprocessing.get_context("fork"))
    q.put(Unpicklable())
    q.put(True)
    assert q.get(timeout=TIMEOUT) is True
    assert calls == [(TypeError, Unpicklable)]
    close(q)


def test_put_many_get_many():
    q = cmp.Queue()
    q.put_many(range(100))
    assert q.get_many(max_items=10, timeout=TIMEOUT) == list(range(10))
    assert q.get_many(timeout=TIMEOUT) == list(range(10, 100))
    with pytest.raises(queue.Empty):
        q.get_many(timeout=0.01)
    with pytest.raises(ValueError):
        q.get_many(max_items=0)
    close(q)


def _use_passed_queue(qq):
    q = qq.get(timeout=TIMEOUT)
    q.put(("hello from", q.qsize()))


def test_queue_pickles_to_running_process():
    qq, q = cmp.Queue(), cmp.JoinableQueue()
    p = multiprocessing.get_context("fork").Process(target=_use_passed_queue, args=(qq,))
    p.start()
    qq.put(q)
    assert q.get(timeout=TIMEOUT) == ("hello from", 0)
    p.join(TIMEOUT)
    assert p.exitcode == 0
    close(qq)
    close(q)


def _pool_put(q, x):
    q.put(x * 10)
    return x


def test_queue_to_pool_worker():
    q = cmp.Queue()
    with multiprocessing.get_context("fork").Pool(2) as pool:
        assert sorted(pool.starmap(_pool_put, [(q, i) for i in range(8)])) == list(range(8))
    assert sorted(q.get(timeout=TIMEOUT) for _ in range(8)) == [i * 10 for i in range(8)]
    close(q)


def test_pickle_outside_spawning_is_allowed():
    q = cmp.SimpleQueue()
    q2 = pickle.loads(pickle.dumps(q))
    q2.put("x")
    assert q.get() == "x"
    q.close()
    q2.close()
