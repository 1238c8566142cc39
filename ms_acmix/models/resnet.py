"""ACmix-ResNet-26/38/50 in MindSpore, the twin of ``torch_ref.models.resnet`` (same parameter
paths)."""
from typing import Sequence, Tuple

import numpy as np
from mindspore import Tensor, nn, ops
from mindspore.common.initializer import HeNormal, initializer

from acmix_common.checks import check_attn_impl, check_mixer, shift_kernels
from acmix_common.features import (FeatureInfo, check_num_classes, features_only_stages,
                                   pruned_prefixes)
from acmix_common.variants import resnet_feature_info

from ._registry import register_family
from .acmix import ACmix
from .features import plan_intermediates, replace_cell
from .layers import DropPath, batch_norm2d, conv2d, dense, max_pool2d


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return conv2d(in_planes, out_planes, 1, stride=stride, has_bias=False)


class Bottleneck(nn.Cell):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, k_att: int, head: int, k_conv: int,
                 stride: int = 1, downsample: nn.Cell = None, drop_path: float = 0.0,
                 attn_impl: str = "fast", mixer: str = "acmix"):
        super().__init__()
        self.conv1 = conv1x1(inplanes, planes)
        self.bn1 = batch_norm2d(planes)
        if mixer == "conv":  # torchvision's ResNet-50 3x3 conv
            self.conv2 = conv2d(planes, planes, 3, stride=stride, padding=1, has_bias=False)
        else:
            self.conv2 = ACmix(planes, planes, k_att, head, k_conv, stride=stride,
                               attn_impl=attn_impl)
        self.bn2 = batch_norm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.bn3 = batch_norm2d(planes * self.expansion)
        self.relu = nn.ReLU()
        self.downsample = downsample
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def construct(self, x: Tensor) -> Tensor:
        identity = x
        if self.downsample is not None:
            identity = self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.drop_path(self.bn3(self.conv3(out)))
        return self.relu(out + identity)


@register_family("resnet")
class ACmixResNet(nn.Cell):
    """ResNet v1.5 with ACmix bottlenecks (twin: ``torch_ref.models.resnet.ACmixResNet``).

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
        features_only: a backbone: the forward returns the maps of stages ``out_indices``
            (layer1..layer4, NCHW, ``feature_info``); no classifier, no stage after the last.
        out_indices: the stages returned with features_only (None: all four).
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
        self.conv1 = conv2d(in_chans, base_planes, 7, stride=2, padding=3, has_bias=False)
        self.bn1 = batch_norm2d(base_planes)
        self.relu = nn.ReLU()
        self.maxpool = max_pool2d(3, 2, 1)
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
        self.out_indices = self.feature_info.out_indices  # GRAPH mode reads a plain tuple
        self.fc = self._classifier(self.num_classes)
        self._init_conv_weights(keep_shift_init)

    def _init_conv_weights(self, keep_shift_init: bool) -> None:
        """The official kaiming_normal_(fan_out, relu) over every conv, shift kernels included."""
        cells = [cell for _, cell in self.cells_and_names()]
        for cell in cells:
            if isinstance(cell, nn.Conv2d):
                cell.weight.set_data(initializer(
                    HeNormal(negative_slope=0, mode="fan_out", nonlinearity="relu"),
                    cell.weight.shape, cell.weight.dtype))
        for cell in cells:
            if keep_shift_init and isinstance(cell, ACmix):
                cell.dep_conv.weight.set_data(Tensor(shift_kernels(cell.k_conv, cell.out_planes)))

    def _make_layer(self, planes: int, blocks: int, acmix, stride: int,
                    dpr: Sequence[float]) -> nn.SequentialCell:
        downsample = None
        if stride != 1 or self.inplanes != planes * Bottleneck.expansion:
            downsample = nn.SequentialCell([
                conv1x1(self.inplanes, planes * Bottleneck.expansion, stride),
                batch_norm2d(planes * Bottleneck.expansion),
            ])
        layers = [Bottleneck(self.inplanes, planes, *acmix, stride, downsample, dpr[0],
                             **self.block_options)]
        self.inplanes = planes * Bottleneck.expansion
        layers += [Bottleneck(self.inplanes, planes, *acmix, drop_path=dpr[i],
                              **self.block_options) for i in range(1, blocks)]
        return nn.SequentialCell(layers)

    def _classifier(self, num_classes: int) -> nn.Cell:
        return dense(self.num_features, num_classes, has_bias=True) if num_classes > 0 \
            else nn.Identity()

    @property
    def pruned_prefixes(self) -> Tuple[str, ...]:
        """State-dict prefixes (torch names) of the full model that this one does not build."""
        return pruned_prefixes([f"layer{i + 1}" for i in range(4)], self.built_stages, "fc",
                               self.num_classes)

    def get_classifier(self) -> nn.Cell:
        return self.fc

    def reset_classifier(self, num_classes: int) -> None:
        """A new classifier (torch's default Linear init, as built) of ``num_classes`` outputs;
        0 leaves none (``construct`` returns the pooled features)."""
        if self.features_only:
            raise ValueError("reset_classifier: a features_only model has no classifier")
        self.num_classes = check_num_classes(num_classes)
        replace_cell(self, "fc", self._classifier(num_classes))

    def forward_features(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward_intermediates(self, x: Tensor, indices=None, norm: bool = False,
                              stop_early: bool = False, output_fmt: str = "NCHW",
                              intermediates_only: bool = False):
        """timm's: (``forward_features(x)``, [stage maps]), or the maps alone.

        The stages are layer1..layer4 (``feature_info``), NCHW; ``indices`` as ``out_indices``
        (None: all); ``norm`` has no effect (no final norm); ``stop_early`` (with
        intermediates_only) runs no stage after the last one taken.
        """
        take, last = plan_intermediates(indices, 4, self.built_stages, norm, False, stop_early,
                                        intermediates_only, output_fmt)
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        intermediates = []
        for i, stage in enumerate((self.layer1, self.layer2, self.layer3, self.layer4)):
            if i <= last:
                x = stage(x)
                if i in take:
                    intermediates.append(x)
        if intermediates_only:
            return intermediates
        return x, intermediates

    def forward_head(self, x: Tensor) -> Tensor:
        return self.fc(ops.mean(x, axis=(2, 3)))

    def construct(self, x: Tensor):
        if self.features_only:
            return self.forward_intermediates(x, self.out_indices, stop_early=True,
                                              intermediates_only=True)
        return self.forward_head(self.forward_features(x))
