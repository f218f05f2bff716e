"""Tiny real-video dataset trees in the official Kinetics / UCF-101 / HMDB-51
layouts, written with PyAV, with the bad files a real download contains.

Frame i of every generated video has a flat grey block of level
8 + 5 * i in its top-left corner (see `frame_number`), so tests can tell
which source frame a decoded frame is, independently of the decoder (up to
50 frames).
"""
from __future__ import annotations

import csv
import os

import numpy as np

from video_flax.data.prepare import video_writer


def counter_frames(num_frames: int, height: int = 48, width: int = 64,
                   seed: int = 0, dx: int = 1) -> np.ndarray:
  """uint8 [T, H, W, 3]: a smooth texture moving right by dx px per frame,
  with the frame number coded in a 16x16 top-left block."""
  rng = np.random.default_rng(seed)
  base = rng.integers(0, 256, (height // 4 + 1, (width + dx * num_frames) // 4
                               + 2, 3)).astype(np.uint8)
  texture = np.kron(base, np.ones((4, 4, 1), np.uint8))[:height]
  frames = np.empty((num_frames, height, width, 3), np.uint8)
  for i in range(num_frames):
    start = texture.shape[1] - width - dx * i
    frames[i] = texture[:, start:start + width]
    frames[i, :16, :16] = 8 + 5 * i
  return frames


def frame_number(frame: np.ndarray) -> int:
  """The frame number coded by counter_frames, read from a decoded frame
  (of the generated 48-pixel height or resized)."""
  lo, hi = (int(round(frame.shape[0] * f / 48)) for f in (4, 12))
  return int(round((frame[lo:hi, lo:hi].mean() - 8) / 5))


