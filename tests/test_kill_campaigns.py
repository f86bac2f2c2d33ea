"""Kill campaigns: SIGKILL at random points of a Lock/RLock holder, a queue
producer, a queue consumer, a Condition/Semaphore waiter, a Pool worker and
a Pool parent (a process that made a Pool), again and again on the same
objects.  Each asserts no hang (every wait ends within TIMEOUT), no
corruption (the objects work as before, and what they guard adds up), no
duplicate, at most the dying process's own in-flight message lost, and
(the `no_leftovers` fixture, conftest.py) fds and /dev/shm back to where
they started.  Arena usage: back to where it started after every
campaign, killed rounds included (arena_back below).

cmp only: the stdlib's waiters would wait for a dead holder forever.  Every
campaign runs for each start method, with fewer rounds under spawn and
forkserver (each round starts a process); `make stress` runs a few hundred
rounds of each and prints the figures.
"""
import gc
import os
import queue
import random
import signal
import time
import warnings

import pytest

import cmp
import cmp.pool
import cmp.synchronize
from cmp import _cmp
from conftest import TIMEOUT, wait_asleep

# Rounds: (make test, make stress), per start method.
ROUNDS = {"fork": (24, 300), "spawn": (6, 100), "forkserver": (6, 100)}
PROMPT = 5.0    # a takeover or wake-up after a death: a nap or so, with slack


def rounds(start_method, stress):
    return ROUNDS[start_method][1 if stress else 0]


def _kill_soon(pid, most=0.02):
    """SIGKILL `pid` at a random point of the next `most` seconds."""
    time.sleep(random.uniform(0, most))
    os.kill(pid, signal.SIGKILL)


def _ignore_owner_died():
    # A holder killed inside the lock: the next acquirer warns (and the
    # warnings filter of the test run would make that an error).
    warnings.simplefilter("ignore", cmp.synchronize.OwnerDiedWarning)


# ---- arena usage --------------------------------------------------------------

def arena_in_use():
    return _cmp.arena_stats()["bytes_in_use"]


def settled_in_use():
    """Arena usage once the dead are reaped: the process table (csrc/proc.c)
    gives back what a killed process held when a survivor finds it dead,
    which _reap() makes happen now (arena_stats() does it only once a
    second), and the cycles of the campaign's objects are collected."""
    gc.collect()
    _cmp._reap()
    return arena_in_use()


def arena_back(start):
    """Arena usage back to `start` once the objects are dropped, whether
    the campaign's processes were killed or exited.

    What the process table cannot give back (README, "The shared arena"):
    a reference taken and not yet counted, or uncounted and not yet
    dropped, by a process killed in those few instructions, and references
    in flight (pickled into a message or a spawned child's start-up data).
    None of the campaigns below kills a process there: each kills it in a
    loop that takes no reference (a holder, a producer or consumer of
    plain messages, a waiter, a worker inside its task), or before it has
    any (a waiter not yet started).  Measured: 0 bytes left after each
    campaign but Pool parent, for fork, spawn and forkserver, in every run
    (see the helper's report), so the bound asserted is exact.
    """
    assert settled_in_use() == start


def _control_round(ctx, target, args, stop):
    """A child of the campaign's kind that exits normally (after `stop` is
    set): the arena is back to where it was before it started."""
    before = arena_in_use()
    p = ctx.Process(target=target, args=args)
    p.start()
    stop.set()
    p.join(TIMEOUT)
    assert p.exitcode == 0
    arena_back(before)


# ---- a Lock/RLock holder ------------------------------------------------------

def _count_under(lock, counter, running, stop, times=None):
    _ignore_owner_died()
    running.set()
    done = 0
    while not stop.is_set() and (times is None or done < times):
        with lock:
            v = counter.value           # not atomic: only the lock makes it so
            counter.value = v + 1
        done += 1


