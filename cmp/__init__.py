"""cmp: a faster backend for multiprocessing on Linux.

    import cmp as multiprocessing

The names, signatures and behaviour are the stdlib's multiprocessing; the
locks, semaphores, events, shared values, queues and pools are cmp's own,
built on futexes in one shared-memory arena that every process of the
tree maps, whichever start method (fork, spawn, forkserver) started it.
The default start method is the running interpreter's.  See README.rst.
"""
from . import _core  # noqa: F401  (creates or joins the shared arena first)
from . import context, process, reduction  # noqa: F401  (as the stdlib's)

__version__ = "0.1.0"

# Every public attribute of the default context is a name of the package,
# as in the stdlib: cmp.Lock is cmp.context._default_context.Lock.
__all__ = [x for x in dir(context._default_context) if not x.startswith('_')]
globals().update((name, getattr(context._default_context, name))
                 for name in __all__)

SUBDEBUG = 5
SUBWARNING = 25
