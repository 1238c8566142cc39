"""Optimisers against torch, weight-decay groups, the train step, and checkpoint save/resume."""
import json
import os

import mindspore as ms
import numpy as np
import pytest
import torch
from mindspore import Parameter, Tensor, nn

from ms_acmix.train import checkpoint as ckpt
from ms_acmix.train.config import build
from ms_acmix.train.models import build_model
from ms_acmix.train.optim import AdamW, bias_corrections, build_optimizer, param_groups
from ms_acmix.train.step import NetWithLoss, TrainStep

RNG = np.random.default_rng(0)
W0 = RNG.standard_normal((3, 4)).astype(np.float32)
B0 = RNG.standard_normal(3).astype(np.float32)
GRADS = [(RNG.standard_normal((3, 4)).astype(np.float32), RNG.standard_normal(3).astype(np.float32))
         for _ in range(6)]
LRS = np.array([0.1, 0.05, 0.02, 0.01, 0.03, 0.2], np.float32)


class Toy(nn.Cell):
    def __init__(self):
        super().__init__()
        self.w = Parameter(Tensor(W0), name="w")
        self.b = Parameter(Tensor(B0), name="b")


pytestmark = pytest.mark.usefixtures("graph_mode")


def run_both(ms_opt_fn, torch_opt_fn):
    net = Toy()
    opt = ms_opt_fn([{"params": [net.w], "weight_decay": 0.05},
                     {"params": [net.b], "weight_decay": 0.0}], Tensor(LRS))
    tw, tb = torch.nn.Parameter(torch.tensor(W0)), torch.nn.Parameter(torch.tensor(B0))
    topt = torch_opt_fn([{"params": [tw], "weight_decay": 0.05},
                         {"params": [tb], "weight_decay": 0.0}])
    for i, (gw, gb) in enumerate(GRADS):
        opt((Tensor(gw), Tensor(gb)))
        for group in topt.param_groups:
            group["lr"] = float(LRS[i])
        tw.grad, tb.grad = torch.tensor(gw), torch.tensor(gb)
        topt.step()
    assert np.abs(net.w.asnumpy() - W0).max() > 1e-2  # it moved
    np.testing.assert_allclose(net.w.asnumpy(), tw.detach().numpy(), atol=2e-6)
    np.testing.assert_allclose(net.b.asnumpy(), tb.detach().numpy(), atol=2e-6)


def test_adamw_matches_torch_adamw():
    run_both(lambda g, lr: AdamW(g, lr, betas=(0.9, 0.999), eps=1e-8),
             lambda g: torch.optim.AdamW(g, lr=0.1, betas=(0.9, 0.999), eps=1e-8))


def test_sgd_momentum_matches_torch_sgd():
    opt = {"name": "sgd", "momentum": 0.9, "nesterov": False}
    run_both(lambda g, lr: nn.Momentum(g, lr, momentum=opt["momentum"]),
             lambda g: torch.optim.SGD(g, lr=0.1, momentum=0.9))


def digits_cfg(**train):
    cfg = build("acmix_digits")  # the shipped recipe (ms_acmix/configs)
    cfg["train"].update(train)
    return cfg


def tiny_swin_cfg():
    cfg = build("acmix_swin_tiny")
    cfg["data"]["img_size"] = 32
    cfg["model"]["kwargs"].update(patch_size=2, embed_dim=16, depths=[2, 2], num_heads=[2, 4],
                                  window_size=4)
    return cfg


def test_swin_weight_decay_groups():
    cfg = tiny_swin_cfg()
    model = build_model(cfg, 10)
    decay, no_decay = param_groups(model, cfg["optimizer"])
    assert decay["weight_decay"] == 0.05 and no_decay["weight_decay"] == 0.0
    names = {p.name for p in no_decay["params"]}
    assert any("relative_position_bias_table" in n for n in names)
    assert all(len(p.shape) >= 2 and "relative_position_bias_table" not in p.name
               and not p.name.endswith(".bias") for p in decay["params"])
    assert any(n.endswith("rate1") for n in names) and any(n.endswith("norm1.gamma") for n in names)


def test_resnet_recipe_decays_everything():
    cfg = digits_cfg()
    groups = param_groups(build_model(cfg, 10), {**cfg["optimizer"], "no_decay_1d": False})
    assert len(groups) == 1 and groups[0]["weight_decay"] == cfg["optimizer"]["weight_decay"]


