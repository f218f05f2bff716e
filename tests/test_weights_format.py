"""The converted-weights directory: round trip and one clear error per
kind of bad input."""
from __future__ import annotations

import dataclasses
import json
import os

import jax
import numpy as np
import pytest

import weights_fixtures
from video_flax import models
from video_flax import weights

MODEL = weights_fixtures.MODEL
tiny_info = weights_fixtures.tiny_info
random_variables = weights_fixtures.random_variables


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
  info = tiny_info()
  variables = random_variables(info)
  path = str(tmp_path_factory.mktemp("weights"))
  weights.save(path, info, variables)
  return path, info, variables


def test_round_trip_gives_same_info_variables_and_logits(saved):
  path, info, variables = saved
  model, loaded, loaded_info = weights.load(path)
  assert loaded_info == info
  flat = jax.tree_util.tree_leaves_with_path(variables)
  assert len(flat) == len(jax.tree.leaves(loaded)) > 10
  for key, value in flat:
    got = loaded
    for k in key:
      got = got[k.key]
    np.testing.assert_array_equal(got, value)
    assert got.dtype == np.float32
  x = np.random.default_rng(0).standard_normal((2, 4, 16, 16, 3), np.float32)
  # jitted: eager op-by-op dispatch of the tiny net took minutes on a busy CPU
  reference = jax.jit(lambda v, x: models.build_model(MODEL, 5).apply(
      v, x, train=False))(variables, x)
  logits = jax.jit(lambda v, x: model.apply(v, x, train=False))(loaded, x)
  np.testing.assert_allclose(logits, reference, rtol=1e-6, atol=1e-6)
  assert sorted(os.listdir(path)) == ["variables.msgpack", "weights_info.json"]


def test_info_json_is_the_documented_layout(saved):
  path, _, _ = saved
  with open(os.path.join(path, "weights_info.json")) as f:
    data = json.load(f)
  assert data["format_version"] == 1 and data["model"] == MODEL
  assert len(data["class_names"]) == data["num_classes"] == 5
  assert data["preprocessing"]["mean"] == [0.45] * 3
  assert {"input_key", "fps", "num_frames", "frame_stride", "channel_order",
          "value_range", "flow_scale", "eval_crop"} <= set(
              data["preprocessing"])


def test_missing_directory_and_files_are_named(saved, tmp_path):
  with pytest.raises(FileNotFoundError, match="no_such_dir"):
    weights.load(str(tmp_path / "no_such_dir"))
  with pytest.raises(FileNotFoundError, match="weights_info.json"):
    weights.load(str(tmp_path))
  path, info, _ = saved
  partial = tmp_path / "partial"
  partial.mkdir()
  (partial / "weights_info.json").write_text(info.to_json())
  with pytest.raises(FileNotFoundError, match="variables.msgpack"):
    weights.load(str(partial))


def _copy_with(saved, tmp_path, name: str, data: bytes) -> str:
  path, _, _ = saved
  copy = tmp_path / "copy"
  copy.mkdir()
  for f in os.listdir(path):
    (copy / f).write_bytes(open(os.path.join(path, f), "rb").read())
  (copy / name).write_bytes(data)
  return str(copy)


def test_corrupt_msgpack_is_named(saved, tmp_path):
  path = _copy_with(saved, tmp_path, "variables.msgpack", b"\xc1not msgpack")
  with pytest.raises(ValueError, match="variables.msgpack is corrupt"):
    weights.load(path)


def test_corrupt_or_incomplete_info_is_named(saved, tmp_path):
  path = _copy_with(saved, tmp_path, "weights_info.json", b"{not json")
  with pytest.raises(ValueError, match="weights_info.json"):
    weights.load(path)
  data = json.loads(saved[1].to_json())
  del data["num_classes"]
  (tmp_path / "copy" / "weights_info.json").write_text(json.dumps(data))
  with pytest.raises(ValueError, match="num_classes"):
    weights.load(path)


