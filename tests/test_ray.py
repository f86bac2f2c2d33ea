"""cmp's Pool on a Ray cluster (cmp/raypool.py), against a real local
cluster of two nodes (a head and a second node, one CPU each) that this
module starts once and shuts down at its end.

The pool behaviour tests of test_pool.py that make sense across machines run
here again with `mp` a cmp whose Pool is on the cluster; those that need a
cmp object shared with the workers (an Event to hold a task) have their Ray
versions below, over cmp.get_context('ray').Queue().
"""
import inspect
import itertools
import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading

import pytest

import cmp
import cmp.pool
from conftest import TIMEOUT

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.dirname(os.path.abspath(__file__))


def _why_no_ray():
    if 'asan' in os.environ.get('LD_PRELOAD', ''):
        return "Ray's processes do not run under the sanitizer preload"
    try:
        import ray  # noqa: F401
    except ImportError:
        return ('Ray is not installed for Python %d.%d (no wheel for this '
                'interpreter, or its install failed)' % sys.version_info[:2])
    return None


needs_ray = pytest.mark.skipif(_why_no_ray() is not None, reason=str(_why_no_ray()))


def _run(code, env=None, timeout=120):
    full = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, HERE]))
    full.pop('CMP_RAY_ADDRESS', None)
    full.update(env or {})
    return subprocess.run([sys.executable, '-c', textwrap.dedent(code)],
                          env=full, capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


# --- without a cluster ------------------------------------------------------------

def test_ray_is_never_imported_without_the_switch():
    out = _run('''
        import sys
        import cmp, cmp.pool
        with cmp.Pool(2) as p:
            assert p.map(abs, [-1, -2]) == [1, 2]
        with cmp.get_context('fork').Pool(1) as p:
            assert p.apply(abs, (-3,)) == 3
        cmp.get_context('spawn'); cmp.get_context()
        print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))
    ''')
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == '[]'


def test_asking_for_ray_without_it_says_how_to_install():
    out = _run('''
        import sys
        sys.modules['ray'] = None           # as if Ray were not installed
        import os, cmp
        for make in (lambda: cmp.Pool(2, ray_address='local'),
                     lambda: cmp.get_context('ray'),
                     lambda: cmp.pool.Pool(1, ray_address='auto')):
            try:
                make()
            except ImportError as e:
                print(e)
            else:
                print('no ImportError')
        os.environ['CMP_RAY_ADDRESS'] = 'local'
        try:
            cmp.Pool(1)
        except ImportError as e:
            print(e)
    ''')
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 4, out.stdout
    for line in lines:
        assert "pip install 'cmp-multiprocessing[ray]'" in line, line


def test_pool_signatures_match_the_local_pool():
    from cmp.raypool import RayPool
    for name in ('apply', 'apply_async', 'map', 'map_async', 'imap',
                 'imap_unordered', 'starmap', 'starmap_async', 'close',
                 'terminate', 'join'):
        assert inspect.signature(getattr(RayPool, name)) == \
            inspect.signature(getattr(cmp.pool.Pool, name)), name


# --- the cluster ----------------------------------------------------------------

class RayMP:
    """`mp` for the reused behaviour tests: cmp, with its Pool on the cluster."""
    TimeoutError = cmp.TimeoutError

    def __init__(self, address):
        self.address = address

    def Pool(self, *args, **kwds):
        return cmp.Pool(*args, ray_address=self.address, **kwds)


@pytest.fixture(scope='module')
def cluster():
    why = _why_no_ray()
    if why:
        pytest.skip(why)
    import ray
    from ray.cluster_utils import Cluster
    # The workers import cmp and the tests' modules as the tests do.
    saved = os.environ.get('PYTHONPATH')
    os.environ['PYTHONPATH'] = os.pathsep.join(
        [ROOT, HERE] + ([saved] if saved else []))
    # A node that stops answering is declared dead within about 1.5 s
    # (Ray's default takes half a minute).
    c = Cluster(initialize_head=True, head_node_args={
        'num_cpus': 1, '_system_config': {
            'health_check_initial_delay_ms': 0, 'health_check_period_ms': 500,
            'health_check_timeout_ms': 500, 'health_check_failure_threshold': 3}})
    try:
        c.second = c.add_node(num_cpus=1)
        c.wait_for_nodes()
        ray.init(address=c.address)
        yield c
    finally:
        ray.shutdown()
        c.shutdown()
        if saved is None:
            del os.environ['PYTHONPATH']
        else:
            os.environ['PYTHONPATH'] = saved


@pytest.fixture
def mp(cluster):
    return RayMP(cluster.address)


# The behaviour tests of test_pool.py that make sense across machines.
from test_pool import (  # noqa: E402,F401
    test_apply, test_map_starmap, test_map_results_keep_their_types,
    test_map_async_callbacks, test_apply_async_callbacks,
    test_callback_order_single_worker, test_empty_iterables, test_imap,
    test_imap_iterable_exception, test_map_iterable_exception,
    test_map_unpicklable_argument, test_failing_items_end_their_chunk_only,
    test_remote_traceback, test_use_after_close, test_close_finishes_queued_work,
    test_context_manager_terminates, test_make_pool, test_initializer,
    test_release_task_refs, test_callback_can_submit, test_large_payloads,
    test_more_task_bytes_than_a_channel_holds, test_maxtasksperchild_early_close,
    test_resource_warning, sqr, mul, raising, unpicklable_result, Unpicklable,
    pool_module)


# --- tasks that report and block, over the cluster-wide queue -----------------------

def _report_then_block(reports, release, x=None):
    reports.put(os.getpid())
    release.get(timeout=TIMEOUT)
    return x


def _block_on_five(reports, release, x):
    if x == 5:
        return _report_then_block(reports, release, x)
    return x * x


@pytest.fixture
def queues(cluster):
    ctx = cmp.get_context('ray')
    reports, release = ctx.Queue(), ctx.Queue()
    yield reports, release
    reports.shutdown()
    release.shutdown()


def test_worker_killed_fails_its_task_and_is_replaced(mp, queues):
    reports, release = queues
    with mp.Pool(1) as p:
        r = p.apply_async(_report_then_block, (reports, release))
        behind = [p.apply_async(sqr, (i,)) for i in range(5)]
        pid = reports.get(timeout=TIMEOUT)
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(cmp.pool.WorkerLostError) as info:
            r.get(TIMEOUT)
        msg = str(info.value)
        assert 'pid %d on node' % pid in msg and 'RayPoolWorker' in msg, msg
        # The tasks queued behind it run on the worker that replaced it.
        assert [b.get(TIMEOUT) for b in behind] == [i * i for i in range(5)]
        assert p.map(sqr, range(20)) == [x * x for x in range(20)]
        assert pid not in [w.pid for w in p._pool]
    p.join()


def test_worker_killed_during_map_fails_the_map_only(mp, queues):
    reports, release = queues
    import functools
    with mp.Pool(2) as p:
        m = p.map_async(functools.partial(_block_on_five, reports, release),
                        range(10), chunksize=1)
        os.kill(reports.get(timeout=TIMEOUT), signal.SIGKILL)
        with pytest.raises(cmp.pool.WorkerLostError):
            m.get(TIMEOUT)
        assert p.apply(sqr, (9,)) == 81
    p.join()


def test_task_timeout(mp, queues):
    reports, release = queues
    with mp.Pool(1) as p:
        before = {w.pid for w in p._pool}
        # Nothing releases it: only the timeout ends it.
        r = p.apply_async(_report_then_block, (reports, release), task_timeout=1.0)
        with pytest.raises(cmp.TimeoutError, match='task_timeout'):
            r.get(TIMEOUT)
        assert p.apply(sqr, (4,)) == 16
        assert not before & {w.pid for w in p._pool}
        assert p.map(sqr, range(10), task_timeout=TIMEOUT) == [x * x for x in range(10)]
    p.join()


def test_results_pending_at_terminate_raise(mp, queues):
    reports, release = queues
    p = mp.Pool(1)
    r = p.apply_async(_report_then_block, (reports, release))
    reports.get(timeout=TIMEOUT)
    p.terminate()
    p.join()
    with pytest.raises(RuntimeError, match='terminated'):
        r.get(TIMEOUT)


def test_idle_worker_runs_a_task_queued_behind_a_long_one(mp, queues):
    reports, release = queues
    import functools
    with mp.Pool(2) as p:
        it = p.imap_unordered(functools.partial(_block_on_five, reports, release),
                              range(5, 11))
        reports.get(timeout=TIMEOUT)
        assert sorted(it.next(TIMEOUT) for _ in range(5)) == [x * x for x in range(6, 11)]
        release.put(None)
        assert it.next(TIMEOUT) == 5
    p.join()


def _unpicklable_or_value(x):
    return Unpicklable() if x == 7 else x


def test_result_that_cannot_be_pickled(mp):
    pm = pool_module(mp)
    with mp.Pool(2) as p:
        errs = []
        r = p.apply_async(_unpicklable_or_value, (7,), error_callback=errs.append)
        with pytest.raises(pm.MaybeEncodingError, match='cannot pickle'):
            r.get(TIMEOUT)
        assert isinstance(errs[0], pm.MaybeEncodingError)
        with pytest.raises(pm.MaybeEncodingError):
            p.map(_unpicklable_or_value, range(20), chunksize=3)
        assert p.map(_unpicklable_or_value, range(7)) == list(range(7))
        # Lambdas travel (cloudpickle), where the stdlib cannot send them.
        assert p.apply(unpicklable_result)() == 42
    p.join()


def test_initializer_that_raises_fails_the_pool(mp):
    import ray
    with pytest.raises(ray.exceptions.ActorDiedError, match='KeyError'):
        mp.Pool(1, initializer=raising)


def test_callbacks_run_serially_on_one_thread_in_arrival_order(mp):
    threads, order, running = set(), [], [0]
    lock = threading.Lock()
    overlap = []

    def callback(x):
        with lock:
            running[0] += 1
            overlap.append(running[0])
        threads.add(threading.get_ident())
        order.append(x)
        with lock:
            running[0] -= 1
    with mp.Pool(2) as p:
        rs = [p.apply_async(sqr, (i,), callback=callback) for i in range(60)]
        ms = [p.map_async(sqr, range(i), callback=callback) for i in range(1, 6)]
        for r in rs + ms:
            r.wait(TIMEOUT)
    p.join()
    assert len(order) == 65 and max(overlap) == 1
    assert len(threads) == 1 and threading.get_ident() not in threads
    with mp.Pool(1) as p:
        got = []
        rs = [p.apply_async(sqr, (i,), callback=got.append) for i in range(30)]
        [r.wait(TIMEOUT) for r in rs]
    p.join()
    assert got == [i * i for i in range(30)]


def test_starmap_async_third_argument_is_chunksize(mp):
    tuples = [(i, i + 1) for i in range(20)]
    got = []
    with mp.Pool(2) as p:
        r = p.starmap_async(mul, tuples, 3, got.append)
        assert r.get(TIMEOUT) == list(itertools.starmap(mul, tuples))
        assert got == [r.get(0)]
    p.join()


def test_imap_max_in_flight_is_bounded(mp):
    pulled = []

    def endless():
        for i in itertools.count():
            pulled.append(i)
            yield i
    with mp.Pool(2) as p:
        it = p.imap(sqr, endless(), max_in_flight=4)
        for i in range(100):
            assert next(it) == i * i
            assert len(pulled) <= i + 1 + 4 + 1
        it2 = p.imap_unordered(sqr, endless(), chunksize=3, max_in_flight=2)
        assert len([next(it2) for _ in range(30)]) == 30
    p.join()


def test_progress(mp, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, 'tqdm', None)
    with mp.Pool(2) as p:
        assert p.map(sqr, range(50), progress=True) == [x * x for x in range(50)]
        assert list(p.imap(sqr, range(7), progress=True)) == [x * x for x in range(7)]
    p.join()
    err = capsys.readouterr().err
    assert '50/50' in err and '7/7' in err


def _where(_):
    import ray
    return os.getpid(), ray.get_runtime_context().get_node_id()


def test_processes_and_the_cluster_cpus(mp, cluster, queues):
    reports, release = queues
    import functools
    # Default: one worker a CPU of the cluster, one on each node.
    with mp.Pool() as p:
        assert len(p._pool) == 2
        assert len({w.node for w in p._pool}) == 2
    p.join()
    # More processes than CPUs: the extra ones reserve no CPU and run too.
    with mp.Pool(3) as p:
        assert len(p._pool) == 3
        it = p.imap_unordered(functools.partial(_report_then_block, reports, release),
                              range(3))
        pids = {reports.get(timeout=TIMEOUT) for _ in range(3)}
        assert pids == {w.pid for w in p._pool}
        for _ in range(3):
            release.put(None)
        assert sorted(it) == [0, 1, 2]
    p.join()


def test_cmp_shared_objects_cannot_cross_machines(mp):
    objs = [cmp.Lock(), cmp.RLock(), cmp.Semaphore(), cmp.BoundedSemaphore(),
            cmp.Event(), cmp.Condition(), cmp.Barrier(2), cmp.Value('i'),
            cmp.Array('d', 3), cmp.Queue(), cmp.SimpleQueue(), cmp.JoinableQueue(),
            cmp.RawValue('i'), cmp.RawArray('i', 3), cmp.Value('i', lock=False)]
    with mp.Pool(1) as p:
        for obj in objs:
            for call in (lambda: p.apply_async(sqr, (obj,)),
                         lambda: p.apply(sqr, (), {'x': [obj]}),
                         lambda: p.map(sqr, [1, obj]),
                         lambda: list(p.imap(sqr, [obj]))):
                with pytest.raises(TypeError, match="one machine") as info:
                    call()
                assert 'get_context("ray").Queue()' in str(info.value)
        assert p.apply(sqr, (3,)) == 9
    p.join()
    with pytest.raises(TypeError, match='one machine'):
        mp.Pool(1, initializer=print, initargs=(cmp.Lock(),))
    with pytest.raises(NotImplementedError, match='Queue'):
        cmp.get_context('ray').Lock()


def _put_squares(q, n):
    for i in range(n):
        q.put(i * i)
    return n


def test_ray_context_pool_and_queue(cluster, monkeypatch):
    ctx = cmp.get_context('ray')
    assert ctx.get_start_method() == 'ray'
    q = ctx.Queue()
    small = ctx.Queue(1)
    try:
        with pytest.raises(queue.Empty) as info:
            q.get(timeout=0.01)
        assert type(info.value) is queue.Empty
        with pytest.raises(queue.Empty):
            q.get_nowait()
        small.put(1)
        with pytest.raises(queue.Full) as info:
            small.put(2, timeout=0.01)
        assert type(info.value) is queue.Full
        with pytest.raises(queue.Full):
            small.put_nowait(2)
        assert small.full() and small.qsize() == 1 and small.get() == 1
        with ctx.Pool(2) as p:
            assert p.starmap(_put_squares, [(q, 5)] * 2, chunksize=1) == [5, 5]
            assert sorted(q.get(timeout=TIMEOUT) for _ in range(10)) == \
                sorted([i * i for i in range(5)] * 2)
            assert q.empty()
        p.join()
    finally:
        q.shutdown()
        small.shutdown()


_PROGRAM = '''
import multiprocessing, os

def work(x):
    if x == 13:
        raise ValueError('thirteen')
    return x * x

if __name__ == '__main__':
    with multiprocessing.Pool(2) as pool:
        print(pool.map(work, range(10)))
        print(pool.starmap(pow, [(2, 5), (3, 3)]))
        print(sorted(pool.imap_unordered(work, range(6))))
        r = pool.apply_async(work, (13,))
        try:
            r.get(30)
        except ValueError as e:
            print('ValueError', e, type(e.__cause__).__name__)
'''


def test_a_stdlib_program_unchanged_under_CMP_RAY_ADDRESS(cluster, tmp_path):
    """The same program, with `import cmp as multiprocessing` and
    CMP_RAY_ADDRESS set, prints what the stdlib's prints."""
    std = tmp_path / 'prog_std.py'
    std.write_text(_PROGRAM)
    ours = tmp_path / 'prog_cmp.py'
    ours.write_text(_PROGRAM.replace('import multiprocessing, os',
                                     'import cmp as multiprocessing, os, sys'))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, HERE]))
    env.pop('CMP_RAY_ADDRESS', None)
    want = subprocess.run([sys.executable, str(std)], env=env, capture_output=True,
                          text=True, timeout=120, cwd=str(tmp_path))
    assert want.returncode == 0, want.stderr
    env['CMP_RAY_ADDRESS'] = cluster.address
    got = subprocess.run([sys.executable, str(ours)], env=env, capture_output=True,
                         text=True, timeout=120, cwd=str(tmp_path))
    assert got.returncode == 0, got.stderr
    assert got.stdout == want.stdout
    assert 'RemoteTraceback' in got.stdout


def test_node_death_fails_its_tasks_with_what_died(mp, cluster, queues):
    """A third node joins, and dies while its worker runs a task: that task
    fails naming the node, the other tasks run on the workers left.  (The
    node removed is one that neither this process nor the queues use.)"""
    reports, release = queues
    import functools
    third = cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    with mp.Pool(3) as p:
        lost = [w for w in p._pool if w.node == third.node_id]
        assert len(lost) == 1
        it = p.imap_unordered(functools.partial(_report_then_block, reports, release),
                              range(3))
        pids = {reports.get(timeout=TIMEOUT) for _ in range(3)}
        assert pids == {w.pid for w in p._pool}
        cluster.remove_node(third, allow_graceful=False)
        # The others' tasks are still blocked: the lost one comes first.
        with pytest.raises(cmp.pool.WorkerLostError) as info:
            it.next(TIMEOUT)
        msg = str(info.value)
        assert third.node_id in msg and 'pid %d' % lost[0].pid in msg, msg
        for _ in range(3):      # one more: a dying worker could still take one
            release.put(None)
        assert len({it.next(TIMEOUT), it.next(TIMEOUT)}) == 2
        assert p.map(sqr, range(10)) == [x * x for x in range(10)]
    p.join()
