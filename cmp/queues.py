"""cmp's queues: the stdlib's Queue, SimpleQueue and JoinableQueue on a
lock-free ring in the shared arena (csrc/ring.c).

Queue, JoinableQueue and SimpleQueue are C types (_cmp.Queue, ...) with
the Python policy below attached (cmp._core.c_class); the contract between
the two layers is _cmp.Queue's docstring.  put and get are C methods: they pickle (the stdlib's ForkingPickler, or
plain pickle for builtin scalars, which its reducers cannot touch), copy the
bytes into the ring and publish them, with no lock and no system call while
the ring is neither empty nor full.  An unbounded Queue never blocks in
put: when the ring is full the pickled bytes go to a feeder thread, as the
stdlib's always do, and close(), join_thread() and cancel_join_thread()
govern that thread exactly as in the stdlib.

Differences a program can see, all additive:
  - an object that cannot be pickled raises in put() (the stdlib's feeder
    thread prints the error and drops the object later); a subclass that
    overrides _on_queue_feeder_error gets the stdlib's call instead;
  - queues may be pickled to any process of the same process tree (a Pool
    worker, through another queue), not only passed at process creation;
  - put_many(items) and get_many(max_items=None, timeout=None) batch.
"""
import collections
import operator
import os
import threading
import types
import weakref

from multiprocessing.reduction import ForkingPickler as _ForkingPickler
from multiprocessing.synchronize import SEM_VALUE_MAX as _SEM_VALUE_MAX
from multiprocessing.util import debug, info, Finalize, register_after_fork, is_exiting
from queue import Empty, Full  # noqa: F401  (the stdlib module's names)

from . import _cmp
from . import _outofband
from ._core import c_class
from ._reduce import reduce_shared

__all__ = ['Queue', 'SimpleQueue', 'JoinableQueue']

_sentinel = object()

# Messages that are not plain scalars: pickled with their large buffers out
# of band, in the arena (cmp/_outofband.py).
_cmp._set_queue_dumps(_outofband.dumps)

# Every Queue of this process, so that a child made by a bare os.fork()
# (which runs none of multiprocessing's after-fork hooks) starts each one
# with an empty feeder buffer and no feeder thread: the buffered items
# belong to the parent, whose feeder still sends them.
_queues = weakref.WeakSet()


def _reset_after_fork():
    for q in list(_queues):
        q._reset()


os.register_at_fork(after_in_child=_reset_after_fork)


class _End(object):
    """What stdlib code finds in q._reader and q._writer: selectable (its
    fileno() is a pipe readable while the queue holds an item, written only
    once someone asked for the fd), closable per process."""

    def __init__(self, queue):
        self._queue = weakref.ref(queue)
        self._closed = False

    def _q(self):
        q = self._queue()
        if q is None or self._closed:
            raise OSError("handle is closed")
        return q

    @property
    def closed(self):
        return self._closed or self._queue() is None

    def fileno(self):
        return self._q()._fileno()

    def close(self):
        self._closed = True


class _Reader(_End):
    """q._reader: multiprocessing.connection.wait() accepts it; recv()
    takes the next item."""

    readable = True
    writable = False

    def poll(self, timeout=0.0):
        return self._q()._poll(timeout)

    def recv_bytes(self, maxlength=None):
        data = self._q()._get_bytes()
        if maxlength is not None and len(data) > maxlength:
            raise OSError("bad message length")
        return data

    def recv(self):
        return _ForkingPickler.loads(self.recv_bytes())


class _Writer(_End):
    """q._writer: send() puts into the queue."""

    readable = False
    writable = True

    def send(self, obj):
        self._q()._put(obj)


class _Locks(object):
    """_rlock and _wlock, which stdlib code (the Pool's shutdown) takes:
    cmp Locks made on first use (put and get never need them)."""

    __slots__ = ()

    @property
    def _rlock(self):
        lock = self.__dict__.get('_rlock_obj')
        if lock is None:
            from .synchronize import Lock
            lock = self.__dict__['_rlock_obj'] = Lock(ctx=None)
        return lock

    @property
    def _wlock(self):
        lock = self.__dict__.get('_wlock_obj')
        if lock is None:
            from .synchronize import Lock
            lock = self.__dict__['_wlock_obj'] = Lock(ctx=None)
        return lock


