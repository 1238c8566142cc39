"""Hypothesis profiles for the parity harness and its --parity-report option.

Profiles: ``ci`` (default: derandomised, few examples, fits CI), ``dev`` (random, 4x the
examples), ``thorough`` (random, 25x, for nightly runs or before a release). Select with
``--hypothesis-profile=NAME`` or ``ACMIX_PARITY_PROFILE=NAME``.
"""
import os

import mindspore as ms
import torch
from hypothesis import HealthCheck, settings

from parity import report

ms.set_device("CPU")
ms.set_context(mode=ms.PYNATIVE_MODE)
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

_COMMON = dict(deadline=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                      HealthCheck.differing_executors])
settings.register_profile("ci", derandomize=True, database=None, **_COMMON)
settings.register_profile("dev", **_COMMON)
settings.register_profile("thorough", **_COMMON)


def pytest_configure(config):
    if not config.getoption("hypothesis_profile", default=None):
        settings.load_profile(os.environ.get("ACMIX_PARITY_PROFILE", "ci"))


def pytest_addoption(parser):
    parser.addoption("--parity-report", metavar="FILE.md", default=None,
                     help="write a table of every parity comparison (check, configuration, "
                          "max abs, max rel, tolerance, verdict) to FILE.md")


def pytest_sessionfinish(session, exitstatus):
    path = session.config.getoption("--parity-report", default=None)
    if path:
        report.write_markdown(path)
