"""Checksums of every checkpoint file, written at save, verified at restore.

orbax's atomic rename means a crash mid-save leaves no finished-looking
step directory, but it does not catch bytes that change afterwards (a bad
disk, a partial copy, a stray write). `write_manifest` records the SHA-256
and size of every file of a finished step directory in MANIFEST (written
last and atomically, so a step without it never finished saving);
`problem` re-reads them and names the first file that is missing or differs.
"""
from __future__ import annotations

import json
import os

from video_flax import file_digest

MANIFEST = "video_flax_sha256.json"


def _files(step_dir: str) -> list[str]:
  """Paths relative to `step_dir` of its files (the manifest excluded)."""
  found = []
  for root, _, names in os.walk(step_dir):
    for name in names:
      rel = os.path.relpath(os.path.join(root, name), step_dir)
      if rel != MANIFEST:
        found.append(rel)
  return sorted(found)


def write_manifest(step_dir: str) -> None:
  """Records every file's size and SHA-256 in `step_dir`/MANIFEST."""
  manifest = {rel: {"bytes": os.path.getsize(os.path.join(step_dir, rel)),
                    "sha256": file_digest.sha256_of_file(os.path.join(step_dir, rel))}
              for rel in _files(step_dir)}
  tmp = os.path.join(step_dir, MANIFEST + ".tmp")
  with open(tmp, "w") as f:
    json.dump(manifest, f, indent=0, sort_keys=True)
    f.flush()
    os.fsync(f.fileno())
  os.replace(tmp, os.path.join(step_dir, MANIFEST))


def problem(step_dir: str) -> str | None:
  """Why `step_dir` cannot be trusted (the first problem found), or None."""
  path = os.path.join(step_dir, MANIFEST)
  if not os.path.isfile(path):
    return f"no {MANIFEST}: its save did not finish"
  try:
    with open(path) as f:
      manifest = json.load(f)
    entries = [(rel, int(e["bytes"]), str(e["sha256"]))
               for rel, e in manifest.items()]
  except (OSError, ValueError, TypeError, KeyError, AttributeError) as e:
    return f"unreadable {MANIFEST}: {e}"
  for rel, size, sha in entries:
    file = os.path.join(step_dir, rel)
    if not os.path.isfile(file):
      return f"{rel} is missing"
    if os.path.getsize(file) != size:
      return f"{rel} has {os.path.getsize(file)} bytes, {size} were saved"
    if file_digest.sha256_of_file(file) != sha:
      return f"{rel} differs from what was saved (SHA-256 mismatch)"
  return None
