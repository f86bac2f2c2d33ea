"""Pool: the stdlib's API and behaviour, run against both backends, under
every start method (task functions are module-level: a spawned worker
imports them)."""
import functools
import gc
import importlib
import itertools
import os
import pickle
import sys
import threading
import weakref

import pytest

from conftest import TIMEOUT


@pytest.fixture(autouse=True)
def _helpers(process_helpers):
    """Every test here may start the helpers of spawn and forkserver."""


@pytest.fixture
def mp(mp, start_method):
    """The backend's context for the start method (cmp itself for fork)."""
    if start_method == 'fork':
        return mp
    return mp.get_context(start_method)


def is_cmp(mp):
    name = getattr(mp, '__name__', None) or type(mp).__module__
    return name.split('.')[0] == 'cmp'


def pool_module(mp):
    return importlib.import_module(('cmp' if is_cmp(mp) else 'multiprocessing')
                                   + '.pool')


def sqr(x):
    return x * x


def mul(x, y):
    return x * y


def raising():
    raise KeyError("key")


def raise_runtime():
    raise RuntimeError(123)  # the remote line


def unpicklable_result():
    return lambda: 42


def identity(x):
    return x


def getpid(_=None):
    return os.getpid()


_shared = {}


def _init(*args):
    _shared['args'] = args


def _initargs(_=None):
    return _shared.get('args')


def _init_event(ev):
    _shared['event'] = ev


def _wait_event(x):
    assert _shared['event'].wait(TIMEOUT)
    return x


class SayWhen(ValueError):
    pass


def when_generator(total, when):
    for i in range(total):
        if i == when:
            raise SayWhen("said when")
        yield i


class Unpicklable:
    def __reduce__(self):
        raise RuntimeError('cannot pickle')


class Counted:
    n = 0

    def __new__(cls):
        cls.n += 1
        return object.__new__(cls)

    def __del__(self):
        type(self).n -= 1


def test_apply(mp):
    with mp.Pool(2) as pool2:
        assert pool2.apply(sqr, (5,)) == 25
        assert pool2.apply(sqr, (), {'x': 3}) == 9
        assert pool2.apply(mul, (6, 7)) == 42
    pool2.join()


def test_map_starmap(mp):
    with mp.Pool(2) as pool2:
        assert pool2.map(sqr, range(10)) == [x * x for x in range(10)]
        assert pool2.map(sqr, list(range(100)), chunksize=20) == [x * x for x in range(100)]
        assert pool2.map(sqr, iter(range(33)), 4) == [x * x for x in range(33)]
        tuples = list(zip(range(100), range(99, -1, -1)))
        assert pool2.starmap(mul, tuples) == list(itertools.starmap(mul, tuples))
        assert pool2.starmap(mul, tuples, chunksize=7) == list(itertools.starmap(mul, tuples))
        assert pool2.starmap_async(mul, tuples).get(TIMEOUT) == list(itertools.starmap(mul, tuples))
        assert pool2.map_async(sqr, range(10)).get(TIMEOUT) == [x * x for x in range(10)]
    pool2.join()


class IntSub(int):
    pass


def test_map_results_keep_their_types(mp):
    # Lists of plain numbers may travel in a compact form: what comes back
    # must still be the same values of the same types.
    cases = [
        list(range(-300, 300)) + [2 ** 63 - 1, -2 ** 63],
        [0.5, -0.0, float('inf'), 1e308, 5e-324] * 10,
        [1, 2, True, False, 3] * 10,
        [1, 2, 2 ** 63, 3] * 10,
        [1, 2.0, 3] * 10,
        [IntSub(5), 6] * 10,
        [None, 1, 'a', b'b'] * 10,
    ]
    with mp.Pool(2) as pool2:
        for values in cases:
            for chunksize in (None, 1, 3, len(values)):
                got = pool2.map(identity, values, chunksize)
                assert [(type(v), repr(v)) for v in got] == \
                    [(type(v), repr(v)) for v in values]
            got = list(pool2.imap(identity, values, chunksize=4))
            assert [(type(v), repr(v)) for v in got] == [(type(v), repr(v)) for v in values]
        nan = pool2.map(identity, [float('nan')] * 3)
        assert all(v != v for v in nan)
        # Many short chunks: sent several to a message.
        assert pool2.map(sqr, range(20000), chunksize=2) == [x * x for x in range(20000)]
        assert pool2.map(float, range(5000), chunksize=1) == [float(x) for x in range(5000)]
    pool2.join()


