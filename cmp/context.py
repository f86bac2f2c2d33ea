"""cmp's contexts: the stdlib's context API, with cmp's fork context as the
default start method on every Python version.

- ``ForkContext`` is cmp's fork context.  It subclasses the stdlib's
  ForkContext, so stdlib code that takes a ``ctx=`` accepts it; its
  processes are the stdlib's ForkProcess; its factories build cmp's
  objects: the primitives of cmp.synchronize, the shared values of
  cmp.sharedctypes, the queues of cmp.queues and the Pool of cmp.pool.
- ``get_context('spawn')`` and ``get_context('forkserver')`` return the
  stdlib's own contexts, which build the stdlib's objects: cmp's objects
  live in an arena that only forked processes map.
- ``DefaultContext`` works like the stdlib's (the start method can be set
  once, or again with ``force=True``), but its default is cmp's fork
  context, also on versions where the stdlib's default is forkserver.  Its
  factories build what the context of the current start method builds.
  Setting the start method sets the stdlib's too, so what the stdlib starts
  for the program (a spawned child, concurrent.futures' default context)
  uses the same method, and a spawned child's cmp starts with its parent's.

Everything else (Pipe, the logging helpers, cpu_count, the exceptions,
current_process ...) is the stdlib's.
"""
import importlib
import os

from multiprocessing import context as _stdlib
from multiprocessing import reduction as _reduction

from ._mirror import mirror as _mirror

__all__ = ()


class _Lazily:
    """cmp's modules that build objects, each imported when a factory first
    needs it: they are rewritten independently and import this module."""

    def __getattr__(self, name):
        module = importlib.import_module('cmp.' + name)
        setattr(self, name, module)     # from now on a plain attribute
        return module


_own = _Lazily()


class BaseContext(_stdlib.BaseContext):
    """The stdlib's BaseContext, with cmp's table of start methods."""

    def get_context(self, method=None):
        """get_context(method=None) -> this context, or the one of method."""
        if method is None:
            return self
        try:
            ctx = _concrete_contexts[method]
        except KeyError:
            raise ValueError('cannot find context for %r' % method) from None
        ctx._check_available()
        return ctx

    def Manager(self):
        '''Returns a manager associated with a running server process

        The managers methods such as `Lock()`, `Condition()` and `Queue()`
        can be used to create shared objects.
        '''
        manager = _own.managers.SyncManager(ctx=self.get_context())
        manager.start()
        return manager


class ForkContext(BaseContext, _stdlib.ForkContext):
    """cmp's fork context: forked processes sharing cmp's objects."""
    _name = 'fork'
    Process = _stdlib.ForkProcess

    def Lock(self):
        '''Returns a non-recursive lock object'''
        return _own.synchronize.Lock(ctx=self.get_context())

    def RLock(self):
        '''Returns a recursive lock object'''
        return _own.synchronize.RLock(ctx=self.get_context())

    def Condition(self, lock=None):
        '''Returns a condition object'''
        return _own.synchronize.Condition(lock, ctx=self.get_context())

    def Semaphore(self, value=1):
        '''Returns a semaphore object'''
        return _own.synchronize.Semaphore(value, ctx=self.get_context())

    def BoundedSemaphore(self, value=1):
        '''Returns a bounded semaphore object'''
        return _own.synchronize.BoundedSemaphore(value, ctx=self.get_context())

    def Event(self):
        '''Returns an event object'''
        return _own.synchronize.Event(ctx=self.get_context())

    def Barrier(self, parties, action=None, timeout=None):
        '''Returns a barrier object'''
        return _own.synchronize.Barrier(parties, action, timeout,
                                        ctx=self.get_context())

    def Queue(self, maxsize=0):
        '''Returns a queue object'''
        return _own.queues.Queue(maxsize, ctx=self.get_context())

    def JoinableQueue(self, maxsize=0):
        '''Returns a queue object'''
        return _own.queues.JoinableQueue(maxsize, ctx=self.get_context())

    def SimpleQueue(self):
        '''Returns a queue object'''
        return _own.queues.SimpleQueue(ctx=self.get_context())

    def Pool(self, processes=None, initializer=None, initargs=(),
             maxtasksperchild=None, *, ray_address=None):
        '''Returns a process pool object'''
        return _own.pool.Pool(processes, initializer, initargs,
                              maxtasksperchild, context=self.get_context(),
                              ray_address=ray_address)

    def RawValue(self, typecode_or_type, *args):
        '''Returns a shared object'''
        return _own.sharedctypes.RawValue(typecode_or_type, *args)

    def RawArray(self, typecode_or_type, size_or_initializer):
        '''Returns a shared array'''
        return _own.sharedctypes.RawArray(typecode_or_type, size_or_initializer)

    def Value(self, typecode_or_type, *args, lock=True):
        '''Returns a synchronized shared object'''
        return _own.sharedctypes.Value(typecode_or_type, *args, lock=lock,
                                       ctx=self.get_context())

    def Array(self, typecode_or_type, size_or_initializer, *, lock=True):
        '''Returns a synchronized shared array'''
        return _own.sharedctypes.Array(typecode_or_type, size_or_initializer,
                                       lock=lock, ctx=self.get_context())


