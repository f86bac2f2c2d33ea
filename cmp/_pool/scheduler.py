"""The pool's scheduler: which worker runs which task.  No threads, no file
descriptors, no signals: the handler (handler.py) calls it with its lock
held, and tests/test_pool_scheduler.py drives it synchronously with
links made of deques.

The parent keeps, per worker, the FIFO of tasks sent to it (``Worker.fifo``);
a worker runs its tasks in order and posts each result before it takes the
next task, so the head of a FIFO is the task the worker runs or will run
next, and the n-th result back answers the n-th task sent.  When a worker
dies, the head of its FIFO is the task it was running (it fails, unless the
worker had not taken it yet) and the rest were never started: they go back
to the front of ``pending``, for another worker.

A worker's link (channel.py) is what the scheduler sends through: its
``task_ring``'s ``send`` and ``steal_into`` (one C call each, so that a
signal handler raising in the main thread cannot cut a task's move in
two), ``outbuf`` (messages waiting for room in the ring), ``flush()``,
``stealable()``, ``took_oldest()`` and ``took_oldest_yet()``.

Quantities, each computed in one place:

* a worker's ``service`` (and a map's ``job._service``): seconds a task (a
  map chunk) takes, a moving average of what came back (``_average``);
* how many tasks to queue at a worker (``_depth``): enough for
  ``_PREFETCH_TARGET`` seconds of work, within ``_PREFETCH_MIN`` and
  ``_PREFETCH_MAX``, never past the worker's maxtasksperchild
  (``Worker.room``);
* how many map chunks travel in one message (``_span_size``): about
  ``_BATCH_TARGET`` seconds of work.
"""
import collections
import time

from multiprocessing.context import TimeoutError

from .wire import _STOP, task_message, span_message

_PREFETCH_TARGET = 0.001        # seconds of queued work per worker
_PREFETCH_MIN, _PREFETCH_MAX = 2, 64
_BATCH_TARGET = 0.0005          # seconds of work per batch of map chunks
_BATCH_MAX = 256
_UNTAKEN_CHECK = 0.01           # seconds: a timed task not taken yet, again


class Task(object):
    """What is pending or sent: `idx` is the task's number in its job (an
    int) or, for a span of a map over a list, tuple or range, the range of
    its chunks' numbers.  `data`: the message (bytes); for a map chunk not
    pickled yet (kind, func, chunk); for a span (kind, func, seq, chunksize).
    `timeout`: the task_timeout, or None."""
    __slots__ = ('job', 'idx', 'data', 'timeout')

    def __init__(self, job, idx, data, timeout=None):
        self.job = job
        self.idx = idx
        self.data = data
        self.timeout = timeout

    def count(self):
        """How many tasks (map chunks) this is."""
        return 1 if type(self.idx) is int else len(self.idx)


class Done(object):
    """A task's outcome, read and not handed to its job yet: the result
    message `payload` (see wire.load_result), or `obj` (success, value)."""
    __slots__ = ('job', 'idx', 'payload', 'obj')

    def __init__(self, job, idx, payload, obj=None):
        self.job = job
        self.idx = idx
        self.payload = payload
        self.obj = obj


class Worker(object):
    """The parent's record of one worker.  The scheduler's fields: `link`,
    `fifo` (Tasks sent, oldest first), `inbox` (results read, see
    answered), `assigned` (tasks given it in its
    life, for maxtasksperchild), `head_start` (when the head of its fifo
    started, as far as the parent knows), `service`, `killed` (the
    exception its running task fails with once it is gone, when the parent
    killed it), `stopping` (sent the stop message).  The handler's: `proc`,
    `pid`, `name`, `pidfd`, `hung_up`."""
    __slots__ = ('link', 'fifo', 'inbox', 'assigned', 'head_start', 'service',
                 'killed', 'stopping', 'proc', 'pid', 'name', 'pidfd', 'hung_up')

    def __init__(self, link, proc=None, pidfd=None):
        self.link = link
        self.fifo = collections.deque()
        self.inbox = []         # result messages read, not matched yet
        self.assigned = 0
        self.head_start = 0.0
        self.service = 0.0
        self.killed = None
        self.stopping = False
        self.proc = proc
        self.pid = None if proc is None else proc.pid
        self.name = None if proc is None else proc.name
        self.pidfd = pidfd
        self.hung_up = False

    def room(self, maxtasks):
        """How many more tasks it may be given (maxtasksperchild)."""
        return None if maxtasks is None else maxtasks - self.assigned


def _average(old, sample):
    """The moving average of seconds per task (old <= 0: none yet)."""
    return sample if old <= 0 else 0.8 * old + 0.2 * sample


