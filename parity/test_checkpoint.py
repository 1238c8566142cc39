"""Converted checkpoints: torch2ms gives the same outputs in MindSpore, ms2torch is bit-exact."""
import tempfile

from hypothesis import given

from parity.budget import examples
from parity.checks import check_checkpoint_roundtrip
from parity.strategies import model_configs


@examples(5)
@given(model_configs())
def test_torch2ms_outputs_and_ms2torch_roundtrip(config):
    with tempfile.TemporaryDirectory() as workdir:
        check_checkpoint_roundtrip(config, workdir)
