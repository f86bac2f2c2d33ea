# cmp re-exports the stdlib's module under its own name: the stdlib's types.
from multiprocessing.forkserver import *
from multiprocessing.forkserver import __all__ as __all__
from multiprocessing.forkserver import (
    MAXFDS_TO_SEND as MAXFDS_TO_SEND,
    SIGNED_STRUCT as SIGNED_STRUCT,
    ForkServer as ForkServer,
    main as main,
    read_signed as read_signed,
    write_signed as write_signed,
)
