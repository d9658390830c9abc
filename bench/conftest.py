"""pytest configuration of the benchmark suite: the ``--quick`` option and shared fixtures.

Run with ``python -m pytest bench`` (timings) or ``python -m pytest bench --quick
--benchmark-disable`` (smoke test: every implementation runs once on small data and is checked
against spectralridge). ``SR_BENCH_QUICK=1`` is the same as ``--quick``.
"""
import os
import sys

import pytest

# The suite's helpers live next to this file; the project runs pytest with
# --import-mode=importlib, which does not put test directories on sys.path.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import workloads  # noqa: E402


def pytest_addoption(parser):
    parser.addoption("--quick", action="store_true", default=False,
                     help="spectralridge benchmarks: shrink every workload (also "
                          f"{workloads.QUICK_ENV}=1)")


@pytest.fixture(scope="session")
def quick(request):
    return bool(request.config.getoption("--quick")) or workloads.quick_from_env()
