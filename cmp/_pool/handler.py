"""The parent's machinery of one pool: its handler thread, the polling of
the result channels and of the workers' pidfds, spawning and reaping
workers, handing outcomes to their jobs, and shutdown.

One handler thread polls every result channel, every worker's pidfd
(readable when the worker is gone, whoever else holds its pipes) and a
wake-up pipe; it reads results (unless a caller does: reader.py), runs
callbacks (in result order, as the stdlib's result thread does), replaces
dead or retired workers, hands pending tasks out (scheduler.py) and
enforces per-task timeouts.  ``submit`` hands a task straight to an idle
worker from the calling thread when it can, without waking the handler.
"""
import os
import select
import signal
import threading
import time

from multiprocessing.context import ProcessError
from multiprocessing.pool import RUN, CLOSE, TERMINATE

from .. import _cmp
from . import channel
from .channel import _Link
from .reader import ReaderRole, HANDBACK_DELAY
from .scheduler import Scheduler, Task, Worker
from .wire import load_result, task_message, Flat
from .worker import _Fd, _worker_main

_TERM_GRACE = 2.0               # seconds between SIGTERM and SIGKILL

# Every fd a pool holds in the parent: a worker closes all of them first.
_parent_fds = set()
_parent_fds_lock = threading.Lock()


class WorkerLostError(ProcessError):
    """A pool worker died (killed, crashed, exited) while running the task."""


def describe_exit(name, pid, exitcode):
    if exitcode is None:
        how = 'vanished'
    elif exitcode < 0:
        try:
            how = 'was killed by signal %d (%s)' % (
                -exitcode, signal.Signals(-exitcode).name)
        except ValueError:
            how = 'was killed by signal %d' % -exitcode
    else:
        how = 'exited with code %d' % exitcode
    return 'pool worker %s (pid %d) %s while running this task' % (name, pid, how)


