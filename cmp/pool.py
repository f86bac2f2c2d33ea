"""cmp's process Pool: the stdlib's ``multiprocessing.pool`` API and
semantics, with workers that cannot make the pool hang.

This module is the facade: ``Pool`` and every name of the running
interpreter's ``multiprocessing.pool``.  The machinery is the package
cmp/_pool/, one part a module:

* wire.py -- the messages in a worker's rings (both sides import it);
* worker.py -- what a worker process runs (its take-run-post loop is C:
  ``_cmp._pool_serve``, csrc/python/channel_type.c);
* channel.py -- ``_Link``, the parent's end of one worker's two rings;
* scheduler.py -- which worker runs which task: no threads, no fds;
* handler.py -- the handler thread, polling, spawning, reaping, shutdown;
* reader.py -- the reader-role hand-off (a waiting caller reads results);
* results.py -- ApplyResult, MapResult, IMapIterator, IMapUnorderedIterator;
* progress.py -- the ``progress=`` bar.

Shape
-----
Workers are started once, by the start method of the pool's context
(``cmp.get_context(m).Pool()``, ``Pool(context=...)``; none: cmp's current
method), from the main thread or from the pool's handler thread.  Each
worker has its own link: a task channel (parent -> worker) and a result
channel (worker -> parent), one message a pickle.  The channels are
``_cmp.Channel`` objects, cmp's shared rings (csrc/ring.h) as shared
objects of the arena that live while the parent or the worker holds them
(so a killed worker or a killed parent leaks nothing); the result channel
makes a pipe readable while it holds a result, which is what the handler
polls.  The parent decides which worker runs
which task and keeps, per worker, the FIFO of tasks sent to it; a worker
runs its tasks in order and posts each result before taking the next task,
so when a worker dies the head of its FIFO is the task it was running
(that task fails with WorkerLostError naming the worker and its exit
signal or code, unless it was still in the task ring: then nothing was
running) and the rest were never started (they go to another worker).

Start methods
-------------
A worker needs the parent's arena, which every process started by cmp's
contexts maps (forked, or joined at start: cmp.context); a stdlib spawn or
forkserver context given as ``context=`` is served by cmp's context of the
same method.  What a worker gets travels as its Process arguments, pickled
under spawn and forkserver as the stdlib requires (the initializer and its
arguments included): the two rings as arena offsets, the result ring's pipe
and a pidfd of the pool's process as ``_Fd`` (inherited under fork; the
stdlib's ``reduction.DupFd`` under spawn and forkserver, so the fd travels
with the start).  A forked worker first closes the parent's fds it
inherited.  Parent death: ``PR_SET_PDEATHSIG`` kills a worker when the
thread that started it ends (the pool's main or handler thread under fork
and spawn; the fork server, which exits with the pool's process, under
forkserver), and a worker waiting for a task or for room looks at the
parent's pidfd every 0.5 s and exits once it is readable.

The parent
----------
One handler thread polls every result channel, every worker's pidfd and a
wake-up pipe; it reads results, runs callbacks (in result order, as the
stdlib's result thread does), replaces dead or retired workers, hands
pending tasks out and enforces per-task timeouts.  A caller waiting for a
result reads results itself while it waits (the reader role, reader.py);
a reader expecting a result due within microseconds spins on the result
rings (the GIL released, no system call) before it sleeps in poll().
``apply_async`` and friends hand a task straight to an idle worker from
the calling thread when they can, without waking the handler.

Extensions (keyword-only, off by default): ``task_timeout=`` on apply/map/
imap (seconds per task or chunk, counted from when a worker takes it: the
worker running a task past it is killed and replaced, the task fails with
multiprocessing.TimeoutError),
``max_in_flight=`` on imap/imap_unordered (tasks submitted but not yet
consumed: memory stays flat on an endless iterable), ``progress=`` on map/
starmap/imap/imap_unordered (a tqdm bar when tqdm is installed, a plain
line on stderr otherwise).

Differences a stdlib program can observe only where the stdlib hangs: a
result whose worker died, or that is still pending when the pool is
terminated, raises from ``get()`` instead of blocking forever (callbacks are
not called for the terminated ones).
"""
# The stdlib module's imports are names of its namespace too: the same here.
import collections  # noqa: F401
import itertools
import operator
import os
import queue  # noqa: F401
import threading
import time  # noqa: F401
import traceback  # noqa: F401
import types  # noqa: F401
import warnings

