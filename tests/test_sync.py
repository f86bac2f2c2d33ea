"""Semaphore, BoundedSemaphore, Event, Condition and Barrier: the stdlib's
behaviour, run against both backends, across threads and processes."""
import multiprocessing
import os
import pickle
import queue
import re
import signal
import threading
import time

import pytest

from conftest import TIMEOUT

# The stdlib's Barrier keeps its state in the stdlib's shared heap, whose
# first use opens a file that stays open for the life of the process: open
# it now, before the leftover check of any test takes its snapshot.
_STDLIB_HEAP_WARMUP = multiprocessing.get_context("fork").Value("i", 0)


def _start(mp, target, *args):
    p = mp.Process(target=target, args=args)
    p.start()
    return p


def _join_ok(*procs):
    for p in procs:
        p.join(TIMEOUT)
        assert p.exitcode == 0, p


def _start_thread(target, *args):
    t = threading.Thread(target=target, args=args)
    t.start()
    return t


# ---- calls of the hot methods (shared by the locks and semaphores) ----------

@pytest.mark.parametrize("kind,recursive", [("Lock", False), ("RLock", True),
                                            ("Semaphore", False),
                                            ("BoundedSemaphore", False)])
def test_acquire_release_argument_forms(mp, kind, recursive):
    lock = getattr(mp, kind)()
    assert lock.acquire() is True
    with pytest.raises(TypeError, match=r"release\(\) takes no arguments \(1 given\)$"):
        lock.release(None)
    assert lock.acquire(False) is recursive       # still held after the bad call
    assert lock.acquire(True, 0.01) is recursive
    with pytest.raises(TypeError):
        lock.acquire(True, None, 1)
    release = lock.release                        # bound once, as benchmarks do
    for _ in range(3 if recursive else 1):
        release()
    assert lock.acquire(block=True, timeout=None) is True
    lock.release()


# ---- Semaphore --------------------------------------------------------------

def test_semaphore_acquire_release(mp):
    s = mp.Semaphore(2)
    assert s.get_value() == 2
    assert s.acquire() is True
    assert s.acquire(True) is True
    assert s.acquire(False) is False
    assert s.acquire(timeout=0.01) is False
    assert s.acquire(True, -1) is False          # negative timeout: zero
    assert s.acquire(block=False, timeout=5) is False
    assert s.get_value() == 0
    s.release()
    s.release()
    s.release()                                   # unbounded: no error
    assert s.get_value() == 3


def test_semaphore_default_and_context_manager(mp):
    s = mp.Semaphore()
    assert s.get_value() == 1
    with s as r:
        assert r is True
        assert s.get_value() == 0
    assert s.get_value() == 1


def test_semaphore_repr(mp):
    s = mp.Semaphore(3)
    assert repr(s) == "<Semaphore(value=3)>"
    b = mp.BoundedSemaphore(2)
    assert repr(b) == "<BoundedSemaphore(value=2, maxvalue=2)>"
    b.acquire()
    assert repr(b) == "<BoundedSemaphore(value=1, maxvalue=2)>"


def test_bounded_semaphore_released_too_often(mp):
    b = mp.BoundedSemaphore(2)
    with pytest.raises(ValueError, match="^semaphore or lock released too many times$"):
        b.release()
    b.acquire()
    b.release()
    assert b.get_value() == 2
    with pytest.raises(ValueError):
        b.release()
    assert mp.BoundedSemaphore().get_value() == 1


@pytest.mark.parametrize("value,exc", [(-1, OSError), (1.5, TypeError),
                                       ("a", TypeError), (2 ** 31, OverflowError)])
def test_semaphore_bad_values(mp, value, exc):
    with pytest.raises(exc):
        mp.Semaphore(value)
    with pytest.raises(exc):
        mp.BoundedSemaphore(value)


def test_semaphore_zero_value(mp):
    s = mp.Semaphore(0)
    assert s.acquire(False) is False
    b = mp.BoundedSemaphore(0)
    with pytest.raises(ValueError):
        b.release()