def _wait_event_for_zero(x):
    if x == 0:
        assert _shared['event'].wait(TIMEOUT)
    return x


def test_idle_worker_runs_a_task_queued_behind_a_long_one(mp):
    # Task 0 waits until every other task is done: whatever was queued for
    # the worker running it must be run by the other worker.
    ev = mp.Event()
    with mp.Pool(2, initializer=_init_event, initargs=(ev,)) as p:
        it = p.imap_unordered(_wait_event_for_zero, range(6))
        assert sorted(it.next(TIMEOUT) for _ in range(5)) == [1, 2, 3, 4, 5]
        ev.set()
        assert it.next(TIMEOUT) == 0
        # Many maps whose ends are balanced that way: every result in place.
        for n in range(40, 60):
            assert p.map(sqr, range(n), chunksize=1) == [x * x for x in range(n)]
            assert sorted(p.imap_unordered(sqr, range(n))) == [x * x for x in range(n)]
    p.join()


def test_map_async_callbacks(mp):
    with mp.Pool(2) as pool2:
        got = []
        pool2.map_async(int, ['1'], callback=got.append, error_callback=got.append).wait(TIMEOUT)
        assert got == [[1]]
        pool2.map_async(int, ['a'], callback=got.append, error_callback=got.append).wait(TIMEOUT)
        assert len(got) == 2 and isinstance(got[1], ValueError)
    pool2.join()


def test_apply_async_callbacks(mp):
    with mp.Pool(2) as pool2:
        got = []
        r = pool2.apply_async(sqr, (4,), callback=got.append)
        assert r.get(TIMEOUT) == 16
        assert got == [16]          # the callback ran before get() returned
        errs = []
        r = pool2.apply_async(raising, error_callback=errs.append)
        with pytest.raises(KeyError):
            r.get(TIMEOUT)
        assert len(errs) == 1 and isinstance(errs[0], KeyError)
        assert r.ready() and not r.successful()
    pool2.join()


def test_callback_order_single_worker(mp):
    with mp.Pool(1) as p:
        got = []
        rs = [p.apply_async(sqr, (i,), callback=got.append) for i in range(50)]
        for r in rs:
            r.wait(TIMEOUT)
        assert got == [i * i for i in range(50)]


def test_empty_iterables(mp):
    with mp.Pool(2) as pool2:
        assert pool2.map(sqr, []) == []
        assert list(pool2.imap(sqr, [])) == []
        assert list(pool2.imap_unordered(sqr, [])) == []
        assert pool2.map_async(sqr, []).get(TIMEOUT) == []
        assert pool2.map_async(sqr, [], chunksize=1).get(TIMEOUT) == []
        called = []
        pool2.map_async(sqr, [], callback=called.append).get(TIMEOUT)
        assert called == []
    pool2.join()


def test_imap(mp):
    with mp.Pool(2) as pool2:
        assert list(pool2.imap(sqr, range(10))) == [x * x for x in range(10)]
        it = pool2.imap(sqr, range(10))
        for i in range(10):
            assert it.next(TIMEOUT) == i * i
        with pytest.raises(StopIteration):
            next(it)
        it = pool2.imap(sqr, list(range(1000)), chunksize=100)
        assert list(it) == [x * x for x in range(1000)]
        assert list(pool2.imap(sqr, iter(range(25)), 3)) == [x * x for x in range(25)]
        assert sorted(pool2.imap_unordered(sqr, range(100))) == [x * x for x in range(100)]
        assert sorted(pool2.imap_unordered(sqr, iter(range(100)), chunksize=7)) == \
            [x * x for x in range(100)]
    pool2.join()


def test_imap_iterable_exception(mp):
    with mp.Pool(2) as pool2:
        it = pool2.imap(sqr, when_generator(1, 0), 1)
        with pytest.raises(SayWhen):
            next(it)
        it = pool2.imap(sqr, when_generator(10, 3), 1)
        assert [next(it) for _ in range(3)] == [0, 1, 4]
        with pytest.raises(SayWhen):
            next(it)
        it = pool2.imap(sqr, when_generator(20, 7), 2)
        assert [next(it) for _ in range(6)] == [x * x for x in range(6)]
        with pytest.raises(SayWhen):
            next(it)
        it = pool2.imap_unordered(sqr, when_generator(20, 7), 2)
        with pytest.raises(SayWhen):
            for _ in range(20):
                next(it)
    pool2.join()


