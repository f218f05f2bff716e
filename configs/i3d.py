"""I3D (Carreira & Zisserman, CVPR 2017) and its successors S3D / S3D-G.

  python -m video_flax.main --config=configs/i3d.py   # tiny RGB I3D
  python -m video_flax.main --config=configs/i3d.py:two_stream_i3d
  python -m video_flax.main --config=configs/i3d.py:i3d_rgb,stage=finetune,init_from=DIR

The argument: one preset and options (base_config.OPTIONS: stage=,
init_from=), comma-separated.

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
    at test. Training as the I3D release (base_config.I3D_RECIPE): SGD
    momentum 0.9, 64 x 6 clips, learning rate 0.1, weight decay 1e-7,
    dropout 0.5 (S3D: 0.2, its model's), 115k steps (flow 155k); cosine
    here where the release steps the rate down by 10x twice. Two streams in
    one model share the batch and each gets half the gradient, so
    two_stream_i3d doubles the rate.
  inception_v1_2d: the 2D network on single Kinetics frames (the RGB stream's
    sampling of configs/quo_vadis.py:two_stream_late_fusion), the weights
    `--config.transfer.inflate_2d` turns into I3D's.
"""
from __future__ import annotations

import dataclasses

import ml_collections

from video_flax import base_config

Preset = base_config.Preset


def _kinetics(model: str, *, streams: str = "rgb", dropout_rate: float = 0.5,
              num_steps: int = 115_000, learning_rate: float = 0.1,
              clip_sampling: str = "i3d", num_frames: int = 64) -> Preset:
  recipe = dataclasses.replace(base_config.I3D_RECIPE, num_steps=num_steps,
                               learning_rate=learning_rate)
  return Preset(model=model, dropout_rate=dropout_rate, streams=streams,
                kinetics=base_config.Kinetics(
                    clip_sampling=clip_sampling, num_frames=num_frames,
                    recipe=recipe))


PRESETS = {
    "tiny": Preset(model="i3d_rgb_tiny"),
    **{name: Preset(model=name) for name in (
        "i3d_rgb_tiny", "s3d_tiny", "s3d_g_tiny", "inception_v1_2d_tiny")},
    "i3d_flow_tiny": Preset(model="i3d_flow_tiny", streams="flow"),
    "two_stream_i3d_tiny": Preset(model="two_stream_i3d_tiny",
                                  streams="rgb+flow"),
    "i3d_rgb": _kinetics("i3d_rgb"),
    "i3d_flow": _kinetics("i3d_flow", streams="flow", num_steps=155_000),
    # Two streams in one model each get half the gradient: double the rate.
    "two_stream_i3d": _kinetics("two_stream_i3d", streams="rgb+flow",
                                num_steps=155_000, learning_rate=0.2),
    "s3d": _kinetics("s3d", dropout_rate=0.2),
    "s3d_g": _kinetics("s3d_g", dropout_rate=0.2),
    "inception_v1_2d": _kinetics("inception_v1_2d",
                                 clip_sampling="two_stream", num_frames=1),
}


def get_config(arg: str = "tiny") -> ml_collections.ConfigDict:
  """The config of `arg` (the text after `i3d.py:`)."""
  return base_config.config_from_arg(arg, PRESETS, "tiny", "i3d")
