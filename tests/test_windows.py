"""Swin's window constants (acmix_common.windows) against a naive recomputation, and the
buffers both frameworks hold: bit for bit, int64 index and float32 mask."""
import numpy as np
import pytest
import torch

import ms_acmix
import torch_ref
from acmix_common.windows import relative_position_index, shifted_window_mask


def naive_index(ws):
    """Pair (i, j) of row-major window positions -> row of the (2ws-1)^2 offset table."""
    out = np.empty((ws * ws, ws * ws), np.int64)
    for i in range(ws * ws):
        for j in range(ws * ws):
            (yi, xi), (yj, xj) = divmod(i, ws), divmod(j, ws)
            out[i, j] = (yi - yj + ws - 1) * (2 * ws - 1) + (xi - xj + ws - 1)
    return out


def naive_mask(h, w, ws, shift):
    """Tokens of the rolled map are in the same region iff both axes fall in the same band."""
    def band(pos, size):
        return 0 if pos < size - ws else (1 if pos < size - shift else 2)

    windows = [(wy, wx) for wy in range(h // ws) for wx in range(w // ws)]
    out = np.empty((len(windows), ws * ws, ws * ws), np.float32)
    for n, (wy, wx) in enumerate(windows):
        coords = [(wy * ws + t // ws, wx * ws + t % ws) for t in range(ws * ws)]
        region = [(band(y, h), band(x, w)) for y, x in coords]
        for i in range(ws * ws):
            for j in range(ws * ws):
                out[n, i, j] = 0.0 if region[i] == region[j] else -100.0
    return out


@pytest.mark.parametrize("ws", [1, 2, 3, 7])
def test_relative_position_index(ws):
    index = relative_position_index(ws)
    assert index.dtype == np.int64 and index.flags.c_contiguous
    np.testing.assert_array_equal(index, naive_index(ws))


# (3, 9, 3, 1) and (12, 3, 3, 1): one window on one axis, three or more on the other, where the
# bands [0, -ws) and [-ws, -shift) of both axes are each told apart from a wrong start
@pytest.mark.parametrize("h, w, ws, shift", [(8, 8, 4, 2), (14, 21, 7, 3), (6, 12, 3, 1),
                                             (4, 4, 2, 1), (3, 9, 3, 1), (12, 3, 3, 1)])
def test_shifted_window_mask(h, w, ws, shift):
    mask = shifted_window_mask(h, w, ws, shift)
    assert mask.dtype == np.float32 and mask.flags.c_contiguous
    assert mask.tobytes() == naive_mask(h, w, ws, shift).tobytes()  # +0.0, never -0.0


def test_both_frameworks_hold_them():
    kwargs = dict(img_size=16, patch_size=2, embed_dim=8, depths=(2,), num_heads=(2,),
                  window_size=4, num_classes=0)
    t_model = torch_ref.create_model("acmix_swin_tiny", **kwargs)
    m_model = ms_acmix.create_model("acmix_swin_tiny", **kwargs)
    state = t_model.state_dict()  # persistent buffers: the official checkpoint entries
    for blk in range(2):
        index = state[f"layers.0.blocks.{blk}.attn.relative_position_index"]
        assert index.dtype == torch.int64
        np.testing.assert_array_equal(index.numpy(), naive_index(4))
        m_index = m_model.layers[0].blocks[blk].attn.relative_position_index.asnumpy()
        assert m_index.dtype == np.int64
        np.testing.assert_array_equal(m_index, naive_index(4))
    # the unshifted block has no mask (the official None buffer, not in the state dict)
    assert "layers.0.blocks.0.attn_mask" not in state
    assert m_model.layers[0].blocks[0].attn_mask is None
    mask = state["layers.0.blocks.1.attn_mask"]
    assert mask.dtype == torch.float32
    assert mask.numpy().tobytes() == naive_mask(8, 8, 4, 2).tobytes()
    assert m_model.layers[0].blocks[1].attn_mask.asnumpy().tobytes() == mask.numpy().tobytes()
