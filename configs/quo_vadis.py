"""The Table 1 baselines of "Quo Vadis, Action Recognition?" (Carreira &
Zisserman, CVPR 2017); I3D itself is configs/i3d.py.

  python -m video_flax.main --config=configs/quo_vadis.py   # tiny C3D
  python -m video_flax.main --config=configs/quo_vadis.py:c3d_bn

Presets:
  tiny (default) = c3d_bn_tiny; convnet_lstm_tiny: the small variants on the
    built-in synthetic set (8x32x32). C3D trains at learning rate 0.05: at
    the default 0.2 it stayed at chance for 2000 steps (its BN'd fc layers;
    docs/quo_vadis.md, "Learning motion").
  two_stream_late_fusion_tiny, two_stream_3d_fused_tiny: the small flow
    models on the synthetic set's exact flow (dataset.streams 'rgb+flow'):
    8 RGB frames at 32x32 with one flow frame each (2 snippets of the tiny
    models' 4 flow frames). On prepared UCF-101 instead, as in configs/i3d.py.
  Kinetics-400, each with its paper clip sampling (clip_sampling.PRESETS):
    convnet_lstm            25 frames, 1 of every 5 at 25 fps; test 50
    two_stream_late_fusion  1 RGB frame + 10 flow frames; test 25 snippets
    two_stream_3d_fused     5 RGB frames 10 apart + 10 flow frames each;
                            test 5 clips
    c3d_bn                  16 frames at 112x112 (short side 128); test 15
                            clips = 240 frames
    Training crops: short side 256, random 224 crop, flips; test: centre
    crop. SGD momentum 0.9, learning rate 0.1, weight decay 1e-7, dropout
    0.5 (the I3D release's), 110k steps, cosine where the paper divides the
    rate by 10 when validation loss saturates. Batch: 32 GPUs (64 for C3D)
    as in the paper, x 6 clips (the I3D release's) or 15 (C3D's, the
    paper's). Late fusion trains both streams in one model, each with half
    the gradient of a separate run, so it doubles the rate.
"""
from __future__ import annotations

import ml_collections

from video_flax import base_config

_SYNTHETIC_TINY = ("c3d_bn_tiny", "convnet_lstm_tiny")
_FLOW_TINY = ("two_stream_late_fusion_tiny", "two_stream_3d_fused_tiny")
# Paper model -> (clip_sampling, RGB frames, frame stride, crop, streams,
# batch size, learning rate).
_PAPER = {
    "convnet_lstm": ("lstm", 25, 5, 224, "rgb", 32 * 6, 0.1),
    "two_stream_late_fusion": ("two_stream", 1, 1, 224, "rgb+flow", 32 * 6,
                               0.2),
    "two_stream_3d_fused": ("fused_3d", 5, 10, 224, "rgb+flow", 32 * 6, 0.1),
    "c3d_bn": ("c3d", 16, 1, 112, "rgb", 64 * 15, 0.1),
}
PRESETS = ("tiny", *_SYNTHETIC_TINY, *_FLOW_TINY, *_PAPER)


def _paper(config: ml_collections.ConfigDict, name: str) -> None:
  sampling, frames, stride, crop, streams, batch, lr = _PAPER[name]
  config.model.name = name
  config.model.dropout_rate = 0.5
  config.dataset.name = "kinetics"
  config.dataset.clip_sampling = sampling
  config.dataset.num_frames = frames
  config.dataset.frame_stride = stride
  config.dataset.crop_size = crop
  config.dataset.streams = streams
  # C3D resizes frames to 128x171 before its 112 crops.
  config.dataset.scale_jitter = (128, 128) if crop == 112 else (256, 256)
  config.dataset.eval_split = "val"
  config.dataset.eval_crop = "center"
  config.train.batch_size = batch
  config.train.num_steps = 110_000
  config.train.learning_rate = lr
  config.train.weight_decay = 1e-7
  config.train.warmup_steps = 0
  config.train.checkpoint_every_steps = 2_000
  config.eval.batch_size = 64
  config.eval.precise_bn_batches = 200


def get_config(preset: str = "tiny") -> ml_collections.ConfigDict:
  """Returns the config of `preset` (the text after `quo_vadis.py:`)."""
  config = base_config.get_base_config()
  if preset in ("tiny", *_SYNTHETIC_TINY):
    config.model.name = "c3d_bn_tiny" if preset == "tiny" else preset
    if config.model.name == "c3d_bn_tiny":
      config.train.learning_rate = 0.05
  elif preset in _FLOW_TINY:
    config.model.name = preset
    config.dataset.streams = "rgb+flow"
  elif preset in _PAPER:
    _paper(config, preset)
  else:
    raise ValueError(f"Unknown quo_vadis preset {preset!r}; known: "
                     f"{', '.join(PRESETS)}")
  return config
