# cmp.queues: the stdlib's queues (same methods, same signatures) plus the
# batch methods put_many and get_many.  Typed as subclasses of the stdlib's
# classes, so a cmp queue goes wherever a multiprocessing queue is expected.
from collections.abc import Iterable
from multiprocessing import queues as _std
from queue import Empty as Empty, Full as Full
from types import GenericAlias
from typing import Any, TypeVar

__all__ = ["Queue", "SimpleQueue", "JoinableQueue"]

_T = TypeVar("_T")

class Queue(_std.Queue[_T]):
    def __class_getitem__(cls, item: Any, /) -> GenericAlias: ...
    def put_many(self, items: Iterable[_T], block: bool = True, timeout: float | None = None) -> None: ...
    def get_many(self, max_items: int | None = None, timeout: float | None = None) -> list[_T]: ...

class JoinableQueue(Queue[_T], _std.JoinableQueue[_T]): ...

class SimpleQueue(_std.SimpleQueue[_T]):
    def put_many(self, items: Iterable[_T]) -> None: ...
    def get_many(self, max_items: int | None = None, timeout: float | None = None) -> list[_T]: ...
