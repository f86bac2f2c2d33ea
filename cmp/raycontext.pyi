# cmp.get_context('ray'): cmp's Pool and a cluster-wide Queue on Ray.
from collections.abc import Callable, Iterable
from typing import Any

from .context import BaseContext
from .raypool import Queue, RayPool

class RayContext(BaseContext):
    def Pool(  # type: ignore[override]
        self,
        processes: int | None = None,
        initializer: Callable[..., object] | None = None,
        initargs: Iterable[Any] = (),
        maxtasksperchild: int | None = None,
    ) -> RayPool: ...
    def Queue(self, maxsize: int = 0) -> Queue: ...  # type: ignore[override]
