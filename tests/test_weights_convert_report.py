"""Every way a checkpoint can fail to fit is reported, loudly and all at
once; the CLI writes a loadable weights directory; --fetch verifies the
published hash and says so in one line when offline. Numpy only (no torch):
the checkpoints are built from our own variable tree under VMZ's names."""
from __future__ import annotations

import urllib.error

import jax
import numpy as np
import pytest

from video_flax import convert, file_digest, weights
from video_flax.weights import converters, fetch
from weights_convert_helpers import safetensors_bytes, synthetic_torch_state

MODEL = "ir_csn_tiny"  # The CSN layout and names at test size.
LABELS = tuple(f"class {i}" for i in range(5))


def _convert(state, **kwargs):
  return converters.convert("vmz", "ir_csn_152", state, model=MODEL,
                            class_names=LABELS, **kwargs)


@pytest.fixture(scope="module")
def state():
  return synthetic_torch_state("ir_csn_152", MODEL, num_classes=5)


def test_a_fitting_checkpoint_converts(state):
  info, variables = _convert(state)
  assert info.num_classes == 5 and info.class_names == LABELS
  np.testing.assert_array_equal(
      variables["params"]["conv2_1"]["conv2"]["conv_dw"]["kernel"],
      state["layer1.0.conv2.0.weight"].transpose(2, 3, 4, 1, 0))
  np.testing.assert_array_equal(
      variables["batch_stats"]["bn1"]["var"], state["stem.1.running_var"])


def test_every_mismatch_is_listed(state):
  broken = dict(state)
  del broken["layer2.0.conv3.1.running_var"]
  del broken["stem.0.weight"]
  broken["layer9.0.conv1.0.weight"] = np.zeros((1, 1, 1, 1, 1), np.float32)
  broken["layer1.0.conv1.0.weight"] = broken["layer1.0.conv1.0.weight"][:, :2]
  with pytest.raises(ValueError) as error:
    _convert(broken)
  message = str(error.value)
  assert "missing in the vmz checkpoint (ir_csn_152) (2):" in message
  assert "batch_stats/conv3_1/bn3/var (128,) <- layer2.0.conv3.1.running_var" \
      in message
  assert "params/conv1/kernel (3, 7, 7, 3, 24) <- stem.0.weight" in message
  assert "unexpected in the vmz checkpoint (ir_csn_152) (1):\n" \
      "  layer9.0.conv1.0.weight (1, 1, 1, 1, 1)" in message
  assert "mis-shaped (1):\n  params/conv2_1/conv1/kernel (1, 1, 1, 24, 16) " \
      "<- layer1.0.conv1.0.weight (16, 2, 1, 1, 1)" in message


def test_only_num_batches_tracked_is_consumed_silently(state):
  assert any(k.endswith("num_batches_tracked") for k in state)
  extra = {**state, "layer1.0.conv1.1.num_batches_seen": np.array(1)}
  with pytest.raises(ValueError, match="unexpected.*\n  layer1.0.conv1.1."
                     "num_batches_seen"):
    _convert(extra)


def test_class_names_must_match_the_head(state):
  with pytest.raises(ValueError, match="4 class names for a checkpoint "
                     "with 5 classes"):
    converters.convert("vmz", "ir_csn_152", state, model=MODEL,
                       class_names=LABELS[:4])


def test_kinetics_i3d_needs_its_label_map():
  with pytest.raises(ValueError, match="No class-name list ships for "
                     "kinetics_i3d rgb"):
    converters.convert("kinetics_i3d", "rgb", {
        "RGB/inception_i3d/Logits/Conv3d_0c_1x1/conv_3d/b": np.zeros(400)},
        model="i3d_rgb_tiny")


def test_cli_writes_a_loadable_weights_dir(tmp_path, state):
  checkpoint = tmp_path / "ir.safetensors"
  checkpoint.write_bytes(safetensors_bytes(state))
  labels = tmp_path / "labels.txt"
  labels.write_text("\n".join(LABELS) + "\n")
  info = convert.convert_checkpoint("vmz", "ir_csn_152", str(checkpoint),
                                    str(tmp_path / "out"), str(labels),
                                    model=MODEL)
  model, variables, loaded = weights.load(str(tmp_path / "out"))
  assert loaded == info and loaded.source["sha256"] == file_digest.sha256_of_file(
      str(checkpoint))
  assert loaded.preprocessing.num_frames == 32
  _, converted = _convert(state)
  jax.tree.map(np.testing.assert_array_equal, variables, converted)
  clip = jax.ShapeDtypeStruct((1, 4, 32, 32, 3), np.float32)
  logits = jax.eval_shape(lambda x: model.apply(variables, x, train=False),
                          clip)
  assert logits.shape == (1, 5)


def test_download_checks_the_published_hash_prefix(tmp_path):
  source = tmp_path / "net.pth"
  source.write_bytes(b"weights")
  digest = file_digest.sha256_of_file(str(source))
  good = tmp_path / f"net-{digest[:8]}.pth"
  bad = tmp_path / "net-00000000.pth"
  for path in (good, bad):
    path.write_bytes(b"weights")
  assert fetch.download(good.as_uri(), str(tmp_path / "a"), False) == digest
  with pytest.raises(ValueError, match="does not start with the published "
                     "00000000"):
    fetch.download(bad.as_uri(), str(tmp_path / "b"), False)
  assert not (tmp_path / "b").exists()


def test_fetch_offline_is_one_line_and_fails(tmp_path, monkeypatch):
  def unreachable(*args, **kwargs):
    raise urllib.error.URLError("Name or service not known")
  monkeypatch.setattr(fetch.urllib.request, "urlopen", unreachable)
  monkeypatch.setattr(fetch, "CACHE_DIR", str(tmp_path))
  convert.FLAGS(["convert", "--fetch=torchvision:r3d_18"])
  try:
    with pytest.raises(SystemExit) as exit_info:
      convert.main(["convert"])
  finally:
    convert.FLAGS.unparse_flags()
  message = str(exit_info.value.code)
  assert message.startswith("video_flax.convert: offline: cannot reach "
                            "download.pytorch.org")
  assert "\n" not in message
