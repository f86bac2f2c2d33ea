"""Pool: where the stdlib hangs, cmp does not.  Killed workers, Ctrl-C,
unpicklable results, orphaned workers; and the keyword-only extensions.

These run against cmp only (the stdlib hangs on most of them), except the
Ctrl-C test, which both pass; each under every start method (`ctx`)."""
import ctypes
import faulthandler
import itertools
import os
import select
import signal
import subprocess
import sys
import textwrap
import threading

import pytest

import cmp
import cmp.pool
from conftest import TIMEOUT

_shared = {}


@pytest.fixture(autouse=True)
def _helpers(process_helpers):
    """Every test here may start the helpers of spawn and forkserver."""


def _init_queue(q, ev=None):
    _shared['queue'] = q
    _shared['event'] = ev


def sqr(x):
    return x * x


def _report_then(how, x=None):
    """Tell the test which worker runs this task, then die or block."""
    _shared['queue'].put(os.getpid())
    if how == 'block':
        _shared['event'].wait(TIMEOUT)
    elif how == 'segv':
        faulthandler.disable()
        ctypes.string_at(0)
    elif how == 'exit':
        os._exit(3)
    elif how == 'sysexit':
        sys.exit(4)
    return x


def _block_or_sqr(x):
    if x == 5:
        return _report_then('block')
    return x * x


