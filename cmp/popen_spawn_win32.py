"""cmp.popen_spawn_win32: the stdlib's multiprocessing.popen_spawn_win32, re-exported.

Importing it fails on Linux exactly as the stdlib's does.
"""
from multiprocessing import popen_spawn_win32 as _stdlib
from multiprocessing.popen_spawn_win32 import *  # noqa: F401,F403

from ._mirror import mirror as _mirror

__getattr__, __dir__ = _mirror(globals(), _stdlib)
