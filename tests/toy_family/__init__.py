"""A toy model family, added the way docs/adding-a-model.md says: two model files (``toy_ms``,
``toy_torch``, each registering its class for the family with ``@register_family("toy")``) and
one table entry (``TOY_INFO``); tests/test_adding_a_family.py imports the files and registers the
entry.
"""
from acmix_common.variants import ModelInfo

TOY_INFO = ModelInfo(
    name="toy_acmix", family="toy",
    kwargs=dict(width=8),
    feature_rule=lambda kw: [dict(num_chs=kw["width"], reduction=2, module="mix")],
    # Names no other family uses, so a guess from another family's names would fail.
    classifier=("classifier",), first_conv="stem", mixers=("acmix", "conv"), acmix_module=True,
    input_size=(3, 16, 16), input_size_kwarg="resolution", num_classes=7,
    interpolation="bicubic", crop_pct=1.0,
    small_kwargs=dict(width=8, num_classes=4), small_input_size=(3, 16, 16))
