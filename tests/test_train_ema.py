"""EMA of the weights (timm ModelEmaV2: every parameter and buffer, after each optimiser step),
saved beside the model as ``ema.<name>`` (what the converter's --ema reads) and resumed."""
import os

import mindspore as ms
import numpy as np
import pytest
from mindspore import Tensor, nn

from acmix_common.tolerance import assert_close
from ms_acmix.train import checkpoint as ckpt
from ms_acmix.train.ema import ModelEma
from ms_acmix.train.optim import build_optimizer
from ms_acmix.train.step import NetWithLoss, TrainStep

OPT = {"name": "sgd", "weight_decay": 1e-4, "no_decay_1d": False, "no_decay_keywords": [],
       "momentum": 0.9, "nesterov": False}
DECAY = 0.75


class Toy(nn.Cell):
    """Parameters and BatchNorm buffers (moving statistics), as ModelEmaV2 averages both."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Dense(6, 8)
        self.bn = nn.BatchNorm1d(8, momentum=0.9)
        self.fc2 = nn.Dense(8, 3)

    def construct(self, x):
        return self.fc2(ms.ops.relu(self.bn(self.fc1(x))))


pytestmark = pytest.mark.usefixtures("graph_mode")


def values(cell, strip=""):
    return {p.name[len(strip):]: p.asnumpy().copy() for p in cell.get_parameters()}


def setup(seed=0):
    ms.set_seed(seed)
    model, ema_model = Toy(), Toy()
    ema = ModelEma(model, ema_model, DECAY)
    step = TrainStep(NetWithLoss(model), build_optimizer(model, OPT, np.full(9, 0.1, np.float32)),
                     Tensor(1.0, ms.float32))
    step.set_train(True)
    return model, ema_model, ema, step


def batch(i):
    rng = np.random.default_rng(i)
    return (Tensor(rng.standard_normal((5, 6)).astype(np.float32)),
            Tensor(np.eye(3, dtype=np.float32)[rng.integers(0, 3, 5)]))


def test_ema_follows_model_emav2():
    model, ema_model, ema, step = setup()
    want = values(model)  # starts as a copy of the model
    start = values(ema_model, "ema.")
    for name in want:
        np.testing.assert_array_equal(start[name], want[name])
    assert {p.name for p in ema_model.get_parameters()} == {"ema." + n for n in want}
    for i in range(3):
        step(*batch(i))
        ema()
        now = values(model)
        want = {n: DECAY * want[n] + (1 - DECAY) * now[n] for n in want}
    got = values(ema_model, "ema.")
    assert any(n.endswith("moving_mean") for n in got)
    for name in want:  # float32 arithmetic against the float64 recurrence
        assert_close(got[name], want[name], "float32", "forward", what=name)
    moved = values(model)
    assert max(np.abs(got[n] - moved[n]).max() for n in got) > 1e-3  # an average, not a copy


def test_checkpoint_holds_ema_for_the_converter_and_resume(tmp_path):
    from ckpt_convert import read_weights

    model, ema_model, ema, step = setup()
    for i in range(2):
        step(*batch(i))
        ema()
    ckpt_dir = str(tmp_path / "checkpoints")
    meta = {"epoch": 1, "global_step": 2, "val_top1": 1.0, "val_top5": 1.0, "model": "toy"}
    path = ckpt.save_epoch(ckpt_dir, 1, model, step, meta, keep=2, is_best=True,
                           ema_model=ema_model)
    saved = ms.load_checkpoint(path)
    assert set(saved) == set(values(model)) | {"ema." + n for n in values(model)}
    arrays, info = read_weights(path, ema=True)
    assert info.ema
    np.testing.assert_array_equal(arrays["fc1.weight"], values(ema_model, "ema.")["fc1.weight"])

    fresh_model, fresh_ema_model, fresh_ema, fresh_step = setup(seed=1)
    got = ckpt.load_epoch(ckpt_dir, 1, fresh_model, fresh_step, fresh_ema_model)
    assert got["ema_restored"]
    for name, value in values(ema_model).items():
        np.testing.assert_array_equal(values(fresh_ema_model)[name], value)
    assert os.path.exists(os.path.join(ckpt_dir, "best.ckpt"))


@pytest.mark.parametrize("decay", [0.0, 1.0, 1.5])
def test_decay_outside_the_open_interval_is_refused(decay):
    with pytest.raises(ValueError, match=rf"train.ema_decay={decay} must be in \(0, 1\)"):
        ModelEma(Toy(), Toy(), decay)


def test_an_ema_model_of_another_architecture_is_refused():
    with pytest.raises(ValueError, match="the EMA model's parameters do not match"):
        ModelEma(Toy(), nn.Dense(6, 3), DECAY)


def test_the_average_is_not_trainable():
    """Only averaging moves the EMA copy: none of its parameters is trainable (timm's ModelEma
    freezes the copy with requires_grad_(False)), while the model's still are."""
    model, ema_model, _, _ = setup()
    assert not ema_model.trainable_params() and model.trainable_params()
