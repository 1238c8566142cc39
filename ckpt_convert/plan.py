"""Matching source entries to the target model: each is mapped, dropped on purpose, or an error."""
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Tuple

import numpy as np

from acmix_common.name_map import MS_ONLY_LEAVES, TORCH_ONLY_LEAVES, ms_to_torch, torch_key_kind

from .models import Target
from .unwrap import SourceWeights

@dataclass
class Row:
    source: str
    target: str
    shape: Tuple[int, ...]
    dtype: str
    action: str

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Plan:
    rows: List[Row] = field(default_factory=list)
    arrays: Dict[str, np.ndarray] = field(default_factory=dict)  # target name -> array to write
    missing: List[str] = field(default_factory=list)  # target names nothing in the source fills
    unexpected: List[str] = field(default_factory=list)  # source names the model has no place for
    clashes: List[str] = field(default_factory=list)  # "name: source (..) vs model (..)"
    dtype_clashes: List[str] = field(default_factory=list)  # casts that would lose precision
    mismatches: List[str] = field(default_factory=list)  # rebuilt buffers that differ

    def problems(self) -> List[str]:
        """One phrase per kind of problem, first example named, for the one-line error."""
        kinds = ((self.mismatches, "rebuilt buffer differs", "rebuilt buffers differ",
                  " from what the model computes"), (self.missing, "missing", "missing", ""),
                 (self.unexpected, "unexpected", "unexpected", ""),
                 (self.clashes, "shape clash", "shape clashes", ""),
                 (self.dtype_clashes, "dtype clash", "dtype clashes", ""))
        return [f"{len(items)} {one if len(items) == 1 else many}{tail} (first: {items[0]})"
                for items, one, many, tail in kinds if items]


def _row(plan: Plan, source: str, target: str, array: np.ndarray, action: str) -> None:
    plan.rows.append(Row(source, target, tuple(array.shape), str(array.dtype), action))


def _compare_rebuilt(plan: Plan, src_name: str, torch_name: str, array: np.ndarray,
                     target: Target) -> None:
    expected = target.rebuilt.get(torch_name)
    if torch_name not in target.rebuilt or expected is None:
        plan.mismatches.append(f"{src_name}: in the source, but the model has none there")
    elif expected.shape != array.shape:
        plan.mismatches.append(f"{src_name}: shape {array.shape} vs model {expected.shape}")
    elif not np.array_equal(expected, array):
        count = int(np.sum(expected != array))
        plan.mismatches.append(f"{src_name}: {count} of {array.size} values differ")
    else:
        _row(plan, src_name, torch_name if target.framework == "torch" else "", array,
             "compared: equal to what the target model computes (not copied)")


def _map(plan: Plan, source: SourceWeights, name: str, array: np.ndarray, dst: str,
         target: Target) -> None:
    """Check one mapped entry's shape and dtype against the model; queue it for writing."""
    if tuple(array.shape) != target.shapes[dst]:
        plan.clashes.append(f"{name}: source {tuple(array.shape)} vs model {target.shapes[dst]}")
        return
    notes = [source.dtype_notes[name]] if name in source.dtype_notes else []
    want = target.dtypes[dst]
    if array.dtype != want:
        if not np.can_cast(array.dtype, want, "safe"):
            plan.dtype_clashes.append(f"{name}: source {array.dtype} vs model {want} "
                                      "(casting would lose precision)")
            return
        notes.append(f"cast {array.dtype} -> {want} (exact)")
        array = array.astype(want)
    plan.arrays[dst] = array
    _row(plan, name, dst, array, "; ".join(["mapped"] + notes))


def make_plan(source: SourceWeights, source_framework: str, target: Target) -> Plan:
    """Map, drop or compare every source entry; list what the target model still misses."""
    plan = Plan()
    filled: Dict[str, str] = {}  # torch-style name -> the source entry that fills it
    for name, array in source.arrays.items():
        torch_name = name if source_framework == "torch" else ms_to_torch(name)
        kind = torch_key_kind(torch_name)
        if kind == "rebuilt":
            _compare_rebuilt(plan, name, torch_name, array, target)
        elif kind == "dropped":
            if torch_name.rpartition(".")[0] + ".running_mean" not in target.names:
                plan.unexpected.append(name)
            else:
                _row(plan, name, "", array, "dropped: BatchNorm step counter (MindSpore keeps "
                     "none; unused with a fixed momentum)")
        elif torch_name not in target.names:
            plan.unexpected.append(name)
        elif torch_name in filled:
            plan.unexpected.append(f"{name} (maps to {torch_name!r} like {filled[torch_name]!r})")
        else:
            filled[torch_name] = name
            _map(plan, source, name, array, target.names[torch_name], target)
    for name, why in source.dropped.items():
        plan.rows.append(Row(name, "", (), "", why))
    plan.missing = [dst for torch_name, dst in target.names.items() if torch_name not in filled]
    _add_model_side(plan, target)
    plan.arrays = {k: plan.arrays[k] for k in target.order if k in plan.arrays}
    return plan


def _add_model_side(plan: Plan, target: Target) -> None:
    """Rows (and arrays) for what the target model provides itself."""
    for dst, value in target.own.items():
        plan.arrays[dst] = value
        how = ("rebuilt: written from the target model" if torch_key_kind(dst) == "rebuilt"
               else "filled: the target model's initial value (MindSpore keeps none)")
        _row(plan, "", dst, value, how)
    if target.framework == "mindspore":
        compared = {r.source for r in plan.rows if r.action.startswith("compared")}
        for path, value in target.rebuilt.items():
            if value is not None and path not in compared:
                _row(plan, "", path, value, "rebuilt: computed by the target model (absent in "
                     "the source)")


def naming_hint(source: SourceWeights, source_framework: str) -> str:
    """A hint when the source's names look like the other framework's."""
    leaves = {name.rpartition(".")[2] for name in source.arrays}
    if source_framework == "torch" and leaves & set(MS_ONLY_LEAVES):
        return "; its names look like MindSpore's: did you mean ms2torch?"
    if source_framework == "mindspore" and leaves & set(TORCH_ONLY_LEAVES):
        return "; its names look like PyTorch's: did you mean torch2ms?"
    return ""
