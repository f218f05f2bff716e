"""What a real dataset's official files say: videos, labels, splits.

Each dataset reader (kinetics.py, ucf101.py, hmdb51.py) turns a downloaded
folder into a `DatasetListing`: every video of every split once, with its
label, and the split memberships as index lists, so one prepared copy of the
videos serves all folds.
"""
from __future__ import annotations

import collections
import dataclasses
import os
import pathlib

from video_flax.data.prepare import decode


@dataclasses.dataclass(frozen=True)
class VideoEntry:
  video_id: str  # unique within the dataset
  path: str | None  # None: listed in the annotations but not found on disk
  label: int  # index into DatasetListing.class_names; -1 = unlabelled
  start_s: float | None = None  # segment of an untrimmed file to keep
  end_s: float | None = None


@dataclasses.dataclass(frozen=True)
class DatasetListing:
  name: str
  class_names: tuple[str, ...]
  entries: tuple[VideoEntry, ...]
  splits: dict[str, tuple[int, ...]]  # split name -> indices into entries


class FileIndex:
  """Every file under a root, by lower-cased name and by lower-cased stem.

  Built with one walk (Kinetics has ~650k files). Within a stem, files with a
  supported video extension come first, so lookups prefer them.
  """

  def __init__(self, root: str | os.PathLike[str]):
    self.root = str(root)
    if not os.path.isdir(self.root):
      raise FileNotFoundError(f"dataset root {self.root} is not a directory")
    self.by_name: dict[str, list[pathlib.Path]] = collections.defaultdict(list)
    self.by_stem: dict[str, list[pathlib.Path]] = collections.defaultdict(list)
    for dirpath, dirnames, filenames in os.walk(self.root):
      dirnames.sort()
      for filename in sorted(filenames):
        path = pathlib.Path(dirpath) / filename
        self.by_name[filename.lower()].append(path)
        self.by_stem[path.stem.lower()].append(path)
    supported = decode.SUPPORTED_EXTENSIONS
    for paths in self.by_stem.values():
      paths.sort(key=lambda p: (p.suffix.lower() not in supported, str(p)))

  def annotation(self, filename: str) -> pathlib.Path:
    """The file named `filename` (case-insensitive) anywhere under the root."""
    found = self.by_name.get(filename.lower())
    if not found:
      raise FileNotFoundError(f"{filename} not found anywhere under "
                              f"{self.root}")
    return found[0]

  def video(self, key: str, *, by: str = "name", parent: str | None = None
            ) -> str | None:
    """The file whose name (or stem) is `key`, preferring a parent folder
    named `parent`; None when there is none."""
    paths = (self.by_name if by == "name" else self.by_stem).get(key.lower())
    if not paths:
      return None
    if parent is not None:
      for path in paths:
        if path.parent.name.lower() == parent.lower():
          return str(path)
    return str(paths[0])


def read_lines(path: str | os.PathLike[str]) -> list[str]:
  """Non-empty stripped lines (tolerates a BOM and Windows line ends)."""
  with open(path, encoding="utf-8-sig") as f:
    return [line.strip() for line in f if line.strip()]
