"""RandomResizedCrop (timm's box draws, the recipe's PIL interpolation) + horizontal flip +
normalisation, the same generator on both sides: the same box, the same image."""
from hypothesis import given

from parity.budget import examples
from parity.preprocess_checks import check_resized_crop
from parity.strategies import crop_configs


@examples(12)
@given(crop_configs())
def test_resized_crop_and_flip(config):
    check_resized_crop(config)
