"""Checkpoints of a run, written by rank 0 after every epoch, each file atomically.

``<run>/checkpoints/`` holds, for each kept epoch E (epochs completed, 4 digits):

- ``epoch_EEEE.ckpt``: the model (MindSpore format, the model's own parameter names,
  BatchNorm statistics included) and, with ``train.ema_decay``, its EMA copy as
  ``ema.<name>`` entries: ``scripts/convert_ckpt.py ms2torch`` takes it as it is (``--ema``: the
  EMA copy); without EMA ``ms.load_param_into_net(model, ms.load_checkpoint(path))`` does too;
- ``epoch_EEEE_state.ckpt``: optimiser moments, its global step and the loss scale;
- ``epoch_EEEE.json``: epoch, step, best accuracy, metrics history, config. Written last: an
  epoch counts as saved only once its JSON exists, so a kill at any moment leaves either the
  previous epoch or this one, never half of one.

plus ``best.ckpt`` / ``best.json`` (the model with the best validation top-1). Files are written
under a ``.tmp-`` name and renamed into place; the oldest epochs beyond ``keep`` are removed.
"""
import glob
import json
import os
import re
from typing import Any, Dict, List, Optional, Tuple

import mindspore as ms
from mindspore import nn

from .ema import PREFIX as EMA_PREFIX  # the converter's --ema reads these (ckpt_convert/unwrap.py)

EPOCH_RE = re.compile(r"epoch_(\d{4,})\.json$")
STATE_EXCLUDED = ("learning_rate",)  # rebuilt from the config on resume


def epoch_paths(ckpt_dir: str, epoch: int) -> Tuple[str, str, str]:
    """(model ckpt, state ckpt, meta json) of one epoch."""
    stem = os.path.join(ckpt_dir, f"epoch_{epoch:04d}")
    return f"{stem}.ckpt", f"{stem}_state.ckpt", f"{stem}.json"


def model_entries(model: nn.Cell, ema_model: Optional[nn.Cell] = None) -> List[Dict[str, Any]]:
    """What a model file holds: the model's parameters, then the EMA copy's (``ema.<name>``)."""
    cells = [model] + ([ema_model] if ema_model is not None else [])
    return [{"name": p.name, "data": p} for cell in cells for p in cell.get_parameters()]


def _atomic_ckpt(save_obj, path: str) -> None:
    tmp = os.path.join(os.path.dirname(path), ".tmp-" + os.path.basename(path))
    ms.save_checkpoint(save_obj, tmp)
    os.replace(tmp, path)


def write_json(obj: Any, path: str) -> None:
    """JSON to ``path`` through a temporary file and a rename."""
    tmp = os.path.join(os.path.dirname(path), ".tmp-" + os.path.basename(path))
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def state_params(train_step: nn.Cell, model: nn.Cell) -> List[Dict[str, Any]]:
    """The train step's parameters that are not the model's: optimiser state and loss scale."""
    model_names = {p.name for p in model.get_parameters()}
    return [{"name": p.name, "data": p} for p in train_step.get_parameters()
            if p.name not in model_names and p.name not in STATE_EXCLUDED]


def remove_stale_tmp(ckpt_dir: str) -> None:
    """Delete leftovers of writes interrupted by a kill."""
    for path in glob.glob(os.path.join(ckpt_dir, ".tmp-*")):
        os.remove(path)


def saved_epochs(ckpt_dir: str) -> List[int]:
    """Epochs whose three files are all present, ascending."""
    epochs = []
    for path in glob.glob(os.path.join(ckpt_dir, "epoch_*.json")):
        match = EPOCH_RE.search(os.path.basename(path))
        if match and all(os.path.isfile(p) for p in epoch_paths(ckpt_dir, int(match.group(1)))):
            epochs.append(int(match.group(1)))
    return sorted(epochs)


