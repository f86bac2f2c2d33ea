"""How fast are Lock, RLock and Semaphore, alone and fought over?

Uncontended: one process takes and gives back the primitive in a loop (one
op = one acquire + one release).  Contended: two processes add 1 to a plain
shared counter under the Lock; the count must come out exact.  The counter
lives in memory the case maps itself (common.raw_shared), so it depends on
neither backend's Value.
"""
import ctypes
import os
import threading
import time

from benchmarks.common import case, cross_cpus, finish, pin_self, raw_shared


def _sizes(quick):
    return 50_000 if quick else 1_000_000


def _check_free(lock, permits, recursive=False):
    """From another thread: `lock` holds exactly `permits` free permits."""
    got = []

    def probe():
        taken = 0
        while taken < permits + 1 and lock.acquire(False):
            taken += 1
            if recursive:
                break
        got.append(taken)
        for _ in range(taken):
            lock.release()

    t = threading.Thread(target=probe)
    t.start()
    t.join()
    want = 1 if recursive else permits
    if got != [want]:
        raise AssertionError("after the loop %r had %s free permits, not %d" % (lock, got, want))


def _uncontended(lock, quick, permits=1, recursive=False):
    n = _sizes(quick)
    acquire, release = lock.acquire, lock.release
    t0 = time.perf_counter()
    for _ in range(n):
        acquire()
        release()
    elapsed = time.perf_counter() - t0
    _check_free(lock, permits, recursive)
    return n / elapsed


@case("Lock acquire+release, uncontended", unit="ops/s")
def lock_uncontended(mp, quick):
    return _uncontended(mp.Lock(), quick)


@case("RLock acquire+release, uncontended", unit="ops/s")
def rlock_uncontended(mp, quick):
    return _uncontended(mp.RLock(), quick, recursive=True)


@case("Semaphore acquire+release, uncontended", unit="ops/s")
def semaphore_uncontended(mp, quick):
    return _uncontended(mp.Semaphore(2), quick, permits=2)


@case("with Lock: (enter+exit), uncontended", unit="ops/s")
def lock_with(mp, quick):
    lock, n = mp.Lock(), _sizes(quick)
    t0 = time.perf_counter()
    for _ in range(n):
        with lock:
            pass
    elapsed = time.perf_counter() - t0
    _check_free(lock, 1)
    return n / elapsed


class _Counter(ctypes.Structure):
    _fields_ = [("count", ctypes.c_long), ("stop", ctypes.c_int),
                ("mine", ctypes.c_long * 2), ("end", ctypes.c_double * 2)]


def _increment(lock, shared, me, ready_fd, cpu):
    if cpu is not None:
        pin_self(cpu)
    os.write(ready_fd, b"r")
    mine = 0
    while not shared.stop:
        with lock:
            shared.count += 1
        mine += 1
    shared.end[me] = time.perf_counter()
    shared.mine[me] = mine


def _contended(mp, quick, cpus):
    """Two processes count under the lock for 1 s (0.1 s with --quick): the
    shared count must be the sum of what each counted."""
    lock, shared = mp.Lock(), raw_shared(_Counter)
    rfd, wfd = os.pipe()
    try:
        lock.acquire()          # nobody counts before both are ready
        procs = [mp.Process(target=_increment, args=(lock, shared, i, wfd,
                                                     cpus[i] if cpus else None))
                 for i in range(2)]
        for p in procs:
            p.start()
        try:
            ready = b""
            while len(ready) < 2:
                ready += os.read(rfd, 2 - len(ready))
            t0 = time.perf_counter()
            lock.release()
            time.sleep(0.1 if quick else 1.0)
        finally:
            shared.stop = 1
            for p in procs:
                finish(p)
    finally:
        os.close(rfd)
        os.close(wfd)
    if shared.count != sum(shared.mine):
        raise AssertionError("counted %d under the lock; the processes counted %s"
                             % (shared.count, list(shared.mine)))
    return shared.count / (max(shared.end) - t0)


@case("Lock contended, 2 processes counting (one core)", unit="ops/s", pin="same")
def lock_contended_same(mp, quick):
    return _contended(mp, quick, None)


@case("Lock contended, 2 processes counting (two cores)", unit="ops/s", pin="cross")
def lock_contended_cross(mp, quick):
    return _contended(mp, quick, cross_cpus())
