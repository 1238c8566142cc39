"""Checks after writing: the file reads back bit for bit, loads strictly, and (``verify=True``)
gives the source model's logits within the tolerance policy."""
from typing import Any, Collection, Dict

import numpy as np

from acmix_common.name_map import torch_key_kind
from acmix_common.tolerance import compare
from acmix_common.variants import model_info

from .errors import VerifyError
from .formats import read_file, to_numpy

VERIFY_BATCH, VERIFY_SEED = 2, 0


def check_written(path: str, fmt: str, expected: Dict[str, np.ndarray]) -> Dict[str, Any]:
    """Read ``path`` back; every entry must equal ``expected`` bit for bit. Returns the entries."""
    entries, _ = read_file(path, fmt, f"written file {path!r}")
    if set(entries) != set(expected):
        extra, lost = sorted(set(entries) - set(expected)), sorted(set(expected) - set(entries))
        raise VerifyError(f"written file does not read back as planned: missing {lost[:3]}, "
                          f"extra {extra[:3]}")
    for name, value in entries.items():
        got = to_numpy(value)[0]
        want = expected[name]
        if got.dtype != want.dtype or got.shape != want.shape or got.tobytes() != want.tobytes():
            raise VerifyError(f"written file does not read back as planned: {name!r} differs "
                              f"({got.dtype}{got.shape} vs {want.dtype}{want.shape})")
    return entries


def load_into(model, framework: str, entries: Dict[str, Any], strict_names: bool = True,
              may_miss: Collection[str] = ()) -> None:
    """Load name -> tensor into ``model``; anything left unloaded on either side is an error,
    except the model entries named in ``may_miss``."""
    if framework == "mindspore":
        import mindspore as ms
        params = {k: v if isinstance(v, ms.Parameter) else
                  ms.Parameter(ms.Tensor(to_numpy(v)[0]), name=k) for k, v in entries.items()}
        not_loaded, unused = ms.load_param_into_net(model, params, strict_load=True)
    else:
        import torch
        state = {k: torch.from_numpy(np.array(to_numpy(v)[0], copy=True))
                 for k, v in entries.items()}
        result = model.load_state_dict(state, strict=False)
        not_loaded, unused = list(result.missing_keys), list(result.unexpected_keys)
        if not strict_names:  # a source may lack buffers the model rebuilds or counts itself
            not_loaded = [k for k in not_loaded if torch_key_kind(k) == "mapped"]
    not_loaded = [k for k in not_loaded if k not in set(may_miss)]
    if not_loaded or unused:
        parts = [f"{len(names)} {what} (first: {names[0]!r})" for names, what in
                 ((not_loaded, "model entries left unloaded"), (unused, "file entries unused"))
                 if names]
        raise VerifyError(f"loading into the {framework} model: {'; '.join(parts)}")


def verify_input(name: str, kwargs: Dict[str, Any]) -> np.ndarray:
    """The fixed input: seeded normal noise at the model's default input size."""
    shape = (VERIFY_BATCH,) + model_info(name).input_chw(kwargs)
    return np.random.RandomState(VERIFY_SEED).standard_normal(shape).astype(np.float32)


def logits(model, framework: str, x: np.ndarray) -> np.ndarray:
    if framework == "mindspore":
        import mindspore as ms
        return model(ms.Tensor(x)).asnumpy()
    import torch
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


def logit_agreement(source: np.ndarray, target: np.ndarray) -> Dict[str, Any]:
    """The target's logits against the source's under the tolerance policy (float32 forward),
    and whether top-1 agrees on every row."""
    result = compare(target, source, "float32", "forward")
    scale = float(np.max(np.abs(source)))
    agree = int(np.sum(source.argmax(-1) == target.argmax(-1)))
    return {"max_abs_diff": result.max_abs, "max_abs_logit": scale, "bound": result.bound,
            "relative_diff": result.max_abs / scale if scale > 0 else
            (float("inf") if result.max_abs else 0.0),
            "top1_agree": f"{agree}/{source.shape[0]}",
            "passed": result.ok and agree == source.shape[0]}