def save_epoch(ckpt_dir: str, epoch: int, model: nn.Cell, train_step: nn.Cell,
               meta: Dict[str, Any], keep: int, is_best: bool,
               ema_model: Optional[nn.Cell] = None) -> str:
    """Write epoch ``epoch`` (and best.* when ``is_best``), then prune; returns the model path."""
    os.makedirs(ckpt_dir, exist_ok=True)
    model_path, state_path, meta_path = epoch_paths(ckpt_dir, epoch)
    entries = model_entries(model, ema_model)
    _atomic_ckpt(entries, model_path)
    _atomic_ckpt(state_params(train_step, model), state_path)
    if is_best:
        _atomic_ckpt(entries, os.path.join(ckpt_dir, "best.ckpt"))
        write_json({k: meta[k] for k in ("epoch", "val_top1", "val_top5", "model")},
                   os.path.join(ckpt_dir, "best.json"))
    write_json(meta, meta_path)
    for old in saved_epochs(ckpt_dir)[:-keep]:
        old_model, old_state, old_meta = epoch_paths(ckpt_dir, old)
        for path in (old_meta, old_state, old_model):  # the JSON first: no longer "saved"
            if os.path.exists(path):
                os.remove(path)
    return model_path


def resolve_resume(resume: str, output_dir: str) -> Tuple[str, int]:
    """(checkpoint dir, epoch) named by ``--resume``: 'auto' (this run's latest), a run or
    checkpoints directory (its latest), or one epoch's ``.ckpt`` / ``.json`` file."""
    target = output_dir if resume == "auto" else resume
    if os.path.isfile(target):
        match = re.search(r"epoch_(\d{4,})(_state)?\.(ckpt|json)$", os.path.basename(target))
        if not match:
            raise ValueError(f"--resume {resume!r}: expected an epoch_NNNN.ckpt or .json file "
                             "written by this trainer")
        ckpt_dir, epoch = os.path.dirname(target) or ".", int(match.group(1))
        if epoch not in saved_epochs(ckpt_dir):
            raise ValueError(f"--resume {resume!r}: epoch {epoch} is incomplete in {ckpt_dir!r}")
        return ckpt_dir, epoch
    if not os.path.isdir(target):
        raise ValueError(f"--resume {resume!r}: no such file or directory")
    ckpt_dir = target
    if os.path.isdir(os.path.join(target, "checkpoints")):
        ckpt_dir = os.path.join(target, "checkpoints")
    epochs = saved_epochs(ckpt_dir)
    if not epochs:
        raise ValueError(f"--resume {resume!r}: no complete checkpoint in {ckpt_dir!r}")
    return ckpt_dir, epochs[-1]


def _load_checked(net: nn.Cell, path: str, what: str, allow_missing=(), params=None) -> None:
    params = ms.load_checkpoint(path) if params is None else params
    not_loaded, unused = ms.load_param_into_net(net, params, strict_load=True)
    missing = [n for n in not_loaded if n not in allow_missing]
    if missing or unused:
        raise ValueError(f"{path}: does not match the {what}: missing {missing[:5]}, "
                         f"unexpected {unused[:5]}")


def load_epoch(ckpt_dir: str, epoch: int, model: nn.Cell, train_step: Optional[nn.Cell],
               ema_model: Optional[nn.Cell] = None) -> Dict[str, Any]:
    """Load model (its EMA copy into ``ema_model``, optimiser state into ``train_step``) of one
    saved epoch; return its meta, with ``meta['ema_restored']`` telling whether the file had an
    EMA copy (without one the caller starts the EMA from the model)."""
    model_path, state_path, meta_path = epoch_paths(ckpt_dir, epoch)
    with open(meta_path, encoding="utf-8") as f:
        meta = json.load(f)
    entries = ms.load_checkpoint(model_path)
    ema = {k: v for k, v in entries.items() if k.startswith(EMA_PREFIX)}
    _load_checked(model, model_path, "model",
                  params={k: v for k, v in entries.items() if k not in ema})
    meta["ema_restored"] = bool(ema) and ema_model is not None
    if meta["ema_restored"]:
        _load_checked(ema_model, model_path, "EMA copy", params=ema)
    if train_step is not None:
        model_names = {p.name for p in model.get_parameters()}
        skip = tuple(model_names) + STATE_EXCLUDED
        _load_checked(train_step, state_path, "optimiser state", allow_missing=skip)
    return meta
