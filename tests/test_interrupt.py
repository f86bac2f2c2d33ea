"""Ctrl-C in every blocking call, on both backends, and a timer-signal
probe that lands a signal at the start of each of cmp's waits.

The matrix: a child blocks in the call; the test waits until the child's
main thread is really asleep (state S in /proc/PID/task/PID/stat, seen
without a break for several scheduler switch intervals, so not just
waiting for the interpreter lock), then sends SIGINT; the child must
raise KeyboardInterrupt out of the call.  The core waits run for every
start method (the objects reach a spawned child pickled with its start);
the Pool's, for fork.

The probe: in a child of each start method, a handler that raises is
armed with setitimer a few microseconds before the call, so the signal
lands while the call spins, registers or is about to sleep, the moments a
sleep does not see the signal.  cmp's naps end so that the handlers run
(csrc/spin.h): the call must raise within LATE seconds, every time.
"""
import functools
import gc
import multiprocessing
import os
import random
import signal
import threading
import time

import pytest

import cmp
from conftest import TIMEOUT
from test_robustness import (_blocked_then_interrupted, _call, _interrupt_promptly,
                             _wait_on_condition)


# The stdlib's Barrier keeps its state in the stdlib's shared heap, whose
# first use opens a file that stays open for the life of the process: open
# it now, before the leftover check of any test takes its snapshot.
_STDLIB_HEAP_WARMUP = __import__("multiprocessing").get_context("fork").Value("i", 0)

def _sleep_long(x):
    time.sleep(3600)        # a task that never finishes before terminate()
    return x


# name -> make(mp) -> (block, cleanup): block() runs in the child, blocks
# until interrupted (picklable, for a spawned child); cleanup() runs in the
# parent after the child ended.

def _lock(mp):
    lock = mp.Lock()
    lock.acquire()
    return functools.partial(_call, "acquire", lock), lock.release


def held_by_a_thread(lock):
    """Acquire `lock` in a new thread, which holds it until release()."""
    held, done = threading.Event(), threading.Event()

    def hold():
        with lock:
            held.set()
            done.wait()
    t = threading.Thread(target=hold)
    t.start()
    assert held.wait(TIMEOUT)
    return lambda: (done.set(), t.join())


def _rlock(mp):
    # Held by a thread of the parent: the stdlib's RLock takes a forked
    # child's main thread for the parent's (same thread ident).
    lock = mp.RLock()
    return functools.partial(_call, "acquire", lock), held_by_a_thread(lock)


def _semaphore(mp):
    return functools.partial(_call, "acquire", mp.Semaphore(0)), None


def _event(mp):
    return functools.partial(_call, "wait", mp.Event()), None


def _condition(mp):
    return functools.partial(_wait_on_condition, mp.Condition()), None


def _barrier(mp):
    return functools.partial(_call, "wait", mp.Barrier(2)), None


def _close(q):
    q.close()
    q.join_thread()


def _queue_get(mp):
    q = mp.Queue()
    return functools.partial(_call, "get", q), lambda: _close(q)


def _put_twice(q):
    q.put(1)
    q.put(2)


def _queue_put(mp):
    q = mp.Queue(1)
    return functools.partial(_put_twice, q), lambda: _close(q)


def _join_unfinished(q):
    q.put(1)
    q.get()
    q.join()                    # one task never marked done


def _joinable_join(mp):
    q = mp.JoinableQueue()
    return functools.partial(_join_unfinished, q), lambda: _close(q)


def _simple_get(mp):
    q = mp.SimpleQueue()
    return functools.partial(_call, "get", q), q.close


def _pool_wait(mp, how):
    def block():
        pool = mp.Pool(1)
        try:
            if how == "get":
                pool.apply_async(_sleep_long, (1,)).get()
            else:
                next(pool.imap(_sleep_long, [1]))
        finally:
            pool.terminate()
            pool.join()
    return block, None


BLOCKERS = {
    "Lock.acquire": _lock,
    "RLock.acquire": _rlock,
    "Semaphore.acquire": _semaphore,
    "Event.wait": _event,
    "Condition.wait": _condition,
    "Barrier.wait": _barrier,
    "Queue.get": _queue_get,
    "Queue.put (bounded)": _queue_put,
    "JoinableQueue.join": _joinable_join,
    "SimpleQueue.get": _simple_get,
    "Pool result get": lambda mp: _pool_wait(mp, "get"),
    "Pool imap next": lambda mp: _pool_wait(mp, "imap"),
}


def _sigint_while_asleep(mp, notes, what):
    block, cleanup = BLOCKERS[what](mp)
    p = mp.Process(target=_blocked_then_interrupted, args=(block, notes))
    p.start()
    try:
        _interrupt_promptly(p, notes)
    finally:
        if p.is_alive():
            p.kill()
            p.join(TIMEOUT)
        if cleanup:
            cleanup()


# The cores' waits (the others are the Pool's, in cmp/pool.py).
CORE_WAITS = sorted(w for w in BLOCKERS if not w.startswith("Pool"))
POOL_WAITS = sorted(w for w in BLOCKERS if w.startswith("Pool"))


