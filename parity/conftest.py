"""Options, Hypothesis profiles and the device of the parity harness.

Profiles: ``ci`` (default: derandomised, few examples, fits CI), ``dev`` (random, 4x the
examples), ``thorough`` (random, 25x, for nightly runs or before a release), ``fixed-only`` (the
``@example`` cases alone, no draws: what scripts/coverage_fixed_examples.sh measures). Select with
``--hypothesis-profile=NAME`` or ``ACMIX_PARITY_PROFILE=NAME``.
Device: ``--parity-device CPU|GPU|Ascend`` / ``ACMIX_PARITY_DEVICE`` (parity/device.py); a device
that is not present skips every parity test with the reason.
"""
import os

import pytest
import torch
from hypothesis import HealthCheck, Phase, settings

from parity import device, report

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

_COMMON = dict(deadline=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                      HealthCheck.differing_executors])
settings.register_profile("ci", derandomize=True, database=None, **_COMMON)
settings.register_profile("dev", **_COMMON)
settings.register_profile("thorough", **_COMMON)
settings.register_profile("fixed-only", database=None, phases=[Phase.explicit], **_COMMON)

_SKIP_REASON = []


def pytest_addoption(parser):
    parser.addoption("--parity-report", metavar="FILE.md", default=None,
                     help="write a table of every parity comparison (check, configuration, "
                          "max abs, max rel, tolerance, verdict) and the teeth's detection "
                          "margins to FILE.md")
    parser.addoption("--parity-device", metavar="DEVICE",
                     default=os.environ.get("ACMIX_PARITY_DEVICE", "CPU"),
                     help="run the MindSpore side on CPU, GPU or Ascend (default: "
                          "$ACMIX_PARITY_DEVICE or CPU); the PyTorch references stay on the CPU")
    parser.addoption("--parity-precision", metavar="MODE",
                     default=os.environ.get("ACMIX_PARITY_PRECISION", "float32"),
                     help="float32 (default: conv/matmul pinned to float32 on the device) or "
                          "native (the device's reduced-precision default, with its bound)")


def pytest_configure(config):
    if not config.getoption("hypothesis_profile", default=None):
        settings.load_profile(os.environ.get("ACMIX_PARITY_PROFILE", "ci"))
    name, precision = config.getoption("--parity-device"), config.getoption("--parity-precision")
    try:
        device.check_choice(name, precision)
    except ValueError as err:
        raise pytest.UsageError(str(err)) from None
    reason = device.unavailable(name)
    if reason:
        _SKIP_REASON.append(reason)
    else:
        device.configure(name, precision)


def pytest_collection_modifyitems(config, items):
    if _SKIP_REASON:
        here = os.path.dirname(__file__)
        skip = pytest.mark.skip(reason=_SKIP_REASON[0])
        for item in items:
            if str(item.fspath).startswith(here):
                item.add_marker(skip)


def pytest_report_header(config):
    return f"parity: MindSpore on {device.current()}" + (
        f"; SKIPPED: {_SKIP_REASON[0]}" if _SKIP_REASON else "")


def pytest_terminal_summary(terminalreporter):
    lines = report.teeth_lines()
    if lines:
        terminalreporter.write_sep("-", "parity teeth: detection margins (error / bound)")
        for line in lines:
            terminalreporter.write_line(line)


def pytest_sessionfinish(session, exitstatus):
    path = session.config.getoption("--parity-report", default=None)
    if path:
        report.write_markdown(path)
