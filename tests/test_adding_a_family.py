"""docs/adding-a-model.md, proven: a new family (tests/toy_family: its two model files, which
register their classes with ``@register_family``, one table entry and one parity strategy, all
brought in here at test time) goes through both factories, the converter (both directions,
--verify), ONNX export from MindSpore, the smoke command and the parity harness, none of which is
edited for it."""
import os

import numpy as np
import onnx
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from acmix_common.variants import register_model, unregister_model
from ms_acmix.cli.convert import main as convert_main
from ms_acmix.cli.export import main as export_main
from parity.budget import examples
from parity.checks import check_forward
from parity.strategies import (FAMILY_STRATEGIES, ModelConfig, attn_impls, family_strategy,
                               input_scales, model_configs, seeds)
from tests.toy_family import TOY_INFO

NAME = TOY_INFO.name
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _toy_strategy(draw, name: str) -> ModelConfig:
    resolution = draw(st.sampled_from([8, 12, 16]))
    kwargs = dict(width=draw(st.sampled_from([4, 8])), resolution=resolution,
                  num_classes=draw(st.integers(2, 5)))
    return ModelConfig(name, kwargs, (draw(st.integers(1, 2)), 3, resolution, resolution),
                       draw(seeds), draw(input_scales), draw(attn_impls), draw(attn_impls))


@pytest.fixture(scope="module", autouse=True)
def toy_family():
    from tests.toy_family import toy_ms, toy_torch  # noqa: F401  (@register_family runs)
    register_model(TOY_INFO)
    family_strategy(TOY_INFO.family)(_toy_strategy)
    yield
    FAMILY_STRATEGIES.pop(TOY_INFO.family)
    unregister_model(NAME)


def test_both_factories_build_it_from_the_table_and_load_weights(tmp_path):
    import ms_acmix
    import torch_ref
    torch.manual_seed(0)
    ref = torch_ref.create_model(NAME)
    assert type(ref).__module__ == "tests.toy_family.toy_torch"
    assert ref.classifier.out_features == TOY_INFO.num_classes and ref.resolution == (16, 16)
    torch.save(ref.state_dict(), tmp_path / "toy.pth")
    net = ms_acmix.create_model(NAME, checkpoint_path=str(tmp_path / "toy.pth"))
    assert type(net).__module__ == "tests.toy_family.toy_ms"
    assert np.array_equal(net.classifier.weight.asnumpy(), ref.classifier.weight.detach().numpy())


def test_converter_takes_it_both_ways_bit_exact(tmp_path, capsys):
    import torch_ref
    torch.manual_seed(0)
    state = torch_ref.create_model(NAME).state_dict()
    torch.save({"model": state, "epoch": 1}, tmp_path / "toy.pth")
    assert convert_main(["torch2ms", str(tmp_path / "toy.pth"), str(tmp_path / "toy.ckpt"),
                         "--model", NAME, "--verify", "-q"]) == 0
    assert "passed" in capsys.readouterr().out
    assert convert_main(["ms2torch", str(tmp_path / "toy.ckpt"), str(tmp_path / "back.pth"),
                         "--model", NAME, "-q"]) == 0
    back = torch.load(tmp_path / "back.pth", weights_only=True)
    assert list(back) == list(state)
    assert all(torch.equal(back[k], v) for k, v in state.items())


def test_mindspore_onnx_export_takes_its_size_from_the_table(tmp_path, capsys):
    out = tmp_path / "toy.onnx"
    assert export_main(["--model", NAME, "--framework", "ms", "--format", "onnx",
                        "--img-size", "12", "--output", str(out)]) == 0, capsys.readouterr().err
    dims = onnx.load(str(out)).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims][1:] == [3, 12, 12]  # resolution=12


def test_smoke_command_runs_it(capsys):
    from ms_acmix.cli import smoke
    assert smoke.main(["--model", NAME]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith(NAME))
    assert " ok " in row and "(2, 4)" in row  # the entry's small variant: 4 classes, batch 2


@settings(examples(3), deadline=None)  # parity/conftest.py's deadline holds in parity/ only
@given(model_configs(names=[NAME]))
def test_parity_harness_draws_and_checks_it(config):
    assert config.name == NAME
    result = check_forward(config)
    assert result.ok and np.isfinite(result.max_abs)
