"""The checks every parity test runs: each compares MindSpore float32 against PyTorch float64,
bounded by PyTorch float32's own error, records the result and, on failure, saves the inputs and
names the first diverging layer."""
import copy
from typing import Dict

import numpy as np
import torch
from mindspore import Tensor

from acmix_common.name_map import ms_to_torch
from ms_acmix.exportable import use_exportable_ops

from .localize import first_divergence
from .report import record, save_failure
from .strategies import ModelConfig
from .tolerance import Comparison, compare_to_reference
from .twins import (build, draw_cotangent, draw_input, ms_forward, ms_grads, torch_forward,
                    torch_grads)


def _fail(check: str, config, failures: Dict[str, Comparison], where: str = "",
          **arrays: np.ndarray) -> None:
    path = save_failure(check, config, **arrays)
    lines = [f"{check}: MindSpore differs from PyTorch for {config}"]
    lines += [f"  {name}: {result}" for name, result in failures.items()]
    if where:
        lines.append(f"  first diverging layer: {where}")
    lines.append(f"  inputs saved to {path}")
    raise AssertionError("\n".join(lines))


def _where(t_model, m_model, x) -> str:
    found = first_divergence(t_model, m_model, x)
    if found is None:
        return "none of the paired layers (the difference is in the composition)"
    name, shape, result = found
    return f"{name} output {shape}: {result}"


def check_forward(config, graph: bool = False, exportable_ops: bool = False) -> Comparison:
    """``exportable_ops``: MindSpore runs the ONNX-exportable formulations (ms_acmix.exportable)."""
    check = "forward GRAPH" if graph else "forward"
    if exportable_ops:
        check += " exportable ops"
    t_model, m_model = build(config)
    use_exportable_ops(m_model, exportable_ops)
    x = draw_input(config)
    result = compare_to_reference(ms_forward(m_model, x, graph),
                                  torch_forward(t_model, x, torch.float64),
                                  torch_forward(t_model, x))
    record(check, config, result)
    if not result.ok:
        where = _where(t_model, m_model, x) if isinstance(config, ModelConfig) else ""
        _fail(check, config, {"output": result}, where, x=x)
    return result


def check_gradients(config, graph: bool = False) -> Dict[str, Comparison]:
    check = "gradients GRAPH" if graph else "gradients"
    t_model, m_model = build(config)
    x = draw_input(config)
    cotangent = draw_cotangent(t_model, x, config.seed + 1)
    ref64 = torch_grads(t_model, x, cotangent, torch.float64)
    ref32 = torch_grads(t_model, x, cotangent)
    actual = ms_grads(m_model, x, cotangent, graph)
    if set(actual) != set(ref64):
        raise AssertionError(f"{check}: gradients of different parameters: torch-only "
                             f"{sorted(set(ref64) - set(actual))}, MindSpore-only "
                             f"{sorted(set(actual) - set(ref64))}")
    context = max(float(np.abs(g).max()) for g in ref64.values())
    results = {name: compare_to_reference(actual[name], ref64[name], ref32[name], "float32",
                                          "grad", context) for name in ref64}
    worst = max(results.values(), key=lambda r: r.max_abs / max(r.bound, 1e-300))
    record(check, config, worst)
    failures = {name: r for name, r in results.items() if not r.ok}
    if failures:
        _fail(check, config, failures, x=x, cotangent=cotangent)
    return results


