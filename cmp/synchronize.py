"""cmp's synchronisation primitives: the stdlib's names and behaviour, on
futexes in the shared arena (csrc/lock.c, semaphore.c, event.c, ...).

Extension: these objects may be pickled to any process of the same process
tree at any time (through a queue, as Pool arguments), not only passed at
process creation.
"""
import threading
import time

from multiprocessing import process as _process
from multiprocessing import synchronize as _mpsync
from multiprocessing.synchronize import SEM_VALUE_MAX  # noqa: F401

from . import _cmp
from ._core import OwnerDiedWarning, c_class
from ._reduce import reduce_shared

__all__ = [
    'Lock', 'RLock', 'Semaphore', 'BoundedSemaphore', 'Condition', 'Event',
    'Barrier', 'OwnerDiedWarning',
]


def _holder_name():
    name = _process.current_process().name
    if threading.current_thread().name != 'MainThread':
        name += '|' + threading.current_thread().name
    return name


def _thread_of_this_process(native_id):
    return any(t.native_id == native_id for t in threading.enumerate())


def _lock_repr(self):
    try:
        if self._is_mine():
            name = _holder_name()
        elif self._get_value() == 1:
            name = 'None'
        elif self._owner() == _process.current_process().pid:
            name = 'SomeOtherThread'
        else:
            name = 'SomeOtherProcess'
    except Exception:
        name = 'unknown'
    return '<%s(owner=%s)>' % (self.__class__.__name__, name)


def _rlock_repr(self):
    try:
        if self._is_mine():
            name = _holder_name()
            count = self._count()
        elif self._get_value() == 1:
            name, count = 'None', 0
        elif _thread_of_this_process(self._owner()):
            name, count = 'SomeOtherThread', 'nonzero'
        else:
            name, count = 'SomeOtherProcess', 'nonzero'
    except Exception:
        name, count = 'unknown', 'unknown'
    return '<%s(%s, %s)>' % (self.__class__.__name__, name, count)


# Each class below is its C type itself (cmp._core.c_class), with the
# policy its class statement defines attached: the C type provides the hot
# methods, weak references and, for the locks, __init__(*, ctx) and
# _semlock (stdlib code reaches into a lock's SemLock: JoinableQueue.join
# calls _semlock._is_zero()).

@c_class(_cmp.Lock)
class Lock:
    # A non-recursive lock shared by the processes of a tree: if the process
    # holding it dies, the next acquirer takes it over and an
    # OwnerDiedWarning says so.  (The C type's docstring says so too.)
    __repr__ = _lock_repr
    __reduce__ = reduce_shared


@c_class(_cmp.RLock)
class RLock:
    # A recursive lock shared by the processes of a tree: if the thread
    # holding it dies, the next acquirer takes it over and an
    # OwnerDiedWarning says so.
    __repr__ = _rlock_repr
    __reduce__ = reduce_shared


if Lock.__text_signature__ is None:
    # Before 3.11 a heap type's signature line is not read from its
    # docstring: inspect.signature(Lock) must still say (*, ctx).
    import inspect
    Lock.__signature__ = inspect.signature(_mpsync.Lock)
    RLock.__signature__ = inspect.signature(_mpsync.RLock)


@c_class(_cmp.Semaphore)
class Semaphore:
    """A counting semaphore shared by the processes of a tree.

    A process killed while it holds units keeps them (a semaphore has no
    owner), as with the stdlib's.
    """

    def __init__(self, value=1, *, ctx):
        self._c_init(value)

    # As a lock's: the object is its own SemLock.
    _semlock = property(lambda self: self)

    __reduce__ = reduce_shared

    def __repr__(self):
        try:
            value = self._get_value()
        except Exception:
            value = 'unknown'
        return '<%s(value=%s)>' % (self.__class__.__name__, value)


@c_class(_cmp.BoundedSemaphore)
class BoundedSemaphore:
    """A semaphore that refuses to be released above its initial value.
    (A Semaphore: the rest of its policy is Semaphore's.)"""

    def __init__(self, value=1, *, ctx):
        self._c_init(value)

    def __repr__(self):
        try:
            value = self._get_value()
            maxvalue = self._maxvalue()
        except Exception:
            value = maxvalue = 'unknown'
        return '<%s(value=%s, maxvalue=%s)>' % (
            self.__class__.__name__, value, maxvalue)