from multiprocessing import util
from multiprocessing import pool as _stdpool
from multiprocessing.connection import wait  # noqa: F401
from multiprocessing.context import TimeoutError  # noqa: F401
from multiprocessing.pool import (  # noqa: F401  (the stdlib's names)
    ThreadPool, RemoteTraceback, ExceptionWithTraceback, MaybeEncodingError,
    rebuild_exc, mapstar, starmapstar, worker, INIT, RUN, CLOSE, TERMINATE,
    _PoolCache, _helper_reraises_exception)

from . import context as _context
from ._pool.handler import Core as _Core, WorkerLostError, terminate_core as _terminate_core
from ._pool.progress import _Progress
from ._pool.results import (
    job_counter, ApplyResult, AsyncResult, MapResult, IMapIterator,
    IMapUnorderedIterator, check_chunksize as _check_chunksize)
from ._pool.scheduler import Task as _Task
from ._pool.wire import _APPLY, _MAP, _STARMAP

__all__ = ['Pool', 'ThreadPool']

# cmp's current context, as the stdlib's pool module has its own.
get_context = _context._default_context.get_context

# cmp's classes say they are this module's (reprs, pickles by name).
for _cls in (WorkerLostError, ApplyResult, MapResult, IMapIterator,
             IMapUnorderedIterator):
    _cls.__module__ = __name__
del _cls


# --- the Pool ---------------------------------------------------------------

def _worker_context(context):
    """The context whose Process starts a cmp Pool's workers for `context`
    (None: cmp's current start method), or None when the stdlib's Pool must
    serve it.  A worker must map the parent's arena: a forked one does; a
    spawned or forkserver-started one does when cmp's context started it
    (cmp's own context for that method serves a stdlib context too)."""
    if context is None:
        context = _context._default_context.get_context()
    method = context.get_start_method()
    if method == 'fork':
        return context
    own = _context._concrete_contexts.get(method)
    if not _joins_arena(own):
        return None
    return context if isinstance(context, type(own)) else own


def _joins_arena(ctx):
    """Does a process that `ctx` starts join this process's arena?"""
    return ctx is not None and type(ctx).__module__ == _context.__name__


