# cmp.sharedctypes: the stdlib's API, whose synchronized values and arrays of
# an integer type add lock-free atomic read-modify-write (fetch_add,
# exchange, compare_exchange).  A typecode given as a literal ('i', 'd' ...)
# types the value (Synchronized[int], Synchronized[float] ...), so an atomic
# on a float or a char is reported; a typecode in a variable types it
# Synchronized[Any], as the stdlib's stubs do.
import ctypes
from _ctypes import _CData
from collections.abc import Sequence
from ctypes import _SimpleCData, c_char
from multiprocessing import sharedctypes as _std
from multiprocessing.context import BaseContext
from multiprocessing.sharedctypes import RawArray as RawArray, RawValue as RawValue, copy as copy
from multiprocessing.synchronize import _LockLike
from typing import Any, Literal, SupportsIndex, TypeVar, overload

__all__ = ["RawValue", "RawArray", "Value", "Array", "copy", "synchronized"]

_T = TypeVar("_T")
_CT = TypeVar("_CT", bound=_CData)

_IntCode = Literal["b", "B", "h", "H", "i", "I", "l", "L", "q", "Q"]
_FloatCode = Literal["f", "d"]

typecode_to_type: dict[str, type[_SimpleCData[Any]]]

class SynchronizedBase(_std.SynchronizedBase[_CT]): ...

class Synchronized(SynchronizedBase[_SimpleCData[_T]], _std.Synchronized[_T]):
    # Lock-free: they do not take the lock.  Integer typecodes only.
    def fetch_add(self: Synchronized[int], delta: int = 1) -> int: ...
    def exchange(self: Synchronized[int], value: int, /) -> int: ...
    def compare_exchange(self: Synchronized[int], expected: int, desired: int) -> int: ...

class SynchronizedArray(SynchronizedBase[ctypes.Array[_SimpleCData[_T]]], _std.SynchronizedArray[_T]):
    def fetch_add(self: SynchronizedArray[int], index: SupportsIndex, delta: int = 1) -> int: ...
    def exchange(self: SynchronizedArray[int], index: SupportsIndex, value: int, /) -> int: ...
    def compare_exchange(
        self: SynchronizedArray[int], index: SupportsIndex, expected: int, desired: int
    ) -> int: ...

class SynchronizedString(SynchronizedArray[bytes], _std.SynchronizedString):
    # A char array reads and writes bytes, as the stdlib's.
    @overload  # type: ignore[override]
    def __getitem__(self, i: slice, /) -> bytes: ...
    @overload
    def __getitem__(self, i: SupportsIndex, /) -> bytes: ...
    @overload  # type: ignore[override]
    def __setitem__(self, i: slice, value: bytes, /) -> None: ...
    @overload
    def __setitem__(self, i: SupportsIndex, value: bytes, /) -> None: ...
    def __getslice__(self, start: SupportsIndex, stop: SupportsIndex) -> bytes: ...  # type: ignore[override]
    def __setslice__(self, start: SupportsIndex, stop: SupportsIndex, values: bytes) -> None: ...  # type: ignore[override]
    value: bytes
    raw: bytes

@overload
def Value(typecode_or_type: type[_CT], *args: Any, lock: Literal[False], ctx: BaseContext | None = None) -> _CT: ...
@overload
def Value(
    typecode_or_type: _IntCode, *args: Any, lock: Literal[True] | _LockLike = True, ctx: BaseContext | None = None
) -> Synchronized[int]: ...
@overload
def Value(
    typecode_or_type: _FloatCode, *args: Any, lock: Literal[True] | _LockLike = True, ctx: BaseContext | None = None
) -> Synchronized[float]: ...
@overload
def Value(
    typecode_or_type: type[_SimpleCData[_T]], *args: Any, lock: Literal[True] | _LockLike = True,
    ctx: BaseContext | None = None,
) -> Synchronized[_T]: ...
@overload
def Value(
    typecode_or_type: str, *args: Any, lock: Literal[True] | _LockLike = True, ctx: BaseContext | None = None
) -> Synchronized[Any]: ...
@overload
def Value(
    typecode_or_type: str | type[_CData], *args: Any, lock: bool | _LockLike = True, ctx: BaseContext | None = None
) -> Any: ...

@overload
def Array(
    typecode_or_type: type[_CT], size_or_initializer: int | Sequence[Any], *, lock: Literal[False],
    ctx: BaseContext | None = None,
) -> _CT: ...
@overload
def Array(
    typecode_or_type: type[c_char] | Literal["c"], size_or_initializer: int | Sequence[Any], *,
    lock: Literal[True] | _LockLike = True, ctx: BaseContext | None = None,
) -> SynchronizedString: ...
@overload
def Array(
    typecode_or_type: _IntCode, size_or_initializer: int | Sequence[Any], *,
    lock: Literal[True] | _LockLike = True, ctx: BaseContext | None = None,
) -> SynchronizedArray[int]: ...
@overload
def Array(
    typecode_or_type: _FloatCode, size_or_initializer: int | Sequence[Any], *,
    lock: Literal[True] | _LockLike = True, ctx: BaseContext | None = None,
) -> SynchronizedArray[float]: ...
@overload
def Array(
    typecode_or_type: type[_SimpleCData[_T]], size_or_initializer: int | Sequence[Any], *,
    lock: Literal[True] | _LockLike = True, ctx: BaseContext | None = None,
) -> SynchronizedArray[_T]: ...
@overload
def Array(
    typecode_or_type: str, size_or_initializer: int | Sequence[Any], *,
    lock: Literal[True] | _LockLike = True, ctx: BaseContext | None = None,
) -> SynchronizedArray[Any]: ...
@overload
def Array(
    typecode_or_type: str | type[_CData], size_or_initializer: int | Sequence[Any], *,
    lock: bool | _LockLike = True, ctx: BaseContext | None = None,
) -> Any: ...

@overload
def synchronized(obj: _SimpleCData[_T], lock: _LockLike | None = None, ctx: Any | None = None) -> Synchronized[_T]: ...
@overload
def synchronized(obj: ctypes.Array[c_char], lock: _LockLike | None = None, ctx: Any | None = None) -> SynchronizedString: ...
@overload
def synchronized(
    obj: ctypes.Array[_SimpleCData[_T]], lock: _LockLike | None = None, ctx: Any | None = None
) -> SynchronizedArray[_T]: ...
@overload
def synchronized(obj: _CT, lock: _LockLike | None = None, ctx: Any | None = None) -> SynchronizedBase[_CT]: ...
