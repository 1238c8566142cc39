"""Fine-tuning: start a model from a weights file (``--pretrained FILE`` / ``train.pretrained``).

Any file the converter reads (official ``.pth`` / ``.pth.tar`` with its wrapping, MindSpore
``.ckpt``, safetensors) goes through ``ckpt_convert.read_weights`` and ``load_weights``:

- strict for every parameter except the classifier (``model_info(name).classifier``); a
  classifier of another shape (another ``num_classes``) or none at all keeps the model's fresh
  initialisation, and the log says so;
- Swin ``relative_position_bias_table``s of another window (another ``window_size``, or an
  ``img_size`` that shrinks a stage's window) are interpolated as timm does: the (2W-1) x (2W-1)
  grid of each head, bicubic (PyTorch's ``F.interpolate(mode='bicubic', align_corners=False)``,
  spelled out below); ``relative_position_index`` and ``attn_mask`` are rebuilt by the model;
- anything else that does not fit is a ``PretrainedError`` (one line, exit code 2).
"""
import math
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
from mindspore import nn

import ms_acmix
from acmix_common.name_map import ms_to_torch, torch_key_kind, under

TABLE = "relative_position_bias_table"
CUBIC_A = -0.75  # PyTorch's bicubic convolution coefficient


class PretrainedError(ValueError):
    """The pretrained file does not fit the model (one line)."""


def _cubic_weights(t: float) -> np.ndarray:
    """Keys' cubic convolution weights of the taps at offsets -1, 0, 1, 2 from floor(x)."""
    a = CUBIC_A

    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return np.array([far(t + 1), near(t), near(1 - t), far(2 - t)], dtype=np.float64)


def _resize_axis(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) matrix of PyTorch's bicubic resize along one axis, align_corners=False:
    source x = (i + 0.5) * n_in / n_out - 0.5 (not clamped), index min(floor(x), n_in - 1),
    fraction clamped to [0, 1], taps clamped to the border."""
    matrix = np.zeros((n_out, n_in), dtype=np.float64)
    scale = n_in / n_out
    for i in range(n_out):
        x = (i + 0.5) * scale - 0.5
        index = min(int(math.floor(x)), n_in - 1)
        t = min(max(x - index, 0.0), 1.0)
        for offset, w in zip(range(-1, 3), _cubic_weights(t)):
            matrix[i, min(max(index + offset, 0), n_in - 1)] += w
    return matrix


def resize_bias_table(table: np.ndarray, length: int) -> np.ndarray:
    """(L1, heads) table of a (2W1-1)^2 grid -> (length, heads), each head's grid resized."""
    side_in, side_out = math.isqrt(table.shape[0]), math.isqrt(length)
    if side_in ** 2 != table.shape[0] or side_out ** 2 != length:
        raise PretrainedError(f"{TABLE} of {table.shape[0]} rows (or {length}) is not a square "
                              "window grid")
    grid = table.astype(np.float64).T.reshape(-1, side_in, side_in)
    rows, cols = _resize_axis(side_in, side_out), _resize_axis(side_in, side_out)
    out = np.einsum("oi,hij,pj->hop", rows, grid, cols)
    return out.reshape(-1, length).T.astype(table.dtype)


def _window(rows: int) -> int:
    return (math.isqrt(rows) + 1) // 2


def adapt(arrays: Dict[str, np.ndarray], shapes: Dict[str, Tuple[int, ...]],
          classifier: Tuple[str, ...]) -> Tuple[Dict[str, np.ndarray], List[str], List[str]]:
    """(file entries fitted to the model, classifier entries left to the model, notes)."""
    out, notes = {}, []
    for name, array in arrays.items():
        if torch_key_kind(name) == "rebuilt":
            continue  # the model computes its own
        if name.endswith(TABLE) and name in shapes and array.shape != shapes[name]:
            if array.shape[1] != shapes[name][1]:
                raise PretrainedError(f"{name}: {array.shape[1]} heads in the file, the model "
                                      f"has {shapes[name][1]}")
            out[name] = resize_bias_table(array, shapes[name][0])
            notes.append(f"{name}: window {_window(array.shape[0])} -> "
                         f"{_window(shapes[name][0])} (bicubic, as timm)")
            continue
        out[name] = array
    reinit = []
    for prefix in classifier:
        entries = [n for n in shapes if under(n, (prefix,))]
        fits = all(n in out and out[n].shape == shapes[n] for n in entries)
        if not fits:
            reinit += entries
            for n in [k for k in out if under(k, (prefix,))]:
                del out[n]
    return out, reinit, notes


def describe_classifier(arrays: Dict[str, np.ndarray], shapes: Dict[str, Tuple[int, ...]],
                        reinit: List[str]) -> str:
    weights = [n for n in reinit if n.endswith(".weight")]
    if not weights:
        return ""
    name = weights[0]
    had = f"{arrays[name].shape[0]} classes" if name in arrays else "no classifier"
    return (f"classifier {', '.join(reinit)} re-initialised: the file has {had}, the model "
            f"{shapes[name][0]}")


def load_pretrained(model: nn.Cell, pretrained: str, model_name: str,
                    log: Optional[Callable[[str], None]] = None) -> Dict[str, object]:
    """Load the weights file ``pretrained`` into ``model`` by the rules above; returns what was
    done. Errors name it ``pretrained='...'``."""
    try:
        arrays, info = ms_acmix.read_weights(pretrained)
    except ms_acmix.CheckpointError as err:
        raise PretrainedError(f"pretrained={pretrained!r}: {err}") from None
    shapes = {ms_to_torch(p.name): tuple(p.shape) for p in model.get_parameters()}
    classifier = tuple(ms_acmix.model_info(model_name).classifier)
    fitted, reinit, notes = adapt(arrays, shapes, classifier)
    try:
        report = ms_acmix.load_weights(model, fitted, skip=classifier if reinit else ())
    except ms_acmix.CheckpointError as err:
        detail = str(err)
        if detail.startswith("<dict> does not fit") and ": " in detail:
            detail = detail.split(": ", 1)[1]  # the file is named here, not the dict
        raise PretrainedError(f"pretrained={pretrained!r} does not fit {model_name}: "
                              f"{detail}") from None
    head = describe_classifier(arrays, shapes, reinit)
    if log is not None:
        log(f"pretrained {pretrained} ({info.taken}): {len(report.loaded)} entries loaded"
            + (f"; {head}" if head else "; classifier loaded")
            + "".join(f"; {n}" for n in notes))
    return {"loaded": len(report.loaded), "reinitialised": reinit, "interpolated": notes}
