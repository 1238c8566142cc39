"""Training configuration: one schema of defaults, YAML files over it, command-line flags over that.

A config is a two-level dict ``{section: {key: value}}``. Every key must exist in ``DEFAULTS``
(a typo is an error that names the key and the keys it could have meant); values are checked
against the type of their default. ``model.kwargs`` is free-form: it goes to
``ms_acmix.create_model``, which checks it.
"""
import copy
import difflib
import os
from typing import Any, Dict, Iterable, List, Optional

import yaml

Config = Dict[str, Dict[str, Any]]

DEFAULTS: Config = {
    "model": {
        "name": "acmix_resnet26",     # a name from ms_acmix.list_models()
        "kwargs": {},                 # extra keyword arguments of create_model
        "num_classes": None,          # None: the number of class folders in the train split
    },
    "data": {
        "dir": "data/imagenet",       # holds <train_split>/ and <val_split>/ class folders
        "train_split": "train",
        "val_split": "val",
        "img_size": 224,
        "in_chans": 3,                # 3: RGB, 1: grayscale
        "interpolation": "bicubic",   # bilinear | bicubic | nearest
        "crop_pct": 0.875,            # eval: resize to img_size / crop_pct, centre-crop img_size
        "mean": [0.485, 0.456, 0.406],
        "std": [0.229, 0.224, 0.225],
        "workers": 4,                 # mindspore.dataset parallel workers per rank
        "verify_images": False,       # decode every image before training (fail fast)
        "max_bad_images": 0,          # unreadable images tolerated: skipped, counted, logged;
                                      # one more fails the run naming them
    },
    "aug": {
        "scale": [0.08, 1.0],         # RandomResizedCrop area range
        "ratio": [0.75, 1.3333333333333333],
        "hflip": 0.5,
        "rand_augment": None,         # timm-style string, e.g. "rand-m9-mstd0.5-inc1"
        "reprob": 0.0,                # random erasing probability
        "mixup": 0.0,                 # mixup Beta alpha (0: off)
        "cutmix": 0.0,                # cutmix Beta alpha (0: off)
        "mixup_prob": 1.0,
        "switch_prob": 0.5,           # probability of cutmix when both are on
        "label_smoothing": 0.0,
        "smoothing_mode": "uniform",  # uniform: eps/C to all (timm); others: eps/(C-1) to others
    },
    "optimizer": {
        "name": "sgd",                # sgd (momentum) | adamw
        "lr": 0.1,                    # base learning rate, for a global batch of lr_scale_batch
        "lr_scale_batch": 0,          # 0: no scaling; else lr * global_batch / lr_scale_batch
        "warmup_lr": 0.0,             # learning rate at step 0 (scaled like lr)
        "min_lr": 0.0,                # end of the cosine (scaled like lr)
        "warmup_epochs": 0,
        "warmup_prefix": True,        # True: cosine over the steps after warm-up (ResNet recipe)
        "weight_decay": 1e-4,
        "no_decay_1d": False,         # no weight decay for 1-D parameters and biases
        "no_decay_keywords": [],      # and for names containing any of these
        "momentum": 0.9,
        "nesterov": False,
        "betas": [0.9, 0.999],
        "eps": 1e-8,
        "clip_grad": None,            # global-norm clipping, None: off
    },
    "train": {
        "epochs": 90,
        "batch_size": 32,             # per device; global batch = batch_size * workers
        "eval_batch_size": 0,         # 0: batch_size
        "seed": 0,
        "mode": "graph",              # graph | pynative
        "amp_level": "O0",            # O0 | O1 | O2 | O3 (Ascend/GPU)
        "loss_scale": "none",         # none | static | dynamic
        "loss_scale_value": 65536.0,
        "log_interval": 10,           # steps between log lines
        "keep_checkpoints": 3,        # latest epoch checkpoints kept (best.ckpt kept as well)
        "threads": 0,                 # CPU intra-op threads per worker, 0: cores / workers
        "max_steps_per_epoch": 0,     # 0: all; >0 truncates epochs (smoke tests)
        "accumulation_steps": 1,      # micro-batches per optimiser step (official Swin rule)
        "ema_decay": 0.0,             # EMA of the weights (timm ModelEmaV2), 0: off; e.g. 0.9998
        "pretrained": None,           # weights file to fine-tune from (any the converter reads)
        "grad_checkpointing": False,  # recompute each block's activations in the backward
                                      # (model.set_grad_checkpointing): less memory, more time
    },
}

