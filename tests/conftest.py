import os

import mindspore as ms
import numpy as np
import pytest
import torch

ms.set_device("CPU")
ms.set_context(mode=ms.PYNATIVE_MODE)
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def graph_mode():
    """Run the test in GRAPH mode (training runs there); restore the suite's mode afterwards."""
    old = ms.get_context("mode")
    ms.set_context(mode=ms.GRAPH_MODE)
    yield
    ms.set_context(mode=old)
