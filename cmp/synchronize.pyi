# cmp.synchronize: cmp's own primitives, typed as the stdlib's (same methods,
# same signatures), plus the warning of a lock taken over from a dead owner.
from multiprocessing.synchronize import *
from multiprocessing.synchronize import Barrier as Barrier

from ._core import OwnerDiedWarning as OwnerDiedWarning

SEM_VALUE_MAX: int

__all__ = ["Lock", "RLock", "Semaphore", "BoundedSemaphore", "Condition", "Event", "Barrier", "OwnerDiedWarning"]
