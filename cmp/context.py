"""cmp's contexts: the stdlib's context API, whose factories build cmp's
objects under every start method.

- ``ForkContext``, ``SpawnContext`` and ``ForkServerContext`` subclass the
  stdlib's, so stdlib code that takes a ``ctx=`` accepts them.  Their
  factories build cmp's objects: the primitives of cmp.synchronize, the
  shared values of cmp.sharedctypes, the queues of cmp.queues and the Pool
  of cmp.pool.  Every object lives in the one arena of the process tree.
- Their processes: the stdlib's ForkProcess; cmp's SpawnProcess, a fresh
  interpreter that joins its parent's arena before it runs anything
  (cmp.popen_spawn_posix, cmp.spawn); cmp's ForkServerProcess, forked by
  cmp's fork server, which joined the arena when it started
  (cmp.popen_forkserver, cmp.forkserver).
- ``DefaultContext`` keeps no start method of its own: it reads the
  stdlib's default context every time, so setting the method through cmp
  or the stdlib is one setting, the default is the interpreter's (fork up
  to 3.13, forkserver from 3.14), and in a child it is what the stdlib set
  there.  Its factories build what cmp's context of the current method
  builds.

Everything else (Pipe, the logging helpers, cpu_count, the exceptions,
current_process ...) is the stdlib's.
"""
import importlib
import os

from multiprocessing import context as _stdlib

from . import _core
from ._mirror import mirror as _mirror
from ._reduce import fork_made as _fork_made

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

    def set_forkserver_preload(self, module_names):
        '''Set list of module names to try to load in forkserver process.
        This is really just a hint.
        '''
        _own.forkserver.set_forkserver_preload(module_names)


class _Factories:
    """The factories of cmp's concrete contexts: cmp's objects, all in the
    one arena of the process tree, whatever the start method.  An object
    built by the fork context is remembered as such: passing it to a
    spawn or forkserver process at its start raises the stdlib's
    RuntimeError, as the stdlib's fork-context objects do (through a
    queue, later, it may go anywhere in the tree)."""

    def _made(self, obj):
        if self._name == 'fork':
            _fork_made.add(obj)
        return obj

    def Lock(self):
        '''Returns a non-recursive lock object'''
        return self._made(_own.synchronize.Lock(ctx=self.get_context()))

    def RLock(self):
        '''Returns a recursive lock object'''
        return self._made(_own.synchronize.RLock(ctx=self.get_context()))

    def Condition(self, lock=None):
        '''Returns a condition object'''
        return self._made(_own.synchronize.Condition(lock, ctx=self.get_context()))

    def Semaphore(self, value=1):
        '''Returns a semaphore object'''
        return self._made(_own.synchronize.Semaphore(value, ctx=self.get_context()))

    def BoundedSemaphore(self, value=1):
        '''Returns a bounded semaphore object'''
        return self._made(_own.synchronize.BoundedSemaphore(
            value, ctx=self.get_context()))

    def Event(self):
        '''Returns an event object'''
        return self._made(_own.synchronize.Event(ctx=self.get_context()))

    def Barrier(self, parties, action=None, timeout=None):
        '''Returns a barrier object'''
        return self._made(_own.synchronize.Barrier(parties, action, timeout,
                                                   ctx=self.get_context()))

    def Queue(self, maxsize=0):
        '''Returns a queue object'''
        return self._made(_own.queues.Queue(maxsize, ctx=self.get_context()))

    def JoinableQueue(self, maxsize=0):
        '''Returns a queue object'''
        return self._made(_own.queues.JoinableQueue(maxsize, ctx=self.get_context()))

    def SimpleQueue(self):
        '''Returns a queue object'''
        return self._made(_own.queues.SimpleQueue(ctx=self.get_context()))

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

    def Dict(self, other=(), /, **kwargs):
        '''Returns a dict shared by every process of the tree (cmp.shareddict)'''
        return _own.shareddict.Dict(other, **kwargs)


