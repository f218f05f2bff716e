"""The published checkpoints this project converts: per source format and
model, our registered model (and kwargs), the preprocessing the weights
were trained and evaluated with, the class-name list, and the publisher's
download URL.

torchvision (torchvision/models/video/{resnet,s3d}.py, Kinetics-400):
  VideoClassification transforms, mean (0.43216, 0.394666, 0.37645), std
  (0.22803, 0.22145, 0.216989) on [0, 1] RGB; the ResNets resize to
  128 x 171 and crop 112, evaluated on 16-frame clips at 15 fps (5 clips per
  video); S3D resizes to 256 x 256, crops 224, evaluated on 128-frame clips
  at 15 fps (1 clip per video). Weight file names end in the first 8 hex
  digits of their SHA-256, which torch.hub checks.
VMZ (facebookresearch/VMZ pt/vmz/models, Kinetics-400 fine-tuned): CSN-152
  at 32 frames, 256 short side, crop 224; R(2+1)D-34 (moabitcoin/
  ig65m-pytorch, the files VMZ links) at 32 or 8 frames, 128 x 171, crop
  112; torchvision's mean/std; 15 fps (VMZ's test.py); BN epsilon 1e-3.
kinetics-i3d (deepmind/kinetics-i3d): 64 frames (the paper tests on whole
  videos; 64 is the training clip) at 25 fps, 224 x 224 (short side 256),
  RGB in [-1, 1], flow (TV-L1) clipped to [-20, 20] px and scaled to [-1, 1].
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any, Mapping

from video_flax.weights.format import Preprocessing

LABELS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "labels")
TORCHVISION_MEAN = (0.43216, 0.394666, 0.37645)
TORCHVISION_STD = (0.22803, 0.22145, 0.216989)
TORCHVISION_URL = "https://download.pytorch.org/models/"
VMZ_URL = "https://github.com/bjuncek/VMZ/releases/download/test_models/"
IG65M_URL = ("https://github.com/moabitcoin/ig65m-pytorch/releases/download/"
             "v1.0.0/")
I3D_URL = "https://github.com/deepmind/kinetics-i3d/raw/master/data/"


@dataclasses.dataclass(frozen=True)
class Published:
  """One converter target: a source model and what goes with it.

  label_file: a file in weights/labels/, or None when this project ships no
    list for it (the converter then needs one from the user or the fetch).
  label_note: where the class order comes from, recorded in weights_info.
  urls: fetch name -> URL (kinetics-i3d: the checkpoint prefix's URL).
  """
  model: str
  preprocessing: Preprocessing
  model_kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  label_file: str | None = "kinetics400_torchvision.txt"
  label_note: str = "torchvision.models._meta._KINETICS400_CATEGORIES"
  urls: Mapping[str, str] = dataclasses.field(default_factory=dict)


def _torchvision_resnet(url: str) -> Published:
  return Published(
      model=url.split("-")[0],
      preprocessing=Preprocessing(
          num_frames=16, fps=15.0, resize_short_side=128, crop_size=112,
          mean=TORCHVISION_MEAN, std=TORCHVISION_STD, eval_num_clips=5),
      urls={"kinetics400": TORCHVISION_URL + url})


VMZ_LABEL_NOTE = (
    "torchvision order (sorted class names): VMZ's PyTorch code reads "
    "Kinetics with torchvision.datasets.Kinetics400, whose classes are the "
    "sorted folder names; VMZ publishes no label list with the weights")


def _vmz(model: str, num_frames: int, size: tuple[int, int], urls: dict,
         **model_kwargs: Any) -> Published:
  return Published(
      model=model, model_kwargs=model_kwargs, label_note=VMZ_LABEL_NOTE,
      preprocessing=Preprocessing(
          num_frames=num_frames, fps=15.0, resize_short_side=size[0],
          crop_size=size[1], mean=TORCHVISION_MEAN, std=TORCHVISION_STD,
          eval_num_clips=10),
      urls=urls)


def _i3d(model: str, input_key: str, urls: dict) -> Published:
  return Published(
      model=model, label_file=None,
      label_note="deepmind/kinetics-i3d data/label_map.txt",
      preprocessing=Preprocessing(
          num_frames=64, fps=25.0, resize_short_side=256, crop_size=224,
          mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), value_range=(-1.0, 1.0),
          input_key=input_key, eval_num_clips=1,
          flow_scale=({"clip_px": 20, "range": [-1, 1]}
                      if input_key == "flow" else None)),
      urls=urls)


PUBLISHED: dict[str, dict[str, Published]] = {
    "torchvision": {
        "r3d_18": _torchvision_resnet("r3d_18-b3b3357e.pth"),
        "mc3_18": _torchvision_resnet("mc3_18-a90a0ba3.pth"),
        "r2plus1d_18": _torchvision_resnet("r2plus1d_18-91a641e6.pth"),
        "s3d": Published(
            model="s3d",
            preprocessing=Preprocessing(
                num_frames=128, fps=15.0, resize_short_side=256,
                crop_size=224, mean=TORCHVISION_MEAN, std=TORCHVISION_STD,
                eval_num_clips=1),
            urls={"kinetics400": TORCHVISION_URL + "s3d-d76dad2f.pth"}),
    },
    "vmz": {
        "ir_csn_152": _vmz("ir_csn_152", 32, (256, 224), {
            "ig65m_ft_kinetics": VMZ_URL
            + "irCSN_152_ft_kinetics_from_ig65m_f126851907.pth",
            "sports1m_ft_kinetics": VMZ_URL
            + "irCSN_152_ft_kinetics_from_Sports1M_f101599884.pth"}),
        "ip_csn_152": _vmz("ip_csn_152", 32, (256, 224), {
            "ig65m_ft_kinetics": VMZ_URL
            + "ipCSN_152_ft_kinetics_from_ig65m_f133090949.pth",
            "sports1m_ft_kinetics": VMZ_URL
            + "ipCSN_152_ft_kinetics_from_Sports1M_f111279053.pth"}),
        "r2plus1d_34": _vmz("r2plus1d_34", 32, (128, 112), {
            "ig65m_ft_kinetics": IG65M_URL
            + "r2plus1d_34_clip32_ft_kinetics_from_ig65m-ade133f1.pth"},
            bn_epsilon=1e-3),
        "r2plus1d_34_8": _vmz("r2plus1d_34", 8, (128, 112), {
            "ig65m_ft_kinetics": IG65M_URL
            + "r2plus1d_34_clip8_ft_kinetics_from_ig65m-0aa0550b.pth"},
            bn_epsilon=1e-3),
    },
    "kinetics_i3d": {
        "rgb": _i3d("i3d_rgb", "video", {
            "imagenet": I3D_URL + "checkpoints/rgb_imagenet/model.ckpt",
            "scratch": I3D_URL + "checkpoints/rgb_scratch/model.ckpt"}),
        "flow": _i3d("i3d_flow", "flow", {
            "imagenet": I3D_URL + "checkpoints/flow_imagenet/model.ckpt",
            "scratch": I3D_URL + "checkpoints/flow_scratch/model.ckpt"}),
    },
}
I3D_LABEL_MAP_URL = I3D_URL + "label_map.txt"


def published(source: str, name: str) -> Published:
  """The entry for `source` ('torchvision', 'vmz', 'kinetics_i3d') and
  `name`; ValueError listing the known ones."""
  if source not in PUBLISHED:
    raise ValueError(f"Unknown source {source!r}; known: "
                     f"{', '.join(PUBLISHED)}")
  if name not in PUBLISHED[source]:
    raise ValueError(f"Unknown {source} model {name!r}; known: "
                     f"{', '.join(PUBLISHED[source])}")
  return PUBLISHED[source][name]


def read_labels(path: str) -> tuple[str, ...]:
  """One class name per line (blank lines ignored)."""
  with open(path) as f:
    return tuple(line.strip() for line in f if line.strip())


def shipped_labels(entry: Published) -> tuple[str, ...] | None:
  """The class names this package ships for `entry`, or None."""
  if entry.label_file is None:
    return None
  return read_labels(os.path.join(LABELS_DIR, entry.label_file))
