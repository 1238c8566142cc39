"""Checkpoint conversion between PyTorch (``torch_ref``) and MindSpore (``ms_acmix``) ACmix models.

``convert(Options(...))`` (in ``pipeline``) is the whole conversion; ``scripts/convert_ckpt.py``
is its command line.
"""
from .pipeline import Options, convert
from .errors import CheckpointError, VerifyError

__all__ = ["CheckpointError", "Options", "VerifyError", "convert"]