def _kill(pid, sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


class Core(object):
    """Everything a Pool owns, without a reference to the Pool itself (so
    that a forgotten Pool can be collected and its finalizer run)."""

    def __init__(self, ctx, processes, initializer, initargs, maxtasks,
                 wrap_exception):
        self.ctx = ctx
        self.processes = processes
        self.initializer = initializer
        self.initargs = initargs
        self.maxtasks = maxtasks
        self.wrap_exception = wrap_exception
        self.lock = threading.Lock()
        self.sched = Scheduler(maxtasks)
        self.workers = self.sched.workers
        self.pending = self.sched.pending
        self.done = self.sched.done
        self.procs = []         # Pool._pool: the workers' Process objects
        self.cache = {}
        self.state = RUN
        self.slots = []         # imap feeders' semaphores (released at terminate)
        self.repopulate = None  # an Event when _repopulate_pool waits
        self.started = threading.Event()    # the first workers are forked
        self.spawn_error = None
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        # A pidfd of this process, for the workers (see _worker_main).
        self.self_pidfd = os.pidfd_open(os.getpid())
        with _parent_fds_lock:
            _parent_fds.update((self.wake_r, self.wake_w, self.self_pidfd))
        self.handler_cond = threading.Condition(self.lock)
        self.reader = ReaderRole()
        self.poll = select.poll()
        self.registered = {}
        self.fdmap = {}
        self.poll_gen = 1       # bumped when the polled set changes
        self.polled_gen = 0
        self.thread = threading.Thread(target=self._run, daemon=True,
                                       name='cmp-pool-handler')

    # -- called from any thread, with self.lock held --

    def wake(self):
        if self.wake_w is not None:
            try:
                os.write(self.wake_w, b'\0')
            except (BlockingIOError, OSError):
                pass

    def wait_for(self, ready, deadline):
        """(results.py) Read results until ready() or the deadline: False
        when the caller should wait on its own event instead."""
        return self.reader.wait_for(self, ready, deadline)

    def _dispatch(self):
        if self.sched.dispatch():
            self.wake()         # an outcome to hand over

    def job_done(self, job):
        self.cache.pop(job, None)
        if self.state != RUN and not self.cache:
            with self.lock:
                self.wake()

    # -- submission (caller threads): one path --

    def submit(self, tasks):
        """Queue Tasks (scheduler.Task) and send what can go now."""
        with self.lock:
            if self.state == TERMINATE:
                return
            if self.sched.submit(tasks):
                self.wake()

    def submit_call(self, job, idx, kind, func, args, kwds, timeout):
        """One apply, or one imap task: pickled here, outside the lock."""
        try:
            data = task_message(kind, func, args, kwds)
        except Exception as e:
            job._set(idx, (False, e))
            return
        self.submit([Task(job, idx, data, timeout)])

    # -- workers --

    def _spawn(self):
        link = _Link()
        close_fds = ()
        if self.ctx.get_start_method() == 'fork':
            # A spawned worker, or a forkserver's, has only the fds passed.
            with _parent_fds_lock:
                close_fds = tuple((_parent_fds - {self.self_pidfd})
                                  | {link.result_fd})
        proc = self.ctx.Process(
            target=_worker_main,
            args=(link.task_ring, link.result_ring, _Fd(self.self_pidfd), close_fds, self.initializer,
                  self.initargs, self.maxtasks, self.wrap_exception))
        proc.name = proc.name.replace('Process', 'PoolWorker')
        proc.daemon = True
        try:
            proc.start()
        except BaseException:
            link.close()        # no worker uses the rings
            raise
        w = Worker(link, proc, os.pidfd_open(proc.pid))
        with _parent_fds_lock:
            _parent_fds.update(w.link.fds() + (w.pidfd,))
        self.workers.append(w)
        self.procs.append(proc)
        self.poll_gen += 1
        self.wake()

    def _spawn_missing(self):
        while len(self.workers) < self.processes:
            self._spawn()

    def _forget(self, w):
        self.poll_gen += 1
        self.sched.remove(w)
        try:
            self.procs.remove(w.proc)
        except ValueError:
            pass
        fds = w.link.fds() + (w.pidfd,)
        with _parent_fds_lock:
            _parent_fds.difference_update(fds)
        w.link.close()
        os.close(w.pidfd)

    def _reap(self, w):
        """w is gone: collect its last results, fail its running task (the
        oldest unanswered one, if it took it), give back its process-table
        entry."""
        try:
            w.link.take_all(w.inbox)
            self.sched.answered(w, time.monotonic())
            w.proc.join()
        except BaseException:
            self._forget(w)
            raise
        self.sched.reap(w, WorkerLostError(
            describe_exit(w.name, w.pid, w.proc.exitcode)))
        self._forget(w)
        # What the dead worker held in the process table (locks it owned,
        # references it kept) is given back now, not at the next sweep.
        _cmp._reap()

    def _stop_idle_workers(self):
        """Closed with nothing left to do: tell each idle worker to exit
        (with self.lock held).  True when closed and done."""
        if self.state != CLOSE or self.pending or self.cache:
            return False
        self.sched.stop_idle()
        return True

    # -- the handler thread --

    def _run(self):
        try:
            if not self.started.is_set():
                self._fork_first()
            if self.spawn_error is None:
                self._loop()
        finally:
            self._shutdown()

    def _fork_first(self):
        try:
            with self.lock:
                self._spawn_missing()
        except BaseException as e:
            self.spawn_error = e
        self.started.set()

    def _loop(self):
        """The handler: the reader whenever no caller waits for a result."""
        reader = self.reader
        while True:
            with self.lock:
                while True:
                    if self.state == TERMINATE:
                        return
                    if self.repopulate is not None:
                        try:
                            self._spawn_missing()
                        finally:
                            self.repopulate.set()
                            self.repopulate = None
                    if self.state == RUN or self.pending:
                        self._spawn_missing()
                        self._dispatch()
                    if reader.handler_may_read():
                        break
                    self.handler_cond.wait(HANDBACK_DELAY)
            if not reader.try_acquire():
                continue        # a caller took over between the two lines
            try:
                if self.step(None, True):
                    return
            finally:
                reader.release()

    def step(self, limit, handler):
        """Housekeeping, one poll, and what came of it; the caller holds the
        reader role.  `limit`: seconds at most, or None.  True when the
        handler's work is over (everything closed)."""
        done = self.done
        if done:
            self._deliver(done)     # left over by an interrupted reader
        with self.lock:
            if self.state == TERMINATE:
                return True
            for w in self.workers:
                if w.inbox:     # left over by an interrupted reader
                    self.sched.answered(w, time.monotonic())
                if w.link.outbuf:   # (an interrupted flush, or room now)
                    w.link.flush()
            if handler and not self.reader.handler_may_read():
                return False    # hand the reader role over
            if len(self.workers) < self.processes and (
                    self.state == RUN or self.pending):
                if handler:
                    self._spawn_missing()
                else:
                    self.handler_cond.notify()
            self._dispatch()
            if self._stop_idle_workers() and not self.workers and handler:
                return True
            timeout = None
            if self.sched.timed:
                late, nearest = self.sched.check_timeouts()
                for w in late:
                    _kill(w.pid, signal.SIGKILL)
                if nearest is not None:
                    timeout = max(1, int(nearest * 1000) + 1)
            if limit is not None:
                ms = max(0, int(limit * 1000 + 0.999))
                timeout = ms if timeout is None else min(ms, timeout)
            if self.poll_gen != self.polled_gen:
                self._sync_poll()
            fdmap = self.fdmap
            due = self.sched.due(channel.RING_SPIN) if timeout != 0 else None
        if due and channel.spin(due, channel.RING_SPIN):
            timeout = 0
        try:
            events = self.poll.poll(timeout)
        except InterruptedError:
            return False
        if not events:
            return False
        with self.lock:
            if self.state == TERMINATE:
                return True     # the workers die of it: nothing to report
            now = time.monotonic()
            dead = []
            for fd, ev in events:
                if fd == self.wake_r:
                    try:
                        while os.read(fd, 4096):
                            pass
                    except BlockingIOError:
                        pass
                    continue
                w, what = fdmap[fd]
                if what == 0:
                    # Results taken out of the ring are never dropped,
                    # also when a signal handler raises in between (see
                    # Scheduler.answered).
                    w.link.take_all(w.inbox)
                    self.sched.answered(w, now)
                    if ev & select.POLLHUP:
                        # The worker is exiting: its pidfd says when it is
                        # gone (a hung-up pipe would poll ready until then).
                        w.hung_up = True
                        self.poll_gen += 1
                    if w.link.outbuf:
                        w.link.flush()  # room may have appeared
                else:
                    dead.append(w)
            for w in dead:
                self._reap(w)
            self._dispatch()
        self._deliver(done)
        return False

    def _sync_poll(self):
        """Register what the reader polls (with self.lock held)."""
        want = {self.wake_r: select.POLLIN}
        fdmap = {}
        for w in self.workers:
            if not w.hung_up:
                want[w.link.result_fd] = select.POLLIN
                fdmap[w.link.result_fd] = (w, 0)
            want[w.pidfd] = select.POLLIN
            fdmap[w.pidfd] = (w, 1)
        registered = self.registered
        for fd in [fd for fd in registered if fd not in want]:
            self.poll.unregister(fd)
            del registered[fd]
        for fd, mask in want.items():
            if registered.get(fd) != mask:
                self.poll.register(fd, mask)
                registered[fd] = mask
        self.fdmap = fdmap
        self.polled_gen = self.poll_gen

    def _deliver(self, done):
        """Hand the outcomes read to their jobs, in order.  An outcome
        leaves `done` only once its job has it: a signal handler (or a
        Ctrl-C in a callback) raising in between leaves it at the head,
        and the next reader hands it over again (results.py).  What
        escapes a job's _set is such an interruption (the jobs print what
        callbacks raise): it goes on to the caller."""
        while done:
            try:
                d = done[0]
            except IndexError:
                return
            if d.obj is None:
                try:
                    obj = load_result(d.payload)
                except Exception as e:
                    # A result that cannot be unpickled fails its task; one
                    # that can be the second time was interrupted (a signal
                    # handler raised): that goes on to the caller.
                    try:
                        d.obj = load_result(d.payload)
                    except Exception as again:
                        d.obj = (False, again)
                    else:
                        d.payload = None
                        raise e
                else:
                    d.obj = obj
                d.payload = None
            obj = d.obj
            if type(d.idx) is int:
                d.job._set(d.idx, obj)
            elif type(obj) is Flat:
                d.job._set_flat(d.idx, obj.values)
            elif type(obj) is tuple:    # one outcome for the whole span
                d.job._set_many(d.idx, [obj] * len(d.idx))
            else:
                d.job._set_many(d.idx, obj)     # only MapResult is batched
            done.popleft()

    def _shutdown(self):
        """Terminate or finish: no worker left, every fd closed."""
        # A caller reading sees TERMINATE and leaves; never wait forever.
        owned = self.reader.acquire_within(_TERM_GRACE)
        with self.lock:
            workers = list(self.workers)
        for w in workers:
            _kill(w.pid, signal.SIGTERM)
        deadline = time.monotonic() + _TERM_GRACE
        killed = False
        while workers:
            left = deadline - time.monotonic()
            if left <= 0 and not killed:
                for w in workers:
                    _kill(w.pid, signal.SIGKILL)
                killed = True
            r, _, _ = select.select([w.pidfd for w in workers], [], [],
                                    None if killed else max(left, 0))
            for w in [w for w in workers if w.pidfd in r]:
                workers.remove(w)
                w.proc.join()
                with self.lock:
                    self._forget(w)
        with self.lock:
            self.state = TERMINATE
            self.pending.clear()
            for sem in self.slots:
                sem.release(1 << 20)
            results = list(self.cache.values())
            with _parent_fds_lock:
                _parent_fds.difference_update(
                    (self.wake_r, self.wake_w, self.self_pidfd))
            os.close(self.wake_r)
            os.close(self.wake_w)
            os.close(self.self_pidfd)
            self.wake_r = self.wake_w = self.self_pidfd = None
            self.poll = None
            self.fdmap = self.registered = {}   # (the dead workers' records)
        if owned:
            self.reader.release()
        exc = RuntimeError('the pool was terminated before this task completed')
        for r in results:
            r._fail_silently(exc)

    # -- control, from the Pool --

    def start(self):
        """Fork the first workers and start the handler.

        A worker's PR_SET_PDEATHSIG fires when the thread that forked it
        ends.  The main thread lasts as long as the process: called from
        it, the workers are forked here, before the handler thread exists
        (no fork with a second thread alive, no hand-over to wait for).
        From any other thread, which may end before the pool, the handler
        forks them."""
        if threading.current_thread() is threading.main_thread():
            self._fork_first()
        self.thread.start()
        self.started.wait()
        if self.spawn_error is not None:
            self.thread.join()
            raise self.spawn_error

    def close(self):
        with self.lock:
            if self.state == RUN:
                self.state = CLOSE
                # A bounded imap's feeder must finish even if nobody
                # consumes: close() waits for every queued task, as the
                # stdlib's does.
                for sem in self.slots:
                    sem.release(1 << 20)
                # Idle workers start exiting now, not when the handler
                # wakes up to tell them.
                self._stop_idle_workers()
                self.wake()
                self.handler_cond.notify()

    def terminate(self):
        with self.lock:
            if self.state != TERMINATE:
                self.state = TERMINATE
                for w in self.workers:
                    _kill(w.pid, signal.SIGTERM)
                for sem in self.slots:
                    sem.release(1 << 20)
                self.wake()
                self.handler_cond.notify()
        if threading.current_thread() is not self.thread and self.thread.ident:
            self.thread.join()

    def repopulate_pool(self):
        if threading.current_thread() is self.thread:
            self._spawn_missing()
            return
        ev = threading.Event()
        with self.lock:
            if self.state == TERMINATE:
                return
            self.repopulate = ev
            self.wake()
            self.handler_cond.notify()
        ev.wait()


def terminate_core(core):
    core.terminate()        # (util.Finalize skips it in a forked child)
