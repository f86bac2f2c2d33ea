# The result objects of cmp's pool (internal; cmp.pool exposes them).
from multiprocessing.pool import (
    ApplyResult as ApplyResult,
    AsyncResult as AsyncResult,
    IMapIterator as IMapIterator,
    IMapUnorderedIterator as IMapUnorderedIterator,
    MapResult as MapResult,
)
from typing import Iterator

job_counter: Iterator[int]

def nap(since: float, deadline: float | None) -> tuple[float, float]: ...
def check_chunksize(chunksize: object) -> None: ...
