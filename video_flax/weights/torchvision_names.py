"""Our variable paths -> torchvision's state_dict names, for its VideoResNet
(r3d_18, mc3_18, r2plus1d_18; VMZ's CSN and R(2+1)D builds on the same
class and names) and its S3D.

VideoResNet: `stem.{0,1}` (conv, BN; R(2+1)D: `stem.{0,1,3,4}`),
`layer{1..4}.{j}` blocks with `conv1`/`conv2` (basic) or `conv1..3`
(bottleneck) as Sequential(conv, BN[, ReLU]), a conv that is itself a
Sequential for R(2+1)D (`0` spatial, `1` BN, `3` temporal) and VMZ's ip-CSN
(`0` 1x1x1, `1` BN, `2` depthwise), `downsample.{0,1}`, `fc`.

S3D: `features.{i}` in build order (0 stem, 2 Conv_2b, 3 Conv_2c, 5.. the
Inception blocks between pools), separable convs as Sequential(Sequential(
1xkxk conv, BN), Sequential(kx1x1 conv, BN)), block branches `branch0..3`,
`classifier.1` the logits conv.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable

from video_flax.weights.mapping import torch_name

# Our stem module -> torchvision's.
RESNET_STEM = {"conv1": "stem.0", "bn1": "stem.1", "conv1_s": "stem.0",
               "bn1_s": "stem.1", "conv1_t": "stem.3"}
RESNET_STEM_2PLUS1D_BN = "stem.4"
# Modules of a bottleneck block (or a block's shortcut) held directly.
RESNET_DIRECT = {"conv1": "conv1.0", "bn1": "conv1.1", "conv3": "conv3.0",
                 "bn3": "conv3.1", "proj_conv": "downsample.0",
                 "proj_bn": "downsample.1"}
# Inside a spatio-temporal conv `convK` (Sequential(conv, BN)).
RESNET_INNER = {"conv": ".0", "bn": ".1", "conv_s": ".0.0", "bn_s": ".0.1",
                "conv_t": ".0.3", "conv_pw": ".0.0", "bn_pw": ".0.1",
                "conv_dw": ".0"}


def video_resnet_name(path: str, ip_convs: frozenset[str] = frozenset(),
                      stem_2plus1d: bool = False) -> str | None:
  """'params/conv2_1/conv1/conv/kernel' -> 'layer1.0.conv1.0.weight'.

  ip_convs: module paths ('conv2_1/conv2') of ip convs, whose depthwise
  conv is the third of their Sequential (`.0.2`). stem_2plus1d: the stem's
  BN `bn1` follows a temporal conv (`stem.4`).
  """
  modules = path.split("/")[1:-1]
  first, rest = modules[0], modules[1:]
  if first == "head" and not rest:
    return torch_name("fc", path)
  if first in RESNET_STEM and not rest:
    stem = RESNET_STEM[first]
    if first == "bn1" and stem_2plus1d:
      stem = RESNET_STEM_2PLUS1D_BN
    return torch_name(stem, path)
  block = re.fullmatch(r"conv(\d)_(\d+)", first)
  if block is None or not rest or len(rest) > 2:
    return None
  prefix = f"layer{int(block[1]) - 1}.{int(block[2]) - 1}"
  if len(rest) == 1:
    direct = RESNET_DIRECT.get(rest[0])
    return None if direct is None else torch_name(f"{prefix}.{direct}", path)
  outer, inner = rest
  if outer not in ("conv1", "conv2") or inner not in RESNET_INNER:
    return None
  suffix = RESNET_INNER[inner]
  if inner == "conv_dw" and f"{first}/{outer}" in ip_convs:
    suffix = ".0.2"
  return torch_name(f"{prefix}.{outer}{suffix}", path)


def video_resnet_namer(paths: Iterable[str]) -> Callable[[str], str | None]:
  """`video_resnet_name` with the ip convs and the stem kind read off our
  variable paths."""
  paths = list(paths)
  ip = frozenset("/".join(p.split("/")[1:3]) for p in paths
                 if "/conv_pw/" in p)
  stem = any(p.startswith("params/conv1_s/") for p in paths)
  return functools.partial(video_resnet_name, ip_convs=ip, stem_2plus1d=stem)


S3D_FEATURES = {"Conv_1a_7x7": 0, "Conv_2b_1x1": 2, "Conv_2c_3x3": 3,
                "Mixed_3b": 5, "Mixed_3c": 6, "Mixed_4b": 8, "Mixed_4c": 9,
                "Mixed_4d": 10, "Mixed_4e": 11, "Mixed_4f": 12,
                "Mixed_5b": 14, "Mixed_5c": 15}
S3D_BRANCHES = {"b0_1x1": "branch0", "b1_1x1": "branch1.0",
                "b1_3x3": "branch1.1", "b2_1x1": "branch2.0",
                "b2_3x3": "branch2.1", "b3_1x1": "branch3.1"}
S3D_UNIT = {"conv": ".0", "bn": ".1", "conv_s": ".0.0", "bn_s": ".0.1",
            "conv_t": ".1.0", "bn_t": ".1.1"}


def s3d_name(path: str) -> str | None:
  """'params/backbone/Mixed_3b/b1_3x3/conv_s/kernel' ->
  'features.5.branch1.1.0.0.weight'; the head conv -> 'classifier.1.*'."""
  modules = path.split("/")[1:-1]
  if modules == ["head", "conv"]:
    return torch_name("classifier.1", path)
  if len(modules) < 3 or modules[0] != "backbone" or (
      modules[1] not in S3D_FEATURES or modules[-1] not in S3D_UNIT):
    return None
  prefix = f"features.{S3D_FEATURES[modules[1]]}"
  if len(modules) == 4:
    if modules[2] not in S3D_BRANCHES:
      return None
    prefix += "." + S3D_BRANCHES[modules[2]]
  elif len(modules) != 3:
    return None
  return torch_name(prefix + S3D_UNIT[modules[-1]], path)
