"""A sample through a recipe's whole training pipeline (ms_acmix/configs/acmix_swin_tiny.yaml:
timm's create_transform; ms_acmix/configs/acmix_resnet50.yaml: torchvision's) on
mindspore.dataset, against the official composition seeded from the same key."""
import tempfile

from hypothesis import given

from parity.budget import examples
from parity.preprocess_checks import check_train_pipeline
from parity.strategies import train_pipeline_configs


@examples(6)
@given(train_pipeline_configs())
def test_train_pipeline(config):
    with tempfile.TemporaryDirectory() as workdir:
        check_train_pipeline(config, workdir)
