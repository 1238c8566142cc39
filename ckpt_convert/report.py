"""The printed conversion table and the JSON report."""
import json
import os
from typing import Any, Dict, List

from .formats import staged_file

COLUMNS = ("source", "target", "shape", "dtype", "action")


def format_table(entries: List[Dict[str, Any]]) -> str:
    """A fixed-width table: source name, target name, shape, dtype, action."""
    rows = [COLUMNS] + [(e["source"] or "-", e["target"] or "-",
                         "x".join(map(str, e["shape"])) or "-", e["dtype"] or "-", e["action"])
                        for e in entries]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:-1], widths)) + "  " + r[-1] for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def summary_lines(report: Dict[str, Any]) -> List[str]:
    """Where the weights came from, what happened to them, and the verify result."""
    counts = ", ".join(f"{k} {v}" for k, v in sorted(report["counts"].items()))
    lines = [f"took: {report['taken']}", *[f"note: {n}" for n in report["notes"]],
             f"entries: {counts}"]
    verify = report.get("verify")
    if verify:
        lines.append(f"verify: max |logit difference| {verify['max_abs_diff']:.3g} "
                     f"(largest |logit| {verify['max_abs_logit']:.3g}, relative "
                     f"{verify['relative_diff']:.3g}), top-1 agrees "
                     f"{verify['top1_agree']}, input {verify['input_shape']}, "
                     f"{'passed' if verify['passed'] else 'FAILED'} "
                     f"(bound {verify['bound']:.3g}, the float32 forward tolerance policy)")
    return lines


def write_json(report: Dict[str, Any], path: str) -> None:
    """Write the report atomically (a report is not precious: an existing file is replaced)."""
    with staged_file(os.fspath(path)) as tmp:
        with open(tmp, "w") as f:
            json.dump(report, f, indent=1, default=str)
