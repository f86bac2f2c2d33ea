"""The process table: what a process that dies without letting go held is
given back (csrc/proc.h).  cmp-only: the stdlib has no arena to measure.

Every test measures the arena's usage (bytes and blocks of the program's
objects) before and after, with real SIGKILLs, for each start method."""
import gc
import os
import select
import signal
import threading
import time

import pytest

import cmp
import cmp.pool
from cmp import _cmp

from conftest import TIMEOUT

N_KILLED = {"fork": 500, "spawn": 12, "forkserver": 30}


def _usage():
    gc.collect()                # a Pool's wrappers sit in reference cycles
    st = _cmp.arena_stats()     # gives back what dead processes held first
    return st["bytes_in_use"], st["blocks_in_use"]


@pytest.fixture
def cctx(start_method, process_helpers):
    return cmp.get_context(start_method)


def _hold_and_wait(shared, ready, never):
    # Objects of its own, beside the parent's it was given.
    mine = [cmp.Array('b', 1 << 20, lock=False), cmp.Lock(), cmp.Queue()]
    mine[2].put(b"x" * 100)
    ready.release()
    never.wait()
    return shared, mine


def test_killed_children_give_back_what_they_held(cctx, start_method):
    start = _usage()
    ready, never = cctx.Semaphore(0), cctx.Event()
    for _ in range(N_KILLED[start_method]):
        shared = cctx.Array('b', 1 << 20, lock=False)
        p = cctx.Process(target=_hold_and_wait, args=(shared, ready, never))
        p.start()
        assert ready.acquire(timeout=TIMEOUT)
        os.kill(p.pid, signal.SIGKILL)
        p.join(TIMEOUT)
        assert p.exitcode == -signal.SIGKILL
        del shared
    del ready, never
    assert _usage() == start


def _sleep_forever(shared):
    threading.Event().wait()


N_UNRUN = {"fork": 200, "spawn": 10, "forkserver": 30}


def test_children_killed_before_they_run(start_method, process_helpers):
    """Killed as soon as start() returns: a forked child may not have run
    one instruction of its own, a spawned one not have read its start data;
    what the parent took or pickled for it comes back."""
    start = _usage()
    ctx = cmp.get_context(start_method)
    shared = ctx.Array('b', 1 << 16, lock=False)
    for _ in range(N_UNRUN[start_method]):
        p = ctx.Process(target=_sleep_forever, args=(shared,))
        p.start()
        os.kill(p.pid, signal.SIGKILL)
        p.join(TIMEOUT)
    del shared
    assert _usage() == start


def test_bare_os_fork_children_give_back():
    """os.fork() outside multiprocessing (fork only: it is a fork)."""
    start = _usage()
    objs = [cmp.Array('b', 1 << 16, lock=False), cmp.RLock()]
    for wait_first in (False, True) * 50:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            more = cmp.Value('d', 1.0)
            os.write(w, b"k")
            threading.Event().wait(more.value * 100)
            os._exit(0)
        os.close(w)
        if wait_first:
            assert os.read(r, 1) == b"k"
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(r)
    del objs
    assert _usage() == start


def test_fork_from_a_thread_gives_back():
    """The parent names its child from its own thread's children (fork
    only: a spawned child is named by the pid its start returns)."""
    start = _usage()
    shared = cmp.Array('b', 1 << 16, lock=False)
    pids = []

    def fork_some():
        for _ in range(20):
            pid = os.fork()
            if pid == 0:
                threading.Event().wait(100)
                os._exit(0)
            pids.append(pid)
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)

    t = threading.Thread(target=fork_some)
    t.start()
    t.join(TIMEOUT)
    assert len(pids) == 20
    del shared
    assert _usage() == start


def _keep(state):
    global _STATE
    _STATE = state


def _crash(_):
    os.kill(os.getpid(), signal.SIGKILL)


def _size(_):
    return len(_STATE)


def test_crashed_pool_workers_give_back(cctx):
    start = _usage()
    state = cctx.Array('b', 1 << 20, lock=False)
    pool = cctx.Pool(2, initializer=_keep, initargs=(state,))
    try:
        assert pool.map(_size, range(4)) == [1 << 20] * 4
        for _ in range(3):
            with pytest.raises(cmp.pool.WorkerLostError):
                pool.apply(_crash, (0,))
        assert pool.map(_size, range(4)) == [1 << 20] * 4
    finally:
        pool.terminate()
        pool.join()
    del state, pool
    assert _usage() == start


