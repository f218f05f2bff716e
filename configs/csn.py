"""Channel-separated networks (Tran et al., ICCV 2019).

  python -m video_flax.main --config=configs/csn.py            # tiny ir-CSN, synthetic data
  python -m video_flax.main --config=configs/csn.py:ir_csn_152 # paper settings

Presets:
  tiny (default): a small ir-CSN on the built-in synthetic set; trains on
    2 CPU cores in minutes.
  ir_csn_152, ip_csn_152, ir_csn_101: the paper's models at 32x224x224 with
    400 classes (Kinetics), 32 frames 2 apart, SGD + warmup + cosine.
"""
from __future__ import annotations

import ml_collections

from video_flax import base_config

_PAPER_MODELS = ("ir_csn_152", "ip_csn_152", "ir_csn_101", "ip_csn_101",
                 "ir_csn_50", "ip_csn_50")


def get_config(preset: str = "tiny") -> ml_collections.ConfigDict:
  """Returns the config of `preset` (the text after `csn.py:`)."""
  config = base_config.get_base_config()
  if preset in ("tiny", "ir_csn_tiny", "ip_csn_tiny"):
    config.model.name = "ip_csn_tiny" if preset == "ip_csn_tiny" else "ir_csn_tiny"
  elif preset in _PAPER_MODELS:
    config.model.name = preset
    config.model.dropout_rate = 0.2
    config.dataset.name = "kinetics"
    config.dataset.num_frames = 32
    config.dataset.frame_stride = 2
    config.dataset.crop_size = 224
    config.dataset.clip_sampling = "csn_32x2"
    config.dataset.scale_jitter = (256, 320)
    config.dataset.eval_split = "val"
    base_config.set_csn_kinetics_schedule(config)
  else:
    raise ValueError(f"Unknown csn preset {preset!r}; known: tiny, "
                     f"ir_csn_tiny, ip_csn_tiny, {', '.join(_PAPER_MODELS)}")
  return config
