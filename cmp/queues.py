"""Placeholder until cmp's ring-based queues land: the stdlib's queues,
built from cmp's context (its locks and semaphores)."""
from multiprocessing.queues import *  # noqa: F401,F403
from multiprocessing.queues import Queue, SimpleQueue, JoinableQueue  # noqa: F401