def _depth(service):
    """How many tasks of `service` seconds to keep queued at a worker."""
    return min(_PREFETCH_MAX, max(_PREFETCH_MIN, int(_PREFETCH_TARGET / service)))


def _span_size(service):
    """How many map chunks of `service` seconds to send in one message."""
    if service <= 0:
        return 1
    return min(_BATCH_MAX, int(_BATCH_TARGET / service)) or 1


class Scheduler(object):
    """The workers' FIFOs, the pending tasks and the outcomes read."""

    def __init__(self, maxtasks, clock=time.monotonic):
        self.maxtasks = maxtasks
        self.clock = clock
        self.workers = []
        self.pending = collections.deque()  # Tasks
        self.done = collections.deque()     # Done: outcomes to hand over
        self.timed = 0          # tasks in the fifos with a task_timeout

    # -- which worker --

    def _cap(self, w, job_service):
        """How many tasks w's fifo may hold, for a job whose tasks take
        job_service seconds (< 0: not a map; 0: none back yet)."""
        if job_service < 0:
            # Any task: what this worker's tasks took so far.
            n = _depth(w.service) if w.service > 0 else _PREFETCH_MAX
        else:
            # A map's chunks: what this map's own chunks took (another
            # job's tasks say nothing); until one is back, one queued
            # behind the running one, so that every worker gets a share.
            n = _depth(job_service) if job_service > 0 else 2
        room = w.room(self.maxtasks)
        return n if room is None else min(n, len(w.fifo) + room)

    def _least_busy(self, job_service):
        best = None
        for w in self.workers:
            n = len(w.fifo)
            if (not w.stopping and (best is None or n < len(best.fifo))
                    and n < self._cap(w, job_service)):
                best = w
        return best

    # -- submission --

    def submit(self, tasks):
        """Queue tasks and send what can go.  True when the handler should
        look (a timed task, or nothing that would wake it anyway)."""
        timed = self.timed
        self.pending.extend(tasks)
        # A timed task sent: the handler times it (one still pending is
        # timed from when it is sent, at a step that follows a result).
        return self.dispatch() or self.timed != timed or self._needs_handler()

    def _needs_handler(self):
        # A result to come triggers the next dispatch (and flushes a full
        # task ring's outbuf): the handler need not be woken then.
        busy = False
        for w in self.workers:
            if w.link.outbuf:
                return True
            busy = busy or bool(w.fifo)
        return not busy

    def dispatch(self):
        """Send pending tasks to the workers with room, least busy first;
        with nothing pending, let idle workers steal.  True when an
        outcome was queued in `done` (a chunk that could not be pickled).

        The caller may be the main thread, where a signal handler raises
        after any call: each task moves from `pending` to its worker with
        stores and deletes only, ended by one C call (task_ring.send:
        the fifo append and the publication), so that no handler runs
        with the task half moved."""
        pending = self.pending
        failed = False
        while pending:
            task = pending[0]
            job = task.job
            svc = job._service if job._batchable else -1.0
            w = self._least_busy(svc)
            if w is None:
                break
            link = w.link
            if type(task.idx) is range:
                k = _span_size(svc)
                room = w.room(self.maxtasks)
                if room is not None:
                    k = min(k, room)
                rest = (Task(job, task.idx[k:], task.data)
                        if len(task.idx) > k else None)
                task = Task(job, task.idx[:k], task.data)
                msg = self._span_message(task)
                if msg is None:
                    # Unpicklable: its chunks go one by one, so that the
                    # one that fails, fails alone.
                    kind, func, seq, cs = task.data
                    singles = [Task(job, i, (kind, func, seq[i * cs:(i + 1) * cs]))
                               for i in task.idx]
                    singles.reverse()
                    if rest is None:
                        del pending[0]
                    else:
                        pending[0] = rest
                    pending.extendleft(singles)
                    continue
            else:
                rest = None
                if not isinstance(task.data, bytes):
                    kind, func, chunk = task.data
                    try:
                        task.data = task_message(kind, func, chunk, None)
                    except Exception as e:
                        d = Done(job, task.idx, None, (False, e))
                        del pending[0]
                        self.done.append(d)
                        failed = True
                        continue
                msg = task.data
            start = None if w.fifo else self.clock()
            n = task.count()
            # Stores and deletes, then the one C call.
            if start is not None:
                w.head_start = start
            w.assigned += n
            if task.timeout is not None:
                self.timed += 1
            if rest is None:
                del pending[0]
            else:
                pending[0] = rest
            try:
                link.task_ring.send(msg, link.sent, link.outbuf, w.fifo, task)
            except MemoryError:
                link.flush()
        if not pending:
            self.steal()
        return failed

    def _span_message(self, task):
        """The message for a span; None when it cannot be pickled."""
        kind, func, seq, cs = task.data
        chunks = task.idx
        try:
            return span_message(kind, func, seq[chunks.start * cs:chunks.stop * cs],
                                cs, len(chunks))
        except Exception:
            return None

    def steal(self):
        """An idle worker takes over a task another worker queued but has
        not started (the end of a map: one worker idle while the other
        still has a chunk to go after its current).  One C call moves it
        (Channel.steal_into), so that a signal handler cannot lose it."""
        if self.maxtasks is not None:
            return              # each worker's share is counted
        for thief in self.workers:
            if thief.fifo or thief.stopping:
                continue
            victim = None
            for w in self.workers:
                if (len(w.fifo) > 1 and not w.stopping
                        and (victim is None or len(w.fifo) > len(victim.fifo))):
                    victim = w
            if victim is None or not victim.link.stealable():
                return
            thief.head_start = self.clock()
            v, t = victim.link, thief.link
            try:
                task = v.task_ring.steal_into(v.sent, victim.fifo, t.task_ring,
                                              t.sent, t.outbuf, thief.fifo)
            except MemoryError:
                t.flush()
                continue
            if task is None:
                return
            # (task_timeout: one timed task less and one more.)  `assigned`
            # is read only with maxtasksperchild, where nothing is stolen:
            # a handler raising before these two costs nothing.
            n = task.count()
            victim.assigned -= n
            thief.assigned += n

    # -- what comes back --

    def answered(self, w, now):
        """Match the result messages in w.inbox (taken out of its ring, in
        order) with the heads of its fifo, into `done`.

        A signal handler may raise in the caller (a reader in the main
        thread) after any call: each result moves from the inbox to `done`
        with stores and deletes only, ended by one C call (the append),
        after which nothing is left to do; what is left in the inbox is
        matched at the reader's next step."""
        inbox, fifo = w.inbox, w.fifo
        while inbox:
            task = fifo[0]
            job = task.job
            d = Done(job, task.idx, inbox[0])
            sample = (now - w.head_start) / task.count()
            service = _average(w.service, sample)
            job_service = _average(job._service, sample) if job._batchable else None
            timed = task.timeout is not None
            # From here on stores and deletes only (no call, after which a
            # handler could raise with the result half moved), but the
            # append that ends it.
            del w.link.sent[0]          # the worker answered its oldest task
            del inbox[0]
            del fifo[0]
            if timed:
                self.timed -= 1
            w.service = service
            if job_service is not None:
                job._service = job_service
            w.head_start = now
            self.done.append(d)

    def reap(self, w, lost):
        """w is gone (its last results taken): its running task fails with
        w.killed, or else `lost`; the rest go back to the front of pending."""
        fifo = w.fifo
        self.timed -= sum(1 for t in fifo if t.timeout is not None)
        if fifo and (w.killed is not None or w.link.took_oldest()):
            task = fifo.popleft()
            self.done.append(Done(task.job, task.idx, None,
                                  (False, w.killed or lost)))
        self.pending.extendleft(reversed(fifo))
        fifo.clear()
        self.remove(w)

    def remove(self, w):
        if w in self.workers:
            self.workers.remove(w)

    def stop_idle(self):
        """Send the stop message to each idle worker (closed, nothing left)."""
        for w in self.workers:
            if not w.stopping and not w.fifo:
                link = w.link
                w.stopping = True       # a store, then the one C call
                link.task_ring.send(_STOP, link.sent, link.outbuf, None, None)

    def due(self, within):
        """The links of the workers whose next result is due within
        `within` seconds (busy with tasks that take less)."""
        return [w.link for w in self.workers
                if w.fifo and 0 < w.service <= within]

    def check_timeouts(self):
        """The workers whose running task is late (each is given its
        `killed` exception: the caller kills it), and seconds until the
        next check (None: no timed task runs)."""
        late, nearest = [], None
        now = self.clock()
        for w in self.workers:
            if not w.fifo or w.killed is not None:
                continue
            timeout = w.fifo[0].timeout
            if timeout is None:
                continue
            if not w.link.took_oldest_yet():
                # Still starting (a spawned worker imports for a while, an
                # initializer runs): the clock starts when it takes the task.
                w.head_start = now
                left = min(timeout, _UNTAKEN_CHECK)
            else:
                left = w.head_start + timeout - now
                if left <= 0:
                    w.killed = TimeoutError(
                        'task exceeded its task_timeout of %gs; pool worker %s '
                        '(pid %d) was killed' % (timeout, w.name, w.pid))
                    late.append(w)
                    continue
            if nearest is None or left < nearest:
                nearest = left
        return late, nearest