CHOICES = {
    ("data", "interpolation"): ("bilinear", "bicubic", "nearest"),
    ("aug", "smoothing_mode"): ("uniform", "others"),
    ("optimizer", "name"): ("sgd", "adamw"),
    ("train", "mode"): ("graph", "pynative"),
    ("train", "amp_level"): ("O0", "O1", "O2", "O3"),
    ("train", "loss_scale"): ("none", "static", "dynamic"),
}

NULLABLE = {("model", "num_classes"), ("aug", "rand_augment"), ("optimizer", "clip_grad"),
            ("train", "pretrained")}


class ConfigError(ValueError):
    """A bad config file, key or value."""


def _suggest(key: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_value(section: str, key: str, value: Any, where: str) -> Any:
    default = DEFAULTS[section][key]
    name = f"{section}.{key}"
    if value is None:
        if (section, key) in NULLABLE:
            return None
        raise ConfigError(f"{where}: {name} must not be null")
    if (section, key) in NULLABLE and default is None:
        expected = {"num_classes": int, "rand_augment": str, "clip_grad": float,
                    "pretrained": str}[key]
    else:
        expected = type(default)
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if expected is float and isinstance(value, str):  # YAML reads 1e-3 (no dot) as a string
        try:
            value = float(value)
        except ValueError:
            pass
    if expected is int and isinstance(value, bool) or not isinstance(value, expected):
        raise ConfigError(f"{where}: {name}={value!r} must be of type {expected.__name__}")
    choices = CHOICES.get((section, key))
    if choices and value not in choices:
        raise ConfigError(f"{where}: {name}={value!r} must be one of {', '.join(choices)}")
    return value


def merge(cfg: Config, update: Dict[str, Any], where: str) -> Config:
    """Return ``cfg`` updated by a two-level dict; unknown sections or keys are errors."""
    if not isinstance(update, dict):
        raise ConfigError(f"{where}: expected a mapping of sections, got {type(update).__name__}")
    out = copy.deepcopy(cfg)
    for section, values in update.items():
        if section not in DEFAULTS:
            raise ConfigError(f"{where}: unknown section {section!r}{_suggest(section, DEFAULTS)}; "
                              f"sections are {', '.join(DEFAULTS)}")
        if not isinstance(values, dict):
            raise ConfigError(f"{where}: section {section!r} must be a mapping")
        for key, value in values.items():
            if key not in DEFAULTS[section]:
                raise ConfigError(f"{where}: unknown key {section}.{key}"
                                  f"{_suggest(key, DEFAULTS[section])}")
            out[section][key] = _check_value(section, key, value, where)
    return out


CONFIG_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs")


def recipes() -> List[str]:
    """The names of the shipped recipes (``ms_acmix/configs/<name>.yaml``)."""
    return sorted(f[:-5] for f in os.listdir(CONFIG_DIR) if f.endswith(".yaml"))


def resolve(path_or_name: str) -> str:
    """A YAML file's path: ``path_or_name`` itself if it is a file, else the shipped recipe of
    that name (``acmix_swin_tiny``)."""
    if os.path.isfile(path_or_name):
        return path_or_name
    if path_or_name in recipes():
        return os.path.join(CONFIG_DIR, path_or_name + ".yaml")
    if os.sep in path_or_name or path_or_name.endswith((".yaml", ".yml")):
        raise ConfigError(f"config file {path_or_name!r} does not exist")
    raise ConfigError(f"config={path_or_name!r} is neither a file nor a shipped recipe "
                      f"({', '.join(recipes())})")


def load(path: Optional[str]) -> Config:
    """DEFAULTS updated by the YAML file at ``path`` or the shipped recipe of that name (None:
    DEFAULTS)."""
    cfg = copy.deepcopy(DEFAULTS)
    if path is None:
        return cfg
    path = resolve(path)
    with open(path, encoding="utf-8") as f:
        try:
            data = yaml.safe_load(f)
        except yaml.YAMLError as err:
            raise ConfigError(f"config file {path!r} is not valid YAML: {err}") from err
    return merge(cfg, data or {}, path)


def parse_override(item: str) -> Dict[str, Dict[str, Any]]:
    """``'section.key=value'`` (value in YAML syntax) -> ``{section: {key: value}}``."""
    name, sep, text = item.partition("=")
    section, dot, key = name.strip().partition(".")
    if not sep or not dot or not section or not key:
        raise ConfigError(f"--set {item!r}: expected section.key=value, e.g. train.epochs=10")
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"--set {item!r}: value is not valid YAML: {err}") from err
    return {section: {key: value}}


