"""Gradient accumulation (official Swin ACCUMULATION_STEPS: loss / steps, one optimiser step
every steps-th micro-batch): N accumulated micro-batches take the same step as one batch N times
as large, clipping included (it acts on the accumulated gradient); the optimiser counts steps."""
import mindspore as ms
import numpy as np
import pytest
from mindspore import Tensor, nn

from acmix_common.tolerance import assert_close
from ms_acmix.train.optim import build_optimizer
from ms_acmix.train.step import NetWithLoss, TrainStep

OPT = {"weight_decay": 0.05, "no_decay_1d": True, "no_decay_keywords": [],
       "betas": [0.9, 0.999], "eps": 1e-8, "momentum": 0.9, "nesterov": False}


class Toy(nn.Cell):
    """No batch statistics: micro-batches and the whole batch see the same function."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Dense(12, 16)
        self.norm = nn.LayerNorm((16,), epsilon=1e-5)
        self.fc2 = nn.Dense(16, 5)

    def construct(self, x):
        return self.fc2(ops_gelu(self.norm(self.fc1(x))))


def ops_gelu(x):
    return ms.ops.gelu(x, approximate="none")


pytestmark = pytest.mark.usefixtures("graph_mode")


def make_step(accumulation, clip, name="sgd"):
    ms.set_seed(3)
    model = Toy()
    opt = build_optimizer(model, {**OPT, "name": name}, np.full(8, 0.01, np.float32))
    step = TrainStep(NetWithLoss(model), opt, Tensor(1.0, ms.float32), clip, accumulation)
    step.set_train(True)
    return model, opt, step


def data(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 12)).astype(np.float32)
    t = np.eye(5, dtype=np.float32)[rng.integers(0, 5, n)]
    return x, t


def run_big(clip, name, n):
    model, _, step = make_step(1, clip, name)
    for it in range(2):
        step(*map(Tensor, data(n, it)))
    return [p.asnumpy() for p in model.trainable_params()]


@pytest.fixture
def pynative():
    """train.mode=pynative: the step's construct runs as Python."""
    old = ms.get_context("mode")
    ms.set_context(mode=ms.PYNATIVE_MODE)
    yield
    ms.set_context(mode=old)


@pytest.mark.parametrize("name,clip,n_micro", [("sgd", None, 4), ("sgd", 0.05, 4),
                                                ("adamw", None, 4), ("sgd", None, 2)])
def test_accumulated_micro_batches_equal_one_large_batch(name, clip, n_micro):
    check_accumulation(name, clip, n_micro)


@pytest.mark.parametrize("name,clip", [("sgd", None), ("adamw", 0.05)])
def test_accumulation_in_pynative_mode(pynative, name, clip):
    check_accumulation(name, clip)


def check_accumulation(name, clip, n_micro=4):
    micro = 3
    big_model, big_opt, big_step = make_step(1, clip, name)
    acc_model, acc_opt, acc_step = make_step(n_micro, clip, name)
    for p, q in zip(big_model.trainable_params(), acc_model.trainable_params()):
        np.testing.assert_array_equal(p.asnumpy(), q.asnumpy())
    start = {p.name: p.asnumpy().copy() for p in big_model.trainable_params()}
    for it in range(2):  # two optimiser steps: the moments and the reset buffers matter
        x, t = data(n_micro * micro, it)
        big_step(Tensor(x), Tensor(t))
        for i in range(n_micro):
            rows = slice(i * micro, (i + 1) * micro)
            acc_step(Tensor(x[rows]), Tensor(t[rows]), i == n_micro - 1)
        assert int(acc_opt.global_step.asnumpy().reshape(-1)[0]) == it + 1  # steps, not micro
    for p, q in zip(big_model.trainable_params(), acc_model.trainable_params()):
        moved = p.asnumpy() - start[p.name]
        assert np.abs(moved).max() > 0
        assert_close(q.asnumpy() - start[p.name], moved, "float32", "grad", what=p.name)
    for buffer in acc_step.accum_grads:  # reset after the step
        assert not buffer.asnumpy().any()
    if clip is not None:  # the clipping was active: without it the steps differ
        unclipped = run_big(None, name, n_micro * micro)
        assert max(np.abs(u - p.asnumpy()).max()
                   for u, p in zip(unclipped, big_model.trainable_params())) > 1e-4


