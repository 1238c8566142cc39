"""Checkpoint conversion between PyTorch (``torch_ref``) and MindSpore (``ms_acmix``) ACmix models.

``convert(Options(...))`` is the whole pipeline; ``scripts/convert_ckpt.py`` is its command line.
"""
from .convert import Options, convert
from .errors import CheckpointError, VerifyError

__all__ = ["CheckpointError", "Options", "VerifyError", "convert"]
