"""Training configs: every shipped YAML loads; typos, bad types and bad values are errors."""
import glob
import os

import pytest

from ms_acmix.train import config as cfgmod

CONFIGS = sorted(glob.glob(os.path.join(cfgmod.CONFIG_DIR, "*.yaml")))


def test_every_model_has_a_config():
    names = {os.path.basename(p)[:-5] for p in CONFIGS}
    assert {"acmix_resnet26", "acmix_resnet38", "acmix_resnet50", "acmix_swin_tiny",
            "acmix_swin_small", "acmix_digits"} <= names
    assert cfgmod.recipes() == sorted(names)


def test_a_recipe_is_named_or_a_path():
    path = os.path.join(cfgmod.CONFIG_DIR, "acmix_swin_tiny.yaml")
    assert cfgmod.build("acmix_swin_tiny") == cfgmod.build(path)
    with pytest.raises(cfgmod.ConfigError, match="acmix_swin_tinny.*neither a file nor a shipped"):
        cfgmod.build("acmix_swin_tinny")


@pytest.mark.parametrize("path", CONFIGS, ids=os.path.basename)
def test_shipped_config_loads(path):
    cfg = cfgmod.build(path)
    assert cfg["model"]["name"].startswith("acmix_")
    assert set(cfg) == set(cfgmod.DEFAULTS)


def test_swin_recipe_values():
    cfg = cfgmod.build("acmix_swin_tiny")
    o, a = cfg["optimizer"], cfg["aug"]
    assert (o["name"], o["lr"], o["lr_scale_batch"]) == ("adamw", 5e-4, 512)
    assert (o["weight_decay"], o["warmup_epochs"], o["warmup_lr"]) == (0.05, 20, 5e-7)
    assert (o["min_lr"], o["clip_grad"]) == (5e-6, 5.0)
    assert o["no_decay_1d"] and o["no_decay_keywords"] == ["relative_position_bias_table"]
    assert (a["mixup"], a["cutmix"], a["label_smoothing"], a["reprob"]) == (0.8, 1.0, 0.1, 0.25)
    assert a["rand_augment"] == "rand-m9-mstd0.5-inc1"
    assert cfg["train"]["epochs"] == 300 and cfg["data"]["interpolation"] == "bicubic"
    assert cfg["model"]["kwargs"]["drop_path_rate"] == 0.2


def test_resnet_recipe_values():
    cfg = cfgmod.build("acmix_resnet50")
    o = cfg["optimizer"]
    assert (o["name"], o["lr"], o["momentum"], o["weight_decay"]) == ("sgd", 0.1, 0.9, 1e-4)
    assert (o["warmup_epochs"], o["warmup_lr"], o["warmup_prefix"]) == (5, 0.025, True)
    assert not o["no_decay_1d"] and o["clip_grad"] is None
    assert cfg["aug"]["smoothing_mode"] == "others" and cfg["aug"]["mixup"] == 0.0
    assert cfg["train"]["epochs"] == 90


