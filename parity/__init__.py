"""Parity between ``ms_acmix`` (MindSpore) and ``torch_ref`` (PyTorch): tolerances and helpers."""
