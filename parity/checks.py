"""The checks every parity test runs: each compares MindSpore float32 against PyTorch float64
under the reference error model (parity/error_model.py), records the result and, on failure,
saves the inputs and names the first diverging layer."""
import copy
from typing import Callable, Dict, Optional, Union

import numpy as np
import torch
from mindspore import Tensor

from acmix_common.name_map import ms_to_torch
from acmix_common.tolerance import Comparison
from parity.error_model import compare_to_reference
from ms_acmix.models.exportable import use_exportable_ops

from . import device
from .localize import first_divergence
from .report import record, save_failure
from .strategies import ModelConfig
from .twins import (build, draw_cotangent, draw_input, features_computation, forward_computation,
                    grads_computation, ms_features, ms_forward, ms_grads, reference)


class ParityFailure(AssertionError):
    """A check's verdict against MindSpore; ``results`` holds the failing comparisons."""

    def __init__(self, message: str, results: Dict[str, Comparison]):
        super().__init__(message)
        self.results = results

    @property
    def worst_ratio(self) -> float:
        return max(r.ratio for r in self.results.values())


def against(actual: Dict[str, np.ndarray], ref64: Dict[str, np.ndarray],
            noise: Dict[str, float], context: Union[None, float, Dict[str, float]] = None,
            kind: str = "forward") -> Dict[str, Comparison]:
    """Each MindSpore result against its float64 reference, bounded by its measured noise
    (``kind``: 'forward' or 'grad', error_model.NOISE_MULTIPLE). ``context``: the
    check's scale (one for all, or per result); None: each result's own."""
    if set(actual) != set(ref64):
        raise AssertionError(f"results differ in name: torch-only "
                             f"{sorted(set(ref64) - set(actual))}, MindSpore-only "
                             f"{sorted(set(actual) - set(ref64))}")
    scales = context if isinstance(context, dict) else dict.fromkeys(ref64, context)
    return {name: compare_to_reference(actual[name], ref64[name], noise[name], scales[name],
                                       device.arithmetic(), kind) for name in ref64}


def verdict(check: str, config, results: Dict[str, Comparison], arrays: Dict[str, np.ndarray],
            where: Optional[Callable[[], str]] = None) -> Dict[str, Comparison]:
    """Record the check's worst comparison; on any failure save ``arrays`` and raise."""
    record(check, config, max(results.values(), key=lambda r: r.ratio))
    failures = {name: r for name, r in results.items() if not r.ok}
    if not failures:
        return results
    path = save_failure(check, config, **arrays)
    lines = [f"{check}: MindSpore differs from PyTorch for {config}"]
    lines += [f"  {name}: {result}" for name, result in failures.items()]
    if where is not None:
        lines.append(f"  first diverging layer: {where()}")
    lines.append(f"  inputs saved to {path}")
    raise ParityFailure("\n".join(lines), failures)


def _where(t_model, m_model, x, seed: int) -> Callable[[], str]:
    def locate() -> str:
        found = first_divergence(t_model, m_model, x, seed)
        if found is None:
            return "none of the paired layers (the difference is in the composition)"
        name, shape, result = found
        return f"{name} output {shape}: {result}"
    return locate


def check_forward(config, graph: bool = False, exportable_ops: bool = False) -> Comparison:
    """``exportable_ops``: MindSpore runs the ONNX-exportable formulations
    (ms_acmix.models.exportable)."""
    check = "forward GRAPH" if graph else "forward"
    if exportable_ops:
        check += " exportable ops"
    t_model, m_model = build(config)
    use_exportable_ops(m_model, exportable_ops)
    x = draw_input(config)
    ref64, noise = reference(forward_computation, t_model, {"x": x}, config.seed)
    results = against({"output": ms_forward(m_model, x, graph)}, ref64, noise)
    where = _where(t_model, m_model, x, config.seed) if isinstance(config, ModelConfig) else None
    return verdict(check, config, results, dict(x=x), where)["output"]


