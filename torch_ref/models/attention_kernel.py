"""The compiled CPU kernel of the local attention (``_csrc/local_attention.c``), through ctypes.

Set-up builds it as the optional extension ``torch_ref.models._local_attention_cpu`` (setup.py);
it is plain C on raw pointers with its own threads, so it runs under any torch version and needs
no compiler at run time. When it was not built, cannot be loaded, or ``ACMIX_ATTN_KERNEL=0`` is
set, ``local_attention`` takes its pure-PyTorch path. The kernel handles float32 and float64 CPU
tensors; ``supports`` says whether a call can use it.
"""
import ctypes
import importlib.machinery
import os
from pathlib import Path
from typing import Optional, Tuple

import torch

from acmix_common.checks import attention_pad, out_size

MODULE = "_local_attention_cpu"
ENV = "ACMIX_ATTN_KERNEL"
DTYPES = {torch.float32: "f32", torch.float64: "f64"}
_P = ctypes.c_void_p
_SIGNATURES = {"forward": [_P] * 6, "backward": [_P] * 12}

_loaded: Optional[Tuple[Optional[ctypes.CDLL], str]] = None


def library_file(directory: Optional[Path] = None) -> Optional[Path]:
    """The built library in ``directory`` (default: this package), or None."""
    directory = Path(__file__).parent if directory is None else Path(directory)
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = directory / (MODULE + suffix)
        if path.is_file():
            return path
    return None


def load(directory: Optional[Path] = None) -> Tuple[Optional[ctypes.CDLL], str]:
    """(library, "") or (None, why not) for the library in ``directory``."""
    path = library_file(directory)
    if path is None:
        return None, f"no {MODULE} library was built in {directory or Path(__file__).parent}"
    try:
        lib = ctypes.CDLL(str(path))
        for sfx in DTYPES.values():
            for kind, args in _SIGNATURES.items():
                fn = getattr(lib, f"acmix_attention_{kind}_{sfx}")
                fn.argtypes = args + [ctypes.POINTER(ctypes.c_int64), ctypes.c_int]
                fn.restype = ctypes.c_int
            fn = getattr(lib, f"acmix_attention_layout_{sfx}")
            fn.argtypes, fn.restype = [ctypes.POINTER(ctypes.c_int64)] * 2, None
        lib.acmix_attention_max_k.argtypes, lib.acmix_attention_max_k.restype = [], ctypes.c_int
    except (OSError, AttributeError) as e:
        return None, f"{path} cannot be loaded: {e}"
    return lib, ""


def library() -> Optional[ctypes.CDLL]:
    """The package's library, loaded once; None when absent or unloadable (``why_not``)."""
    global _loaded
    if _loaded is None:
        _loaded = load()
    return _loaded[0]


def why_not() -> str:
    """Why the kernel is not used ("" when it is)."""
    if os.environ.get(ENV, "1").strip().lower() in ("0", "false", "off", "no"):
        return f"{ENV}={os.environ[ENV]} forces the PyTorch path"
    library()
    return _loaded[1]


def available() -> bool:
    return not why_not()


def supports(k_att: int, *tensors: torch.Tensor) -> bool:
    """Whether the kernel can take this window and these tensors: plain CPU tensors of one
    float32/float64 dtype, outside tracing and compilation."""
    dtype = tensors[0].dtype
    return (dtype in DTYPES and available() and k_att <= library().acmix_attention_max_k()
            and not torch.compiler.is_compiling() and not torch.compiler.is_exporting()
            and all(type(t) is torch.Tensor and t.device.type == "cpu" and t.dtype == dtype
                    and not torch._C._functorch.is_functorch_wrapped_tensor(t)
                    for t in tensors))


def _shape(q, k, k_att: int, dilation: int, stride: int):
    n, c, h_out, w_out = q.shape
    h, w = k.shape[2:]
    pad = attention_pad(k_att, dilation)
    if k.shape[:2] != (n, c) or (h_out, w_out) != (out_size(h, stride), out_size(w, stride)) \
            or pad >= min(h, w):
        raise ValueError(f"maps {tuple(k.shape)} and queries {tuple(q.shape)} do not fit "
                         f"k_att={k_att}, dilation={dilation}, stride={stride} (reflection pad "
                         f"{pad})")
    return (ctypes.c_int64 * 10)(n, c, h_out, w_out, h, w, k_att, dilation, stride, pad)


def _call(kind: str, dtype: torch.dtype, tensors, shape) -> None:
    fn = getattr(library(), f"acmix_attention_{kind}_{DTYPES[dtype]}")
    ptrs = [None if t is None else t.data_ptr() for t in tensors]
    if fn(*ptrs, shape, torch.get_num_threads()):
        raise MemoryError("the local attention kernel could not allocate its scratch memory")


def _layout(dtype: torch.dtype, shape) -> Tuple[int, int]:
    """(rw, margin): the kernel keeps the weights as (n, h_out, k_att^2, rw), each row's w_out
    values at [margin, margin + w_out) and zeros around them."""
    out = (ctypes.c_int64 * 2)()
    getattr(library(), f"acmix_attention_layout_{DTYPES[dtype]}")(shape, out)
    return out[0], out[1]


def weights(att: torch.Tensor, q, k, k_att: int, dilation: int, stride: int) -> torch.Tensor:
    """(n, k_att^2, h_out, w_out): the attention weights of ``forward``'s kernel layout."""
    _, margin = _layout(att.dtype, _shape(q, k, k_att, dilation, stride))
    return att[..., margin:margin + q.shape[3]].permute(0, 2, 1, 3)


def forward(q, k, v, centre, k_att: int, dilation: int, stride: int,
            keep_weights: bool) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    """(output, attention weights in the kernel's layout, or None). Arguments as
    ``local_attention``'s."""
    q, k, v, centre = (t.contiguous() for t in (q, k, v, centre))
    shape = _shape(q, k, k_att, dilation, stride)
    n, _, ho, _ = q.shape
    out = torch.empty_like(q)
    att = None
    if keep_weights:
        att = q.new_empty((n, ho, k_att * k_att, _layout(q.dtype, shape)[0]))
    _call("forward", q.dtype, (q, k, v, centre, att, out), shape)
    return out, att


def backward(q, k, v, att, grad_out, k_att: int, dilation: int, stride: int):
    """(grad_q, grad_k, grad_v, grad_centre) from the forward's inputs and weights."""
    q, k, v, grad_out = (t.contiguous() for t in (q, k, v, grad_out))
    shape = _shape(q, k, k_att, dilation, stride)
    n, c, ho, wo = q.shape
    # Three workspaces rather than one: each stays under glibc's largest mmap threshold (32 MiB)
    # longer, so that repeated calls reuse heap memory instead of faulting in fresh pages.
    rw = att.shape[-1]
    workspace = (q.new_empty((n, ho, c, rw)), q.new_empty((n, ho, c, rw)), torch.empty_like(att))
    grads = (torch.empty_like(q), q.new_empty((n, 1, ho, wo)), torch.empty_like(k),
             torch.empty_like(v))
    _call("backward", q.dtype, (q, k, v, att, grad_out) + workspace + grads, shape)
    return grads[0], grads[2], grads[3], grads[1]
