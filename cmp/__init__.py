"""cmp: a faster backend for multiprocessing.

    import cmp as multiprocessing
"""
from . import _core  # noqa: F401  (creates the shared arena first)
from . import synchronize as _sync
from .synchronize import Lock as _Lock, RLock as _RLock  # noqa: F401

__version__ = "0.1.0"


def Lock():
    """Returns a non-recursive lock object."""
    return _Lock(ctx=None)


def RLock():
    """Returns a recursive lock object."""
    return _RLock(ctx=None)


def Semaphore(value=1):
    """Returns a semaphore object."""
    return _sync.Semaphore(value, ctx=None)


def BoundedSemaphore(value=1):
    """Returns a bounded semaphore object."""
    return _sync.BoundedSemaphore(value, ctx=None)


def Event():
    """Returns an event object."""
    return _sync.Event(ctx=None)


def Condition(lock=None):
    """Returns a condition object."""
    return _sync.Condition(lock, ctx=None)


def Barrier(parties, action=None, timeout=None):
    """Returns a barrier object."""
    return _sync.Barrier(parties, action, timeout, ctx=None)


def __getattr__(name):
    # Until every name has its own definition: the stdlib's fork context.
    import multiprocessing
    return getattr(multiprocessing.get_context("fork"), name)
