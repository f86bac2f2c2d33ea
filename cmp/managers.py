"""cmp.managers: the stdlib's multiprocessing.managers, re-exported, whose
managers default to cmp's context.

A manager's server is a process of the stdlib's; only the start method of
that process depends on the context.  BaseManager, SyncManager and
SharedMemoryManager here are subclasses of the stdlib's whose ``ctx=None``
means cmp's current context (cmp.get_context()) instead of the stdlib's.
Everything else (proxies, Server, Namespace, register ...) is the stdlib's.
"""
import inspect

from multiprocessing import managers as _stdlib
from multiprocessing.managers import *  # noqa: F401,F403

from . import context as _context
from ._mirror import mirror as _mirror

_init_signature = inspect.signature(_stdlib.BaseManager.__init__)


class BaseManager(_stdlib.BaseManager):
    __doc__ = _stdlib.BaseManager.__doc__

    def __init__(self, *args, **kwargs):
        bound = _init_signature.bind(self, *args, **kwargs)
        if bound.arguments.get('ctx') is None:
            bound.arguments['ctx'] = _context._default_context.get_context()
        super().__init__(*bound.args[1:], **bound.kwargs)

    __init__.__signature__ = _init_signature


class SyncManager(BaseManager, _stdlib.SyncManager):
    __doc__ = _stdlib.SyncManager.__doc__
    # One registry for both: code that imports the stdlib's SyncManager to
    # register a type (`from multiprocessing.managers import SyncManager`
    # still names the stdlib's after `import cmp as multiprocessing`) finds
    # it on cmp.Manager() too.
    _registry = _stdlib.SyncManager._registry


if _stdlib.HAS_SHMEM:
    class SharedMemoryManager(BaseManager, _stdlib.SharedMemoryManager):
        __doc__ = _stdlib.SharedMemoryManager.__doc__

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)


get_context = _context._default_context.get_context

__getattr__, __dir__ = _mirror(globals(), _stdlib)
