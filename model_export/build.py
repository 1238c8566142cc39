"""The model to export: a registered name, its kwargs, and optionally a checkpoint of either
framework (loaded through ``ckpt_convert.load_weights``, official wrappings included)."""
import os
from typing import Any, Dict, Optional, Tuple

from acmix_common.variants import list_models, model_info

from .errors import ExportError

FRAMEWORKS = {"ms": "mindspore", "torch": "torch"}


def check_name(name: str) -> None:
    if name not in list_models():
        raise ExportError(f"--model {name!r} is not registered; choose one of "
                          f"{', '.join(list_models())}")


def model_kwargs(name: str, kwargs: Dict[str, Any], img_size: Optional[int]) -> Dict[str, Any]:
    """``kwargs`` plus ``img_size`` where the model fixes its input size at construction."""
    kwargs = dict(kwargs)
    size_kwarg = model_info(name).input_size_kwarg
    if img_size is not None and size_kwarg is not None:
        kwargs[size_kwarg] = img_size
    return kwargs


def input_chw(name: str, kwargs: Dict[str, Any], img_size: Optional[int]) -> Tuple[int, int, int]:
    """(channels, height, width) of the exported input."""
    return model_info(name).input_chw(kwargs, img_size)


def create(framework: str, name: str, kwargs: Dict[str, Any], checkpoint: Optional[str] = None):
    """The model in eval mode (float32), weights from ``checkpoint`` when given."""
    from ckpt_convert import CheckpointError, load_weights
    from ckpt_convert.models import create_model
    check_name(name)
    if checkpoint and not os.path.isfile(checkpoint):
        raise ExportError(f"--checkpoint {checkpoint!r} does not exist")
    try:
        model = create_model(FRAMEWORKS[framework], name, kwargs)
        if checkpoint:
            load_weights(model, checkpoint)
    except CheckpointError as exc:  # named SRC=FILE (the converter's word) or FILE
        message = str(exc)
        if checkpoint:
            message = message.replace(f"SRC={checkpoint}", checkpoint)
            if message.startswith(checkpoint):
                message = f"--checkpoint {message}"
        raise ExportError(message) from None
    return model
