# cmp re-exports the stdlib's module under its own name: the stdlib's types.
from multiprocessing.popen_spawn_posix import *
from multiprocessing.popen_spawn_posix import __all__ as __all__
