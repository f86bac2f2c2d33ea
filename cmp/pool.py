"""cmp's process Pool: the stdlib's ``multiprocessing.pool`` API and
semantics, with workers that cannot make the pool hang.

Shape
-----
Workers are started once, by the start method of the pool's context
(``cmp.get_context(m).Pool()``, ``Pool(context=...)``; none: cmp's current
method), from the main thread or from the pool's handler thread.  Each
worker has its own link: a task channel (parent -> worker) and a result
channel (worker -> parent), one message a pickle.  The channels are two of
cmp's shared rings (csrc/ring.h) per worker, in plain arena blocks the
parent owns and frees once the worker is dead (so a killed worker leaks
nothing); the result ring makes a pipe readable while it holds a result,
which is what the handler polls.  The parent decides which worker runs
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

One handler thread in the parent polls every result channel, every worker's
pidfd (readable when the worker is gone, whoever else holds its pipes) and a
wake-up pipe; it reads results, runs callbacks (in result order, as the
stdlib's result thread does), replaces dead or retired workers, hands
pending tasks out and enforces per-task timeouts.  ``apply_async`` and
friends hand a task straight to an idle worker from the calling thread when
they can, without waking the handler.

The worker's take-run-post loop is C (``_cmp._pool_ring_worker_loop``,
csrc/python/pool_type.c): it takes from its task ring and posts to its
result ring through ring.h directly, and calls back into Python only to
unpickle, run and pickle each task.  A reader expecting a result due within
microseconds spins on the result rings (the GIL released, no system call)
before it sleeps in poll().

``_Link`` (the parent's end) and the C loop are the only code that knows
what a channel is.

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
import collections
import functools
import itertools
import operator
import os
import pickle
import select
import signal
import struct
import sys
import threading
import time
import traceback
import types
import warnings

import multiprocessing as _mp
from multiprocessing import reduction, util
from multiprocessing import pool as _stdpool
from multiprocessing.context import TimeoutError, ProcessError
from multiprocessing.pool import (  # noqa: F401  (the stdlib's names)
    ThreadPool, RemoteTraceback, ExceptionWithTraceback, MaybeEncodingError,
    rebuild_exc, mapstar, starmapstar, worker, INIT, RUN, CLOSE, TERMINATE)

from . import _cmp
from . import context as _context

__all__ = ['Pool', 'ThreadPool']

job_counter = itertools.count()

_APPLY, _MAP, _STARMAP = 0, 1, 2
_STOP = b''                     # the task that tells a worker to exit
_COUNT = struct.Struct('<I')    # after _SPAN: how many chunks
# A result message is a pickle (it starts with b'\x80'), or one map chunk's
# packed list of plain numbers (starts with _pool_pack's b'i' or b'f'), or
# _PACKED_BATCH and then a span's pickled per-chunk results with packed lists
# as bytes.
_PACKED_BATCH = b'Q'
# A map over a list, tuple or range travels as spans: _SPAN, _COUNT (how many
# chunks), then the pickle of (func, the chunks' items as one slice, kind,
# chunksize).  The answer to a span whose chunks all succeeded is _FLAT and
# then their values, one list (packed, or a pickle); else its per-chunk
# results, [(success, value)] (a pickle, or _PACKED_BATCH).
_SPAN = b'S'
_FLAT = b'R'
_PACK = _cmp._pool_pack
_UNPACK = _cmp._pool_unpack
_RING_SLOTS = 1024              # cells of each ring: 64 KiB
_RING_SPIN = float(os.environ.get('CMP_POOL_SPIN', '200e-6'))  # see _step
_DUMPS = pickle.dumps
_LOADS = pickle.loads
_PROTO = pickle.HIGHEST_PROTOCOL
_TERM_GRACE = 2.0               # seconds between SIGTERM and SIGKILL
_PREFETCH_TARGET = 0.001        # seconds of queued work per worker
_PREFETCH_MIN, _PREFETCH_MAX = 2, 64
_HANDBACK_DELAY = 0.002         # seconds before the handler reads again
_UNTAKEN_CHECK = 0.01           # seconds: a timed task not taken yet, again
_BATCH_TARGET = 0.0005          # seconds of work per batch of map chunks
_BATCH_MAX = 256
# A parent's wait is a series of naps, each as long as the wait so far
# (from _NAP_FIRST to _NAP_MAX, the cores' policy: csrc/spin.h), between
# which the interpreter runs its signal handlers: a signal that lands just
# before a sleep begins (after the interpreter last looked) is handled at
# the end of that nap instead of when the wait ends.
_NAP_FIRST, _NAP_MAX = 0.02, 0.2


def _nap(since, deadline):
    """Seconds the next nap of a wait begun at `since` may last (never past
    `deadline`, None: none), and the time now."""
    now = time.monotonic()
    nap = min(max(now - since, _NAP_FIRST), _NAP_MAX)
    if deadline is not None and deadline - now < nap:
        nap = max(deadline - now, 0.0)
    return nap, now

# Every fd a pool holds in the parent: a worker closes all of them first.
_parent_fds = set()
_parent_fds_lock = threading.Lock()


class WorkerLostError(ProcessError):
    """A pool worker died (killed, crashed, exited) while running the task."""


def _describe_exit(name, pid, exitcode):
    if exitcode is None:
        how = 'vanished'
    elif exitcode < 0:
        try:
            how = 'was killed by signal %d (%s)' % (
                -exitcode, signal.Signals(-exitcode).name)
        except ValueError:
            how = 'was killed by signal %d' % -exitcode
    else:
        how = 'exited with code %d' % exitcode
    return 'pool worker %s (pid %d) %s while running this task' % (name, pid, how)


# --- channels ---------------------------------------------------------------

def _arena_full(*args):
    raise MemoryError("cmp's shared arena is full: a task did not fit (set "
                      "CMP_ARENA_SIZE to reserve more before importing cmp)")


def _arena_full_message(msg):
    """A small message in place of `msg`, that fails the same tasks."""
    if msg[:1] == _SPAN:
        return msg[:1 + _COUNT.size] + _DUMPS(
            (_arena_full, [None] * _COUNT.unpack_from(msg, 1)[0], _MAP, 1), _PROTO)
    return _DUMPS((_APPLY, _arena_full, (), None), _PROTO)


class _Link:
    """The parent's end of one worker's two channels (_cmp.Channel: rings
    in the arena that live while the parent or the worker holds them):
    the task channel the worker takes from, the result channel the handler
    polls through its doorbell, a pipe readable while it holds a result.
    A full task ring keeps messages in `outbuf` until a result comes back
    (the worker took some: room appeared)."""
    __slots__ = ('task_ring', 'result_ring', 'result_fd', 'worker_fd', 'outbuf',
                 'sent')

    def __init__(self):
        # The worker reaches the doorbell through its result channel.
        self.worker_fd = None
        self.task_ring = _cmp.Channel(_RING_SLOTS)
        try:
            self.result_ring = _cmp.Channel(_RING_SLOTS, doorbell=True)
            self.result_fd = self.result_ring.fileno()
        except BaseException:
            self.task_ring.close()
            raise
        self.outbuf = collections.deque()
        # The ring positions of the tasks published and not answered yet,
        # in order (the worker's fifo without what waits in outbuf).
        self.sent = collections.deque()

    def started(self):
        """The worker has started (it holds the channels itself)."""

    def _put(self, m):
        try:
            pos = self.task_ring.put(m, not m)
        except MemoryError:
            # No arena block for it: the worker fails it in its place.
            pos = self.task_ring.put(_arena_full_message(m))
        if pos is None:
            return False
        if m:
            self.sent.append(pos)
        return True

    def answered(self):
        """The worker answered its oldest task."""
        self.sent.popleft()

    def took_oldest(self):
        """(Once the worker is dead.)  Did it take the oldest task it was
        sent?  A worker killed while idle, before it took the task handed
        to it, was running nothing."""
        if not self.sent:
            return not self.outbuf
        got = self.task_ring.steal()
        return got is None or got[0] != self.sent[0]

    def took_oldest_yet(self):
        """Has the (live) worker taken the oldest task it was sent?"""
        return bool(self.sent) and self.task_ring.taken(self.sent[0])

    def steal(self):
        """Take back the oldest task the worker has not started: (its index
        in the worker's fifo, its message), or None."""
        if self.outbuf:
            return None
        got = self.task_ring.steal()
        if got is None:
            return None
        pos, msg = got
        sent = self.sent
        i = sent.index(pos)
        del sent[i]
        # The worker took every task before it: the running one and those
        # it answered, which the parent may not have read yet.
        return i, msg

    def put(self, msgs):
        """Publish messages; False when some wait in outbuf for room."""
        if self.outbuf:
            self.outbuf.extend(msgs)
            return self.flush()
        for i, m in enumerate(msgs):
            if not self._put(m):
                self.outbuf.extend(msgs[i:])
                return False
        return True

    def flush(self):
        """Publish buffered messages; True when nothing is left."""
        out = self.outbuf
        while out:
            if not self._put(out[0]):
                return False
            out.popleft()
        return True

    def take_all(self, out):
        """Append every result now in the ring to `out`."""
        self.result_ring.take_all(out)

    def fds(self):
        return (self.result_fd,)

    def close(self):
        """Let go of both channels (and the doorbell's fds) here; the
        worker, dead or alive, holds its own references."""
        self.task_ring.close()
        self.result_ring.close()


# --- the worker -------------------------------------------------------------

class _Fd:
    """A file descriptor a worker needs, as a Process argument: a forked
    worker inherits it under the same number; pickled for a spawned or
    forkserver-started one, it travels with the start (the stdlib's
    reduction.DupFd: the Popen's pass_fds, or the forkserver's SCM_RIGHTS)
    and is this process's number on the other side.  None: no fd."""
    __slots__ = ('fd',)

    def __init__(self, fd):
        self.fd = fd

    def __reduce__(self):
        if self.fd is None:
            return _Fd, (None,)
        return _rebuild_fd, (reduction.DupFd(self.fd),)


def _rebuild_fd(dup):
    fd = dup.detach()
    os.set_inheritable(fd, False)   # not for what the worker's tasks start
    return _Fd(fd)


def _gone(pidfd):
    """The process behind a pidfd has exited."""
    return bool(select.select([pidfd], [], [], 0)[0])


def _worker_main(task_ring, result_ring, wake, parent, close_fds,
                 initializer, initargs, maxtasks, wrap_exception):
    """A worker, under any start method: task_ring and result_ring are its
    _cmp.Channel objects (inherited, or rebuilt from their handles),
    `parent` (a pidfd of the pool's process) an _Fd, `wake` unused (the
    result channel reaches its doorbell itself); `close_fds` are the
    parent's fds a forked worker inherited (nothing for the others)."""
    # SIGKILL when the thread that started this process ends: the pool's
    # main or handler thread under fork and spawn, the forkserver (which
    # ends with the pool's process) under forkserver; the C loop looks at
    # the parent's pidfd whenever it waits.
    _cmp._pool_set_pdeathsig(signal.SIGKILL)
    if _gone(parent.fd):
        os._exit(1)             # the parent died before the line above
    # A forked worker inherited every channel of the pool: keep its own
    # (before close_fds, which may hold the numbers of their fds).
    _cmp._channel_keep_only((task_ring, result_ring))
    for fd in close_fds:
        try:
            os.close(fd)
        except OSError:
            pass
    if initializer is not None:
        initializer(*initargs)
    # Take a task, run it, post its result: the loop is C (channel_type.c).
    run = functools.partial(_run_message, wrap_exception=wrap_exception)
    if _cmp._pool_serve(task_ring, result_ring, parent.fd, maxtasks, run):
        os._exit(1)             # the parent is gone


def _failure(e, wrap_exception):
    if wrap_exception:
        e = ExceptionWithTraceback(e, e.__traceback__)
    return (False, e)


def _run_chunk(kind, func, chunk, wrap_exception):
    try:
        if kind == _MAP:
            return (True, list(map(func, chunk)))
        return (True, list(itertools.starmap(func, chunk)))
    except Exception as e:
        return _failure(e, wrap_exception)


def _packed(result):
    """A chunk's (success, values): the values packed into bytes when they
    are a successful list of plain numbers (see _PACKED_BATCH), else None."""
    return _PACK(result[1]) if result[0] else None


def _run_task(payload, wrap_exception):
    """One task's bytes -> (success, value), or a map chunk's values packed
    (bytes, see _packed)."""
    try:
        kind, func, args, kwds = _LOADS(payload)
        if kind == _APPLY:
            return (True, func(*args, **kwds) if kwds else func(*args))
    except Exception as e:
        return _failure(e, wrap_exception)
    result = _run_chunk(kind, func, args, wrap_exception)
    packed = _packed(result)
    return result if packed is None else packed


def _dump_result(result):
    try:
        return _DUMPS(result, _PROTO)
    except Exception as e:
        return _DUMPS((False, MaybeEncodingError(e, result[1])), _PROTO)


def _dump_results(results):
    try:
        return _DUMPS(results, _PROTO)
    except Exception:
        # Find the ones that cannot be pickled and wrap them.
        safe = []
        for r in results:
            try:
                _DUMPS(r, _PROTO)
            except Exception as e:
                r = (False, MaybeEncodingError(e, r[1]))
            safe.append(r)
        return _DUMPS(safe, _PROTO)


def _run_span(payload, wrap_exception):
    """A span's bytes -> the bytes of its answer.  Each chunk runs as
    list(map(func, chunk)) would: the first exception ends that chunk."""
    (count,) = _COUNT.unpack_from(payload, 1)
    try:
        func, items, kind, cs = _LOADS(memoryview(payload)[1 + _COUNT.size:])
    except Exception as e:
        return _dump_batch([_failure(e, wrap_exception)] * count)
    run = map if kind == _MAP else itertools.starmap
    n = len(items)
    out, failed, it = [], {}, iter(items)
    while True:
        try:
            out.extend(run(func, it))   # keeps what came before a raise
            break
        except Exception as e:
            pos = len(out)
            failed[pos // cs] = _failure(e, wrap_exception)
            rest = min(n, (pos // cs + 1) * cs) - pos - 1   # the chunk's rest
            out.extend(itertools.repeat(None, rest + 1))
            next(itertools.islice(it, rest, rest), None)
    if not failed:
        data = _PACK(out)
        if data is not None:
            return _FLAT + data
        try:
            return _FLAT + _DUMPS(out, _PROTO)
        except Exception:
            pass                # the chunks that cannot be pickled, alone
    return _dump_batch([failed.get(c) or (True, out[c * cs:(c + 1) * cs])
                        for c in range(count)])


def _dump_batch(results):
    """A span's [(success, value)], one per chunk -> bytes, packing plain
    number lists."""
    packed = False
    for i, result in enumerate(results):
        data = _packed(result)
        if data is not None:
            results[i] = (True, data)
            packed = True
    data = _dump_results(results)
    return _PACKED_BATCH + data if packed else data


def _run_message(payload, wrap_exception):
    """What the C worker loop calls for each message: run it, and return
    (the result's bytes, how many tasks it held)."""
    head = payload[:1]
    if head == _SPAN:
        return _run_span(payload, wrap_exception), _COUNT.unpack_from(payload, 1)[0]
    result = _run_task(payload, wrap_exception)
    if type(result) is bytes:
        return result, 1        # a chunk's packed list
    return _dump_result(result), 1


def _load_result(payload):
    """A result message -> (success, value), a span's _Flat values, or a
    span's list of (success, value)."""
    head = payload[:1]
    if head == b'\x80':
        return _LOADS(payload)
    if head == _FLAT:
        if payload[1:2] == b'\x80':
            return _Flat(_LOADS(memoryview(payload)[1:]))
        return _Flat(_UNPACK(payload, 1))
    if head == _PACKED_BATCH:
        # Only map chunks travel in spans: a successful chunk's value is a
        # list, so bytes there are a packed one.
        return [(True, _UNPACK(v, 0)) if s and type(v) is bytes else (s, v)
                for s, v in _LOADS(memoryview(payload)[1:])]
    return (True, _UNPACK(payload, 0))


class _Flat(object):
    """A span's answer: the values of all its chunks, in order."""
    __slots__ = ('values',)

    def __init__(self, values):
        self.values = values


# --- results ----------------------------------------------------------------

class _Latch(object):
    """A one-shot event, cheaper to make than threading.Event: a lock held
    from birth, released once when set."""
    __slots__ = ('_lock', '_flag')

    def __init__(self):
        self._lock = threading.Lock()
        self._lock.acquire()
        self._flag = False

    def is_set(self):
        return self._flag

    def set(self):
        if not self._flag:
            self._flag = True
            try:
                self._lock.release()
            except RuntimeError:
                pass            # set twice at once: released already

    def wait(self, timeout=None):
        if self._flag:
            return True
        since = time.monotonic()
        deadline = None if timeout is None else since + timeout
        while True:
            nap, now = _nap(since, deadline)
            if self._lock.acquire(True, nap):
                self._lock.release()
                return True
            if self._flag or (deadline is not None and now + nap >= deadline):
                return self._flag


class ApplyResult(object):
    """The result of apply_async: get(timeout), wait, ready, successful."""
    _batchable = False          # may the parent send several tasks at once

    def __init__(self, pool, callback, error_callback):
        self._pool = pool
        self._core = pool._core
        self._event = _Latch()
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
        if self._event.is_set():
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._core.wait_for(self._event.is_set, deadline):
            self._event.wait(None if deadline is None
                             else max(0, deadline - time.monotonic()))

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

    def _done(self):
        self._event.set()
        self._core.job_done(self._job)
        self._pool = None

    __class_getitem__ = classmethod(types.GenericAlias)


AsyncResult = ApplyResult


def _check_chunksize(chunksize):
    # A chunksize that is not an integer: the stdlib's task generator fails
    # on it in a thread and its map never returns; cmp says so at once.
    try:
        operator.index(chunksize)
    except TypeError:
        raise TypeError("chunksize must be an integer, not %s"
                        % type(chunksize).__name__) from None


class MapResult(ApplyResult):
    """The result of map_async: ready once every chunk is back."""
    _batchable = True

    def __init__(self, pool, chunksize, length, callback, error_callback):
        ApplyResult.__init__(self, pool, callback, error_callback=error_callback)
        self._service = 0.0     # seconds a chunk takes a worker (see _dispatch)
        self._success = True
        # The result list is made when the first chunk is back (page faults
        # that need not delay the first tasks).
        self._value = None if length else []
        self._length = length
        self._chunksize = chunksize
        self._progress = None
        if chunksize <= 0:
            # No chunk is sent: the stdlib's answer is a list of None.
            self._value = [None] * length
            self._number_left = 0
            self._event.set()
            self._core.job_done(self._job)
            self._pool = None
        else:
            self._number_left = length // chunksize + bool(length % chunksize)
        self._lock = threading.Lock()

    def _set(self, i, success_result):
        self._set_many((i,), (success_result,))

    def _set_flat(self, idxs, values):
        """The chunks of range idxs all succeeded: values, in order."""
        with self._lock:
            if self._success:
                if self._value is None:
                    self._value = [None] * self._length
                start = idxs.start * self._chunksize
                self._value[start:start + len(values)] = values
            self._number_left -= len(idxs)
            left = self._number_left
        self._chunks_done(len(values), left)

    def _set_many(self, idxs, objs):
        """Chunks idxs[k] came back as objs[k] = (success, result)."""
        items = 0
        with self._lock:
            cs = self._chunksize
            for i, (success, result) in zip(idxs, objs):
                if success:
                    items += len(result)
                    if self._success:
                        if self._value is None:
                            self._value = [None] * self._length
                        if cs == 1:
                            self._value[i] = result[0]
                        else:
                            self._value[i * cs:(i + 1) * cs] = result
                else:
                    items += 1
                    if self._success:
                        self._success = False
                        self._value = result
            self._number_left -= len(idxs)
            left = self._number_left
        self._chunks_done(items, left)

    def _chunks_done(self, items, left):
        if self._progress is not None:
            self._progress.update(items)
        if left == 0:
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


class IMapIterator(object):
    """The iterator imap returns: results in task order."""
    _batchable = False

    def __init__(self, pool):
        self._pool = pool
        self._core = pool._core
        # `with self._lock`, not `with self._cond`: a C lock's __enter__
        # leaves no moment between taking the lock and the with block's
        # cover in which a signal handler's exception escapes with the lock
        # held (Condition.__enter__ is a Python frame).
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
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

    def _has_item(self):
        return bool(self._items) or self._index == self._length

    def next(self, timeout=None):
        since = time.monotonic()
        deadline = None if timeout is None else since + timeout
        while True:
            with self._lock:
                if self._items:
                    success, value = self._items.popleft()
                    break
                if self._index == self._length:
                    self._pool = None
                    if self._progress is not None:
                        self._progress.close()
                    raise StopIteration from None
                if deadline is not None and deadline - time.monotonic() <= 0:
                    raise TimeoutError from None
            if not self._core.wait_for(self._has_item, deadline):
                with self._lock:
                    if not self._has_item():
                        self._cond.wait(_nap(since, deadline)[0])
        if self._slots is not None:
            self._slots.release()
        if self._progress is not None:
            self._progress.update(1)
        if success:
            return value
        raise value

    __next__ = next

    def _set(self, i, obj):
        with self._lock:
            if self._index == i:
                self._items.append(obj)
                self._index += 1
                while self._index in self._unsorted:
                    self._items.append(self._unsorted.pop(self._index))
                    self._index += 1
                self._cond.notify()
            else:
                self._unsorted[i] = obj
            finished = self._index == self._length
        if finished:
            self._finish()

    def _set_length(self, length):
        with self._lock:
            self._length = length
            finished = self._index == self._length
            if finished:
                self._cond.notify()
        if finished:
            self._finish()

    def _finish(self):
        self._core.job_done(self._job)
        self._pool = None

    def _fail_silently(self, exc):
        with self._lock:
            self._items.append((False, exc))
            self._length = self._index = -1
            self._cond.notify_all()
        self._finish()


class IMapUnorderedIterator(IMapIterator):
    """The iterator imap_unordered returns: results as they come."""

    def _set(self, i, obj):
        with self._lock:
            self._items.append(obj)
            self._index += 1
            self._cond.notify()
            finished = self._index == self._length
        if finished:
            self._finish()


class _Progress:
    """A progress bar: tqdm when installed, else a plain line on stderr."""

    def __init__(self, total, desc):
        self._lock = threading.Lock()
        self._closed = False
        try:
            from tqdm import tqdm
        except ImportError:
            self._bar = None
            self._n, self._total, self._desc = 0, total, desc
            self._last = 0.0
            self._show()
        else:
            self._bar = tqdm(total=total, desc=desc)

    def _show(self):
        total = '?' if self._total is None else self._total
        sys.stderr.write('\r%s: %d/%s' % (self._desc, self._n, total))
        sys.stderr.flush()

    def update(self, n):
        with self._lock:
            if self._closed:
                return
            if self._bar is not None:
                self._bar.update(n)
                return
            self._n += n
            now = time.monotonic()
            if now - self._last >= 0.1 or self._n == self._total:
                self._last = now
                self._show()

    def close(self):
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._bar is not None:
                self._bar.close()
            else:
                self._show()
                sys.stderr.write('\n')
                sys.stderr.flush()


# --- the parent's machinery --------------------------------------------------

class _Worker:
    __slots__ = ('proc', 'pid', 'name', 'link', 'pidfd', 'fifo', 'assigned',
                 'head_start', 'service', 'killed', 'stopping', 'hung_up')

    def cap(self, maxtasks):
        if self.service <= 0:
            n = _PREFETCH_MAX
        else:
            n = int(_PREFETCH_TARGET / self.service)
            n = min(_PREFETCH_MAX, max(_PREFETCH_MIN, n))
        if maxtasks is not None:
            n = min(n, maxtasks - self.assigned + len(self.fifo))
        return n


class _Core:
    """Everything a Pool owns, without a reference to the Pool itself (so
    that a forgotten Pool can be collected and its finalizer run)."""

    def __init__(self, ctx, processes, initializer, initargs, maxtasks,
                 wrap_exception):
        self.ctx = ctx
        self.processes = processes
        self.initializer = initializer
        self.initargs = initargs
        self.maxtasks = maxtasks
        self.wrap_exception = wrap_exception
        self.lock = threading.Lock()
        self.workers = []
        self.procs = []         # Pool._pool: the workers' Process objects
        self.pending = collections.deque()   # (job, idx, payload, timeout)
        self.cache = {}
        self.state = RUN
        self.slots = []         # imap feeders' semaphores (released at terminate)
        self.repopulate = None  # an Event when _repopulate_pool waits
        self.started = threading.Event()    # the first workers are forked
        self.spawn_error = None
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        # A pidfd of this process, for the workers (see _worker_main).
        self.self_pidfd = os.pidfd_open(os.getpid())
        with _parent_fds_lock:
            _parent_fds.update((self.wake_r, self.wake_w, self.self_pidfd))
        self.handler_cond = threading.Condition(self.lock)
        self.reader = threading.RLock()     # held by the thread polling
        self.reader_owner = None
        self.getters = set()    # threads waiting for a result
        self.poll = select.poll()
        self.registered = {}
        self.fdmap = {}
        self.poll_gen = 1       # bumped when the polled set changes
        self.polled_gen = 0
        self.done = collections.deque()     # results read, to deliver
        self.timed = 0          # tasks sent with a task_timeout
        self.thread = threading.Thread(target=self._run, daemon=True,
                                       name='cmp-pool-handler')

    # -- called from any thread, with self.lock held --

    def _wake(self):
        if self.wake_w is not None:
            try:
                os.write(self.wake_w, b'\0')
            except (BlockingIOError, OSError):
                pass

    def _assign(self, w, job, idx, payload, timeout):
        if not w.fifo:
            w.head_start = time.monotonic()
        w.fifo.append((job, idx, timeout, payload))
        w.assigned += 1
        if timeout is not None:
            self.timed += 1
        return payload

    def submit_locked(self, job, idx, payload, timeout):
        """Hand one pickled task to an idle worker, or queue it."""
        if not self.pending:
            maxtasks = self.maxtasks
            best = None
            for w in self.workers:
                if (not w.stopping and not w.link.outbuf
                        and len(w.fifo) < w.cap(maxtasks)
                        and (best is None or len(w.fifo) < len(best.fifo))):
                    best = w
            if best is not None:
                # A full task ring keeps it in outbuf until the worker's
                # next result (see _Link): nothing to wake for.
                best.link.put([self._assign(best, job, idx, payload, timeout)])
                if timeout is not None:
                    self._wake()        # to time it
                return
        self.pending.append((job, idx, payload, timeout))
        self._kick()

    def _kick(self):
        # Wake the handler only when it would not wake anyway: a result to
        # come triggers the next dispatch (and flushes a full task ring's
        # outbuf).
        busy = False
        for w in self.workers:
            if w.link.outbuf:
                break
            busy = busy or bool(w.fifo)
        else:
            if busy:
                return
        self._wake()

    def job_done(self, job):
        self.cache.pop(job, None)
        if self.state != RUN and not self.cache:
            with self.lock:
                self._wake()

    # -- submission (caller threads) --

    def submit(self, job, idx, kind, func, args, kwds, timeout):
        try:
            payload = _DUMPS((kind, func, args, kwds), _PROTO)
        except Exception as e:
            job._set(idx, (False, e))
            return
        with self.lock:
            if self.state == TERMINATE:
                return
            self.submit_locked(job, idx, payload, timeout)

    def submit_many(self, job, kind, func, chunks, timeout):
        """Queue map chunks; they are pickled when they are sent, several
        to a message when the tasks are short (see _dispatch)."""
        items = [(job, idx, (kind, func, chunk), timeout)
                 for idx, chunk in enumerate(chunks)]
        with self.lock:
            if self.state == TERMINATE:
                return
            self.pending.extend(items)
            self._dispatch()
            if timeout is not None:
                self._wake()
            else:
                self._kick()

    def submit_span(self, job, kind, func, seq, chunksize):
        """Queue a map over a list, tuple or range: one entry for all its
        chunks (a range of chunk numbers), cut into spans as they are sent
        (see _dispatch)."""
        chunks = range(-(-len(seq) // chunksize))
        with self.lock:
            if self.state == TERMINATE:
                return
            self.pending.append((job, chunks, (kind, func, seq, chunksize), None))
            self._dispatch()
            self._kick()

    def _send_span(self, w, job, chunks, data):
        """The message for the chunks (a range) of a map entry, assigned to
        w; None when it cannot be pickled (then the chunks are queued one
        by one, so that the one that fails, fails alone)."""
        kind, func, seq, cs = data
        try:
            payload = _DUMPS((func, seq[chunks.start * cs:chunks.stop * cs], kind, cs),
                             _PROTO)
        except Exception:
            self.pending.extendleft(reversed(
                [(job, i, (kind, func, seq[i * cs:(i + 1) * cs]), None) for i in chunks]))
            return None
        if not w.fifo:
            w.head_start = time.monotonic()
        w.fifo.append((job, chunks, None, data))
        w.assigned += len(chunks)
        return _SPAN + _COUNT.pack(len(chunks)) + payload

    # -- the handler thread --

    def _spawn(self):
        link = _Link()
        close_fds = ()
        if self.ctx.get_start_method() == 'fork':
            # A spawned worker, or a forkserver's, has only the fds passed.
            with _parent_fds_lock:
                close_fds = tuple((_parent_fds - {self.self_pidfd})
                                  | {link.result_fd})
        proc = self.ctx.Process(
            target=_worker_main,
            args=(link.task_ring, link.result_ring, _Fd(link.worker_fd),
                  _Fd(self.self_pidfd), close_fds, self.initializer,
                  self.initargs, self.maxtasks, self.wrap_exception))
        proc.name = proc.name.replace('Process', 'PoolWorker')
        proc.daemon = True
        try:
            proc.start()
        except BaseException:
            link.close()        # no worker uses the rings
            raise
        link.started()
        w = _Worker()
        w.proc, w.pid, w.name = proc, proc.pid, proc.name
        w.link = link
        w.pidfd = os.pidfd_open(proc.pid)
        w.fifo = collections.deque()
        w.assigned = 0
        w.head_start = 0.0
        w.service = 0.0
        w.killed = None
        w.stopping = False
        w.hung_up = False
        with _parent_fds_lock:
            _parent_fds.update(w.link.fds() + (w.pidfd,))
        self.workers.append(w)
        self.procs.append(proc)
        self.poll_gen += 1
        self._wake()

    def _spawn_missing(self):
        while len(self.workers) < self.processes:
            self._spawn()

    def _forget(self, w):
        self.poll_gen += 1
        self.workers.remove(w)
        try:
            self.procs.remove(w.proc)
        except ValueError:
            pass
        fds = w.link.fds() + (w.pidfd,)
        with _parent_fds_lock:
            _parent_fds.difference_update(fds)
        w.link.close()
        os.close(w.pidfd)

    def _steal(self):
        """With nothing pending, an idle worker takes over a task another
        worker queued but has not started (the end of a map: one worker
        idle while the other still has a chunk to go after its current)."""
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
            if victim is None:
                return
            got = victim.link.steal()
            if got is None:
                return
            i, msg = got
            entry = victim.fifo[i]
            del victim.fifo[i]
            n = 1 if type(entry[1]) is int else len(entry[1])
            victim.assigned -= n
            thief.assigned += n
            thief.head_start = time.monotonic()
            thief.fifo.append(entry)
            thief.link.put([msg])

    def _dispatch(self):
        pending = self.pending
        if not pending:
            if self.workers:
                self._steal()
            return
        maxtasks = self.maxtasks
        frames = {}
        while pending:
            job, idx, data, timeout = pending[0]
            # A map's chunks: what this map's own chunks took so far says
            # how many to send at once and how many to queue per worker
            # (another job's tasks say nothing); until one is back, one
            # chunk a message and one queued behind the running one per
            # worker, so that every worker gets a share.
            svc = job._service if job._batchable else -1.0
            best = None
            for w in self.workers:
                if w.stopping:
                    continue
                if svc < 0:
                    cap = w.cap(maxtasks)
                else:
                    cap = 2 if svc == 0 else min(_PREFETCH_MAX, max(
                        _PREFETCH_MIN, int(_PREFETCH_TARGET / svc)))
                    if maxtasks is not None:
                        cap = min(cap, maxtasks - w.assigned + len(w.fifo))
                if (len(w.fifo) < cap
                        and (best is None or len(w.fifo) < len(best.fifo))):
                    best = w
            if best is None:
                break
            if type(idx) is range:
                k = 1
                if svc > 0:
                    k = min(_BATCH_MAX, int(_BATCH_TARGET / svc)) or 1
                if maxtasks is not None:
                    k = min(k, maxtasks - best.assigned)
                if len(idx) > k:
                    pending[0] = (job, idx[k:], data, None)
                else:
                    pending.popleft()
                frame = self._send_span(best, job, idx[:k], data)
                if frame is not None:
                    frames.setdefault(best, []).append(frame)
                continue
            pending.popleft()
            if not isinstance(data, bytes):
                try:
                    data = _DUMPS((data[0], data[1], data[2], None), _PROTO)
                except Exception as e:
                    self.done.append((job, idx, None, (False, e)))
                    self._wake()
                    continue
            frames.setdefault(best, []).append(
                self._assign(best, job, idx, data, timeout))
        for w, fs in frames.items():
            w.link.put(fs)
        if not pending:
            self._steal()

    def _reap(self, w, done):
        """w is gone: collect its last results, fail its running task (the
        oldest unanswered one, if it took it)."""
        try:
            results = []
            w.link.take_all(results)
            self._take_results(w, results, done, time.monotonic())
            w.proc.join()
        except BaseException:
            self._forget(w)
            raise
        self.timed -= sum(1 for e in w.fifo if e[2] is not None)
        if w.fifo and (w.killed is not None or w.link.took_oldest()):
            job, idx, _, _ = w.fifo.popleft()
            exc = w.killed or WorkerLostError(
                _describe_exit(w.name, w.pid, w.proc.exitcode))
            done.append((job, idx, None, (False, exc)))
        # The rest were never started: another worker runs them.
        self.pending.extendleft(reversed([(j, i, p, t) for j, i, t, p in w.fifo]))
        w.fifo.clear()
        self._forget(w)

    def _take_results(self, w, results, done, now):
        for payload in results:
            job, idx, timeout, _ = w.fifo.popleft()
            w.link.answered()
            if timeout is not None:
                self.timed -= 1
            done.append((job, idx, payload, None))
            sample = now - w.head_start
            if type(idx) is not int and len(idx):
                sample /= len(idx)
            w.service = sample if w.service <= 0 else 0.8 * w.service + 0.2 * sample
            if job._batchable:
                job._service = (sample if job._service <= 0
                                else 0.8 * job._service + 0.2 * sample)
            w.head_start = now

    def _run(self):
        try:
            if not self.started.is_set():
                self._fork_first()
            if self.spawn_error is None:
                self._loop()
        finally:
            self._shutdown()

    def _fork_first(self):
        try:
            with self.lock:
                self._spawn_missing()
        except BaseException as e:
            self.spawn_error = e
        self.started.set()

    def _loop(self):
        """The handler: the reader whenever no caller waits for a result."""
        while True:
            with self.lock:
                while True:
                    if self.state == TERMINATE:
                        return
                    if self.repopulate is not None:
                        try:
                            self._spawn_missing()
                        finally:
                            self.repopulate.set()
                            self.repopulate = None
                    if self.state == RUN or self.pending:
                        self._spawn_missing()
                        self._dispatch()
                    if not self.getters:
                        break
                    # A caller reads; look again a little later rather than
                    # be woken each time the last caller leaves.
                    self.handler_cond.wait(_HANDBACK_DELAY)
            if not self.reader.acquire(blocking=False):
                continue        # a caller took over between the two lines
            self.reader_owner = threading.get_ident()
            try:
                if self._step(None, True):
                    return
            finally:
                self.reader_owner = None
                self.reader.release()

    def _step(self, limit, handler):
        """Housekeeping, one poll, and what came of it; the caller holds the
        reader role.  `limit`: seconds at most, or None.  True when the
        handler's work is over (everything closed)."""
        done = self.done
        if done:
            self._deliver(done)     # left over by an interrupted reader
        with self.lock:
            if self.state == TERMINATE:
                return True
            if handler and self.getters:
                return False    # hand the reader role over
            if len(self.workers) < self.processes and (
                    self.state == RUN or self.pending):
                if handler:
                    self._spawn_missing()
                else:
                    self.handler_cond.notify()
            self._dispatch()
            if self._stop_idle_workers() and not self.workers and handler:
                return True
            timeout = self._check_timeouts() if self.timed else None
            if limit is not None:
                ms = max(0, int(limit * 1000 + 0.999))
                timeout = ms if timeout is None else min(ms, timeout)
            if self.poll_gen != self.polled_gen:
                self._sync_poll()
            fdmap = self.fdmap
            # Spin first on the result rings of the workers whose result is
            # due within the spin (busy with tasks that take less); C
            # yields the CPU instead when they all last ran on ours.
            spin = tuple(
                w.link.result_ring for w in self.workers
                if w.fifo and 0 < w.service <= _RING_SPIN) if timeout != 0 else None
        if spin and _cmp._pool_spin(spin, _RING_SPIN):
            timeout = 0
        try:
            events = self.poll.poll(timeout)
        except InterruptedError:
            return False
        if not events:
            return False
        with self.lock:
            if self.state == TERMINATE:
                return True     # the workers die of it: nothing to report
            now = time.monotonic()
            dead = []
            for fd, ev in events:
                if fd == self.wake_r:
                    try:
                        while os.read(fd, 4096):
                            pass
                    except BlockingIOError:
                        pass
                    continue
                w, what = fdmap[fd]
                if what == 0:
                    results = []
                    try:
                        w.link.take_all(results)
                    finally:
                        # Results taken out of the ring are never dropped,
                        # also when a signal handler raises in between.
                        self._take_results(w, results, done, now)
                    if ev & select.POLLHUP:
                        # The worker is exiting: its pidfd says when it is
                        # gone (a hung-up pipe would poll ready until then).
                        w.hung_up = True
                        self.poll_gen += 1
                    if w.link.outbuf:
                        w.link.flush()  # room may have appeared
                else:
                    dead.append(w)
            for w in dead:
                self._reap(w, done)
            self._dispatch()
        self._deliver(done)
        return False

    def _stop_idle_workers(self):
        """Closed with nothing left to do: tell each idle worker to exit
        (with self.lock held).  True when closed and done."""
        if self.state != CLOSE or self.pending or self.cache:
            return False
        for w in self.workers:
            if not w.stopping and not w.fifo:
                w.stopping = True
                w.link.put([_STOP])
        return True

    def _sync_poll(self):
        """Register what the reader polls (with self.lock held)."""
        want = {self.wake_r: select.POLLIN}
        fdmap = {}
        for w in self.workers:
            if not w.hung_up:
                want[w.link.result_fd] = select.POLLIN
                fdmap[w.link.result_fd] = (w, 0)
            want[w.pidfd] = select.POLLIN
            fdmap[w.pidfd] = (w, 1)
        registered = self.registered
        for fd in [fd for fd in registered if fd not in want]:
            self.poll.unregister(fd)
            del registered[fd]
        for fd, mask in want.items():
            if registered.get(fd) != mask:
                self.poll.register(fd, mask)
                registered[fd] = mask
        self.fdmap = fdmap
        self.polled_gen = self.poll_gen

    def wait_for(self, ready, deadline):
        """A caller waits for `ready()` to turn true: it reads results itself
        (one thread wake-up fewer per result) unless another thread already
        does.  False when the caller should wait on its own event instead.

        Ctrl-C may interrupt this anywhere: the reader role is released if
        this thread holds it, and `getters` is a set, so leaving it twice or
        without having entered it is harmless."""
        me = threading.get_ident()
        if self.reader_owner == me:
            return False        # a callback waiting: the stdlib would block too
        reader = self.reader
        since = time.monotonic()
        try:
            with self.lock:
                if self.state == TERMINATE:
                    return False
                self.getters.add(me)
            if not reader.acquire(blocking=False):
                with self.lock:
                    self._wake()
                while not reader.acquire(timeout=_nap(since, deadline)[0]):
                    if ready() or self.state == TERMINATE or (
                            deadline is not None and time.monotonic() >= deadline):
                        return False
            self.reader_owner = me
            while not ready():
                if self.state == TERMINATE:
                    return False
                nap, now = _nap(since, deadline)
                if deadline is not None and now >= deadline:
                    return False
                self._step(nap, False)
            return True
        finally:
            if reader._is_owned():
                self.reader_owner = None
                reader.release()
            with self.lock:
                self.getters.discard(me)

    def _check_timeouts(self):
        """Kill workers whose running task is late; ms until the next check."""
        nearest = None
        now = time.monotonic()
        for w in self.workers:
            if not w.fifo or w.killed is not None:
                continue
            timeout = w.fifo[0][2]
            if timeout is None:
                continue
            if not w.link.took_oldest_yet():
                # Still starting (a spawned worker imports for a while, an
                # initializer runs): the clock starts when it takes the task.
                w.head_start = now
                left = min(timeout, _UNTAKEN_CHECK)
                if nearest is None or left < nearest:
                    nearest = left
                continue
            left = w.head_start + timeout - now
            if left <= 0:
                w.killed = TimeoutError(
                    'task exceeded its task_timeout of %gs; pool worker %s '
                    '(pid %d) was killed' % (timeout, w.name, w.pid))
                try:
                    os.kill(w.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            elif nearest is None or left < nearest:
                nearest = left
        return None if nearest is None else max(1, int(nearest * 1000) + 1)

    def _deliver(self, done):
        # Popped one by one: a Ctrl-C in a callback leaves the rest queued.
        while done:
            try:
                job, idx, payload, obj = done.popleft()
            except IndexError:
                return
            if obj is None:
                try:
                    obj = _load_result(payload)
                except Exception as e:
                    obj = (False, e)
                    if type(idx) is not int:
                        obj = [obj] * len(idx)
            elif type(idx) is not int:
                obj = [obj] * len(idx)
            payload = None
            if type(idx) is not int:
                try:
                    if type(obj) is _Flat:
                        job._set_flat(idx, obj.values)
                    else:
                        job._set_many(idx, obj)     # only MapResult is batched
                except Exception:
                    self._report_callback_error()
            else:
                try:
                    job._set(idx, obj)
                except Exception:
                    self._report_callback_error()
            job = obj = None

    @staticmethod
    def _report_callback_error():
        try:
            sys.stderr.write('Exception in a cmp.pool callback:\n')
            traceback.print_exc()
        except Exception:
            pass

    def _shutdown(self):
        """Terminate or finish: no worker left, every fd closed."""
        # A caller reading sees TERMINATE and leaves; never wait forever.
        owned = self.reader.acquire(timeout=_TERM_GRACE)
        with self.lock:
            workers = list(self.workers)
        if workers:
            for w in workers:
                try:
                    os.kill(w.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + _TERM_GRACE
        killed = False
        while workers:
            left = deadline - time.monotonic()
            if left <= 0 and not killed:
                for w in workers:
                    try:
                        os.kill(w.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                killed = True
            r, _, _ = select.select([w.pidfd for w in workers], [], [],
                                    None if killed else max(left, 0))
            for w in [w for w in workers if w.pidfd in r]:
                workers.remove(w)
                w.proc.join()
                with self.lock:
                    self._forget(w)
        with self.lock:
            self.state = TERMINATE
            self.pending.clear()
            for sem in self.slots:
                sem.release(1 << 20)
            results = list(self.cache.values())
            with _parent_fds_lock:
                _parent_fds.difference_update(
                    (self.wake_r, self.wake_w, self.self_pidfd))
            os.close(self.wake_r)
            os.close(self.wake_w)
            os.close(self.self_pidfd)
            self.wake_r = self.wake_w = self.self_pidfd = None
            self.poll = None
        if owned:
            self.reader.release()
        exc = RuntimeError('the pool was terminated before this task completed')
        for r in results:
            r._fail_silently(exc)

    # -- control, from the Pool --

    def start(self):
        """Fork the first workers and start the handler.

        A worker's PR_SET_PDEATHSIG fires when the thread that forked it
        ends.  The main thread lasts as long as the process: called from
        it, the workers are forked here, before the handler thread exists
        (no fork with a second thread alive, no hand-over to wait for).
        From any other thread, which may end before the pool, the handler
        forks them."""
        if threading.current_thread() is threading.main_thread():
            self._fork_first()
        self.thread.start()
        self.started.wait()
        if self.spawn_error is not None:
            self.thread.join()
            raise self.spawn_error

    def close(self):
        with self.lock:
            if self.state == RUN:
                self.state = CLOSE
                # A bounded imap's feeder must finish even if nobody
                # consumes: close() waits for every queued task, as the
                # stdlib's does.
                for sem in self.slots:
                    sem.release(1 << 20)
                # Idle workers start exiting now, not when the handler
                # wakes up to tell them.
                self._stop_idle_workers()
                self._wake()
                self.handler_cond.notify()

    def terminate(self):
        with self.lock:
            if self.state != TERMINATE:
                self.state = TERMINATE
                for w in self.workers:
                    try:
                        os.kill(w.pid, signal.SIGTERM)
                    except ProcessLookupError:
                        pass
                for sem in self.slots:
                    sem.release(1 << 20)
                self._wake()
                self.handler_cond.notify()
        if threading.current_thread() is not self.thread and self.thread.ident:
            self.thread.join()

    def repopulate_pool(self):
        if threading.current_thread() is self.thread:
            self._spawn_missing()
            return
        ev = threading.Event()
        with self.lock:
            if self.state == TERMINATE:
                return
            self.repopulate = ev
            self._wake()
            self.handler_cond.notify()
        ev.wait()


def _terminate_core(core):
    core.terminate()        # (util.Finalize skips it in a forked child)


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
        self._core.submit(result, 0, _APPLY, func, args, kwds, task_timeout)
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
                self._core.submit_span(result, kind, func, iterable, chunksize)
            else:
                self._core.submit_many(result, kind, func,
                                       _chunks(iterable, chunksize), task_timeout)
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
            chunks = list(_chunks(iterable, chunksize))
            core.submit_many(result, kind, func, chunks, task_timeout)
            result._set_length(len(chunks))
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
            core.submit(result, idx, kind, func, chunk, None, task_timeout)
            idx += 1
    except Exception as e:
        result._set(idx, (False, e))
        idx += 1
    result._set_length(idx)
