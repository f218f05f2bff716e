"""Reads a `.safetensors` file into numpy arrays (no dependency).

Layout: an 8-byte little-endian header length N, N bytes of JSON
{name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]},
"__metadata__": {...}}, then the byte buffer the offsets index.
"""
from __future__ import annotations

import json
import struct

import ml_dtypes
import numpy as np

DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16,
    "BF16": ml_dtypes.bfloat16, "I64": np.int64, "I32": np.int32,
    "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_,
}


def load(path: str) -> dict[str, np.ndarray]:
  """{tensor name: array} of the file; ValueError naming what is wrong."""
  with open(path, "rb") as f:
    data = f.read()
  if len(data) < 8:
    raise ValueError(f"{path}: too short for a safetensors file")
  (header_size,) = struct.unpack("<Q", data[:8])
  if 8 + header_size > len(data):
    raise ValueError(f"{path}: safetensors header of {header_size} bytes runs "
                     f"past the end of the file ({len(data)} bytes)")
  try:
    header = json.loads(data[8:8 + header_size])
  except ValueError as e:
    raise ValueError(f"{path}: safetensors header is not JSON ({e})") from None
  buffer = memoryview(data)[8 + header_size:]
  tensors = {}
  for name, entry in header.items():
    if name == "__metadata__":
      continue
    if entry.get("dtype") not in DTYPES:
      raise ValueError(f"{path}: tensor {name} has unsupported dtype "
                       f"{entry.get('dtype')!r} (known: {', '.join(DTYPES)})")
    dtype = np.dtype(DTYPES[entry["dtype"]])
    shape = tuple(int(n) for n in entry["shape"])
    begin, end = (int(x) for x in entry["data_offsets"])
    if not 0 <= begin <= end <= len(buffer) or (
        end - begin != int(np.prod(shape)) * dtype.itemsize):
      raise ValueError(f"{path}: tensor {name} {entry['dtype']}{list(shape)} "
                       f"has bad data_offsets [{begin}, {end}]")
    tensors[name] = np.frombuffer(buffer[begin:end], dtype.newbyteorder("<")
                                  ).astype(dtype).reshape(shape)
  return tensors
