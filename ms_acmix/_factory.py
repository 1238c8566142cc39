"""``ms_acmix.create_model``: build a registered model, then load a checkpoint into it.

As timm's ``_factory`` sits above ``_registry`` and ``_helpers``, this sits above the model
registry (``models/_registry.py``, which only builds) and the weights code (``ckpt_convert``).
"""
import os
from typing import Any, Union

from ckpt_convert import load_weights

from .models import _registry


def create_model(name: str, checkpoint_path: Union[str, os.PathLike, None] = None,
                 **kwargs: Any):
    """A registered model as an ``nn.Cell``: ``create_model("acmix_swin_tiny", num_classes=10)``.

    Args:
        name: a name of ``list_models()``; any other is a ``ValueError`` listing them.
        checkpoint_path: weights of either framework (a MindSpore ``.ckpt``, a PyTorch pickle
            or safetensors, official wrappings included), loaded strictly by
            ``ckpt_convert.load_weights``; a problem is a ``CheckpointError``. The stages and
            classifier a ``features_only`` model does not build are skipped.
        kwargs: override the variant's architecture (``model_info(name).kwargs``).
    """
    model = _registry.create_model(name, **kwargs)
    if checkpoint_path is not None:
        load_weights(model, checkpoint_path)
    return model
