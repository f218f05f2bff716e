"""VMZ's ir-CSN-152, ip-CSN-152 and R(2+1)D-34 (PyTorch definitions with
VMZ's module names, tests/weights_convert_helpers.py), random weights and
BN statistics, saved with torch.save and converted, give torch's eval-mode
logits. By default with one block per stage (same layout and names, fast
to compile); the full 152 / 34-layer nets are slow checks."""
from __future__ import annotations

import jax
import numpy as np
import pytest

from weights_convert_helpers import (convert_file, converted_logits,
                                     randomize_batch_norm, reference_convs,
                                     relative_error, torch_logits,
                                     vmz_video_resnet)

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

NETS = {"ir_csn_152": ("ir", (3, 8, 36, 3), "bottleneck"),
        "ip_csn_152": ("ip", (3, 8, 36, 3), "bottleneck"),
        "r2plus1d_34": ("2plus1d", (3, 4, 6, 3), "basic")}


def _check(tmp_path, name: str, layers) -> None:
  kind, _, block = NETS[name]
  torch.manual_seed(0)
  net = vmz_video_resnet(kind, layers, block)
  randomize_batch_norm(net)
  path = str(tmp_path / f"{name}.pth")
  torch.save(net.state_dict(), path)
  reduced = tuple(layers) != NETS[name][1]
  info, variables = convert_file(
      path, "vmz", name,
      model_kwargs={"stage_sizes": tuple(layers)} if reduced else None)
  assert info.model == name
  assert sum(v.size for v in jax.tree.leaves(variables["params"])) == sum(
      p.numel() for p in net.parameters())
  clip = np.random.default_rng(0).standard_normal(
      (1, 8, 32, 32, 3)).astype(np.float32)
  want = torch_logits(net, clip)
  got = converted_logits(info, variables, clip)
  assert relative_error(got, want) < 1e-4, (name, relative_error(got, want))


@pytest.mark.usefixtures(reference_convs.__name__)
@pytest.mark.parametrize("name", sorted(NETS))
def test_vmz_layout_one_block_per_stage(tmp_path, name):
  _check(tmp_path, name, (1, 1, 1, 1))


@pytest.mark.slow
@pytest.mark.usefixtures(reference_convs.__name__)
@pytest.mark.parametrize("name", sorted(NETS))
def test_vmz_full_depth(tmp_path, name):
  _check(tmp_path, name, NETS[name][1])
