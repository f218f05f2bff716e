"""MAC counting: published figures, a hand count, and XLA's cost analysis."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from video_flax import models
from video_flax.models import model_size
from video_flax.models import resnet3d
from video_flax.tools import flops

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# GMACs from ../shared/docs/reference-numbers.md (from the repo root;
# torchvision, VMZ).
REFERENCE_GMACS = [
    ("r3d_18", (16, 112, 112), 40.697),
    ("mc3_18", (16, 112, 112), 43.343),
    ("r2plus1d_18", (16, 112, 112), 40.519),
    ("ir_csn_152", (32, 256, 256), 96.7),
    ("ip_csn_152", (32, 256, 256), 108.8),
    ("ir_csn_152", (32, 224, 224), 74.0),
    ("ip_csn_152", (32, 224, 224), 83.3),
]


@pytest.mark.parametrize("name,shape,gmacs", REFERENCE_GMACS)
def test_macs_match_published_figures(name, shape, gmacs):
  macs = model_size.count_macs(models.build_model(name, 400), shape)
  assert macs / 1e9 == pytest.approx(gmacs, rel=0.02)


def _stem_only(**kwargs):
  """The CSN stem and the classifier, nothing in between."""
  return resnet3d.ResNet3D(stage_sizes=(), widths=(), stage_strides=(),
                           stem_features=16, num_classes=10, **kwargs)


def test_hand_count_of_a_stem():
  # 3x7x7 conv, 3 -> 16 channels, stride 1x2x2 on 8x32x32: 8x16x16 outputs;
  # pool1 then 8x8x8; fc 16 -> 10. Two clips.
  model = _stem_only()
  conv = 2 * (8 * 16 * 16) * 16 * (3 * 7 * 7 * 3)
  fc = 2 * 16 * 10
  assert model_size.count_macs(model, (8, 32, 32), batch_size=2) == conv + fc
  per_layer = model_size.per_layer(model_size.count_ops(model, (8, 32, 32), 2))
  assert [v for k, v in per_layer.items() if k.endswith("conv1")] == [conv]
  # Taps on real input only: time 8 x 3 - 2 = 22 (one padded tap at each
  # end); each spatial axis 16 x 7 - 6 = 106 (outputs 0, 1 and 15 read 3, 1
  # and 2 padded taps).
  valid = 2 * 16 * 3 * 22 * 106 * 106
  assert model_size.count_macs(model, (8, 32, 32), 2, count_padding=False) == (
      valid + fc)


@pytest.mark.parametrize("name", ["stem_only", "r3d_small", "ir_csn_tiny"])
def test_counts_agree_with_xla_cost_analysis(name):
  """XLA counts 2 FLOPs per MAC of every conv tap on real input, plus the
  elementwise work (BN, ReLU, adds: a few percent here)."""
  model = {
      "stem_only": _stem_only(pool1=False),
      "r3d_small": resnet3d.ResNet3D(
          stage_sizes=(1, 1, 1, 1), widths=(16, 32, 32, 64), block="simple",
          stem_features=16, num_classes=10),
      "ir_csn_tiny": models.build_model("ir_csn_tiny", 10),
  }[name]
  shape = (8, 32, 32)
  macs = model_size.count_macs(model, shape, 2, count_padding=False)
  with model_size.reference_conv_forms():
    xla = model_size.xla_flops(model, shape, 2)
  assert 1.0 <= xla / (2 * macs) <= 1.05


def test_bad_shape_is_named():
  with pytest.raises(ValueError, match="T,H,W"):
    flops.parse_shape("32,224")


def test_command_prints_macs_and_flops():
  result = subprocess.run(
      [sys.executable, "-m", "video_flax.tools.flops", "--model", "r3d_18",
       "--shape", "16,112,112"],
      cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
      env={**os.environ, "JAX_PLATFORMS": "cpu"})
  assert result.returncode == 0, result.stderr
  assert "MACs:  40.697 G" in result.stdout
  assert "FLOPs: 81.393 G" in result.stdout
  assert "33,371,472 params" in result.stdout


def test_model_table_round_trip_keeps_rows(tmp_path):
  from video_flax.tools import model_table
  rows = [["`r3d_18`", "resnet3d", "33,371,472", "16×112×112", "40.697",
           "1.23", "-"],
          ["`ir_csn_tiny`", "resnet3d", "531,112", "8×32×32", "0.042", "150",
           "40.5"]]
  path = tmp_path / "models.md"
  path.write_text(model_table.render(rows))
  parsed = model_table.existing_rows(str(path))
  assert parsed == {"r3d_18": rows[0], "ir_csn_tiny": rows[1]}
  assert model_table.reference_shape("r3d_18") == (16, 112, 112)
  assert model_table.reference_shape("ir_csn_152") == (32, 224, 224)
  assert model_table.reference_shape("ir_csn_50") == (8, 224, 224)