def test_semaphore_threads(mp):
    s = mp.Semaphore(0)
    got = []
    ts = [_start_thread(lambda: got.append(s.acquire(timeout=TIMEOUT))) for _ in range(3)]
    for _ in ts:
        s.release()
    for t in ts:
        t.join(TIMEOUT)
    assert got == [True] * 3
    assert s.get_value() == 0


def _sem_child(s, done, n):
    for _ in range(n):
        assert s.acquire(timeout=TIMEOUT)
    done.release()


def test_semaphore_processes(ctx):
    s, done = ctx.Semaphore(0), ctx.Semaphore(0)
    ps = [_start(ctx, _sem_child, s, done, 50) for _ in range(2)]
    for _ in range(100):
        s.release()
    for _ in ps:
        assert done.acquire(timeout=TIMEOUT)
    _join_ok(*ps)
    assert s.get_value() == 0


# ---- Event ------------------------------------------------------------------

def test_event_basics(mp):
    e = mp.Event()
    assert e.is_set() is False
    assert e.wait(0) is False
    assert e.wait(0.01) is False
    assert e.wait(timeout=-1) is False
    assert e.set() is None
    assert e.is_set() is True
    assert e.wait() is True
    assert e.wait(0) is True
    e.set()
    assert e.clear() is None
    assert e.is_set() is False
    e.clear()
    assert e.is_set() is False


def test_event_repr(mp):
    e = mp.Event()
    if "__repr__" in multiprocessing.synchronize.Event.__dict__:
        assert re.fullmatch(r"<Event at 0x[0-9a-f]+ unset>", repr(e))
        e.set()
        assert re.fullmatch(r"<Event at 0x[0-9a-f]+ set>", repr(e))
    else:
        assert re.fullmatch(r"<[\w.]+\.Event object at 0x[0-9a-f]+>", repr(e))


def test_event_wakes_all_threads(mp):
    e = mp.Event()
    got = []
    ts = [_start_thread(lambda: got.append(e.wait(TIMEOUT))) for _ in range(4)]
    e.set()
    for t in ts:
        t.join(TIMEOUT)
    assert got == [True] * 4


def _event_pong(ping, pong, rounds):
    for _ in range(rounds):
        assert ping.wait(TIMEOUT)
        ping.clear()
        pong.set()


def test_event_ping_pong_processes(ctx):
    ping, pong = ctx.Event(), ctx.Event()
    p = _start(ctx, _event_pong, ping, pong, 200)
    for _ in range(200):
        ping.set()
        assert pong.wait(TIMEOUT)
        pong.clear()
    _join_ok(p)


# ---- Condition --------------------------------------------------------------

def test_condition_requires_lock(mp):
    c = mp.Condition()
    with pytest.raises(AssertionError, match="must acquire"):
        c.wait()
    with pytest.raises(AssertionError, match="lock is not owned"):
        c.notify()
    with pytest.raises(AssertionError, match="lock is not owned"):
        c.notify_all()
    c2 = mp.Condition(mp.Lock())
    with pytest.raises(AssertionError):
        c2.wait(0)


def test_condition_not_owner_thread(mp):
    c = mp.Condition()
    errors = []

    def other():
        try:
            c.notify()
        except AssertionError:
            errors.append("notify")
        try:
            c.wait(0)
        except AssertionError:
            errors.append("wait")

    with c:
        _start_thread(other).join(TIMEOUT)
    assert errors == ["notify", "wait"]


def test_condition_repr(mp):
    c = mp.Condition()
    assert repr(c) == "<Condition(<RLock(None, 0)>, 0)>"
    c2 = mp.Condition(mp.Lock())
    assert repr(c2) == "<Condition(<Lock(owner=None)>, 0)>"
    with c2:
        assert repr(c2) == "<Condition(<Lock(owner=MainProcess)>, 0)>"


