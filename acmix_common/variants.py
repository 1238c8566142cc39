"""Architecture of every registered variant, read by both frameworks' model files."""

RESNET_DEPTHS = {
    "acmix_resnet26": (1, 2, 4, 1),
    "acmix_resnet38": (2, 3, 5, 2),
    "acmix_resnet50": (3, 4, 6, 3),
}

SWIN_CONFIGS = {
    "acmix_swin_tiny": dict(embed_dim=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24),
                            window_size=7, drop_path_rate=0.2),
    "acmix_swin_small": dict(embed_dim=96, depths=(2, 2, 18, 2), num_heads=(3, 6, 12, 24),
                             window_size=7, drop_path_rate=0.3),
}

# The ACmix hyper-parameters of the official ResNet (kernel_att, head, kernel_conv).
RESNET_ACMIX = dict(k_att=7, head=4, k_conv=3)