def lock_holder(ctx, n, kind):
    lock = getattr(ctx, kind)()
    counter = ctx.RawValue("q", 0)
    stop = ctx.Event()
    killed = 0
    for _ in range(n):
        running = ctx.Event()
        p = ctx.Process(target=_count_under, args=(lock, counter, running, stop))
        p.start()
        assert running.wait(TIMEOUT)
        _kill_soon(p.pid)
        p.join(TIMEOUT)
        killed += 1
        # No hang: the dead holder's lock is taken over promptly.
        start = time.monotonic()
        with warnings.catch_warnings():
            _ignore_owner_died()
            assert lock.acquire(timeout=TIMEOUT)
        assert time.monotonic() - start < PROMPT
        lock.release()
    # No corruption: two live processes still exclude each other.
    before = counter.value
    ps = [ctx.Process(target=_count_under, args=(lock, counter, ctx.Event(), ctx.Event(), 500))
          for _ in range(2)]
    for p in ps:
        p.start()
    for p in ps:
        p.join(TIMEOUT)
        assert p.exitcode == 0
    assert counter.value == before + 1000
    _control_round(ctx, _count_under, (lock, counter, ctx.Event(), stop), stop)
    return "%d %s holders killed, each lock taken over" % (killed, kind)


# ---- a queue producer ---------------------------------------------------------

def _produce(q, who, running, stop):
    running.set()
    i = 0
    while not stop.is_set():
        q.put((who, i))
        i += 1
    q.put((who, "end"))


def _put_marker(q, marker, got):
    """Put `marker` into the bounded `q`, taking messages (into `got`)
    while it is full."""
    while True:
        try:
            q.put_nowait(marker)
            return
        except queue.Full:
            got.append(q.get(timeout=TIMEOUT))


def _drain_to(q, end):
    """Messages up to the marker `end`, which follows them."""
    got = []
    while True:
        m = q.get(timeout=TIMEOUT)
        if m == end:
            return got
        got.append(m)


def queue_producer(ctx, n):
    # Bounded: a put that finds the queue full waits in the ring, so all
    # a producer has in flight is the message it is putting (an unbounded
    # queue would keep more in its feeder buffer).
    q = ctx.Queue(16)
    stop = ctx.Event()
    for who in range(n):
        running = ctx.Event()
        p = ctx.Process(target=_produce, args=(q, who, running, stop))
        p.start()
        assert running.wait(TIMEOUT)
        got = [q.get(timeout=TIMEOUT) for _ in range(random.randrange(40))]
        os.kill(p.pid, signal.SIGKILL)
        p.join(TIMEOUT)
        _put_marker(q, ("parent", who), got)
        got += _drain_to(q, ("parent", who))
        # In order, none twice, none missing but the one in flight.
        assert got == [(who, i) for i in range(len(got))]
    # No stale count: a producer killed at any point of put() holds no
    # count the ring does not give back (ring.h, Counting), so the queue
    # is empty and has all of its room.
    assert q.qsize() == 0
    for i in range(16):
        q.put_nowait(("room", i))
    with pytest.raises(queue.Full):
        q.put_nowait(("room", 16))
    assert q.qsize() == 16
    assert [q.get(timeout=TIMEOUT) for _ in range(16)] == [("room", i) for i in range(16)]
    # The control round: a producer that ends normally loses nothing.
    running = ctx.Event()
    before = arena_in_use()
    p = ctx.Process(target=_produce, args=(q, "last", running, stop))
    p.start()
    assert running.wait(TIMEOUT)
    got = [q.get(timeout=TIMEOUT) for _ in range(30)]
    stop.set()
    got += _drain_to(q, ("last", "end"))
    p.join(TIMEOUT)
    assert p.exitcode == 0
    assert got == [("last", i) for i in range(len(got))]
    assert q.qsize() == 0
    arena_back(before)
    q.close()
    q.join_thread()
    return "%d producers killed mid-put, at most their message in flight lost" % n


# ---- a queue consumer ---------------------------------------------------------

