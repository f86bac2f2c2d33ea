"""cmp.get_context('ray'): a Pool and a Queue on a Ray cluster.

The cluster is the one CMP_RAY_ADDRESS names, else the one ``ray.init()``
finds (RAY_ADDRESS, a cluster started here with ``ray start``) or starts.
Only the pool and the queue cross machines: the factories of objects that
live in one machine's shared memory raise NotImplementedError saying what to
use instead.  Nothing here imports Ray until a factory is called (see
cmp/raypool.py).
"""
import importlib
import os

from .context import BaseContext


def _raypool():
    return importlib.import_module('cmp.raypool')


def _no_cluster_wide(name):
    def factory(self, *args, **kwds):
        raise NotImplementedError(
            "cmp has no %s that works across the machines of a Ray cluster "
            "(cmp.%s lives in one machine's shared memory); use "
            "cmp.get_context('ray').Queue(), a Ray actor or ray.put()" % (name, name))
    factory.__name__ = factory.__qualname__ = name
    return factory


class RayContext(BaseContext):
    """The context of cmp's pool and queue on a Ray cluster."""
    _name = 'ray'

    def _check_available(self):
        _raypool().import_ray()

    @staticmethod
    def _address():
        return os.environ.get(_raypool().ENV) or None

    def Pool(self, processes=None, initializer=None, initargs=(),
             maxtasksperchild=None):
        '''Returns a process pool object'''
        return _raypool().RayPool(processes, initializer, initargs,
                                  maxtasksperchild, ray_address=self._address())

    def Queue(self, maxsize=0):
        '''Returns a queue object'''
        return _raypool().Queue(maxsize, ray_address=self._address())

    for _factory in ('Lock', 'RLock', 'Condition', 'Semaphore', 'BoundedSemaphore',
                     'Event', 'Barrier', 'JoinableQueue', 'SimpleQueue',
                     'RawValue', 'RawArray', 'Value', 'Array', 'Manager'):
        locals()[_factory] = _no_cluster_wide(_factory)
    del _factory
