"""cmp.heap: the stdlib's multiprocessing.heap, re-exported.

cmp's shared objects live in cmp's arena; this is the stdlib's heap, used
by the stdlib's objects.
"""
from multiprocessing import heap as _stdlib
from multiprocessing.heap import *  # noqa: F401,F403

from ._mirror import mirror as _mirror

__getattr__, __dir__ = _mirror(globals(), _stdlib)
