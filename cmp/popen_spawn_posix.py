"""cmp.popen_spawn_posix: the stdlib's multiprocessing.popen_spawn_posix, re-exported.

cmp adds nothing here.
"""
from multiprocessing import popen_spawn_posix as _stdlib
from multiprocessing.popen_spawn_posix import *  # noqa: F401,F403

from ._mirror import mirror as _mirror

__getattr__, __dir__ = _mirror(globals(), _stdlib)
