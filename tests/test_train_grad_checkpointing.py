"""``train.grad_checkpointing``: a checked boolean of the training config that reaches the model
(every block recomputed), refused up front where MindSpore cannot honour it, and a GRAPH
training step runs with it."""
import mindspore as ms
import numpy as np
import pytest
from mindspore import Tensor

from acmix_common.tolerance import assert_close
from ms_acmix.models.checkpointing import recompute_enabled
from ms_acmix.train import config as cfgmod
from ms_acmix.train.loop import loss_scale_sense
from ms_acmix.train.models import build_model
from ms_acmix.train.optim import build_optimizer
from ms_acmix.train.step import NetWithLoss, TrainStep


def _blocks(model):
    return [c for _, c in model.cells_and_names() if type(c).__name__ == "Bottleneck"]


def test_key_defaults_off_and_is_a_checked_bool():
    assert cfgmod.build("acmix_digits")["train"]["grad_checkpointing"] is False
    cfg = cfgmod.build("acmix_digits", [cfgmod.parse_override("train.grad_checkpointing=true")])
    assert cfg["train"]["grad_checkpointing"] is True
    with pytest.raises(cfgmod.ConfigError, match="train.grad_checkpointing=1 must be of type bool"):
        cfgmod.build("acmix_digits", [cfgmod.parse_override("train.grad_checkpointing=1")])


@pytest.mark.parametrize("on", [False, True])
def test_it_reaches_the_model(on):
    cfg = cfgmod.build("acmix_digits")
    cfg["train"]["grad_checkpointing"] = on
    model = build_model(cfg, 10)
    assert model.grad_checkpointing is on
    assert len(_blocks(model)) == 4 and all(recompute_enabled(b) is on for b in _blocks(model))


def test_pynative_with_drop_path_is_refused_before_training():
    cfg = cfgmod.build("acmix_digits", [{"train": {"grad_checkpointing": True,
                                                   "mode": "pynative"}}])
    build_model(cfg, 10)  # no drop path: fine
    cfg["model"]["kwargs"]["drop_path_rate"] = 0.1
    with pytest.raises(ValueError, match="train.grad_checkpointing with train.mode=pynative.*"
                                         "layer2.0.drop_path.dropout"):
        build_model(cfg, 10)
    cfg["train"]["mode"] = "graph"
    build_model(cfg, 10)  # GRAPH replays the draws


def _step(cfg, x, t):
    ms.set_seed(0)
    model = build_model(cfg, 10)
    step = TrainStep(NetWithLoss(model), build_optimizer(model, cfg["optimizer"],
                                                          np.full(4, 0.05, np.float32)),
                     loss_scale_sense(cfg["train"]))
    step.set_train(True)
    loss, overflow, _ = step(x, t)
    return float(loss.asnumpy()), bool(overflow.asnumpy()), {
        p.name: p.asnumpy().copy() for p in model.get_parameters()}


def _batch():
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((4, 1, 32, 32)).astype(np.float32))
    return x, Tensor(np.eye(10, dtype=np.float32)[rng.integers(0, 10, 4)])


def test_graph_train_step_runs_with_it(graph_mode):
    cfg = cfgmod.build("acmix_digits", [{"train": {"grad_checkpointing": True}}])
    cfg["model"]["kwargs"]["drop_path_rate"] = 0.1
    ms.set_seed(0)
    before = {p.name: p.asnumpy().copy() for p in build_model(cfg, 10).get_parameters()}
    loss, overflow, after = _step(cfg, *_batch())
    assert np.isfinite(loss) and not overflow
    moved = [n for n in after if not np.array_equal(after[n], before[n])]
    assert any(n.endswith("conv2.rate1") for n in moved)  # the ACmix blocks trained
    assert any(n.endswith("moving_mean") for n in moved)


@pytest.mark.slow
def test_graph_train_step_is_the_same_with_it(graph_mode):
    """The whole step (BatchNorm statistics, SGD update) with checkpointing on and off."""
    x, t = _batch()
    results = {}
    for on in (False, True):
        cfg = cfgmod.build("acmix_digits", [{"train": {"grad_checkpointing": on}}])
        results[on] = _step(cfg, x, t)
    assert_close(results[True][0], results[False][0], what="loss")
    for name, value in results[False][2].items():
        assert_close(results[True][2][name], value, what=f"{name} after the step")
