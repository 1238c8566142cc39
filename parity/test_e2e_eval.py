"""Official-format weights evaluated end to end: ``scripts/eval.py --model --checkpoint`` (MindSpore
through ms_acmix's pipeline) against torch_ref through the official loader and transforms, on a
folder of real photos and re-encodings of them. Same top-1 on every image, logits within the
float32 forward policy.

Weights are drawn at a small width (the model's own seeded initialisation; ResNet's BatchNorm
affine parameters, statistics and biases drawn too, since at initialisation every photo gets the
same class) and saved the way the official code saves them: Swin ``{'model': state_dict, ...}``,
ResNet ``{'state_dict': {'module.' + name: ...}, ...}`` (DataParallel). The seeds are ones whose
drawn model predicts more than one class on these photos, so the top-1 check means something.
"""
import json
import os

import mindspore as ms
import numpy as np
import pytest
import torch

import torch_ref
from acmix_common.tolerance import compare
from parity import reference_transforms as R
from parity.photos import PHOTOS, PhotoEncoding

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
ENCODINGS = [dict(), dict(mode="L", quality=60), dict(fmt="PNG", size=(301, 217)),
             dict(mode="CMYK", orientation=6, size=(250, 333))]
CASES = {  # recipe: (model, kwargs, seed)
    "swin": ("acmix_swin_tiny", dict(img_size=64, embed_dim=24, window_size=4,
                                     depths=(1, 1, 2, 1), num_classes=len(PHOTOS)), 1),
    "resnet": ("acmix_resnet26", dict(base_planes=4, layers=(1, 1, 1, 1), head=2,
                                      num_classes=len(PHOTOS)), 6),
}


def _eval_cli():
    from ms_acmix.cli import evaluate
    return evaluate


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    for name in PHOTOS:
        os.makedirs(root / name)
        for i, options in enumerate(ENCODINGS):
            PhotoEncoding(name, **options).write(str(root / name / f"{i}.jpg"))
    return root


def _drawn_model(recipe: str, name: str, kwargs: dict, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = torch_ref.create_model(name, **kwargs)
    if recipe == "resnet":
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for key, t in model.state_dict().items():
                if key.endswith("running_var"):
                    t.copy_(torch.rand(t.shape, generator=g) + 0.5)
                elif key.endswith(("running_mean", "bias")):
                    t.copy_(0.2 * torch.randn(t.shape, generator=g))
                elif key.endswith("weight") and t.dim() == 1:
                    t.copy_(1 + 0.3 * torch.randn(t.shape, generator=g))
    return model


def _official_checkpoint(recipe: str, model: torch.nn.Module, path: str) -> None:
    state = model.state_dict()
    if recipe == "swin":
        torch.save({"model": state, "optimizer": {}, "lr_scheduler": {}, "max_accuracy": 0.0,
                    "epoch": 299}, path)
    else:
        torch.save({"epoch": 90, "arch": "acmix_resnet26", "best_acc1": torch.tensor(0.0),
                    "state_dict": {"module." + k: v for k, v in state.items()},
                    "optimizer": {}}, path)


def _official_model(recipe: str, name: str, kwargs: dict, path: str) -> torch.nn.Module:
    """torch_ref loaded as the official scripts load their checkpoints."""
    model = torch_ref.create_model(name, **kwargs)
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if recipe == "swin":
        model.load_state_dict(checkpoint["model"])
    else:
        model.load_state_dict({k[len("module."):]: v for k, v in
                               checkpoint["state_dict"].items()})
    return model.eval()


def _official_logits(recipe: str, model: torch.nn.Module, paths, img_size: int) -> np.ndarray:
    transform = (R.swin_eval_transform(img_size, MEAN, STD) if recipe == "swin"
                 else R.resnet_eval_transform(MEAN, STD))
    batch = torch.stack([transform(R.pil_loader(p)) for p in paths])
    with torch.no_grad():
        return model(batch).numpy()


@pytest.mark.parametrize("recipe", sorted(CASES))
def test_official_weights_end_to_end(recipe, photo_folder, tmp_path):
    name, kwargs, seed = CASES[recipe]
    ckpt = str(tmp_path / ("ckpt.pth" if recipe == "swin" else "model_best.pth.tar"))
    _official_checkpoint(recipe, _drawn_model(recipe, name, kwargs, seed), ckpt)
    predictions = tmp_path / "predictions.json"
    rc = _eval_cli().main(["--model", name, "--checkpoint", ckpt, "--data-dir", str(photo_folder),
                           "--model-kwargs", json.dumps(kwargs), "--mode", "pynative",
                           "--device", ms.get_context("device_target"),
                           "--workers", "1", "--batch-size", "12",
                           "--predictions", str(predictions)])
    assert rc == 0
    rows = json.loads(predictions.read_text())
    assert len(rows) == len(PHOTOS) * len(ENCODINGS)
    paths = [r["path"] for r in rows]
    theirs = _official_logits(recipe, _official_model(recipe, name, kwargs, ckpt), paths,
                              kwargs.get("img_size", 224))
    ours = np.array([r["logits"] for r in rows], dtype=np.float32)
    assert len(set(theirs.argmax(1).tolist())) > 1, "the drawn model predicts one class only"
    assert [r["top1"] for r in rows] == theirs.argmax(1).tolist()
    result = compare(ours, theirs, "float32", "forward")
    assert result.ok, f"logits of {recipe} differ: {result}"
