"""One arena for the whole process tree, whatever starts its processes:
children started by fork, spawn and forkserver share the very objects of
their parent (the same counts, the same futex words), a spawned child joins
the arena before it runs any of the program's code, and nothing outside the
tree can reach the arena."""
import os
import pickle
import signal
import subprocess
import sys
import textwrap

import pytest

import cmp
from cmp import _cmp
from cmp._core import arena_stats
from conftest import START_METHODS, TIMEOUT

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(cmp.__file__)))


@pytest.fixture(autouse=True)
def _helpers(process_helpers, stdlib_heap):
    """Every test here may start the helpers of spawn and forkserver."""


def _count(lock, value, ready, done):
    with lock:
        value.value += 1
    ready.set()
    done.wait(TIMEOUT)


def test_objects_passed_at_start(ctx):
    # Behaviour test: what the stdlib does with its own objects of the
    # same context, cmp does with its objects under every method.
    lock, value, ready, done = ctx.Lock(), ctx.Value('i', 0), ctx.Event(), ctx.Event()
    procs = [ctx.Process(target=_count, args=(lock, value, ready, done))
             for _ in range(2)]
    for p in procs:
        p.start()
    assert ready.wait(TIMEOUT)
    done.set()
    for p in procs:
        p.join(TIMEOUT)
        assert p.exitcode == 0
    assert value.value == 2


def _serve(tasks, results):
    # Objects that reach this child through a queue, after its start.
    for lock, value, token in iter(tasks.get, None):
        held = lock.acquire(timeout=TIMEOUT)
        value.fetch_add(10)
        results.put((held, os.getpid(), token == arena_stats()['token'],
                     _cmp._shared_refcount(value.get_obj()._cmp_buffer)))
        # The parent checks that it sees this lock held, then asks back.
        tasks.get()
        lock.release()
        results.put('released')


@pytest.mark.parametrize('method', START_METHODS)
def test_objects_sent_through_a_queue_after_start(method):
    # cmp only (the stdlib forbids it): the child gets objects made before
    # and after its start, and works on the parent's very memory.
    ctx = cmp.get_context(method)
    before = ctx.Value('q', 5)
    tasks, results = ctx.Queue(), ctx.Queue()
    p = ctx.Process(target=_serve, args=(tasks, results))
    p.start()
    token = arena_stats()['token']
    # A forked child inherited a reference to `before` (its copy of the
    # parent's wrapper) as well.
    for value, inherited in ((before, method == 'fork'), (ctx.Value('q', 7), 0)):
        lock = ctx.Lock()
        tasks.put((lock, value, token))
        held, pid, same_arena, refs = results.get(timeout=TIMEOUT)
        assert held and pid == p.pid and same_arena
        assert refs == 2 + inherited        # the parent's and the child's
        assert lock.acquire(False) is False     # the child holds this futex
        assert value.value in (15, 17)
        tasks.put('release')
        assert results.get(timeout=TIMEOUT) == 'released'
        assert lock.acquire(timeout=TIMEOUT)
        lock.release()
    tasks.put(None)
    p.join(TIMEOUT)
    assert p.exitcode == 0
    assert before.value == 15


def _exit_holding(objs, ready):
    ready.put(len(objs))


@pytest.mark.parametrize('method', START_METHODS)
def test_a_child_that_exits_lets_go(method):
    ctx = cmp.get_context(method)
    ready = ctx.SimpleQueue()
    start = arena_stats()['blocks_in_use']
    objs = [ctx.Lock(), ctx.RLock(), ctx.Semaphore(2), ctx.Event(),
            ctx.Condition(), ctx.Barrier(2), ctx.Value('i'), ctx.Array('d', 3),
            ctx.RawValue('i'), ctx.RawArray('b', 4), ctx.Queue(),
            ctx.JoinableQueue(), ctx.SimpleQueue()]
    p = ctx.Process(target=_exit_holding, args=(objs, ready))
    p.start()
    assert ready.get() == len(objs)
    p.join(TIMEOUT)
    assert p.exitcode == 0
    for obj in objs:
        handle = getattr(obj, '_lock', obj)
        if hasattr(handle, '_handle'):
            assert _cmp._shared_refcount(handle) == 1, obj
    del objs, obj, handle
    assert arena_stats()['blocks_in_use'] == start


def _hold_and_wait(lock, value, ready, never):
    lock.acquire()
    value.value = 1
    ready.set()
    never.wait()


def _kill_holder(method):
    """Objects held by a child that is SIGKILLed: (blocks the arena keeps
    once the parent let go of its own, took the lock over)."""
    ctx = cmp.get_context(method)
    start = arena_stats()['blocks_in_use']
    lock, value, ready, never = ctx.Lock(), ctx.Value('i', 0), ctx.Event(), ctx.Event()
    p = ctx.Process(target=_hold_and_wait, args=(lock, value, ready, never))
    p.start()
    assert ready.wait(TIMEOUT)
    os.kill(p.pid, signal.SIGKILL)
    p.join(TIMEOUT)
    assert p.exitcode == -signal.SIGKILL
    with pytest.warns(cmp.synchronize.OwnerDiedWarning):
        took = lock.acquire(timeout=TIMEOUT)
    lock.release()
    assert value.value == 1
    del lock, value, ready, never
    return took, arena_stats()['blocks_in_use'] - start


@pytest.mark.parametrize('method', ['fork', 'spawn', 'forkserver'])
def test_a_killed_child_gives_back_what_it_held(method):
    # The process table gives back the references the child held.
    assert _kill_holder(method) == (True, 0)


