"""cmp.resource_sharer: the stdlib's multiprocessing.resource_sharer, re-exported.

cmp adds nothing here.
"""
from multiprocessing import resource_sharer as _stdlib
from multiprocessing.resource_sharer import *  # noqa: F401,F403

from ._mirror import mirror as _mirror

__getattr__, __dir__ = _mirror(globals(), _stdlib)