def test_unknown_key_in_file_names_it(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text("train:\n  epoch: 3\n")
    with pytest.raises(cfgmod.ConfigError, match=r"unknown key train\.epoch.*'epochs'"):
        cfgmod.build(str(path))


def test_unknown_section_is_an_error(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text("trian:\n  epochs: 3\n")
    with pytest.raises(cfgmod.ConfigError, match="unknown section 'trian'.*'train'"):
        cfgmod.build(str(path))


def test_bad_type_and_choice():
    with pytest.raises(cfgmod.ConfigError, match="train.epochs='ten' must be of type int"):
        cfgmod.build(None, [cfgmod.parse_override("train.epochs=ten")])
    with pytest.raises(cfgmod.ConfigError, match="optimizer.name='adam' must be one of"):
        cfgmod.build(None, [cfgmod.parse_override("optimizer.name=adam")])
    with pytest.raises(cfgmod.ConfigError, match="must be of type int"):
        cfgmod.build(None, [{"train": {"epochs": True}}])


def test_bad_values():
    with pytest.raises(cfgmod.ConfigError, match="train.batch_size=0 must be > 0"):
        cfgmod.build(None, [{"train": {"batch_size": 0}}])
    with pytest.raises(cfgmod.ConfigError, match="data.mean and data.std need 1 values"):
        cfgmod.build(None, [{"data": {"in_chans": 1}}])
    with pytest.raises(cfgmod.ConfigError, match="aug.label_smoothing"):
        cfgmod.build(None, [{"aug": {"label_smoothing": 1.0}}])
    with pytest.raises(cfgmod.ConfigError, match=r"train.accumulation_steps=0 must be >= 1"):
        cfgmod.build(None, [{"train": {"accumulation_steps": 0}}])
    with pytest.raises(cfgmod.ConfigError, match=r"train.ema_decay=1.0 must be in \[0, 1\)"):
        cfgmod.build(None, [{"train": {"ema_decay": 1}}])
    with pytest.raises(cfgmod.ConfigError, match=r"data.max_bad_images=-1 must be >= 0"):
        cfgmod.build(None, [{"data": {"max_bad_images": -1}}])
    with pytest.raises(cfgmod.ConfigError, match=r"train.pretrained=3 must be of type str"):
        cfgmod.build(None, [{"train": {"pretrained": 3}}])


def test_imagenet_recipes_skip_a_few_bad_images():
    for name in ("acmix_swin_tiny", "acmix_swin_small", "acmix_resnet26", "acmix_resnet38",
                 "acmix_resnet50"):
        d = cfgmod.build(name)["data"]
        assert not d["verify_images"] and d["max_bad_images"] == 50, name


def test_missing_and_invalid_files(tmp_path):
    with pytest.raises(cfgmod.ConfigError, match="does not exist"):
        cfgmod.build(str(tmp_path / "nope.yaml"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [1, 2\n")
    with pytest.raises(cfgmod.ConfigError, match="not valid YAML"):
        cfgmod.build(str(bad))


def test_command_line_overrides_file_in_order():
    path = "acmix_digits"
    file_epochs = cfgmod.build(path)["train"]["epochs"]
    cfg = cfgmod.build(path, [{"train": {"epochs": file_epochs + 1}},
                              cfgmod.parse_override("train.epochs=2"),
                              cfgmod.parse_override("optimizer.lr=1e-3"),
                              cfgmod.parse_override("model.kwargs={head: 2}")])
    assert cfg["train"]["epochs"] == 2
    assert cfg["optimizer"]["lr"] == pytest.approx(1e-3)
    assert cfg["model"]["kwargs"] == {"head": 2}
    assert cfg["optimizer"]["name"] == cfgmod.build(path)["optimizer"]["name"]


@pytest.mark.parametrize("item", ["epochs=3", "train=3", ".x=1", "train.=1"])
def test_malformed_override(item):
    with pytest.raises(cfgmod.ConfigError, match="expected section.key=value"):
        cfgmod.parse_override(item)


# Every rejection branch of merge/validate: the value, the message that names it.
@pytest.mark.parametrize("update,match", [
    ({"train": {"epochs": None}}, r"train.epochs must not be null"),
    ({"train": 3}, r"section 'train' must be a mapping"),
    ({"data": {"in_chans": 2, "mean": [0.5] * 2, "std": [0.5] * 2}},
     r"data.in_chans=2 must be 1 or 3"),
    ({"data": {"crop_pct": 1.5}}, r"data.crop_pct=1.5 must be in \(0, 1\]"),
    ({"data": {"crop_pct": 0.0}}, r"data.crop_pct=0.0 must be in \(0, 1\]"),
    ({"optimizer": {"warmup_epochs": -1}}, r"optimizer.warmup_epochs=-1 must be >= 0"),
    ({"aug": {"hflip": 1.5}}, r"aug.hflip=1.5 must be in \[0, 1\]"),
    ({"aug": {"reprob": -0.1}}, r"aug.reprob=-0.1 must be in \[0, 1\]"),
    ({"aug": {"switch_prob": 2.0}}, r"aug.switch_prob=2.0 must be in \[0, 1\]"),
], ids=["null", "section-not-mapping", "in_chans", "crop_pct-high", "crop_pct-zero",
        "warmup_epochs", "hflip", "reprob", "switch_prob"])
def test_each_rejected_value_is_named(update, match):
    with pytest.raises(cfgmod.ConfigError, match=match):
        cfgmod.build(None, [update])


def test_nullable_keys_take_null():
    cfg = cfgmod.build("acmix_swin_tiny", [{"aug": {"rand_augment": None},
                                            "optimizer": {"clip_grad": None}}])
    assert cfg["aug"]["rand_augment"] is None and cfg["optimizer"]["clip_grad"] is None


def test_a_file_that_is_not_a_mapping(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- train\n- epochs\n")
    with pytest.raises(cfgmod.ConfigError, match="expected a mapping of sections, got list"):
        cfgmod.build(str(path))
