"""Prints max logit differences of converted full-size models against
their source framework (the numbers of the converter's closing note).

  PYTHONPATH=$PWD python tests/weights_convert_logit_diffs.py [NAME ...]

Needs torch, torchvision and tensorflow; reference (lax) convs unless
FORM=fast. Minutes on CPU.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time

import torchvision  # Before TensorFlow (see test_weights_convert_i3d.py).
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kinetics_i3d_reference as reference  # noqa: E402
import weights_convert_helpers as helpers  # noqa: E402
from video_flax.models import conv_forms  # noqa: E402

TORCHVISION = {"r3d_18": (2, 16, 112, 112), "mc3_18": (2, 16, 112, 112),
               "r2plus1d_18": (2, 16, 112, 112), "s3d": (1, 16, 224, 224)}
VMZ = {"ir_csn_152": ("ir", (3, 8, 36, 3), "bottleneck"),
       "ip_csn_152": ("ip", (3, 8, 36, 3), "bottleneck"),
       "r2plus1d_34": ("2plus1d", (3, 4, 6, 3), "basic")}
I3D = {"rgb": ("RGB", 3), "flow": ("Flow", 2)}


def report(name, got, want, start):
  print(f"{name}: max|diff| {np.abs(got - want).max():.3g}  relative "
        f"{helpers.relative_error(got, want):.3g}  max|logit| "
        f"{np.abs(want).max():.3g}  ({time.time() - start:.0f} s)", flush=True)


def torch_case(name, net, source, clip_shape, folder):
  start = time.time()
  helpers.randomize_batch_norm(net)
  path = os.path.join(folder, f"{name}.pth")
  torch.save(net.state_dict(), path)
  info, variables = helpers.convert_file(path, source, name)
  clip = np.random.default_rng(0).standard_normal(
      (*clip_shape, 3)).astype(np.float32)
  report(f"{source} {name}", helpers.converted_logits(info, variables, clip),
         helpers.torch_logits(net, clip), start)


def i3d_case(stream, folder):
  start = time.time()
  scope, channels = I3D[stream]
  values = reference.random_checkpoint(scope, channels, 400, 1.0, (2, 5, 2))
  prefix = os.path.join(folder, stream, "model.ckpt")
  os.makedirs(os.path.dirname(prefix))
  reference.save_checkpoint(prefix, values)
  info, variables = helpers.convert_file(
      prefix, "kinetics_i3d", stream, class_names=tuple(map(str, range(400))))
  clip = np.random.default_rng(1).uniform(
      -1, 1, (1, 16, 224, 224, channels)).astype(np.float32)
  report(f"kinetics_i3d {stream}",
         helpers.converted_logits(info, variables, clip),
         reference.logits(values, scope, clip, (2, 5, 2)), start)


def main(names):
  conv_forms.FORM = os.environ.get("FORM", "reference")
  folder = tempfile.mkdtemp()
  wanted = lambda name: not names or name in names
  for name, shape in TORCHVISION.items():
    if wanted(name):
      torch.manual_seed(0)
      torch_case(name, getattr(torchvision.models.video, name)(),
                 "torchvision", shape, folder)
  for name, (kind, layers, block) in VMZ.items():
    if wanted(name):
      torch.manual_seed(0)
      torch_case(name, helpers.vmz_video_resnet(kind, layers, block), "vmz",
                 (1, 8, 112, 112), folder)
  for stream in I3D:
    if wanted(stream):
      i3d_case(stream, folder)


if __name__ == "__main__":
  main(sys.argv[1:])
