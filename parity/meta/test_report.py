"""--parity-report writes one row per comparison; a failing case leaves its inputs behind."""
import json
import os

import numpy as np
import pytest

from parity import report
from parity.checks import check_forward
from parity.fixed_configs import ACMIX
from acmix_common.tolerance import Comparison


def test_markdown_report_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "RECORDS", [])
    check_forward(ACMIX[0])
    path = tmp_path / "parity.md"
    report.write_markdown(str(path))
    rows = [r for r in path.read_text().splitlines() if r.startswith("| forward")]
    assert len(rows) == 1
    assert rows[0].startswith("| forward | batch=2, in_planes=4") and rows[0].endswith("| pass |")


def test_failure_saves_replayable_inputs(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "FAILURE_DIR", str(tmp_path))
    monkeypatch.setattr("parity.checks.compare_to_reference",
                        lambda *a, **k: Comparison(1.0, 1.0, 0.5, bound=0.1))
    with pytest.raises(AssertionError, match=r"inputs saved to .*forward\.npz"):
        check_forward(ACMIX[0])
    saved = np.load(os.path.join(tmp_path, "forward.npz"))
    assert json.loads(str(saved["config"]))["k_att"] == ACMIX[0].k_att
    assert saved["x"].shape == ACMIX[0].input_shape
