"""The model to export: a registered name, its kwargs, and optionally a checkpoint of either
framework (read and mapped through the converter's pipeline, official wrappings included)."""
from typing import Any, Dict, Optional, Tuple

from .errors import ExportError

FRAMEWORKS = {"ms": "mindspore", "torch": "torch"}
RESNET_DEFAULT_SIZE = 224


def model_kwargs(name: str, kwargs: Dict[str, Any], img_size: Optional[int]) -> Dict[str, Any]:
    """``kwargs`` plus ``img_size`` where the family takes one (Swin fixes it at construction)."""
    kwargs = dict(kwargs)
    if img_size is not None and "swin" in name:
        kwargs["img_size"] = img_size
    return kwargs


def input_chw(model, kwargs: Dict[str, Any], img_size: Optional[int]
              ) -> Tuple[int, int, int]:
    """(channels, height, width) of the exported input."""
    embed = getattr(model, "patch_embed", None)
    if embed is not None:
        h, w = embed.img_size
    else:
        h = w = img_size or RESNET_DEFAULT_SIZE
    return kwargs.get("in_chans", 3), int(h), int(w)


def create(framework: str, name: str, kwargs: Dict[str, Any], checkpoint: Optional[str] = None):
    """The model in eval mode (float32), weights from ``checkpoint`` when given."""
    from ckpt_convert.errors import CheckpointError
    from ckpt_convert.models import create_model, model_names
    if name not in model_names():
        raise ExportError(f"--model {name!r} is not registered; choose one of "
                          f"{', '.join(model_names())}")
    try:
        model = create_model(FRAMEWORKS[framework], name, kwargs)
        if checkpoint:
            _load(model, FRAMEWORKS[framework], name, kwargs, checkpoint)
    except CheckpointError as exc:  # the converter names the file SRC
        message = str(exc).splitlines()[0]
        raise ExportError(message.replace(f"SRC={checkpoint}", f"--checkpoint {checkpoint}")
                          ) from None
    return model


def _load(model, framework: str, name: str, kwargs: Dict[str, Any], path: str) -> None:
    import os

    from ckpt_convert import formats
    from ckpt_convert.errors import CheckpointError
    from ckpt_convert.models import ms_target, torch_target
    from ckpt_convert.pipeline import Options, read_source
    from ckpt_convert.plan import make_plan
    from ckpt_convert.verify import load_into
    if not os.path.isfile(path):
        raise CheckpointError(f"--checkpoint {path!r} does not exist")
    source_framework = "mindspore" if formats.sniff_format(path) == formats.MS_CKPT else "torch"
    direction = "ms2torch" if source_framework == "mindspore" else "torch2ms"
    source = read_source(Options(direction, path, "", name, kwargs))
    target = ms_target(model) if framework == "mindspore" else torch_target(model)
    plan = make_plan(source, source_framework, target)
    problems = plan.problems()
    if problems:
        raise CheckpointError(f"--checkpoint {path} does not fit --model {name}: "
                              + "; ".join(problems))
    load_into(model, framework, plan.arrays)
