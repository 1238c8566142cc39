"""The preprocessing checks have teeth: each plausible porting bug, injected into ms_acmix's
pipeline, makes the normal check fail on fixed real-photo cases."""
import tempfile

import numpy as np
import pytest
from mindspore.dataset import vision
from PIL import Image, ImageOps

import ms_acmix.train.data
from ms_acmix.train import mixup, rand_augment, random_erasing
from ms_acmix.train import transforms as T
from parity.checks import ParityFailure
from parity.photos import PhotoEncoding
from parity.preprocess_checks import (check_eval_preprocess, check_mixup, check_rand_augment,
                                      check_rand_augment_op, check_random_erasing,
                                      check_resized_crop, check_train_pipeline)
from parity.report import record_catch
from parity.strategies import (CropConfig, ErasingConfig, EvalRecipeConfig, MixupConfig,
                               RandAugmentConfig, RandAugmentOpConfig, TrainPipelineConfig)

CHINA = PhotoEncoding("china")  # 640x427: resized to 383x256, an odd centre-crop margin
SWIN_EVAL = EvalRecipeConfig("swin", 224, 0.875, "bicubic", CHINA)
RESNET_EVAL = EvalRecipeConfig("resnet", 224, 0.875, "bilinear", CHINA)
ROTATED = EvalRecipeConfig("swin", 224, 0.875, "bicubic", PhotoEncoding("grace_hopper",
                                                                          orientation=6))
CROP = CropConfig(PhotoEncoding("flower", size=(300, 200)), 64, (0.08, 1.0), (3 / 4, 4 / 3),
                  "bicubic", 0.5, 7)
RA_OPS = [RandAugmentOpConfig(op, 9.0, 0.25, "china", 48, "bicubic")
          for op in ("Rotate", "ShearX", "TranslateYRel", "PosterizeIncreasing",
                     "SolarizeIncreasing", "BrightnessIncreasing")]
ERASE = ErasingConfig(1.0, 3, 32, 32, 5)
CUTMIX = MixupConfig(4, 5, 16, 16, 0.0, 1.0, 1.0, 0.5, 0.1, 3)
MIXUP = MixupConfig(4, 5, 16, 16, 0.8, 0.0, 1.0, 0.5, 0.1, 3)
SWIN_TRAIN = TrainPipelineConfig("swin", 64, PhotoEncoding("china", size=(200, 150)),
                                 (0, 1, 0, 2))


def caught(bug: str, check, configs, workdir: bool = False) -> None:
    for config in configs:
        with pytest.raises(AssertionError) as failure:
            if workdir:
                with tempfile.TemporaryDirectory() as tmp:
                    check(config, tmp)
            else:
                check(config)
        error = failure.value
        record_catch(bug, error.worst_ratio if isinstance(error, ParityFailure) else float("inf"))


def test_opencv_bicubic_resize(monkeypatch):
    """MindSpore's vision.Resize (OpenCV kernel, no antialiasing) instead of PIL."""
    def opencv_resize(img, size, resample):
        w, h = img.size
        new = (size, int(size * h / w)) if w < h else (int(size * w / h), size)
        inter = {Image.BICUBIC: vision.Inter.BICUBIC, Image.BILINEAR: vision.Inter.BILINEAR}
        out = vision.Resize((new[1], new[0]), inter[resample])(np.asarray(img))
        return Image.fromarray(out)

    monkeypatch.setattr(T, "resize_shorter", opencv_resize)
    caught("OpenCV resize instead of PIL", check_eval_preprocess, [SWIN_EVAL, RESNET_EVAL], True)


def test_mindspore_center_crop_offsets(monkeypatch):
    """vision.CenterCrop's offsets (measured on a coordinate map) instead of torchvision's."""
    def mindspore_offsets(height, width, crop):
        yy, xx = np.meshgrid(np.arange(height, dtype=np.float32),
                             np.arange(width, dtype=np.float32), indexing="ij")
        corner = vision.CenterCrop(crop)(np.stack([yy, xx, xx], -1))[0, 0]
        return int(corner[0]), int(corner[1])

    monkeypatch.setattr(T, "center_offsets", mindspore_offsets)
    caught("MindSpore CenterCrop offsets", check_eval_preprocess, [SWIN_EVAL], True)


def test_resize_rounds_the_long_side(monkeypatch):
    def rounding_resize(img, size, resample):
        w, h = img.size
        new = (size, round(size * h / w)) if w < h else (round(size * w / h), size)
        return img.resize(new, resample)

    monkeypatch.setattr(T, "resize_shorter", rounding_resize)
    caught("long side rounded, not truncated", check_eval_preprocess, [SWIN_EVAL], True)


def test_exif_orientation_applied(monkeypatch):
    def exif_decode(path, in_chans):
        with Image.open(path) as img:
            return np.asarray(ImageOps.exif_transpose(img).convert("RGB"))

    monkeypatch.setattr(ms_acmix.train.data, "decode", exif_decode)
    caught("EXIF orientation applied", check_eval_preprocess, [ROTATED], True)


def test_crop_box_height_and_width_swapped(monkeypatch):
    original = T.draw_resized_crop

    def swapped(height, width, scale, ratio, rng):
        top, left, h, w = original(height, width, scale, ratio, rng)
        return top, left, min(w, height - top), min(h, width - left)

    monkeypatch.setattr(T, "draw_resized_crop", swapped)
    caught("RandomResizedCrop h and w swapped", check_resized_crop, [CROP])


