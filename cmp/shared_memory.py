"""cmp.shared_memory is the stdlib's multiprocessing.shared_memory itself.

cmp changes nothing in it (SharedMemory and ShareableList are named POSIX
shared memory, tracked by the stdlib's resource tracker), so the module
object is the stdlib's: patching ``cmp.shared_memory._make_filename`` (as a
program written against ``multiprocessing.shared_memory`` would) patches
what SharedMemory reads.
"""
import sys

from multiprocessing import shared_memory

sys.modules[__name__] = shared_memory
