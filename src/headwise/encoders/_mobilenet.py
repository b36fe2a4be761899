"""MobileNetV2 (Sandler et al. 2018) in plain torch, key-compatible with torchvision's checkpoint.

Imported only when a MobileNetV2 encoder first encodes: it imports torch at module level.
``forward(x, stage)`` runs the network up to the end of ``stage`` (0 = stem, 1-7 = the seven
bottleneck groups, 8 = the final 1x1 convolution to 1280 channels) and returns that feature map.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["MobileNetV2", "STAGE_CHANNELS"]

# (expansion t, output channels c, repeats n, first stride s), as in the paper's Table 2
_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
             (6, 160, 3, 2), (6, 320, 1, 1))  # fmt: skip
STAGE_CHANNELS = (32, 16, 24, 32, 64, 96, 160, 320, 1280)


def _conv_bn_relu(cin: int, cout: int, kernel: int = 3, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU6(inplace=True),
    )


class _InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        self.use_res_connect = stride == 1 and cin == cout
        layers: list[nn.Module] = []
        if expand != 1:
            layers.append(_conv_bn_relu(cin, hidden, kernel=1))
        layers += [
            _conv_bn_relu(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, cout, 1, 1, 0, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    """Width 1.0, 224x224 ImageNet model; ``classifier`` kept so the checkpoint loads strictly."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        features: list[nn.Module] = [_conv_bn_relu(3, 32, stride=2)]
        self.stage_ends = [0]  # index in ``features`` of each stage's last module
        cin = 32
        for t, c, n, s in _SETTINGS:
            for i in range(n):
                features.append(_InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
            self.stage_ends.append(len(features) - 1)
        features.append(_conv_bn_relu(cin, 1280, kernel=1))
        self.stage_ends.append(len(features) - 1)
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

    def forward_features(self, x: torch.Tensor, stage: int = 8) -> torch.Tensor:
        for module in self.features[: self.stage_ends[stage] + 1]:
            x = module(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.forward_features(x).mean((2, 3)))
