"""ACmix-ResNet-26/38/50 in PyTorch: torchvision's ResNet v1.5 with ACmix as the 3x3 conv.

State-dict names are torchvision's (``conv1, bn1, layer1.0.conv2.rate1, ..., fc``), so official
checkpoints load strictly.
"""
from typing import Sequence

import numpy as np
import torch
from torch import nn

from acmix_common.variants import RESNET_ACMIX, RESNET_DEPTHS

from acmix_common.checks import check_attn_impl, check_mixer, shift_kernels

from .acmix import ACmix
from .layers import DropPath
from .registry import registry


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, k_att: int, head: int, k_conv: int,
                 stride: int = 1, downsample: nn.Module = None, drop_path: float = 0.0,
                 attn_impl: str = "fast", mixer: str = "acmix"):
        super().__init__()
        self.conv1 = conv1x1(inplanes, planes)
        self.bn1 = nn.BatchNorm2d(planes, eps=1e-5, momentum=0.1)
        if mixer == "conv":  # torchvision's ResNet-50 3x3 conv
            self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1,
                                   bias=False)
        else:
            self.conv2 = ACmix(planes, planes, k_att, head, k_conv, stride=stride,
                               attn_impl=attn_impl)
        self.bn2 = nn.BatchNorm2d(planes, eps=1e-5, momentum=0.1)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion, eps=1e-5, momentum=0.1)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.drop_path(self.bn3(self.conv3(out)))
        return self.relu(out + identity)


class ACmixResNet(nn.Module):
    """ResNet v1.5 with ACmix bottlenecks.

    Args:
        layers: blocks per stage.
        num_classes: classifier outputs (0 for no head).
        k_att, head, k_conv: ACmix hyper-parameters of every block.
        base_planes: planes of the first stage (64 officially); stages use 1x, 2x, 4x, 8x.
        in_chans: input image channels.
        keep_shift_init: keep ACmix's shift-kernel init of dep_conv instead of letting the
            official kaiming loop overwrite it.
        drop_path_rate: stochastic depth on the residual branches, rising linearly over the
            blocks to this value (0, the official setting, adds nothing).
        attn_impl: ACmix's attention formulation, "fast" or "unfold" (official).
        mixer: "acmix", or "conv" for the plain ResNet (a 3x3 conv in each bottleneck).
    """

    def __init__(self, layers: Sequence[int], num_classes: int = 1000, k_att: int = 7,
                 head: int = 4, k_conv: int = 3, base_planes: int = 64, in_chans: int = 3,
                 keep_shift_init: bool = False, drop_path_rate: float = 0.0,
                 attn_impl: str = "fast", mixer: str = "acmix"):
        super().__init__()
        self.block_options = {"attn_impl": check_attn_impl(attn_impl),
                              "mixer": check_mixer(mixer, "resnet")}
        self.num_classes = num_classes
        self.inplanes = base_planes
        self.conv1 = nn.Conv2d(in_chans, base_planes, kernel_size=7, stride=2, padding=3,
                               bias=False)
        self.bn1 = nn.BatchNorm2d(base_planes, eps=1e-5, momentum=0.1)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        acmix = (k_att, head, k_conv)
        dpr = np.linspace(0.0, drop_path_rate, sum(layers), dtype=np.float32).tolist()
        starts = np.cumsum([0] + list(layers)).tolist()
        stages = [self._make_layer(base_planes * 2 ** i, layers[i], acmix, 1 if i == 0 else 2,
                                   dpr[starts[i]:starts[i + 1]]) for i in range(4)]
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.num_features = base_planes * 8 * Bottleneck.expansion
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if keep_shift_init:
            with torch.no_grad():
                for m in self.modules():
                    if isinstance(m, ACmix):
                        shift = shift_kernels(m.k_conv, m.out_planes)
                        m.dep_conv.weight.copy_(torch.from_numpy(shift))

    def _make_layer(self, planes: int, blocks: int, acmix, stride: int,
                    dpr: Sequence[float]) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * Bottleneck.expansion:
            downsample = nn.Sequential(
                conv1x1(self.inplanes, planes * Bottleneck.expansion, stride),
                nn.BatchNorm2d(planes * Bottleneck.expansion, eps=1e-5, momentum=0.1),
            )
        layers = [Bottleneck(self.inplanes, planes, *acmix, stride, downsample, dpr[0],
                             **self.block_options)]
        self.inplanes = planes * Bottleneck.expansion
        layers += [Bottleneck(self.inplanes, planes, *acmix, drop_path=dpr[i],
                              **self.block_options) for i in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return x

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.avgpool(x), 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def _create(name: str, **kwargs) -> ACmixResNet:
    return ACmixResNet(kwargs.pop("layers", RESNET_DEPTHS[name]), **{**RESNET_ACMIX, **kwargs})


@registry.register
def acmix_resnet26(**kwargs) -> ACmixResNet:
    return _create("acmix_resnet26", **kwargs)


@registry.register
def acmix_resnet38(**kwargs) -> ACmixResNet:
    return _create("acmix_resnet38", **kwargs)


@registry.register
def acmix_resnet50(**kwargs) -> ACmixResNet:
    return _create("acmix_resnet50", **kwargs)
