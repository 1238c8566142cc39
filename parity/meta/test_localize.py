"""A model-level failure names the first diverging layer, in forward order, in both frameworks."""
import pytest
from mindspore import nn

import ms_acmix.models.swin
from parity.checks import check_forward
from parity.fixed_configs import SWIN
from parity.localize import first_divergence
from parity.twins import build, draw_input


def test_tanh_gelu_is_localised_to_the_first_mlp_activation(monkeypatch):
    monkeypatch.setattr(ms_acmix.models.swin, "gelu_exact", lambda: nn.GELU(approximate=True))
    with pytest.raises(AssertionError, match=r"first diverging layer: layers\.0\.blocks\.0\.mlp"
                                             r"\.act output \(2, 64, 32\)"):
        check_forward(SWIN)


def test_no_divergence_without_a_bug():
    t_model, m_model = build(SWIN)
    assert first_divergence(t_model, m_model, draw_input(SWIN)) is None
