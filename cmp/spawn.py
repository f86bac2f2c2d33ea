"""cmp.spawn: the stdlib's multiprocessing.spawn, re-exported.

Used by get_context('spawn'), which is the stdlib's spawn context.
"""
from multiprocessing import spawn as _stdlib
from multiprocessing.spawn import *  # noqa: F401,F403

from ._mirror import mirror as _mirror

__getattr__, __dir__ = _mirror(globals(), _stdlib)
