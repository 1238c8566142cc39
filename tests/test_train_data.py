"""Image-folder scanning, bad input, sharding and the mindspore.dataset pipelines."""
import os

import numpy as np
import pytest
from PIL import Image

from ms_acmix.train import config as cfgmod
from ms_acmix.train.data import (ImageSource, eval_batches, steps_per_epoch, train_batches,
                                 train_indices)
from ms_acmix.train.imagefolder import DataError, decode, drop_bad, find_unreadable, scan_split


def make_folder(root, classes=("a", "b", "c"), per_class=4, size=(10, 12)):
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for cls in classes:
            d = root / split / cls
            d.mkdir(parents=True)
            for i in range(per_class):
                pixels = rng.integers(0, 255, size + (3,), dtype=np.uint8)
                Image.fromarray(pixels).save(d / f"{i}.png")
    return root


def test_scan_sorted_classes_and_labels(tmp_path):
    root = make_folder(tmp_path)
    classes, samples = scan_split(str(root / "train"))
    assert classes == ["a", "b", "c"]
    assert len(samples) == 12 and {lab for _, lab in samples} == {0, 1, 2}
    assert all(os.path.basename(os.path.dirname(p)) == classes[lab] for p, lab in samples)


def test_missing_and_empty_directories(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        scan_split(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="has no class folders"):
        scan_split(str(tmp_path / "empty"))


def test_class_folder_without_images(tmp_path):
    root = make_folder(tmp_path)
    (root / "train" / "d").mkdir()
    (root / "train" / "d" / "notes.txt").write_text("not an image")
    with pytest.raises(DataError, match=r"class folder '.*train/d' has no images"):
        scan_split(str(root / "train"))


def test_val_class_unknown_to_train(tmp_path):
    root = make_folder(tmp_path)
    (root / "val" / "zzz").mkdir()
    Image.new("RGB", (4, 4)).save(root / "val" / "zzz" / "0.png")
    with pytest.raises(DataError, match="not a class of the training split"):
        scan_split(str(root / "val"), {"a": 0, "b": 1, "c": 2})


def test_unreadable_image_is_named_and_counted(tmp_path):
    root = make_folder(tmp_path)
    bad = root / "train" / "b" / "1.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"unreadable image '.*b/1\.png'"):
        decode(str(bad), 3)
    _, samples = scan_split(str(root / "train"))
    found = find_unreadable(samples, 3)
    assert found == [str(bad)]
    assert len(drop_bad(samples, found, 1, "x")) == 11
    with pytest.raises(DataError, match=r"1 unreadable image\(s\).*max_bad_images=0"):
        drop_bad(samples, found, 0, "x")


def test_decode_channels(tmp_path):
    root = make_folder(tmp_path)
    path = str(root / "train" / "a" / "0.png")
    assert decode(path, 3).shape == (10, 12, 3) and decode(path, 1).shape == (10, 12, 1)


@pytest.mark.parametrize("n,world", [(10, 1), (10, 3), (7, 2), (16, 4)])
def test_train_shards_equal_and_cover(n, world):
    shards = [train_indices(n, epoch=3, seed=0, rank=r, world=world) for r in range(world)]
    assert len({len(s) for s in shards}) == 1
    assert set().union(*shards) == set(range(n))
    assert train_indices(n, 3, 0, 0, world) == shards[0]          # same seed, same order
    assert train_indices(n, 4, 0, 0, world) != shards[0] or n < 3  # new epoch, new order


def test_steps_per_epoch_needs_one_global_batch():
    assert steps_per_epoch(100, 2, 16) == 3
    assert steps_per_epoch(100, 2, 16, max_steps=2) == 2
    with pytest.raises(ValueError, match="fewer than one global batch"):
        steps_per_epoch(30, 2, 16)


def small_cfg(root):
    cfg = cfgmod.build(None, [{"data": {"dir": str(root), "img_size": 8, "crop_pct": 1.0,
                                        "workers": 1},
                               "train": {"batch_size": 4, "eval_batch_size": 5},
                               "aug": {"mixup": 0.8, "cutmix": 1.0, "label_smoothing": 0.1,
                                       "reprob": 0.5, "rand_augment": "rand-m9-mstd0.5-inc1"}}])
    return cfg


def test_train_pipeline_shapes_and_targets(tmp_path):
    root = make_folder(tmp_path)
    cfg = small_cfg(root)
    _, samples = scan_split(str(root / "train"))
    batches = list(train_batches(samples, cfg, 3, epoch=0, rank=1, world=2, steps=1))
    assert len(batches) == 1
    images, targets = batches[0]
    assert images.shape == (4, 3, 8, 8) and images.dtype == np.float32
    assert targets.shape == (4, 3)
    np.testing.assert_allclose(targets.sum(1), 1.0, rtol=1e-5)


def test_eval_pipeline_covers_each_image_once(tmp_path):
    root = make_folder(tmp_path, per_class=3)
    cfg = small_cfg(root)
    _, samples = scan_split(str(root / "val"))
    seen = []
    for rank in range(2):
        for images, labels, valid in eval_batches(samples, cfg, rank, 2):
            assert images.shape == (5, 3, 8, 8)  # padded to one shape
            seen += labels[:valid].tolist()
    assert sorted(seen) == sorted(lab for _, lab in samples)


def test_unreadable_images_to_the_end_of_the_list_fail_naming_the_first(tmp_path):
    """With skip_bad an unreadable image is replaced by the next readable one; when none
    follows, the DataError names the image asked for."""
    samples = []
    for i in range(3):
        (tmp_path / f"{i}.png").write_bytes(b"not a png")
        samples.append((str(tmp_path / f"{i}.png"), 0))
    with pytest.raises(DataError, match=r"unreadable image '.*0\.png' and the 100 images after"):
        ImageSource(samples, 3, skip_bad=True)[0]


def test_a_rank_without_validation_images_yields_no_batch(tmp_path):
    root = make_folder(tmp_path, classes=("a",), per_class=1)
    _, samples = scan_split(str(root / "val"))
    assert list(eval_batches(samples, small_cfg(root), 1, 2)) == []  # rank 1 of 2, one image
