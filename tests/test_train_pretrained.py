"""Fine-tuning from a weights file (ms_acmix.train.pretrained): strict except the classifier,
Swin bias tables of another window interpolated as timm does, every other mismatch refused."""
import numpy as np
import pytest
import torch

import ms_acmix
import torch_ref
from acmix_common.tolerance import assert_close
from acmix_common.name_map import ms_to_torch
from ms_acmix.train.pretrained import PretrainedError, load_pretrained, resize_bias_table

SWIN = dict(img_size=32, patch_size=2, embed_dim=8, depths=(2, 2), num_heads=(2, 4),
            window_size=4, drop_path_rate=0.0)
RESNET = dict(base_planes=4, layers=(1, 1, 1, 1), k_att=3, head=2)


def saved(tmp_path, name, kwargs, fmt="pth"):
    torch.manual_seed(0)
    model = torch_ref.create_model(name, **kwargs)
    path = tmp_path / f"weights.{fmt}"
    if fmt == "pth":  # the official Swin wrapping
        torch.save({"model": model.state_dict(), "epoch": 3, "max_accuracy": 1.0,
                    "optimizer": {}, "lr_scheduler": {}, "config": {}}, path)
    else:
        from safetensors.torch import save_file
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return model, str(path)


def ms_state(model):
    return {ms_to_torch(p.name): p.asnumpy() for p in model.get_parameters()}


@pytest.mark.parametrize("size", [(7, 13), (13, 7), (13, 23), (7, 7), (3, 5)])
def test_bias_table_resize_is_torch_bicubic(size):
    side_in, side_out = size
    table = np.random.default_rng(side_in).standard_normal((side_in ** 2, 3)).astype(np.float32)
    want = torch.nn.functional.interpolate(
        torch.from_numpy(table).permute(1, 0).reshape(1, 3, side_in, side_in),
        size=(side_out, side_out), mode="bicubic", align_corners=False)
    want = want.reshape(3, side_out ** 2).permute(1, 0).numpy()
    assert_close(resize_bias_table(table, side_out ** 2), want, "float32", "forward")


def test_same_classes_loads_everything(tmp_path):
    ref, path = saved(tmp_path, "acmix_resnet26", {**RESNET, "num_classes": 5})
    model = ms_acmix.create_model("acmix_resnet26", **RESNET, num_classes=5)
    lines = []
    done = load_pretrained(model, path, "acmix_resnet26", lines.append)
    assert done["reinitialised"] == [] and "classifier loaded" in lines[0]
    got, want = ms_state(model), ref.state_dict()
    for name, value in got.items():
        np.testing.assert_array_equal(value, want[name].numpy(), err_msg=name)


def test_other_class_count_reinitialises_the_classifier_only(tmp_path):
    ref, path = saved(tmp_path, "acmix_swin_tiny", {**SWIN, "num_classes": 7}, "safetensors")
    model = ms_acmix.create_model("acmix_swin_tiny", **SWIN, num_classes=3)
    fresh = ms_state(model)
    lines = []
    done = load_pretrained(model, path, "acmix_swin_tiny", lines.append)
    assert sorted(done["reinitialised"]) == ["head.bias", "head.weight"]
    assert "re-initialised: the file has 7 classes, the model 3" in lines[0]
    got, want = ms_state(model), ref.state_dict()
    for name, value in got.items():
        if name.startswith("head."):
            np.testing.assert_array_equal(value, fresh[name])
        else:
            np.testing.assert_array_equal(value, want[name].numpy(), err_msg=name)


def test_swin_window_change_interpolates_the_tables(tmp_path):
    ref, path = saved(tmp_path, "acmix_swin_tiny", {**SWIN, "num_classes": 3})
    model = ms_acmix.create_model("acmix_swin_tiny", **{**SWIN, "window_size": 8},
                                  num_classes=3)
    lines = []
    done = load_pretrained(model, path, "acmix_swin_tiny", lines.append)
    assert done["interpolated"] and "window 4 -> 8" in lines[0]
    name = "layers.0.blocks.0.attn.relative_position_bias_table"
    np.testing.assert_array_equal(ms_state(model)[name],
                                  resize_bias_table(ref.state_dict()[name].numpy(), 15 ** 2))


@pytest.mark.parametrize("change,pattern", [
    (dict(embed_dim=16), r"does not fit acmix_swin_tiny: .*shape"),
    (dict(depths=(2, 1)), r"does not fit acmix_swin_tiny"),
    (dict(in_chans=1), r"patch_embed"),
    (dict(num_heads=(1, 4)), r"relative_position_bias_table: 2 heads in the file, the model "
                             r"has 1"),
])
def test_other_mismatches_are_refused(tmp_path, change, pattern):
    _, path = saved(tmp_path, "acmix_swin_tiny", {**SWIN, "num_classes": 3})
    model = ms_acmix.create_model("acmix_swin_tiny", **{**SWIN, **change}, num_classes=3)
    with pytest.raises(PretrainedError, match=pattern) as err:
        load_pretrained(model, path, "acmix_swin_tiny")
    assert "\n" not in str(err.value)


def test_a_table_that_is_not_a_square_grid_is_refused():
    with pytest.raises(PretrainedError, match="10 rows .* is not a square window grid"):
        resize_bias_table(np.zeros((10, 2), np.float32), 9)


def test_unreadable_file_is_refused(tmp_path):
    bad = tmp_path / "x.pth"
    bad.write_bytes(b"not a checkpoint")
    model = ms_acmix.create_model("acmix_resnet26", **RESNET, num_classes=3)
    with pytest.raises(PretrainedError, match=r"pretrained='.*x\.pth'"):
        load_pretrained(model, str(bad), "acmix_resnet26")


def test_swin_img_size_change_rebuilds_masks(tmp_path):
    ref, path = saved(tmp_path, "acmix_swin_tiny", {**SWIN, "num_classes": 3})
    model = ms_acmix.create_model("acmix_swin_tiny", **{**SWIN, "img_size": 64}, num_classes=3)
    done = load_pretrained(model, path, "acmix_swin_tiny")
    assert not done["interpolated"] and not done["reinitialised"]
    name = "layers.1.blocks.1.attn.relative_position_bias_table"
    np.testing.assert_array_equal(ms_state(model)[name], ref.state_dict()[name].numpy())