def test_accumulation_without_the_step_leaves_parameters():
    model, opt, step = make_step(2, None)
    before = [p.asnumpy().copy() for p in model.trainable_params()]
    x, t = data(3, 0)
    loss, overflow, _ = step(Tensor(x), Tensor(t), False)
    assert np.isfinite(loss.asnumpy()) and not overflow.asnumpy()
    for p, b in zip(model.trainable_params(), before):
        np.testing.assert_array_equal(p.asnumpy(), b)
    assert any(buf.asnumpy().any() for buf in step.accum_grads)
    assert int(opt.global_step.asnumpy().reshape(-1)[0]) == 0


@pytest.mark.parametrize("accumulation", [1, 2])
def test_a_non_finite_gradient_skips_the_step(pynative, accumulation):
    """A NaN in the batch: the step reports the overflow and leaves parameters and the
    optimiser's step count as they were (as under a loss scale, without one)."""
    model, opt, step = make_step(accumulation, 0.05)
    before = [p.asnumpy().copy() for p in model.trainable_params()]
    x, t = data(3, 0)
    x[0, 0] = np.nan
    _, overflow, _ = step(Tensor(x), Tensor(t))
    assert bool(overflow.asnumpy())
    for p, b in zip(model.trainable_params(), before):
        np.testing.assert_array_equal(p.asnumpy(), b)
    assert int(opt.global_step.asnumpy().reshape(-1)[0]) == 0


def test_zero_accumulation_steps_is_refused():
    with pytest.raises(ValueError, match="train.accumulation_steps=0 must be >= 1"):
        make_step(0, None)


@pytest.mark.parametrize("accumulation,buffers", [(1, 0), (2, 1)])
def test_gradient_buffers_only_when_accumulating(accumulation, buffers):
    """Beyond the model and the optimiser, the step holds its loss scale and, only when it
    accumulates, one gradient buffer per trainable parameter (the official Swin loop sums into
    .grad). A buffer at accumulation 1 would cost a model's worth of memory and enter every
    resume state (state_params) for nothing."""
    model, opt, step = make_step(accumulation, None, "adamw")
    held = {p.name for p in model.get_parameters()} | {p.name for p in opt.get_parameters()}
    extra = [p for p in step.get_parameters() if p.name not in held]
    assert len(extra) == 1 + buffers * len(model.trainable_params()), [p.name for p in extra]


@pytest.mark.parametrize("accumulation,reads_npu_status", [(1, True), (2, False)])
def test_on_ascend_the_npu_status_is_read_only_without_accumulation(
        pynative, accumulation, reads_npu_status):
    """Ascend's float-status registers see the ops of this call only: without accumulation
    they cover the whole step (MindSpore's own loss-scale cell reads them); an accumulated
    gradient also holds earlier micro-batches, so the step checks it for non-finite values
    instead. The registers are replaced by a spy (CI has no Ascend), which also checks the
    status buffer: eight int32 zeros, as MindSpore's start_overflow_check makes it."""
    model, opt, step = make_step(accumulation, None)
    step.ascend = True
    calls = []

    def npu_status(status, grads):
        calls.append((status.asnumpy().tolist(), status.dtype, len(grads)))
        return Tensor(False)

    step.get_overflow_status = npu_status
    _, overflow, _ = step(*map(Tensor, data(3, 0)))
    n = len(model.trainable_params())
    assert calls == ([([0] * 8, ms.int32, n)] if reads_npu_status else [])
    assert not bool(overflow.asnumpy())
    assert int(opt.global_step.asnumpy().reshape(-1)[0]) == 1
