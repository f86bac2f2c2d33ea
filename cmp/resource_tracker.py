"""cmp.resource_tracker: the stdlib's multiprocessing.resource_tracker, re-exported.

Used by the spawn and forkserver start methods and by shared_memory.
"""
from multiprocessing import resource_tracker as _stdlib
from multiprocessing.resource_tracker import *  # noqa: F401,F403

from ._mirror import mirror as _mirror

__getattr__, __dir__ = _mirror(globals(), _stdlib)
