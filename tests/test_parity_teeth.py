"""The cross-framework logits check fails on classic porting bugs injected into MindSpore."""
import numpy as np
import pytest
import torch
from mindspore import Tensor, nn, ops

import ms_acmix
import ms_acmix.swin
import torch_ref
from parity.tolerance import assert_close
from parity.weights import draw_torch_weights_, torch_to_ms

from .tiny_models import TINY


class ZeroPadACmix(ms_acmix.ACmix):
    def _unfold(self, t):
        p = self.pad_att
        cols = ops.unfold(ops.pad(t, (p, p, p, p), mode="constant", value=0.0), self.k_att,
                          dilation=self.dilation, padding=0, stride=self.stride)
        return cols.reshape(t.shape[0], self.head_dim, self.k_att ** 2, *cols.shape[-1:]) \
            .reshape(t.shape[0], self.head_dim, self.k_att ** 2, t.shape[2], t.shape[3])


class HeadMajorConvACmix(ms_acmix.ACmix):
    def forward_conv(self, q, k, v):
        b, _, h, w = q.shape
        shape = (b, self.head, self.head_dim, h * w)
        f_all = self.fc(ops.cat((q.reshape(shape), k.reshape(shape), v.reshape(shape)), 1))
        return self.dep_conv(f_all.reshape(b, -1, h, w))  # (k^2, head_dim) instead of transposed


@pytest.mark.parametrize("broken", [ZeroPadACmix, HeadMajorConvACmix])
def test_acmix_bugs_are_caught(broken, rng):
    torch.manual_seed(0)
    t_model = torch_ref.ACmix(8, 8, 3, 2)
    draw_torch_weights_(t_model, seed=0)
    m_model = broken(8, 8, 3, 2)
    torch_to_ms(t_model, m_model)
    x = rng.standard_normal((2, 8, 9, 9)).astype(np.float32)
    with pytest.raises(AssertionError, match="differ beyond"):
        assert_close(m_model(Tensor(x)).asnumpy(), t_model(torch.from_numpy(x)).detach().numpy())


def test_tanh_gelu_is_caught(rng, monkeypatch):
    monkeypatch.setattr(ms_acmix.swin, "gelu_exact", lambda: nn.GELU(approximate=True))
    kwargs, shape = TINY["acmix_swin_tiny"]
    torch.manual_seed(0)
    t_model = torch_ref.create_model("acmix_swin_tiny", **kwargs).eval()
    draw_torch_weights_(t_model, seed=0)
    m_model = ms_acmix.create_model("acmix_swin_tiny", **kwargs)
    m_model.set_train(False)
    torch_to_ms(t_model, m_model)
    x = rng.standard_normal(shape).astype(np.float32)
    with torch.no_grad():
        expected = t_model.forward_features(torch.from_numpy(x)).numpy()
    with pytest.raises(AssertionError, match="differ beyond"):
        assert_close(m_model.forward_features(Tensor(x)).asnumpy(), expected)
