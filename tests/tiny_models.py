"""Small variants of every registered model, for tests that build both frameworks' twins.

The built-in models have hand-picked tiny configurations (odd and non-square inputs, fewer
stages); any other registered model gets its registry entry's narrow variant.
"""
from acmix_common.variants import list_models, model_info

CURATED = {
    "acmix_resnet26": (dict(base_planes=8, layers=(1, 1, 1, 1), num_classes=5, k_att=3, head=2),
                       (2, 3, 48, 40)),
    "acmix_resnet38": (dict(base_planes=8, layers=(1, 2, 1, 1), num_classes=5, k_att=3, head=2),
                       (2, 3, 48, 48)),
    "acmix_resnet50": (dict(base_planes=8, layers=(1, 1, 2, 1), num_classes=5, k_att=3, head=4),
                       (1, 3, 56, 56)),
    "acmix_swin_tiny": (dict(img_size=32, patch_size=2, embed_dim=16, depths=(2, 2),
                             num_heads=(2, 4), window_size=4, num_classes=5), (2, 3, 32, 32)),
    "acmix_swin_small": (dict(img_size=(32, 64), patch_size=4, embed_dim=12, depths=(2, 2, 2),
                              num_heads=(3, 3, 6), window_size=4, num_classes=5), (2, 3, 32, 64)),
}

TINY = {name: CURATED.get(name) or (dict(model_info(name).small_kwargs),
                                    (2, *model_info(name).small_input_size))
        for name in list_models()}
