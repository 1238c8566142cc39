"""The one name map between PyTorch state dicts and MindSpore parameter names.

Both model trees use the same attribute paths (``layers.0.blocks.1.attn.qkv``,
``layer1.0.downsample.1``), so names differ only in the last component of normalisation layers.
Used by the checkpoint converter and the parity harness alike.
"""
from typing import Dict, Iterable

# MindSpore leaf name -> PyTorch leaf name, for BatchNorm and LayerNorm.
_NORM_MS_TO_TORCH = {
    "gamma": "weight",
    "beta": "bias",
    "moving_mean": "running_mean",
    "moving_variance": "running_var",
}

# PyTorch-only entries, dropped on purpose: MindSpore's BatchNorm keeps no step counter (its
# momentum is fixed, so the counter has no effect on the numbers).
DROPPED_TORCH_LEAVES = ("num_batches_tracked",)

# Leaves that name a norm parameter in one framework only (used to spot a file given to the
# wrong conversion direction).
MS_ONLY_LEAVES = tuple(_NORM_MS_TO_TORCH)
TORCH_ONLY_LEAVES = ("running_mean", "running_var") + DROPPED_TORCH_LEAVES

# Persistent buffers the models rebuild from their configuration; compared, never copied.
REBUILT_BUFFER_LEAVES = ("relative_position_index", "attn_mask")


def _split(name: str):
    head, _, leaf = name.rpartition(".")
    return head, leaf


def ms_to_torch(ms_name: str) -> str:
    head, leaf = _split(ms_name)
    leaf = _NORM_MS_TO_TORCH.get(leaf, leaf)
    return f"{head}.{leaf}" if head else leaf


def torch_to_ms_map(ms_names: Iterable[str]) -> Dict[str, str]:
    """{torch name: MindSpore name} for every MindSpore parameter of a model."""
    mapping = {}
    for name in ms_names:
        torch_name = ms_to_torch(name)
        if torch_name in mapping:
            raise ValueError(f"MindSpore names {mapping[torch_name]!r} and {name!r} both map to "
                             f"torch name {torch_name!r}")
        mapping[torch_name] = name
    return mapping


def under(name: str, prefixes: Iterable[str]) -> bool:
    """``name`` is one of ``prefixes`` or an entry below one (``fc`` holds ``fc.weight``)."""
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def torch_key_kind(torch_name: str) -> str:
    """'dropped', 'rebuilt' or 'mapped' for one PyTorch state-dict key."""
    leaf = _split(torch_name)[1]
    if leaf in DROPPED_TORCH_LEAVES:
        return "dropped"
    if leaf in REBUILT_BUFFER_LEAVES:
        return "rebuilt"
    return "mapped"