def test_map_iterable_exception(mp):
    with mp.Pool(2) as pool2:
        with pytest.raises(SayWhen) as info:
            pool2.map(sqr, when_generator(10, 3), 1)
        assert info.value.__cause__ is None
    pool2.join()


def test_map_unpicklable_argument(mp):
    with mp.Pool(2) as pool2:
        with pytest.raises(RuntimeError, match='cannot pickle'):
            pool2.map(sqr, [Unpicklable()] * 10)
        assert pool2.apply(sqr, (3,)) == 9
    pool2.join()


def _logged(path, x):
    """Append x to the file at path (one write: atomic), fail on 7 and 19."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, b'%d\n' % x)
    finally:
        os.close(fd)
    if x in (7, 19):
        raise ValueError(x)
    return -x


@pytest.mark.parametrize('kind', ['map', 'starmap'])
@pytest.mark.parametrize('make', [list, tuple], ids=['list', 'tuple'])
def test_failing_items_end_their_chunk_only(mp, tmp_path, kind, make):
    """The stdlib runs each chunk as list(map(func, chunk)): an item that
    raises ends its chunk; the other chunks run; the first failing chunk's
    exception is map's."""
    path = str(tmp_path / 'ran')
    with mp.Pool(1) as p:
        if kind == 'map':
            run = functools.partial(p.map, functools.partial(_logged, path))
            items = make(range(30))
        else:
            run = functools.partial(p.starmap, _logged)
            items = make((path, x) for x in range(30))
        with pytest.raises(ValueError) as info:
            run(items, 3)
        assert info.value.args == (7,)
        with open(path) as f:
            ran = sorted(int(line) for line in f)
        assert ran == [x for x in range(30) if x not in (8, 20)]
        assert run(items[:7], 3) == [-x for x in range(7)]
    p.join()


def test_map_of_unpicklable_results(mp):
    pm = pool_module(mp)
    with mp.Pool(2) as p:
        with pytest.raises(pm.MaybeEncodingError):
            p.map(_lambda_or_value, range(40), 1)
        assert p.map(_lambda_or_value, [1] * 40, 4) == [1] * 40
        assert p.map(sqr, range(10)) == [x * x for x in range(10)]
    p.join()


def _lambda_or_value(x):
    return (lambda: x) if x == 23 else x


def test_remote_traceback(mp):
    pm = pool_module(mp)
    with mp.Pool(1) as p:
        with pytest.raises(RuntimeError) as info:
            p.apply(raise_runtime)
    p.join()
    assert info.value.args == (123,)
    cause = info.value.__cause__
    assert type(cause) is pm.RemoteTraceback
    assert 'raise RuntimeError(123)  # the remote line' in cause.tb


def test_unpicklable_result(mp):
    pm = pool_module(mp)
    with mp.Pool(2) as p:
        for _ in range(5):
            errs = []
            r = p.apply_async(unpicklable_result, error_callback=errs.append)
            with pytest.raises(pm.MaybeEncodingError):
                r.get(TIMEOUT)
            assert isinstance(errs[0], pm.MaybeEncodingError)
            assert errs[0].exc is not None and errs[0].value is not None
        assert p.apply(sqr, (7,)) == 49


def test_async_result_timeout_ready_successful(mp):
    ev = mp.Event()
    with mp.Pool(1, initializer=_init_event, initargs=(ev,)) as p:
        r = p.apply_async(_wait_event, (5,))
        assert not r.ready()
        with pytest.raises(ValueError):
            r.successful()
        with pytest.raises(mp.TimeoutError):
            r.get(timeout=0.01)
        r.wait(0.01)
        assert not r.ready()
        it = p.imap(_wait_event, [1, 2])
        with pytest.raises(mp.TimeoutError):
            it.next(timeout=0.01)
        ev.set()
        assert r.get(TIMEOUT) == 5
        assert r.ready() and r.successful()
        assert list(it) == [1, 2]


def test_use_after_close(mp):
    p = mp.Pool(2)
    with pytest.raises(ValueError):
        p.join()                # still running
    p.close()
    for call in (lambda: p.apply_async(sqr, (1,)), lambda: p.apply(sqr, (1,)),
                 lambda: p.map(sqr, [1]), lambda: p.map_async(sqr, [1]),
                 lambda: p.imap(sqr, [1]), lambda: p.imap_unordered(sqr, [1]),
                 lambda: p.starmap(mul, [(1, 2)])):
        with pytest.raises(ValueError):
            call()
    p.join()
    assert all(w.exitcode == 0 for w in p._pool) or p._pool == [] or \
        all(not w.is_alive() for w in p._pool)


