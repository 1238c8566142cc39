"""Options shared by tests/ and parity/: long runs behind --run-slow."""
import os

import pytest


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", default=False,
                     help="also run tests marked slow (or set ACMIX_SLOW=1)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-slow") or os.environ.get("ACMIX_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow or ACMIX_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
