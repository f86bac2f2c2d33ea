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


def Pool(processes=None, initializer=None, initargs=(), maxtasksperchild=None,
         context=None):
    """Returns a process pool object."""
    from .pool import Pool
    return Pool(processes, initializer, initargs, maxtasksperchild, context)


def __getattr__(name):
    # Until every name has its own definition: the stdlib's fork context.
    import multiprocessing
    return getattr(multiprocessing.get_context("fork"), name)
