"""Checks of the preprocessing: ms_acmix's MindSpore pipeline against the official torchvision /
timm semantics (parity/reference_*.py), on re-encoded real photos and identical random draws.

Images are compared in gray levels after the normalisation is undone (``error_model.LEVELS``
policy: one level at every pixel); random draws (boxes, operation lists) must be equal, and so
must the generators' states afterwards (the same number of draws consumed).
"""
import os
import random
from typing import Dict, Sequence

import numpy as np
import torch
from PIL import Image

from acmix_common.tolerance import Comparison, compare
from parity.error_model import compare_levels
from ms_acmix.train import config as cfgmod
from ms_acmix.train import rand_augment, random_erasing
from ms_acmix.train import transforms as T
from ms_acmix.train.data import eval_batches, train_dataset
from ms_acmix.train.mixup import mix_batch

from . import reference_mixup as R_mix
from . import reference_rand_augment as R_ra
from . import reference_transforms as R
from .checks import ParityFailure
from .photos import decoded, photo
from .report import record, save_failure

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def levels(chw, mean: Sequence[float] = MEAN, std: Sequence[float] = STD) -> np.ndarray:
    """A normalised CHW image back in gray levels (float64)."""
    x = np.asarray(chw, dtype=np.float64)
    return (x * np.asarray(std)[:, None, None] + np.asarray(mean)[:, None, None]) * 255.0


def _verdict(check: str, config, results: Dict[str, Comparison], **arrays) -> None:
    record(check, config, max(results.values(), key=lambda r: r.ratio))
    failures = {name: r for name, r in results.items() if not r.ok}
    if failures:
        path = save_failure(check, config, **arrays)
        lines = [f"{check}: ms_acmix differs from the official pipeline for {config}"]
        lines += [f"  {name}: {r}" for name, r in failures.items()]
        raise ParityFailure("\n".join(lines + [f"  inputs saved to {path}"]), failures)


def _same_draws(what: str, ours, theirs, config) -> None:
    if ours != theirs:
        raise AssertionError(f"{what}: ms_acmix drew {ours}, the official code {theirs} "
                             f"for {config}")


def _same_state(py_a: random.Random, py_b: random.Random, np_a=None, np_b=None) -> None:
    if py_a.getstate() != py_b.getstate():
        raise AssertionError("the two sides consumed different numbers of Python random draws")
    if np_a is not None and np_a.randint(2 ** 31) != np_b.randint(2 ** 31):
        raise AssertionError("the two sides consumed different numbers of NumPy random draws")


def _write_photo(encoding, workdir: str) -> str:
    os.makedirs(os.path.join(workdir, "photo"), exist_ok=True)
    return encoding.write(os.path.join(workdir, "photo", "image.jpg"))


def _config(path: str = None, **data) -> cfgmod.Config:
    return cfgmod.build(path, [{"data": dict(workers=1, **data),
                                "train": {"batch_size": 2, "eval_batch_size": 1}}])


def _eval_pair(config):
    if config.kind == "resnet":
        return T.model_eval_recipe("acmix_resnet50"), R.resnet_eval_transform(MEAN, STD)
    if config.kind == "swin":
        return (T.model_eval_recipe("acmix_swin_tiny", config.img_size),
                R.swin_eval_transform(config.img_size, MEAN, STD))
    return (T.EvalRecipe(config.img_size, config.interpolation, config.crop_pct, MEAN, STD),
            R.timm_eval_transform(config.img_size, config.crop_pct, config.interpolation,
                                  MEAN, STD))


def check_eval_preprocess(config, workdir: str) -> Comparison:
    """The file through ms_acmix's evaluation pipeline (ImageSource + EvalTransform on
    mindspore.dataset) against torchvision's loader and the official eval transform."""
    path = _write_photo(config.photo, workdir)
    recipe, official = _eval_pair(config)
    ((ours, _, _),) = list(eval_batches([(path, 0)], _config(), 0, 1, recipe))
    theirs = official(R.pil_loader(path)).numpy()
    ours, theirs = levels(ours[0]), levels(theirs)
    result = compare_levels(ours, theirs)
    _verdict("eval preprocessing", config, {"image": result}, ours=ours, official=theirs)
    return result


