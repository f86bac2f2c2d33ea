# cmp re-exports the stdlib's module under its own name: the stdlib's types.
from multiprocessing.popen_fork import *
from multiprocessing.popen_fork import __all__ as __all__