def test_bilinear_instead_of_bicubic(monkeypatch):
    monkeypatch.setitem(T.INTERPOLATION, "bicubic", Image.BILINEAR)
    caught("bilinear instead of the recipe's bicubic", check_resized_crop, [CROP])
    caught("bilinear instead of the recipe's bicubic", check_train_pipeline, [SWIN_TRAIN], True)


def _torchvision_level_args(name, level, rng):
    """torchvision RandAugment's magnitudes: 31 bins, bin m is m/30 of each range."""
    m = int(level)
    sign = -1.0 if rng.random() > 0.5 else 1.0
    base = name.replace("Increasing", "")
    if base == "Rotate":
        return (sign * 30.0 * m / 30,)
    if base in ("ShearX", "ShearY"):
        return (sign * 0.3 * m / 30,)
    if base in ("TranslateXRel", "TranslateYRel"):
        return (sign * (150.0 / 331.0) * m / 30,)
    if base == "Posterize":
        return (8 - int(round(m / 7.5)),)
    if base == "Solarize":
        return (255.0 - 255.0 * m / 30,)
    if base in ("Color", "Contrast", "Brightness", "Sharpness"):
        return (1.0 + sign * 0.9 * m / 30,)
    return rand_augment.level_args(name, level, rng)


def test_torchvision_rand_augment_magnitudes(monkeypatch):
    monkeypatch.setattr(rand_augment, "level_args", _torchvision_level_args)
    caught("torchvision RandAugment magnitudes", check_rand_augment_op, RA_OPS)
    caught("torchvision RandAugment magnitudes", check_rand_augment,
           [RandAugmentConfig("rand-m9-mstd0.5-inc1", "china", 48, "bicubic", s)
            for s in (1, 4, 8)])  # seeds whose draws apply operations with arguments


def test_rand_augment_without_magnitude_noise(monkeypatch):
    """The noise is drawn per operation from Python's generator (not once per image)."""
    original = rand_augment.draw

    def once_per_image(spec, rng, np_rng):
        level = min(10.0, max(0.0, rng.gauss(spec.magnitude, spec.magnitude_std)))
        return original(type(spec)(spec.num_ops, level, 0.0, spec.increasing), rng, np_rng)

    monkeypatch.setattr(rand_augment, "draw", once_per_image)
    caught("RandAugment noise once per image", check_rand_augment,
           [RandAugmentConfig("rand-m9-mstd0.5-inc1", "flower", 48, "bicubic", s)
            for s in (1, 2)])


def test_erasing_one_colour_per_channel(monkeypatch):
    """timm's 'rand' mode (one value per channel) instead of 'pixel'."""
    original = random_erasing.draw

    def per_channel(prob, chans, height, width, rng, np_rng):
        erase = original(prob, chans, height, width, rng, np_rng)
        if erase is None:
            return None
        values = np.broadcast_to(erase.values[:, :1, :1], erase.values.shape).copy()
        return random_erasing.Erase(erase.top, erase.left, values)

    monkeypatch.setattr(random_erasing, "draw", per_channel)
    caught("random erasing 'rand' instead of 'pixel'", check_random_erasing, [ERASE])


def test_cutmix_without_lambda_correction(monkeypatch):
    drawn = {}
    box, draw_mix = mixup.cutmix_box, mixup.draw_mix

    def spy_box(height, width, lam, rng):
        drawn["lam"] = lam
        return box(height, width, lam, rng)

    def uncorrected(aug, height, width, rng):
        params = draw_mix(aug, height, width, rng)
        return mixup.MixParams(drawn["lam"], params.box) if params.box else params

    monkeypatch.setattr(mixup, "cutmix_box", spy_box)
    monkeypatch.setattr(mixup, "draw_mix", uncorrected)
    caught("cutmix without the lambda correction", check_mixup, [CUTMIX])


def test_smoothing_spread_over_other_classes(monkeypatch):
    original = mixup.smooth_one_hot
    monkeypatch.setattr(mixup, "smooth_one_hot",
                        lambda labels, n, eps, mode: original(labels, n, eps, "others"))
    caught("label smoothing eps/(C-1) in the Swin recipe", check_mixup, [MIXUP, CUTMIX])


def test_mixup_with_a_random_partner(monkeypatch):
    """Mixing with a shuffled batch instead of the reversed one (timm's batch mode)."""
    def shuffled(images, targets, params):
        if params.lam == 1.0:
            return images, targets
        perm = np.roll(np.arange(images.shape[0]), 1)
        lam = np.float32(params.lam)
        return (images * lam + images[perm] * (1 - lam),
                targets * lam + targets[perm] * (1 - lam))

    monkeypatch.setattr(mixup, "apply_mix", shuffled)
    caught("mixup partner not the reversed batch", check_mixup, [MIXUP])


def test_fixed_cases_pass_unpatched():
    """Without a bug every fixed case above passes, so each catch is the bug's doing."""
    for config in (SWIN_EVAL, RESNET_EVAL, ROTATED, SWIN_TRAIN):
        with tempfile.TemporaryDirectory() as tmp:
            (check_train_pipeline if config is SWIN_TRAIN else check_eval_preprocess)(config, tmp)
    check_resized_crop(CROP)
    for config in RA_OPS:
        check_rand_augment_op(config)
    for seed in (1, 2, 4, 8):
        for name in ("china", "flower"):
            check_rand_augment(RandAugmentConfig("rand-m9-mstd0.5-inc1", name, 48, "bicubic",
                                                 seed))
    check_random_erasing(ERASE)
    check_mixup(CUTMIX)
    check_mixup(MIXUP)