def _train_recipe(img_size, interpolation, scale, ratio, hflip, spec=None, reprob=0.0):
    return T.TrainRecipe(img_size, interpolation, tuple(scale), tuple(ratio), hflip,
                         rand_augment.parse_rand_augment(spec) if spec else None, reprob,
                         MEAN, STD)


def check_resized_crop(config) -> Comparison:
    """RandomResizedCrop + flip + ToTensor/Normalize (the ResNet recipe's whole pipeline) with
    the same Python generator on both sides."""
    img = decoded(config.photo)
    ours_rng, their_rng = random.Random(config.seed), random.Random(config.seed)
    recipe = _train_recipe(config.img_size, config.interpolation, config.scale, config.ratio,
                           config.hflip)
    transform = T.TrainTransform(recipe)
    params = transform.draw(img.size[1], img.size[0], 3, ours_rng, None)
    ours = transform.apply(np.asarray(img), params)

    box = R.timm_crop_params(img, config.scale, config.ratio, their_rng)
    _same_draws("RandomResizedCrop box", params.box, box, config)
    out = R.resized_crop(img, *box, config.img_size, R.PIL_FILTERS[config.interpolation])
    if config.hflip > 0 and their_rng.random() < config.hflip:
        out = R.hflip(out)
    _same_state(ours_rng, their_rng)
    theirs = R.Normalize(MEAN, STD)(R.ToTensor()(out)).numpy()
    result = compare_levels(levels(ours), levels(theirs))
    _verdict("RandomResizedCrop + flip", config, {"image": result}, ours=ours, official=theirs)
    return result


def _ra_input(config) -> Image.Image:
    return photo(config.photo).resize((config.img_size, config.img_size), Image.BILINEAR)


def check_rand_augment(config) -> Comparison:
    """A whole RandAugment: operation choice, skips, magnitude noise, signs, application."""
    img = _ra_input(config)
    rngs = [(random.Random(config.seed), np.random.RandomState(config.seed)) for _ in range(2)]
    spec = rand_augment.parse_rand_augment(config.spec)
    resample = T.INTERPOLATION[config.interpolation]
    ops = rand_augment.draw(spec, *rngs[0])
    ours = rand_augment.apply(img, ops, resample, rand_augment.fill_colour(MEAN, "RGB"))
    official = R_ra.rand_augment_transform(
        config.spec, R_ra.timm_aa_hparams(config.img_size, MEAN, config.interpolation))
    theirs = official(img, *rngs[1])
    _same_state(rngs[0][0], rngs[1][0], rngs[0][1], rngs[1][1])
    result = compare_levels(np.asarray(ours), np.asarray(theirs))
    _verdict("RandAugment", config, {"image": result}, ours=np.asarray(ours),
             official=np.asarray(theirs), ops=np.array(repr(ops)))
    return result


class _FixedDraw:
    """A generator whose random() always returns the same value (the sign draw)."""

    def __init__(self, value: float):
        self.value = value

    def random(self) -> float:
        return self.value


def check_rand_augment_op(config) -> Comparison:
    """One operation at one magnitude and sign: timm's level mapping and PIL application."""
    img = _ra_input(config)
    resample = T.INTERPOLATION[config.interpolation]
    args = rand_augment.level_args(config.op, config.level, _FixedDraw(config.negate_draw))
    ours = rand_augment.apply_op(img, (config.op, args), resample,
                                 rand_augment.fill_colour(MEAN, "RGB"))
    hparams = R_ra.timm_aa_hparams(config.img_size, MEAN, config.interpolation)
    theirs = R_ra.AugmentOp(config.op, prob=1.0, magnitude=config.level, hparams=hparams)(
        img, _FixedDraw(config.negate_draw))
    result = compare_levels(np.asarray(ours), np.asarray(theirs))
    _verdict("RandAugment operation", config, {"image": result}, ours=np.asarray(ours),
             official=np.asarray(theirs))
    return result


