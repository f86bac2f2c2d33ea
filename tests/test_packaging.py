"""What the package declares: one version, Linux only, the stubs beside the
modules.  The sdist and the wheels are checked by tests/dist_check.py."""
import os
import re
import subprocess
import sys

import pytest

import cmp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize('platform', ['darwin', 'win32', 'freebsd14'])
def test_import_elsewhere_than_linux_says_linux_only(platform):
    # Nothing of cmp may run first: no arena, no C module loaded.
    code = ('import sys; sys.platform = %r\n'
            'try:\n'
            '    import cmp\n'
            'except ImportError as e:\n'
            '    assert "cmp._cmp" not in sys.modules and "cmp._core" not in sys.modules\n'
            '    print(e)\n'
            'else:\n'
            '    raise SystemExit("imported")\n' % platform)
    out = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr + out.stdout
    assert 'cmp is Linux-only' in out.stdout and repr(platform) in out.stdout, out.stdout


def test_one_version():
    with open(os.path.join(ROOT, 'pyproject.toml')) as f:
        pyproject = f.read()
    assert re.search(r'^dynamic = \["version"\]$', pyproject, re.M)
    assert 'version = {attr = "cmp._version.__version__"}' in pyproject
    assert not re.search(r'^version = "', pyproject, re.M)
    from cmp import _version
    assert cmp.__version__ == _version.__version__
    with open(os.path.join(ROOT, 'CHANGELOG.rst')) as f:
        assert re.search(r'^%s \(' % re.escape(cmp.__version__), f.read(), re.M)


def test_every_module_has_its_stub():
    pkg = os.path.dirname(cmp.__file__)
    assert os.path.exists(os.path.join(pkg, 'py.typed'))
    missing = []
    for dirpath, _, files in os.walk(pkg):
        for f in files:
            if f.endswith('.py') and f not in ('_mirror.py', '_reduce.py', '_version.py'):
                if f[:-3] + '.pyi' not in files:
                    missing.append(os.path.relpath(os.path.join(dirpath, f), pkg))
    assert missing == []


def test_building_elsewhere_than_linux_says_linux_only(tmp_path):
    # The compiler is never reached: the build stops first, with the reason.
    code = ('import os, sys, setuptools.command.build_ext\n'
            'sys.platform = "darwin"; os.chdir(%r)\n'
            'sys.argv = ["setup.py", "-q", "build_ext", "-b", %r, "-t", %r]\n'
            'exec(compile(open("setup.py").read(), "setup.py", "exec"))\n'
            % (ROOT, str(tmp_path / 'lib'), str(tmp_path / 'tmp')))
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         timeout=120, env=dict(os.environ, CC='false'))
    assert out.returncode == 1, out.stdout + out.stderr
    assert "cmp-multiprocessing is Linux-only" in out.stderr and "'darwin'" in out.stderr, out.stderr
    assert not (tmp_path / 'tmp').exists()


def test_declared_versions_platform_and_license():
    with open(os.path.join(ROOT, 'pyproject.toml')) as f:
        pyproject = f.read()
    assert 'requires-python = ">=3.9"' in pyproject
    for minor in range(9, 14):
        assert '"Programming Language :: Python :: 3.%d",' % minor in pyproject
    assert '"Operating System :: POSIX :: Linux",' in pyproject
    assert 'name = "cmp-multiprocessing"' in pyproject
    assert 'license = "MIT"' in pyproject
    with open(os.path.join(ROOT, 'LICENSE')) as f:
        assert f.readline().strip() == 'MIT License'
    with open(os.path.join(ROOT, 'README.rst')) as f:
        assert '    pip install cmp-multiprocessing\n' in f.read()
