"""cmp's pool scheduler (cmp/_pool/scheduler.py), driven synchronously: no
process, thread or file descriptor.  A worker's link is made of deques; the
tests play the worker's part by hand (take a message, answer it)."""
import collections
import pickle

import pytest

from multiprocessing.context import TimeoutError

from cmp._pool import scheduler as sched_mod
from cmp._pool.scheduler import Scheduler, Task, Worker
from cmp._pool.wire import _APPLY, _MAP, _SPAN, _STOP, _COUNT, task_message


class FakeRing:
    """A task ring as a deque of (position, message), with the calls of a
    _cmp.Channel the scheduler makes (it never fills up)."""

    def __init__(self):
        self.ring = collections.deque()
        self.pos = 0

    def _publish(self, msg, sent):
        self.ring.append((self.pos, msg))
        if msg:
            sent.append(self.pos)
        self.pos += 1

    def send(self, msg, sent, outbuf, fifo, task):
        if fifo is not None:
            fifo.append(task)
        if outbuf:
            outbuf.append(msg)
            return False
        self._publish(msg, sent)
        return True

    def flush(self, outbuf, sent):
        while outbuf:
            self._publish(outbuf.popleft(), sent)
        return True

    def steal_into(self, sent, fifo, thief, thief_sent, thief_outbuf, thief_fifo):
        if not self.ring:
            return None
        pos, msg = self.ring.popleft()     # the oldest not started
        i = sent.index(pos)
        del sent[i]
        task = fifo[i]
        del fifo[i]
        thief.send(msg, thief_sent, thief_outbuf, thief_fifo, task)
        return task


class FakeLink:
    """A worker's link over a FakeRing; `taken` counts what the fake
    worker took (the head of its fifo first)."""

    def __init__(self):
        self.task_ring = FakeRing()
        self.ring = self.task_ring.ring
        self.sent = collections.deque()
        self.outbuf = collections.deque()
        self.taken = 0

    def flush(self):
        return self.task_ring.flush(self.outbuf, self.sent)

    def stealable(self):
        return not self.outbuf

    def take(self):
        """The worker takes its next message."""
        self.taken += 1
        return self.ring.popleft()[1]

    def took_oldest(self):
        return bool(self.sent) and (not self.ring or self.ring[0][0] != self.sent[0])

    def took_oldest_yet(self):
        return self.took_oldest()


class Job:
    """What the scheduler reads of a result object."""

    def __init__(self, batchable=False, service=-1.0):
        self._batchable = batchable
        self._service = service


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class Proc:
    def __init__(self, pid):
        self.pid, self.name = pid, 'PoolWorker-%d' % pid


def make(n=2, maxtasks=None):
    clock = Clock()
    s = Scheduler(maxtasks, clock=clock)
    for i in range(n):
        s.workers.append(Worker(FakeLink(), Proc(1000 + i)))
    return s, clock


def apply_task(job, idx, value, timeout=None):
    return Task(job, idx, task_message(_APPLY, abs, (value,), None), timeout)


def run(msg):
    kind, func, args, kwds = pickle.loads(msg)
    return func(*args)


def answer(s, w, clock, n=1):
    """The worker takes and answers its next n messages."""
    for _ in range(n):
        w.inbox.append(pickle.dumps((True, run(w.link.take()))))
    s.answered(w, clock())


def test_dispatch_goes_to_the_least_busy_worker():
    s, clock = make(2)
    job = Job()
    assert s.submit([apply_task(job, 0, -1)]) is False   # no wake: a result comes
    assert s.submit([apply_task(job, 1, -2)]) is False
    a, b = s.workers
    assert [t.idx for t in a.fifo] == [0] and [t.idx for t in b.fifo] == [1]
    assert [run(m) for _, m in a.link.ring] == [1]
    s.submit([apply_task(job, i, -i) for i in range(2, 6)])
    assert sorted(len(w.fifo) for w in s.workers) == [3, 3]
    assert not s.pending


def test_results_answer_the_fifo_in_order_and_measure_service():
    s, clock = make(1)
    job = Job()
    s.submit([apply_task(job, i, -i) for i in range(3)])
    w = s.workers[0]
    clock.now += 0.5
    answer(s, w, clock, 2)
    assert [(d.job, d.idx, pickle.loads(d.payload)) for d in s.done] == [
        (job, 0, (True, 0)), (job, 1, (True, 1))]
    assert w.service == pytest.approx(0.5 * 0.8 + 0.0 * 0.2)
    assert [t.idx for t in w.fifo] == [2] and list(w.link.sent) == [2]


def test_depth_follows_the_service():
    s, clock = make(1)
    w = s.workers[0]
    w.service = 0.1             # slow tasks: the minimum queued
    s.submit([apply_task(Job(), i, i) for i in range(10)])
    assert len(w.fifo) == sched_mod._PREFETCH_MIN
    assert len(s.pending) == 10 - sched_mod._PREFETCH_MIN


