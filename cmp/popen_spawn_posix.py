"""cmp.popen_spawn_posix: the Popen of cmp's spawn context.

The stdlib's Popen, with cmp's command line (cmp.spawn.get_command_line):
the child gets the arena's memfd beside the resource tracker's fd and its
pipe, at the same number, and joins the arena before it reads anything
from the pipe.  The memfd stays close-on-exec here: only this child gets
it.
"""
import os

from multiprocessing import popen_spawn_posix as _stdlib
from multiprocessing import resource_tracker as _resource_tracker
from multiprocessing import util as _util
from multiprocessing.popen_spawn_posix import *  # noqa: F401,F403

from . import _cmp
from . import spawn as _spawn
from ._mirror import mirror as _mirror

__all__ = ['Popen']


class Popen(_stdlib.Popen):
    """Starts a fresh interpreter that joins this process's arena."""
    _cmp_shares_arena = True

    def _launch(self, process_obj):
        tracker_fd = _resource_tracker.getfd()
        self._fds += [tracker_fd, _cmp._arena_fd()]
        data = _spawn.start_data(self, process_obj)
        self.pid = None
        try:
            self._start(data, tracker_fd)
        finally:
            _spawn.started(self)

    def _start(self, data, tracker_fd):
        ours = []           # the parent's ends, kept until the child is gone
        theirs = []         # the child's ends, closed here once it started
        try:
            reader, child_w = os.pipe()
            ours.append(reader)
            theirs.append(child_w)
            child_r, writer = os.pipe()
            theirs.append(child_r)
            ours.append(writer)
            cmd = _spawn.get_command_line(tracker_fd=tracker_fd,
                                          pipe_handle=child_r)
            self._fds += theirs
            self.pid = _util.spawnv_passfds(_spawn.get_executable(), cmd,
                                            self._fds)
            self.sentinel = reader
            with open(writer, 'wb', closefd=False) as f:
                f.write(data.getbuffer())
        finally:
            self.finalizer = _util.Finalize(self, _util.close_fds, ours)
            for fd in theirs:
                os.close(fd)


__getattr__, __dir__ = _mirror(globals(), _stdlib)
