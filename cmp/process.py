"""cmp.process: the stdlib's multiprocessing.process, re-exported.

Process objects are the stdlib's (cmp.Process is cmp.context.Process, a
subclass that starts with cmp's current start method).
"""
from multiprocessing import process as _stdlib
from multiprocessing.process import *  # noqa: F401,F403

from ._mirror import mirror as _mirror

__getattr__, __dir__ = _mirror(globals(), _stdlib)
