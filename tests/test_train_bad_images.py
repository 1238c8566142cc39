"""One bad image must not cost a week: with data.verify_images false and data.max_bad_images
L > 0, an unreadable image (a truncated JPEG, a zero-byte file) is replaced by the next readable
one in training, left out of validation, counted, and more than L distinct ones fail the run
naming them; with L = 0 the first one fails at once."""
import io
import json
import os
import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from ms_acmix.train import config as cfgmod
from ms_acmix.train.bad_images import BadImages
from ms_acmix.train.data import ImageSource, eval_batches, train_batches
from ms_acmix.train.distributed import AllReduceSum
from ms_acmix.train.evaluate import batch_counts
from ms_acmix.train.imagefolder import DataError, scan_split
from tests.test_train_launcher import REPO, digits  # noqa: F401

PYTHON = os.path.join(REPO, ".venv", "bin", "python")


@pytest.fixture(scope="module")
def broken(digits, tmp_path_factory):  # noqa: F811
    """The digits with a truncated JPEG in train/3, a zero-byte PNG in train/5 and val/7."""
    root = tmp_path_factory.mktemp("broken") / "digits"
    shutil.copytree(digits, root)
    first = sorted((root / "train" / "3").iterdir())[0]
    buf = io.BytesIO()
    Image.open(first).convert("L").resize((64, 64)).save(buf, "JPEG", quality=90)
    (root / "train" / "3" / "truncated.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    (root / "train" / "5" / "empty.png").write_bytes(b"")
    (root / "val" / "7" / "empty.png").write_bytes(b"")
    return root


def cfg_for(root, limit):
    cfg = cfgmod.build("acmix_digits",
                       [{"data": {"dir": str(root), "verify_images": False,
                                  "max_bad_images": limit},
                         "train": {"batch_size": 8, "eval_batch_size": 8}}])
    return cfg


def around(samples, name, before=2, after=3):
    """A few samples around the one whose file is ``name``."""
    i = next(k for k, (p, _) in enumerate(samples) if p.endswith(name))
    return samples[max(0, i - before): i + after], i - max(0, i - before)


def test_both_files_are_unreadable(broken):
    _, train = scan_split(str(broken / "train"))
    for name in ("truncated.jpg", "empty.png"):
        path = next(p for p, _ in train if p.endswith(name))
        with pytest.raises(DataError, match=re.escape(name)):
            ImageSource([(path, 0)], 1)[0]


@pytest.mark.parametrize("name", ["truncated.jpg", "empty.png"])
def test_training_replaces_and_reports(broken, name):
    _, train = scan_split(str(broken / "train"))
    samples, bad_at = around(train, name)
    source = ImageSource(samples, 1, skip_bad=True)
    image, label, bad = source[bad_at]
    np.testing.assert_array_equal(image, ImageSource(samples, 1)[bad_at + 1][0])
    assert int(label) == samples[bad_at + 1][1] and int(bad) == bad_at
    assert int(ImageSource(samples, 1, skip_bad=True)[0][2]) == -1

    cfg = cfg_for(broken, 2)
    cfg["train"]["batch_size"] = len(samples)  # one batch holds every sample: a full batch
    found = []
    batches = list(train_batches(samples, cfg, 10, epoch=0, rank=0, world=1, steps=1,
                                 bad=found))
    assert len(batches) == 1 and batches[0][0].shape[0] == len(samples)
    assert found == [bad_at]


def test_limit_zero_fails_at_once(broken):
    _, train = scan_split(str(broken / "train"))
    samples, _ = around(train, "empty.png")
    cfg = cfg_for(broken, 0)
    cfg["train"]["batch_size"] = len(samples)
    with pytest.raises(Exception, match="empty.png"):
        list(train_batches(samples, cfg, 10, epoch=0, rank=0, world=1, steps=1))


def test_validation_leaves_it_out(broken):
    classes, _ = scan_split(str(broken / "train"))
    _, val = scan_split(str(broken / "val"), {c: i for i, c in enumerate(classes)})
    samples, bad_at = around(val, "empty.png")
    found = []
    rows = []
    for images, labels, valid in eval_batches(samples, cfg_for(broken, 2), 0, 1, bad=found):
        rows += labels[:valid].tolist()
    assert found == [bad_at] and rows[bad_at] == -1 and rows.count(-1) == 1
    logits = np.eye(10)[[max(r, 0) for r in rows]]
    kept = np.array(rows) >= 0
    assert batch_counts(logits[kept], np.array(rows)[kept])[0] == len(rows) - 1


def test_run_counts_distinct_files_and_fails_over_the_limit(broken):
    classes, train = scan_split(str(broken / "train"))
    _, val = scan_split(str(broken / "val"), {c: i for i, c in enumerate(classes)})
    t_bad = [i for i, (p, _) in enumerate(train) if p.endswith(("truncated.jpg", "empty.png"))]
    v_bad = [i for i, (p, _) in enumerate(val) if p.endswith("empty.png")]
    reducer = AllReduceSum(1)
    bad = BadImages(train, val, limit=3)
    assert bad.pool(reducer, t_bad + t_bad[:1], v_bad) == (4, [train[i][0] for i in t_bad]
                                                          + [val[v_bad[0]][0]])
    assert bad.pool(reducer, t_bad, []) == (2, [])  # met again: counted, not new
    assert len(bad.found) == 3
    strict = BadImages(train, val, limit=2)
    with pytest.raises(DataError, match=r"3 unreadable image\(s\), more than "
                                        r"data\.max_bad_images=2: .*truncated\.jpg"):
        strict.pool(reducer, t_bad, v_bad)
    with pytest.raises(DataError, match="more than data.max_bad_images=1"):
        BadImages(train, val, limit=1).check_local(t_bad)


@pytest.mark.slow
def test_training_run_skips_counts_and_limits(broken, tmp_path):
    args = [PYTHON, "-m", "ms_acmix.cli.train", "--data-dir", str(broken),
            "--epochs", "2", "--set", "train.max_steps_per_epoch=45",
            "--set", "data.verify_images=false", "--set", "train.log_interval=20"]
    # with EMA and accumulation on: the trainer's other paths run end to end too
    ok = subprocess.run(args + ["--output-dir", str(tmp_path / "ok"),
                                "--set", "data.max_bad_images=3", "--set", "train.ema_decay=0.9",
                                "--set", "train.accumulation_steps=2"],
                        capture_output=True, text=True, timeout=600, cwd=REPO)
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert re.search(r"epoch 1: 3 unreadable image\(s\) skipped .* 3 distinct in the run "
                     r"\(data\.max_bad_images=3\): new .*truncated\.jpg", ok.stdout)
    with open(tmp_path / "ok" / "metrics.json") as f:
        rows = json.load(f)
    assert [r["bad_images_total"] for r in rows] == [3, 3]
    assert rows[0]["bad_images"] == 3 and rows[-1]["val_top1"] > 50
    assert rows[-1]["global_step"] == 2 * 22 and rows[-1]["val_top1_ema"] > 50
    assert "global batch 64 (1 x 32 x 2 accumulated)" in ok.stdout
    with open(tmp_path / "ok" / "skipped_images.json") as f:
        assert len(json.load(f)) == 3
    over = subprocess.run(args + ["--output-dir", str(tmp_path / "over"),
                                  "--set", "data.max_bad_images=2"],
                          capture_output=True, text=True, timeout=600, cwd=REPO)
    assert over.returncode == 2
    assert re.search(r"error: 3 unreadable image\(s\), more than data\.max_bad_images=2",
                     over.stderr)