@pytest.mark.parametrize("what", CORE_WAITS)
def test_sigint_while_asleep_interrupts(ctx, notes, what):
    _sigint_while_asleep(ctx, notes, what)


@pytest.mark.parametrize("what", POOL_WAITS)
def test_sigint_while_asleep_interrupts_pool(mp, notes, what):
    _sigint_while_asleep(mp, notes, what)


# ---- the timer-signal probe -------------------------------------------------

PROBE_TIMEOUT = 2.0     # each call's own timeout: a miss costs this
LATE = 1.0              # interrupted later than this counts as a miss


class _Interrupted(Exception):
    pass


_handled = [0]      # how many times _raise ran


def _raise(signum, frame):
    _handled[0] += 1
    raise _Interrupted()


def _later(seconds, fn, *args):
    """A rescue for calls without a timeout: fn(*args) after `seconds`
    unless cancelled (the call is then a miss)."""
    t = threading.Timer(seconds, fn, args)
    t.daemon = True
    t.start()
    return t


def _probe_waits():
    """name -> (setup() -> state, call(state, arm), teardown(state)): call
    makes ready, then calls arm() right before the blocking call (a signal
    must not land in the making ready: starting a thread, say)."""
    def held_lock():
        lock = cmp.Lock()
        lock.acquire()
        return lock

    def rlock_held_by_a_thread():
        lock = cmp.RLock()
        return lock, held_by_a_thread(lock)

    def cond_wait(cond, arm):
        with cond:
            arm()
            cond.wait(PROBE_TIMEOUT)

    def full_queue():
        q = cmp.Queue(1)
        q.put(0)
        return q

    def joinable():
        q = cmp.JoinableQueue()
        q.put(1)
        q.get()
        return q

    def join(q, arm):
        rescued = []
        rescue = _later(PROBE_TIMEOUT, lambda: (rescued.append(1), q.task_done()))
        try:
            arm()
            q.join()
        finally:
            rescue.cancel()
            rescue.join()
            if rescued:         # one unfinished task again for the next trial
                q.put(1)
                q.get()

    def simple_get(q, arm):
        rescue = _later(PROBE_TIMEOUT, q.put, None)
        try:
            arm()
            q.get()
        finally:
            rescue.cancel()
            rescue.join()

    def pool():
        p = cmp.Pool(1)
        return p, p.apply_async(_sleep_long, (1,)), p.imap(_sleep_long, [1])

    def pool_end(state):
        state[0].terminate()
        state[0].join()

    def barrier_wait(bar, arm):
        try:
            arm()
            bar.wait(PROBE_TIMEOUT)
        finally:
            bar.reset()

    def armed(fn):
        def call(state, arm):
            arm()
            return fn(state)
        return call

    return {
        "Lock.acquire": (held_lock, armed(lambda l: l.acquire(timeout=PROBE_TIMEOUT)),
                         lambda l: l.release()),
        "RLock.acquire": (rlock_held_by_a_thread,
                          armed(lambda s: s[0].acquire(timeout=PROBE_TIMEOUT)),
                          lambda s: s[1]()),
        "Semaphore.acquire": (lambda: cmp.Semaphore(0),
                              armed(lambda s: s.acquire(timeout=PROBE_TIMEOUT)), None),
        "Event.wait": (cmp.Event, armed(lambda e: e.wait(PROBE_TIMEOUT)), None),
        "Condition.wait": (cmp.Condition, cond_wait, None),
        "Barrier.wait": (lambda: cmp.Barrier(2), barrier_wait, None),
        "Queue.get": (cmp.Queue, armed(lambda q: q.get(timeout=PROBE_TIMEOUT)), _close),
        "Queue.put (bounded)": (full_queue,
                                armed(lambda q: q.put(1, timeout=PROBE_TIMEOUT)), _close),
        "JoinableQueue.join": (joinable, join, _close),
        "SimpleQueue.get": (cmp.SimpleQueue, simple_get, lambda q: q.close()),
        "Pool result get": (pool, armed(lambda s: s[1].get(timeout=PROBE_TIMEOUT)),
                            pool_end),
        "Pool imap next": (pool, armed(lambda s: s[2].next(timeout=PROBE_TIMEOUT)),
                           pool_end),
    }


def probe(what, trials):
    """Misses of `trials` timer signals armed just before the call."""
    setup, call, teardown = _probe_waits()[what]
    state = setup()
    old = signal.signal(signal.SIGALRM, _raise)
    misses = []
    try:
        for _ in range(trials):
            # From right away (the signal lands before the call starts to
            # wait) to well into the spin.
            delay = random.uniform(1e-6, 300e-6)
            start = []

            def arm():
                start.append(time.monotonic())
                signal.setitimer(signal.ITIMER_REAL, delay)
            outcome = end = None
            try:
                try:
                    call(state, arm)
                    outcome = "returned"
                except _Interrupted:
                    outcome = "interrupted"
                except Exception as e:      # the call's own timeout
                    outcome = type(e).__name__
                end = time.monotonic()
                signal.setitimer(signal.ITIMER_REAL, 0)
                for _ in range(3):          # a pending handler runs here
                    pass
            except _Interrupted:            # the handler ran only afterwards
                end = end or time.monotonic()
                outcome = "late (%s)" % outcome
            took = end - start[0]
            if outcome != "interrupted" or took > LATE:
                misses.append((outcome, round(took, 3)))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        if teardown:
            teardown(state)
    return misses


