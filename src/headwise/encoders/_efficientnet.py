"""EfficientNet-Lite0 (Tan & Le 2019, the "lite" variant) in plain torch.

Key-compatible with the ``efficientnet-lite0`` checkpoint in the lukemelas/EfficientNet-PyTorch
naming (``_conv_stem``, ``_blocks.N._expand_conv``...). Lite models drop squeeze-and-excitation,
use ReLU6 and keep the stem (32) and head (1280) widths fixed. Convolutions use TensorFlow's
"same" padding (extra row/column at the bottom/right on stride 2), which the weights were trained
with. Imported only when an EfficientNet-Lite encoder first encodes.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["EfficientNetLite0", "STAGE_CHANNELS"]

# (kernel, first stride, expansion, output channels, repeats) per stage
_STAGES = ((3, 1, 1, 16, 1), (3, 2, 6, 24, 2), (5, 2, 6, 40, 2), (3, 2, 6, 80, 3),
           (5, 1, 6, 112, 3), (5, 2, 6, 192, 4), (3, 1, 6, 320, 1))  # fmt: skip
STAGE_CHANNELS = (32, 16, 24, 40, 80, 112, 192, 320, 1280)
_BN = {"eps": 1e-3, "momentum": 0.01}


class _SameConv(nn.Conv2d):
    """Conv2d with TensorFlow "same" padding computed from the input size."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ih, iw = x.shape[-2:]
        kh, kw = self.weight.shape[-2:]
        sh, sw = self.stride
        ph = max((math.ceil(ih / sh) - 1) * sh + kh - ih, 0)
        pw = max((math.ceil(iw / sw) - 1) * sw + kw - iw, 0)
        if ph or pw:
            x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class _MBConv(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = _SameConv(cin, hidden, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(hidden, **_BN)
        self._depthwise_conv = _SameConv(hidden, hidden, kernel, stride, groups=hidden, bias=False)
        self._bn1 = nn.BatchNorm2d(hidden, **_BN)
        self._project_conv = _SameConv(hidden, cout, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(cout, **_BN)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return x + h if self.residual else h


class EfficientNetLite0(nn.Module):
    """224x224 ImageNet model; ``_fc`` kept so the checkpoint loads strictly."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self._conv_stem = _SameConv(3, 32, 3, 2, bias=False)
        self._bn0 = nn.BatchNorm2d(32, **_BN)
        blocks: list[nn.Module] = []
        self.stage_ends = [-1]  # index in ``_blocks`` of each stage's last block; the stem is -1
        cin = 32
        for kernel, stride, expand, cout, repeats in _STAGES:
            for i in range(repeats):
                blocks.append(_MBConv(cin, cout, kernel, stride if i == 0 else 1, expand))
                cin = cout
            self.stage_ends.append(len(blocks) - 1)
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = _SameConv(320, 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, **_BN)
        self._fc = nn.Linear(1280, num_classes)

    def forward_features(self, x: torch.Tensor, stage: int = 8) -> torch.Tensor:
        x = F.relu6(self._bn0(self._conv_stem(x)))
        last = len(self._blocks) - 1 if stage == 8 else self.stage_ends[stage]
        for block in self._blocks[: last + 1]:
            x = block(x)
        if stage == 8:
            x = F.relu6(self._bn1(self._conv_head(x)))
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._fc(self.forward_features(x).mean((2, 3)))