def test_close_finishes_queued_work(mp):
    p = mp.Pool(2)
    rs = [p.apply_async(sqr, (i,)) for i in range(40)]
    m = p.map_async(sqr, range(100), chunksize=3)
    p.close()
    p.join()
    assert [r.get(0) for r in rs] == [i * i for i in range(40)]
    assert m.get(0) == [i * i for i in range(100)]


def test_context_manager_terminates(mp):
    with mp.Pool(2) as p:
        assert p.map_async(sqr, range(10)).get(TIMEOUT) == [i * i for i in range(10)]
    p.join()
    with pytest.raises(ValueError):
        p.map_async(sqr, [1])
    with pytest.raises(ValueError):
        with p:
            pass


def test_terminate_with_busy_workers(mp):
    ev = mp.Event()
    p = mp.Pool(2, initializer=_init_event, initargs=(ev,))
    p.map_async(_wait_event, range(1000), chunksize=1)
    p.terminate()
    p.join()
    assert all(not w.is_alive() for w in p._pool)


def test_make_pool(mp):
    with pytest.raises(ValueError):
        mp.Pool(0)
    with pytest.raises(ValueError):
        mp.Pool(-1)
    # The stdlib checks maxtasksperchild since 3.10 (before, its workers
    # fail forever); cmp checks it on every version.
    if is_cmp(mp) or sys.version_info >= (3, 10):
        for bad in (0, -1, 0.5, "12"):
            with pytest.raises(ValueError):
                mp.Pool(1, maxtasksperchild=bad)
    with pytest.raises(TypeError):
        mp.Pool(1, initializer=3)
    p = mp.Pool(3)
    try:
        assert len(p._pool) == 3
        assert repr(p).endswith('state=RUN pool_size=3>')
        with pytest.raises(NotImplementedError):
            pickle.dumps(p)
    finally:
        p.close()
        p.join()


@pytest.mark.parametrize('thread', [False, True], ids=['main thread', 'other thread'])
def test_worker_that_cannot_be_started(mp, monkeypatch, thread):
    """A fork failing while the pool starts raises from Pool(), and the
    workers already started are gone (no_leftovers checks processes and
    file descriptors)."""
    import errno
    from multiprocessing.process import BaseProcess
    start, started = BaseProcess.start, []

    def failing_start(self):
        if started:
            raise OSError(errno.EAGAIN, 'Resource temporarily unavailable')
        start(self)
        started.append(self)

    monkeypatch.setattr(BaseProcess, 'start', failing_start)
    raised = []

    def make():
        try:
            mp.Pool(2)
        except OSError as e:
            raised.append(e)

    if thread:
        t = threading.Thread(target=make)
        t.start()
        t.join(TIMEOUT)
    else:
        make()
    assert [e.errno for e in raised] == [errno.EAGAIN]
    assert len(started) == 1
    started[0].join(TIMEOUT)
    assert started[0].exitcode is not None


def test_pool_made_in_a_thread_that_ends(mp):
    """The workers outlive the thread that made the pool."""
    made = []
    t = threading.Thread(target=lambda: made.append(mp.Pool(2)))
    t.start()
    t.join(TIMEOUT)
    p = made[0]
    try:
        pids = {w.pid for w in p._pool}
        assert p.map(sqr, range(20)) == [x * x for x in range(20)]
        assert {w.pid for w in p._pool} == pids
    finally:
        p.terminate()
        p.join()


def test_initializer(mp):
    with mp.Pool(2, initializer=_init, initargs=(1, 'two')) as p:
        assert p.map(_initargs, range(4)) == [(1, 'two')] * 4


def test_maxtasksperchild(mp):
    p = mp.Pool(3, maxtasksperchild=10)
    before = [w.pid for w in p._pool]
    rs = [p.apply_async(getpid) for _ in range(100)]
    pids = {r.get(TIMEOUT) for r in rs}
    assert len(pids) >= 10      # 100 tasks, 10 per worker
    p._repopulate_pool()
    after = [w.pid for w in p._pool]
    assert None not in after and sorted(before) != sorted(after)
    p.close()
    p.join()


def test_maxtasksperchild_early_close(mp):
    p = mp.Pool(3, maxtasksperchild=1)
    rs = [p.apply_async(sqr, (i,)) for i in range(6)]
    p.close()
    p.join()
    assert [r.get(0) for r in rs] == [i * i for i in range(6)]


