"""cmp: a faster backend for multiprocessing.

    import cmp as multiprocessing
"""
from . import _core  # noqa: F401  (creates the shared arena first)
from .synchronize import Lock as _Lock, RLock as _RLock  # noqa: F401

__version__ = "0.1.0"


def Lock():
    """Returns a non-recursive lock object."""
    return _Lock(ctx=None)


def RLock():
    """Returns a recursive lock object."""
    return _RLock(ctx=None)


def __getattr__(name):
    # Until every name has its own definition: the stdlib's fork context.
    import multiprocessing
    return getattr(multiprocessing.get_context("fork"), name)


def Queue(maxsize=0):
    """Returns a queue object (cmp's lock-free ring)."""
    from .queues import Queue
    return Queue(maxsize, ctx=None)


def JoinableQueue(maxsize=0):
    """Returns a queue object with task_done() and join()."""
    from .queues import JoinableQueue
    return JoinableQueue(maxsize, ctx=None)


def SimpleQueue():
    """Returns a simplified queue object."""
    from .queues import SimpleQueue
    return SimpleQueue(ctx=None)
