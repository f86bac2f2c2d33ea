# cmp re-exports the stdlib's module under its own name: the stdlib's types.
import sys

from multiprocessing.util import *
from multiprocessing.util import __all__ as __all__
from multiprocessing.util import (
    DEBUG as DEBUG,
    DEFAULT_LOGGING_FORMAT as DEFAULT_LOGGING_FORMAT,
    INFO as INFO,
    LOGGER_NAME as LOGGER_NAME,
    MAXFD as MAXFD,
    NOTSET as NOTSET,
    SUBDEBUG as SUBDEBUG,
    SUBWARNING as SUBWARNING,
    abstract_sockets_supported as abstract_sockets_supported,
    is_abstract_socket_namespace as is_abstract_socket_namespace,
    spawnv_passfds as spawnv_passfds,
)

if sys.version_info >= (3, 14):
    from multiprocessing.util import WARNING as WARNING, warn as warn
