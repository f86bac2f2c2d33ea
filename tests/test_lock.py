"""Lock and RLock: the stdlib's behaviour, run against both backends."""
import inspect
import threading
import weakref

import pytest

from conftest import TIMEOUT


def test_lock_acquire_release(mp):
    lock = mp.Lock()
    assert lock.acquire() is True
    assert lock.acquire(False) is False
    assert lock.acquire(timeout=0.01) is False
    assert lock.acquire(True, -1) is False      # negative timeout: zero
    lock.release()
    with pytest.raises(ValueError):
        lock.release()


def test_lock_repr(mp):
    lock = mp.Lock()
    assert repr(lock) == "<Lock(owner=None)>"
    with lock:
        assert repr(lock) == "<Lock(owner=MainProcess)>"


def test_rlock_recursion_and_owner(mp):
    rlock = mp.RLock()
    assert repr(rlock) == "<RLock(None, 0)>"
    assert rlock.acquire() and rlock.acquire()
    assert repr(rlock) == "<RLock(MainProcess, 2)>"
    got = []
    t = threading.Thread(target=lambda: got.append(rlock.acquire(timeout=0.01)))
    t.start()
    t.join(TIMEOUT)
    assert got == [False]
    rlock.release()
    rlock.release()
    with pytest.raises(AssertionError):
        rlock.release()


def _hold_and_signal(lock, ready, release):
    with lock:
        ready.set()
        release.wait(TIMEOUT)


def test_lock_across_processes(ctx):
    lock, ready, release = ctx.Lock(), ctx.Event(), ctx.Event()
    p = ctx.Process(target=_hold_and_signal, args=(lock, ready, release))
    p.start()
    assert ready.wait(TIMEOUT)
    assert lock.acquire(timeout=0.05) is False
    assert repr(lock) == "<Lock(owner=SomeOtherProcess)>"
    release.set()
    assert lock.acquire(timeout=TIMEOUT)
    lock.release()
    p.join(TIMEOUT)
    assert p.exitcode == 0


@pytest.mark.parametrize('kind', ['Lock', 'RLock'])
def test_with_methods_are_bound_methods(mp, kind):
    lock = getattr(mp, kind)()
    enter, exit_ = lock.__enter__, lock.__exit__
    assert enter.__self__ is lock and exit_.__self__ is lock
    assert (enter.__name__, exit_.__name__) == ('__enter__', '__exit__')
    assert enter == lock.__enter__ and enter != exit_
    assert hash(enter) == hash(lock.__enter__)
    assert str(inspect.signature(enter)) == '()'
    assert str(inspect.signature(exit_)) == '(*args)'
    assert type(lock).__enter__(lock) is True
    type(lock).__exit__(lock, None, None, None)
    with pytest.raises(TypeError):
        enter(1)
    # A bound method keeps its lock alive.
    enter = getattr(mp, kind)().__enter__
    assert enter() is True
    assert repr(enter.__self__).startswith('<%s(' % kind)
    enter.__self__.__exit__(None, None, None)
    with pytest.raises(KeyError):
        with lock:
            raise KeyError
    assert lock.acquire(False) is True
    lock.release()
    with getattr(mp, kind)():
        pass


@pytest.mark.parametrize('kind', ['Lock', 'RLock'])
def test_lock_weakref_and_class(mp, kind):
    lock = getattr(mp, kind)()
    assert str(inspect.signature(type(lock))) == '(*, ctx)'
    with pytest.raises(TypeError):
        type(lock)()
    ref = weakref.ref(lock)
    with lock:
        assert ref() is lock
    # Nothing the with-statement bound keeps the lock alive.
    del lock
    assert ref() is None