def test_condition_delegates_to_lock(mp):
    lock = mp.Lock()
    c = mp.Condition(lock)
    assert c.acquire() is True
    assert c.acquire(False) is False
    assert lock.acquire(timeout=0.01) is False
    c.release()
    with pytest.raises(ValueError):
        c.release()
    with c as r:
        assert r is True
        assert lock.acquire(False) is False
    assert lock.acquire(False) is True
    lock.release()


def test_condition_wait_timeout_keeps_lock(mp):
    c = mp.Condition()
    with c:
        assert c.acquire()                      # depth 2
        assert c.wait(0.01) is False
        assert c.wait(timeout=-1) is False
        assert repr(c._lock) == "<RLock(MainProcess, 2)>"
        c.release()
    assert repr(c._lock) == "<RLock(None, 0)>"
    c2 = mp.Condition(mp.Lock())
    with c2:
        assert c2.wait(0.01) is False
        assert repr(c2._lock) == "<Lock(owner=MainProcess)>"


def test_condition_notify_without_waiters(mp):
    c = mp.Condition()
    with c:
        c.notify()
        c.notify(5)
        c.notify_all()
        assert c.wait(0) is False


def test_condition_rlock_released_fully_while_waiting(mp):
    c = mp.Condition()
    seen = []

    def notifier():
        with c:                           # only possible if wait released all
            seen.append(repr(c._lock).startswith("<RLock(MainProcess|"))
            c.notify()

    with c:
        with c:
            t = _start_thread(notifier)
            assert c.wait(TIMEOUT) is True
            assert repr(c._lock) == "<RLock(MainProcess, 2)>"
    t.join(TIMEOUT)
    assert seen == [True]


def _cond_waiter(c, ready, results):
    with c:
        ready.release()
        results.put(c.wait(TIMEOUT))


def test_condition_notify_n_counts(ctx):
    c, ready, results = ctx.Condition(), ctx.Semaphore(0), ctx.Queue()
    ps = [_start(ctx, _cond_waiter, c, ready, results) for _ in range(4)]
    for _ in ps:
        assert ready.acquire(timeout=TIMEOUT)
    with c:                  # every waiter released the lock: all are waiting
        c.notify(2)
    assert [results.get(timeout=TIMEOUT) for _ in range(2)] == [True, True]
    with pytest.raises(queue.Empty):
        results.get(timeout=0.2)
    with c:
        c.notify()
    assert results.get(timeout=TIMEOUT) is True
    with pytest.raises(queue.Empty):
        results.get(timeout=0.2)
    with c:
        c.notify_all()
    assert results.get(timeout=TIMEOUT) is True
    _join_ok(*ps)
    results.close()
    results.join_thread()


def test_condition_notify_only_present_waiters(mp):
    # A notify must not be saved up for a thread that starts waiting later.
    c = mp.Condition()
    got = []
    with c:
        c.notify()
    with c:
        t = _start_thread(lambda: (c.acquire(), got.append(c.wait(0.05)), c.release()))
    t.join(TIMEOUT)
    assert got == [False]


def test_condition_notify_all_threads(mp):
    c = mp.Condition(mp.Lock())
    ready = threading.Semaphore(0)
    got = []

    def waiter():
        with c:
            ready.release()
            got.append(c.wait(TIMEOUT))

    ts = [_start_thread(waiter) for _ in range(5)]
    for _ in ts:
        assert ready.acquire(timeout=TIMEOUT)
    with c:
        c.notify_all()
    for t in ts:
        t.join(TIMEOUT)
    assert got == [True] * 5


def test_condition_wait_for(mp):
    c = mp.Condition()
    with c:
        assert c.wait_for(lambda: 42) == 42
        assert c.wait_for(lambda: 0, timeout=0.05) == 0
        assert c.wait_for(lambda: None, timeout=-1) is None


def _cond_set_flag(c, flag):
    with c:
        flag.set()
        c.notify_all()


def test_condition_wait_for_processes(ctx):
    c, flag = ctx.Condition(), ctx.Event()
    with c:
        p = _start(ctx, _cond_set_flag, c, flag)
        assert c.wait_for(flag.is_set, timeout=TIMEOUT) is True
    _join_ok(p)