class _Feeder(object):
    """A Queue's feeder in this process (the contract: _cmp.Queue's
    docstring): its buffer, the hook for what cannot be pickled, and the
    call that hands a record over when the ring is full."""

    __slots__ = ('buffer', 'on_error', '_queue')

    def __init__(self, queue, buffer):
        self.buffer = buffer
        hook = type(queue)._on_queue_feeder_error
        # put raises, unless a subclass overrides the stdlib's hook.
        self.on_error = None if hook is Queue._on_queue_feeder_error else hook
        self._queue = weakref.ref(queue)

    def __call__(self, item):
        # The ring is full and the queue is unbounded: the feeder thread
        # pushes the buffered (bytes, tag) items, in this process's order,
        # as room appears (put also pushes them when it finds room).
        q = self._queue()
        with q._notempty:
            if q._thread is None:
                q._start_thread()
            self.buffer.append(item)
            q._notempty.notify()


@c_class(_cmp.Queue)
class Queue(_Locks):
    """Queue(maxsize=0, *, ctx): the stdlib's multiprocessing Queue.

    The class attribute _ring_slots sizes the ring in 64-byte cells (0: the
    default, 8192); a subclass may change it."""

    _flags = _cmp.QUEUE_SPILL

    _ring_slots = 0

    def __init__(self, maxsize=0, *, ctx):
        if maxsize <= 0:
            maxsize = 0     # unbounded (the stdlib's bound: SEM_VALUE_MAX)
        else:
            # the stdlib's answers: its semaphore takes a C int
            maxsize = operator.index(maxsize)
            if maxsize > _SEM_VALUE_MAX:
                raise OverflowError("Python int too large to convert to C int")
        self._c_init(maxsize, self._ring_slots)
        self._ignore_epipe = False
        self._reset()
        _queues.add(self)
        register_after_fork(self, Queue._after_fork)

    def __reduce__(self):
        return reduce_shared(self, self.__getstate__())

    def __getstate__(self):
        return (self._ignore_epipe,)

    def __setstate__(self, state):
        self._ignore_epipe, = state
        self._reset()
        _queues.add(self)
        register_after_fork(self, Queue._after_fork)

    def _after_fork(self):
        debug('Queue._after_fork()')
        self._reset()

    def _reset(self):
        self._notempty = threading.Condition(threading.Lock())
        self._buffer = collections.deque()
        if self._maxsize >= 0x7fffffff:
            # Unbounded: a full ring spills into _buffer, never blocks.
            self._configure(self._flags, _Feeder(self, self._buffer))
        else:
            self._configure(self._flags & ~_cmp.QUEUE_SPILL, _Feeder(self, None))
        self._thread = None
        self._jointhread = None
        self._joincancelled = False
        self._set_closed(False)
        self._close = None
        self._reader = _Reader(self)
        self._writer = _Writer(self)

    def put_nowait(self, obj):
        """put_nowait(obj): put(obj, False)."""
        return self.put(obj, False)

    def put_many(self, items, block=True, timeout=None):
        """put_many(items, block=True, timeout=None): put each item in order."""
        put = self.put
        for obj in items:
            put(obj, block, timeout)

    def close(self):
        """close(): no more data from this process; the feeder flushes."""
        self._set_closed(True)
        close = self._close
        if close:
            self._close = None
            close()

    def join_thread(self):
        """join_thread(): wait for the feeder thread (after close())."""
        debug('Queue.join_thread()')
        assert self._closed, "Queue {0!r} not closed".format(self)
        if self._jointhread:
            self._jointhread()

    def cancel_join_thread(self):
        """cancel_join_thread(): do not wait for the feeder at exit."""
        debug('Queue.cancel_join_thread()')
        self._joincancelled = True
        try:
            self._jointhread.cancel()
        except AttributeError:
            pass

    def _terminate_broken(self):
        # Close a queue on error (concurrent.futures, 3.12+): nobody reads
        # any more, so the feeder's buffer is dropped rather than waited on.
        self._reader.close()
        self.cancel_join_thread()
        self.close()
        self.join_thread()

    def _start_thread(self):
        debug('Queue._start_thread()')
        # The feeder holds its own wrapper of the ring, never this object,
        # so that dropping the queue still tells the feeder to finish.
        ring = _cmp.Queue._rebuild(self._handle())
        ring._configure(0)
        self._thread = threading.Thread(
            target=Queue._feed,
            args=(self._buffer, self._notempty, ring),
            name='QueueFeederThread', daemon=True)
        self._thread.start()
        if not self._joincancelled:
            self._jointhread = Finalize(
                self._thread, Queue._finalize_join,
                [weakref.ref(self._thread)], exitpriority=-5)
        self._close = Finalize(
            self, Queue._finalize_close, [self._buffer, self._notempty],
            exitpriority=10)

    @staticmethod
    def _finalize_join(twr):
        debug('joining queue thread')
        thread = twr()
        if thread is not None:
            thread.join()
            debug('... queue thread joined')
        else:
            debug('... queue thread already dead')

    @staticmethod
    def _finalize_close(buffer, notempty):
        debug('telling queue thread to quit')
        with notempty:
            buffer.append(_sentinel)
            notempty.notify()

    @staticmethod
    def _feed(buffer, notempty, ring):
        debug('starting thread to feed data to the ring')
        while True:
            with notempty:
                while not buffer:
                    notempty.wait()
                if buffer[0] is _sentinel:
                    buffer.popleft()
                    debug('feeder thread got sentinel -- exiting')
                    return
            try:
                ring._drain(buffer)
            except Exception as e:
                if is_exiting():
                    info('error in queue thread: %s', e)
                    return
                raise

    @staticmethod
    def _on_queue_feeder_error(e, obj):
        """Private API hook called when an object cannot be pickled; a
        subclass that overrides it gets the call instead of the exception
        (the stdlib calls it from the feeder thread)."""
        import traceback
        traceback.print_exc()

    __class_getitem__ = classmethod(types.GenericAlias)


