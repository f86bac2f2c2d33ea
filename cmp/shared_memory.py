"""cmp.shared_memory: the stdlib's multiprocessing.shared_memory, re-exported.

SharedMemory and ShareableList are the stdlib's (named POSIX shared
memory, tracked by the stdlib's resource tracker).
"""
from multiprocessing import shared_memory as _stdlib
from multiprocessing.shared_memory import *  # noqa: F401,F403

from ._mirror import mirror as _mirror

__getattr__, __dir__ = _mirror(globals(), _stdlib)
