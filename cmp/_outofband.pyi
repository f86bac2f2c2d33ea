# How cmp pickles a message: large buffers out of band, in the arena.
from typing import Final

THRESHOLD: Final[int]

def dumps(obj: object) -> bytes | memoryview: ...
def pool_dumps(obj: object, protocol: int | None = None) -> bytes: ...
