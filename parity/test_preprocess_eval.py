"""Evaluation preprocessing: every drawn re-encoding of a real photo, through ms_acmix's
MindSpore pipeline, is within one gray level of the official pipeline (Swin: Resize(int(256/224 *
img_size)) bicubic + CenterCrop; ResNet: Resize(256) bilinear + CenterCrop(224); timm: any
crop_pct), at every pixel."""
import tempfile

from hypothesis import given

from parity.budget import examples
from parity.preprocess_checks import check_eval_preprocess
from parity.strategies import eval_recipe_configs


@examples(12)
@given(eval_recipe_configs())
def test_eval_preprocessing(config):
    with tempfile.TemporaryDirectory() as workdir:
        check_eval_preprocess(config, workdir)
