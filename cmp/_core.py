"""The C core, loaded once per process; the arena, created or joined before
anything else; and the process-lifetime hooks that keep the shared
objects' reference counts right across fork and exit.

The arena is created when cmp is first imported in a process tree, so
every process forked afterwards maps it.  A process started by cmp's
spawn or forkserver method is a fresh interpreter: its parent passes it
the arena's memfd (kept at the same fd number, as the stdlib passes the
resource tracker's) and names it on the command line,
``python -c '...' [--multiprocessing-fork] --cmp-arena=FD:TOKEN``.  The
first statement of that command imports cmp, whose first act is to join
that arena: before the child unpickles anything or imports the program's
main module, so a module-level ``cmp.Lock()`` there lives in the one
arena of the tree.
"""
import atexit
import os
import sys

from multiprocessing import util as _util

from . import _cmp

_ARENA_ARG = '--cmp-arena='


def arena_argument():
    """The command-line argument that makes a child started with
    ``python -c`` join this process's arena, whose memfd it must get at
    the same fd number (pass_fds)."""
    return '%s%d:%x' % (_ARENA_ARG, _cmp._arena_fd(), arena_stats()['token'])


def _arena_to_join(argv):
    # Only the last argument of a `python -c` command line, as cmp's spawn
    # and forkserver start them; taken off, so sys.argv is the stdlib's.
    if len(argv) >= 2 and argv[0] == '-c' and argv[-1].startswith(_ARENA_ARG):
        fd, token = argv.pop()[len(_ARENA_ARG):].split(':')
        return int(fd), int(token, 16)
    return -1, 0


_cmp._arena_init(*_arena_to_join(sys.argv))

arena_stats = _cmp.arena_stats
OwnerDiedWarning = _cmp.OwnerDiedWarning


_NOT_POLICY = frozenset(('__module__', '__qualname__', '__doc__', '__dict__',
                         '__weakref__', '__slots__'))


def c_class(c_type):
    """Decorator: the class statement it decorates defines the Python
    policy of the C type `c_type` (what C leaves to Python: the stdlib's
    __init__ signature, repr, pickling, pure-Python methods, properties,
    the docstring), and the name it binds is `c_type` itself with that
    policy attached.

    cmp's classes are exact C types, not Python subclasses of them: the
    interpreter specialises a call of a C method only on the method's own
    type, and `with lock:` binds __enter__ and __exit__ without a subtype
    check.  A program's subclass of one is an ordinary subclass of a C
    type.  The policy class is a plain class (its own bases' attributes
    are attached too); as it is not a base of `c_type`, its methods do
    not use super(): a policy __init__ calls the C type's own as
    ``self._c_init(...)``."""
    def attach(policy):
        own_init = vars(c_type).get('__init__')
        if own_init is not None and '__init__' in vars(policy):
            c_type._c_init = own_init
        for klass in reversed(policy.__mro__[:-1]):
            for name, value in vars(klass).items():
                if name not in _NOT_POLICY:
                    setattr(c_type, name, value)
        if policy.__doc__ is not None:
            c_type.__doc__ = policy.__doc__
        c_type.__name__ = policy.__name__
        c_type.__qualname__ = policy.__qualname__
        c_type.__module__ = policy.__module__
        return c_type
    return attach


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
os.register_at_fork(before=_cmp._before_fork,
                    after_in_parent=_cmp._after_fork_parent,
                    after_in_child=_cmp._after_fork_child)
_util.register_after_fork(_exit_hook, _register_child_exit)