def test_idle_worker_steals_an_unstarted_task():
    s, clock = make(2)
    a, b = s.workers
    b.stopping = True           # everything goes to a
    job = Job()
    s.submit([apply_task(job, i, i) for i in range(3)])
    assert len(a.fifo) == 3
    a.link.take()               # a runs task 0
    b.stopping = False
    s.steal()
    # b takes over the oldest task a had not started.
    assert [t.idx for t in a.fifo] == [0, 2] and [t.idx for t in b.fifo] == [1]
    assert list(a.link.sent) == [0, 2]
    assert a.assigned == 2 and b.assigned == 1
    assert run(b.link.take()) == 1


def test_no_stealing_with_maxtasksperchild():
    s, clock = make(2, maxtasks=10)
    a, b = s.workers
    b.stopping = True
    s.submit([apply_task(Job(), i, i) for i in range(3)])
    b.stopping = False
    s.steal()
    assert len(a.fifo) == 3 and not b.fifo


def test_reaped_worker_fails_its_running_task_and_requeues_the_rest():
    s, clock = make(2)
    a, b = s.workers
    job = Job()
    b.stopping = True
    s.submit([apply_task(job, i, i) for i in range(3)])
    a.link.take()               # running task 0 when it dies
    b.stopping = False
    lost = RuntimeError('lost')
    s.reap(a, lost)
    assert a not in s.workers
    [d] = s.done
    assert (d.job, d.idx, d.obj) == (job, 0, (False, lost))
    # The others were never started: back to the front, in order.
    assert [t.idx for t in s.pending] == [1, 2]
    s.dispatch()
    assert [t.idx for t in b.fifo] == [1, 2]


def test_reaped_idle_worker_ran_nothing():
    s, clock = make(1)
    w = s.workers[0]
    job = Job()
    s.submit([apply_task(job, 0, 0)])
    s.reap(w, RuntimeError('lost'))     # died before it took the task
    assert not s.done
    assert [t.idx for t in s.pending] == [0]


def test_maxtasksperchild_caps_what_a_worker_is_given():
    s, clock = make(1, maxtasks=2)
    w = s.workers[0]
    s.submit([apply_task(Job(), i, i) for i in range(5)])
    assert len(w.fifo) == 2 and len(s.pending) == 3
    answer(s, w, clock, 2)
    s.dispatch()
    assert not w.fifo           # its two are done: the next worker's turn
    assert len(s.pending) == 3


def test_map_spans_are_cut_by_maxtasks_and_count_their_chunks():
    s, clock = make(1, maxtasks=3)
    w = s.workers[0]
    job = Job(batchable=True, service=1e-6)     # fast chunks: big spans
    seq = list(range(20))
    s.submit([Task(job, range(10), (_MAP, abs, seq, 2))])
    [(pos, msg)] = w.link.ring
    assert msg[:1] == _SPAN and _COUNT.unpack_from(msg, 1)[0] == 3
    assert w.assigned == 3
    assert [t.idx for t in s.pending] == [range(3, 10)]


def test_a_chunk_that_cannot_be_pickled_fails_alone():
    s, clock = make(1)
    job = Job(batchable=True, service=0.0)
    tasks = [Task(job, 0, (_MAP, abs, [1])), Task(job, 1, (_MAP, abs, [lambda: 0]))]
    assert s.submit(tasks) is True      # an outcome to hand over
    [d] = s.done
    assert d.idx == 1 and d.obj[0] is False
    assert [t.idx for t in s.workers[0].fifo] == [0]


def test_task_timeout_kills_the_late_worker_only():
    s, clock = make(2)
    a, b = s.workers
    job = Job()
    s.submit([apply_task(job, 0, 0, timeout=1.0), apply_task(job, 1, 1, timeout=5.0)])
    assert s.timed == 2
    late, nearest = s.check_timeouts()
    assert late == [] and nearest == sched_mod._UNTAKEN_CHECK   # not taken yet
    a.link.take()
    b.link.take()
    clock.now += 0.01
    # Taken since the last look: their clocks run from that look.
    assert s.check_timeouts() == ([], pytest.approx(1.0 - 0.01))
    clock.now += 2.0
    late, nearest = s.check_timeouts()
    assert late == [a] and nearest == pytest.approx(5.0 - 2.01)
    assert isinstance(a.killed, TimeoutError) and 'task_timeout of 1s' in str(a.killed)
    s.reap(a, RuntimeError('not this one'))
    [d] = s.done
    assert d.idx == 0 and d.obj == (False, a.killed)
    assert s.timed == 1


def test_stop_idle_workers():
    s, clock = make(2)
    a, b = s.workers
    s.submit([apply_task(Job(), 0, 0)])
    s.stop_idle()
    assert b.stopping and not a.stopping
    assert [m for _, m in b.link.ring] == [_STOP]
    s.submit([apply_task(Job(), 1, 1)])
    assert [t.idx for t in a.fifo] == [0, 1]     # a stopping worker gets none
