"""Same logits from both frameworks for a tiny variant of every model, PYNATIVE and GRAPH."""
import mindspore as ms
import numpy as np
import pytest
import torch
from mindspore import Tensor

from acmix_common.tolerance import assert_close
from acmix_common.variants import model_info
from parity.weights import model_twins

from .tiny_models import TINY


def _twins(name):
    kwargs, shape = TINY[name]
    torch.manual_seed(0)
    return (*model_twins(name, **kwargs), shape)


@pytest.mark.parametrize("name", sorted(TINY))
def test_logits_match_pynative_and_jit(name, rng):
    t_model, m_model, shape = _twins(name)
    x = rng.standard_normal(shape).astype(np.float32)
    with torch.no_grad():
        expected = t_model(torch.from_numpy(x)).numpy()
    assert expected.shape == (shape[0], TINY[name][0]["num_classes"])
    assert_close(m_model(Tensor(x)).asnumpy(), expected, what=f"{name} PYNATIVE")
    assert_close(ms.jit(m_model.construct)(Tensor(x)).asnumpy(), expected, what=f"{name} jit")


@pytest.mark.parametrize("name", ["acmix_resnet26", "acmix_swin_tiny"])
def test_logits_match_in_graph_mode_context(name, rng, graph_mode):
    t_model, m_model, shape = _twins(name)
    x = rng.standard_normal(shape).astype(np.float32)
    with torch.no_grad():
        expected = t_model(torch.from_numpy(x)).numpy()
    assert_close(m_model(Tensor(x)).asnumpy(), expected, what=f"{name} GRAPH_MODE")


@pytest.mark.parametrize("name", sorted(TINY))
def test_forward_features_and_head_compose(name, rng):
    t_model, m_model, shape = _twins(name)
    x = rng.standard_normal(shape).astype(np.float32)
    with torch.no_grad():
        feats = t_model.forward_features(torch.from_numpy(x))
        assert torch.equal(t_model.forward_head(feats), t_model(torch.from_numpy(x)))
    m_feats = m_model.forward_features(Tensor(x))
    assert_close(m_feats.asnumpy(), feats.numpy(), what=f"{name} features")
    assert t_model.num_features == model_info(name).feature_info(TINY[name][0])[-1]["num_chs"]
