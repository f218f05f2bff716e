"""Shared by the converter tests: PyTorch reference nets with VMZ's module
names, random BN statistics, and running a converted model."""
from __future__ import annotations

import json
import struct

import jax
import numpy as np
import pytest

from video_flax.models import conv_forms
from video_flax.weights import converters


@pytest.fixture(autouse=False)
def reference_convs(monkeypatch):
  """lax.conv_general_dilated for every conv: on CPU it compiles a whole
  network about twice as fast as the fast forms (which test_layers checks
  against it), and these tests compile each network once."""
  monkeypatch.setattr(conv_forms, "FORM", "reference")


def randomize_batch_norm(model, seed: int = 0) -> None:
  """Non-trivial BN scale, bias, running mean and variance everywhere."""
  import torch  # Only the tests that import torch call this.
  generator = torch.Generator().manual_seed(seed)
  for module in model.modules():
    if isinstance(module, torch.nn.BatchNorm3d):
      n = module.num_features
      with torch.no_grad():
        module.weight.copy_(0.5 + torch.rand(n, generator=generator))
        module.bias.copy_(0.1 * torch.randn(n, generator=generator))
        module.running_mean.copy_(0.1 * torch.randn(n, generator=generator))
        module.running_var.copy_(0.5 + 1.5 * torch.rand(n, generator=generator))


def torch_logits(model, clip: np.ndarray) -> np.ndarray:
  """Eval-mode logits of `clip` [B, T, H, W, C] (given to torch as
  [B, C, T, H, W])."""
  import torch
  model.eval()
  with torch.no_grad():
    return model(torch.from_numpy(clip.transpose(0, 4, 1, 2, 3))).numpy()


def converted_logits(info, variables, clip) -> np.ndarray:
  model = info.build_model()
  apply = jax.jit(lambda v, x: model.apply(v, x, train=False))
  return np.asarray(apply(variables, clip))


def relative_error(got: np.ndarray, want: np.ndarray) -> float:
  """max |got - want| / max |want|."""
  return float(np.max(np.abs(got - want)) / np.max(np.abs(want)))


def vmz_video_resnet(kind: str, layers, block: str):
  """VMZ's VideoResNet (pt/vmz/models/{csn,r2plus1d,utils}.py): torchvision's
  VideoResNet with VMZ's conv makers and stems, BN epsilon 1e-3.

  kind: 'ir' (Conv3DDepthwise), 'ip' (IPConv3DDepthwise) or '2plus1d'
  (VMZ's Conv2Plus1D, mid channels from its own in/out channels).
  """
  import torch.nn as nn
  from torchvision.models.video import resnet

  class Conv3DDepthwise(nn.Conv3d):
    def __init__(self, in_planes, out_planes, midplanes=None, stride=1,
                 padding=1):
      assert in_planes == out_planes
      super().__init__(in_planes, out_planes, (3, 3, 3), stride, padding,
                       groups=in_planes, bias=False)

    @staticmethod
    def get_downsample_stride(stride):
      return (stride, stride, stride)

  class IPConv3DDepthwise(nn.Sequential):
    def __init__(self, in_planes, out_planes, midplanes, stride=1, padding=1):
      super().__init__(nn.Conv3d(in_planes, out_planes, 1, bias=False),
                       nn.BatchNorm3d(out_planes),
                       Conv3DDepthwise(out_planes, out_planes, None, stride))

    get_downsample_stride = Conv3DDepthwise.get_downsample_stride

  class Conv2Plus1D(nn.Sequential):
    def __init__(self, in_planes, out_planes, midplanes, stride=1, padding=1):
      mid = (in_planes * out_planes * 27) // (in_planes * 9 + 3 * out_planes)
      super().__init__(
          nn.Conv3d(in_planes, mid, (1, 3, 3), (1, stride, stride),
                    (0, padding, padding), bias=False),
          nn.BatchNorm3d(mid), nn.ReLU(inplace=True),
          nn.Conv3d(mid, out_planes, (3, 1, 1), (stride, 1, 1),
                    (padding, 0, 0), bias=False))

    get_downsample_stride = Conv3DDepthwise.get_downsample_stride

  class BasicStemPool(nn.Sequential):
    def __init__(self):
      super().__init__(
          nn.Conv3d(3, 64, (3, 7, 7), (1, 2, 2), (1, 3, 3), bias=False),
          nn.BatchNorm3d(64), nn.ReLU(inplace=True),
          nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)))

  makers = {"ir": Conv3DDepthwise, "ip": IPConv3DDepthwise,
            "2plus1d": Conv2Plus1D}
  model = resnet.VideoResNet(
      resnet.Bottleneck if block == "bottleneck" else resnet.BasicBlock,
      [makers[kind]] * 4, list(layers),
      resnet.R2Plus1dStem if kind == "2plus1d" else BasicStemPool)
  for module in model.modules():
    if isinstance(module, nn.BatchNorm3d):
      module.eps, module.momentum = 1e-3, 0.9
  return model


def convert_file(path: str, source: str, name: str, **kwargs):
  """read_checkpoint + convert."""
  return converters.convert(source, name,
                            converters.read_checkpoint(path, source), **kwargs)


def safetensors_bytes(tensors: dict[str, np.ndarray]) -> bytes:
  """The safetensors layout, written from its specification."""
  header, offset, chunks = {"__metadata__": {"format": "pt"}}, 0, []
  for name, array in tensors.items():
    data = array.astype(array.dtype.newbyteorder("<")).tobytes()
    header[name] = {"dtype": {"float32": "F32", "float16": "F16",
                              "int64": "I64"}[array.dtype.name],
                    "shape": list(array.shape),
                    "data_offsets": [offset, offset + len(data)]}
    offset += len(data)
    chunks.append(data)
  text = json.dumps(header).encode()
  return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def synthetic_torch_state(name: str, model: str, num_classes: int,
                          seed: int = 0) -> dict[str, np.ndarray]:
  """A VMZ-named state_dict (PyTorch layouts, num_batches_tracked included)
  for our `model`, from numpy alone: for tests that need no torch."""
  from video_flax.weights import sources
  from video_flax.weights.format import WeightsInfo
  entry = sources.published("vmz", name)
  info = WeightsInfo(model, num_classes, ("?",) * num_classes,
                     entry.preprocessing)
  expected = converters.abstract_variables(info)
  source_name = converters.naming("vmz", entry, list(expected))[0]
  rng = np.random.default_rng(seed)
  state = {}
  for path, leaf in expected.items():
    value = rng.standard_normal(leaf.shape).astype(np.float32)
    if path.endswith("/var"):
      value = np.abs(value) + 0.5
    axes = {5: (4, 3, 0, 1, 2), 2: (1, 0)}.get(value.ndim)
    state[source_name(path)] = value.transpose(axes) if axes else value
    if path.endswith("/mean"):
      tracked = source_name(path).replace("running_mean", "num_batches_tracked")
      state[tracked] = np.array(100, np.int64)
  return state
