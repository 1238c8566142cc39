import os

import mindspore as ms
import numpy as np
import pytest
import torch

ms.set_device("CPU")
ms.set_context(mode=ms.PYNATIVE_MODE)
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


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


@pytest.fixture
def rng():
    return np.random.default_rng(0)
