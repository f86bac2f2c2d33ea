# cmp re-exports the stdlib's module under its own name: the stdlib's types.
from multiprocessing.shared_memory import *
from multiprocessing.shared_memory import __all__ as __all__
