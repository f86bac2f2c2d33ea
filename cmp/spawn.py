"""cmp.spawn: the stdlib's multiprocessing.spawn, with the command line of
a child that joins cmp's arena.

A process that cmp's spawn context starts runs::

    python [flags] -c 'import sys; sys.path.insert(0, DIR); import cmp;
        sys.path.remove(DIR); from multiprocessing.spawn import spawn_main;
        spawn_main(tracker_fd=T, pipe_handle=P)' --multiprocessing-fork
        --cmp-arena=FD:TOKEN

DIR is the directory holding this cmp package, so the child imports the
very cmp its parent runs even when the parent found it through a sys.path
entry the child lacks; it is taken off again at once (the child's sys.path
is then its parent's, as the stdlib sets it).  Importing cmp joins the
arena whose memfd the child got as fd FD (cmp/_core.py), before the
stdlib's spawn_main unpickles anything.  cmp's fork server starts the same
way (cmp.forkserver).
"""
import io
import os

from multiprocessing import reduction as _reduction
from multiprocessing import spawn as _stdlib
from multiprocessing import util as _util
from multiprocessing.context import set_spawning_popen as _set_spawning_popen
from multiprocessing.spawn import *  # noqa: F401,F403

from . import _cmp
from . import _core
from ._mirror import mirror as _mirror

_HOME = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def python_command(code, *args):
    """The argv that runs `code` with ``python -c`` in a fresh interpreter
    that has joined this process's arena first; the arena's memfd must be
    passed to it at the same number (cmp._cmp._arena_fd())."""
    prog = ('import sys; sys.path.insert(0, %r); import cmp; '
            'sys.path.remove(%r); %s' % (_HOME, _HOME, code))
    return ([get_executable()] + _util._args_from_interpreter_flags() +
            ['-c', prog] + list(args) + [_core.arena_argument()])


def start_data(popen, process_obj):
    """What a new process reads first, pickled while `popen` is the spawning
    one (so objects can check where they go): the preparation data, then
    the process object."""
    data = io.BytesIO()
    # The references pickled here are counted for the new process in a
    # start entry of the process table (csrc/proc.h): the child adopts
    # them, and if it dies before it does they come back all the same.
    entry = _cmp._start_begin()
    _set_spawning_popen(popen)
    try:
        _reduction.dump(get_preparation_data(process_obj._name), data)
        _reduction.dump(process_obj, data)
    except BaseException:
        _cmp._start_abandon(entry)
        raise
    finally:
        _set_spawning_popen(None)
    popen._cmp_entry = _cmp._start_end(entry)
    return data


def started(popen):
    """The process popen started runs as popen.pid (None: it did not
    start): name it in its start entry, or give that entry back."""
    entry, popen._cmp_entry = getattr(popen, '_cmp_entry', None), None
    if getattr(popen, 'pid', None) is None:
        _cmp._start_abandon(entry)
    else:
        _cmp._start_named(entry, popen.pid)


def get_command_line(**kwds):
    '''
    Returns prefix of command line used for spawning a child process
    '''
    code = 'from multiprocessing.spawn import spawn_main; spawn_main(%s)' % (
        ', '.join('%s=%r' % item for item in kwds.items()))
    return python_command(code, '--multiprocessing-fork')


__getattr__, __dir__ = _mirror(globals(), _stdlib)
