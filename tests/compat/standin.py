"""Load the running interpreter's own test._test_multiprocessing so that
every `multiprocessing` it names is cmp, as if its author had written
`import cmp as multiprocessing`.

Nothing is copied and sys.modules is left alone: the test module gets its
own `__builtins__` whose `__import__` answers `multiprocessing` and
`multiprocessing.X` with cmp (module-level imports and the imports inside
test functions alike).  The stdlib's own modules keep importing the real
multiprocessing, exactly as they do in a user's program.

A submodule cmp does not have yet (cmp/connection.py, ...) is taken from the
stdlib, as cmp's own module `__getattr__` does for top-level names; the
runner prints which ones.
"""
import builtins
import importlib
import importlib.util
import sys
import types

TEST_MODULE = 'test._test_multiprocessing'

# The stdlib's multiprocessing submodules a program may import.
SUBMODULES = (
    'connection', 'context', 'dummy', 'forkserver', 'heap', 'managers',
    'pool', 'popen_fork', 'popen_forkserver', 'popen_spawn_posix', 'process',
    'queues', 'reduction', 'resource_sharer', 'resource_tracker',
    'shared_memory', 'sharedctypes', 'spawn', 'synchronize', 'util',
)

# Submodules that resolved to the stdlib's because cmp lacks them.
fallbacks = []
# The package standing in: cmp, or another one given to run.py --module.
package = 'cmp'


def _cmp_submodule(name):
    """cmp's submodule `name` ('pool', 'dummy.connection'), else the stdlib's."""
    wanted = package + '.' + name
    try:
        return importlib.import_module(wanted)
    except ModuleNotFoundError as e:
        if not (e.name == wanted or wanted.startswith(str(e.name) + '.')):
            raise           # cmp's module is there but imports what is not
    if name not in fallbacks:
        fallbacks.append(name)
    return importlib.import_module('multiprocessing.' + name)


class CmpAsMultiprocessing(types.ModuleType):
    """`multiprocessing` as the test module sees it: cmp's names, and cmp's
    submodules (the stdlib's where cmp has none)."""

    def __init__(self, cmp):
        super().__init__('multiprocessing', cmp.__doc__)
        object.__setattr__(self, '_cmp', cmp)

    def __getattr__(self, name):
        if name in SUBMODULES:
            return _cmp_submodule(name)
        return getattr(self._cmp, name)

    def __setattr__(self, name, value):
        setattr(self._cmp, name, value)

    def __repr__(self):
        return "<module %r standing in for 'multiprocessing'>" % package

    def __dir__(self):
        return sorted(set(dir(self._cmp)) | set(SUBMODULES))


def _make_import(standin):
    real_import = builtins.__import__

    def cmp_import(name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0 and (name == 'multiprocessing'
                           or name.startswith('multiprocessing.')):
            if name == 'multiprocessing':
                return standin
            # `import multiprocessing.X` binds the package (X imported, so
            # that `multiprocessing.X` works); `from multiprocessing.X
            # import Y` wants X.
            module = _cmp_submodule(name.split('.', 1)[1])
            return module if fromlist else standin
        return real_import(name, globals, locals, fromlist, level)

    return cmp_import


def load_test_module(impl):
    """The test module, its `multiprocessing` being cmp (impl == 'cmp') or
    the stdlib (impl == 'stdlib')."""
    if impl == 'stdlib':
        return importlib.import_module(TEST_MODULE)
    standin = CmpAsMultiprocessing(importlib.import_module(package))
    spec = importlib.util.find_spec(TEST_MODULE)
    module = importlib.util.module_from_spec(spec)
    own_builtins = dict(builtins.__dict__)
    own_builtins['__import__'] = _make_import(standin)
    module.__dict__['__builtins__'] = own_builtins
    sys.modules[TEST_MODULE] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[TEST_MODULE]
        raise
    return module
