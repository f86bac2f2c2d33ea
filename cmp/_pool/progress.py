"""The ``progress=`` option of map, starmap, imap and imap_unordered: a
tqdm bar when tqdm is installed, a plain line on stderr otherwise."""
import sys
import threading
import time


class _Progress:
    """A progress bar: tqdm when installed, else a plain line on stderr."""

    def __init__(self, total, desc):
        self._lock = threading.Lock()
        self._closed = False
        try:
            from tqdm import tqdm
        except ImportError:
            self._bar = None
            self._n, self._total, self._desc = 0, total, desc
            self._last = 0.0
            self._show()
        else:
            self._bar = tqdm(total=total, desc=desc)

    def _show(self):
        total = '?' if self._total is None else self._total
        sys.stderr.write('\r%s: %d/%s' % (self._desc, self._n, total))
        sys.stderr.flush()

    def update(self, n):
        with self._lock:
            if self._closed:
                return
            if self._bar is not None:
                self._bar.update(n)
                return
            self._n += n
            now = time.monotonic()
            if now - self._last >= 0.1 or self._n == self._total:
                self._last = now
                self._show()

    def close(self):
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._bar is not None:
                self._bar.close()
            else:
                self._show()
                sys.stderr.write('\n')
                sys.stderr.flush()

