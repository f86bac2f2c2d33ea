# cmp.context: the stdlib's context API.  cmp's fork, spawn and forkserver
# contexts build cmp's queues, shared values, dict and pool, typed with
# their extensions; get_context('ray') builds a pool and a queue on a Ray
# cluster.
from collections.abc import Callable, Iterable, Sequence
from ctypes import _SimpleCData, c_char
from _ctypes import _CData
from multiprocessing import context as _std
from multiprocessing.context import (
    AuthenticationError as AuthenticationError,
    BufferTooShort as BufferTooShort,
    ForkProcess as ForkProcess,
    ProcessError as ProcessError,
    TimeoutError as TimeoutError,
    assert_spawning as assert_spawning,
    get_spawning_popen as get_spawning_popen,
    set_spawning_popen as set_spawning_popen,
)
from multiprocessing.synchronize import _LockLike
from typing import Any, ClassVar, Literal, TypeVar, overload

from . import pool, queues, shareddict
from .raycontext import RayContext
from .sharedctypes import Synchronized, SynchronizedArray, SynchronizedString, _FloatCode, _IntCode

__all__ = ()

_T = TypeVar("_T")
_CT = TypeVar("_CT", bound=_CData)

class BaseContext(_std.BaseContext):
    def Queue(self, maxsize: int = 0) -> queues.Queue[Any]: ...
    def JoinableQueue(self, maxsize: int = 0) -> queues.JoinableQueue[Any]: ...
    def SimpleQueue(self) -> queues.SimpleQueue[Any]: ...
    def Pool(
        self,
        processes: int | None = None,
        initializer: Callable[..., object] | None = None,
        initargs: Iterable[Any] = (),
        maxtasksperchild: int | None = None,
    ) -> pool.Pool: ...

    # The typecode literals first (they type the value); the rest as the
    # stdlib's, returning cmp's Synchronized.
    @overload  # type: ignore[override]
    def Value(
        self, typecode_or_type: _IntCode, *args: Any, lock: Literal[True] | _LockLike = True
    ) -> Synchronized[int]: ...
    @overload
    def Value(
        self, typecode_or_type: _FloatCode, *args: Any, lock: Literal[True] | _LockLike = True
    ) -> Synchronized[float]: ...
    @overload
    def Value(
        self, typecode_or_type: type[_SimpleCData[_T]], *args: Any, lock: Literal[True] | _LockLike = True
    ) -> Synchronized[_T]: ...
    @overload
    def Value(self, typecode_or_type: type[_CT], *args: Any, lock: Literal[False]) -> Synchronized[_CT]: ...
    @overload
    def Value(self, typecode_or_type: type[_CT], *args: Any, lock: Literal[True] | _LockLike = True) -> Synchronized[_CT]: ...
    @overload
    def Value(self, typecode_or_type: str, *args: Any, lock: Literal[True] | _LockLike = True) -> Synchronized[Any]: ...
    @overload
    def Value(self, typecode_or_type: str | type[_CData], *args: Any, lock: bool | _LockLike = True) -> Any: ...

    @overload  # type: ignore[override]
    def Array(
        self, typecode_or_type: type[_SimpleCData[_T]], size_or_initializer: int | Sequence[Any], *, lock: Literal[False]
    ) -> SynchronizedArray[_T]: ...
    @overload
    def Array(
        self,
        typecode_or_type: type[c_char] | Literal["c"],
        size_or_initializer: int | Sequence[Any],
        *,
        lock: Literal[True] | _LockLike = True,
    ) -> SynchronizedString: ...
    @overload
    def Array(
        self, typecode_or_type: _IntCode, size_or_initializer: int | Sequence[Any], *, lock: Literal[True] | _LockLike = True
    ) -> SynchronizedArray[int]: ...
    @overload
    def Array(
        self, typecode_or_type: _FloatCode, size_or_initializer: int | Sequence[Any], *, lock: Literal[True] | _LockLike = True
    ) -> SynchronizedArray[float]: ...
    @overload
    def Array(
        self,
        typecode_or_type: type[_SimpleCData[_T]],
        size_or_initializer: int | Sequence[Any],
        *,
        lock: Literal[True] | _LockLike = True,
    ) -> SynchronizedArray[_T]: ...
    @overload
    def Array(
        self, typecode_or_type: str, size_or_initializer: int | Sequence[Any], *, lock: Literal[True] | _LockLike = True
    ) -> SynchronizedArray[Any]: ...
    @overload
    def Array(
        self, typecode_or_type: str | type[_CData], size_or_initializer: int | Sequence[Any], *, lock: bool | _LockLike = True
    ) -> Any: ...

    @overload  # type: ignore[override]
    def get_context(self, method: None = None) -> DefaultContext: ...
    @overload
    def get_context(self, method: Literal["spawn"]) -> SpawnContext: ...
    @overload
    def get_context(self, method: Literal["fork"]) -> ForkContext: ...
    @overload
    def get_context(self, method: Literal["forkserver"]) -> ForkServerContext: ...
    @overload
    def get_context(self, method: Literal["ray"]) -> RayContext: ...
    @overload
    def get_context(self, method: str) -> _std.BaseContext: ...

# The factories of cmp's fork, spawn and forkserver contexts (and of the
# default context) that the stdlib's contexts do not have.
class _Factories:
    def Pool(
        self,
        processes: int | None = None,
        initializer: Callable[..., object] | None = None,
        initargs: Iterable[Any] = (),
        maxtasksperchild: int | None = None,
        *,
        ray_address: str | None = None,
    ) -> pool.Pool: ...
    def Dict(self, other: Any = (), /, **kwargs: Any) -> shareddict.Dict: ...

class ForkContext(_Factories, BaseContext, _std.ForkContext):
    Process: ClassVar[type[ForkProcess]]

class SpawnProcess(_std.SpawnProcess): ...

class SpawnContext(_Factories, BaseContext, _std.SpawnContext):
    Process: ClassVar[type[SpawnProcess]]

class ForkServerProcess(_std.ForkServerProcess): ...

class ForkServerContext(_Factories, BaseContext, _std.ForkServerContext):
    Process: ClassVar[type[ForkServerProcess]]

class Process(_std.Process): ...

class DefaultContext(_Factories, BaseContext, _std.DefaultContext):
    Process: ClassVar[type[Process]]

_default_context: DefaultContext

def _force_start_method(method: str) -> None: ...
