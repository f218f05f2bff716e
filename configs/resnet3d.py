r"""The 3D ResNet family: R3D, MCx, rMCx, R(2+1)D, R2D, P3D, group convs,
ResNeXt-3D and S3D-style separable convs (video_flax/models/resnet3d.py).

  python -m video_flax.main --config=configs/resnet3d.py   # tiny R3D
  python -m video_flax.main --config=configs/resnet3d.py:r2plus1d_18
  python -m video_flax.main --config=configs/resnet3d.py \
      --config.model.name=mc3_18                          # tiny MC3

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
    Both train with csn.py's recipe (base_config.set_csn_kinetics_schedule).
  ir/ip-CSN 50-152 and the tiny CSNs are configs/csn.py's presets.
"""
from __future__ import annotations

import ml_collections

from video_flax import base_config
from video_flax.models import resnet3d

_SERVED_BY_CSN_CONFIG = frozenset(
    f"{kind}_csn_{depth}" for kind in ("ir", "ip")
    for depth in (50, 101, 152, "tiny"))
# Clip (T, H, W) -> (clip_sampling preset, frame stride, scale jitter).
_CLIPS = {(16, 112, 112): ("c3d", 1, (128, 128)),
          (8, 224, 224): ("csn_8x2", 2, (256, 320)),
          (32, 224, 224): ("csn_32x2", 2, (256, 320))}
PAPER_PRESETS = tuple(sorted(
    name for name, shape in resnet3d.REFERENCE_SHAPES.items()
    if name not in _SERVED_BY_CSN_CONFIG and shape in _CLIPS))
PRESETS = ("tiny", "frame2d_tiny", *PAPER_PRESETS)


def _tiny(config: ml_collections.ConfigDict) -> None:
  config.model.name = "r3d_18"
  config.model.stage_sizes = (1, 1, 1, 1)
  config.model.widths = (16, 32, 64, 128)
  config.model.stem_features = 16


def _kinetics(config: ml_collections.ConfigDict, name: str) -> None:
  frames, size, _ = resnet3d.REFERENCE_SHAPES[name]
  sampling, stride, jitter = _CLIPS[(frames, size, size)]
  torchvision_layout = size == 112
  config.model.name = name
  config.model.dropout_rate = 0.0 if torchvision_layout else 0.2
  config.dataset.name = "kinetics"
  config.dataset.num_frames = frames
  config.dataset.frame_stride = stride
  config.dataset.crop_size = size
  config.dataset.clip_sampling = sampling
  config.dataset.scale_jitter = jitter
  config.dataset.eval_split = "val"
  if torchvision_layout:
    # The R(2+1)D paper tests 10 clips (the c3d preset's default is 15) and
    # torchvision's weights expect its Kinetics mean / std.
    config.dataset.eval_num_clips = 10
    config.dataset.normalization = "kinetics"
  base_config.set_csn_kinetics_schedule(config)


def get_config(preset: str = "tiny") -> ml_collections.ConfigDict:
  """Returns the config of `preset` (the text after `resnet3d.py:`)."""
  config = base_config.get_base_config()
  if preset == "tiny":
    _tiny(config)
  elif preset == "frame2d_tiny":
    config.model.name = "frame2d_tiny"
  elif preset in PAPER_PRESETS:
    _kinetics(config, preset)
  else:
    raise ValueError(f"Unknown resnet3d preset {preset!r}; known: "
                     f"{', '.join(PRESETS)}")
  return config
