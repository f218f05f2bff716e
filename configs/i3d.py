"""I3D (Carreira & Zisserman, CVPR 2017) and its successors S3D / S3D-G.

  python -m video_flax.main --config=configs/i3d.py   # tiny RGB I3D
  python -m video_flax.main --config=configs/i3d.py:two_stream_i3d

Presets:
  tiny (default) = i3d_rgb_tiny; s3d_tiny, s3d_g_tiny, inception_v1_2d_tiny
    (the per-frame 2D network I3D inflates: the motion-blind control): the
    small variants on the built-in synthetic set (8x32x32).
  i3d_flow_tiny, two_stream_i3d_tiny: the small flow models on the
    synthetic set's exact flow (dataset.streams 'flow' / 'rgb+flow'), one
    flow frame per RGB frame. On prepared UCF-101 instead:
    --config.dataset.name=ucf101 --config.dataset.scale_jitter='(32, 40)'
    --config.dataset.eval_crop=center (docs/real_data.md).
  i3d_rgb, i3d_flow, two_stream_i3d, s3d, s3d_g: Kinetics-400 with the Quo
    Vadis sampling (clip_sampling 'i3d'): 64 consecutive frames at 25 fps
    (+ 64 flow frames) at a random start, short side 256, random 224 crops
    and flips in training; the whole 10 s video (250 frames), centre crop,
    at test. Training as the I3D release: SGD momentum 0.9, 64 x 6 clips,
    learning rate 0.1, weight decay 1e-7, dropout 0.5 (S3D: 0.2, its
    model's), 115k steps (flow 155k); cosine here where the release steps
    the rate down by 10x twice. Two streams in one model share the batch and
    each gets half the gradient, so two_stream_i3d doubles the rate.
  inception_v1_2d: the 2D network on single Kinetics frames (the RGB stream's
    sampling of configs/quo_vadis.py:two_stream_late_fusion), the weights
    `--config.transfer.inflate_2d` turns into I3D's.
"""
from __future__ import annotations

import ml_collections

from video_flax import base_config

_SYNTHETIC_TINY = ("i3d_rgb_tiny", "s3d_tiny", "s3d_g_tiny",
                   "inception_v1_2d_tiny")
_FLOW_TINY = {"i3d_flow_tiny": "flow", "two_stream_i3d_tiny": "rgb+flow"}
# Paper model -> (input streams, dropout rate, training steps).
_PAPER = {"i3d_rgb": ("rgb", 0.5, 115_000),
          "i3d_flow": ("flow", 0.5, 155_000),
          "two_stream_i3d": ("rgb+flow", 0.5, 155_000),
          "s3d": ("rgb", 0.2, 115_000),
          "s3d_g": ("rgb", 0.2, 115_000)}
PRESETS = ("tiny", *_SYNTHETIC_TINY, *_FLOW_TINY, *_PAPER, "inception_v1_2d")


def _kinetics(config: ml_collections.ConfigDict, sampling: str) -> None:
  config.dataset.name = "kinetics"
  config.dataset.clip_sampling = sampling
  config.dataset.crop_size = 224
  config.dataset.scale_jitter = (256, 256)
  config.dataset.eval_split = "val"
  config.dataset.eval_crop = "center"
  config.train.batch_size = 384
  config.train.weight_decay = 1e-7
  config.train.warmup_steps = 0
  config.train.checkpoint_every_steps = 2_000
  config.eval.batch_size = 64
  config.eval.precise_bn_batches = 200


def _paper(config: ml_collections.ConfigDict, name: str) -> None:
  streams, dropout, steps = _PAPER[name]
  _kinetics(config, "i3d")
  config.model.name = name
  config.model.dropout_rate = dropout
  config.dataset.streams = streams
  config.dataset.num_frames = 64
  config.train.num_steps = steps
  config.train.learning_rate = 0.2 if streams == "rgb+flow" else 0.1


def _inception_2d(config: ml_collections.ConfigDict) -> None:
  _kinetics(config, "two_stream")
  config.model.name = "inception_v1_2d"
  config.model.dropout_rate = 0.5
  config.dataset.num_frames = 1
  config.train.num_steps = 115_000
  config.train.learning_rate = 0.1


def get_config(preset: str = "tiny") -> ml_collections.ConfigDict:
  """Returns the config of `preset` (the text after `i3d.py:`)."""
  config = base_config.get_base_config()
  if preset in ("tiny", *_SYNTHETIC_TINY):
    config.model.name = "i3d_rgb_tiny" if preset == "tiny" else preset
  elif preset in _FLOW_TINY:
    config.model.name = preset
    config.dataset.streams = _FLOW_TINY[preset]
  elif preset in _PAPER:
    _paper(config, preset)
  elif preset == "inception_v1_2d":
    _inception_2d(config)
  else:
    raise ValueError(f"Unknown i3d preset {preset!r}; known: "
                     f"{', '.join(PRESETS)}")
  return config
