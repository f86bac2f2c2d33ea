"""cmp's Pool on a Ray cluster: the stdlib's ``multiprocessing.pool`` API and
semantics, with the workers spread over the machines of a cluster.

The switch
----------
``cmp.Pool(..., ray_address=ADDRESS)``, ``cmp.get_context('ray').Pool(...)``
or ``CMP_RAY_ADDRESS=ADDRESS`` in the environment (for programs that cannot
be edited) make the pool a ``RayPool``.  ``ADDRESS`` is what ``ray.init``
takes: ``auto`` (the cluster running here, as Ray finds it), ``local`` (start
a cluster on this machine) or an address such as ``ray://host:10001`` or
``host:6379``.  A process connects once (``ray.init``) and stays connected
until it exits; a process already connected (``ray.init`` by the program)
keeps its connection, whatever the address says.  Ray is imported only here,
and this module is imported only when one of the three asks for it.

Shape
-----
Each worker is a Ray actor (``_actor_class``): the initializer runs once in
it, as in a process of a local pool, and it runs the tasks sent to it one
after the other.  The parent decides which worker runs which task and keeps,
per worker, the FIFO of calls sent to it (a few at once, so a short task
does not wait for a round trip; one at a time while calls take long, so an
idle worker never waits behind a long one).  The head of a FIFO is the call
the actor runs, so when an actor dies (its process killed, its node lost)
that call fails with ``WorkerLostError`` naming the worker, its pid and its
node, the calls queued behind it go to other workers, and a new actor takes
its place.

One handler thread per pool reads every event from one queue: a call's
result (a Ray future's done-callback puts it there), an actor's start, a new
task, close and terminate.  It runs the callbacks, serially and in arrival
order, as the stdlib's result thread does, and enforces ``task_timeout``
(the actor running a task past it is killed and replaced, the task fails
with ``multiprocessing.TimeoutError``).

Tasks are pickled (cloudpickle: functions of ``__main__`` and lambdas travel
by value) in the calling thread, so a bad argument raises there; a map's
chunks are sent several to a call when they are short.  Results come back
as one pickle per call; a task's exception carries the remote traceback as
``__cause__`` (``RemoteTraceback``).  cmp's own shared objects (``Lock``,
``Value``, ``Array``, ``Queue`` ...) live in one machine's shared memory and
refuse to be pickled for a task (``TypeError``).

``processes``: the default is the cluster's CPUs.  Up to the CPUs free when
the pool starts, each worker reserves one CPU (Ray spreads them over the
nodes); the workers beyond that reserve none and are spread over the nodes
too (oversubscribed, as a local Pool larger than the machine is).  A
replaced worker asks for what its predecessor had: when that is a CPU the
cluster no longer has (its node is gone), it starts once the cluster has one
again, and the pool runs on its other workers until then.
"""
import collections
import itertools
import os
import pickle
import queue
import threading
import time

from multiprocessing import util
from multiprocessing.context import TimeoutError
from multiprocessing.pool import (ExceptionWithTraceback, MaybeEncodingError,
                                  RUN, CLOSE, TERMINATE)

from . import pool as _local
from .pool import _APPLY, _MAP, _STARMAP, _chunks

ENV = 'CMP_RAY_ADDRESS'
INSTALL_HINT = "pip install 'cmp-multiprocessing[ray]' (or pip install ray)"

_WAKE = ('wake',)
_PREFETCH_TARGET = 0.02     # seconds of work queued at each worker
_DEPTH_MAX = 16             # calls queued at one worker
_BATCH_TARGET = 0.05        # seconds of map chunks in one call
_BATCH_MAX = 4096           # map chunks in one call
_INITIAL_ESTIMATE = 0.1     # seconds a call takes before one is measured

job_counter = itertools.count()
_worker_counter = itertools.count(1)


def import_ray():
    """import_ray() -> the ray module; ImportError saying how to install it."""
    try:
        import ray
    except ImportError as e:
        raise ImportError('a cmp pool on a Ray cluster needs Ray, which is not '
                          'installed: %s' % INSTALL_HINT) from e
    return ray