def check_train_forward(config: ModelConfig) -> Dict[str, Comparison]:
    """Train mode: outputs (batch statistics) and the running statistics after one forward."""
    results = {}
    refs = {}
    t_model, m_model = build(config)
    # Batch statistics need more than one value per channel, also at a 1x1 last stage.
    x = draw_input(config, (max(2, config.input_shape[0]),) + tuple(config.input_shape[1:]))
    for dtype in (torch.float64, torch.float32):
        model = copy.deepcopy(t_model).to(dtype).train()
        with torch.no_grad():
            out = model(torch.from_numpy(x).to(dtype)).double().numpy()
        stats = {n: b.double().numpy() for n, b in model.named_buffers()
                 if n.endswith(("running_mean", "running_var"))}
        refs[dtype] = (out, stats)
    m_model.set_train(True)
    out = m_model(Tensor(x)).asnumpy().astype(np.float64)
    m_stats = {ms_to_torch(n): p.asnumpy().astype(np.float64)
               for n, p in m_model.parameters_and_names()
               if n.endswith(("moving_mean", "moving_variance"))}
    (out64, stats64), (out32, stats32) = refs[torch.float64], refs[torch.float32]
    if set(m_stats) != set(stats64):
        raise AssertionError(f"train: running statistics differ in name: "
                             f"{sorted(set(m_stats) ^ set(stats64))[:5]}")
    results["output"] = compare_to_reference(out, out64, out32)
    for name in stats64:
        results[name] = compare_to_reference(m_stats[name], stats64[name], stats32[name])
    record("train forward", config, max(results.values(), key=lambda r: r.max_abs / r.bound))
    failures = {name: r for name, r in results.items() if not r.ok}
    if failures:
        _fail("train forward", config, failures, x=x)
    return results


def check_checkpoint_roundtrip(config: ModelConfig, workdir: str) -> Comparison:
    """Drawn torch weights -> scripts/convert_ckpt.py torch2ms -> a fresh MindSpore model gives
    the torch outputs; ms2torch back gives every torch entry bit for bit."""
    import os

    import mindspore as ms

    import ms_acmix
    import torch_ref
    from ckpt_convert.pipeline import Options, convert

    t_model, _ = build(config)
    src, ckpt, back = (os.path.join(workdir, f) for f in ("src.pth", "ms.ckpt", "back.pth"))
    torch.save(t_model.state_dict(), src)
    convert(Options("torch2ms", src, ckpt, config.name, dict(config.kwargs), force=True))
    m_model = ms_acmix.create_model(config.name, **config.kwargs)
    not_loaded, unused = ms.load_param_into_net(m_model, ms.load_checkpoint(ckpt),
                                                strict_load=True)
    if not_loaded or unused:
        raise AssertionError(f"checkpoint: not loaded {not_loaded[:5]}, unused {unused[:5]}")
    m_model.set_train(False)
    x = draw_input(config)
    result = compare_to_reference(ms_forward(m_model, x), torch_forward(t_model, x, torch.float64),
                                  torch_forward(t_model, x))
    record("checkpoint torch2ms", config, result)
    if not result.ok:
        _fail("checkpoint torch2ms", config, {"output": result}, x=x)
    convert(Options("ms2torch", ckpt, back, config.name, dict(config.kwargs), force=True))
    restored = torch_ref.create_model(config.name, **config.kwargs)
    restored.load_state_dict(torch.load(back, weights_only=True), strict=True)
    original = t_model.state_dict()
    changed = [k for k, v in restored.state_dict().items()
               if not k.endswith("num_batches_tracked") and not torch.equal(v, original[k])]
    if changed:
        raise AssertionError(f"checkpoint ms2torch: not bit-exact after the round trip: "
                             f"{changed[:5]}")
    return result


OPTIMIZERS = {
    "sgd": dict(name="sgd", momentum=0.9, nesterov=False, weight_decay=1e-4, no_decay_1d=False,
                no_decay_keywords=[], betas=[0.9, 0.999], eps=1e-8),
    "adamw": dict(name="adamw", momentum=0.9, nesterov=False, weight_decay=0.05,
                  no_decay_1d=True, no_decay_keywords=["relative_position_bias_table"],
                  betas=[0.9, 0.999], eps=1e-8),
}


