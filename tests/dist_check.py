"""The install check: cmp installed the way its users install it.

    python tests/dist_check.py sdist            (make dist-check)
    python tests/dist_check.py wheel WHEEL...   (make wheels)
    python tests/dist_check.py smoke            (run inside an installed env)

``sdist`` builds the sdist, checks that it holds every C source and header,
every module and stub, README, LICENSE and CHANGELOG, installs it with pip
into a fresh virtual environment in a temporary directory (outside the
source tree: pip builds it there, as for a user), runs the smoke program in
that environment and type-checks the typing sample against the installed
package (``mypy --strict --python-executable``: the stubs are found through
PEP 561 as a user's mypy finds them).

``wheel`` installs each wheel into a fresh virtual environment of the
interpreter its tag names, with ``CC=false`` and a PATH that holds no
compiler, then runs the smoke program there.

``smoke``: import cmp (from site-packages, not from a source tree), a Queue
round trip between processes, a Pool map, a Lock held across a fork; the
metadata's version is cmp.__version__ and the stubs are installed.
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DIST_NAME = 'cmp-multiprocessing'
TIMEOUT = 60.0     # generous: only matters when something is broken


# -- the smoke program ---------------------------------------------------------

def _echo(inbox, outbox):
    outbox.put(('echo', inbox.get()))


def _square(x):
    return x * x


def _try_lock(lock, result):
    result.put(('while held', lock.acquire(block=False)))
    result.put(('after release', lock.acquire(timeout=TIMEOUT)))
    lock.release()


def smoke(source_root=None):
    import importlib.metadata

    import cmp

    where = os.path.dirname(os.path.abspath(cmp.__file__))
    site = os.path.realpath(sysconfig.get_paths()['purelib'])
    assert os.path.realpath(where).startswith(site), (where, site)
    if source_root is not None:
        assert not os.path.realpath(where).startswith(os.path.realpath(source_root)), where
    assert importlib.metadata.version(DIST_NAME) == cmp.__version__
    for stub in ('py.typed', '__init__.pyi', 'sharedctypes.pyi', 'queues.pyi', 'pool.pyi'):
        assert os.path.exists(os.path.join(where, stub)), stub
    assert cmp.get_start_method() == 'fork'

    # A Queue round trip between processes.
    inbox, outbox = cmp.Queue(), cmp.Queue()
    p = cmp.Process(target=_echo, args=(inbox, outbox))
    p.start()
    inbox.put({'n': 42, 'data': b'x' * 100000})
    assert outbox.get(timeout=TIMEOUT) == ('echo', {'n': 42, 'data': b'x' * 100000})
    p.join(TIMEOUT)
    assert p.exitcode == 0, p.exitcode

    # A Pool map.
    with cmp.Pool(2) as pool:
        assert pool.map(_square, range(100)) == [x * x for x in range(100)]
        assert pool.apply_async(_square, (7,)).get(TIMEOUT) == 49

    # A Lock held across a fork: the child sees it held, then takes it once
    # the parent lets go.
    lock, result = cmp.Lock(), cmp.Queue()
    lock.acquire()
    p = cmp.Process(target=_try_lock, args=(lock, result))
    p.start()
    assert result.get(timeout=TIMEOUT) == ('while held', False)
    lock.release()
    assert result.get(timeout=TIMEOUT) == ('after release', True)
    p.join(TIMEOUT)
    assert p.exitcode == 0, p.exitcode
    assert cmp.active_children() == []

    # The extensions are there.
    counter = cmp.Value('q', 0)
    assert counter.fetch_add(5) == 0 and counter.value == 5
    print('smoke: cmp %s from %s on Python %s: ok' % (
        cmp.__version__, where, sys.version.split()[0]))


# -- building and installing ---------------------------------------------------

def _run(cmd, **kw):
    print('+', ' '.join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kw)


def _venv(python, path):
    _run([python, '-m', 'venv', path])
    return os.path.join(path, 'bin', 'python')


def _run_smoke(vpy, workdir, env=None):
    """The smoke program, copied out of the source tree and run there."""
    script = os.path.join(workdir, 'cmp_smoke.py')
    shutil.copy(os.path.abspath(__file__), script)
    _run([vpy, script, 'smoke', '--source-root', ROOT], cwd=workdir, env=env)


def cmp_twin(program, directory):
    """program (a file written for the stdlib's multiprocessing) with its
    imports changed to cmp's, written into directory; returns its path."""
    with open(program) as f:
        text = f.read()
    twin = re.sub(r'^import multiprocessing$', 'import cmp as multiprocessing', text, flags=re.M)
    twin = re.sub(r'^from multiprocessing\.', 'from cmp.', twin, flags=re.M)
    assert not re.search(r'^(import|from) multiprocessing\b', twin, re.M)
    path = os.path.join(str(directory), 'cmp_twin_' + os.path.basename(program))
    with open(path, 'w') as f:
        f.write(twin)
    return path


def _expected_sdist_members():
    """What the sdist must hold, from the source tree."""
    want = {'README.rst', 'LICENSE', 'CHANGELOG.rst', 'pyproject.toml', 'setup.py',
            'MANIFEST.in', 'cmp/py.typed'}
    for pattern in ('csrc/**/*.c', 'csrc/**/*.h', 'cmp/**/*.py', 'cmp/**/*.pyi'):
        want.update(os.path.relpath(f, ROOT)
                    for f in glob.glob(os.path.join(ROOT, pattern), recursive=True))
    return want


def check_sdist(args):
    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix='cmp-dist-check-')
    try:
        out = os.path.join(tmp, 'dist')
        # The sdist itself is built from the tree with this environment's
        # setuptools; installing it below goes through pip's isolated build.
        _run([sys.executable, '-m', 'build', '--sdist', '--no-isolation',
              '--outdir', out, ROOT])
        (sdist,) = glob.glob(os.path.join(out, '*.tar.gz'))
        with tarfile.open(sdist) as tar:
            top = os.path.commonpath(tar.getnames())
            members = {os.path.relpath(n, top) for n in tar.getnames()}
        missing = sorted(_expected_sdist_members() - members)
        assert not missing, 'the sdist lacks %s' % missing
        assert not [m for m in members if m.endswith(('.so', '.o', '.pyc'))], members

        vpy = _venv(sys.executable, os.path.join(tmp, 'venv'))
        _run([vpy, '-m', 'pip', 'install', '-q', sdist], cwd=tmp)
        _run_smoke(vpy, tmp)
        if args.mypy:
            typing_dir = os.path.join(tmp, 'typecheck')
            shutil.copytree(os.path.join(HERE, 'typecheck'), typing_dir)
            program = os.path.join(typing_dir, 'ok_stdlib_program.py')
            _run([sys.executable, '-m', 'mypy', '--strict', '--no-incremental',
                  '--python-executable', vpy, os.path.join(typing_dir, 'ok_extensions.py'),
                  program, cmp_twin(program, typing_dir)], cwd=tmp)
        print('dist-check: %s built, installed and checked in %.0f s' % (
            os.path.basename(sdist), time.monotonic() - started))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _python_for(wheel):
    """The interpreter a wheel's cpXY tag names: on PATH or under pyenv."""
    m = re.search(r'-cp(\d)(\d+)-', os.path.basename(wheel))
    version = '%s.%s' % m.groups()
    if sys.version_info[:2] == tuple(map(int, m.groups())):
        return sys.executable
    root = os.environ.get('PYENV_ROOT', os.path.expanduser('~/.pyenv'))
    candidates = sorted(glob.glob(os.path.join(root, 'versions', version + '.*', 'bin',
                                               'python' + version)))
    found = candidates[-1] if candidates else shutil.which('python' + version)
    if not found:
        raise SystemExit('no python%s for %s' % (version, wheel))
    return found