def test_a_keyword_in_every_name_leaves_no_decaying_group():
    """optimizer.no_decay_keywords matching every name (here ".", in every parameter name):
    one group, every parameter, no decay."""
    cfg = digits_cfg()
    model = build_model(cfg, 10)
    groups = param_groups(model, {**cfg["optimizer"], "no_decay_keywords": ["."]})
    assert len(groups) == 1 and groups[0]["weight_decay"] == 0.0
    assert len(groups[0]["params"]) == len(model.trainable_params())


def test_adamw_needs_the_per_step_learning_rates():
    net = Toy()
    with pytest.raises(ValueError, match="AdamW needs the per-step learning rates"):
        AdamW([net.w, net.b], 1e-3)


def test_adamw_with_its_defaults_is_torchs_with_its_defaults():
    """A user's AdamW(params, lrs) takes torch.optim.AdamW's betas and eps."""
    run_both(lambda g, lr: AdamW(g, lr), lambda g: torch.optim.AdamW(g, lr=0.1))


def test_adamw_takes_a_one_step_schedule():
    """A run of one optimiser step (one epoch of one batch) is a valid schedule."""
    net = Toy()
    AdamW([net.w, net.b], Tensor(LRS[:1]))(tuple(map(Tensor, GRADS[0])))
    tw, tb = torch.nn.Parameter(torch.tensor(W0)), torch.nn.Parameter(torch.tensor(B0))
    topt = torch.optim.AdamW([tw, tb], lr=float(LRS[0]), weight_decay=0.0)
    tw.grad, tb.grad = map(torch.tensor, GRADS[0])
    topt.step()
    np.testing.assert_allclose(net.w.asnumpy(), tw.detach().numpy(), atol=2e-6)
    np.testing.assert_allclose(net.b.asnumpy(), tb.detach().numpy(), atol=2e-6)


def test_a_group_that_names_no_weight_decay_does_not_decay():
    """AdamW takes no weight_decay argument: its default is 0, so a group without one does not
    decay (torch's AdamW with weight_decay=0.0 as the default)."""
    net = Toy()
    opt = AdamW([{"params": [net.w], "weight_decay": 0.05}, {"params": [net.b]}], Tensor(LRS))
    tw, tb = torch.nn.Parameter(torch.tensor(W0)), torch.nn.Parameter(torch.tensor(B0))
    topt = torch.optim.AdamW([{"params": [tw], "weight_decay": 0.05}, {"params": [tb]}],
                             lr=float(LRS[0]), weight_decay=0.0)
    for i, grads in enumerate(GRADS[:3]):
        opt(tuple(map(Tensor, grads)))
        for group in topt.param_groups:
            group["lr"] = float(LRS[i])
        tw.grad, tb.grad = map(torch.tensor, grads)
        topt.step()
    np.testing.assert_allclose(net.w.asnumpy(), tw.detach().numpy(), atol=2e-6)
    np.testing.assert_allclose(net.b.asnumpy(), tb.detach().numpy(), atol=2e-6)


def test_bias_corrections_are_torchs_per_step():
    """Row t - 1 holds torch's 1 - beta^t for step t = 1..steps (Python floats, rounded once)."""
    betas = (0.9, 0.999)
    want = np.array([[1 - betas[0] ** t, 1 - betas[1] ** t] for t in range(1, 7)], np.float32)
    np.testing.assert_array_equal(bias_corrections(betas, 6), want)


def test_adamw_reports_success_per_parameter_as_mindspores_optimisers_do():
    grads = tuple(map(Tensor, GRADS[0]))
    ours = AdamW([Toy().w, Toy().b], Tensor(LRS))(grads)
    theirs = nn.Momentum([Toy().w, Toy().b], Tensor(LRS), momentum=0.9)(grads)
    assert [bool(x) for x in ours] == [bool(x) for x in theirs] == [True, True]


def make_step(cfg, seed=0, clip=None):
    ms.set_seed(seed)
    model = build_model(cfg, 10)
    opt = build_optimizer(model, cfg["optimizer"], np.full(20, 0.05, np.float32))
    step = TrainStep(NetWithLoss(model), opt, Tensor(1.0, ms.float32), clip)
    step.set_train(True)
    return model, step


def batch(seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((8, 1, 32, 32)).astype(np.float32)
    t = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 8)]
    return Tensor(x), Tensor(t)


def params_of(cell):
    return {p.name: p.asnumpy().copy() for p in cell.get_parameters()}


