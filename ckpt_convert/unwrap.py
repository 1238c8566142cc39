"""Finding the weights inside what a checkpoint file holds, and turning them into numpy arrays.

PyTorch files: a bare state dict; the official Swin script's ``{'model', 'optimizer',
'lr_scheduler', 'max_accuracy', 'epoch', 'config'}``; the official ResNet script's
``{'state_dict': {'module.' + name: ...}, 'epoch', 'arch', 'best_acc1', 'optimizer', 'scheduler'}``;
EMA copies under the usual keys. MindSpore files: model parameters, plus optimizer slots
(``moments.<param>``...), training scalars (``global_step``...) and EMA copies (``ema.<param>``).
``where`` names the file in errors by the caller's parameter (``path='w.pth'``).
"""
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional

import numpy as np

from acmix_common.name_map import MS_ONLY_LEAVES

from . import formats
from .errors import CheckpointError
from .formats import to_numpy

MODEL_KEYS = ("model", "state_dict", "model_state_dict", "net")
EMA_KEYS = ("model_ema", "state_dict_ema", "ema", "ema_state_dict", "model_ema_state_dict")
WRAPPER_PREFIXES = ("module.", "_orig_mod.")  # DataParallel / DDP, torch.compile
MS_SLOT_PREFIXES = ("moments.", "adam_m.", "adam_v.", "adamw_m.", "adamw_v.", "accum.",
                    "mean_grad.", "mean_square.", "moment1.", "moment2.", "vhat.", "ema.")
MS_STATE_NAMES = ("global_step", "learning_rate", "beta1_power", "beta2_power", "scale_sense",
                  "current_iterator_step", "last_overflow_iterator_step", "epoch_num", "step_num")
SWIN_WRAPPER = {"model", "optimizer", "lr_scheduler", "max_accuracy", "epoch", "config"}
RESNET_WRAPPER = {"state_dict", "epoch", "arch", "best_acc1"}


@dataclass
class SourceWeights:
    """The weights taken from a file, named as in the file after unwrapping."""

    arrays: Dict[str, np.ndarray]
    taken: str  # what was taken, in words
    notes: List[str] = field(default_factory=list)
    dropped: Dict[str, str] = field(default_factory=dict)  # entry -> why it was dropped
    dtype_notes: Dict[str, str] = field(default_factory=dict)


def _is_state_dict(value: Any) -> bool:
    import torch
    return (isinstance(value, Mapping) and len(value) > 0
            and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items()))


def _arrays(where: str, tensors: Mapping[str, Any], weights: SourceWeights) -> None:
    for name, value in tensors.items():
        try:
            weights.arrays[name], note = to_numpy(value)
        except TypeError as exc:
            raise CheckpointError(f"{where}: entry {name!r} is {exc}") from None
        if note:
            weights.dtype_notes[name] = note


def _describe_wrapper(obj: Mapping) -> str:
    keys = set(obj)
    if SWIN_WRAPPER <= keys:
        return (f"official Swin training checkpoint (epoch {obj['epoch']}, "
                f"max_accuracy {obj['max_accuracy']})")
    if RESNET_WRAPPER <= keys:
        return (f"official ResNet training checkpoint (arch {obj['arch']}, epoch {obj['epoch']}, "
                f"best_acc1 {_scalar(obj['best_acc1'])})")
    return f"dict with keys {sorted(map(str, keys))}"


def _scalar(value: Any) -> str:
    try:
        return f"{float(value):.3f}"  # a float, a numpy scalar or a one-element tensor
    except (TypeError, ValueError, RuntimeError):
        return repr(value)[:40]


def _config_note(config: Any) -> Optional[str]:
    if not isinstance(config, Mapping):
        return None
    picks = []
    for path in ("MODEL.TYPE", "MODEL.NAME", "MODEL.NUM_CLASSES", "DATA.IMG_SIZE"):
        node: Any = config
        for part in path.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        if node is not None:
            picks.append(f"{path}={node}")
    return ("config (yacs CfgNode, read as a dict without yacs): "
            + (", ".join(picks) or "no model fields"))


def unwrap_torch(where: str, obj: Any, use_ema: bool) -> SourceWeights:
    """The state dict inside a ``torch.save`` object, with wrapper prefixes removed."""
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{where} is not a checkpoint: it holds a {type(obj).__name__}, "
                              "not a state dict or a dict wrapping one")
    if _is_state_dict(obj):
        if use_ema:
            raise CheckpointError(f"ema=True: {where} is a bare state dict with no EMA copy")
        weights = SourceWeights({}, "bare state dict")
        _arrays(where, obj, weights)
        return _strip_prefixes(weights)
    raw = [k for k in MODEL_KEYS if k in obj and _is_state_dict(obj[k])]
    ema = [k for k in EMA_KEYS if k in obj and _is_state_dict(obj[k])]
    if use_ema and not ema:
        raise CheckpointError(f"ema=True: {where} has no EMA copy (looked for "
                              f"{', '.join(EMA_KEYS)})")
    if not raw and not ema:
        raise CheckpointError(f"{where} is not a checkpoint: a dict with keys "
                              f"{sorted(map(str, obj))[:8]} and no state dict under "
                              f"{', '.join(MODEL_KEYS + EMA_KEYS)}")
    key = ema[0] if (use_ema or not raw) else raw[0]
    why = "EMA copy, as ema=True asks" if use_ema else ("EMA copy, the only weights in the file"
                                                      if not raw else "model weights")
    weights = SourceWeights({}, f"{key!r} ({why}) from: {_describe_wrapper(obj)}")
    if ema and not use_ema and raw:
        weights.notes.append(f"EMA copy {ema[0]!r} present but not taken (pass ema=True to take "
                             "it)")
    _arrays(where, obj[key], weights)
    others = [str(k) for k in obj if k != key]
    if others:
        weights.notes.append("dropped wrapper entries (not weights of the model): "
                             + ", ".join(others))
    note = _config_note(obj.get("config"))
    if note:
        weights.notes.append(note)
    return _strip_prefixes(weights)


