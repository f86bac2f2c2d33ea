# The pool's wire format (internal): message tags and packing.
from struct import Struct
from typing import Any, Callable

_APPLY: int
_MAP: int
_STARMAP: int
_STOP: bytes
_COUNT: Struct
_SPAN: bytes
_FLAT: bytes
_PACKED_BATCH: bytes
_PACK: Callable[[list[Any]], bytes | None]
_UNPACK: Callable[[bytes, int], list[Any]]
_PROTO: int

def task_message(kind: int, func: Callable[..., Any], args: Any, kwds: Any) -> bytes: ...
def span_message(kind: int, func: Callable[..., Any], items: Any, chunksize: int,
                 count: int) -> bytes: ...

class Flat:
    values: list[Any]
    def __init__(self, values: list[Any]) -> None: ...

def load_result(payload: bytes) -> Any: ...