def check_wheels(args):
    for wheel in args.wheels:
        started = time.monotonic()
        with zipfile.ZipFile(wheel) as z:
            names = z.namelist()
        so = [n for n in names if n.startswith('cmp/_cmp') and n.endswith('.so')]
        assert len(so) == 1, so
        assert 'cmp/py.typed' in names and 'cmp/__init__.pyi' in names, names
        tmp = tempfile.mkdtemp(prefix='cmp-wheel-check-')
        try:
            vpy = _venv(_python_for(wheel), os.path.join(tmp, 'venv'))
            bindir = os.path.dirname(vpy)
            # No compiler: CC is false and PATH holds only the venv's bin.
            env = dict(os.environ, CC='false', CXX='false', PATH=bindir)
            for cc in ('cc', 'gcc', 'clang', 'c99'):
                assert shutil.which(cc, path=bindir) is None, cc
            _run([vpy, '-m', 'pip', 'install', '-q', '--no-index', '--no-deps',
                  '--only-binary', ':all:', os.path.abspath(wheel)], cwd=tmp, env=env)
            _run_smoke(vpy, tmp, env=env)
            print('wheel-check: %s installed without a compiler and checked in %.0f s' % (
                os.path.basename(wheel), time.monotonic() - started))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='what', required=True)
    s = sub.add_parser('sdist')
    s.add_argument('--no-mypy', dest='mypy', action='store_false')
    w = sub.add_parser('wheel')
    w.add_argument('wheels', nargs='+')
    k = sub.add_parser('smoke')
    k.add_argument('--source-root')
    args = parser.parse_args()
    if args.what == 'smoke':
        smoke(args.source_root)
    elif args.what == 'sdist':
        check_sdist(args)
    else:
        check_wheels(args)


if __name__ == '__main__':
    main()
