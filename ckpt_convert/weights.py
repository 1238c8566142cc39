"""The weights API: read any supported file as PyTorch-style names, load weights into a built model.

    arrays, info = read_weights("swin_tiny_patch4_window7_224.pth")
    report = load_weights(ms_model, "model_best.pth.tar", skip=("fc",))
    load_weights(ms_model, torch_model.state_dict())

Files: MindSpore ``.ckpt``, PyTorch pickles (``.pth``, ``.pth.tar``, ``.pt``; every official
wrapping, DataParallel prefixes, EMA copies) and safetensors written by either framework. Loading
is strict: every model entry is filled (but those under ``skip``) and every file entry is used or
dropped on purpose (BatchNorm step counters; rebuilt buffers, compared with the model's own).
"""
import os
from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from acmix_common.name_map import ms_to_torch, torch_to_ms_map, under

from . import formats
from .errors import CheckpointError
from .models import ms_target, torch_target
from .plan import make_plan
from .unwrap import SourceWeights, file_naming, unwrap_file
from .verify import load_into


@dataclass(frozen=True)
class WeightsInfo:
    """Where the weights of a file came from."""

    path: str
    format: str  # 'torch', 'safetensors' or 'ckpt'
    naming: str  # the framework whose parameter names the file holds: 'torch' or 'mindspore'
    taken: str  # what was taken from the file (the wrapping), in words
    ema: bool  # the EMA copy was taken
    notes: Tuple[str, ...] = ()
    dropped: Mapping[str, str] = field(default_factory=dict)  # file entry -> why it was not taken


@dataclass
class LoadReport:
    """What ``load_weights`` did: every model entry loaded, skipped or rebuilt by the model."""

    framework: str  # the model's: 'mindspore' or 'torch'
    source: str  # the file, or '<dict>'
    info: Optional[WeightsInfo]  # None for a dict source
    loaded: List[str]  # torch-style names loaded from the source
    skipped: List[str]  # torch-style names of model entries left as built (``skip``)
    dropped: Dict[str, str]  # source entry -> why it was not loaded


def _read(path: str, ema: bool) -> Tuple[SourceWeights, WeightsInfo]:
    where = f"path={path!r}"
    fmt = formats.sniff_format(path, where)
    obj, metadata = formats.read_file(path, fmt, where)
    naming = file_naming(fmt, obj, metadata)
    weights = unwrap_file(where, fmt, naming, obj, metadata, ema)
    if naming == "mindspore":
        try:
            names = torch_to_ms_map(weights.arrays)
        except ValueError as exc:
            raise CheckpointError(f"{where}: {exc}") from None
        weights = replace(weights, arrays={t: weights.arrays[m] for t, m in names.items()},
                          dtype_notes={ms_to_torch(k): v for k, v in weights.dtype_notes.items()})
    info = WeightsInfo(path, fmt, naming, weights.taken, ema, tuple(weights.notes),
                       dict(weights.dropped))
    return weights, info


def read_weights(path: Union[str, os.PathLike], *, ema: bool = False
                 ) -> Tuple[Dict[str, np.ndarray], WeightsInfo]:
    """(torch-style name -> numpy array, where they came from) of any supported weights file.

    ``ema`` takes the file's EMA copy (an error if it has none). Optimizer state, training
    scalars and wrapper entries are left out (``info.dropped``, ``info.notes``).
    """
    weights, info = _read(os.fspath(path), ema)
    return weights.arrays, info


def model_framework(model) -> str:
    """'mindspore' for an ``nn.Cell``, 'torch' for an ``nn.Module``."""
    framework = formats.framework_of(model)
    if framework:
        return framework
    raise CheckpointError(f"model={type(model).__name__} is neither a MindSpore nn.Cell nor a "
                          "torch nn.Module")


def _source(source, ema: bool) -> Tuple[str, SourceWeights, Optional[WeightsInfo]]:
    """(the source as errors name it, its weights, where a file's came from)."""
    if isinstance(source, (str, os.PathLike)):
        weights, info = _read(os.fspath(source), ema)
        return f"path={os.fspath(source)!r}", weights, info
    if isinstance(source, Mapping):
        if ema:
            raise CheckpointError("ema=True: the weights are a dict, not a file with an EMA copy")
        weights = SourceWeights({}, "dict of torch-style names")
        for name, value in source.items():
            try:
                weights.arrays[name], note = formats.to_numpy(value)
            except TypeError as exc:
                raise CheckpointError(f"source entry {name!r} is {exc}") from None
            if note:
                weights.dtype_notes[name] = note
        return "<dict>", weights, None
    raise CheckpointError(f"source={type(source).__name__}: expected a file path or a dict of "
                          "torch-style names to arrays")


def load_weights(model, source: Union[str, os.PathLike, Mapping[str, Any]], *,
                 ema: bool = False, skip: Sequence[str] = ()) -> LoadReport:
    """Load ``source`` (a weights file or a dict of torch-style names) into ``model``, strictly.

    ``model`` is a built ``ms_acmix`` Cell or ``torch_ref`` Module (told apart by its class).
    A file is named ``path='w.pth'`` in errors, a dict ``<dict>``.
    ``skip``: torch-style name prefixes (``"fc"``, ``"head"``) neither loaded nor required;
    those model entries keep their values. Source entries under the model's ``pruned_prefixes``
    (the stages and classifier a features_only or headless model does not build) are dropped.
    Anything else missing, unexpected, of another shape or a rebuilt buffer that differs is a
    ``CheckpointError`` naming the file and the problem.
    """
    framework = model_framework(model)
    where, weights, info = _source(source, ema)
    prefixes = tuple(p.rstrip(".") for p in skip)
    pruned = tuple(getattr(model, "pruned_prefixes", ()))  # what a features_only model omits
    dropped = {k: "skipped (skip=" + ",".join(prefixes) + ")" for k in weights.arrays
               if under(k, prefixes)}
    dropped.update({k: "not built by this model (pruned_prefixes=" + ",".join(pruned) + ")"
                    for k in weights.arrays if k not in dropped and under(k, pruned)})
    weights = replace(weights, arrays={k: v for k, v in weights.arrays.items() if k not in dropped})
    target = ms_target(model) if framework == "mindspore" else torch_target(model)
    skipped = {k: v for k, v in target.names.items() if under(k, prefixes)}
    target = replace(target, names={k: v for k, v in target.names.items() if k not in skipped})
    plan = make_plan(weights, "torch", target)
    problems = plan.problems()
    if problems:
        raise CheckpointError(f"{where} does not fit the {framework} {type(model).__name__}: "
                              + "; ".join(problems))
    try:
        load_into(model, framework, plan.arrays, may_miss=list(skipped.values()))
    except CheckpointError as exc:
        raise CheckpointError(f"{where}: {exc}") from None
    dropped.update({row.source: row.action for row in plan.rows
                    if row.source and not row.action.startswith("mapped")})
    loaded = [row.source for row in plan.rows if row.action.startswith("mapped")]
    source_name = "<dict>" if info is None else info.path
    return LoadReport(framework, source_name, info, loaded, sorted(skipped), dropped)