def _wait_gone(pid):
    """Wait (without sleeping) until process `pid` no longer exists."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        r, _, _ = select.select([fd], [], [], TIMEOUT)
        return bool(r)
    finally:
        os.close(fd)


class _Reports:
    """Worker -> test messages that are written before put() returns (a
    worker may die right after)."""

    def __init__(self, mp):
        self._r, self._w = mp.Pipe(duplex=False)

    def put(self, x):
        self._w.send(x)

    def get(self, timeout):
        assert self._r.poll(timeout), 'no report within the timeout'
        return self._r.recv()

    def close(self):
        self._r.close()
        self._w.close()


@pytest.fixture
def ctx(start_method):
    return cmp.get_context(start_method)


@pytest.fixture
def reports():
    r = _Reports(cmp)
    yield r
    r.close()


def _pool_with_queue(ctx, reports, n=2, **kw):
    ev = ctx.Event()
    return ctx.Pool(n, initializer=_init_queue, initargs=(reports, ev), **kw), reports, ev


_WORKER_NAMES = {'fork': 'ForkPoolWorker', 'spawn': 'SpawnPoolWorker',
                 'forkserver': 'ForkServerPoolWorker'}


@pytest.mark.parametrize('how, words', [
    ('kill', ['SIGKILL', 'signal 9']),
    # Under AddressSanitizer a segfault ends in abort().
    ('segv', ['SIGSEGV'] + (['SIGABRT'] if 'asan' in os.environ.get('LD_PRELOAD', '') else [])),
    ('exit', ['exited with code 3']),
    ('sysexit', ['exited with code 4']),
])
def test_worker_death_fails_its_task(how, words, ctx, reports):
    p, q, ev = _pool_with_queue(ctx, reports, 2)
    with p:
        r = p.apply_async(_report_then, ('block' if how == 'kill' else how,))
        pid = q.get(timeout=TIMEOUT)
        if how == 'kill':
            os.kill(pid, signal.SIGKILL)
        with pytest.raises(cmp.pool.WorkerLostError) as info:
            r.get(TIMEOUT)
        msg = str(info.value)
        assert str(pid) in msg and _WORKER_NAMES[ctx.get_start_method()] in msg
        assert any(w in msg for w in words), msg
        # The pool stays usable and full.
        assert p.map(sqr, range(20)) == [x * x for x in range(20)]
        p._repopulate_pool()
        assert len(p._pool) == 2 and pid not in [w.pid for w in p._pool]
    p.join()


def test_worker_killed_during_map_fails_the_map_only(ctx, reports):
    p, q, ev = _pool_with_queue(ctx, reports, 2)
    with p:
        m = p.map_async(_block_or_sqr, range(10), chunksize=1)
        pid = q.get(timeout=TIMEOUT)
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(cmp.pool.WorkerLostError):
            m.get(TIMEOUT)
        assert p.apply(sqr, (9,)) == 81
    p.join()


def test_tasks_queued_behind_a_killed_worker_still_run(ctx, reports):
    p, q, ev = _pool_with_queue(ctx, reports, 1)
    with p:
        first = p.apply_async(_report_then, ('block',))
        rest = [p.apply_async(sqr, (i,)) for i in range(10)]
        pid = q.get(timeout=TIMEOUT)
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(cmp.pool.WorkerLostError):
            first.get(TIMEOUT)
        assert [r.get(TIMEOUT) for r in rest] == [i * i for i in range(10)]
    p.join()


class _FailsInParent:
    def __reduce__(self):
        return (_refuse, ())


def _refuse():
    raise ValueError('cannot be rebuilt here')


def _unrebuildable():
    return _FailsInParent()


def test_result_that_cannot_be_unpickled_fails_the_task(ctx):
    with ctx.Pool(2) as p:
        r = p.apply_async(_unrebuildable)
        with pytest.raises(ValueError, match='cannot be rebuilt'):
            r.get(TIMEOUT)
        assert p.apply(sqr, (3,)) == 9
    p.join()


def test_results_pending_at_terminate_raise(ctx, reports):
    p, q, ev = _pool_with_queue(ctx, reports, 1)
    r = p.apply_async(_report_then, ('block',))
    q.get(timeout=TIMEOUT)
    p.terminate()
    p.join()
    with pytest.raises(RuntimeError, match='terminated'):
        r.get(TIMEOUT)


def test_ctrl_c_during_map(mp, start_method):
    mp = mp.get_context(start_method)
    q = _Reports(mp)
    ev = mp.Event()
    p = mp.Pool(2, initializer=_init_queue, initargs=(q, ev))

    def interrupt():
        q.get(timeout=TIMEOUT)  # a task has started
        os.kill(os.getpid(), signal.SIGINT)
    t = threading.Thread(target=interrupt)
    t.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            p.map(_report_then, ['block'] * 4, chunksize=1)
    finally:
        t.join()
        p.terminate()
        p.join()
        q.close()
    assert all(not w.is_alive() for w in p._pool)


def test_task_timeout(ctx, reports):
    p, q, ev = _pool_with_queue(ctx, reports, 1)
    with p:
        r = p.apply_async(_report_then, ('block',), task_timeout=0.2)
        pid = q.get(timeout=TIMEOUT)
        with pytest.raises(cmp.TimeoutError, match='task_timeout'):
            r.get(TIMEOUT)
        assert _wait_gone(pid)
        assert p.apply(sqr, (4,), ) == 16
        assert p.map(sqr, range(10), task_timeout=TIMEOUT) == [x * x for x in range(10)]
    p.join()


def test_imap_max_in_flight_is_bounded(ctx):
    pulled = []

    def endless():
        for i in itertools.count():
            pulled.append(i)
            yield i
    with ctx.Pool(2) as p:
        it = p.imap(sqr, endless(), max_in_flight=4)
        for i in range(200):
            assert next(it) == i * i
            assert len(pulled) <= i + 1 + 4 + 1
        it2 = p.imap_unordered(sqr, endless(), chunksize=3, max_in_flight=2)
        got = [next(it2) for _ in range(30)]
        assert len(got) == 30
    p.join()


def test_progress_fallback(ctx, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, 'tqdm', None)
    with ctx.Pool(2) as p:
        assert p.map(sqr, range(50), progress=True) == [x * x for x in range(50)]
        assert list(p.imap(sqr, range(7), progress=True)) == [x * x for x in range(7)]
    p.join()
    err = capsys.readouterr().err
    assert '50/50' in err and '7/7' in err


_ORPHAN_SCRIPT = textwrap.dedent('''
    import sys, time
    sys.path.insert(0, %r)
    import cmp
    p = cmp.get_context(%r).Pool(2)
    assert p.map(abs, [-1, -2]) == [1, 2]
    print(' '.join(str(w.pid) for w in p._pool), flush=True)
    sys.stdin.read()
''')


def test_workers_exit_when_parent_is_killed(start_method):
    root = os.path.dirname(os.path.dirname(os.path.abspath(cmp.__file__)))
    proc = subprocess.Popen([sys.executable, '-c',
                             _ORPHAN_SCRIPT % (root, start_method)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        pids = [int(x) for x in proc.stdout.readline().split()]
        assert len(pids) == 2
    finally:
        proc.kill()
        proc.wait()
        proc.stdin.close()
        proc.stdout.close()
    for pid in pids:
        assert _wait_gone(pid), 'worker %d outlived its parent' % pid


def test_close_join_with_an_abandoned_bounded_imap(ctx):
    p = ctx.Pool(2)
    it = p.imap(sqr, iter(range(100)), max_in_flight=2)
    assert next(it) == 0
    p.close()
    p.join()
    assert list(it) == [x * x for x in range(1, 100)]


def _exit_now(x):
    os._exit(3)


def test_killed_and_terminated_workers_leave_no_arena_memory(ctx):
    # A worker's channels live in the shared arena: a worker that dies
    # without its exit accounting (os._exit, SIGKILL, terminate()) must not
    # keep them, or anything else the pool allocated, from being freed.
    before = cmp._cmp.arena_stats()['bytes_in_use']
    for _ in range(3):
        with ctx.Pool(2) as p:
            assert p.map(sqr, range(50), chunksize=1) == [x * x for x in range(50)]
            with pytest.raises(cmp.pool.WorkerLostError):
                p.apply_async(_exit_now, (1,)).get(TIMEOUT)
            assert p.apply(sqr, (3,)) == 9
        p.join()
    p = ctx.Pool(2)
    assert p.map(sqr, range(10)) == [x * x for x in range(10)]
    p.close()
    p.join()
    assert cmp._cmp.arena_stats()['bytes_in_use'] == before


_ARENA_SCRIPT = '''
import sys
sys.path.insert(0, %r)
import cmp, cmp.pool


def sqr(x):
    return x * x


if __name__ == '__main__':
    big = b'x' * (8 << 20)
    with cmp.Pool(2) as p:
        try:
            p.apply(len, (big,))
        except MemoryError:
            pass
        else:
            raise AssertionError('no MemoryError')
        try:
            p.map(len, [big, b'y'], chunksize=1)
        except MemoryError:
            pass
        else:
            raise AssertionError('no MemoryError')
        assert p.map(sqr, range(100)) == [x * x for x in range(100)]
    p.join()
    print('ok')
'''


def test_task_larger_than_the_arena_fails_alone():
    root = os.path.dirname(os.path.dirname(os.path.abspath(cmp.__file__)))
    env = dict(os.environ, CMP_ARENA_SIZE=str(4 << 20))
    out = subprocess.run([sys.executable, '-c', _ARENA_SCRIPT % root], env=env,
                         capture_output=True, text=True, timeout=TIMEOUT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == 'ok'


def test_worker_killed_before_it_took_its_task(ctx):
    # A stopped worker cannot take the task handed to it: killed then, it
    # was running nothing, and the task runs on its replacement.
    with ctx.Pool(1) as p:
        assert p.apply(sqr, (2,)) == 4
        pid = p._pool[0].pid
        os.kill(pid, signal.SIGSTOP)
        try:
            r = p.apply_async(sqr, (3,))
            assert not r.ready()
        finally:
            os.kill(pid, signal.SIGKILL)
        assert r.get(TIMEOUT) == 9
        assert _wait_gone(pid)
    p.join()
