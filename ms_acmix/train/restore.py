"""Rebuild a trained model from a checkpoint of a run (for evaluation and export)."""
import glob
import json
import os
from typing import Any, Dict, List, Optional, Tuple

import mindspore as ms
from mindspore import nn


from . import config as cfgmod
from .ema import PREFIX as EMA_PREFIX
from .eval_weights import classifier_rows
from .models import build_model


def run_dir_of(ckpt_path: str) -> str:
    """The run directory of ``<run>/checkpoints/<file>.ckpt``."""
    return os.path.dirname(os.path.dirname(os.path.abspath(ckpt_path)))


def load_config(ckpt_path: str, config_path: Optional[str]) -> cfgmod.Config:
    """``config_path``, else the run's saved config.yaml."""
    path = config_path or os.path.join(run_dir_of(ckpt_path), "config.yaml")
    if not os.path.isfile(path):
        raise ValueError(f"no config for {ckpt_path!r}: {path!r} does not exist; pass --config")
    return cfgmod.validate(cfgmod.load(path))


def run_classes(ckpt_path: str) -> Optional[List[str]]:
    """Class names saved with the run (newest epoch JSON), or None."""
    metas = sorted(glob.glob(os.path.join(os.path.dirname(os.path.abspath(ckpt_path)),
                                          "epoch_*.json")))
    if not metas:
        return None
    with open(metas[-1], encoding="utf-8") as f:
        return json.load(f).get("classes")


def model_from_checkpoint(ckpt_path: str, cfg: cfgmod.Config, num_classes: int) -> nn.Cell:
    """Build the configured model and load ``ckpt_path`` into it, strictly."""
    if not os.path.isfile(ckpt_path):
        raise ValueError(f"--ckpt {ckpt_path!r} does not exist")
    model = build_model(cfg, num_classes)
    params = {k: v for k, v in ms.load_checkpoint(ckpt_path).items()
              if not k.startswith(EMA_PREFIX)}  # the run's EMA copy (train.ema_decay)
    not_loaded, unused = ms.load_param_into_net(model, params, strict_load=True)
    if not_loaded or unused:
        raise ValueError(f"--ckpt {ckpt_path!r} does not fit {cfg['model']['name']}: missing "
                         f"{not_loaded[:5]}, unexpected {unused[:5]}")
    model.set_train(False)
    return model


def infer_num_classes(ckpt_path: str, cfg: cfgmod.Config) -> int:
    """model.num_classes, else the classifier's row count in the checkpoint."""
    if cfg["model"]["num_classes"]:
        return cfg["model"]["num_classes"]
    try:
        return classifier_rows(ms.load_checkpoint(ckpt_path), cfg["model"]["name"])
    except ValueError:
        raise ValueError(f"{ckpt_path!r}: cannot tell the number of classes; "
                         "set model.num_classes") from None


def restore(ckpt_path: str, config_path: Optional[str]
            ) -> Tuple[nn.Cell, cfgmod.Config, Dict[str, Any]]:
    """(model in eval mode, config, {'classes': names or None, 'num_classes': n})."""
    cfg = load_config(ckpt_path, config_path)
    num_classes = infer_num_classes(ckpt_path, cfg)
    model = model_from_checkpoint(ckpt_path, cfg, num_classes)
    return model, cfg, {"classes": run_classes(ckpt_path), "num_classes": num_classes}
