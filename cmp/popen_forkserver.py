"""cmp.popen_forkserver: the stdlib's multiprocessing.popen_forkserver, re-exported.

cmp adds nothing here.
"""
from multiprocessing import popen_forkserver as _stdlib
from multiprocessing.popen_forkserver import *  # noqa: F401,F403

from ._mirror import mirror as _mirror

__getattr__, __dir__ = _mirror(globals(), _stdlib)