def test_unknown_model_and_version_are_named(saved, tmp_path):
  data = json.loads(saved[1].to_json())
  path = _copy_with(saved, tmp_path, "weights_info.json",
                    json.dumps({**data, "model": "no_such_net"}).encode())
  with pytest.raises(ValueError, match="Unknown model 'no_such_net'"):
    weights.load(path)
  (tmp_path / "copy" / "weights_info.json").write_text(
      json.dumps({**data, "format_version": 2}))
  with pytest.raises(ValueError, match="format_version 2"):
    weights.load(path)


def test_mismatched_variables_are_listed_on_save_and_load(saved, tmp_path):
  path, info, variables = saved
  wrong = dataclasses.replace(info, model="ip_csn_tiny")
  with pytest.raises(ValueError, match="mis-shaped|missing") as err:
    weights.save(str(tmp_path / "w"), wrong, variables)
  assert "params/" in str(err.value)
  assert not os.path.exists(tmp_path / "w")
  copy = _copy_with(saved, tmp_path, "weights_info.json",
                    dataclasses.replace(info, num_classes=3,
                                        class_names=("a", "b", "c")
                                        ).to_json().encode())
  with pytest.raises(ValueError, match="params/head/kernel") as err:
    weights.load(copy)
  assert "variables.msgpack" in str(err.value)


def test_invalid_info_fields_fail_at_construction():
  with pytest.raises(ValueError, match="3 class_names for num_classes=5"):
    dataclasses.replace(tiny_info(), class_names=("a", "b", "c"))
  with pytest.raises(ValueError, match="eval_crop 'corner'"):
    tiny_info(eval_crop="corner")
  with pytest.raises(ValueError, match="value_range"):
    tiny_info(value_range=(0, 255))


def test_trainer_finetunes_from_converted_weights_to_another_class_count(
    tmp_path, monkeypatch):
  # Converted weights with 7 classes; the tiny synthetic dataset has 12.
  from train_configs import tiny_train_config  # pylint: disable=g-import-not-at-top
  from video_flax import train  # pylint: disable=g-import-not-at-top
  from video_flax import transfer  # pylint: disable=g-import-not-at-top
  info = tiny_info(num_classes=7)
  saved_variables = random_variables(info, seed=3)
  weights_dir = str(tmp_path / "converted")
  weights.save(weights_dir, info, saved_variables)
  started_from = []
  real_initial_variables = transfer.initial_variables
  monkeypatch.setattr(transfer, "initial_variables", lambda cfg, target: (
      started_from.append(real_initial_variables(cfg, target))
      or started_from[-1]))
  config = tiny_train_config(**{"transfer.stage": "finetune",
                                "transfer.init_from": weights_dir,
                                "train.num_steps": 2})
  results = train.train_and_evaluate(config, str(tmp_path / "run"))
  assert len(results["per_class_accuracy"]) == 12
  for png in ("confusion_matrix.png", "per_class_accuracy.png"):
    assert os.path.getsize(tmp_path / "run" / png) > 1000  # beside results.json
  (start,) = started_from
  assert start["params"]["head"]["kernel"].shape[-1] == 12
  assert start["params"]["head"]["kernel"].shape[0] == (
      saved_variables["params"]["head"]["kernel"].shape[0])
  backbone = {c: {k: v for k, v in saved_variables[c].items() if k != "head"}
              for c in ("params", "batch_stats")}
  start_backbone = {c: {k: v for k, v in start[c].items() if k != "head"}
                    for c in ("params", "batch_stats")}
  saved_leaves = jax.tree_util.tree_leaves_with_path(backbone)
  assert len(saved_leaves) == len(jax.tree.leaves(start_backbone)) > 10
  for (path, a), b in zip(saved_leaves, jax.tree.leaves(start_backbone)):
    np.testing.assert_array_equal(a, b, err_msg=str(path))
  after = transfer.load_variables(str(tmp_path / "run"))
  assert not np.array_equal(after["params"]["head"]["kernel"],
                            start["params"]["head"]["kernel"])
