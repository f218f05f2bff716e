"""Converted-weights directories of tiny models and small video files for
the weights, predict and extract_features tests."""
from __future__ import annotations

import jax
import numpy as np

from video_flax import weights
from video_flax import variable_init
from video_flax.data.prepare import video_writer
from video_flax.weights import format as weights_format

MODEL = "ir_csn_tiny"


def tiny_info(num_classes: int = 5, model: str = MODEL, **preprocessing
              ) -> weights.WeightsInfo:
  """A WeightsInfo for a tiny model on 4x16x16 clips."""
  pre = dict(num_frames=4, resize_short_side=20, crop_size=16,
             mean=(0.45, 0.45, 0.45), std=(0.225, 0.225, 0.225),
             eval_num_clips=2)
  pre.update(preprocessing)
  return weights.WeightsInfo(
      model=model, num_classes=num_classes,
      class_names=[f"class {i}" for i in range(num_classes)],
      preprocessing=weights.Preprocessing(**pre),
      source={"format": "test", "name": model, "file": "", "sha256": ""})


def random_variables(info: weights.WeightsInfo, seed: int = 0) -> dict:
  """Numpy variables of the info's model with non-trivial BN statistics."""
  model = info.build_model()
  v = variable_init.random_variables(
      model, weights_format.dummy_inputs(model, info.preprocessing), seed)
  rng = np.random.default_rng(seed + 1)
  return jax.tree.map(
      lambda x: np.asarray(x) + rng.uniform(0.1, 0.5, x.shape).astype(
          np.float32), {"params": v["params"], "batch_stats": v["batch_stats"]})


def save_tiny_weights(path: str, num_classes: int = 5, **preprocessing
                      ) -> weights.WeightsInfo:
  """Writes random tiny weights to `path`; returns their info."""
  info = tiny_info(num_classes, **preprocessing)
  weights.save(path, info, random_variables(info))
  return info


def write_index_video(path: str, num_frames: int = 12, height: int = 32,
                      width: int = 48) -> None:
  """Frame i is uniformly grey at 20 * i + 10 (its index survives the codec)
  with a bright left third (so crops differ)."""
  frames = np.zeros((num_frames, height, width, 3), np.uint8)
  for i in range(num_frames):
    frames[i] = 20 * i + 10
    frames[i, :, :width // 3] = 250
  video_writer.write_video(path, frames, fps=25.0)