def test_default_chunksize_and_processes(mp):
    with mp.Pool() as p:
        assert len(p._pool) == (os.cpu_count() or 1)
        assert p.map(sqr, range(1001)) == [x * x for x in range(1001)]


def test_release_task_refs(mp):
    with mp.Pool(2) as pool2:
        objs = [Counted() for _ in range(10)]
        refs = [weakref.ref(o) for o in objs]
        pool2.map(identity, objs)
        del objs
        gc.collect()
        assert {r() for r in refs} == {None}
        assert Counted.n == 0
    pool2.join()


def test_callback_can_submit(mp):
    with mp.Pool(2) as pool2:
        done = threading.Event()
        got = []

        def again(x):
            got.append(x)
            if x < 100:
                pool2.apply_async(sqr, (x + 1,), callback=again)
            else:
                done.set()
        pool2.apply_async(sqr, (2,), callback=again)
        assert done.wait(TIMEOUT)
        assert got[:3] == [4, 25, 676]
    pool2.join()


def test_threadpool_still_works(mp):
    pm = pool_module(mp)
    with pm.ThreadPool(2) as tp:
        assert tp.map(sqr, range(10)) == [x * x for x in range(10)]
        assert tp.apply(mul, (3, 4)) == 12


def test_module_names(mp):
    pm = pool_module(mp)
    for name in ('Pool', 'ThreadPool', 'AsyncResult', 'ApplyResult', 'MapResult',
                 'IMapIterator', 'IMapUnorderedIterator', 'RemoteTraceback',
                 'ExceptionWithTraceback', 'MaybeEncodingError', 'mapstar',
                 'starmapstar', 'worker', 'RUN', 'CLOSE', 'TERMINATE'):
        assert hasattr(pm, name), name


def test_resource_warning(mp):
    pm = pool_module(mp)
    p = mp.Pool(1)
    p.terminate()
    p.join()
    p._state = pm.RUN
    with pytest.warns(ResourceWarning, match='unclosed running multiprocessing pool'):
        p = None
        gc.collect()


def test_large_payloads(mp):
    big = b'x' * (3 << 20)
    with mp.Pool(2) as p:
        assert p.apply(identity, (big,)) == big
        assert p.map(identity, [big, b'y', big], chunksize=1) == [big, b'y', big]
        assert p.map(len, [big] * 4) == [len(big)] * 4
    p.join()


def test_more_task_bytes_than_a_channel_holds(mp):
    # 300 tasks of 6000 bytes on one worker: more than its channel holds
    # at once; the rest waits in the parent and goes as room appears.
    items = [bytes([i % 256]) * 6000 for i in range(300)]
    with mp.Pool(1) as p:
        assert p.map(identity, items, chunksize=1) == items
        pending = [p.apply_async(identity, (x,)) for x in items]
        assert [r.get(TIMEOUT) for r in pending] == items
    p.join()


def _wait_on(ev):
    ev.wait(TIMEOUT)


def test_two_pools_and_an_unrelated_child(mp):
    # Each pool's workers, and a process forked while both pools exist,
    # inherit the other pool's descriptors: closing and joining must not
    # depend on those being closed.
    ev = mp.Event()
    a = mp.Pool(2)
    b = mp.Pool(2)
    child = mp.Process(target=_wait_on, args=(ev,))
    child.start()
    try:
        assert a.map(sqr, range(20)) == [x * x for x in range(20)]
        assert b.map(sqr, range(20)) == [x * x for x in range(20)]
        a.close()
        a.join()
        assert b.apply(mul, (2, 3)) == 6
        b.close()
        b.join()
    finally:
        ev.set()
        child.join(TIMEOUT)
    assert child.exitcode == 0


def test_process_pool_executor(mp):
    # concurrent.futures takes the backend's context for every start method
    # (it uses the context's queues and processes, not its Pool).
    import concurrent.futures
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=mp.get_context()) as ex:
        assert list(ex.map(sqr, range(10))) == [x * x for x in range(10)]
        assert ex.submit(mul, 6, 7).result(TIMEOUT) == 42


def test_pool_of_the_start_method(mp, start_method):
    # The backend's own Pool, its workers started by that method.
    with mp.Pool(1) as p:
        assert type(p).__module__ == pool_module(mp).__name__
        assert type(p._pool[0]).__name__ == {
            'fork': 'ForkProcess', 'spawn': 'SpawnProcess',
            'forkserver': 'ForkServerProcess'}[start_method]
        assert p.apply(getpid) == p._pool[0].pid
    p.join()
