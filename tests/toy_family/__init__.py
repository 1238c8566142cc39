"""A toy model family, added the way docs/adding-a-model.md says: two model files (``toy_ms``,
``toy_torch``) and one table entry (``TOY_INFO``), registered only by tests/test_adding_a_family.py.
"""
from acmix_common.variants import ModelInfo

TOY_INFO = ModelInfo(
    name="toy_acmix", family="toy",
    constructors={"mindspore": "tests.toy_family.toy_ms:ToyNet",
                  "torch": "tests.toy_family.toy_torch:ToyNet"},
    kwargs=dict(width=8),
    feature_rule=lambda kw: [dict(num_chs=kw["width"], reduction=2, module="mix")],
    # Names no other family uses, so a guess from another family's names would fail.
    classifier=("classifier",), first_conv="stem", mixers=("acmix", "conv"),
    input_size=(3, 16, 16), input_size_kwarg="resolution", num_classes=7,
    interpolation="bicubic", crop_pct=1.0,
    small_kwargs=dict(width=8, num_classes=4), small_input_size=(3, 16, 16))
