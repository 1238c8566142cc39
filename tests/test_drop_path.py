"""Stochastic depth, same law in both frameworks: a sample is zeroed with p, else scaled 1/(1-p)."""
import numpy as np
import pytest
import torch
from mindspore import Tensor

import ms_acmix
import torch_ref
from ms_acmix.models.layers import DropPath as MsDropPath
from torch_ref.models.layers import DropPath as TorchDropPath

P = 0.25


def _torch(x):
    layer = TorchDropPath(P).train()
    return layer(torch.from_numpy(x)).numpy()


def _ms(x):
    layer = MsDropPath(P)
    layer.set_train(True)
    return layer(Tensor(x)).asnumpy()


@pytest.mark.parametrize("apply", [_torch, _ms])
def test_drop_path_law(apply):
    x = np.ones((4000, 3, 2), np.float32)
    y = apply(x)
    per_sample = y.reshape(len(y), -1)
    assert np.all(per_sample == per_sample[:, :1])  # one draw per sample
    kept = per_sample[:, 0] != 0
    np.testing.assert_allclose(per_sample[kept, 0], 1 / (1 - P), rtol=1e-6)
    assert abs((~kept).mean() - P) < 4 * np.sqrt(P * (1 - P) / len(y))  # 4 sigma


def test_eval_mode_is_identity_and_rate_zero_adds_nothing():
    x = np.random.default_rng(0).standard_normal((3, 4, 5)).astype(np.float32)
    np.testing.assert_array_equal(TorchDropPath(P).eval()(torch.from_numpy(x)).numpy(), x)
    layer = MsDropPath(P)
    layer.set_train(False)
    np.testing.assert_array_equal(layer(Tensor(x)).asnumpy(), x)
    kwargs = dict(base_planes=8, layers=(1, 1, 1, 1), num_classes=3)
    plain = torch_ref.create_model("acmix_resnet26", **kwargs)
    assert not any(isinstance(m, TorchDropPath) for m in plain.modules())
    dropped = torch_ref.create_model("acmix_resnet26", drop_path_rate=0.3, **kwargs)
    assert dropped.layer4[0].drop_path.p == pytest.approx(0.3)
    assert list(dropped.state_dict()) == list(plain.state_dict())
    ms_dropped = ms_acmix.create_model("acmix_resnet26", drop_path_rate=0.3, **kwargs)
    assert isinstance(ms_dropped.layer4[0].drop_path, MsDropPath)
