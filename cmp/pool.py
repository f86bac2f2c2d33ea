"""Placeholder until cmp's own Pool lands: the stdlib's pool module."""
from multiprocessing.pool import *  # noqa: F401,F403
from multiprocessing.pool import (  # noqa: F401
    Pool, ThreadPool, AsyncResult, ApplyResult, MapResult, IMapIterator,
    IMapUnorderedIterator, RemoteTraceback, ExceptionWithTraceback,
    MaybeEncodingError, worker, mapstar, starmapstar)
