"""cmp.connection: the stdlib's multiprocessing.connection, re-exported.

cmp adds nothing here: Pipe, Listener, Client, wait and Connection are the
stdlib's.
"""
from multiprocessing import connection as _stdlib
from multiprocessing.connection import *  # noqa: F401,F403

from ._mirror import mirror as _mirror

__getattr__, __dir__ = _mirror(globals(), _stdlib)
