"""Backbone feature stages for detection and segmentation, the same in both frameworks.

``FeatureInfo`` follows timm's: one dict per stage (``num_chs``, ``reduction``, ``module``) and
the indices of the stages a model returns, with ``channels()``, ``reduction()`` and
``module_name()`` over those. Written fresh; it is a ``list`` of the per-stage dicts, so it
compares equal to the plain list timm keeps on models that are not features_only.
"""
from typing import Any, Dict, Iterable, Optional, Sequence, Tuple, Union

from .checks import check_out_indices

OUTPUT_FORMATS = ("NCHW",)


class FeatureInfo(list):
    """Every stage of the architecture as a dict; ``out_indices`` are those returned."""

    def __init__(self, stages: Iterable[Dict[str, Any]], out_indices: Sequence[int]):
        super().__init__(dict(stage) for stage in stages)
        self.out_indices = tuple(out_indices)

    def get(self, key: str, idx: Union[None, int, Sequence[int]] = None):
        """``key`` of the returned stages (idx None), of stage ``idx``, or of stages ``idx``."""
        if idx is None:
            return [self[i][key] for i in self.out_indices]
        if isinstance(idx, (tuple, list)):
            return [self[i][key] for i in idx]
        return self[idx][key]

    def channels(self, idx=None):
        return self.get("num_chs", idx)

    def reduction(self, idx=None):
        return self.get("reduction", idx)

    def module_name(self, idx=None):
        return self.get("module", idx)


def check_output_fmt(output_fmt: str) -> str:
    if output_fmt not in OUTPUT_FORMATS:
        raise ValueError(f"output_fmt must be one of {OUTPUT_FORMATS}, got "
                         f"output_fmt={output_fmt!r}")
    return output_fmt


def intermediates_plan(indices, num_stages: int, built_stages: int, norm: bool,
                       norm_pruned: bool, stop_early: bool, intermediates_only: bool,
                       output_fmt: str) -> Tuple[Tuple[int, ...], int]:
    """(stages to return, last stage to run) of ``forward_intermediates``; its arguments checked.

    ``built_stages``: a features_only model builds only the stages up to its last returned one;
    ``norm_pruned``: it also dropped the final norm that ``norm=True`` applies.
    """
    check_output_fmt(output_fmt)
    take = check_out_indices("indices", indices, num_stages)
    if take[-1] >= built_stages:
        raise ValueError(f"indices={indices!r}: stage {take[-1]} was not built (features_only "
                         f"keeps stages 0 to {built_stages - 1})")
    if norm and norm_pruned:
        raise ValueError("norm=True: this model was built without the final norm "
                         "(features_only)")
    if stop_early and not intermediates_only:
        raise ValueError("stop_early=True needs intermediates_only=True: the final features "
                         "need every stage")
    return take, take[-1] if stop_early else built_stages - 1


def features_only_stages(features_only: bool, out_indices, num_stages: int
                         ) -> Optional[Tuple[int, ...]]:
    """The stages a features_only model returns (checked), or None for a classifier."""
    if features_only:
        return check_out_indices("out_indices", out_indices, num_stages)
    if out_indices is not None:
        raise ValueError(f"out_indices={out_indices!r} is only used with features_only=True")
    return None


def check_num_classes(num_classes) -> int:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 0:
        raise ValueError(f"num_classes must be a non-negative int (0: no classifier), got "
                         f"num_classes={num_classes!r}")
    return num_classes


def pruned_prefixes(stages: Sequence[str], built: int, classifier: str, num_classes: int,
                    after_last_built: Sequence[str] = (), features_only: bool = False,
                    final: Sequence[str] = ()) -> Tuple[str, ...]:
    """State-dict prefixes (torch names) of the full model that a model does not build: the
    stages after its ``built`` first ones, ``after_last_built`` (e.g. the last built stage's
    patch merging) when any stage is dropped, ``final`` (e.g. the final norm) when features_only,
    and the classifier when ``num_classes`` is 0."""
    pruned = list(stages[built:])
    if built < len(stages):
        pruned += list(after_last_built)
    if features_only:
        pruned += list(final)
    return tuple(pruned + ([classifier] if num_classes == 0 else []))
