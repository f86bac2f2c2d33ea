"""cmp.popen_fork: the stdlib's multiprocessing.popen_fork, re-exported.

cmp's fork context starts its processes with this Popen.
"""
from multiprocessing import popen_fork as _stdlib
from multiprocessing.popen_fork import *  # noqa: F401,F403

from ._mirror import mirror as _mirror

__getattr__, __dir__ = _mirror(globals(), _stdlib)