def check_random_erasing(config) -> Comparison:
    """timm RandomErasing 'pixel' mode on a normalised image, the same draws on both sides."""
    x = np.random.RandomState(config.seed).standard_normal(
        (config.chans, config.height, config.width)).astype(np.float32)
    ours_rng, their_rng = random.Random(config.seed), random.Random(config.seed)
    ours_np, their_np = (np.random.RandomState(config.seed + 1) for _ in range(2))
    erase = random_erasing.draw(config.prob, config.chans, config.height, config.width,
                                ours_rng, ours_np)
    ours = random_erasing.apply(x, erase)
    official = R.RandomErasing(config.prob, mode="pixel",
                               normal=lambda shape: their_np.standard_normal(shape)
                               .astype(np.float32))
    theirs = official(torch.from_numpy(x.copy()), their_rng).numpy()
    _same_state(ours_rng, their_rng, ours_np, their_np)
    result = compare(ours, theirs, "float32", "forward")
    _verdict("RandomErasing pixel", config, {"image": result}, ours=ours, official=theirs)
    return result


def check_mixup(config) -> Dict[str, Comparison]:
    """timm Mixup (batch mode) with label smoothing: mixed images and soft targets."""
    data_rng = np.random.RandomState(config.seed)
    images = data_rng.standard_normal((config.batch, 3, config.height, config.width)
                                      ).astype(np.float32)
    labels = data_rng.randint(0, config.classes, config.batch)
    aug = dict(mixup=config.mixup, cutmix=config.cutmix, mixup_prob=config.prob,
               switch_prob=config.switch_prob, label_smoothing=config.smoothing,
               smoothing_mode="uniform")
    ours_np, their_np = (np.random.RandomState(config.seed + 1) for _ in range(2))
    ours_x, ours_t = mix_batch(images.copy(), labels, config.classes, aug, ours_np)
    official = R_mix.Mixup(config.mixup, config.cutmix, config.prob, config.switch_prob,
                           label_smoothing=config.smoothing, num_classes=config.classes)
    their_x, their_t = official(torch.from_numpy(images.copy()), torch.from_numpy(labels),
                                their_np)
    if ours_np.randint(2 ** 31) != their_np.randint(2 ** 31):
        raise AssertionError("the two sides consumed different numbers of NumPy random draws")
    results = {"images": compare(ours_x, their_x.numpy(), "float32", "forward"),
               "targets": compare(ours_t, their_t.numpy(), "float32", "forward")}
    _verdict("Mixup", config, results, images=images, labels=labels)
    return results


def _official_train(config, path: str, rng: random.Random, np_rng) -> np.ndarray:
    """timm create_transform (Swin) or torchvision RandomResizedCrop + flip (ResNet), with the
    flip's coin drawn from ``rng`` like every other draw."""
    swin = config.recipe == "swin"
    img = R.pil_loader(path)
    box = R.timm_crop_params(img, (0.08, 1.0), (3 / 4, 4 / 3), rng)
    filt = Image.BICUBIC if swin else Image.BILINEAR
    img = R.resized_crop(img, *box, config.img_size, filt)
    if rng.random() < 0.5:
        img = R.hflip(img)
    if swin:
        hparams = R_ra.timm_aa_hparams(config.img_size, MEAN, "bicubic")
        img = R_ra.rand_augment_transform("rand-m9-mstd0.5-inc1", hparams)(img, rng, np_rng)
    x = R.Normalize(MEAN, STD)(R.ToTensor()(img))
    if swin:
        x = R.RandomErasing(0.25, mode="pixel", normal=lambda shape: np_rng.standard_normal(
            shape).astype(np.float32))(x, rng)
    return x.numpy()


def check_train_pipeline(config, workdir: str) -> Comparison:
    """A sample through the configured recipe's whole training pipeline on mindspore.dataset
    (ms_acmix/configs/acmix_swin_tiny.yaml or acmix_resnet50.yaml) against the official one, both
    seeded from the sample's key."""
    path = _write_photo(config.photo, workdir)
    recipe = "acmix_swin_tiny" if config.recipe == "swin" else "acmix_resnet50"
    cfg = _config(recipe, img_size=config.img_size)
    prefix, index = config.key[:-1], config.key[-1]
    samples = [(path, 0)] * (index + 1)
    dataset = train_dataset(samples, cfg, [index], prefix)
    (row,) = list(dataset.create_tuple_iterator(num_epochs=1, output_numpy=True))
    ours = row[0]
    theirs = _official_train(config, path, *T.sample_generators(config.key))
    result = compare_levels(levels(ours), levels(theirs))
    _verdict("train pipeline", config, {"image": result}, ours=ours, official=theirs)
    return result