def connect(address):
    """connect(address) -> the ray module, connected to the cluster at
    address ('auto', 'local' or an address) unless already connected."""
    ray = import_ray()
    if not ray.is_initialized():
        if address == 'local':
            ray.init(address='local', include_dashboard=False)
        else:
            ray.init(address=address)
    return ray


# --- pickling ----------------------------------------------------------------

_arena_types = None


def _arena_type_tuple():
    global _arena_types
    if _arena_types is None:
        from . import _cmp
        _arena_types = tuple(
            t for t in vars(_cmp).values()
            if isinstance(t, type) and not issubclass(t, BaseException))
    return _arena_types


def _refuse_arena_object(obj):
    raise TypeError(
        '%s object lives in the shared memory of one machine (cmp\'s arena) '
        'and cannot be sent to a task of a pool on a Ray cluster; pass plain '
        'values, or use a cluster-wide object instead: '
        'cmp.get_context("ray").Queue(), a Ray actor, ray.put()'
        % type(obj).__name__)


def _pickler_class():
    from ray import cloudpickle

    class Pickler(cloudpickle.CloudPickler):
        """cloudpickle, refusing cmp's shared objects."""

        def reducer_override(self, obj):
            if (isinstance(obj, _arena_type_tuple()) or
                    getattr(obj, '_cmp_buffer', None) is not None):
                _refuse_arena_object(obj)
            return super().reducer_override(obj)
    return Pickler


_Pickler = None