def _strip_prefixes(weights: SourceWeights) -> SourceWeights:
    changed = True
    while changed:
        changed = False
        for prefix in WRAPPER_PREFIXES:
            if weights.arrays and all(k.startswith(prefix) for k in weights.arrays):
                weights.arrays = {k[len(prefix):]: v for k, v in weights.arrays.items()}
                weights.dtype_notes = {k[len(prefix):]: v for k, v in weights.dtype_notes.items()}
                weights.notes.append(f"stripped the {prefix!r} prefix from every key")
                changed = True
    return weights


def unwrap_flat(where: str, tensors: Mapping[str, Any], metadata: Mapping[str, str]
                ) -> SourceWeights:
    """A safetensors file read as PyTorch weights: name -> tensor, nothing to unwrap."""
    weights = SourceWeights({}, "safetensors file" + (f" (format {metadata['format']!r})"
                                                      if "format" in metadata else ""))
    _arrays(where, tensors, weights)
    return _strip_prefixes(weights)


def unwrap_mindspore(where: str, entries: Mapping[str, Any], use_ema: bool) -> SourceWeights:
    """Model parameters of a MindSpore checkpoint; optimizer and training state are dropped."""
    names = set(entries)
    slots = {}
    for name in names:
        for prefix in MS_SLOT_PREFIXES:
            if name.startswith(prefix) and name[len(prefix):] in names:
                slots[name] = prefix
    has_ema = any(p == "ema." for p in slots.values())
    if use_ema and not has_ema:
        raise CheckpointError(f"ema=True: {where} has no EMA copy (no 'ema.<parameter>' entries)")
    weights = SourceWeights({}, "EMA copy ('ema.' entries, as ema=True asks)" if use_ema
                            else "model parameters")
    if has_ema and not use_ema:
        weights.notes.append("EMA copy ('ema.' entries) present but not taken (pass ema=True)")
    taken = {}
    for name, value in entries.items():
        if name in slots:
            if use_ema and slots[name] == "ema.":
                taken[name[len("ema."):]] = value
            else:
                weights.dropped[name] = f"dropped: {slots[name][:-1]} slot (optimizer/EMA state)"
        elif name in MS_STATE_NAMES:
            weights.dropped[name] = "dropped: training state, not a model weight"
        elif not use_ema or ("ema." + name) not in names:
            taken[name] = value
        else:
            weights.dropped[name] = "dropped: raw weight (its EMA copy was taken)"
    _arrays(where, taken, weights)
    return weights


def file_naming(fmt: str, obj: Mapping[str, Any], metadata: Mapping[str, str]) -> str:
    """Which framework's names a file holds: 'mindspore' or 'torch'.

    A ``.ckpt`` is MindSpore's and a pickle PyTorch's. A safetensors file is the same bytes
    whichever framework wrote it: its ``format`` metadata says which ('ms' from MindSpore, 'pt'
    from PyTorch), else MindSpore's norm leaves, optimizer slots or training state do.
    """
    if fmt == formats.MS_CKPT:
        return "mindspore"
    if fmt == formats.TORCH:
        return "torch"
    written_by = metadata.get("format")
    if written_by in ("ms", "pt"):
        return "mindspore" if written_by == "ms" else "torch"
    leaves = {name.rpartition(".")[2] for name in obj}
    if leaves & set(MS_ONLY_LEAVES) or any(
            name in MS_STATE_NAMES or name.startswith(MS_SLOT_PREFIXES) for name in obj):
        return "mindspore"
    return "torch"


def unwrap_file(where: str, fmt: str, naming: str, obj: Any, metadata: Mapping[str, str],
                use_ema: bool) -> SourceWeights:
    """The model weights in a read file (``formats.read_file``), named as in the file."""
    if naming == "mindspore":
        weights = unwrap_mindspore(where, obj, use_ema)
    elif fmt == formats.SAFETENSORS:
        if use_ema:
            raise CheckpointError(f"ema=True: {where} is a safetensors file with no EMA copy")
        weights = unwrap_flat(where, obj, metadata)
    else:
        weights = unwrap_torch(where, obj, use_ema)
    if not weights.arrays:
        raise CheckpointError(f"{where} is not a checkpoint: it holds no model tensors")
    weights.notes.insert(0, f"file format: {fmt}")
    return weights
