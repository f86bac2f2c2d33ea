"""The C core, loaded once per process, and the process-lifetime hooks that
keep the shared objects' reference counts right across fork and exit."""
import atexit
import os

from multiprocessing import util as _util

from . import _cmp

arena_stats = _cmp.arena_stats
OwnerDiedWarning = _cmp.OwnerDiedWarning


def _own_c_methods(cls, **kwargs):
    """Every Python subclass of a cmp C type (Event, Synchronized, Queue, a
    user's subclass ...) owns the C methods it inherits: the interpreter
    specialises ``obj.method()`` only on the method's exact type."""
    object.__init_subclass__(**kwargs)
    _cmp._own_methods(cls)


for _tp in vars(_cmp).values():
    if (isinstance(_tp, type) and _tp.__module__ == '_cmp' and
            not issubclass(_tp, BaseException) and
            _tp.__flags__ & (1 << 10)):     # Py_TPFLAGS_BASETYPE
        _tp.__init_subclass__ = classmethod(_own_c_methods)
del _tp


class _ExitHook:
    """A long-lived object for multiprocessing.util.register_after_fork."""


_exit_hook = _ExitHook()


def _register_child_exit(_obj=None):
    # A multiprocessing child clears util's finalizers when it starts and
    # ends with os._exit, which skips atexit: let go of the shared objects
    # from the very last finalizer instead.
    _util.Finalize(None, _cmp._release_all, exitpriority=-(2 ** 30))


# Registered first, so atexit runs it last.
atexit.register(_cmp._release_all)
os.register_at_fork(before=_cmp._before_fork)
_util.register_after_fork(_exit_hook, _register_child_exit)
