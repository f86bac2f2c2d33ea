"""The start methods the pool tests run under (imported by test_pool*.py)."""
import multiprocessing

import pytest

METHODS = ['fork', 'spawn', 'forkserver']


@pytest.fixture(params=METHODS)
def start_method(request):
    return request.param


@pytest.fixture(scope='module', autouse=True)
def helper_processes():
    """The stdlib's resource tracker and forkserver live as long as the
    test run once started: start them before any test looks at its fds."""
    from multiprocessing import forkserver, resource_tracker
    resource_tracker.ensure_running()
    if 'forkserver' in multiprocessing.get_all_start_methods():
        forkserver.ensure_running()
