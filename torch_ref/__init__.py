"""PyTorch reference of ACmix and its backbones, with the official numerics and state-dict names.

    import torch_ref
    ref = torch_ref.create_model("acmix_swin_tiny", checkpoint_path="acmix_swin_tiny.pth")

Needs PyTorch only: MindSpore ``.ckpt`` files are read with MindSpore when it is installed;
PyTorch pickles and safetensors need nothing more.
"""
from acmix_common.version import __version__
from ckpt_convert import CheckpointError, load_weights, read_weights

from ._factory import create_model
from .models import ACmix, list_models, model_info

__all__ = ["ACmix", "CheckpointError", "__version__", "create_model", "list_models",
           "load_weights", "model_info", "read_weights"]
