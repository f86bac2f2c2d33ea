"""Several producers and consumers: every item delivered exactly once, each
producer's order kept; and processes SIGKILLed inside put and get cost at
most their own message, never a hang for the others."""
import multiprocessing
import os
import queue
import random
import signal
import time

import pytest

import cmp
import cmp.queues
from conftest import TIMEOUT

PRODUCERS = 3
CONSUMERS = 3


def _produce(q, who, n, seed):
    rnd = random.Random(seed)
    for i in range(n):
        if rnd.random() < 0.02:
            q.put((who, i, b"p" * rnd.choice([100, 3000, 70000])))
        else:
            q.put((who, i))


def _consume(q, results, stop_after):
    got = []
    while True:
        item = q.get(timeout=TIMEOUT)
        if item is None:
            break
        got.append(item[:2])
    results.put(got)


@pytest.mark.parametrize("maxsize", [0, 7])
def test_many_producers_many_consumers(mp, maxsize):
    n = 3000
    q, results = mp.Queue(maxsize), mp.Queue()
    producers = [mp.Process(target=_produce, args=(q, w, n, w)) for w in range(PRODUCERS)]
    consumers = [mp.Process(target=_consume, args=(q, results, None))
                 for _ in range(CONSUMERS)]
    for p in producers + consumers:
        p.start()
    for p in producers:
        p.join(TIMEOUT * 4)
        assert p.exitcode == 0
    for _ in consumers:
        q.put(None)
    per_consumer = [results.get(timeout=TIMEOUT) for _ in consumers]
    for p in consumers:
        p.join(TIMEOUT)
        assert p.exitcode == 0
    seen = {}
    for got in per_consumer:
        last = {}
        for who, i in got:
            assert last.get(who, -1) < i, "a producer's order was not kept"
            last[who] = i
            seen[(who, i)] = seen.get((who, i), 0) + 1
    assert sorted(seen) == [(w, i) for w in range(PRODUCERS) for i in range(n)]
    assert set(seen.values()) == {1}, "an item was delivered twice"
    for x in (q, results):
        x.close()
        x.join_thread()


# ---- killed processes (cmp only: the stdlib's queue hangs when a process
# dies holding its pipe's lock) --------------------------------------------

class _TinyRing(cmp.queues.Queue):
    _ring_slots = 256


def _produce_forever(q, who, sizes):
    payloads = [b"k" * n for n in sizes]
    put = q.put
    while True:
        for data in payloads:
            put(data)


def _consume_forever(q):
    while True:
        q.get()


def _kill_all(procs):
    for p in procs:
        if p.is_alive():
            os.kill(p.pid, signal.SIGKILL)
    for p in procs:
        p.join(TIMEOUT)


@pytest.mark.parametrize("maxsize", [0, 50])
def test_killed_producers_and_consumers(maxsize):
    ctx = multiprocessing.get_context("fork")
    # Records of up to 60 KB are copied inside the ring while the claim is
    # held, which makes the kills land there often enough.
    q = cmp.queues.Queue(maxsize, ctx=None)
    sizes = [10, 5000, 60000, 60000, 100000]
    rnd = random.Random(maxsize)
    for round_ in range(10):
        # Alternately more producers (a full ring: the consumers are always
        # copying out, so kills land in READING) and more consumers (an
        # empty ring: kills land in a producer's CLAIMED).
        producers, consumers = (3, 1) if round_ % 2 else (1, 3)
        procs = [ctx.Process(target=_produce_forever, args=(q, round_ * 10 + w, sizes))
                 for w in range(producers)]
        procs += [ctx.Process(target=_consume_forever, args=(q,)) for _ in range(consumers)]
        for p in procs:
            p.start()
        # Let them run into the middle of puts and gets, then kill them.
        deadline = time.monotonic() + TIMEOUT
        while q.qsize() == 0 and time.monotonic() < deadline:
            time.sleep(0.001)
        time.sleep(rnd.uniform(0.005, 0.05))
        rnd.shuffle(procs)
        for p in procs:
            os.kill(p.pid, signal.SIGKILL)
            time.sleep(rnd.uniform(0, 0.003))
        _kill_all(procs)
        # The survivors (this process) still move messages both ways, in
        # order, through every cell of the ring.
        while True:
            try:
                q.get(timeout=0.5)
            except queue.Empty:
                break
        for i in range(q._slots + 64):      # a full lap: every cell again
            q.put(("after", round_, i), timeout=TIMEOUT)
            assert q.get(timeout=TIMEOUT) == ("after", round_, i)
        big = b"B" * 300000
        q.put(big, timeout=TIMEOUT)
        assert q.get(timeout=TIMEOUT) == big
    q.close()
    q.join_thread()


def test_killed_reader_frees_its_cells():
    # A consumer killed while it holds a record (READING) must not wedge the
    # producers when the ring comes round to its cells again.
    ctx = multiprocessing.get_context("fork")
    q = _TinyRing(ctx=None)
    for round_ in range(5):
        consumers = [ctx.Process(target=_consume_forever, args=(q,)) for _ in range(2)]
        for p in consumers:
            p.start()
        payload = b"r" * 1000
        for i in range(200):
            q.put(payload, timeout=TIMEOUT)
        _kill_all(consumers)
        while True:
            try:
                q.get(timeout=0.3)
            except queue.Empty:
                break
        # Two full laps of the ring from this process alone.
        for i in range(2 * q._slots // 8):
            q.put(b"x" * 400, timeout=TIMEOUT)
            assert q.get(timeout=TIMEOUT) == b"x" * 400
    q.close()
    q.join_thread()
