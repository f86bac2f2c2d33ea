# cmp re-exports the stdlib's module under its own name: the stdlib's types.
from multiprocessing.popen_forkserver import *
from multiprocessing.popen_forkserver import __all__ as __all__
