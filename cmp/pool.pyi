# cmp.pool: the stdlib's Pool API; every method that runs tasks in workers
# takes the keyword-only extensions task_timeout= (seconds one task may run:
# its worker is replaced and the task raises multiprocessing.TimeoutError),
# progress= (a progress bar for map and imap) and, on imap and
# imap_unordered, max_in_flight= (at most that many tasks submitted and not
# yet consumed).  A worker that dies mid-task fails it with WorkerLostError.
# The result types are the stdlib's.
from collections.abc import Callable, Iterable, Mapping
from multiprocessing import pool as _std
from multiprocessing.context import ProcessError, TimeoutError as TimeoutError
from multiprocessing.pool import (
    CLOSE as CLOSE,
    INIT as INIT,
    RUN as RUN,
    TERMINATE as TERMINATE,
    ApplyResult as ApplyResult,
    AsyncResult as AsyncResult,
    IMapIterator as IMapIterator,
    IMapUnorderedIterator as IMapUnorderedIterator,
    MapResult as MapResult,
    ThreadPool as ThreadPool,
)
from typing import Any, TypeVar

from typing_extensions import Self

__all__ = ["Pool", "ThreadPool"]

_S = TypeVar("_S")
_T = TypeVar("_T")

class WorkerLostError(ProcessError): ...
class MaybeEncodingError(Exception):
    exc: str
    value: str
    def __init__(self, exc: BaseException, value: object) -> None: ...

class RemoteTraceback(Exception):
    tb: str
    def __init__(self, tb: str) -> None: ...

class ExceptionWithTraceback:
    exc: BaseException
    tb: str
    def __init__(self, exc: BaseException, tb: Any) -> None: ...

class Pool(_std.Pool):
    # With ray_address= (or CMP_RAY_ADDRESS), cmp.raypool.RayPool is
    # returned: the same API on a Ray cluster.
    def __new__(
        cls,
        processes: int | None = None,
        initializer: Callable[..., object] | None = None,
        initargs: Iterable[Any] = (),
        maxtasksperchild: int | None = None,
        context: Any | None = None,
        *,
        ray_address: str | None = None,
    ) -> Self: ...
    def __init__(
        self,
        processes: int | None = None,
        initializer: Callable[..., object] | None = None,
        initargs: Iterable[Any] = (),
        maxtasksperchild: int | None = None,
        context: Any | None = None,
        *,
        ray_address: str | None = None,
    ) -> None: ...
    def apply_async(
        self,
        func: Callable[..., _T],
        args: Iterable[Any] = (),
        kwds: Mapping[str, Any] = {},
        callback: Callable[[_T], object] | None = None,
        error_callback: Callable[[BaseException], object] | None = None,
        *,
        task_timeout: float | None = None,
    ) -> AsyncResult[_T]: ...
    def map(
        self,
        func: Callable[[_S], _T],
        iterable: Iterable[_S],
        chunksize: int | None = None,
        *,
        progress: bool = False,
        task_timeout: float | None = None,
    ) -> list[_T]: ...
    def map_async(
        self,
        func: Callable[[_S], _T],
        iterable: Iterable[_S],
        chunksize: int | None = None,
        callback: Callable[[list[_T]], object] | None = None,
        error_callback: Callable[[BaseException], object] | None = None,
        *,
        progress: bool = False,
        task_timeout: float | None = None,
    ) -> MapResult[_T]: ...
    def imap(
        self,
        func: Callable[[_S], _T],
        iterable: Iterable[_S],
        chunksize: int | None = 1,
        *,
        max_in_flight: int | None = None,
        progress: bool = False,
        task_timeout: float | None = None,
    ) -> IMapIterator[_T]: ...
    def imap_unordered(
        self,
        func: Callable[[_S], _T],
        iterable: Iterable[_S],
        chunksize: int | None = 1,
        *,
        max_in_flight: int | None = None,
        progress: bool = False,
        task_timeout: float | None = None,
    ) -> IMapIterator[_T]: ...
    def starmap(
        self,
        func: Callable[..., _T],
        iterable: Iterable[Iterable[Any]],
        chunksize: int | None = None,
        *,
        progress: bool = False,
        task_timeout: float | None = None,
    ) -> list[_T]: ...
    def starmap_async(
        self,
        func: Callable[..., _T],
        iterable: Iterable[Iterable[Any]],
        chunksize: int | None = None,
        callback: Callable[[list[_T]], object] | None = None,
        error_callback: Callable[[BaseException], object] | None = None,
        *,
        progress: bool = False,
        task_timeout: float | None = None,
    ) -> AsyncResult[list[_T]]: ...
