"""Loaded at start-up by each seed program tests/test_seeds.py runs (this
directory comes first on its PYTHONPATH):

- stdout and stderr are line buffered, as on a terminal, so that each line
  is written when printed: with block-buffered pipes, a forked process
  duplicates what its parent had not flushed, and a terminated pool worker
  loses what it had not flushed;
- the pid of every process of the program's tree (and of its parent) is
  appended to $CMP_SEED_PIDS, so that the test replaces exactly those
  numbers in the output.
"""
import os
import sys

_path = os.environ.get('CMP_SEED_PIDS')
if _path:
    # Whole lines even under PYTHONUNBUFFERED (write_through writes each
    # piece print() makes on its own).
    sys.stdout.reconfigure(line_buffering=True, write_through=False)
    sys.stderr.reconfigure(line_buffering=True, write_through=False)
    _fd = os.open(_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.write(_fd, b'%d\n%d\n' % (os.getpid(), os.getppid()))
    os.register_at_fork(
        after_in_child=lambda: os.write(_fd, b'%d\n' % os.getpid()))
