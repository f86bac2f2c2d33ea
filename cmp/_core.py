"""The C core, loaded once per process, and the process-lifetime hooks that
keep the shared objects' reference counts right across fork and exit."""
import atexit
import os

from multiprocessing import util as _util

from . import _cmp

arena_stats = _cmp.arena_stats
OwnerDiedWarning = _cmp.OwnerDiedWarning


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