@c_class(_cmp.JoinableQueue)
class JoinableQueue:
    """JoinableQueue(maxsize=0, *, ctx): Queue with task_done() and join().
    (A Queue: the rest of its policy is Queue's.)"""

    _flags = _cmp.QUEUE_SPILL | _cmp.QUEUE_JOINABLE

    def task_done(self):
        """task_done(): one fewer unfinished task; ValueError at zero."""
        self._task_done()

    def join(self):
        """join(): wait until every item put was marked done."""
        self._join()


@c_class(_cmp.SimpleQueue)
class SimpleQueue(_Locks):
    """SimpleQueue(*, ctx): the stdlib's simplified queue."""

    def __init__(self, *, ctx):
        self._c_init(0)
        self._configure(_cmp.QUEUE_SIMPLE)
        self._reset()

    def _reset(self):
        self._reader = _Reader(self)
        self._writer = _Writer(self)

    def __reduce__(self):
        return reduce_shared(self, (_cmp.QUEUE_SIMPLE,))

    def __setstate__(self, state):
        self._configure(_cmp.QUEUE_SIMPLE)
        self._reset()

    def close(self):
        """close(): close this process's handles; put and get raise OSError."""
        self._set_closed(True, True)
        self._reader.close()
        self._writer.close()

    def get(self):
        """get(): remove and return an item, waiting for one."""
        return self._get()

    def put(self, obj):
        """put(obj): put obj into the queue."""
        return self._put(obj)

    def put_many(self, items):
        """put_many(items): put each item in order."""
        put = self._put
        for obj in items:
            put(obj)

    __class_getitem__ = classmethod(types.GenericAlias)
