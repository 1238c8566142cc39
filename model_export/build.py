"""The model to export: a registered name built by its framework's public ``create_model``, with
the weights of a checkpoint of either framework (``load_weights``, official wrappings included).
"""
from typing import Any, Dict, Optional, Tuple

from acmix_common.variants import model_info

FRAMEWORKS = ("ms", "torch")


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


def build_model(framework: str, name: str, kwargs: Dict[str, Any],
                checkpoint_path: Optional[str] = None):
    """The model in eval mode (float32), weights from ``checkpoint_path`` when given.

    An unknown ``name`` is the registry's ValueError, kwargs the model rejects a ValueError
    naming ``model_kwargs``, a checkpoint that does not fit a ``CheckpointError``.
    """
    if framework not in FRAMEWORKS:
        raise ValueError(f"framework={framework!r} is not one of {FRAMEWORKS}")
    if framework == "ms":
        from ms_acmix import create_model, load_weights
    else:
        from torch_ref import create_model, load_weights
    model_info(name)
    try:
        model = create_model(name, **kwargs)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"model_kwargs={kwargs}: {exc}") from None
    if checkpoint_path is not None:
        load_weights(model, checkpoint_path)
    if framework == "ms":
        model.set_train(False)
    else:
        model.eval()
    return model
