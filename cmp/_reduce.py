"""Pickling of objects that live in cmp's shared arena.

Every process of a tree maps the arena: the processes it forks, and the
processes started by cmp's spawn and forkserver contexts, whose Popen says
so (``_cmp_shares_arena``).  A process started by the stdlib's spawn or
forkserver context maps none: pickling an object for it at its start
raises at once, instead of failing in the child.
"""
import sys
import weakref

from multiprocessing import context as _mpctx

# The objects built by cmp's fork context (cmp.context._Factories._made).
fork_made: "weakref.WeakSet[object]" = weakref.WeakSet()

# From 3.11 the stdlib refuses to pass its fork context's locks (and what
# holds one) to a process it starts by spawn or forkserver.
_REFUSE_FORK_MADE = sys.version_info >= (3, 11)


def _is_fork_made(obj):
    try:
        return obj in fork_made
    except TypeError:
        return False    # unhashable (a cmp.Dict): never registered there


def _check_not_spawning(obj):
    popen = _mpctx.get_spawning_popen()
    if popen is None:
        return
    method = getattr(popen, "method", "fork")
    if method == "fork":
        return
    if not getattr(popen, "_cmp_shares_arena", False):
        raise RuntimeError(
            "%s objects live in cmp's shared arena, which a process started "
            "by the stdlib's %s context does not map; start the process "
            "with cmp.get_context(%r) instead"
            % (type(obj).__name__, method, method))
    if _REFUSE_FORK_MADE and _is_fork_made(obj):
        # The stdlib's words, for either method.
        raise RuntimeError(
            'A SemLock created in a fork context is being shared with a '
            'process in a spawn context. This is not supported. Please use '
            'the same context to create multiprocessing objects and Process.')


def reduce_shared(obj, state=None):
    """__reduce__ for a wrapper of a shared object: (rebuild, args, state)."""
    _check_not_spawning(obj)
    return _rebuild, (type(obj), obj._handle()), state


def _rebuild(cls, handle):
    return cls._rebuild(handle)
