"""UCF-101 in its official layout.

    <root>/UCF-101/<Class>/v_<Class>_gXX_cYY.avi
    <root>/ucfTrainTestlist/classInd.txt          "1 ApplyEyeMakeup"
    <root>/ucfTrainTestlist/trainlist0{1,2,3}.txt "ApplyEyeMakeup/v_..._g08_c01.avi 1"
    <root>/ucfTrainTestlist/testlist0{1,2,3}.txt  "ApplyEyeMakeup/v_..._g01_c01.avi"

Folder names may differ: the annotation files and videos are found anywhere
under <root>. Labels are classInd's 1-based indices minus one. Splits are
named train1/test1, train2/test2, train3/test3 (folds whose lists exist).
"""
from __future__ import annotations

from video_flax.data.prepare import listing

NUM_FOLDS = 3


def _class_index(files: listing.FileIndex
                 ) -> tuple[list[str], dict[str, int]]:
  path = files.annotation("classInd.txt")
  numbered = []
  for line in listing.read_lines(path):
    parts = line.split()
    if len(parts) != 2 or not parts[0].isdigit():
      raise ValueError(f"{path}: expected '<index> <ClassName>', got {line!r}")
    numbered.append((int(parts[0]), parts[1]))
  numbered.sort()
  if [i for i, _ in numbered] != list(range(1, len(numbered) + 1)):
    raise ValueError(f"{path}: class indices are not 1..{len(numbered)}")
  names = [name for _, name in numbered]
  return names, {name.lower(): i for i, name in enumerate(names)}


def list_ucf101(root: str) -> listing.DatasetListing:
  """Every UCF-101 video of every fold under `root` (see module docstring)."""
  files = listing.FileIndex(root)
  class_names, label_of = _class_index(files)
  entries: list[listing.VideoEntry] = []
  position: dict[str, int] = {}
  splits: dict[str, tuple[int, ...]] = {}
  for fold in range(1, NUM_FOLDS + 1):
    for kind in ("train", "test"):
      try:
        list_path = files.annotation(f"{kind}list0{fold}.txt")
      except FileNotFoundError:
        continue
      members = []
      for line in listing.read_lines(list_path):
        parts = line.split()
        relpath = parts[0].replace("\\", "/")
        class_name, _, filename = relpath.rpartition("/")
        if class_name.lower() not in label_of:
          raise ValueError(f"{list_path}: class {class_name!r} of {line!r} is "
                           f"not in classInd.txt")
        label = label_of[class_name.lower()]
        if len(parts) > 1 and int(parts[1]) - 1 != label:
          raise ValueError(f"{list_path}: {line!r} gives label {parts[1]} but "
                           f"classInd.txt numbers {class_name} {label + 1}")
        key = relpath.lower()
        if key not in position:
          position[key] = len(entries)
          entries.append(listing.VideoEntry(
              video_id=filename.rsplit(".", 1)[0],
              path=files.video(filename, parent=class_name), label=label))
        members.append(position[key])
      splits[f"{kind}{fold}"] = tuple(members)
  if not splits:
    raise FileNotFoundError(f"no trainlist0N.txt / testlist0N.txt under {root}")
  return listing.DatasetListing("ucf101", tuple(class_names),
                                      tuple(entries), splits)
