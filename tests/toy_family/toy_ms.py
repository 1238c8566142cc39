"""The toy family in MindSpore, the twin of ``toy_torch`` (same parameter paths)."""
from mindspore import Tensor, nn, ops

from acmix_common.checks import check_attn_impl, check_mixer, to_2tuple
from ms_acmix.models import register_family
from ms_acmix.models.acmix import ACmix
from ms_acmix.models.layers import batch_norm2d, conv2d, dense, layer_norm


@register_family("toy")
class ToyNet(nn.Cell):
    def __init__(self, width: int = 8, num_classes: int = 7, in_chans: int = 3, resolution=16,
                 attn_impl: str = "fast", mixer: str = "acmix"):
        super().__init__()
        check_attn_impl(attn_impl)
        self.resolution = to_2tuple(resolution)
        self.stem = conv2d(in_chans, width, 3, stride=2, padding=1, has_bias=True)
        self.bn = batch_norm2d(width)
        self.mix = (ACmix(width, width, k_att=3, head=2, k_conv=3, attn_impl=attn_impl)
                    if check_mixer(mixer, "toy") == "acmix"
                    else conv2d(width, width, 3, padding=1, has_bias=False))
        self.norm = layer_norm(width)
        self.classifier = dense(width, num_classes, has_bias=True)
        self.relu = nn.ReLU()
        self.feature_info = [dict(num_chs=width, reduction=2, module="mix")]

    def construct(self, x: Tensor) -> Tensor:
        if x.shape[2] != self.resolution[0] or x.shape[3] != self.resolution[1]:
            raise ValueError(f"input size {x.shape[2:]} is not resolution={self.resolution}")
        x = self.mix(self.relu(self.bn(self.stem(x))))
        return self.classifier(self.norm(ops.mean(x, axis=(2, 3))))
