# cmp re-exports the stdlib's module under its own name: the stdlib's types.
from multiprocessing.process import *
from multiprocessing.process import __all__ as __all__