def _torch_optimizer(model: torch.nn.Module, opt: dict, lr: float, ms_decay: Dict[str, float]):
    groups: Dict[float, list] = {}
    for name, p in model.named_parameters():
        groups.setdefault(ms_decay[name], []).append(p)
    param_groups = [{"params": ps, "weight_decay": wd} for wd, ps in groups.items()]
    if opt["name"] == "adamw":
        return torch.optim.AdamW(param_groups, lr=lr, betas=tuple(opt["betas"]), eps=opt["eps"])
    return torch.optim.SGD(param_groups, lr=lr, momentum=opt["momentum"],
                           nesterov=opt["nesterov"])


def check_optimizer_steps(config, optimizer: str, steps: int = 2, lr: float = 0.05):
    """``steps`` steps of the training script's optimiser (ms_acmix.train.optim, with its
    weight-decay groups over the model's parameters) against torch.optim, fed the same
    gradients: the update rule alone. (Gradients have their own check; feeding each framework
    its own would let Adam's elementwise normalisation amplify gradient roundoff.)"""
    from ms_acmix.train.optim import build_optimizer, param_groups

    opt = OPTIMIZERS[optimizer]
    t_model, m_model = build(config)
    x = draw_input(config)
    cotangent = draw_cotangent(t_model, x, config.seed + 2)
    grads = torch_grads(t_model, x, cotangent)  # float32, fed to every optimiser
    ms_decay = {ms_to_torch(p.name): float(g["weight_decay"])
                for g in param_groups(m_model, opt) for p in g["params"]}
    m_opt = build_optimizer(m_model, opt, np.full(steps, lr, np.float32))
    m_grads = tuple(Tensor(grads[ms_to_torch(p.name)].astype(np.float32))
                    for p in m_opt.parameters)
    for _ in range(steps):
        m_opt(m_grads)
    refs = {}
    for dtype in (torch.float64, torch.float32):
        model = copy.deepcopy(t_model).to(dtype)
        t_opt = _torch_optimizer(model, opt, lr, ms_decay)
        for _ in range(steps):
            for name, p in model.named_parameters():
                p.grad = torch.from_numpy(grads[name]).to(dtype)
            t_opt.step()
        refs[dtype] = {n: p.detach().double().numpy() for n, p in model.named_parameters()}
    before = {n: p.detach().double().numpy() for n, p in t_model.named_parameters()}
    actual = {ms_to_torch(p.name): p.asnumpy().astype(np.float64) for p in m_opt.parameters}
    # Compare the updates, not the parameters: the question is whether the step was taken right,
    # and its scale is lr-sized, not the parameter's.
    results = {n: compare_to_reference(actual[n] - before[n], refs[torch.float64][n] - before[n],
                                       refs[torch.float32][n] - before[n], "float32", "grad")
               for n in refs[torch.float64]}
    check = f"{optimizer} steps"
    record(check, config, max(results.values(), key=lambda r: r.max_abs / r.bound))
    failures = {n: r for n, r in results.items() if not r.ok}
    if failures:
        _fail(check, config, failures, x=x, cotangent=cotangent)
    return results


def check_onnx(config) -> Dict[str, Comparison]:
    """Four witnesses against PyTorch float64: MindSpore, and both frameworks' ONNX exports run in
    onnxruntime, each bounded by PyTorch float32's own error."""
    from .onnx_twins import onnx_outputs
    t_model, m_model = build(config)
    x = draw_input(config)
    ref64 = torch_forward(t_model, x, torch.float64)
    ref32 = torch_forward(t_model, x)
    witnesses = {"MindSpore": ms_forward(m_model, x), **onnx_outputs(t_model, m_model, x)}
    results = {name: compare_to_reference(out, ref64, ref32) for name, out in witnesses.items()}
    record("onnx", config, max(results.values(), key=lambda r: r.max_abs / max(r.bound, 1e-300)))
    failures = {name: r for name, r in results.items() if not r.ok}
    if failures:
        _fail("onnx", config, failures, x=x)
    return results
