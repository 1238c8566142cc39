"""Evaluate a weights file of either framework (official wrappings included) on an image folder,
with the model's official evaluation preprocessing from its metadata entry; no run config needed.
"""
import time
from dataclasses import asdict
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import numpy as np
from mindspore import Tensor, nn

import ms_acmix
from acmix_common.variants import model_info

from . import config as cfgmod
from .data import eval_batches
from .evaluate import batch_counts
from .imagefolder import DataError, list_classes, scan_split
from .transforms import EvalRecipe, model_eval_recipe


def classifier_rows(arrays: Mapping[str, np.ndarray], name: str, where: str) -> int:
    """The number of classes the weights' classifier predicts (``where`` names the weights)."""
    for prefix in model_info(name).classifier:
        weight = arrays.get(prefix + ".weight")
        if weight is not None:
            return int(weight.shape[0])
    raise ValueError(f"{where} has no classifier weight "
                     f"({', '.join(p + '.weight' for p in model_info(name).classifier)}) for "
                     f"name={name!r}")


def build_model(name: str, checkpoint: str, kwargs: Optional[Dict[str, Any]] = None,
                ema: bool = False) -> Tuple[nn.Cell, Dict[str, Any], str]:
    """(MindSpore model with the file's weights loaded strictly, the model kwargs, what the file
    held in words); ``num_classes`` defaults to the checkpoint's classifier."""
    arrays, info = ms_acmix.read_weights(checkpoint, ema=ema)
    kwargs = dict(kwargs or {})
    kwargs.setdefault("num_classes", classifier_rows(arrays, name, f"checkpoint={checkpoint!r}"))
    model_info(name)  # an unknown name is its own error, not one of the kwargs
    try:
        model = ms_acmix.create_model(name, **kwargs)
    except (TypeError, ValueError) as err:
        raise ValueError(f"model_kwargs={kwargs!r} do not fit {name}: {err}") from err
    ms_acmix.load_weights(model, arrays)
    model.set_train(False)
    return model, kwargs, info.taken


def eval_recipe_for(name: str, kwargs: Mapping[str, Any], img_size: Optional[int]) -> EvalRecipe:
    """The metadata's recipe at the size the model takes (Swin: the size it was built for)."""
    _, height, width = model_info(name).input_chw(kwargs, img_size=img_size)
    if height != width:
        raise ValueError(f"model_kwargs={dict(kwargs)!r} give a {height}x{width} input; the "
                         "evaluation recipe centre-crops squares")
    return model_eval_recipe(name, height)


def folder_samples(data_dir: str, num_classes: int) -> Tuple[List[str], List[Tuple[str, int]]]:
    """Class folders in sorted order (label = position, as torchvision's ImageFolder)."""
    classes = list_classes(data_dir)
    if len(classes) > num_classes:
        raise DataError(f"data_dir={data_dir!r} has {len(classes)} class folders; the "
                        f"checkpoint's classifier has {num_classes} classes")
    return scan_split(data_dir)


def predict(model: nn.Cell, batches, total: int,
            progress: Optional[Callable[[int, int, float], None]] = None) -> np.ndarray:
    """Logits (N, classes) float32 of every real row; ``progress(done, total, seconds)``."""
    out: List[np.ndarray] = []
    start, done = time.time(), 0
    for images, _, valid in batches:
        out.append(model(Tensor(images)).asnumpy()[:valid])
        done += valid
        if progress is not None:
            progress(done, total, time.time() - start)
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def evaluate_weights(name: str, checkpoint: str, data_dir: str, *,
                     model_kwargs: Optional[Dict[str, Any]] = None,
                     img_size: Optional[int] = None, batch_size: int = 32, workers: int = 1,
                     ema: bool = False, progress=None) -> Dict[str, Any]:
    """top-1/top-5/loss over the folder, with per-image paths, labels and logits."""
    model, kwargs, taken = build_model(name, checkpoint, model_kwargs, ema)
    recipe = eval_recipe_for(name, kwargs, img_size)
    classes, samples = folder_samples(data_dir, kwargs["num_classes"])
    cfg = cfgmod.build(None, [{"data": {"workers": workers,
                                        "in_chans": int(kwargs.get("in_chans", 3))},
                               "train": {"batch_size": batch_size}}])
    batches = eval_batches(samples, cfg, 0, 1, recipe)
    logits = predict(model, batches, len(samples), progress)
    labels = np.array([label for _, label in samples], dtype=np.int64)
    top1, top5, loss = batch_counts(logits.astype(np.float64), labels)
    count = max(len(samples), 1)
    return dict(model=name, checkpoint=checkpoint, taken=taken, data_dir=data_dir,
                classes=classes, count=len(samples), top1=100.0 * top1 / count,
                top5=100.0 * top5 / count, loss=loss / count, recipe=asdict(recipe),
                paths=[p for p, _ in samples], labels=labels, logits=logits)
