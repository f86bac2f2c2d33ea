"""cmp.forkserver: the stdlib's multiprocessing.forkserver, re-exported.

Used by get_context('forkserver'), which is the stdlib's forkserver
context.
"""
from multiprocessing import forkserver as _stdlib
from multiprocessing.forkserver import *  # noqa: F401,F403

from ._mirror import mirror as _mirror

__getattr__, __dir__ = _mirror(globals(), _stdlib)