def write_truncated(path: str, source: str) -> None:
  """The first half of `source` (a download cut off midway)."""
  with open(source, "rb") as f:
    data = f.read()
  with open(path, "wb") as f:
    f.write(data[:len(data) // 2])


def write_bad_files(folder: str, ext: str, good: str) -> dict[str, str]:
  """Truncated, zero-byte and text-named-video files; name stem -> reason."""
  write_truncated(os.path.join(folder, f"truncated{ext}"), good)
  open(os.path.join(folder, f"empty{ext}"), "wb").close()
  with open(os.path.join(folder, f"notes{ext}"), "w") as f:
    f.write("this is a text file, not a video\n" * 20)
  return {"truncated": "truncated", "empty": "zero_length",
          "notes": "not_a_video"}


def write_ucf101(root: str, classes=("ApplyEyeMakeup", "Basketball",
                                     "CliffDiving"), num_frames: int = 24
                 ) -> dict[str, str]:
  """UCF-101 tree (fold 1 lists only); returns bad video id -> reason."""
  lists = os.path.join(root, "ucfTrainTestlist")
  os.makedirs(lists)
  with open(os.path.join(lists, "classInd.txt"), "w") as f:
    f.writelines(f"{i + 1} {c}\n" for i, c in enumerate(classes))
  train, test = [], []
  for label, c in enumerate(classes):
    folder = os.path.join(root, "UCF-101", c)
    os.makedirs(folder)
    for group, codec in ((1, "mjpeg"), (8, "mpeg4"), (9, "mpeg4")):
      name = f"v_{c}_g{group:02d}_c01.avi"
      video_writer.write_video(os.path.join(folder, name),
                               counter_frames(num_frames, seed=label * 10 + group),
                               25, codec)
      if group == 1:
        test.append(f"{c}/{name}\n")
      else:
        train.append(f"{c}/{name} {label + 1}\n")
  bad_folder = os.path.join(root, "UCF-101", classes[0])
  write_truncated(os.path.join(bad_folder, f"v_{classes[0]}_g10_c01.avi"),
                  os.path.join(bad_folder, f"v_{classes[0]}_g08_c01.avi"))
  open(os.path.join(bad_folder, f"v_{classes[0]}_g11_c01.avi"), "wb").close()
  train += [f"{classes[0]}/v_{classes[0]}_g10_c01.avi 1\n",
            f"{classes[0]}/v_{classes[0]}_g11_c01.avi 1\n",
            f"{classes[1]}/v_{classes[1]}_g12_c01.avi 2\n"]  # not on disk
  with open(os.path.join(lists, "trainlist01.txt"), "w") as f:
    f.writelines(train)
  with open(os.path.join(lists, "testlist01.txt"), "w") as f:
    f.writelines(test)
  return {f"v_{classes[0]}_g10_c01": "truncated",
          f"v_{classes[0]}_g11_c01": "zero_length",
          f"v_{classes[1]}_g12_c01": "missing"}


def write_hmdb51(root: str, classes=("brush_hair", "cartwheel"),
                 num_frames: int = 20) -> dict[str, str]:
  """HMDB-51 tree (split 1 files); per class 2 train, 1 test, 1 unused
  video. Returns bad video id -> reason."""
  splits = os.path.join(root, "testTrainMulti_7030_splits")
  os.makedirs(splits)
  for label, c in enumerate(classes):
    folder = os.path.join(root, "hmdb51_org", c)
    os.makedirs(folder)
    lines = []
    for k, code in enumerate((1, 1, 2, 0)):
      name = f"{c}_video_{k}_f_cm_np1_ri_med_{k}.avi"
      video_writer.write_video(os.path.join(folder, name),
                               counter_frames(num_frames, seed=100 + label * 10 + k),
                               30, "mpeg4" if k % 2 else "mjpeg")
      lines.append(f"{name} {code} \n")
    with open(os.path.join(splits, f"{c}_test_split1.txt"), "w") as f:
      f.writelines(lines)
  short = f"{classes[1]}_too_short.avi"
  video_writer.write_video(os.path.join(root, "hmdb51_org", classes[1], short),
                           counter_frames(3), 30, "mjpeg")
  with open(os.path.join(splits, f"{classes[1]}_test_split1.txt"), "a") as f:
    f.write(f"{short} 1\n")
  return {f"{classes[1]}_too_short": "too_short"}


def write_kinetics(root: str, classes=("abseiling", "air drumming",
                                       "zumba"), num_frames: int = 30
                   ) -> dict[str, str]:
  """Kinetics tree: train clips in class folders (h264 mp4), val clips flat
  (mpeg4 mp4, webm, mkv), one untrimmed video named by its YouTube id, and
  the three bad files. Returns bad video id -> reason."""
  rows = []
  for label, c in enumerate(classes):
    for k in range(2):
      youtube_id = f"{c[:3]}{k}XXXXXXXX"[:11]
      start = 10 * k
      rows.append((c, youtube_id, start, start + 10, "train"))
      folder = os.path.join(root, "train", c)
      os.makedirs(folder, exist_ok=True)
      video_writer.write_video(
          os.path.join(folder, f"{youtube_id}_{start:06d}_{start + 10:06d}.mp4"),
          counter_frames(num_frames, seed=200 + label * 10 + k), 25, "h264")
  val = os.path.join(root, "val")
  os.makedirs(val)
  for label, (c, ext, codec) in enumerate(zip(
      classes, (".mp4", ".webm", ".mkv"), ("mpeg4", "libvpx", "h264"))):
    youtube_id = f"val{label}YYYYYYY"
    rows.append((c, youtube_id, 5, 15, "val"))
    video_writer.write_video(
        os.path.join(val, f"{youtube_id}_{5:06d}_{15:06d}{ext}"),
        counter_frames(num_frames, seed=300 + label), 30, codec)
  # An untrimmed download: the CSV's segment [1 s, 2 s) is cut at prepare time.
  rows.append((classes[0], "untrimmedAA", 1, 2, "val"))
  video_writer.write_video(os.path.join(val, "untrimmedAA.mp4"),
                           counter_frames(50, seed=400), 25, "h264")
  good = os.path.join(val, f"val0YYYYYYY_{5:06d}_{15:06d}.mp4")
  bad = {}
  for stem, reason in write_bad_files(val, ".mp4", good).items():
    video_id = f"{stem}_{0:06d}_{10:06d}"
    os.rename(os.path.join(val, stem + ".mp4"),
              os.path.join(val, video_id + ".mp4"))
    rows.append((classes[1], stem, 0, 10, "val"))
    bad[video_id] = reason
  with open(os.path.join(root, "kinetics_train.csv"), "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["label", "youtube_id", "time_start", "time_end", "split"])
    writer.writerows(r for r in rows if r[4] == "train")
  with open(os.path.join(root, "validate.csv"), "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["label", "youtube_id", "time_start", "time_end", "split",
                     "is_cc"])
    writer.writerows(r + (0,) for r in rows if r[4] == "val")
  return bad
