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


def RawValue(typecode_or_type, *args):
    """Returns a shared object"""
    from .sharedctypes import RawValue
    return RawValue(typecode_or_type, *args)


def RawArray(typecode_or_type, size_or_initializer):
    """Returns a shared array"""
    from .sharedctypes import RawArray
    return RawArray(typecode_or_type, size_or_initializer)


def Value(typecode_or_type, *args, lock=True):
    """Returns a synchronized shared object"""
    from .sharedctypes import Value
    return Value(typecode_or_type, *args, lock=lock)


def Array(typecode_or_type, size_or_initializer, *, lock=True):
    """Returns a synchronized shared array"""
    from .sharedctypes import Array
    return Array(typecode_or_type, size_or_initializer, lock=lock)


def __getattr__(name):
    # Until every name has its own definition: the stdlib's fork context.
    import multiprocessing
    return getattr(multiprocessing.get_context("fork"), name)
