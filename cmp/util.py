"""cmp.util: the stdlib's multiprocessing.util, re-exported.

Logging helpers, Finalize and register_after_fork are the stdlib's: cmp's
own fork and exit hooks are registered with them.
"""
from multiprocessing import util as _stdlib
from multiprocessing.util import *  # noqa: F401,F403

from ._mirror import mirror as _mirror

__getattr__, __dir__ = _mirror(globals(), _stdlib)