# The cores' waits (csrc/spin.h) are probed in a child of every start
# method; the Pool's result get and imap next, which wait in Python
# (cmp/pool.py: naps of select.poll and of lock acquires, between which the
# interpreter runs the handlers), in this process.

def _probe_and_send(what, trials, conn):
    conn.send(probe(what, trials))
    conn.close()


def probe_in_child(start_method, what, trials):
    """probe() in a child started by `start_method`: its waits run in a
    process that joined the arena (spawn, forkserver) or inherited it."""
    r, w = multiprocessing.Pipe(duplex=False)
    p = cmp.get_context(start_method).Process(target=_probe_and_send,
                                               args=(what, trials, w))
    p.start()
    w.close()
    try:
        # A miss costs PROBE_TIMEOUT at most.
        assert r.poll(TIMEOUT + trials * PROBE_TIMEOUT), "the probe never reported"
        misses = r.recv()
    finally:
        r.close()
        p.join(TIMEOUT)
        if p.is_alive():
            p.kill()
            p.join(TIMEOUT)
    assert p.exitcode == 0
    return misses


@pytest.mark.parametrize("what", CORE_WAITS)
def test_timer_signal_before_the_wait_is_never_missed(start_method, what):
    misses = probe_in_child(start_method, what, 100)
    assert misses == [], "%d of 100 missed: %s" % (len(misses), misses[:5])


@pytest.mark.parametrize("what", POOL_WAITS)
def test_timer_signal_before_a_pool_wait_is_never_missed(what):
    misses = probe(what, 100)
    assert misses == [], "%d of 100 missed: %s" % (len(misses), misses[:5])


@pytest.mark.stress
@pytest.mark.parametrize("what", CORE_WAITS)
def test_stress_timer_signal_before_the_wait(start_method, what):
    trials = 2000
    misses = probe_in_child(start_method, what, trials)
    print("\n%s (%s): %d of %d timer signals missed"
          % (what, start_method, len(misses), trials))
    assert misses == [], misses[:5]


def _identity(x):
    return x


def _call_armed(call):
    """call() with a timer signal armed to land within its first 300 us:
    ([its value] or [], whether the handler's exception came in the call).
    The timer always goes off: when it did not in the call, this waits
    until its handler has run (the signal may have come to another
    thread, which tells the main thread a moment later)."""
    got = []
    interrupted = False
    handled = _handled[0]
    try:
        try:
            signal.setitimer(signal.ITIMER_REAL, random.uniform(1e-6, 300e-6))
            got.append(call())
        except _Interrupted:
            interrupted = True
        deadline = time.monotonic() + TIMEOUT
        while _handled[0] == handled and time.monotonic() < deadline:
            pass
    except _Interrupted:            # the handler ran only afterwards
        pass
    signal.setitimer(signal.ITIMER_REAL, 0)
    return got, interrupted


@pytest.mark.parametrize("how", ["get", "imap"])
def test_timer_signal_while_results_arrive_loses_none(how):
    """A handler that raises while a caller reads results (taking them out
    of a worker's ring, delivering them, handing the reader role back)
    loses no result and leaves nothing held: the same result is there when
    asked again.  An iterator's next() hands its item over in its return
    value, which an exception raised by a handler right after the call
    returned takes with it (Python checks for handlers after each call, in
    the caller): an interrupted next() may cost that one item, and only
    that one -- the following next() gives the item after it, never a
    later one, and never hangs."""
    # Garbage of earlier tests collected inside a call would run its
    # finalizers there, where the handler's exception is only printed (and
    # a finalizer cut short leaks what it was to close).
    gc.collect()
    old = signal.signal(signal.SIGALRM, _raise)
    interrupted = lost = 0
    try:
        with cmp.Pool(2) as pool:
            if how == "get":
                for i in range(300):
                    r = pool.apply_async(_identity, (i,))
                    got, hit = _call_armed(functools.partial(r.get, TIMEOUT))
                    interrupted += hit
                    assert (got or [r.get(TIMEOUT)]) == [i]
            else:
                it = pool.imap(_identity, range(300))
                want = 0
                while want < 300:
                    got, hit = _call_armed(functools.partial(it.next, TIMEOUT))
                    interrupted += hit
                    if not got:
                        try:
                            got = [it.next(TIMEOUT)]
                        except StopIteration:       # the last one was lost
                            got = [300]
                    assert want <= got[0] <= want + hit, (want, got, hit)
                    lost += got[0] - want
                    want = got[0] + 1
                assert list(it) == []
            assert pool.apply(_identity, (7,)) == 7
            pool.close()
            pool.join()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert interrupted > 0      # the signal did land inside the calls
    assert lost <= interrupted
