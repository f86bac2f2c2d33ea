"""Pickling of objects that live in cmp's shared arena."""
from multiprocessing import context as _mpctx


def _check_not_spawning(obj):
    popen = _mpctx.get_spawning_popen()
    if popen is not None and getattr(popen, "method", "fork") != "fork":
        raise RuntimeError(
            "%s objects created by cmp's fork context live in a shared arena "
            "that a %s process does not map; create them with "
            "cmp.get_context(%r) instead, or use the fork start method"
            % (type(obj).__name__, popen.method, popen.method))


def reduce_shared(obj, state=None):
    """__reduce__ for a wrapper of a shared object: (rebuild, args, state)."""
    _check_not_spawning(obj)
    return _rebuild, (type(obj), obj._handle()), state


def _rebuild(cls, handle):
    return cls._rebuild(handle)
