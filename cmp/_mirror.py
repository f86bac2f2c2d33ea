"""Re-exporting a stdlib multiprocessing module under cmp's name.

Most of the stdlib's submodules gain nothing from cmp; users still import
them as ``cmp.X`` once they have written ``import cmp as multiprocessing``.
Such a module calls ``mirror(globals(), stdlib_module)`` after defining what
cmp changes:

- every public name of the stdlib module (classes, functions, constants)
  that the cmp module does not define itself is copied in, so that
  ``from cmp.X import name``, ``dir(cmp.X)`` and static readers see it;
- ``__all__`` is the stdlib's, unless the cmp module set its own;
- every other name (private state such as ``util._exiting`` or
  ``process._current_process``, the modules it imported) is read from the
  stdlib module when asked for, so that it is always the live value and
  never a copy taken at import time.
"""
import types


def mirror(namespace, module):
    """mirror(namespace, module) -> (__getattr__, __dir__) for namespace."""
    for name, value in vars(module).items():
        if not name.startswith('_') and not isinstance(value, types.ModuleType):
            namespace.setdefault(name, value)
    if '__all__' not in namespace and hasattr(module, '__all__'):
        namespace['__all__'] = list(module.__all__)
    own_name = namespace['__name__']

    def __getattr__(name):
        if not (name.startswith('__') and name.endswith('__')):
            try:
                return getattr(module, name)
            except AttributeError:
                pass
        raise AttributeError('module %r has no attribute %r' % (own_name, name))

    def __dir__():
        return sorted(set(namespace) | set(dir(module)))

    return __getattr__, __dir__
