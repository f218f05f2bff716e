"""A straightforward PyTorch ir-CSN (Tran et al., ICCV 2019), for the suite.

The layout of video_flax's `ir_csn_*` (CSN layout of models/resnet3d.py):
stem 3x7x7 conv stride 1x2x2 + BN + ReLU, 1x3x3 max pool stride 1x2x2,
bottleneck blocks 1x1x1 -> 3x3x3 depthwise (`nn.Conv3d(groups=C)`) ->
1x1x1 (x4 channels), a 1x1x1 conv + BN projection shortcut when the shape
changes, stride 2x2x2 at conv3_1 / conv4_1 / conv5_1, BN epsilon 1e-3,
global average pool, dropout, linear classifier. Same parameter count as
ours (checked by tests/test_benchmarks.py).
"""
from __future__ import annotations

from torch import nn

STAGE_SIZES = {26: (2, 2, 2, 2), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3),
               152: (3, 8, 36, 3)}
WIDTHS = (64, 128, 256, 512)
EXPANSION = 4


def _conv_bn(c_in: int, c_out: int, kernel: tuple[int, int, int],
             stride: tuple[int, int, int] = (1, 1, 1), groups: int = 1
             ) -> list[nn.Module]:
  padding = tuple((k - 1) // 2 for k in kernel)
  return [nn.Conv3d(c_in, c_out, kernel, stride, padding, groups=groups,
                    bias=False), nn.BatchNorm3d(c_out, eps=1e-3)]


class IrCsnBottleneck(nn.Module):
  """1x1x1 -> 3x3x3 depthwise -> 1x1x1, post-activation, residual."""

  def __init__(self, c_in: int, width: int, stride: int):
    super().__init__()
    c_out, strides = width * EXPANSION, (stride,) * 3
    self.branch = nn.Sequential(
        *_conv_bn(c_in, width, (1, 1, 1)), nn.ReLU(inplace=True),
        *_conv_bn(width, width, (3, 3, 3), strides, groups=width),
        nn.ReLU(inplace=True), *_conv_bn(width, c_out, (1, 1, 1)))
    self.shortcut = (nn.Identity() if c_in == c_out and stride == 1 else
                     nn.Sequential(*_conv_bn(c_in, c_out, (1, 1, 1), strides)))
    self.relu = nn.ReLU(inplace=True)

  def forward(self, x):
    return self.relu(self.branch(x) + self.shortcut(x))


class IrCsn(nn.Module):
  """ir-CSN of `depth` (26, 50, 101, 152): [B, 3, T, H, W] -> [B, classes]."""

  def __init__(self, depth: int = 152, num_classes: int = 400,
               dropout: float = 0.2):
    super().__init__()
    layers = [*_conv_bn(3, 64, (3, 7, 7), (1, 2, 2)), nn.ReLU(inplace=True),
              nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1))]
    c_in = 64
    for stage, (size, width) in enumerate(zip(STAGE_SIZES[depth], WIDTHS)):
      for block in range(size):
        stride = 2 if stage > 0 and block == 0 else 1
        layers.append(IrCsnBottleneck(c_in, width, stride))
        c_in = width * EXPANSION
    self.features = nn.Sequential(*layers)
    self.pool = nn.AdaptiveAvgPool3d(1)
    self.dropout = nn.Dropout(dropout)
    self.head = nn.Linear(c_in, num_classes)

  def forward(self, x):
    x = self.pool(self.features(x)).flatten(1)
    return self.head(self.dropout(x))