def _cond_pong(c, turns, rounds):
    # turns.get_value() counts the moves made; the child makes the odd ones.
    with c:
        for i in range(rounds):
            assert c.wait_for(lambda: turns.get_value() == 2 * i + 1, TIMEOUT)
            turns.release()
            c.notify()


def test_condition_ping_pong_processes(ctx):
    c, turns = ctx.Condition(ctx.Lock()), ctx.Semaphore(0)
    p = _start(ctx, _cond_pong, c, turns, 100)
    with c:
        for i in range(100):
            turns.release()
            c.notify()
            assert c.wait_for(lambda: turns.get_value() == 2 * i + 2, TIMEOUT)
    _join_ok(p)


def _release(lock):
    lock.release()


def test_condition_notify_then_any_release_wakes(ctx):
    # The wake-up notify owes is delivered however the lock is released
    # afterwards: lock.release(), the Condition's release(), the lock's
    # __exit__, or another process releasing the Lock.
    lock = ctx.Lock()
    c, ready, results = ctx.Condition(lock), ctx.Semaphore(0), ctx.Queue()
    other_process = lambda: _join_ok(_start(ctx, _release, lock))  # noqa: E731
    for release in (lock.release, c.release, lambda: lock.__exit__(None, None, None),
                    other_process):
        p = _start(ctx, _cond_waiter, c, ready, results)
        assert ready.acquire(timeout=TIMEOUT)
        lock.acquire()
        c.notify()
        release()
        assert results.get(timeout=TIMEOUT) is True
        _join_ok(p)
    results.close()
    results.join_thread()


def test_condition_notify_in_nested_rlock_wakes_on_last_release(ctx):
    c, ready, results = ctx.Condition(), ctx.Semaphore(0), ctx.Queue()
    p = _start(ctx, _cond_waiter, c, ready, results)
    assert ready.acquire(timeout=TIMEOUT)
    with c:
        with c:
            c.notify()
        c._lock.release()           # the last level: the lock is free now
        assert results.get(timeout=TIMEOUT) is True
        c._lock.acquire()
    _join_ok(p)
    results.close()
    results.join_thread()


def test_conditions_sharing_a_lock_notified_together(ctx):
    lock = ctx.Lock()
    a, b = ctx.Condition(lock), ctx.Condition(lock)
    ready, results = ctx.Semaphore(0), ctx.Queue()
    ps = [_start(ctx, _cond_waiter, cond, ready, results) for cond in (a, b, a, b)]
    for _ in ps:
        assert ready.acquire(timeout=TIMEOUT)
    with lock:
        a.notify(2)
        b.notify(2)
    assert [results.get(timeout=TIMEOUT) for _ in ps] == [True] * 4
    _join_ok(*ps)
    results.close()
    results.join_thread()


def _cond_wait_value(c, v, ready, results):
    with c:
        ready.release()
        results.put(c.wait_for(lambda: v.value == 1, TIMEOUT))


def test_condition_notify_released_through_a_value_sharing_the_lock(ctx):
    lock = ctx.RLock()
    v, c = ctx.Value("i", 0, lock=lock), ctx.Condition(lock)
    ready, results = ctx.Semaphore(0), ctx.Queue()
    p = _start(ctx, _cond_wait_value, c, v, ready, results)
    assert ready.acquire(timeout=TIMEOUT)
    with v:
        v.value = 1
        c.notify()
    assert results.get(timeout=TIMEOUT) is True
    _join_ok(p)
    results.close()
    results.join_thread()


def _pinned_ping_then_wait(ping, pong, cpu, w, rounds):
    os.sched_setaffinity(0, {cpu})
    for _ in range(rounds):
        ping.set()
        assert pong.wait(TIMEOUT)
        pong.clear()
    try:
        os.write(w, b"r")
        pong.wait()                 # the partner is gone: until interrupted
    except KeyboardInterrupt:
        os._exit(42)
    os._exit(1)


