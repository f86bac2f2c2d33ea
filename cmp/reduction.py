"""cmp.reduction: the stdlib's multiprocessing.reduction, re-exported.

cmp's shared objects pickle through their own __reduce__; the pickler
and the fd-passing helpers are the stdlib's.
"""
from multiprocessing import reduction as _stdlib
from multiprocessing.reduction import *  # noqa: F401,F403

from ._mirror import mirror as _mirror

__getattr__, __dir__ = _mirror(globals(), _stdlib)
