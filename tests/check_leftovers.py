"""Run after the suite: nothing it started may still be running or lying in
/dev/shm.

The Makefile starts pytest with CMP_TEST_RUN=<token> in its environment and
passes the same token here; every process the suite started inherits it, so a
live process whose environment carries it was left behind by the suite.
Processes that merely mention pytest (a CI driver, another checkout's run)
are none of our business.
"""
import os
import sys
import time

# Helpers the stdlib starts for the suite (the resource tracker, the
# forkserver) exit when they read end-of-file from the finished pytest
# process: give them this long to go.
GRACE = 10.0


def _environ(pid):
    with open("/proc/%s/environ" % pid, "rb") as f:
        return f.read().split(b"\0")


def _is_zombie(pid):
    with open("/proc/%s/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0] == "Z"


def _still_running(marker):
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            if marker not in _environ(pid) or _is_zombie(pid):
                continue
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        found.append((pid, cmd))
    return found


def main(argv):
    problems = []
    if len(argv) > 1:
        deadline = time.monotonic() + GRACE
        while True:
            running = _still_running(("CMP_TEST_RUN=%s" % argv[1]).encode())
            if not running or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        problems += ["process %s started by the tests still runs: %s"
                     % (pid, cmd[:200]) for pid, cmd in running]
    # After the helpers are gone: the resource tracker unlinks what it
    # tracked as it exits.
    left = [f for f in os.listdir("/dev/shm") if not f.startswith(".")]
    mine = [f for f in left if f.startswith(("cmp", "psm_", "mp-", "sem."))]
    if mine:
        problems.append("files left in /dev/shm: %s" % mine)
    for p in problems:
        print("check_leftovers:", p, file=sys.stderr)
    if problems:
        sys.exit(1)
    print("check_leftovers: nothing left behind")


if __name__ == "__main__":
    main(sys.argv)
