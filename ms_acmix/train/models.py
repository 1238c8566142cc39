"""Model construction from a config (``model.name`` + ``model.kwargs``)."""
from typing import Any, Dict

from mindspore import nn

import ms_acmix


def model_kwargs(cfg: Dict[str, Any], num_classes: int) -> Dict[str, Any]:
    """Keyword arguments of create_model: the config's, plus classes, channels and the image size
    where the model fixes it at construction."""
    kwargs = dict(cfg["model"]["kwargs"])
    kwargs["num_classes"] = num_classes
    kwargs.setdefault("in_chans", cfg["data"]["in_chans"])
    size_kwarg = ms_acmix.model_info(cfg["model"]["name"]).input_size_kwarg
    if size_kwarg is not None:
        kwargs.setdefault(size_kwarg, cfg["data"]["img_size"])
    return kwargs


def build_model(cfg: Dict[str, Any], num_classes: int) -> nn.Cell:
    """``ms_acmix.create_model`` for this config. An unknown ``model.name`` is the registry's
    ValueError; kwargs the model rejects are a ValueError naming ``model.kwargs``."""
    name = cfg["model"]["name"]
    kwargs = model_kwargs(cfg, num_classes)
    try:
        return ms_acmix.create_model(name, **kwargs)
    except TypeError as err:
        raise ValueError(f"model.kwargs={cfg['model']['kwargs']!r} do not fit {name}: "
                         f"{err}") from err