def test_checkpoint_round_trip_resumes_identically(tmp_path):
    cfg = digits_cfg()
    model, step = make_step(cfg, clip=5.0)
    loss, overflow, _ = step(*batch(0))
    assert np.isfinite(loss.asnumpy()) and not overflow.asnumpy()
    meta = {"epoch": 1, "global_step": 1, "val_top1": 50.0, "val_top5": 90.0,
            "model": cfg["model"]["name"], "history": []}
    ckpt_dir = str(tmp_path / "checkpoints")
    path = ckpt.save_epoch(ckpt_dir, 1, model, step, meta, keep=2, is_best=True)
    assert not [f for f in os.listdir(ckpt_dir) if f.startswith(".tmp-")]
    step(*batch(1))
    after_a = params_of(step)

    # the model file alone: exactly the model's names, loadable strictly into a fresh model
    saved = ms.load_checkpoint(path)
    assert set(saved) == {p.name for p in model.get_parameters()}
    fresh_model, fresh_step = make_step(cfg, seed=1, clip=5.0)
    ms.load_param_into_net(fresh_model, saved, strict_load=True)
    np.testing.assert_array_equal(fresh_model.fc.weight.asnumpy(), saved["fc.weight"].asnumpy())

    got = ckpt.load_epoch(ckpt_dir, 1, fresh_model, fresh_step)
    assert got["epoch"] == 1
    assert int(fresh_step.optimizer.global_step.asnumpy().reshape(-1)[0]) == 1
    fresh_step(*batch(1))
    after_b = params_of(fresh_step)
    for name, value in after_a.items():
        if name != "learning_rate":
            np.testing.assert_allclose(after_b[name], value, atol=1e-6, err_msg=name)


def test_rotation_best_and_incomplete_epochs(tmp_path):
    cfg = digits_cfg()
    model, step = make_step(cfg)
    ckpt_dir = str(tmp_path)
    for epoch in range(1, 5):
        meta = {"epoch": epoch, "val_top1": float(epoch), "val_top5": 1.0, "model": "m"}
        ckpt.save_epoch(ckpt_dir, epoch, model, step, meta, keep=2, is_best=epoch == 2)
    assert ckpt.saved_epochs(ckpt_dir) == [3, 4]
    assert not os.path.exists(os.path.join(ckpt_dir, "epoch_0001.ckpt"))
    with open(os.path.join(ckpt_dir, "best.json")) as f:
        assert json.load(f)["epoch"] == 2
    os.remove(os.path.join(ckpt_dir, "epoch_0004.json"))  # a kill before the JSON landed
    assert ckpt.resolve_resume(ckpt_dir, "unused") == (ckpt_dir, 3)
    open(os.path.join(ckpt_dir, ".tmp-epoch_0005.ckpt"), "w").close()
    ckpt.remove_stale_tmp(ckpt_dir)
    assert not os.path.exists(os.path.join(ckpt_dir, ".tmp-epoch_0005.ckpt"))


def test_resolve_resume_forms(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    with pytest.raises(ValueError, match="no complete checkpoint"):
        ckpt.resolve_resume(str(run), str(run))
    for path in ckpt.epoch_paths(str(run / "checkpoints"), 7):
        open(path, "w").close()
    assert ckpt.resolve_resume("auto", str(run))[1] == 7
    assert ckpt.resolve_resume(str(run), "x")[1] == 7
    assert ckpt.resolve_resume(str(run / "checkpoints" / "epoch_0007.ckpt"), "x")[1] == 7
    with pytest.raises(ValueError, match="no such file"):
        ckpt.resolve_resume(str(tmp_path / "nope"), "x")
    bogus = tmp_path / "weights.ckpt"
    bogus.write_text("")
    with pytest.raises(ValueError, match="expected an epoch_NNNN"):
        ckpt.resolve_resume(str(bogus), "x")


def test_soft_target_cross_entropy_is_timms():
    """timm's SoftTargetCrossEntropy: mean over the batch of sum(-target * log_softmax(x))."""
    from ms_acmix.train.step import SoftTargetCrossEntropy

    logits = RNG.standard_normal((3, 5)).astype(np.float32)
    targets = RNG.dirichlet(np.ones(5), size=3).astype(np.float32)
    want = torch.sum(-torch.tensor(targets) * torch.log_softmax(torch.tensor(logits), dim=-1),
                     dim=-1).mean()
    got = SoftTargetCrossEntropy()(Tensor(logits), Tensor(targets))
    np.testing.assert_allclose(got.asnumpy(), want.numpy(), rtol=1e-6)