def check_gradients(config, graph: bool = False) -> Dict[str, Comparison]:
    check = "gradients GRAPH" if graph else "gradients"
    t_model, m_model = build(config)
    x = draw_input(config)
    cotangent = draw_cotangent(t_model, x, config.seed + 1)
    inputs = dict(x=x, cotangent=cotangent)
    ref64, noise = reference(grads_computation, t_model, inputs, config.seed)
    context = max(float(np.abs(g).max()) for g in ref64.values())
    results = against(ms_grads(m_model, x, cotangent, graph), ref64, noise, context, "grad")
    return verdict(check, config, results, inputs)


def check_features(config: ModelConfig, graph: bool = False) -> Dict[str, Comparison]:
    """A features_only backbone (``config.kwargs`` carries features_only and out_indices): every
    returned stage map, each under its own noise."""
    check = "features GRAPH" if graph else "features"
    t_model, m_model = build(config)
    x = draw_input(config)
    ref64, noise = reference(features_computation, t_model, {"x": x}, config.seed)
    return verdict(check, config, against(ms_features(m_model, x, graph), ref64, noise),
                   dict(x=x))


def _train_computation(model, inputs, dtype) -> Dict[str, np.ndarray]:
    """Train-mode outputs (batch statistics) and the running statistics after one forward."""
    model = copy.deepcopy(model).to(dtype).train()
    with torch.no_grad():
        out = model(torch.from_numpy(inputs["x"]).to(dtype)).double().numpy()
    stats = {n: b.double().numpy() for n, b in model.named_buffers()
             if n.endswith(("running_mean", "running_var"))}
    return {"output": out, **stats}


def check_train_forward(config: ModelConfig) -> Dict[str, Comparison]:
    """Train mode: outputs (batch statistics) and the running statistics after one forward."""
    t_model, m_model = build(config)
    # Batch statistics need more than one value per channel, also at a 1x1 last stage.
    x = draw_input(config, (max(2, config.input_shape[0]),) + tuple(config.input_shape[1:]))
    ref64, noise = reference(_train_computation, t_model, {"x": x}, config.seed)
    m_model.set_train(True)
    actual = {"output": m_model(Tensor(x)).asnumpy().astype(np.float64)}
    actual.update({ms_to_torch(n): p.asnumpy().astype(np.float64)
                   for n, p in m_model.parameters_and_names()
                   if n.endswith(("moving_mean", "moving_variance"))})
    return verdict("train forward", config, against(actual, ref64, noise), dict(x=x))


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
    ref64, noise = reference(forward_computation, t_model, {"x": x}, config.seed)
    result = verdict("checkpoint torch2ms", config,
                     against({"output": ms_forward(m_model, x)}, ref64, noise), dict(x=x))
    convert(Options("ms2torch", ckpt, back, config.name, dict(config.kwargs), force=True))
    restored = torch_ref.create_model(config.name, **config.kwargs)
    restored.load_state_dict(torch.load(back, weights_only=True), strict=True)
    original = t_model.state_dict()
    changed = [k for k, v in restored.state_dict().items()
               if not k.endswith("num_batches_tracked") and not torch.equal(v, original[k])]
    if changed:
        raise AssertionError(f"checkpoint ms2torch: not bit-exact after the round trip: "
                             f"{changed[:5]}")
    return result["output"]


def check_onnx(config) -> Dict[str, Comparison]:
    """Four witnesses against PyTorch float64: MindSpore, and both frameworks' ONNX exports run in
    onnxruntime, each under the bound of the PyTorch output's float32 noise."""
    from .onnx_twins import onnx_outputs
    t_model, m_model = build(config)
    x = draw_input(config)
    ref64, noise = reference(forward_computation, t_model, {"x": x}, config.seed)
    witnesses = {"MindSpore": ms_forward(m_model, x), **onnx_outputs(t_model, m_model, x)}
    results = {name: compare_to_reference(out, ref64["output"], noise["output"],
                                          arithmetic=device.arithmetic())
               for name, out in witnesses.items()}
    return verdict("onnx", config, results, dict(x=x))