def _busy(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def _consume(q, out):
    while True:
        m = q.get()
        _busy(0.0005)           # each message in hand a while
        out.put(m)
        if m is None:
            return


def queue_consumer(ctx, n):
    q, out = ctx.Queue(), ctx.Queue()
    per_round = 40
    seen = []
    for r in range(n):
        for i in range(per_round):
            q.put(r * per_round + i)
        p = ctx.Process(target=_consume, args=(q, out))
        p.start()
        seen.append(out.get(timeout=TIMEOUT))      # it runs: kill it mid-way
        _kill_soon(p.pid)
        p.join(TIMEOUT)
    # The control round: a consumer that ends normally takes the rest.
    q.put(None)
    before = arena_in_use()
    p = ctx.Process(target=_consume, args=(q, out))
    p.start()
    seen += _drain_to(out, None)
    p.join(TIMEOUT)
    assert p.exitcode == 0
    arena_back(before)
    # None twice; each killed consumer lost at most the message it held.
    assert len(seen) == len(set(seen))
    assert set(seen) <= set(range(n * per_round))
    missing = n * per_round - len(seen)
    assert missing <= n
    assert q.empty() and out.empty()
    for x in (q, out):
        x.close()
        x.join_thread()
    return "%d consumers killed, %d messages lost in their hands" % (n, missing)


# ---- a Semaphore / Condition waiter -------------------------------------------

def _sem_waiter(sem, out, who):
    sem.acquire()
    out.put(who)


def _cond_waiter(cond, turn, out, who, mine):
    _ignore_owner_died()
    with cond:
        while turn.value < mine:
            cond.wait()
    out.put(who)


WAITERS = 3


def _waiter_round(ctx, make, wake, out, r):
    """WAITERS waiters, one of them killed at a random point of its wait
    (asleep or not), then the wake-up: every survivor ends promptly."""
    ps = [ctx.Process(target=make[0], args=make[1](i)) for i in range(WAITERS)]
    for p in ps:
        p.start()
    victim = random.randrange(WAITERS)
    _kill_soon(ps[victim].pid, most=0.05)
    wake()
    start = time.monotonic()
    woken = sorted(out.get(timeout=TIMEOUT) for _ in range(WAITERS - 1))
    assert time.monotonic() - start < TIMEOUT
    for p in ps:
        p.join(TIMEOUT)
    assert ps[victim].exitcode == -signal.SIGKILL
    survivors = [i for i in range(WAITERS) if i != victim]
    assert all(ps[i].exitcode == 0 for i in survivors)
    assert woken == sorted(r * WAITERS + i for i in survivors)


def _waiter_campaign(ctx, n, out, target, args, wake, after_round):
    """n rounds of _waiter_round: args(who, turn) are a waiter's, wake(turn)
    wakes the waiters of that turn; then a control round."""
    for r in range(n):
        _waiter_round(ctx, (target, lambda i: args(r * WAITERS + i, r + 1)),
                      lambda: wake(r + 1), out, r)
        after_round()
    before = arena_in_use()
    p = ctx.Process(target=target, args=args("last", n + 1))
    p.start()
    wait_asleep(p.pid)
    wake(n + 1)
    assert out.get(timeout=TIMEOUT) == "last"
    p.join(TIMEOUT)
    assert p.exitcode == 0
    arena_back(before)
    out.close()
    out.join_thread()


def semaphore_waiter(ctx, n):
    sem, out = ctx.Semaphore(0), ctx.Queue()

    def wake(turn):
        for _ in range(WAITERS):        # one more than the survivors need
            sem.release()

    def after_round():
        # The dead one took the spare unit, or it is left.
        assert sem.get_value() in (0, 1)
        while sem.acquire(False):
            pass
    _waiter_campaign(ctx, n, out, _sem_waiter, lambda who, turn: (sem, out, who),
                     wake, after_round)
    return "%d Semaphore waiters killed, every survivor woken" % n


def condition_waiter(ctx, n):
    cond, turn, out = ctx.Condition(), ctx.RawValue("i", 0), ctx.Queue()

    def wake(t):
        with warnings.catch_warnings():
            _ignore_owner_died()
            with cond:
                turn.value = t
                cond.notify_all()
    _waiter_campaign(ctx, n, out, _cond_waiter,
                     lambda who, t: (cond, turn, out, who, t), wake, lambda: None)
    return "%d Condition waiters killed, every survivor woken" % n


# ---- a Pool worker ------------------------------------------------------------

def _report_and_work(pids, i):
    pids.put(os.getpid())
    _busy(0.02)
    return i * i


def _sqr(x):
    return x * x


def pool_worker(ctx, n):
    pids = ctx.Queue()
    lost = done = 0
    with ctx.Pool(2) as pool:
        for i in range(n):
            res = pool.apply_async(_report_and_work, (pids, i))
            _kill_soon(pids.get(timeout=TIMEOUT), most=0.03)
            try:
                assert res.get(TIMEOUT) == i * i     # it finished first
                done += 1
            except cmp.pool.WorkerLostError:
                lost += 1
            # The pool goes on, with its worker replaced.
            assert pool.apply(_sqr, (i,)) == i * i
        assert pool.map(_sqr, range(50)) == [x * x for x in range(50)]
        pool.close()
        pool.join()
    pids.close()
    pids.join_thread()
    return "%d workers killed mid-task: %d tasks lost, %d had finished" % (n, lost, done)


# ---- a Pool parent ------------------------------------------------------------

def _make_a_pool_and_work(method, pids):
    with cmp.get_context(method).Pool(2) as pool:
        pids.put([p.pid for p in pool._pool])
        while True:
            assert pool.map(_sqr, range(100)) == [x * x for x in range(100)]


def _gone(pid):
    """Exited (a zombie of another parent counts)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rpartition(")")[2].split()[0] in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        # ProcessLookupError: the process was reaped between open and read.
        return True


def pool_parent(ctx, n, method):
    pids = ctx.Queue()
    for _ in range(n):
        p = ctx.Process(target=_make_a_pool_and_work, args=(method, pids))
        p.start()
        workers = pids.get(timeout=TIMEOUT)
        _kill_soon(p.pid, most=0.05)
        p.join(TIMEOUT)
        assert p.exitcode == -signal.SIGKILL
        # The orphaned workers exit on their own (PR_SET_PDEATHSIG, or the
        # parent's pidfd within 0.5 s).
        deadline = time.monotonic() + TIMEOUT
        while not all(_gone(w) for w in workers):
            assert time.monotonic() < deadline, "workers outlived their pool"
            time.sleep(0.01)
    pids.close()
    pids.join_thread()
    return "%d Pool parents killed, their workers gone" % n


# ---- the campaigns -------------------------------------------------------------

CAMPAIGNS = {
    "Lock holder": lambda ctx, n, m: lock_holder(ctx, n, "Lock"),
    "RLock holder": lambda ctx, n, m: lock_holder(ctx, n, "RLock"),
    "Queue producer": lambda ctx, n, m: queue_producer(ctx, n),
    "Queue consumer": lambda ctx, n, m: queue_consumer(ctx, n),
    "Semaphore waiter": lambda ctx, n, m: semaphore_waiter(ctx, n),
    "Condition waiter": lambda ctx, n, m: condition_waiter(ctx, n),
    "Pool worker": lambda ctx, n, m: pool_worker(ctx, n),
    "Pool parent": lambda ctx, n, m: pool_parent(ctx, n, m),
}


def _campaign(start_method, what, stress):
    ctx = cmp.get_context(start_method)
    n = rounds(start_method, stress)
    before = settled_in_use()
    start = time.monotonic()
    figures = CAMPAIGNS[what](ctx, n, start_method)
    took = time.monotonic() - start
    arena_back(before)
    return "%s (%s): %s in %.1f s" % (what, start_method, figures, took)


@pytest.mark.parametrize("what", sorted(CAMPAIGNS))
def test_kill_campaign(start_method, what):
    _campaign(start_method, what, stress=False)


@pytest.mark.stress
@pytest.mark.parametrize("what", sorted(CAMPAIGNS))
def test_stress_kill_campaign(start_method, what):
    print("\n" + _campaign(start_method, what, stress=True))
