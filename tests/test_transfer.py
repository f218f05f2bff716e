"""The merge function: head re-initialisation and loud mismatches."""
from __future__ import annotations

import jax
import numpy as np
import pytest

from video_flax import models
from video_flax import transfer
from video_flax import variable_init


def _variables(num_classes: int, name: str = "ir_csn_tiny"):
  """Random variables (seeded by num_classes) of the model's shapes; from
  numpy: model.init runs every initializer eagerly, ~15 s on XLA:CPU."""
  model = models.build_model(name, num_classes)
  v = variable_init.random_variables(model, np.zeros((1, 4, 16, 16, 3)),
                                     seed=num_classes)
  return jax.tree.map(np.asarray, dict(v))


def test_different_class_count_reinitialises_only_the_head(capsys):
  source, target = _variables(7), _variables(5)
  merged = transfer.merge_variables(target, source)
  for path in ("params", "batch_stats"):
    flat_m = jax.tree_util.tree_leaves_with_path(merged[path])
    flat_s = dict(jax.tree_util.tree_leaves_with_path(source[path]))
    flat_t = dict(jax.tree_util.tree_leaves_with_path(target[path]))
    for key, value in flat_m:
      if transfer.is_head([getattr(k, "key", "") for k in key]):
        np.testing.assert_array_equal(value, flat_t[key])
      else:
        np.testing.assert_array_equal(value, flat_s[key])
  assert merged["params"]["head"]["kernel"].shape[-1] == 5
  assert "Re-initialised the classifier" in capsys.readouterr().out


def test_misshaped_backbone_fails_naming_parameters():
  source, target = _variables(5), _variables(5, "ip_csn_tiny")
  with pytest.raises(ValueError) as err:
    transfer.merge_variables(target, source)
  message = str(err.value)
  assert "params/" in message and ("mis-shaped" in message
                                   or "missing" in message)


def test_missing_and_unexpected_are_listed():
  source, target = _variables(5), _variables(5)
  stem_kernel = next(iter(source["params"]))
  moved = dict(source["params"])
  moved["renamed_" + stem_kernel] = moved.pop(stem_kernel)
  with pytest.raises(ValueError) as err:
    transfer.merge_variables(target, {"params": moved,
                                      "batch_stats": source["batch_stats"]})
  message = str(err.value)
  assert "missing in the checkpoint" in message
  assert "unexpected in the checkpoint" in message
  assert "renamed_" + stem_kernel in message
