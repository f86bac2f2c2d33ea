"""How long does it take to wake another process and be woken back?

Ping-pong between two processes, one round trip at a time: with two Events
(each side waits for its own, clears it and sets the other's), and with
one Condition guarding a shared turn variable.  Every case runs pinned to
one core and pinned to two cores: the blocking latency is mostly the
scheduler's (same core: a context switch; two cores: a cross-core wake-up)
and mixing the two would measure the machine's mood.  The partner writes
the round's number before answering; the main side checks it every round.
"""
import ctypes
import time

from benchmarks.common import case, cross_cpus, finish, pin_self, raw_shared

MAIN, PARTNER = 0, 1


class _Shared(ctypes.Structure):
    _fields_ = [("turn", ctypes.c_int), ("round", ctypes.c_long)]


def _rounds(quick, full):
    return max(full // 20, 200) if quick else full


def _start(mp, target, args, cpus):
    """Start the partner (on cpus[1] when given) and pin this side to cpus[0]."""
    p = mp.Process(target=target, args=args + (cpus[1] if cpus else None,))
    if cpus:
        pin_self(cpus[0])
    p.start()
    return p


def _check(shared, i):
    if shared.round != i:
        raise AssertionError("round %d answered as round %d" % (i, shared.round))


def _event_partner(ping, pong, shared, n, cpu):
    if cpu is not None:
        pin_self(cpu)
    for i in range(n + 1):
        ping.wait()
        ping.clear()
        shared.round = i
        pong.set()


def _event_pingpong(mp, quick, cpus):
    n = _rounds(quick, 20_000)
    ping, pong, shared = mp.Event(), mp.Event(), raw_shared(_Shared)
    p = _start(mp, _event_partner, (ping, pong, shared, n), cpus)
    try:
        t0 = None
        for i in range(n + 1):      # round 0 waits for the partner to start
            if i == 1:
                t0 = time.perf_counter()
            ping.set()
            pong.wait()
            pong.clear()
            _check(shared, i)
        elapsed = time.perf_counter() - t0
    finally:
        finish(p)
    return n / elapsed


def _condition_partner(cond, shared, n, cpu):
    if cpu is not None:
        pin_self(cpu)
    for i in range(n + 1):
        with cond:
            while shared.turn != PARTNER:
                cond.wait()
            shared.round = i
            shared.turn = MAIN
            cond.notify()


def _condition_pingpong(mp, quick, cpus):
    n = _rounds(quick, 10_000)
    cond, shared = mp.Condition(), raw_shared(_Shared)
    p = _start(mp, _condition_partner, (cond, shared, n), cpus)
    try:
        t0 = None
        for i in range(n + 1):      # round 0 waits for the partner to start
            if i == 1:
                t0 = time.perf_counter()
            with cond:
                shared.turn = PARTNER
                cond.notify()
                while shared.turn != MAIN:
                    cond.wait()
            _check(shared, i)
        elapsed = time.perf_counter() - t0
    finally:
        finish(p)
    return n / elapsed


@case("Event ping-pong (one core)", unit="round trips/s", pin="same")
def event_same(mp, quick):
    return _event_pingpong(mp, quick, None)


@case("Event ping-pong (two cores)", unit="round trips/s", pin="cross")
def event_cross(mp, quick):
    return _event_pingpong(mp, quick, cross_cpus())


@case("Condition ping-pong (one core)", unit="round trips/s", pin="same")
def condition_same(mp, quick):
    return _condition_pingpong(mp, quick, None)


@case("Condition ping-pong (two cores)", unit="round trips/s", pin="cross")
def condition_cross(mp, quick):
    return _condition_pingpong(mp, quick, cross_cpus())
