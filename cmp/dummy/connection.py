"""cmp.dummy.connection: the stdlib's multiprocessing.dummy.connection, re-exported.

cmp adds nothing here.
"""
from multiprocessing.dummy import connection as _stdlib
from multiprocessing.dummy.connection import *  # noqa: F401,F403

from .._mirror import mirror as _mirror

__getattr__, __dir__ = _mirror(globals(), _stdlib)
