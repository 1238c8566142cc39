"""Checkpoint files: recognising a format from its bytes, reading it, writing it atomically.

Formats: ``torch`` (``torch.save`` zip or legacy pickle; ``.pth``, ``.pt``, ``.pth.tar``),
``safetensors`` (the same bytes whichever framework wrote them) and ``ckpt`` (MindSpore protobuf).
"""
import contextlib
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Tuple

import numpy as np

from .errors import CheckpointError
from .safe_pickle import load_torch_pickle

TORCH, SAFETENSORS, MS_CKPT = "torch", "safetensors", "ckpt"
TORCH_EXTENSIONS = (".pth.tar", ".pth", ".pt")
DST_EXTENSIONS = {"torch2ms": {".ckpt": MS_CKPT, ".safetensors": SAFETENSORS},
                  "ms2torch": {**{e: TORCH for e in TORCH_EXTENSIONS}, ".safetensors": SAFETENSORS}}
SRC_FORMATS = {"torch2ms": (TORCH, SAFETENSORS), "ms2torch": (MS_CKPT, SAFETENSORS)}


def sniff_format(path: str, where: Optional[str] = None) -> str:
    """The format of the file at ``path``, from its first bytes (and ``.ckpt`` for MindSpore).

    ``where`` names the file in errors by the caller's parameter (``path='w.pth'``,
    ``src='w.pth'``; default ``path=...``); every reader below takes it too.
    """
    where = where or f"path={path!r}"
    if not os.path.exists(path):
        raise CheckpointError(f"{where} does not exist")
    if os.path.isdir(path):
        raise CheckpointError(f"{where} is a directory, not a checkpoint file")
    size = os.path.getsize(path)
    if size == 0:
        raise CheckpointError(f"{where} is empty (0 bytes): not a checkpoint")
    with open(path, "rb") as f:
        head = f.read(16)
    if head.startswith(b"PK\x03\x04"):
        return _check_torch_zip(path, where)
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return TORCH  # legacy torch.save: a pickle stream (torch.load checks its magic number)
    if size >= 10 and head[8:9] == b"{":
        header_len = int.from_bytes(head[:8], "little")
        if header_len > size - 8:
            raise CheckpointError(f"{where} is truncated or corrupt: safetensors header says "
                                  f"{header_len} bytes but the file has {size - 8} after it")
        return SAFETENSORS
    if path.endswith(".ckpt"):
        return MS_CKPT  # protobuf has no signature; the MindSpore reader validates it
    raise CheckpointError(f"{where} is not a checkpoint: its first bytes match neither a "
                          "PyTorch zip or pickle nor safetensors, and it is not named .ckpt")


def _check_torch_zip(path: str, where: str) -> str:
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{where} is truncated or corrupt: a zip archive (the "
                              "torch.save format) without its end-of-archive record")
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise CheckpointError(f"{where} is truncated or corrupt: {exc}") from None
    if not any(n.endswith("data.pkl") for n in names):
        raise CheckpointError(f"{where} is not a checkpoint: a zip archive without the "
                              "data.pkl of a torch.save file")
    return TORCH


def read_file(path: str, fmt: str, where: Optional[str] = None) -> Tuple[Any, Dict[str, str]]:
    """(loaded object, file metadata) of a file of a sniffed format: a PyTorch pickle's tensors
    stay torch tensors, a ``.ckpt``'s MindSpore tensors, a safetensors file's are numpy."""
    where = where or f"path={path!r}"
    if fmt == TORCH:
        return load_torch_pickle(path, where), {}
    if fmt == SAFETENSORS:
        return _read_safetensors(path, where)
    return _read_ms_ckpt(path, where), {}


def _read_safetensors(path: str, where: str) -> Tuple[Dict[str, Any], Dict[str, str]]:
    """Read with numpy (no framework needed); bfloat16, which numpy lacks, is widened to float32
    from the file's bytes (exact: a bfloat16 is the high half of a float32)."""
    from safetensors import safe_open
    try:
        with safe_open(path, framework="numpy") as f:
            names = list(f.keys())
            bf16 = [k for k in names if f.get_slice(k).get_dtype() == "BF16"]
            arrays = {k: f.get_tensor(k) for k in names if k not in bf16}
            metadata = dict(f.metadata() or {})
        arrays.update(_bfloat16_as_float32(path, bf16))
    except Exception as exc:  # noqa: BLE001  (SafetensorError, OSError...)
        raise CheckpointError(f"{where} is truncated or corrupt: safetensors: "
                              f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") \
            from None
    return {k: arrays[k] for k in names}, metadata


def _read_ms_ckpt(path: str, where: str) -> Dict[str, Any]:
    try:
        import mindspore as ms
    except ImportError:
        raise CheckpointError(f"{where} is a MindSpore .ckpt: reading it needs MindSpore (pip "
                              "install ms-acmix), or convert it to safetensors") from None
    try:
        return dict(ms.load_checkpoint(path))
    except Exception as exc:  # noqa: BLE001  (MindSpore raises ValueError/RuntimeError)
        raise CheckpointError(f"{where} cannot be parsed as a MindSpore checkpoint (truncated, "
                              f"corrupt or not a checkpoint): {str(exc).splitlines()[0]}") from None


def _bfloat16_as_float32(path: str, names: List[str]) -> Dict[str, "Widened"]:
    if not names:
        return {}
    with open(path, "rb") as f:
        header_len = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(header_len))
        out = {}
        for name in names:
            begin, end = header[name]["data_offsets"]
            f.seek(8 + header_len + begin)
            halves = np.frombuffer(f.read(end - begin), dtype="<u2")
            wide = (halves.astype("<u4") << 16).view("<f4")
            out[name] = Widened(wide.reshape(header[name]["shape"]),
                                "bfloat16 read as float32 (exact)")
    return out


