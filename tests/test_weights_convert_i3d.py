"""kinetics-i3d RGB and flow I3D: a checkpoint written by TensorFlow under
the release's variable names, read by our TensorBundle reader and
converted, gives the logits of an independent TensorFlow forward pass
(tests/kinetics_i3d_reference.py). Default: the tiny variant (1/8 width,
one Inception block per stage) at 16x64x64; slow: the released I3D at
16x224x224 (the release's [2, 7, 7] logits pool)."""
from __future__ import annotations

import os

import numpy as np
import pytest

import kinetics_i3d_reference as reference
from video_flax.weights import tf_bundle
from weights_convert_helpers import (convert_file, converted_logits,
                                     reference_convs, relative_error)

try:  # torchvision (its triton import) segfaults when it is imported after
  import torchvision  # noqa: F401  TensorFlow in one process: first, then.
except ImportError:
  pass
tf = pytest.importorskip("tensorflow")
pytestmark = pytest.mark.tf

STREAMS = {"rgb": ("RGB", 3), "flow": ("Flow", 2)}


def _check(tmp_path, stream: str, tiny: bool) -> None:
  scope, channels = STREAMS[stream]
  width, blocks = (0.125, (1, 1, 1)) if tiny else (1.0, (2, 5, 2))
  values = reference.random_checkpoint(scope, channels, 7, width, blocks)
  prefix = str(tmp_path / "model.ckpt")
  reference.save_checkpoint(prefix, values)
  read = tf_bundle.load(prefix)
  assert sorted(read) == sorted(values)
  assert all(np.array_equal(read[k], values[k]) for k in values)
  names = tuple(f"class {i}" for i in range(7))
  model = f"i3d_{stream}" + ("_tiny" if tiny else "")
  info, variables = convert_file(prefix + ".index", "kinetics_i3d", stream,
                                 model=model, class_names=names)
  assert info.preprocessing.value_range == (-1.0, 1.0)
  size = 64 if tiny else 224
  clip = np.random.default_rng(1).uniform(
      -1, 1, (1, 16, size, size, channels)).astype(np.float32)
  want = reference.logits(values, scope, clip, blocks)
  got = converted_logits(info, variables, clip)
  assert relative_error(got, want) < 1e-4, (stream, relative_error(got, want))


@pytest.mark.usefixtures(reference_convs.__name__)
@pytest.mark.parametrize("stream", sorted(STREAMS))
def test_tiny_i3d_from_tf_checkpoint(tmp_path, stream):
  _check(tmp_path, stream, tiny=True)


@pytest.mark.slow
@pytest.mark.usefixtures(reference_convs.__name__)
@pytest.mark.parametrize("stream", sorted(STREAMS))
def test_released_i3d_from_tf_checkpoint(tmp_path, stream):
  _check(tmp_path, stream, tiny=False)


def test_missing_data_shard_is_named(tmp_path):
  values = {"RGB/inception_i3d/Conv3d_1a_7x7/conv_3d/w": np.ones(
      (1, 1, 1, 3, 4), np.float32)}
  prefix = str(tmp_path / "model.ckpt")
  reference.save_checkpoint(prefix, values)
  os.remove(prefix + ".data-00000-of-00001")
  with pytest.raises(FileNotFoundError, match="data-00000-of-00001"):
    tf_bundle.load(prefix)
