"""cmp.popen_forkserver: the Popen of cmp's forkserver context.

The stdlib's Popen, asking cmp's fork server (cmp.forkserver) for the new
process: that server maps the arena, so the process it forks does too.
"""
import os

from multiprocessing import popen_forkserver as _stdlib
from multiprocessing import util as _util
from multiprocessing.popen_forkserver import *  # noqa: F401,F403

from . import forkserver as _forkserver
from . import spawn as _spawn
from ._mirror import mirror as _mirror

__all__ = ['Popen']


class Popen(_stdlib.Popen):
    """A process forked by cmp's fork server."""
    _cmp_shares_arena = True

    def _launch(self, process_obj):
        data = _spawn.start_data(self, process_obj)
        self.pid = None
        try:
            self._start(data)
        finally:
            _spawn.started(self)

    def _start(self, data):
        self.sentinel, writer = _forkserver.connect_to_new_process(self._fds)
        # The child watches a copy of the data pipe's write end to learn
        # that this process is gone.
        keep = os.dup(writer)
        self.finalizer = _util.Finalize(self, _util.close_fds, (keep, self.sentinel))
        with open(writer, 'wb', closefd=True) as f:
            f.write(data.getbuffer())
        self.pid = _stdlib.forkserver.read_signed(self.sentinel)


__getattr__, __dir__ = _mirror(globals(), _stdlib)
