"""The toy family in PyTorch: a strided stem, one ACmix (or conv) mixer, a LayerNorm and a
classifier, built for one input resolution."""
import torch
from torch import nn

from acmix_common.checks import check_attn_impl, check_mixer, to_2tuple
from torch_ref.models import register_family
from torch_ref.models.acmix import ACmix


@register_family("toy")
class ToyNet(nn.Module):
    def __init__(self, width: int = 8, num_classes: int = 7, in_chans: int = 3, resolution=16,
                 attn_impl: str = "fast", mixer: str = "acmix"):
        super().__init__()
        check_attn_impl(attn_impl)
        self.resolution = to_2tuple(resolution)
        self.stem = nn.Conv2d(in_chans, width, 3, stride=2, padding=1, bias=True)
        self.bn = nn.BatchNorm2d(width, eps=1e-5, momentum=0.1)
        self.mix = (ACmix(width, width, k_att=3, head=2, k_conv=3, attn_impl=attn_impl)
                    if check_mixer(mixer, "toy") == "acmix"
                    else nn.Conv2d(width, width, 3, padding=1, bias=False))
        self.norm = nn.LayerNorm(width, eps=1e-5)
        self.classifier = nn.Linear(width, num_classes)
        self.feature_info = [dict(num_chs=width, reduction=2, module="mix")]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[2:]) != self.resolution:
            raise ValueError(f"input size {tuple(x.shape[2:])} is not resolution="
                             f"{self.resolution}")
        x = self.mix(torch.relu(self.bn(self.stem(x))))
        return self.classifier(self.norm(x.mean(dim=(2, 3))))
