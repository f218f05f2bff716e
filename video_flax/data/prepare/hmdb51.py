"""HMDB-51 in its official layout.

    <root>/hmdb51_org/<class>/<video>.avi        (each class's .rar unpacked)
    <root>/testTrainMulti_7030_splits/<class>_test_split{1,2,3}.txt
        lines "<video>.avi <code>": 1 = train, 2 = test, 0 = unused

Folder names may differ: both are found anywhere under <root>. Class indices
follow the sorted class names of the split files. Splits are named
train1/test1, train2/test2, train3/test3; videos unused (0) in every listed
fold are not listed.
"""
from __future__ import annotations

import re

from video_flax.data.prepare import listing

_SPLIT_FILE = re.compile(r"^(.+)_test_split([1-9])\.txt$")
_CODE_TO_KIND = {"1": "train", "2": "test"}


def list_hmdb51(root: str) -> listing.DatasetListing:
  """Every HMDB-51 video of every fold under `root` (see module docstring)."""
  files = listing.FileIndex(root)
  split_files = []
  for name, paths in files.by_name.items():
    match = _SPLIT_FILE.match(name)
    if match:
      class_name = paths[0].name[:len(match.group(1))]
      split_files.append((int(match.group(2)), class_name, paths[0]))
  if not split_files:
    raise FileNotFoundError(f"no <class>_test_split<k>.txt files under {root}")
  class_names = sorted({c for _, c, _ in split_files})
  label_of = {c: i for i, c in enumerate(class_names)}
  entries: list[listing.VideoEntry] = []
  position: dict[tuple[str, str], int] = {}
  members: dict[str, list[int]] = {}
  for fold, class_name, path in sorted(split_files):
    for line in listing.read_lines(path):
      parts = line.split()
      if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
        raise ValueError(f"{path}: expected '<video>.avi <0|1|2>', got "
                         f"{line!r}")
      filename, code = parts
      if code not in _CODE_TO_KIND:
        continue
      key = (class_name, filename.lower())
      if key not in position:
        position[key] = len(entries)
        entries.append(listing.VideoEntry(
            video_id=filename.rsplit(".", 1)[0],
            path=files.video(filename, parent=class_name),
            label=label_of[class_name]))
      members.setdefault(f"{_CODE_TO_KIND[code]}{fold}", []).append(
          position[key])
  splits = {name: tuple(m) for name, m in sorted(members.items())}
  return listing.DatasetListing("hmdb51", tuple(class_names),
                                      tuple(entries), splits)