MAIN_WITH_MODULE_LEVEL_OBJECTS = '''
import os, sys
import cmp

if __name__ == '__main__':
    cmp.set_start_method(sys.argv[1])
LOCK = cmp.Lock()                       # in every process that imports this
COUNT = cmp.Value('i', 0)


def child(lock, count, results):
    results.put((cmp._core.arena_stats()['token'], cmp.get_start_method(),
                 lock.acquire(False), type(LOCK).__name__))
    with count.get_lock():
        count.value += 1


if __name__ == '__main__':
    results = cmp.Queue()
    p = cmp.Process(target=child, args=(LOCK, COUNT, results))
    p.start()
    token, method, acquired, name = results.get(timeout=%(timeout)r)
    p.join(%(timeout)r)
    print(token == cmp._core.arena_stats()['token'], method, acquired,
          name, COUNT.value, p.exitcode)
'''


@pytest.mark.parametrize('method', START_METHODS)
def test_module_level_objects_of_the_main_module(method, tmp_path):
    # The child re-imports the program's main module, which makes cmp
    # objects at import: they live in the arena it joined before.
    script = tmp_path / 'prog.py'
    script.write_text(MAIN_WITH_MODULE_LEVEL_OBJECTS % {'timeout': TIMEOUT})
    out = subprocess.run([sys.executable, str(script), method], cwd=str(tmp_path),
                         env=dict(os.environ, PYTHONPATH=ROOT),
                         capture_output=True, text=True, timeout=TIMEOUT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ['True', method, 'True', 'Lock', '1', '0']


def test_a_child_finds_cmp_without_the_parents_sys_path(tmp_path):
    # The parent found cmp through a sys.path entry made at run time, which
    # the child's interpreter lacks before it gets its parent's sys.path.
    script = tmp_path / 'prog.py'
    script.write_text('import sys\nsys.path.insert(0, %r)\n' % ROOT +
                      MAIN_WITH_MODULE_LEVEL_OBJECTS % {'timeout': TIMEOUT})
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    for method in ('spawn', 'forkserver'):
        out = subprocess.run([sys.executable, str(script), method],
                             cwd=str(tmp_path), env=env,
                             capture_output=True, text=True, timeout=TIMEOUT)
        assert out.returncode == 0, out.stderr
        assert out.stdout.split()[:2] == ['True', method]


def _arena_fds():
    fds = []
    for fd in os.listdir('/proc/self/fd'):
        try:
            if os.readlink('/proc/self/fd/' + fd).startswith('/memfd:cmp-arena'):
                fds.append(int(fd))
        except OSError:
            pass
    return fds


LIST_ARENA_FDS = textwrap.dedent('''
    import os
    found = []
    for fd in os.listdir('/proc/self/fd'):
        try:
            if os.readlink('/proc/self/fd/' + fd).startswith('/memfd:cmp-arena'):
                found.append(fd)
        except OSError:
            pass
    print(len(found))
''')


def _report_fds(results):
    import fcntl
    fds = _arena_fds()
    out = subprocess.run([sys.executable, '-c', LIST_ARENA_FDS], close_fds=False,
                         capture_output=True, text=True, timeout=TIMEOUT)
    results.put((len(fds), all(fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
                               for fd in fds), out.stdout.strip()))


@pytest.mark.parametrize('method', START_METHODS)
def test_unrelated_programs_never_get_the_arena(method):
    # The child maps the arena through one close-on-exec fd; a program it
    # starts with subprocess (even with close_fds=False) gets none.
    ctx = cmp.get_context(method)
    results = ctx.SimpleQueue()
    p = ctx.Process(target=_report_fds, args=(results,))
    p.start()
    assert results.get() == (1, True, '0')
    p.join(TIMEOUT)
    assert p.exitcode == 0
    out = subprocess.run([sys.executable, '-c', LIST_ARENA_FDS], close_fds=False,
                         capture_output=True, text=True, timeout=TIMEOUT)
    assert out.stdout.strip() == '0'


UNPICKLE_FROM_STDIN = '''
import pickle, sys
import cmp
try:
    pickle.loads(sys.stdin.buffer.read())
except RuntimeError as e:
    print(e)
'''


@pytest.mark.parametrize('factory', ['Lock', 'Queue', 'Event'])
def test_a_process_outside_the_tree_gets_a_clear_error(factory):
    obj = getattr(cmp, factory)()
    data = pickle.dumps(obj)
    out = subprocess.run([sys.executable, '-c', UNPICKLE_FROM_STDIN], input=data,
                         env=dict(os.environ, PYTHONPATH=ROOT),
                         capture_output=True, timeout=TIMEOUT)
    assert out.returncode == 0, out.stderr
    assert b'arena this process does not share' in out.stdout
    pickle.loads(data)          # adopts the reference the pickle took


def test_joining_checks_the_fd():
    import tempfile
    with tempfile.TemporaryFile() as f:
        f.write(b'\0' * 4096)
        f.flush()
        out = subprocess.run(
            [sys.executable, '-c', 'import cmp', '--cmp-arena=%d:1' % f.fileno()],
            pass_fds=[f.fileno()], env=dict(os.environ, PYTHONPATH=ROOT),
            capture_output=True, text=True, timeout=TIMEOUT)
    assert out.returncode != 0
    assert 'is not the cmp arena of the process that started this one' in out.stderr
    fd = _cmp._arena_fd()
    wrong_token = subprocess.run(
        [sys.executable, '-c', 'import cmp', '--cmp-arena=%d:1' % fd],
        pass_fds=[fd], env=dict(os.environ, PYTHONPATH=ROOT),
        capture_output=True, text=True, timeout=TIMEOUT)
    assert 'is not the cmp arena' in wrong_token.stderr
