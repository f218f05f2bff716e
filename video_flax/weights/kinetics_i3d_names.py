"""Our I3D variable paths -> deepmind/kinetics-i3d checkpoint names.

kinetics-i3d (i3d.py) builds `InceptionI3d` under a scope 'RGB' or 'Flow'
with Sonnet modules: every Unit3D is `conv_3d/w` (no bias) then
`batch_norm/{beta, moving_mean, moving_variance}` (Sonnet's BatchNorm has
no scale/gamma by default, nor does our I3D); block branches are
`Branch_k/Conv3d_0a_1x1`, `Conv3d_0b_3x3` ... with one quirk kept from the
release: Mixed_5b's Branch_2 3x3 conv is named `Conv3d_0a_3x3`. The logits
are `Logits/Conv3d_0c_1x1/conv_3d/{w, b}`.
"""
from __future__ import annotations

STEM = {"Conv_1a_7x7": "Conv3d_1a_7x7", "Conv_2b_1x1": "Conv3d_2b_1x1",
        "Conv_2c_3x3": "Conv3d_2c_3x3"}
BRANCHES = {"b0_1x1": "Branch_0/Conv3d_0a_1x1",
            "b1_1x1": "Branch_1/Conv3d_0a_1x1",
            "b1_3x3": "Branch_1/Conv3d_0b_3x3",
            "b2_1x1": "Branch_2/Conv3d_0a_1x1",
            "b2_3x3": "Branch_2/Conv3d_0b_3x3",
            "b3_1x1": "Branch_3/Conv3d_0b_1x1"}
LEAVES = {("conv", "kernel"): "conv_3d/w", ("conv", "bias"): "conv_3d/b",
          ("bn", "bias"): "batch_norm/beta",
          ("bn", "scale"): "batch_norm/gamma",
          ("bn", "mean"): "batch_norm/moving_mean",
          ("bn", "var"): "batch_norm/moving_variance"}
SCOPES = {"video": "RGB/inception_i3d", "flow": "Flow/inception_i3d"}


def i3d_name(path: str, scope: str) -> str | None:
  """'params/backbone/Mixed_5b/b2_3x3/conv/kernel' (scope 'RGB/inception_i3d')
  -> 'RGB/inception_i3d/Mixed_5b/Branch_2/Conv3d_0a_3x3/conv_3d/w'."""
  parts = path.split("/")[1:]
  leaf = LEAVES.get(tuple(parts[-2:]))
  if leaf is None:
    return None
  modules = parts[:-2]
  if modules == ["head"]:
    return f"{scope}/Logits/Conv3d_0c_1x1/{leaf}"
  if len(modules) == 2 and modules[0] == "backbone" and modules[1] in STEM:
    return f"{scope}/{STEM[modules[1]]}/{leaf}"
  if (len(modules) != 3 or modules[0] != "backbone"
      or not modules[1].startswith("Mixed_") or modules[2] not in BRANCHES):
    return None
  branch = BRANCHES[modules[2]]
  if modules[1] == "Mixed_5b" and modules[2] == "b2_3x3":
    branch = "Branch_2/Conv3d_0a_3x3"
  return f"{scope}/{modules[1]}/{branch}/{leaf}"
