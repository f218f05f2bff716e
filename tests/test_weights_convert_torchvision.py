"""torchvision's r3d_18, mc3_18, r2plus1d_18 and s3d, with random weights
and BN statistics, saved with torch.save, converted, give torch's eval-mode
logits."""
from __future__ import annotations

import jax
import numpy as np
import pytest

from weights_convert_helpers import (convert_file, converted_logits,
                                     randomize_batch_norm, reference_convs,
                                     relative_error, torch_logits)

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

# S3D's fixed [2, 7, 7] average pool needs 224 x 224 and >= 13 frames.
CLIPS = {"r3d_18": (2, 8, 32, 32), "mc3_18": (2, 8, 32, 32),
         "r2plus1d_18": (2, 8, 32, 32), "s3d": (1, 16, 224, 224)}


@pytest.mark.usefixtures(reference_convs.__name__)
@pytest.mark.parametrize("name", sorted(CLIPS))
def test_converted_torchvision_model_gives_torch_logits(tmp_path, name):
  torch.manual_seed(0)
  net = getattr(torchvision.models.video, name)()
  randomize_batch_norm(net)
  path = str(tmp_path / f"{name}.pth")
  torch.save(net.state_dict(), path)
  info, variables = convert_file(path, "torchvision", name)
  assert info.model == name and info.num_classes == 400
  assert info.class_names[:2] == ("abseiling", "air drumming")
  assert sum(v.size for v in jax.tree.leaves(variables["params"])) == sum(
      p.numel() for p in net.parameters())
  clip = np.random.default_rng(0).standard_normal(
      (*CLIPS[name], 3)).astype(np.float32)
  want = torch_logits(net, clip)
  got = converted_logits(info, variables, clip)
  assert relative_error(got, want) < 1e-4, (name, relative_error(got, want))
