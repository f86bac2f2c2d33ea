# cmp's C core as the package sees it: the arena's statistics and the
# warning a lock's new owner gets when the last one died holding it.
from typing import Callable, TypeVar, TypedDict, type_check_only

# A name for the checker only: arena_stats() returns a plain dict.
@type_check_only
class ArenaStats(TypedDict):
    size: int           # bytes of address space reserved for the arena
    top: int            # the highest offset ever handed out
    bytes_in_use: int   # bytes held by live objects
    blocks_in_use: int  # live objects (blocks)
    meta_bytes: int     # bytes of the arena's own tables (the process table's)
    token: int          # identifies this process tree's arena
    resident: int       # bytes of the arena's pages in memory
    free_resident: int  # of which free memory not yet given back

# First gives back what dead processes held (the process table).
def arena_stats() -> ArenaStats: ...

class OwnerDiedWarning(RuntimeWarning): ...

def arena_argument() -> str: ...

_C = TypeVar("_C", bound=type)

def c_class(c_type: _C) -> Callable[[type], _C]: ...