class Process(_stdlib.Process):
    """cmp.Process: the stdlib's Process, started with cmp's current start
    method (cmp.get_start_method())."""
    _start_method = None

    @staticmethod
    def _Popen(process_obj):
        return _default_context.get_context().Process._Popen(process_obj)

    if hasattr(_stdlib.Process, '_after_fork'):     # Python 3.10 and later
        @staticmethod
        def _after_fork():
            return _default_context.get_context().Process._after_fork()


class DefaultContext(BaseContext, _stdlib.DefaultContext):
    """The context behind the cmp namespace: the start method is chosen
    at most once (again with force=True); until then it is fork, cmp's."""
    Process = Process

    def get_context(self, method=None):
        """get_context(method=None) -> the current context, or the one of method."""
        if method is not None:
            return super().get_context(method)
        if self._actual_context is None:
            self._actual_context = self._default_context
        return self._actual_context

    def set_start_method(self, method, force=False):
        """set_start_method(method, force=False) -> None"""
        if self._actual_context is not None and not force:
            raise RuntimeError('context has already been set')
        if method is None and force:
            self._actual_context = None
        else:
            self._actual_context = self.get_context(method)
        # The program's start method is one setting: what the stdlib builds
        # for it (concurrent.futures, a spawned child's preparation data,
        # which the child's cmp reads back at import) follows it too.
        _stdlib._default_context.set_start_method(
            self.get_start_method(allow_none=True), force=True)

    def get_start_method(self, allow_none=False):
        """get_start_method(allow_none=False) -> the current start method."""
        if self._actual_context is None and allow_none:
            return None
        return self.get_context()._name

    def get_all_start_methods(self):
        """Returns a list of the supported start methods, default first."""
        methods = ['fork', 'spawn']
        if _reduction.HAVE_SEND_HANDLE:
            methods.append('forkserver')
        return methods

    # The factories build what the current start method's context builds:
    # cmp's objects under fork, the stdlib's under spawn and forkserver.

    def Lock(self):
        '''Returns a non-recursive lock object'''
        return self.get_context().Lock()

    def RLock(self):
        '''Returns a recursive lock object'''
        return self.get_context().RLock()

    def Condition(self, lock=None):
        '''Returns a condition object'''
        return self.get_context().Condition(lock)

    def Semaphore(self, value=1):
        '''Returns a semaphore object'''
        return self.get_context().Semaphore(value)

    def BoundedSemaphore(self, value=1):
        '''Returns a bounded semaphore object'''
        return self.get_context().BoundedSemaphore(value)

    def Event(self):
        '''Returns an event object'''
        return self.get_context().Event()

    def Barrier(self, parties, action=None, timeout=None):
        '''Returns a barrier object'''
        return self.get_context().Barrier(parties, action, timeout)

    def Queue(self, maxsize=0):
        '''Returns a queue object'''
        return self.get_context().Queue(maxsize)

    def JoinableQueue(self, maxsize=0):
        '''Returns a queue object'''
        return self.get_context().JoinableQueue(maxsize)

    def SimpleQueue(self):
        '''Returns a queue object'''
        return self.get_context().SimpleQueue()

    def Pool(self, processes=None, initializer=None, initargs=(),
             maxtasksperchild=None, *, ray_address=None):
        '''Returns a process pool object'''
        # -- Ray: the keyword or CMP_RAY_ADDRESS (cmp/raypool.py) --
        if ray_address or os.environ.get('CMP_RAY_ADDRESS'):
            return _own.pool.Pool(processes, initializer, initargs,
                                  maxtasksperchild, ray_address=ray_address)
        return self.get_context().Pool(processes, initializer, initargs,
                                       maxtasksperchild)

    def RawValue(self, typecode_or_type, *args):
        '''Returns a shared object'''
        return self.get_context().RawValue(typecode_or_type, *args)

    def RawArray(self, typecode_or_type, size_or_initializer):
        '''Returns a shared array'''
        return self.get_context().RawArray(typecode_or_type, size_or_initializer)

    def Value(self, typecode_or_type, *args, lock=True):
        '''Returns a synchronized shared object'''
        return self.get_context().Value(typecode_or_type, *args, lock=lock)

    def Array(self, typecode_or_type, size_or_initializer, *, lock=True):
        '''Returns a synchronized shared array'''
        return self.get_context().Array(typecode_or_type, size_or_initializer,
                                        lock=lock)


# The stdlib's spawn and forkserver contexts (whichever this platform has),
# and cmp's fork context.
_concrete_contexts = dict(_stdlib._concrete_contexts, fork=ForkContext())
# -- Ray: get_context('ray') (cmp/raypool.py, which imports Ray only when used) --
from .raycontext import RayContext as _RayContext  # noqa: E402
_concrete_contexts['ray'] = _RayContext()
_default_context = DefaultContext(_concrete_contexts['fork'])


def _force_start_method(method):
    _default_context._actual_context = _concrete_contexts[method]


# A process started by spawn or forkserver was told its parent's start method
# before it imported anything of the program: keep it.
if _stdlib._default_context.get_start_method(allow_none=True) in ('spawn', 'forkserver'):
    _force_start_method(_stdlib._default_context.get_start_method())


__getattr__, __dir__ = _mirror(globals(), _stdlib)
