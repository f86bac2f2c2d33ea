# cmp re-exports the stdlib's module under its own name: the stdlib's types.
from multiprocessing.resource_sharer import *
from multiprocessing.resource_sharer import __all__ as __all__
from multiprocessing.resource_sharer import DupFd as DupFd
