"""cmp.forkserver: the stdlib's multiprocessing.forkserver, with cmp's own
fork server.

cmp's fork server is the stdlib's server program (multiprocessing.forkserver
.main), started with cmp's command line (cmp.spawn.python_command): it gets
the arena's memfd with its start and joins the arena before it preloads
anything, so every process it forks maps the arena of the program that
started it.  Its socket is in the abstract namespace (nothing in the file
system), as the stdlib's.  The stdlib's own fork server, which
multiprocessing.get_context('forkserver') uses, is left alone.
"""
import os
import socket

from multiprocessing import connection as _connection
from multiprocessing import forkserver as _stdlib
from multiprocessing import resource_tracker as _resource_tracker
from multiprocessing import util as _util
from multiprocessing.forkserver import *  # noqa: F401,F403

from . import _cmp
from . import spawn as _spawn
from ._mirror import mirror as _mirror

# Only what the server needs to import its preloaded modules, as the stdlib
# sends it.
_SERVER_DATA = ('main_path', 'sys_path')


class ForkServer(_stdlib.ForkServer):
    """A fork server whose process maps cmp's arena."""

    def ensure_running(self):
        '''Make sure that a fork server is running.

        This can be called from any process.  Note that usually a child
        process will just reuse the forkserver started by its parent, so
        ensure_running() will do nothing.
        '''
        with self._lock:
            _resource_tracker.ensure_running()
            if self._forkserver_pid is not None:
                pid, _ = os.waitpid(self._forkserver_pid, os.WNOHANG)
                if not pid:
                    return              # still serving
                os.close(self._forkserver_alive_fd)
                self._forkserver_address = None
                self._forkserver_alive_fd = None
                self._forkserver_pid = None
            self._start_server()

    def _start_server(self):
        data = {}
        if self._preload_modules:
            prepared = _spawn.get_preparation_data('ignore')
            data = {k: v for k, v in prepared.items() if k in _SERVER_DATA}
        with socket.socket(socket.AF_UNIX) as listener:
            address = _connection.arbitrary_address('AF_UNIX')
            listener.bind(address)
            if not _util.is_abstract_socket_namespace(address):
                os.chmod(address, 0o600)
            listener.listen()
            # Every client holds the write end of the "alive" pipe; the
            # server exits when the last one is gone.
            alive_r, alive_w = os.pipe()
            try:
                # The server imports cmp's pool before it forks anyone, so
                # a pool worker it forks starts with it imported (about
                # 13 ms of CPU a worker otherwise; Pool start-up + one task
                # 0.071 -> 0.055 s median here, the stdlib's 0.075 s).
                code = ('import cmp.pool; '
                        'from multiprocessing.forkserver import main; '
                        'main(%d, %d, %r, **%r)'
                        % (listener.fileno(), alive_r, self._preload_modules, data))
                pid = _util.spawnv_passfds(
                    _spawn.get_executable(), _spawn.python_command(code),
                    [listener.fileno(), alive_r, _cmp._arena_fd()])
            except BaseException:
                os.close(alive_w)
                raise
            finally:
                os.close(alive_r)
        self._forkserver_address = address
        self._forkserver_alive_fd = alive_w
        self._forkserver_pid = pid


_forkserver = ForkServer()
ensure_running = _forkserver.ensure_running
connect_to_new_process = _forkserver.connect_to_new_process
set_forkserver_preload = _forkserver.set_forkserver_preload
# In a process the server forked, the fds it was sent are where the
# stdlib's server program put them.
get_inherited_fds = _stdlib.get_inherited_fds

__getattr__, __dir__ = _mirror(globals(), _stdlib)
