"""The constant arrays of Swin's window attention, computed once for both frameworks.

torch holds them as persistent buffers (the official state-dict entries), MindSpore as plain
Tensors at the same paths; both build them from these numpy arrays, bit for bit the same.
"""
import numpy as np


def relative_position_index(window_size: int) -> np.ndarray:
    """(ws^2, ws^2) int64: the bias-table row of each (query, key) pair of a ws x ws window.

    Row-major positions; the pair's offset (dy, dx), each in [-(ws-1), ws-1], is the row
    (dy + ws - 1) * (2 ws - 1) + (dx + ws - 1).
    """
    ws = window_size
    coords = np.stack(np.meshgrid(np.arange(ws), np.arange(ws), indexing="ij")).reshape(2, -1)
    rel = (coords[:, :, None] - coords[:, None, :]).transpose(1, 2, 0) + (ws - 1)
    return np.ascontiguousarray(rel[:, :, 0] * (2 * ws - 1) + rel[:, :, 1], dtype=np.int64)


def shifted_window_mask(height: int, width: int, window_size: int, shift: int) -> np.ndarray:
    """(nW, ws^2, ws^2) float32 attention mask of the map rolled by -shift: 0 between tokens of
    the same region, -100 across regions (the official constant).

    The rolled map has three bands per axis: [0, -ws), [-ws, -shift), [-shift, end); a region is
    one band pair. Windows are in row-major window order, tokens row-major in their window.
    """
    ws = window_size
    img_mask = np.zeros((height, width), np.float32)
    cnt = 0
    for rows in (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)):
        for cols in (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)):
            img_mask[rows, cols] = cnt
            cnt += 1
    windows = img_mask.reshape(height // ws, ws, width // ws, ws).transpose(0, 2, 1, 3)
    windows = windows.reshape(-1, ws * ws)
    diff = windows[:, None, :] - windows[:, :, None]
    return np.ascontiguousarray(np.where(diff != 0, np.float32(-100.0), np.float32(0.0)))
