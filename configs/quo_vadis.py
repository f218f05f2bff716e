"""The Table 1 baselines of "Quo Vadis, Action Recognition?" (Carreira &
Zisserman, CVPR 2017); I3D itself is configs/i3d.py.

  python -m video_flax.main --config=configs/quo_vadis.py   # tiny C3D
  python -m video_flax.main --config=configs/quo_vadis.py:c3d_bn

The argument: one preset and options (base_config.OPTIONS: stage=,
init_from=), comma-separated.

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
    0.5 (the I3D release's, base_config.I3D_RECIPE), 110k steps, cosine
    where the paper divides the rate by 10 when validation loss saturates. Batch: 32 GPUs (64 for C3D)
    as in the paper, x 6 clips (the I3D release's) or 15 (C3D's, the
    paper's). Late fusion trains both streams in one model, each with half
    the gradient of a separate run, so it doubles the rate.
"""
from __future__ import annotations

import dataclasses

import ml_collections

from video_flax import base_config

Preset = base_config.Preset


def _kinetics(model: str, *, clip_sampling: str, num_frames: int,
              frame_stride: int = 1, crop_size: int = 224,
              streams: str = "rgb", batch_size: int = 32 * 6,
              learning_rate: float = 0.1) -> Preset:
  recipe = dataclasses.replace(
      base_config.I3D_RECIPE, batch_size=batch_size, num_steps=110_000,
      learning_rate=learning_rate)
  # C3D resizes frames to 128x171 before its 112 crops.
  short_side = 128 if crop_size == 112 else 256
  return Preset(model=model, dropout_rate=0.5, streams=streams,
                kinetics=base_config.Kinetics(
                    clip_sampling=clip_sampling, num_frames=num_frames,
                    frame_stride=frame_stride, crop_size=crop_size,
                    scale_jitter=(short_side, short_side), recipe=recipe))


# At the default learning rate 0.2 the tiny C3D stayed at chance.
_C3D_TINY = Preset(model="c3d_bn_tiny",
                   overrides={"train.learning_rate": 0.05})
PRESETS = {
    "tiny": _C3D_TINY,
    "c3d_bn_tiny": _C3D_TINY,
    "convnet_lstm_tiny": Preset(model="convnet_lstm_tiny"),
    **{name: Preset(model=name, streams="rgb+flow") for name in (
        "two_stream_late_fusion_tiny", "two_stream_3d_fused_tiny")},
    "convnet_lstm": _kinetics("convnet_lstm", clip_sampling="lstm",
                              num_frames=25, frame_stride=5),
    # Both streams in one model, each with half the gradient: double rate.
    "two_stream_late_fusion": _kinetics(
        "two_stream_late_fusion", clip_sampling="two_stream", num_frames=1,
        streams="rgb+flow", learning_rate=0.2),
    "two_stream_3d_fused": _kinetics(
        "two_stream_3d_fused", clip_sampling="fused_3d", num_frames=5,
        frame_stride=10, streams="rgb+flow"),
    "c3d_bn": _kinetics("c3d_bn", clip_sampling="c3d", num_frames=16,
                        crop_size=112, batch_size=64 * 15),
}


def get_config(arg: str = "tiny") -> ml_collections.ConfigDict:
  """The config of `arg` (the text after `quo_vadis.py:`)."""
  return base_config.config_from_arg(arg, PRESETS, "tiny", "quo_vadis")
