"""Run after the suite: nothing it started may still be running or lying in
/dev/shm."""
import os
import sys


def main():
    problems = []
    left = [f for f in os.listdir("/dev/shm") if not f.startswith(".")]
    mine = [f for f in left if f.startswith(("cmp", "psm_", "mp-", "sem."))]
    if mine:
        problems.append("files left in /dev/shm: %s" % mine)
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid) as f:
                stat = f.read()
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == 1 and "pytest" in cmd and "python" in cmd:
            problems.append("orphaned test process %s: %s" % (pid, cmd))
    for p in problems:
        print("check_leftovers:", p, file=sys.stderr)
    if problems:
        sys.exit(1)
    print("check_leftovers: nothing left behind")


if __name__ == "__main__":
    main()