def validate(cfg: Config) -> Config:
    """Cross-field checks that single values cannot express."""
    d, t, o, a = cfg["data"], cfg["train"], cfg["optimizer"], cfg["aug"]
    positive = [("data.img_size", d["img_size"]), ("train.epochs", t["epochs"]),
                ("train.batch_size", t["batch_size"]), ("train.log_interval", t["log_interval"]),
                ("train.keep_checkpoints", t["keep_checkpoints"]), ("optimizer.lr", o["lr"])]
    for name, value in positive:
        if value <= 0:
            raise ConfigError(f"{name}={value} must be > 0")
    if d["in_chans"] not in (1, 3):
        raise ConfigError(f"data.in_chans={d['in_chans']} must be 1 or 3")
    if len(d["mean"]) != d["in_chans"] or len(d["std"]) != d["in_chans"]:
        raise ConfigError(f"data.mean and data.std need {d['in_chans']} values (data.in_chans)")
    if not 0 < d["crop_pct"] <= 1:
        raise ConfigError(f"data.crop_pct={d['crop_pct']} must be in (0, 1]")
    if t["accumulation_steps"] < 1:
        raise ConfigError(f"train.accumulation_steps={t['accumulation_steps']} must be >= 1")
    if not 0 <= t["ema_decay"] < 1:
        raise ConfigError(f"train.ema_decay={t['ema_decay']} must be in [0, 1) (0: no EMA)")
    if d["max_bad_images"] < 0:
        raise ConfigError(f"data.max_bad_images={d['max_bad_images']} must be >= 0")
    if o["warmup_epochs"] < 0:
        raise ConfigError(f"optimizer.warmup_epochs={o['warmup_epochs']} must be >= 0")
    for name in ("hflip", "reprob", "mixup_prob", "switch_prob"):
        if not 0 <= a[name] <= 1:
            raise ConfigError(f"aug.{name}={a[name]} must be in [0, 1]")
    if not 0 <= a["label_smoothing"] < 1:
        raise ConfigError(f"aug.label_smoothing={a['label_smoothing']} must be in [0, 1)")
    if (a["mixup"] > 0 or a["cutmix"] > 0) and t["batch_size"] % 2:
        raise ConfigError(f"train.batch_size={t['batch_size']} must be even with aug.mixup or "
                          "aug.cutmix on (timm's batch mode mixes the batch with its reverse)")
    if a["rand_augment"]:
        from .rand_augment import parse_rand_augment
        try:
            parse_rand_augment(a["rand_augment"])
        except ValueError as err:
            raise ConfigError(str(err)) from None
    return cfg


def build(path: Optional[str], overrides: Iterable[Dict[str, Any]] = ()) -> Config:
    """Load ``path``, apply overrides in order, validate."""
    cfg = load(path)
    for update in overrides:
        cfg = merge(cfg, update, "command line")
    return validate(cfg)


def dump(cfg: Config, path: str) -> None:
    """Write the resolved config as YAML, atomically."""
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        yaml.safe_dump(cfg, f, sort_keys=False)
    os.replace(tmp, path)
