"""The PyTorch side of the suite: torchvision's video models and ir-CSN.

Same work as the JAX side: a forward pass in eval mode without autograd,
and a training step (train-mode forward with BN statistics updates,
cross-entropy, backward, SGD-momentum update). bf16 is `torch.autocast`
(parameters and loss stay f32, like video_flax's `model.dtype`). Threads:
as many as cores this process may use, which is what XLA:CPU uses. On a
GPU, `cudnn.benchmark` and channels_last_3d, as docs/gpu_speed.md did.
"""
from __future__ import annotations

import contextlib
import os
import platform
from typing import Any, Callable, Sequence

import torch
from torch import nn
import torchvision
from torchvision.models import video

from benchmarks.protocol import best_seconds
from benchmarks.torch_csn import IrCsn

_DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _model(name: str) -> nn.Module:
  if name.startswith("ir_csn_"):
    return IrCsn(int(name.rsplit("_", 1)[1]), 400, dropout=0.0)
  return getattr(video, name)(num_classes=400)


def _sync() -> None:
  if _DEVICE.type == "cuda":
    torch.cuda.synchronize()


def autocast(dtype: str) -> contextlib.AbstractContextManager:
  if dtype == "float32":
    return contextlib.nullcontext()
  return torch.autocast(_DEVICE.type, dtype=getattr(torch, dtype))


def info() -> dict[str, Any]:
  """Versions, device and thread count of this process."""
  torch.set_num_threads(len(os.sched_getaffinity(0)))
  if _DEVICE.type == "cuda":
    torch.backends.cudnn.benchmark = True
  return {"versions": {"torch": torch.__version__,
                       "torchvision": torchvision.__version__,
                       "python": platform.python_version()},
          "backend": _DEVICE.type, "threads": torch.get_num_threads(),
          "devices": ([torch.cuda.get_device_name()] if _DEVICE.type == "cuda"
                      else ["cpu"])}


def roofline(dtype: str, size: int, calls: int) -> float:
  """Seconds of the fastest [size, size] x [size, size] matmul in `dtype`."""
  a, b = (torch.randn(size, size, device=_DEVICE, dtype=getattr(torch, dtype))
          for _ in range(2))
  torch.matmul(a, b)
  return best(lambda: torch.matmul(a, b), calls)


def best(fn: Callable[[], Any], calls: int) -> float:
  """Seconds of the fastest of `calls` calls of `fn`, waiting for results."""
  def run():
    fn()
    _sync()
  return best_seconds(run, calls)


def _train_step(net: nn.Module, x: torch.Tensor, dtype: str
                ) -> Callable[[], Any]:
  optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
  labels = torch.arange(x.shape[0], device=_DEVICE) % 400
  net.train()

  def step():
    optimizer.zero_grad(set_to_none=True)
    with autocast(dtype):
      logits = net(x)
    loss = nn.functional.cross_entropy(logits.float(), labels)
    loss.backward()
    optimizer.step()
  return step


def _forward(net: nn.Module, x: torch.Tensor, dtype: str) -> Callable[[], Any]:
  net.eval()

  def forward():
    with torch.inference_mode(), autocast(dtype):
      return net(x)
  return forward


def setup(model: str, shape: Sequence[int], batch: int, dtype: str,
          task: str) -> Callable[[], Any]:
  """Builds `model`; returns the `task` call, run twice (warm-up)."""
  layout = (torch.channels_last_3d if _DEVICE.type == "cuda"
            else torch.contiguous_format)
  net = _model(model).to(_DEVICE, memory_format=layout)
  x = torch.randn(batch, 3, *shape, device=_DEVICE).to(memory_format=layout)
  run = (_forward if task == "forward" else _train_step)(net, x, dtype)
  for _ in range(2):
    run()
  _sync()
  return run


HANDLERS = {"info": info, "roofline": roofline, "setup": setup}
