"""cmp.dummy: the stdlib's multiprocessing.dummy, re-exported.

The thread-backed API (processes are threads, locks are threading's);
cmp adds nothing here.
"""
from multiprocessing import dummy as _stdlib
from multiprocessing.dummy import *  # noqa: F401,F403

from .._mirror import mirror as _mirror
from . import connection  # noqa: F401  (as the stdlib's dummy does)

__getattr__, __dir__ = _mirror(globals(), _stdlib)