def dumps(obj):
    global _Pickler
    import io
    if _Pickler is None:
        _Pickler = _pickler_class()
    f = io.BytesIO()
    _Pickler(f, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    return f.getvalue()


loads = pickle.loads


# --- the worker: code that runs in the actor ---------------------------------

def _run_call(func_blob, kind, blobs):
    """Run one call's chunks in the worker: the pickle of [(success, value)],
    one pair a chunk, as the stdlib's worker answers a task."""
    out = []
    try:
        func = loads(func_blob)
    except Exception as e:
        func, failure = None, (False, ExceptionWithTraceback(e, e.__traceback__))
    for blob in blobs:
        if func is None:
            out.append(failure)
            continue
        try:
            args = loads(blob)
            if kind == _APPLY:
                value = func(*args[0], **args[1])
            elif kind == _MAP:
                value = list(map(func, args))
            else:
                value = list(itertools.starmap(func, args))
            out.append((True, value))
        except Exception as e:
            out.append((False, ExceptionWithTraceback(e, e.__traceback__)))
    try:
        return dumps(out)
    except Exception:
        pass
    fixed = []
    for success, value in out:      # which one cannot be pickled
        try:
            dumps(value)
        except Exception as e:
            success, value = False, MaybeEncodingError(e, value)
        fixed.append((success, value))
    return dumps(fixed)


def _where():
    import socket
    import ray
    ctx = ray.get_runtime_context()
    return os.getpid(), ctx.get_node_id(), socket.gethostname()


_actor_classes = {}


def _actor_class(ray):
    cls = _actor_classes.get(id(ray))
    if cls is None:
        class CmpPoolWorker:
            """One worker of a cmp pool on a Ray cluster."""

            def __init__(self, init_blob):
                initializer, initargs = loads(init_blob)
                if initializer is not None:
                    initializer(*initargs)

            def where(self):
                return _where()

            def run(self, func_blob, kind, blobs):
                return _run_call(func_blob, kind, blobs)
        cls = _actor_classes[id(ray)] = ray.remote(max_restarts=0)(CmpPoolWorker)
    return cls


# --- results ----------------------------------------------------------------

class ApplyResult(object):
    """The result of apply_async: get(timeout), wait, ready, successful."""
    _estimate = None            # seconds a chunk takes a worker (see _send)
    _finished = False

    def __init__(self, pool, callback, error_callback):
        self._event = threading.Event()
        self._job = next(job_counter)
        self._cache = pool._cache
        self._callback = callback
        self._error_callback = error_callback
        self._cache[self._job] = self

    def ready(self):
        return self._event.is_set()

    def successful(self):
        if not self.ready():
            raise ValueError("{0!r} not ready".format(self))
        return self._success

    def wait(self, timeout=None):
        self._event.wait(timeout)

    def get(self, timeout=None):
        self.wait(timeout)
        if not self.ready():
            raise TimeoutError
        if self._success:
            return self._value
        raise self._value

    def _set(self, i, obj):
        self._success, self._value = obj
        try:
            if self._callback and self._success:
                self._callback(self._value)
            if self._error_callback and not self._success:
                self._error_callback(self._value)
        finally:
            self._done()

    def _fail_silently(self, exc):
        self._success, self._value = False, exc
        self._done()
        self._publish()

    def _done(self):
        # Ready once the handler let go of the values too (_publish): a
        # caller that drops them after get() holds the last references.
        self._cache.pop(self._job, None)
        self._finished = True

    def _publish(self):
        if self._finished:
            self._event.set()


AsyncResult = ApplyResult


class MapResult(ApplyResult):
    """The result of map_async: ready once every chunk is back."""

    def __init__(self, pool, chunksize, length, callback, error_callback):
        ApplyResult.__init__(self, pool, callback, error_callback)
        self._success = True
        self._value = [None] * length
        self._chunksize = chunksize
        self._number_left = -(-length // chunksize) if chunksize else 0
        self._progress = None
        if not self._number_left:
            self._done()
            self._publish()

    def _set(self, i, obj):
        success, result = obj
        self._number_left -= 1
        if success:
            if self._success:
                cs = self._chunksize
                self._value[i * cs:(i + 1) * cs] = result
            if self._progress is not None:
                self._progress.update(len(result))
        else:
            if self._success:
                self._success, self._value = False, result
            if self._progress is not None:
                self._progress.update(1)
        if self._number_left == 0:
            if self._progress is not None:
                self._progress.close()
            try:
                if self._success and self._callback:
                    self._callback(self._value)
                elif not self._success and self._error_callback:
                    self._error_callback(self._value)
            finally:
                self._done()

    def _fail_silently(self, exc):
        if self._progress is not None:
            self._progress.close()
        if self._success:
            self._success, self._value = False, exc
        self._done()
        self._publish()


class IMapIterator(object):
    """The iterator imap returns: results in task order."""
    _estimate = None

    def __init__(self, pool):
        self._cond = threading.Condition(threading.Lock())
        self._job = next(job_counter)
        self._cache = pool._cache
        self._items = collections.deque()
        self._index = 0
        self._length = None
        self._unsorted = {}
        self._slots = None      # threading.Semaphore when max_in_flight
        self._progress = None
        self._cache[self._job] = self

    def __iter__(self):
        return self

    def _publish(self):
        pass                    # each item is the consumer's once taken

    def next(self, timeout=None):
        with self._cond:
            if not self._items and self._index != self._length:
                self._cond.wait_for(
                    lambda: self._items or self._index == self._length, timeout)
            if self._items:
                success, value = self._items.popleft()
            elif self._index == self._length:
                if self._progress is not None:
                    self._progress.close()
                raise StopIteration from None
            else:
                raise TimeoutError from None
        if self._slots is not None:
            self._slots.release()
        if self._progress is not None:
            self._progress.update(1)
        if success:
            return value
        raise value

    __next__ = next

    def _set(self, i, obj):
        with self._cond:
            if self._index == i:
                self._items.append(obj)
                self._index += 1
                while self._index in self._unsorted:
                    self._items.append(self._unsorted.pop(self._index))
                    self._index += 1
                self._cond.notify()
            else:
                self._unsorted[i] = obj
            if self._index == self._length:
                self._cache.pop(self._job, None)

    def _set_length(self, length):
        with self._cond:
            self._length = length
            if self._index == self._length:
                self._cond.notify()
                self._cache.pop(self._job, None)

    def _fail_silently(self, exc):
        with self._cond:
            self._items.append((False, exc))
            self._length = self._index = -1
            self._cond.notify_all()
        self._cache.pop(self._job, None)


class IMapUnorderedIterator(IMapIterator):
    """The iterator imap_unordered returns: results as they come."""

    def _set(self, i, obj):
        with self._cond:
            self._items.append(obj)
            self._index += 1
            self._cond.notify()
            if self._index == self._length:
                self._cache.pop(self._job, None)


# --- the parent's machinery --------------------------------------------------

class _Entry:
    """Chunks of one job waiting to be sent: blobs[pos:] are chunks
    first + pos, first + pos + 1 ... of the job."""
    __slots__ = ('job', 'kind', 'func_blob', 'blobs', 'first', 'pos',
                 'timeout', 'batchable')

    def __init__(self, job, kind, func_blob, blobs, first, timeout, batchable):
        self.job, self.kind, self.func_blob = job, kind, func_blob
        self.blobs, self.first, self.pos = blobs, first, 0
        self.timeout, self.batchable = timeout, batchable


class _Call:
    """One call sent to a worker: chunks first .. first + count - 1."""
    __slots__ = ('entry', 'first', 'count', 'blobs', 'ref', 'sent', 'future')

    def __init__(self, entry, first, count, blobs):
        self.entry, self.first, self.count, self.blobs = entry, first, count, blobs
        self.ref = self.future = None
        self.sent = 0.0


class _Worker:
    """The parent's view of one actor."""
    __slots__ = ('actor', 'name', 'num_cpus', 'options', 'ready', 'dead',
                 'pid', 'node', 'host', 'fifo', 'head_start', 'estimate',
                 'tasks_left', 'retiring')

    def __init__(self, actor, name, num_cpus, options, maxtasks):
        self.actor, self.name, self.num_cpus, self.options = actor, name, num_cpus, options
        self.ready = self.dead = self.retiring = False
        self.pid = self.node = self.host = None
        self.fifo = collections.deque()
        self.head_start = 0.0
        self.estimate = _INITIAL_ESTIMATE
        self.tasks_left = maxtasks

    @property
    def exitcode(self):
        return None if not self.dead else 0

    def is_alive(self):
        return not self.dead

    def describe(self):
        where = 'not started yet' if self.pid is None else 'pid %d on node %s (%s)' % (
            self.pid, self.host, self.node)
        return 'pool worker %s (Ray actor %s, %s)' % (
            self.name, self.actor._actor_id.hex(), where)


def _worker_lost(worker, reason):
    from .pool import WorkerLostError
    first = str(reason).strip().splitlines()
    return WorkerLostError('%s died while running this task: %s' % (
        worker.describe(), first[0] if first else type(reason).__name__))


class _Core:
    """The handler thread and the state it owns."""

    def __init__(self, ray, processes, initializer, initargs, maxtasks):
        self.ray = ray
        self.cache = {}
        self.lock = threading.Lock()
        self.events = queue.SimpleQueue()
        self.pending = collections.deque()      # _Entry
        self.workers = []
        self.state = RUN
        self.feeders = 0            # imap feeder threads still submitting
        self.maxtasks = maxtasks
        self.init_blob = dumps((initializer, tuple(initargs)))
        self.actor_cls = _actor_class(ray)
        free = int(ray.available_resources().get('CPU', 0))
        for i in range(processes):
            if i < free:
                self._start_worker(1, {})
            else:
                self._start_worker(0, {'scheduling_strategy': 'SPREAD'})
        self.thread = threading.Thread(target=self._run, daemon=True,
                                       name='cmp-raypool-handler')

    # -- workers --

    def _start_worker(self, num_cpus, options):
        actor = self.actor_cls.options(num_cpus=num_cpus, **options).remote(
            self.init_blob)
        w = _Worker(actor, 'RayPoolWorker-%d' % next(_worker_counter),
                    num_cpus, options, self.maxtasks)
        self.workers.append(w)
        events = self.events
        actor.where.remote().future().add_done_callback(
            lambda f: events.put(('ready', w, f)))
        return w

    def wait_started(self):
        """Wait until every first worker answered (before the thread runs)."""
        left = set(self.workers)
        while left:
            _, w, f = self.events.get()
            left.discard(w)
            exc = f.exception()
            if exc is not None:
                self.state = TERMINATE
                for x in self.workers:
                    self._kill(x)
                raise exc
            w.pid, w.node, w.host = f.result()
            w.ready = True

    def _kill(self, w):
        w.dead = True
        try:
            self.ray.kill(w.actor, no_restart=True)
        except Exception:
            pass                # gone already, or Ray is shut down

    def _replace(self, w, error_for_head):
        """w is dead: its head call fails with error_for_head, the calls
        behind it go back to the front of the queue, a new worker comes."""
        self._kill(w)
        calls = list(w.fifo)
        w.fifo.clear()
        if calls and error_for_head is not None:
            head = calls.pop(0)
            self._fail_call(head, error_for_head)
        for call in reversed(calls):
            e = call.entry
            self.pending.appendleft(_Entry(e.job, e.kind, e.func_blob, call.blobs,
                                           call.first, e.timeout, False))
        self.workers.remove(w)
        if self.state == RUN or (self.state == CLOSE and self.pending):
            self._start_worker(w.num_cpus, w.options)

    # -- submitting (any thread) --

    def feeder_started(self):
        with self.lock:
            self.feeders += 1

    def feeder_done(self):
        with self.lock:
            self.feeders -= 1
        self.events.put(_WAKE)

    def submit(self, entry):
        with self.lock:
            self.pending.append(entry)
        self.events.put(_WAKE)

    # -- the handler thread --

    def start(self):
        self.thread.start()

    def _run(self):
        try:
            self._loop()
        except BaseException:
            # The handler must never die silently: fail what is left.
            import traceback
            traceback.print_exc()
            self.state = TERMINATE
            self._fail_all(RuntimeError('the pool handler failed'))
        finally:
            for w in list(self.workers):
                self._kill(w)

    def _loop(self):
        while True:
            self._dispatch()
            if self.state == TERMINATE:
                self._fail_all(RuntimeError('pool terminated before this result was ready'))
                return
            if self.state == CLOSE and not self.pending and not self.feeders \
                    and not any(w.fifo for w in self.workers):
                return
            timeout = self._check_timeouts()
            try:
                ev = self.events.get(timeout=timeout)
            except queue.Empty:
                continue
            while True:
                self._handle(ev)
                try:
                    ev = self.events.get_nowait()
                except queue.Empty:
                    break
            ev = None           # a done job's values are the caller's alone

    def _handle(self, ev):
        kind = ev[0]
        if kind == 'done':
            self._done(ev[1], ev[2], ev[3])
        elif kind == 'ready':
            _, w, f = ev
            if w.dead:
                return
            exc = f.exception()
            if exc is not None:
                self._replace(w, _worker_lost(w, exc))
            else:
                w.pid, w.node, w.host = f.result()
                w.ready = True

    def _done(self, w, call, f):
        """A call of w finished.  Ray may report the calls of one actor out
        of order: they are taken in the order w ran them, the FIFO's."""
        call.future = f
        while not w.dead and w.fifo and w.fifo[0].future is not None:
            self._take(w, w.fifo[0])

    def _take(self, w, call):
        f = call.future
        exc = f.exception()
        if exc is not None:
            if isinstance(exc, self.ray.exceptions.RayActorError):
                self._replace(w, _worker_lost(w, exc))
            else:
                w.fifo.popleft()
                self._fail_call(call, exc)
            return
        now = time.monotonic()
        w.fifo.popleft()
        took = now - max(w.head_start, call.sent)
        w.estimate = 0.5 * w.estimate + 0.5 * took
        per_chunk = took / call.count
        job = call.entry.job
        job._estimate = per_chunk if job._estimate is None else \
            0.5 * job._estimate + 0.5 * per_chunk
        w.head_start = now
        try:
            results = loads(f.result())
        except Exception as e:
            results = [(False, e)] * call.count
        call.future = f = None
        self._deliver(job, call.first, results)
        if w.retiring and not w.fifo:
            self._replace(w, None)

    def _deliver(self, job, first, results):
        """Hand results (emptied on the way) to job, in order."""
        for k in range(len(results)):
            obj, results[k] = results[k], None
            try:
                job._set(first + k, obj)
            except Exception:
                _report_callback_error()
        obj = None
        job._publish()

    def _fail_call(self, call, exc):
        self._deliver(call.entry.job, call.first, [(False, exc)] * call.count)

    def _fail_all(self, exc):
        for job in list(self.cache.values()):
            job._fail_silently(exc)
        self.cache.clear()
        self.pending.clear()

    def _depth(self, w):
        return max(1, min(_DEPTH_MAX, int(_PREFETCH_TARGET / max(w.estimate, 1e-6)) + 1))

    def _dispatch(self):
        if self.state == TERMINATE:
            return
        live = [w for w in self.workers if w.ready and not w.dead and not w.retiring]
        if not live:
            return
        with self.lock:
            # One call at a time to the worker with the fewest queued.
            while self.pending:
                room = [w for w in live if len(w.fifo) < self._depth(w) and not w.retiring]
                if not room:
                    break
                self._send(min(room, key=lambda w: len(w.fifo)), self.pending[0], len(live))

    def _send(self, w, entry, nworkers):
        """Send the first chunks of entry (the head of pending) to w."""
        left = len(entry.blobs) - entry.pos
        count = 1
        if entry.batchable and left > 1:
            est = entry.job._estimate
            by_time = 1 if est is None else int(_BATCH_TARGET / max(est, 1e-7))
            count = max(1, min(_BATCH_MAX, by_time, left // (2 * nworkers)))
        if w.tasks_left is not None:
            count = min(count, w.tasks_left)
            w.tasks_left -= count
            if w.tasks_left == 0:
                w.retiring = True
        blobs = entry.blobs[entry.pos:entry.pos + count]
        call = _Call(entry, entry.first + entry.pos, count, blobs)
        entry.pos += count
        if entry.pos == len(entry.blobs):
            self.pending.popleft()
        call.sent = time.monotonic()
        if not w.fifo:
            w.head_start = call.sent
        call.ref = w.actor.run.remote(entry.func_blob, entry.kind, blobs)
        w.fifo.append(call)
        events = self.events
        call.ref.future().add_done_callback(
            lambda f: events.put(('done', w, call, f)))

    def _check_timeouts(self):
        """Kill the workers whose running task is past its timeout; return
        the seconds until the next deadline (None: no deadline)."""
        now = time.monotonic()
        nearest = None
        for w in list(self.workers):
            if not w.fifo or w.fifo[0].entry.timeout is None:
                continue
            timeout = w.fifo[0].entry.timeout
            left = w.head_start + timeout - now
            if left <= 0:
                self._replace(w, TimeoutError(
                    'task_timeout of %gs exceeded: %s was killed' % (timeout, w.describe())))
            elif nearest is None or left < nearest:
                nearest = left
        return nearest

    # -- life cycle (any thread) --

    def close(self):
        if self.state == RUN:
            self.state = CLOSE
        self.events.put(_WAKE)

    def terminate(self):
        self.state = TERMINATE
        self.events.put(_WAKE)


def _report_callback_error():
    import traceback
    traceback.print_exc()


def _terminate_core(core):
    core.terminate()
    if core.thread.is_alive() and core.thread is not threading.current_thread():
        core.thread.join()


# --- the Pool ---------------------------------------------------------------

class RayPool(object):
    """RayPool(processes=None, initializer=None, initargs=(), maxtasksperchild=None, *, ray_address)

    A pool of workers on a Ray cluster, with the stdlib's Pool API.  Made by
    cmp.Pool(..., ray_address=ADDRESS), by cmp.get_context('ray').Pool(...),
    or by cmp.Pool(...) with CMP_RAY_ADDRESS=ADDRESS in the environment.
    """

    def __init__(self, processes=None, initializer=None, initargs=(),
                 maxtasksperchild=None, *, ray_address):
        self._state = INIT_STATE
        if processes is not None and processes < 1:
            raise ValueError("Number of processes must be at least 1")
        if maxtasksperchild is not None:
            if not isinstance(maxtasksperchild, int) or maxtasksperchild <= 0:
                raise ValueError("maxtasksperchild must be a positive int or None")
        if initializer is not None and not callable(initializer):
            raise TypeError('initializer must be a callable')
        ray = connect(ray_address)
        if processes is None:
            processes = max(1, int(ray.cluster_resources().get('CPU', 1)))
        self._processes = processes
        self._core = _Core(ray, processes, initializer, initargs, maxtasksperchild)
        self._cache = self._core.cache
        self._core.wait_started()
        self._core.start()
        self._state = RUN
        self._terminate = util.Finalize(self, _terminate_core, args=(self._core,),
                                        exitpriority=15)

    @property
    def _pool(self):
        return list(self._core.workers)

    def _repopulate_pool(self):
        pass                    # the handler replaces workers as they go

    # The stdlib's front methods, as cmp's local Pool has them (the same
    # signatures, the same checks): they call apply_async and _map_async,
    # which are this pool's own.
    for _name in ('__del__', '__repr__', '__reduce__', '_check_running', '__enter__',
                  '__exit__', 'close', 'terminate', 'apply', 'map', 'starmap', 'starmap_async',
                  'map_async'):
        locals()[_name] = getattr(_local.Pool, _name)
    del _name

    def apply_async(self, func, args=(), kwds={}, callback=None,
                    error_callback=None, *, task_timeout=None):
        """Asynchronous version of apply(); returns an ApplyResult."""
        self._check_running()
        func_blob, blob = dumps(func), dumps((tuple(args), dict(kwds)))
        result = ApplyResult(self, callback, error_callback)
        self._core.submit(_Entry(result, _APPLY, func_blob, [blob], 0,
                                 task_timeout, False))
        return result

    # -- map --

    def _map_async(self, func, iterable, kind, chunksize, callback,
                   error_callback, progress, task_timeout):
        self._check_running()
        if not hasattr(iterable, '__len__'):
            iterable = list(iterable)
        if chunksize is None:
            chunksize, extra = divmod(len(iterable), self._processes * 4)
            if extra:
                chunksize += 1
        if len(iterable) == 0:
            chunksize = 0
        func_blob = dumps(func)
        blobs = [dumps(chunk) for chunk in _chunks(iterable, chunksize)] if chunksize else []
        result = MapResult(self, chunksize, len(iterable), callback, error_callback)
        if blobs:
            if progress:

                result._progress = _local._Progress(len(iterable), 'map')
            self._core.submit(_Entry(result, kind, func_blob, blobs, 0,
                                     task_timeout, task_timeout is None))
        return result

    # -- imap --

    def imap(self, func, iterable, chunksize=1, *, max_in_flight=None,
             progress=False, task_timeout=None):
        """Equivalent of map() -- can be MUCH slower than Pool.map()."""
        return self._imap(IMapIterator, func, iterable, chunksize,
                          max_in_flight, progress, task_timeout)

    def imap_unordered(self, func, iterable, chunksize=1, *, max_in_flight=None,
                       progress=False, task_timeout=None):
        """Like imap() method but ordering of results is arbitrary."""
        return self._imap(IMapUnorderedIterator, func, iterable, chunksize,
                          max_in_flight, progress, task_timeout)

    def _imap(self, cls, func, iterable, chunksize, max_in_flight, progress,
              task_timeout):
        self._check_running()
        if chunksize < 1:
            raise ValueError("Chunksize must be 1+, not {0:n}".format(chunksize))
        if max_in_flight is not None and max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        func_blob = dumps(func)
        kind = _APPLY if chunksize == 1 else _MAP
        eager = max_in_flight is None and isinstance(iterable, (list, tuple, range))
        if eager:           # pickled here: a bad item raises here
            blobs = [_chunk_blob(kind, chunk) for chunk in _chunks(iterable, chunksize)]
        result = cls(self)
        if progress:

            total = len(iterable) if hasattr(iterable, '__len__') else None
            if total is not None and chunksize > 1:
                total = -(-total // chunksize)
            result._progress = _local._Progress(total, 'imap')
        if eager:
            for i, blob in enumerate(blobs):
                self._core.submit(_Entry(result, kind, func_blob, [blob], i,
                                         task_timeout, False))
            result._set_length(len(blobs))
        else:
            if max_in_flight is not None:
                result._slots = threading.Semaphore(max_in_flight)
            self._core.feeder_started()
            threading.Thread(
                target=_feed, args=(self._core, result, kind, func_blob,
                                    iterable, chunksize, task_timeout),
                daemon=True, name='cmp-raypool-feeder').start()
        if chunksize == 1:
            return result
        return (item for chunk in result for item in chunk)

    # -- life cycle (close and terminate are the local pool's) --

    def join(self):
        """Wait for the workers to exit (after close() or terminate())."""
        util.debug('joining pool')
        if self._state == RUN:
            raise ValueError("Pool is still running")
        elif self._state not in (CLOSE, TERMINATE):
            raise ValueError("In unknown state")
        self._core.thread.join()


INIT_STATE = 'INIT'


def _chunk_blob(kind, chunk):
    return dumps(((chunk[0],), {}) if kind == _APPLY else chunk)


def _feed(core, result, kind, func_blob, iterable, chunksize, task_timeout):
    """An imap feeder thread: iterate lazily, submit chunk by chunk."""
    idx = 0
    slots = result._slots
    try:
        it = iter(iterable)
        while True:
            chunk = tuple(itertools.islice(it, chunksize))
            if not chunk:
                break
            if slots is not None:
                slots.acquire()
            if core.state == TERMINATE:
                return
            core.submit(_Entry(result, kind, func_blob, [_chunk_blob(kind, chunk)],
                               idx, task_timeout, False))
            idx += 1
    except Exception as e:
        result._set(idx, (False, e))
        idx += 1
    finally:
        result._set_length(idx)
        core.feeder_done()


# --- the queue -----------------------------------------------------------------

class Queue(object):
    """Queue(maxsize=0): a FIFO queue that every process of the Ray cluster
    can use (over ray.util.queue.Queue, one actor that reserves no CPU and
    lives on the node of the process that made it, while that node lives):
    put/get raise the stdlib's queue.Full/queue.Empty.  Pickled, it is the
    same queue."""

    def __init__(self, maxsize=0, *, ray_address=None):
        ray = connect(ray_address)
        from ray.util.queue import Queue as RayQueue
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
        here = NodeAffinitySchedulingStrategy(
            node_id=ray.get_runtime_context().get_node_id(), soft=True)
        self._q = RayQueue(maxsize, actor_options={'num_cpus': 0,
                                                   'scheduling_strategy': here})
        self._maxsize = maxsize
        self._closed = False

    def __getstate__(self):
        return (self._q, self._maxsize)

    def __setstate__(self, state):
        self._q, self._maxsize = state
        self._closed = False

    def _check_closed(self):
        if self._closed:
            raise ValueError('Queue %r is closed' % self)

    def put(self, obj, block=True, timeout=None):
        self._check_closed()
        from ray.util import queue as rq
        try:
            self._q.put(obj, block, timeout)
        except rq.Full:
            raise queue.Full from None

    def get(self, block=True, timeout=None):
        self._check_closed()
        from ray.util import queue as rq
        try:
            return self._q.get(block, timeout)
        except rq.Empty:
            raise queue.Empty from None

    def put_nowait(self, obj):
        return self.put(obj, False)

    def get_nowait(self):
        return self.get(False)

    def qsize(self):
        return self._q.qsize()

    def empty(self):
        return self._q.empty()

    def full(self):
        return self._q.full()

    def close(self):
        self._closed = True

    def join_thread(self):
        pass

    def cancel_join_thread(self):
        pass

    def shutdown(self):
        """Stop the queue's actor (the queue is gone for every process)."""
        self._closed = True
        self._q.shutdown(force=True)

