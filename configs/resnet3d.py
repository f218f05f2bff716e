r"""The 3D ResNet family: R3D, MCx, rMCx, R(2+1)D, R2D, P3D, group convs,
ResNeXt-3D and S3D-style separable convs (video_flax/models/resnet3d.py).

  python -m video_flax.main --config=configs/resnet3d.py   # tiny R3D
  python -m video_flax.main --config=configs/resnet3d.py:r2plus1d_18
  python -m video_flax.main --config=configs/resnet3d.py \
      --config.model.name=mc3_18                          # tiny MC3
  python -m video_flax.main --config=configs/resnet3d.py:r2plus1d_18,stage=fixed,init_from=DIR

The argument: one preset and options (base_config.OPTIONS: stage=,
init_from=), comma-separated.

Presets:
  tiny (default): R3D-18's torchvision layout cut to one simple block per
    stage of 16-128 channels (the `model.*` size fields), on the built-in
    synthetic set (8x32x32); the same fields shrink any other ResNet3D named
    with --config.model.name.
  frame2d_tiny: the single-frame 2D baseline on the same data, the
    motion-blind control.
  one per registered ResNet3D (generated from the registry), Kinetics with
    400 classes at the model's reference clip (resnet3d.REFERENCE_SHAPES):
    16x112x112, torchvision / R(2+1)D-paper layout (r3d_18, mcX_18, rmcX_18,
      r2plus1d_18, r2d_18, ...): 16 consecutive frames at 25 fps, short side
      128 then random 112 crops, 10 test clips, torchvision's normalisation.
    8x224x224 or 32x224x224, CSN layout (r3d_26..152, gc_r3d_*, p3d_*,
      s3d_sep_*, resnext3d_*, r2plus1d_50.., r3d_18_csn and the ir/ip-CSNs of
      depth 18-34 the paper ablates): 8 or 32 frames 2 apart at 30 fps.
    Both train with csn.py's recipe (base_config.CSN_RECIPE).
  ir/ip-CSN 50-152 and the tiny CSNs are configs/csn.py's presets.
"""
from __future__ import annotations

import dataclasses

import ml_collections

from video_flax import base_config
from video_flax.models import resnet3d

Preset = base_config.Preset

_SERVED_BY_CSN_CONFIG = frozenset(
    f"{kind}_csn_{depth}" for kind in ("ir", "ip")
    for depth in (50, 101, 152, "tiny"))
# Reference clip (T, H, W) -> its Kinetics clip.
_CLIPS = {
    (16, 112, 112): base_config.Kinetics(
        clip_sampling="c3d", num_frames=16, crop_size=112,
        scale_jitter=(128, 128), recipe=base_config.CSN_RECIPE),
    (8, 224, 224): dataclasses.replace(
        base_config.CSN_32X2, clip_sampling="csn_8x2", num_frames=8),
    (32, 224, 224): base_config.CSN_32X2,
}
# The R(2+1)D paper tests 10 clips (the c3d preset's default is 15) and
# torchvision's weights expect its Kinetics mean / std.
_TORCHVISION_LAYOUT = {"dataset.eval_num_clips": 10,
                       "dataset.normalization": "kinetics"}


def _kinetics(name: str) -> Preset:
  frames, size, _ = resnet3d.REFERENCE_SHAPES[name]
  torchvision_layout = size == 112
  return Preset(model=name, dropout_rate=0.0 if torchvision_layout else 0.2,
                kinetics=_CLIPS[(frames, size, size)],
                overrides=_TORCHVISION_LAYOUT if torchvision_layout else {})


PRESETS = {
    # R3D-18's layout cut to one block per stage of 16-128 channels.
    "tiny": Preset(model="r3d_18", overrides={
        "model.stage_sizes": (1, 1, 1, 1), "model.widths": (16, 32, 64, 128),
        "model.stem_features": 16}),
    "frame2d_tiny": Preset(model="frame2d_tiny"),
    **{name: _kinetics(name)
       for name, (t, h, w) in sorted(resnet3d.REFERENCE_SHAPES.items())
       if name not in _SERVED_BY_CSN_CONFIG and (t, h, w) in _CLIPS},
}


def get_config(arg: str = "tiny") -> ml_collections.ConfigDict:
  """The config of `arg` (the text after `resnet3d.py:`)."""
  return base_config.config_from_arg(arg, PRESETS, "tiny", "resnet3d")
