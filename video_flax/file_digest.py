"""SHA-256 of a file, read in chunks: checkpoint manifests and downloaded
weights are checked with the same function."""
from __future__ import annotations

import hashlib

_CHUNK = 1 << 22


def sha256_of_file(path: str) -> str:
  """Hex SHA-256 of the file at `path`."""
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    while chunk := f.read(_CHUNK):
      digest.update(chunk)
  return digest.hexdigest()
