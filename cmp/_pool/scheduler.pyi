# The pool's scheduler (internal): no threads, no file descriptors.
from collections import deque
from typing import Any, Callable

class Task:
    job: Any
    idx: int | range
    data: Any
    timeout: float | None
    def __init__(self, job: Any, idx: int | range, data: Any,
                 timeout: float | None = ...) -> None: ...
    def count(self) -> int: ...

class Done:
    job: Any
    idx: int | range
    payload: bytes | None
    obj: Any
    def __init__(self, job: Any, idx: int | range, payload: bytes | None,
                 obj: Any = ...) -> None: ...

class Worker:
    link: Any
    fifo: deque[Task]
    inbox: list[bytes]
    assigned: int
    head_start: float
    service: float
    killed: BaseException | None
    stopping: bool
    proc: Any
    pid: int | None
    name: str | None
    pidfd: int | None
    hung_up: bool
    def __init__(self, link: Any, proc: Any = ..., pidfd: int | None = ...) -> None: ...
    def room(self, maxtasks: int | None) -> int | None: ...

class Scheduler:
    maxtasks: int | None
    workers: list[Worker]
    pending: deque[Task]
    done: deque[Done]
    timed: int
    def __init__(self, maxtasks: int | None,
                 clock: Callable[[], float] = ...) -> None: ...
    def submit(self, tasks: list[Task]) -> bool: ...
    def dispatch(self) -> bool: ...
    def steal(self) -> None: ...
    def answered(self, w: Worker, now: float) -> None: ...
    def reap(self, w: Worker, lost: BaseException) -> None: ...
    def remove(self, w: Worker) -> None: ...
    def stop_idle(self) -> None: ...
    def due(self, within: float) -> list[Any]: ...
    def check_timeouts(self) -> tuple[list[Worker], float | None]: ...
