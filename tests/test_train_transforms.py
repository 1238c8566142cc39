"""The preprocessing's own contracts (the official semantics are in parity/test_preprocess_*.py
and parity/test_train_*.py): recipes from configs and metadata, spec parsing, shapes and
channels, and that augmentation depends on the sample's key only, not on the worker that ran it."""
import numpy as np
import pytest
from PIL import Image

from ms_acmix.train import config as cfgmod
from ms_acmix.train import rand_augment
from ms_acmix.train import transforms as T
from ms_acmix.train.data import train_dataset


@pytest.mark.parametrize("spec,want", [
    ("rand-m9-mstd0.5-inc1", rand_augment.RandAugmentSpec(2, 9.0, 0.5, True)),
    ("rand-n3-m10", rand_augment.RandAugmentSpec(3, 10.0, 0.0, False)),
    ("rand-inc0-m5", rand_augment.RandAugmentSpec(2, 5.0, 0.0, False)),
])
def test_parse_rand_augment(spec, want):
    assert rand_augment.parse_rand_augment(spec) == want


@pytest.mark.parametrize("spec,match", [("auto-m9", "must start with 'rand-'"),
                                        ("rand-m9-w0", "cannot parse 'w0'"),
                                        ("rand-m11", "magnitude must be in"),
                                        ("rand-m9.5", "invalid literal")])
def test_parse_rand_augment_errors(spec, match):
    with pytest.raises(ValueError, match=match):
        rand_augment.parse_rand_augment(spec)


def test_recipes_from_configs_and_metadata():
    swin = cfgmod.build("acmix_swin_tiny", [])
    assert T.eval_recipe(swin["data"]) == T.model_eval_recipe("acmix_swin_tiny")
    assert T.model_eval_recipe("acmix_swin_tiny").resize_size == 256
    resnet = cfgmod.build("acmix_resnet50", [])
    assert T.eval_recipe(resnet["data"]) == T.model_eval_recipe("acmix_resnet50")
    recipe = T.train_recipe(swin["data"], swin["aug"])
    assert recipe.rand_augment == rand_augment.RandAugmentSpec(2, 9.0, 0.5, True)
    assert (recipe.interpolation, recipe.reprob, recipe.hflip) == ("bicubic", 0.25, 0.5)
    assert T.train_recipe(resnet["data"], resnet["aug"]).rand_augment is None


def test_eval_transform_grayscale_and_rgb():
    rng = np.random.default_rng(0)
    for chans, mean in ((1, (0.5,)), (3, (0.5, 0.5, 0.5))):
        recipe = T.EvalRecipe(16, "bilinear", 0.8, mean, mean)
        out = T.EvalTransform(recipe)(rng.integers(0, 256, (30, 41, chans), dtype=np.uint8))
        assert out.shape == (chans, 16, 16) and out.dtype == np.float32


def test_center_crop_offsets_round_half_to_even():
    assert T.center_offsets(256, 383, 224) == (16, 80)  # 159 / 2 = 79.5 -> 80
    assert T.center_offsets(256, 385, 224) == (16, 80)  # 161 / 2 = 80.5 -> 80
    with pytest.raises(ValueError, match="cannot centre-crop 224 pixels from a 200x300"):
        T.center_offsets(200, 300, 224)


def test_unknown_interpolation_is_named():
    with pytest.raises(ValueError, match="interpolation='lanczos'"):
        T.EvalTransform(T.EvalRecipe(8, "lanczos", 1.0, (0.5,), (0.5,)))


def test_train_draws_follow_the_key():
    cfg = cfgmod.build("acmix_swin_tiny", [{"data": {"img_size": 32}}])
    transform = T.TrainTransform(T.train_recipe(cfg["data"], cfg["aug"]))
    image = np.asarray(Image.new("RGB", (50, 40), (10, 200, 30)))
    a = transform(image, np.array([0, 1, 0, 5]))
    assert np.array_equal(a, transform(image, np.array([0, 1, 0, 5])))
    assert not np.array_equal(a, transform(image, np.array([0, 1, 0, 6])))


def test_parallel_workers_give_the_same_samples(tmp_path):
    """Two worker processes (python_multiprocessing) produce what one process does."""
    rng = np.random.default_rng(1)
    samples = []
    for i in range(6):
        path = tmp_path / f"{i}.jpg"
        Image.fromarray(rng.integers(0, 256, (40 + i, 50, 3), dtype=np.uint8)).save(path)
        samples.append((str(path), i % 2))
    outs = []
    for workers in (1, 2):
        cfg = cfgmod.build("acmix_swin_tiny",
                           [{"data": {"img_size": 32, "workers": workers}}])
        dataset = train_dataset(samples, cfg, [4, 0, 5, 2], (7, 3, 1))
        outs.append([row[0] for row in dataset.create_tuple_iterator(num_epochs=1,
                                                                     output_numpy=True)])
    assert len(outs[0]) == len(outs[1]) == 4
    for one, two in zip(*outs):
        np.testing.assert_array_equal(one, two)


@pytest.mark.parametrize("update,match", [
    ({"aug": {"rand_augment": "rand-m9-w0"}}, "cannot parse 'w0'"),
    ({"aug": {"mixup": 0.8}, "train": {"batch_size": 5}}, "train.batch_size=5 must be even"),
])
def test_config_rejects_what_the_recipe_cannot_run(update, match):
    with pytest.raises(cfgmod.ConfigError, match=match):
        cfgmod.build(None, [update])


def test_resize_shorter_follows_torchvision():
    """Resize(int): the shorter side to size, the longer to int(size * long / short); an image
    whose shorter side is already size is returned as it is."""
    portrait = Image.new("RGB", (30, 50))
    assert T.resize_shorter(portrait, 20, Image.BILINEAR).size == (20, 33)  # int(33.3)
    landscape = Image.new("RGB", (50, 30))
    assert T.resize_shorter(landscape, 20, Image.BILINEAR).size == (33, 20)
    assert T.resize_shorter(portrait, 30, Image.BILINEAR) is portrait
    assert T.resize_shorter(landscape, 30, Image.BILINEAR) is landscape


def test_unknown_rand_augment_operation_is_named():
    with pytest.raises(ValueError, match="unknown RandAugment operation 'Cutout'"):
        rand_augment.apply_op(Image.new("RGB", (4, 4)), ("Cutout", (1.0,)), Image.BILINEAR,
                              (0, 0, 0))
