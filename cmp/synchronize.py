"""cmp's synchronisation primitives: the stdlib's names and behaviour, on
futexes in the shared arena (csrc/lock.c, semaphore.c, event.c, ...).

Extension: these objects may be pickled to any process of the same process
tree at any time (through a queue, as Pool arguments), not only passed at
process creation.
"""
import threading

from multiprocessing import process as _process
from multiprocessing.synchronize import SEM_VALUE_MAX  # noqa: F401

from . import _cmp
from ._core import OwnerDiedWarning
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


class Lock(_cmp.Lock):
    """A non-recursive lock shared by the processes of a tree.

    If the process holding it dies, the next acquirer takes it over and an
    OwnerDiedWarning says so.
    """
    __slots__ = ('__weakref__',)

    def __init__(self, *, ctx):
        super().__init__()

    def __repr__(self):
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

    def __reduce__(self):
        return reduce_shared(self)


class RLock(_cmp.RLock):
    """A recursive lock shared by the processes of a tree.

    If the thread holding it dies, the next acquirer takes it over and an
    OwnerDiedWarning says so.
    """
    __slots__ = ('__weakref__',)

    def __init__(self, *, ctx):
        super().__init__()

    def __repr__(self):
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

    def __reduce__(self):
        return reduce_shared(self)