@dataclass(frozen=True)
class Widened:
    """An array read in a wider dtype than the file's, and the note ``to_numpy`` reports."""

    array: np.ndarray
    note: str


def framework_of(obj: Any) -> str:
    """'torch' or 'mindspore' when a class ``obj`` is an instance of comes from that framework,
    else ''; no framework is imported to tell."""
    for cls in type(obj).__mro__:
        root = cls.__module__.split(".")[0]
        if root in ("torch", "mindspore"):
            return root
    return ""


def to_numpy(value: Any) -> Tuple[np.ndarray, str]:
    """(array, note) for a numpy array or a torch or MindSpore tensor; bfloat16 becomes float32
    (exactly). A framework is imported only for its own tensors."""
    if isinstance(value, Widened):
        return value.array, value.note
    if isinstance(value, np.ndarray):
        return value, ""
    framework = framework_of(value)
    if framework == "torch":
        import torch
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"a {type(value).__name__}, not a tensor")
        if value.layout != torch.strided or value.is_quantized:
            kind = "quantized" if value.is_quantized else str(value.layout)
            raise TypeError(f"a {kind} tensor")
        tensor = value.detach().cpu()
        if tensor.dtype == torch.bfloat16:
            return tensor.float().numpy(), "bfloat16 read as float32 (exact)"
        return tensor.contiguous().numpy(), ""
    if framework == "mindspore":
        import mindspore as ms
        if isinstance(value, ms.Tensor):
            if value.dtype == ms.bfloat16:
                return value.astype(ms.float32).asnumpy(), "bfloat16 read as float32 (exact)"
            return value.asnumpy(), ""
    raise TypeError(f"a {type(value).__name__}, not a tensor")


def write_file(arrays: Dict[str, np.ndarray], path: str, fmt: str, framework: str) -> None:
    """Write name -> array as ``fmt`` for ``framework`` ('mindspore' or 'torch')."""
    if framework == "mindspore":
        import mindspore as ms
        entries = [{"name": k, "data": ms.Tensor(np.ascontiguousarray(v))}
                   for k, v in arrays.items()]
        ms.save_checkpoint(entries, path, format="safetensors" if fmt == SAFETENSORS else "ckpt")
        return
    import torch
    tensors = {k: torch.from_numpy(np.array(v, copy=True)) for k, v in arrays.items()}
    if fmt == SAFETENSORS:
        from safetensors.torch import save_file
        save_file(tensors, path, metadata={"format": "pt"})
    else:
        torch.save(tensors, path)


def dst_format(direction: str, dst: str) -> str:
    """The format ``dst``'s extension names, for this direction."""
    for ext, fmt in DST_EXTENSIONS[direction].items():
        if dst.endswith(ext):
            return fmt
    raise CheckpointError(f"dst={dst!r} has an extension {direction} cannot write; use one of "
                          f"{', '.join(DST_EXTENSIONS[direction])}")


def check_dst(dst: str, src: str, force: bool) -> None:
    """Refuse an existing ``dst`` (unless ``force``), ``dst`` == ``src`` and a missing
    directory."""
    where = f"dst={dst!r}"
    parent = os.path.dirname(os.path.abspath(dst))
    if not os.path.isdir(parent):
        raise CheckpointError(f"{where}: directory {parent} does not exist")
    if os.path.isdir(dst):
        raise CheckpointError(f"{where} is a directory")
    if os.path.exists(dst):
        if os.path.exists(src) and os.path.samefile(src, dst):
            raise CheckpointError(f"{where} is the same file as src={src!r}; write elsewhere")
        if not force:
            raise CheckpointError(f"{where} exists; pass force=True to overwrite it")


def _extension(path: str) -> str:
    for ext in (*TORCH_EXTENSIONS, ".ckpt", ".safetensors"):
        if path.endswith(ext):
            return ext
    return os.path.splitext(path)[1]


@contextlib.contextmanager
def staged_file(dst: str) -> Iterator[str]:
    """Yield a temporary path beside ``dst``; on clean exit it is synced and renamed to ``dst``.

    On any exception (including KeyboardInterrupt) the temporary file is removed and ``dst`` is
    untouched. The temporary name ends with ``dst``'s extension (MindSpore appends one otherwise).
    """
    parent = os.path.dirname(os.path.abspath(dst))
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{os.path.basename(dst)}.",
                               suffix=f".partial{_extension(dst)}")
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # MindSpore leaves its files read-only (0o400)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