class Pool(object):
    """Pool(processes=None, initializer=None, initargs=(), maxtasksperchild=None, context=None, *, ray_address=None)

    A pool of worker processes, with the stdlib's API.  Workers are started
    once, by the context's start method; a worker that dies fails the task
    it was running and is replaced.
    """
    _wrap_exception = True

    @staticmethod
    def Process(ctx, *args, **kwds):
        return ctx.Process(*args, **kwds)

    def __new__(cls, processes=None, initializer=None, initargs=(),
                maxtasksperchild=None, context=None, *, ray_address=None):
        # -- Ray: the keyword or CMP_RAY_ADDRESS (cmp/raypool.py) --
        ray_address = ray_address or os.environ.get('CMP_RAY_ADDRESS')
        if ray_address:
            from .raypool import RayPool
            return RayPool(processes, initializer, initargs, maxtasksperchild,
                           ray_address=ray_address)
        # -- end of Ray --
        if _worker_context(context) is None:
            # Workers that would not share this process's arena.
            return _stdpool.Pool(processes, initializer, initargs,
                                 maxtasksperchild, context)
        return object.__new__(cls)

    def __init__(self, processes=None, initializer=None, initargs=(),
                 maxtasksperchild=None, context=None, *, ray_address=None):
        self._state = INIT
        self._ctx = _worker_context(context)
        if processes is None:
            cpus = getattr(os, 'process_cpu_count', os.cpu_count)
            processes = cpus() or 1
        if processes < 1:
            raise ValueError("Number of processes must be at least 1")
        operator.index(processes)   # the stdlib's TypeError for Pool(1.5)
        if maxtasksperchild is not None:
            if not isinstance(maxtasksperchild, int) or maxtasksperchild <= 0:
                raise ValueError("maxtasksperchild must be a positive int or None")
        if initializer is not None and not callable(initializer):
            raise TypeError('initializer must be a callable')
        # The stdlib's workers would fail initializer(*initargs) and be
        # replaced without end: say so here.
        iter(initargs)
        self._processes = processes
        self._initializer = initializer
        self._initargs = initargs
        self._maxtasksperchild = maxtasksperchild
        self._core = _Core(self._ctx, processes, initializer, initargs,
                           maxtasksperchild, self._wrap_exception)
        self._cache = self._core.cache
        self._pool = self._core.procs
        self._core.start()
        self._state = RUN
        self._terminate = util.Finalize(self, _terminate_core, args=(self._core,),
                                        exitpriority=15)

    def __del__(self, _warn=warnings.warn, RUN=RUN):
        if getattr(self, '_state', None) == RUN:
            _warn("unclosed running multiprocessing pool %r" % (self,),
                  ResourceWarning, source=self)

    def __repr__(self):
        cls = self.__class__
        return ('<%s.%s state=%s pool_size=%d>'
                % (cls.__module__, cls.__qualname__, self._state, len(self._pool)))

    def __reduce__(self):
        raise NotImplementedError(
            'pool objects cannot be passed between processes or pickled')

    def _check_running(self):
        if self._state != RUN:
            raise ValueError("Pool not running")

    def _repopulate_pool(self):
        self._core.repopulate_pool()

    # -- apply --

    def apply(self, func, args=(), kwds={}):
        """Equivalent of func(*args, **kwds)."""
        return self.apply_async(func, args, kwds).get()

    def apply_async(self, func, args=(), kwds={}, callback=None,
                    error_callback=None, *, task_timeout=None):
        """Asynchronous version of apply(); returns an ApplyResult."""
        self._check_running()
        result = ApplyResult(self, callback, error_callback)
        self._core.submit_call(result, 0, _APPLY, func, args, kwds, task_timeout)
        return result

    # -- map --

    def map(self, func, iterable, chunksize=None, *, progress=False,
            task_timeout=None):
        """Apply func to each element of iterable, collecting the results in a
        list that is returned."""
        return self._map_async(func, iterable, _MAP, chunksize, None, None,
                               progress, task_timeout).get()

    def starmap(self, func, iterable, chunksize=None, *, progress=False,
                task_timeout=None):
        """Like map(), but the elements of iterable are argument tuples."""
        return self._map_async(func, iterable, _STARMAP, chunksize, None, None,
                               progress, task_timeout).get()

    def starmap_async(self, func, iterable, chunksize=None, callback=None,
                      error_callback=None, *, progress=False, task_timeout=None):
        """Asynchronous version of starmap(); returns a MapResult."""
        return self._map_async(func, iterable, _STARMAP, chunksize, callback,
                               error_callback, progress, task_timeout)

    def map_async(self, func, iterable, chunksize=None, callback=None,
                  error_callback=None, *, progress=False, task_timeout=None):
        """Asynchronous version of map(); returns a MapResult."""
        return self._map_async(func, iterable, _MAP, chunksize, callback,
                               error_callback, progress, task_timeout)

    def _map_async(self, func, iterable, kind, chunksize, callback,
                   error_callback, progress, task_timeout):
        self._check_running()
        if not isinstance(iterable, (list, tuple, range)):
            iterable = list(iterable)
        if chunksize is None:
            chunksize, extra = divmod(len(iterable), len(self._pool) * 4 or 1)
            if extra:
                chunksize += 1
        else:
            _check_chunksize(chunksize)
        if len(iterable) == 0:
            chunksize = 0
        result = MapResult(self, chunksize, len(iterable), callback,
                           error_callback=error_callback)
        if chunksize > 0:
            if progress:
                result._progress = _Progress(len(iterable), 'map')
            if task_timeout is None:
                # One task for all its chunks, cut into spans as they are
                # sent (scheduler.py).
                tasks = [_Task(result, range(-(-len(iterable) // chunksize)),
                               (kind, func, iterable, chunksize))]
            else:
                tasks = _chunk_tasks(result, kind, func, iterable, chunksize,
                                     task_timeout)
            self._core.submit(tasks)
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
        _check_chunksize(chunksize)
        if max_in_flight is not None and max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        result = cls(self)
        if progress:
            total = len(iterable) if hasattr(iterable, '__len__') else None
            if total is not None and chunksize > 1:
                total = -(-total // chunksize)
            result._progress = _Progress(total, 'imap')
        core = self._core
        kind = _APPLY if chunksize == 1 else _MAP
        if max_in_flight is None and isinstance(iterable, (list, tuple, range)):
            tasks = _chunk_tasks(result, kind, func, iterable, chunksize,
                                 task_timeout)
            core.submit(tasks)
            result._set_length(len(tasks))
        else:
            if max_in_flight is not None:
                result._slots = threading.Semaphore(max_in_flight)
                with core.lock:
                    core.slots.append(result._slots)
            feeder = threading.Thread(
                target=_feed, args=(core, result, kind, func, iterable,
                                    chunksize, task_timeout),
                daemon=True, name='cmp-pool-feeder')
            feeder.start()
        if chunksize == 1:
            return result
        return (item for chunk in result for item in chunk)

    # -- life cycle --

    def close(self):
        """No more tasks; the workers exit once the queued ones are done."""
        util.debug('closing pool')
        if self._state == RUN:
            self._state = CLOSE
            self._core.close()

    def terminate(self):
        """Stop the workers now, finished or not."""
        util.debug('terminating pool')
        self._state = TERMINATE
        self._terminate()

    def join(self):
        """Wait for the workers to exit (after close() or terminate())."""
        util.debug('joining pool')
        if self._state == RUN:
            raise ValueError("Pool is still running")
        elif self._state not in (CLOSE, TERMINATE):
            raise ValueError("In unknown state")
        self._core.thread.join()
        for p in list(self._pool):
            p.join()

    def __enter__(self):
        self._check_running()
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        self.terminate()


def _chunks(seq, size):
    """A list, tuple or range in slices of `size`."""
    return (seq[i:i + size] for i in range(0, len(seq), size))


def _chunk_tasks(job, kind, func, seq, size, timeout):
    """A list, tuple or range as one task a chunk, pickled when sent (see
    scheduler.py)."""
    return [_Task(job, i, (kind, func, chunk), timeout)
            for i, chunk in enumerate(_chunks(seq, size))]


def _gen_chunks(it, size):
    while True:
        chunk = tuple(itertools.islice(it, size))
        if not chunk:
            return
        yield chunk


def _feed(core, result, kind, func, iterable, chunksize, task_timeout):
    """An imap feeder thread: iterate lazily, submit chunk by chunk."""
    idx = 0
    slots = result._slots
    try:
        for chunk in _gen_chunks(iter(iterable), chunksize):
            if slots is not None:
                slots.acquire()
            if core.state == TERMINATE:
                return
            core.submit_call(result, idx, kind, func, chunk, None, task_timeout)
            idx += 1
    except Exception as e:
        result._set(idx, (False, e))
        idx += 1
    result._set_length(idx)