def _pool_then_wait(start_method, pids):
    pool = cmp.get_context(start_method).Pool(2)
    pids.put([p.pid for p in pool._pool])
    threading.Event().wait()


def _wait_gone(pidfds):
    """Wait (TIMEOUT at most) until every process behind `pidfds` exited."""
    poller = select.poll()
    for fd in pidfds:
        poller.register(fd, select.POLLIN)
    left, deadline = set(pidfds), time.monotonic() + TIMEOUT
    while left and time.monotonic() < deadline:
        for fd, _ in poller.poll(max(deadline - time.monotonic(), 0) * 1000):
            left.discard(fd)
            poller.unregister(fd)
    return not left


def test_killed_pool_parent_gives_back_its_rings(cctx, start_method):
    """A Pool's channels live in the arena while its process or a worker
    holds them: a SIGKILLed pool process and its workers (which leave once
    it is gone) give them back."""
    import multiprocessing.connection
    pids = cctx.SimpleQueue()
    start = _usage()
    for _ in range(3):
        p = cctx.Process(target=_pool_then_wait, args=(start_method, pids))
        p.start()
        ready = multiprocessing.connection.wait([pids._reader, p.sentinel], TIMEOUT)
        assert pids._reader in ready, "the pool's process did not report"
        workers = pids.get()
        assert len(workers) == 2
        pidfds = [os.pidfd_open(pid) for pid in workers]
        try:
            os.kill(p.pid, signal.SIGKILL)
            p.join(TIMEOUT)
            assert p.exitcode == -signal.SIGKILL
            assert _wait_gone(pidfds), "the workers outlived their pool"
        finally:
            for fd in pidfds:
                os.close(fd)
        assert _usage() == start
    del pids


def test_exit_without_hooks_gives_back(cctx):
    """os._exit in a child skips every exit hook: the table still knows."""
    start = _usage()
    shared = cctx.Array('b', 1 << 16, lock=False)
    for _ in range(5):
        p = cctx.Process(target=os._exit, args=(3,))
        p.start()
        p.join(TIMEOUT)
        assert p.exitcode == 3
    del shared
    assert _usage() == start


def test_the_table_counts_each_process_once(start_method, process_helpers):
    """Entries come back: killed children later the table holds what it
    held before."""
    before = _cmp._proc_stats(None)["in_use"]
    test_children_killed_before_they_run(start_method, process_helpers)
    _usage()
    assert _cmp._proc_stats(None)["in_use"] == before


def test_holdings_count_every_wrapper():
    lock = cmp.Lock()
    assert _cmp._proc_stats(lock)["held"] == 1
    again = [lock._rebuild(lock._handle()) for _ in range(3)]
    assert _cmp._proc_stats(lock)["held"] == 4
    del again
    assert _cmp._proc_stats(lock)["held"] == 1


def _hold_forever(shared, ready):
    mine = cmp.Array('b', 1 << 12, lock=False)
    ready.release()
    threading.Event().wait()
    return mine


@pytest.mark.stress
def test_ten_thousand_killed_children():
    """make stress: 10,000 forked children, each holding the parent's
    object and one of its own, SIGKILLed; the arena comes back."""
    import time
    start = _usage()
    ctx = cmp.get_context("fork")
    ready = ctx.Semaphore(0)
    shared = ctx.Array('b', 1 << 20, lock=False)
    t0 = time.monotonic()
    peak = 0
    for i in range(10_000):
        p = ctx.Process(target=_hold_forever, args=(shared, ready))
        p.start()
        assert ready.acquire(timeout=TIMEOUT)
        os.kill(p.pid, signal.SIGKILL)
        p.join(TIMEOUT)
        if i % 1000 == 999:
            peak = max(peak, _usage()[0] - start[0])
    elapsed = time.monotonic() - t0
    del shared, ready
    end = _usage()
    print("\n10,000 killed children in %.1f s; arena usage above the start "
          "at each 1000th: at most %d bytes; at the end: %d bytes, %d blocks"
          % (elapsed, peak, end[0] - start[0], end[1] - start[1]))
    assert end == start

