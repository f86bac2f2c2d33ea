# cmp re-exports the stdlib's module under its own name: the stdlib's types.
from multiprocessing.heap import *
from multiprocessing.heap import __all__ as __all__
from multiprocessing.heap import (
    Arena as Arena,
    Heap as Heap,
    rebuild_arena as rebuild_arena,
    reduce_arena as reduce_arena,
)
