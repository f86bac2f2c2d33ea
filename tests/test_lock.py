"""Lock and RLock: the stdlib's behaviour, run against both backends."""
import threading

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


def test_lock_across_processes(mp):
    lock, ready, release = mp.Lock(), mp.Event(), mp.Event()
    p = mp.Process(target=_hold_and_signal, args=(lock, ready, release))
    p.start()
    assert ready.wait(TIMEOUT)
    assert lock.acquire(timeout=0.05) is False
    assert repr(lock) == "<Lock(owner=SomeOtherProcess)>"
    release.set()
    assert lock.acquire(timeout=TIMEOUT)
    lock.release()
    p.join(TIMEOUT)
    assert p.exitcode == 0
