"""Mixed precision on the CPU, as far as MindSpore's CPU kernels allow: amp O2 (float16 compute)
with a dynamic loss scale: an overflowing step is skipped (parameters and optimiser state
unchanged) and halves the scale; settings that cannot train are refused with a message."""
import mindspore as ms
import numpy as np
import pytest
from mindspore import Tensor

from ms_acmix.train.loop import loss_scale_sense
from ms_acmix.train.models import build_model
from ms_acmix.train.optim import build_optimizer
from ms_acmix.train.precision import check_amp
from ms_acmix.train.step import NetWithLoss, TrainStep
from tests.test_train_optim_ckpt import digits_cfg, tiny_swin_cfg


@pytest.mark.parametrize("name,level,impl,refused", [
    ("digits", "O2", "fast", None),
    ("digits", "O3", None, None),
    ("digits", "O1", "unfold", r"O1 does not work"),
    ("digits", "O2", "unfold", None),
    ("digits", "O0", "fast", None),
    ("swin", "O2", None, None),  # Swin's ACmix block takes no attn_impl
    ("swin", "O1", None, None),
])
def test_amp_settings_that_cannot_train_are_refused(name, level, impl, refused):
    cfg = digits_cfg() if name == "digits" else tiny_swin_cfg()
    cfg["train"]["amp_level"] = level
    if impl:
        cfg["model"]["kwargs"]["attn_impl"] = impl
    if refused:
        with pytest.raises(ValueError, match=refused):
            check_amp(cfg)
    else:
        check_amp(cfg)


@pytest.mark.parametrize("attn_impl", ["fast", "unfold"])
def test_o2_dynamic_loss_scale_skips_overflow_and_halves(graph_mode, attn_impl):
    cfg = digits_cfg(amp_level="O2", loss_scale="dynamic", loss_scale_value=2.0 ** 24)
    cfg["model"]["kwargs"]["attn_impl"] = attn_impl
    check_amp(cfg)
    ms.set_seed(0)
    model = ms.amp.auto_mixed_precision(build_model(cfg, 10), "O2")
    opt = build_optimizer(model, cfg["optimizer"], np.full(8, 0.05, np.float32))
    step = TrainStep(NetWithLoss(model), opt, loss_scale_sense(cfg["train"]), 5.0)
    step.set_train(True)
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((4, 1, 32, 32)).astype(np.float32))
    t = Tensor(np.eye(10, dtype=np.float32)[rng.integers(0, 10, 4)])
    trainable = [p.name for p in model.trainable_params()]

    def state():
        return {p.name: p.asnumpy().copy() for p in step.get_parameters()
                if p.name in trainable or p.name.startswith("moments.")}

    before = state()
    loss, overflow, scale = step(x, t)  # float16 gradients times 2^24 overflow
    assert bool(overflow.asnumpy()) and np.isfinite(loss.asnumpy())
    assert float(step.scale_sense.asnumpy()) == 2.0 ** 23
    for name, value in state().items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)
    assert int(opt.global_step.asnumpy().reshape(-1)[0]) == 0  # the schedule did not advance

    step.scale_sense.set_data(Tensor(2.0 ** 8, ms.float32))  # a scale float16 can hold
    _, overflow, _ = step(x, t)
    assert not bool(overflow.asnumpy())
    assert float(step.scale_sense.asnumpy()) == 2.0 ** 8  # grows only after scale_window steps
    moved = state()
    assert any(np.abs(moved[n] - before[n]).max() > 0 for n in trainable)
    assert int(opt.global_step.asnumpy().reshape(-1)[0]) == 1
