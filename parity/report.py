"""Records of every comparison the harness makes, the teeth's detection margins, the optional
Markdown report, and the inputs of a failing case saved for replay."""
import json
import os
from typing import Dict, List

import numpy as np

from .strategies import describe
from acmix_common.tolerance import Comparison

RECORDS: List[Dict] = []
# bug -> the error/bound ratio of every draw that caught it (a ratio <= 1 would be a miss)
TEETH: Dict[str, List[float]] = {}
FAILURE_DIR = os.environ.get("ACMIX_PARITY_FAILURES", "parity-failures")


def record(check: str, config, result: Comparison) -> None:
    RECORDS.append(dict(check=check, config=describe(config), max_abs=result.max_abs,
                        max_rel=result.max_rel, cosine=result.cosine, bound=result.bound,
                        ok=result.ok))


def record_catch(bug: str, ratio: float) -> None:
    TEETH.setdefault(bug, []).append(ratio)


def teeth_lines() -> List[str]:
    """One line per injected bug: the weakest and strongest catch over its draws."""
    width = max((len(b) for b in TEETH), default=0)
    return [f"{bug:{width}}  weakest {min(r):10.3g}x  strongest {max(r):10.3g}x  ({len(r)} draws)"
            for bug, r in sorted(TEETH.items(), key=lambda item: min(item[1]))]


def save_failure(check: str, config, **arrays: np.ndarray) -> str:
    """Write the failing case's inputs and configuration to FAILURE_DIR/<check>.npz; return it.

    Hypothesis replays the shrunk example last, so the file left holds the minimal failure.
    """
    os.makedirs(FAILURE_DIR, exist_ok=True)
    path = os.path.join(FAILURE_DIR, check.replace(" ", "_") + ".npz")
    tmp = path + ".tmp.npz"
    np.savez(tmp, config=json.dumps(describe(config)), **arrays)
    os.replace(tmp, path)
    return path


def write_markdown(path: str) -> None:
    lines = ["| check | configuration | max abs | max rel | tolerance | verdict |",
             "|---|---|---|---|---|---|"]
    for r in RECORDS:
        config = ", ".join(f"{k}={v}" for k, v in r["config"].items())
        lines.append(f"| {r['check']} | {config} | {r['max_abs']:.2e} | {r['max_rel']:.2e} | "
                     f"{r['bound']:.2e} | {'pass' if r['ok'] else 'FAIL'} |")
    teeth = ["| injected bug | weakest catch | strongest catch | draws |", "|---|---|---|---|"]
    teeth += [f"| {bug} | {min(r):.3g}x | {max(r):.3g}x | {len(r)} |"
              for bug, r in sorted(TEETH.items(), key=lambda item: min(item[1]))]
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("# Parity report\n\n" + "\n".join(lines) + "\n")
        if TEETH:
            f.write("\n## Teeth: detection margins (error / bound over the draws that catch "
                    "each bug)\n\n" + "\n".join(teeth) + "\n")
    os.replace(tmp, path)