def _pinned_pong(ping, pong, cpu, rounds):
    os.sched_setaffinity(0, {cpu})
    for _ in range(rounds):
        assert ping.wait(TIMEOUT)
        ping.clear()
        pong.set()


def _state(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rpartition(")")[2].split()[0]


def test_event_wait_beside_its_partner_on_one_cpu_is_interrupted(mp):
    # Fork only: the waiter writes to the fd of a pipe it inherits.
    # Partners that share a CPU: the waiter sleeps at once (cmp: without a
    # nap); Ctrl-C while it sleeps still ends the wait.
    cpu = sorted(os.sched_getaffinity(0))[0]
    ping, pong = mp.Event(), mp.Event()
    r, w = os.pipe()
    try:
        partner = _start(mp, _pinned_pong, ping, pong, cpu, 20)
        waiter = _start(mp, _pinned_ping_then_wait, ping, pong, cpu, w, 20)
        assert os.read(r, 1) == b"r"
        _join_ok(partner)
        deadline = time.monotonic() + TIMEOUT
        while _state(waiter.pid) != "S":        # asleep inside pong.wait()
            assert time.monotonic() < deadline
            time.sleep(0.001)
        os.kill(waiter.pid, signal.SIGINT)
        waiter.join(TIMEOUT)
        assert waiter.exitcode == 42
    finally:
        os.close(r)
        os.close(w)


# ---- Barrier ----------------------------------------------------------------

def test_barrier_properties(mp):
    b = mp.Barrier(3)
    assert b.parties == 3
    assert b.n_waiting == 0
    assert b.broken is False
    if "__repr__" in threading.Barrier.__dict__:
        assert re.search(r" at 0x[0-9a-f]+: waiters=0/3>$", repr(b))
        b.abort()
        assert re.search(r" at 0x[0-9a-f]+: broken>$", repr(b))


def test_barrier_parties_not_checked(mp):
    # The stdlib's multiprocessing Barrier skips threading.Barrier's check.
    assert mp.Barrier(0).parties == 0


def test_barrier_threads_and_action(mp):
    calls = []
    b = mp.Barrier(3, action=lambda: calls.append(b.n_waiting))
    indices = []
    ts = [_start_thread(lambda: indices.append(b.wait(TIMEOUT))) for _ in range(3)]
    for t in ts:
        t.join(TIMEOUT)
    assert sorted(indices) == [0, 1, 2]
    assert calls == [3]
    assert b.n_waiting == 0 and not b.broken
    # reusable
    ts = [_start_thread(lambda: indices.append(b.wait(TIMEOUT))) for _ in range(3)]
    for t in ts:
        t.join(TIMEOUT)
    assert sorted(indices[3:]) == [0, 1, 2]
    assert calls == [3, 3]


def _barrier_child(b, results, rounds):
    for _ in range(rounds):
        try:
            results.put(b.wait(TIMEOUT))
        except threading.BrokenBarrierError:
            results.put("broken")


def test_barrier_processes_with_action(mp):
    # Fork only: the action (a bound method of the stdlib's SemLock) is not
    # picklable for spawn.
    calls = mp.Semaphore(0)
    b = mp.Barrier(3, action=calls.release)
    results = mp.Queue()
    ps = [_start(mp, _barrier_child, b, results, 5) for _ in range(2)]
    mine = [b.wait(TIMEOUT) for _ in range(5)]
    theirs = [results.get(timeout=TIMEOUT) for _ in range(10)]
    _join_ok(*ps)
    assert calls.get_value() == 5
    assert sorted(mine + theirs) == [0] * 5 + [1] * 5 + [2] * 5
    results.close()
    results.join_thread()


def test_barrier_timeout_breaks(mp):
    b = mp.Barrier(2)
    with pytest.raises(threading.BrokenBarrierError):
        b.wait(0.05)
    assert b.broken is True
    with pytest.raises(threading.BrokenBarrierError):
        b.wait(TIMEOUT)
    b.reset()
    assert b.broken is False
    b2 = mp.Barrier(2, timeout=0.05)          # the default timeout
    with pytest.raises(threading.BrokenBarrierError):
        b2.wait()
    assert b2.broken


def test_barrier_action_raises(mp):
    def action():
        raise ZeroDivisionError

    b = mp.Barrier(1, action=action)
    with pytest.raises(ZeroDivisionError):
        b.wait()
    assert b.broken
    with pytest.raises(threading.BrokenBarrierError):
        b.wait()


def _barrier_wait_report(b, results):
    try:
        results.put(b.wait(TIMEOUT))
    except threading.BrokenBarrierError:
        results.put("broken")


def _wait_n_waiting(b, n):
    deadline = time.monotonic() + TIMEOUT
    while b.n_waiting != n:
        assert time.monotonic() < deadline
        time.sleep(0.001)


@pytest.mark.parametrize("how", ["abort", "reset"])
def test_barrier_abort_reset_wake_waiters(ctx, how):
    b = ctx.Barrier(3)
    results = ctx.Queue()
    ps = [_start(ctx, _barrier_wait_report, b, results) for _ in range(2)]
    _wait_n_waiting(b, 2)
    getattr(b, how)()
    assert [results.get(timeout=TIMEOUT) for _ in range(2)] == ["broken", "broken"]
    _join_ok(*ps)
    assert b.broken is (how == "abort")
    if how == "abort":
        b.reset()
    assert b.n_waiting == 0 and not b.broken
    ps = [_start(ctx, _barrier_wait_report, b, results) for _ in range(2)]
    idx = b.wait(TIMEOUT)
    got = sorted([idx] + [results.get(timeout=TIMEOUT) for _ in range(2)])
    assert got == [0, 1, 2]
    _join_ok(*ps)
    results.close()
    results.join_thread()


# ---- cmp only: passing primitives to a running process ----------------------

def _use_after_start(conn):
    sem, ev, cond, bar, done = conn.recv()
    assert sem.acquire(timeout=TIMEOUT)
    ev.set()
    with cond:
        assert cond.wait_for(lambda: done.is_set(), TIMEOUT)
    assert bar.wait(TIMEOUT) in (0, 1)
    conn.send(repr(cond))
    conn.close()


def test_pickle_to_running_process():
    import cmp
    parent, child = multiprocessing.Pipe()
    p = cmp.Process(target=_use_after_start, args=(child,))
    p.start()
    child.close()
    sem, ev, cond, bar = cmp.Semaphore(0), cmp.Event(), cmp.Condition(cmp.Lock()), cmp.Barrier(2)
    done = cmp.Event()
    parent.send((sem, ev, cond, bar, done))
    sem.release()
    assert ev.wait(TIMEOUT)
    with cond:
        done.set()
        cond.notify()
    assert bar.wait(TIMEOUT) in (0, 1)
    assert parent.recv().startswith("<Condition(<Lock(owner=")
    parent.close()
    _join_ok(p)


def test_pickle_round_trip_keeps_identity():
    import cmp
    cond = cmp.Condition()
    bar = cmp.Barrier(2, action=print, timeout=3.5)
    c2 = pickle.loads(pickle.dumps(cond))
    b2 = pickle.loads(pickle.dumps(bar))
    assert isinstance(c2, type(cond))
    assert b2.parties == 2 and b2._action is print and b2._timeout == 3.5
    with cond:                            # the same lock underneath
        assert c2.acquire(False) is True  # RLock: same thread, recursion
        c2.release()
    for obj in (cmp.Semaphore(3), cmp.BoundedSemaphore(2)):
        copy = pickle.loads(pickle.dumps(obj))
        assert repr(copy) == repr(obj)
        before = obj.get_value()
        copy.acquire()
        assert copy.get_value() == obj.get_value() == before - 1
    e = cmp.Event()
    pickle.loads(pickle.dumps(e)).set()
    assert e.is_set()
