"""Channel-separated networks (Tran et al., ICCV 2019).

  python -m video_flax.main --config=configs/csn.py            # tiny ir-CSN, synthetic data
  python -m video_flax.main --config=configs/csn.py:ir_csn_152 # paper settings
  python -m video_flax.main --config=configs/csn.py:ir_csn_152,stage=fixed,init_from=DIR

The argument: one preset and options (base_config.OPTIONS: stage=,
init_from=), comma-separated.

Presets:
  tiny (default) = ir_csn_tiny; ip_csn_tiny: small CSNs on the built-in
    synthetic set; train on 2 CPU cores in minutes.
  ir_csn_152, ip_csn_152, ir_csn_101, ip_csn_101, ir_csn_50, ip_csn_50: the
    paper's models at 32x224x224 with 400 classes (Kinetics), 32 frames 2
    apart, SGD + warmup + cosine (base_config.CSN_32X2, CSN_RECIPE).
"""
from __future__ import annotations

import ml_collections

from video_flax import base_config

_TINY = base_config.Preset(model="ir_csn_tiny")
PRESETS = {
    "tiny": _TINY,
    "ir_csn_tiny": _TINY,
    "ip_csn_tiny": base_config.Preset(model="ip_csn_tiny"),
    **{name: base_config.Preset(model=name, dropout_rate=0.2,
                                kinetics=base_config.CSN_32X2)
       for name in ("ir_csn_152", "ip_csn_152", "ir_csn_101", "ip_csn_101",
                    "ir_csn_50", "ip_csn_50")},
}


def get_config(arg: str = "tiny") -> ml_collections.ConfigDict:
  """The config of `arg` (the text after `csn.py:`)."""
  return base_config.config_from_arg(arg, PRESETS, "tiny", "csn")