@c_class(_cmp.Event)
class Event:
    """An event flag shared by the processes of a tree.

    Nothing is held, so a killed process leaves nothing behind.  wait()
    returns True once a set() happened after it began, even if clear()
    followed before it woke (as threading.Event does).
    """

    def __init__(self, *, ctx):
        self._c_init()

    __reduce__ = reduce_shared

    if '__repr__' in _mpsync.Event.__dict__:
        def __repr__(self):
            set_status = 'set' if self.is_set() else 'unset'
            return f"<{type(self).__qualname__} at {id(self):#x} {set_status}>"
    else:
        def __repr__(self):
            cls = type(self)
            return '<%s.%s object at %#x>' % (cls.__module__, cls.__qualname__, id(self))


class _Count:
    """A read-only count with a semaphore's get_value()."""
    __slots__ = ('get_value',)

    def __init__(self, get_value):
        self.get_value = get_value


@c_class(_cmp.Condition)
class Condition:
    """A condition variable shared by the processes of a tree, over a cmp
    Lock or RLock (by default a new RLock).

    Pickling it pickles its lock along.  A process killed while holding the
    lock: see Lock and RLock (the next acquirer, a waiter that was notified
    included, takes it over with an OwnerDiedWarning).  A process killed
    while waiting does not absorb a notify (README, "What a killed process
    costs each primitive").
    """

    def __init__(self, lock=None, *, ctx):
        lock = lock or RLock(ctx=ctx)
        lock.acquire     # the stdlib's answer to a lock without one: AttributeError
        self._c_init(lock)
        self._make_methods()

    def _make_methods(self):
        self.acquire = self._lock.acquire
        self.release = self._lock.release

    def __reduce__(self):
        return reduce_shared(self, self._lock)

    def __setstate__(self, lock):
        self._set_lock(lock)
        self._make_methods()

    # Code that inspects the stdlib Condition's bookkeeping semaphores
    # (sleepers = _sleeping_count - _woken_count; _wait_semaphore holds the
    # wake-ups not yet taken) sees cmp's counts: cmp counts the waiters
    # present directly, so nothing is ever subtracted as "woken".
    _sleeping_count = property(lambda self: _Count(self._num_waiters))
    _woken_count = property(lambda self: _Count(int))
    _wait_semaphore = property(lambda self: _Count(self._num_tokens))

    def __repr__(self):
        try:
            num_waiters = self._num_waiters()
        except Exception:
            num_waiters = 'unknown'
        return '<%s(%s, %s)>' % (self.__class__.__name__, self._lock, num_waiters)

    def wait_for(self, predicate, timeout=None):
        """wait_for(predicate, timeout=None)

        Wait until predicate() is true or the timeout passes; return the
        predicate's last result.
        """
        result = predicate()
        if result:
            return result
        if timeout is not None:
            endtime = time.monotonic() + timeout
        else:
            endtime = None
            waittime = None
        while not result:
            if endtime is not None:
                waittime = endtime - time.monotonic()
                if waittime <= 0:
                    break
            self.wait(waittime)
            result = predicate()
        return result


@c_class(_cmp.Barrier)
class Barrier:
    """A barrier shared by the processes of a tree, with threading.Barrier's
    behaviour.

    Pickling it pickles its action and default timeout along.

    Killed processes: one killed inside the barrier's short internal
    critical section (or while running the action) breaks the barrier for
    the others.  One killed while waiting still counts as arrived, as with
    the stdlib's: that round trips without it, but the barrier never drains
    afterwards, so later waits block (use timeouts, or abort() it).
    """

    def __init__(self, parties, action=None, timeout=None, *, ctx):
        self._c_init(parties, action, timeout)

    def __reduce__(self):
        return reduce_shared(self, (self._action, self._timeout))

    def __setstate__(self, state):
        self._action, self._timeout = state

    if '__repr__' in threading.Barrier.__dict__:
        __repr__ = threading.Barrier.__repr__
