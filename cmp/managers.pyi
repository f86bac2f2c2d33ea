# cmp re-exports the stdlib's module under its own name: the stdlib's types.
import sys

from multiprocessing.managers import *
from multiprocessing.managers import __all__ as __all__
from multiprocessing.managers import (
    BaseListProxy as BaseListProxy,
    DictProxy as DictProxy,
    ListProxy as ListProxy,
    Namespace as Namespace,
    RemoteError as RemoteError,
    Server as Server,
    SharedMemoryServer as SharedMemoryServer,
    ValueProxy as ValueProxy,
)

if sys.version_info >= (3, 14):
    from multiprocessing.managers import SetProxy as SetProxy
