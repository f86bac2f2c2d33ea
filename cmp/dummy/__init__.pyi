# cmp re-exports the stdlib's module under its own name: the stdlib's types.
from multiprocessing.dummy import *
from multiprocessing.dummy import __all__ as __all__
from multiprocessing.dummy import (
    Array as Array,
    DummyProcess as DummyProcess,
    Namespace as Namespace,
    Value as Value,
    shutdown as shutdown,
)

from . import connection as connection
