"""How long does it take to wake another process and be woken back?

Ping-pong between two processes, one round trip at a time: with two Events
(each side waits for its own, clears it and sets the other's), and with
one Condition guarding a shared turn variable.  Every case runs pinned to
one core and pinned to two cores: the blocking latency is mostly the
scheduler's (same core: a context switch; two cores: a cross-core wake-up)
and mixing the two would measure the machine's mood.  The partner writes
the round's number before answering; the main side checks it every round.
Each measurement plays for a fixed time (1 s, 0.1 s with --quick).  The
one-core cases take 7 measurements per backend instead of 5: a same-core
round trip is a few microseconds of context switching, and the machine's
other work moves single measurements (of either backend) by a fifth.
"""
import ctypes
import time

from benchmarks.common import case, cross_cpus, finish, pin_self, raw_shared

MAIN, PARTNER = 0, 1


class _Shared(ctypes.Structure):
    _fields_ = [("turn", ctypes.c_int), ("stop", ctypes.c_int), ("round", ctypes.c_long)]


def _seconds(quick):
    """How long the main side keeps playing (a count would take minutes on a
    busy machine's cross-core wake-ups and milliseconds on an idle one)."""
    return 0.1 if quick else 1.0


def _start(mp, target, args, cpus):
    """Start the partner (on cpus[1] when given) and pin this side to cpus[0]."""
    p = mp.Process(target=target, args=args + (cpus[1] if cpus else None,))
    if cpus:
        pin_self(cpus[0])
    p.start()
    return p


def _play(p, shared, quick, round_trip):
    """Run round_trip(i) for i = 0, 1, ... for _seconds(quick) after round 0
    (which waits for the partner to start), then tell the partner to stop
    with the last round; check every round's answer.  -> round trips/s."""
    budget = _seconds(quick)
    try:
        i, t0, last = 0, None, False
        while not last:
            if i == 1:
                t0 = time.perf_counter()
            elif i > 1 and time.perf_counter() - t0 >= budget:
                shared.stop = last = True
            round_trip(i)
            if shared.round != i:
                raise AssertionError("round %d answered as round %d" % (i, shared.round))
            i += 1
        elapsed = time.perf_counter() - t0
    finally:
        finish(p)
    return (i - 1) / elapsed


def _event_partner(ping, pong, shared, cpu):
    if cpu is not None:
        pin_self(cpu)
    i = 0
    while True:
        ping.wait()
        ping.clear()
        shared.round = i
        stop = shared.stop
        pong.set()
        if stop:
            return
        i += 1


def _event_pingpong(mp, quick, cpus):
    ping, pong, shared = mp.Event(), mp.Event(), raw_shared(_Shared)
    p = _start(mp, _event_partner, (ping, pong, shared), cpus)

    def round_trip(i):
        ping.set()
        pong.wait()
        pong.clear()

    return _play(p, shared, quick, round_trip)


def _condition_partner(cond, shared, cpu):
    if cpu is not None:
        pin_self(cpu)
    i = 0
    while True:
        with cond:
            while shared.turn != PARTNER:
                cond.wait()
            shared.round = i
            stop = shared.stop
            shared.turn = MAIN
            cond.notify()
        if stop:
            return
        i += 1


def _condition_pingpong(mp, quick, cpus):
    cond, shared = mp.Condition(), raw_shared(_Shared)
    p = _start(mp, _condition_partner, (cond, shared), cpus)

    def round_trip(i):
        with cond:
            shared.turn = PARTNER
            cond.notify()
            while shared.turn != MAIN:
                cond.wait()

    return _play(p, shared, quick, round_trip)


@case("Event ping-pong (one core)", unit="round trips/s", pin="same", repeat=7)
def event_same(mp, quick):
    return _event_pingpong(mp, quick, None)


@case("Event ping-pong (two cores)", unit="round trips/s", pin="cross")
def event_cross(mp, quick):
    return _event_pingpong(mp, quick, cross_cpus())


@case("Condition ping-pong (one core)", unit="round trips/s", pin="same", repeat=7)
def condition_same(mp, quick):
    return _condition_pingpong(mp, quick, None)


@case("Condition ping-pong (two cores)", unit="round trips/s", pin="cross")
def condition_cross(mp, quick):
    return _condition_pingpong(mp, quick, cross_cpus())
