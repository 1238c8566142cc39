"""ACmix-ResNet-26/38/50 in PyTorch: torchvision's ResNet v1.5 with ACmix as the 3x3 conv.

State-dict names are torchvision's (``conv1, bn1, layer1.0.conv2.rate1, ..., fc``), so official
checkpoints load strictly.
"""
from typing import Sequence, Tuple

import numpy as np
import torch
from torch import nn

from acmix_common.checks import check_attn_impl, check_mixer, shift_kernels
from acmix_common.features import (FeatureInfo, check_num_classes, features_only_stages,
                                   intermediates_plan, pruned_prefixes)
from acmix_common.variants import resnet_feature_info

from ._registry import register_family
from .acmix import ACmix
from .layers import DropPath


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


@register_family("resnet")
class ACmixResNet(nn.Module):
    """ResNet v1.5 with ACmix bottlenecks: the reference twin of
    ``ms_acmix.models.resnet.ACmixResNet``.

    The same arguments (documented there), torchvision's state-dict names and the official
    initialisation (kaiming_normal_, fan_out, over every conv; BatchNorm weight 1, bias 0).
    """

    def __init__(self, layers: Sequence[int], num_classes: int = 1000, k_att: int = 7,
                 head: int = 4, k_conv: int = 3, base_planes: int = 64, in_chans: int = 3,
                 keep_shift_init: bool = False, drop_path_rate: float = 0.0,
                 attn_impl: str = "fast", mixer: str = "acmix", features_only: bool = False,
                 out_indices=None):
        super().__init__()
        self.block_options = {"attn_impl": check_attn_impl(attn_impl),
                              "mixer": check_mixer(mixer, "resnet")}
        returned = features_only_stages(features_only, out_indices, 4)
        self.features_only = features_only
        self.built_stages = 4 if returned is None else returned[-1] + 1
        self.num_classes = 0 if features_only else check_num_classes(num_classes)
        self.inplanes = base_planes
        self.conv1 = nn.Conv2d(in_chans, base_planes, kernel_size=7, stride=2, padding=3,
                               bias=False)
        self.bn1 = nn.BatchNorm2d(base_planes, eps=1e-5, momentum=0.1)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        acmix = (k_att, head, k_conv)
        dpr = np.linspace(0.0, drop_path_rate, sum(layers), dtype=np.float32).tolist()
        starts = np.cumsum([0] + list(layers)).tolist()
        strides = (1, 2, 2, 2)
        stages = [self._make_layer(base_planes * 2 ** i, layers[i], acmix, strides[i],
                                   dpr[starts[i]:starts[i + 1]])
                  if i < self.built_stages else nn.Identity() for i in range(4)]
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.num_features = base_planes * 8 * Bottleneck.expansion
        self.feature_info = FeatureInfo(resnet_feature_info(base_planes, Bottleneck.expansion),
                                        returned or range(4))
        self.out_indices = self.feature_info.out_indices
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = self._classifier(self.num_classes)

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

    def _classifier(self, num_classes: int) -> nn.Module:
        return nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()

    @property
    def pruned_prefixes(self) -> Tuple[str, ...]:
        """State-dict prefixes (torch names) of the full model that this one does not build."""
        return pruned_prefixes([f"layer{i + 1}" for i in range(4)], self.built_stages, "fc",
                               self.num_classes)

    def get_classifier(self) -> nn.Module:
        return self.fc

    def reset_classifier(self, num_classes: int) -> None:
        """timm's; as ``ms_acmix.models.resnet.ACmixResNet.reset_classifier``."""
        if self.features_only:
            raise ValueError("reset_classifier: a features_only model has no classifier")
        self.num_classes = check_num_classes(num_classes)
        self.fc = self._classifier(num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return x

    def forward_intermediates(self, x: torch.Tensor, indices=None, norm: bool = False,
                              stop_early: bool = False, output_fmt: str = "NCHW",
                              intermediates_only: bool = False):
        """timm's; as ``ms_acmix.models.resnet.ACmixResNet.forward_intermediates``."""
        take, last = intermediates_plan(indices, 4, self.built_stages, norm, False, stop_early,
                                        intermediates_only, output_fmt)
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        intermediates = []
        for i, stage in enumerate((self.layer1, self.layer2, self.layer3, self.layer4)[:last + 1]):
            x = stage(x)
            if i in take:
                intermediates.append(x)
        if intermediates_only:
            return intermediates
        return x, intermediates

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.avgpool(x), 1))

    def forward(self, x: torch.Tensor):
        if self.features_only:
            return self.forward_intermediates(x, self.out_indices, stop_early=True,
                                              intermediates_only=True)
        return self.forward_head(self.forward_features(x))