class ForkContext(_Factories, BaseContext, _stdlib.ForkContext):
    """cmp's fork context: forked processes sharing cmp's objects."""
    _name = 'fork'
    Process = _stdlib.ForkProcess


class SpawnProcess(_stdlib.SpawnProcess):
    """A process started by spawn: a fresh interpreter that joins the
    arena of its parent before it unpickles anything (cmp.popen_spawn_posix)."""
    _start_method = 'spawn'

    @staticmethod
    def _Popen(process_obj):
        return _own.popen_spawn_posix.Popen(process_obj)

    @staticmethod
    def _after_fork():
        # A spawned child ends with sys.exit, and atexit lets go of its
        # objects; the last finalizer does it too, in case its run ends
        # the process another way.
        _core._register_child_exit()


class SpawnContext(_Factories, BaseContext, _stdlib.SpawnContext):
    """cmp's spawn context: spawned processes sharing cmp's objects."""
    _name = 'spawn'
    Process = SpawnProcess


class ForkServerProcess(_stdlib.ForkServerProcess):
    """A process forked by cmp's fork server, which joined the arena of the
    process that started it (cmp.forkserver)."""
    _start_method = 'forkserver'

    @staticmethod
    def _Popen(process_obj):
        return _own.popen_forkserver.Popen(process_obj)


class ForkServerContext(_Factories, BaseContext, _stdlib.ForkServerContext):
    """cmp's forkserver context: processes forked by cmp's fork server,
    sharing cmp's objects."""
    _name = 'forkserver'
    Process = ForkServerProcess


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
    """The context behind the cmp namespace.  The start method is the
    stdlib's one setting, read whenever it is needed and never copied: it
    can be chosen at most once (again with force=True), through cmp or the
    stdlib; until then it is the running interpreter's default; and in a
    child it is what the stdlib sets there (its parent's method, then the
    method that started it).  The factories build what cmp's context of
    that method builds."""
    Process = Process

    def __init__(self, context):
        # Where the start method is kept: the stdlib's default context for
        # cmp's (one setting for both), a private one for any other.
        if not isinstance(context, _stdlib.DefaultContext):
            context = _stdlib.DefaultContext(_stdlib._concrete_contexts[context._name])
        self._state = context

    _default_context = property(
        lambda self: _concrete_contexts[self._state._default_context._name],
        doc="cmp's context of the default start method.")

    @property
    def _actual_context(self):
        """cmp's context of the start method set, or None."""
        method = self._state.get_start_method(allow_none=True)
        return None if method is None else _concrete_contexts[method]

    def get_context(self, method=None):
        """get_context(method=None) -> the current context, or the one of method."""
        if method is not None:
            return super().get_context(method)
        return _concrete_contexts[self._state.get_start_method()]

    def set_start_method(self, method, force=False):
        """set_start_method(method, force=False) -> None"""
        if method is not None:
            self.get_context(method)        # ValueError for an unknown one
        self._state.set_start_method(method, force)

    def get_start_method(self, allow_none=False):
        """get_start_method(allow_none=False) -> the current start method."""
        return self._state.get_start_method(allow_none)

    def get_all_start_methods(self):
        """Returns a list of the supported start methods, default first."""
        return self._state.get_all_start_methods()

    # The factories build what the current start method's context builds.

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

    def Dict(self, other=(), /, **kwargs):
        '''Returns a dict shared by every process of the tree (cmp.shareddict)'''
        return self.get_context().Dict(other, **kwargs)


_concrete_contexts = {
    'fork': ForkContext(),
    'spawn': SpawnContext(),
    'forkserver': ForkServerContext(),
}
# -- Ray: get_context('ray') (cmp/raypool.py, which imports Ray only when used) --
from .raycontext import RayContext as _RayContext  # noqa: E402
_concrete_contexts['ray'] = _RayContext()
_default_context = DefaultContext(_stdlib._default_context)


def _force_start_method(method):
    _stdlib._force_start_method(method)


__getattr__, __dir__ = _mirror(globals(), _stdlib)
