"""The pool's result objects: ApplyResult, MapResult, IMapIterator and
IMapUnorderedIterator, with the stdlib's API.

A result is handed its task's outcome by the thread holding the reader
role (handler.py), which takes the next outcome off the queue of results
read only once the result has taken it: a signal handler that raises in
between (in a caller that reads, see reader.py) leaves the outcome queued,
and the next reader hands it over again.  (What a user's callback raises
is printed and goes no further: ``_call_back``.)  So taking an outcome is
repeatable: a result that already has it ignores it (a callback may then
run twice, when the interruption came after it began; an outcome is never
lost).

A waiting caller first offers to read results itself (``core.wait_for``,
the reader-role hand-off of reader.py) and otherwise waits on its own
latch or condition.
"""
import collections
import itertools
import operator
import sys
import threading
import time
import traceback
import types

from multiprocessing.context import TimeoutError

job_counter = itertools.count()

# A parent's wait is a series of naps, each as long as the wait so far
# (from _NAP_FIRST to _NAP_MAX, the cores' policy: csrc/spin.h), between
# which the interpreter runs its signal handlers: a signal that lands just
# before a sleep begins (after the interpreter last looked) is handled at
# the end of that nap instead of when the wait ends.
_NAP_FIRST, _NAP_MAX = 0.02, 0.2


def nap(since, deadline):
    """Seconds the next nap of a wait begun at `since` may last (never past
    `deadline`, None: none), and the time now."""
    now = time.monotonic()
    n = min(max(now - since, _NAP_FIRST), _NAP_MAX)
    if deadline is not None and deadline - now < n:
        n = max(deadline - now, 0.0)
    return n, now


def _call_back(callback, value):
    """Run a user's callback; what it raises is printed, as the stdlib's
    result thread prints it, and the pool goes on."""
    try:
        callback(value)
    except Exception:
        try:
            sys.stderr.write('Exception in a cmp.pool callback:\n')
            traceback.print_exc()
        except Exception:
            pass


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
            n, now = nap(since, deadline)
            if self._lock.acquire(True, n):
                self._lock.release()
                return True
            if self._flag or (deadline is not None and now + n >= deadline):
                return self._flag


class ApplyResult(object):
    """The result of apply_async: get(timeout), wait, ready, successful."""
    # What the scheduler reads (scheduler.py): may it send several of this
    # job's tasks at once, and the seconds one of them takes a worker.
    _batchable = False
    _service = -1.0

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
        if self._pool is None:
            return              # taken in full already (see the docstring)
        self._success, self._value = obj
        try:
            if self._callback and self._success:
                _call_back(self._callback, self._value)
            if self._error_callback and not self._success:
                _call_back(self._error_callback, self._value)
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


def check_chunksize(chunksize):
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
        self._service = 0.0     # none measured yet
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
            self._left = set()
            self._event.set()
            self._core.job_done(self._job)
            self._pool = None
        else:
            # The numbers of the chunks not back yet: removing a chunk's
            # number again, as a repeated hand-over does, changes nothing.
            self._left = set(range(-(-length // chunksize)))
        self._lock = threading.Lock()

    def _set(self, i, success_result):
        self._set_many((i,), (success_result,))

    def _set_flat(self, idxs, values):
        """The chunks of range idxs all succeeded: values, in order."""
        with self._lock:
            if self._pool is None:
                return
            if self._success:
                if self._value is None:
                    self._value = [None] * self._length
                start = idxs.start * self._chunksize
                self._value[start:start + len(values)] = values
            items = len(values) if idxs.start in self._left else 0
            self._left.difference_update(idxs)
            left = len(self._left)
        self._chunks_done(items, left)

    def _set_many(self, idxs, objs):
        """Chunks idxs[k] came back as objs[k] = (success, result)."""
        items = 0
        with self._lock:
            if self._pool is None:
                return
            cs = self._chunksize
            for i, (success, result) in zip(idxs, objs):
                if success:
                    if i in self._left:
                        items += len(result)
                    if self._success:
                        if self._value is None:
                            self._value = [None] * self._length
                        if cs == 1:
                            self._value[i] = result[0]
                        else:
                            self._value[i * cs:(i + 1) * cs] = result
                else:
                    if i in self._left:
                        items += 1
                    if self._success:
                        self._success = False
                        self._value = result
            self._left.difference_update(idxs)
            left = len(self._left)
        self._chunks_done(items, left)

    def _chunks_done(self, items, left):
        if self._progress is not None:
            self._progress.update(items)
        if left == 0:
            if self._progress is not None:
                self._progress.close()
            try:
                if self._success and self._callback:
                    _call_back(self._callback, self._value)
                elif not self._success and self._error_callback:
                    _call_back(self._error_callback, self._value)
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
    _service = -1.0

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
                if self._unsorted:
                    self._catch_up()    # what an interrupted _set left
                if self._items:
                    success, value = self._items.popleft()
                    break
                finished = self._index == self._length
                if not finished and deadline is not None and \
                        deadline - time.monotonic() <= 0:
                    raise TimeoutError from None
            if finished:
                # (Also where an interrupted _set left the job unfinished.)
                self._finish()
                if self._progress is not None:
                    self._progress.close()
                raise StopIteration from None
            if not self._core.wait_for(self._has_item, deadline):
                with self._lock:
                    if not self._has_item():
                        self._cond.wait(nap(since, deadline)[0])
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
            if i >= self._index and i not in self._unsorted:
                self._unsorted[i] = obj
            self._catch_up()
            finished = self._index == self._length
        if finished:
            self._finish()

    def _catch_up(self):
        """(With the lock held.)  Move the results that come next from
        `_unsorted` to `_items`.  A signal handler may raise after any call
        and at the loop's end (Python 3.11 on), cutting this short: either
        between two results, which the next call (in _set or next())
        goes on from, or right after an append, which leaves the result
        appended also in `_unsorted`, under the number before `_index`,
        dropped here first."""
        unsorted = self._unsorted
        if self._index - 1 in unsorted:
            del unsorted[self._index - 1]
        if self._index not in unsorted:
            return
        while self._index in unsorted:
            obj = unsorted[self._index]
            self._index += 1
            self._items.append(obj)
            del unsorted[self._index - 1]
        self._cond.notify()

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
    _last = None                # the task number of the last result taken

    def _set(self, i, obj):
        with self._lock:
            if i != self._last:     # else had it already (see the docstring)
                # No signal handler runs between these three (Python 3.11
                # on).
                self._index += 1
                self._last = i
                self._items.append(obj)
                self._cond.notify()
            finished = self._index == self._length
        if finished:
            self._finish()
