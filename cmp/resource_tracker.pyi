# cmp re-exports the stdlib's module under its own name: the stdlib's types.
from multiprocessing.resource_tracker import *
from multiprocessing.resource_tracker import __all__ as __all__
from multiprocessing.resource_tracker import (
    ResourceTracker as ResourceTracker,
    getfd as getfd,
    main as main,
)
