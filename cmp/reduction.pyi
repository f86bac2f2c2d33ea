# cmp re-exports the stdlib's module under its own name: the stdlib's types.
from multiprocessing.reduction import *
from multiprocessing.reduction import __all__ as __all__
from multiprocessing.reduction import (
    HAVE_SEND_HANDLE as HAVE_SEND_HANDLE,
    AbstractReducer as AbstractReducer,
)
