"""Reads a TensorFlow checkpoint (TensorBundle V2: `PREFIX.index` +
`PREFIX.data-SSSSS-of-NNNNN`) into numpy arrays, without TensorFlow.

The index is a LevelDB-format table (sorted string table, uncompressed as
TF writes it): a 48-byte footer points to the index block, whose entries
point to data blocks; every data block entry maps a tensor name to a
serialized `BundleEntryProto` (dtype, shape, shard, offset, size), the
empty name to the `BundleHeaderProto` (shard count, endianness). Tensors
are raw C-order bytes at `offset` in their shard. Only numeric dtypes are
read (strings, e.g. TF2's object graph, are listed but refused on read).
"""
from __future__ import annotations

import os
import struct

import ml_dtypes
import numpy as np

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48
BLOCK_TRAILER_SIZE = 5  # compression type byte + masked crc32c
DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8,
          5: np.int16, 6: np.int8, 9: np.int64, 10: np.bool_,
          14: ml_dtypes.bfloat16, 19: np.float16}


def _varint(data: bytes, pos: int) -> tuple[int, int]:
  result, shift = 0, 0
  while True:
    byte = data[pos]
    result |= (byte & 0x7F) << shift
    pos += 1
    if not byte & 0x80:
      return result, pos
    shift += 7


def _proto_fields(data: bytes) -> list[tuple[int, int | bytes]]:
  """(field number, value) of a serialized protobuf message, in order."""
  fields, pos = [], 0
  while pos < len(data):
    key, pos = _varint(data, pos)
    number, wire = key >> 3, key & 7
    if wire == 0:
      value, pos = _varint(data, pos)
    elif wire == 1:
      value, pos = int.from_bytes(data[pos:pos + 8], "little"), pos + 8
    elif wire == 2:
      size, pos = _varint(data, pos)
      value, pos = data[pos:pos + size], pos + size
    elif wire == 5:
      value, pos = int.from_bytes(data[pos:pos + 4], "little"), pos + 4
    else:
      raise ValueError(f"unsupported protobuf wire type {wire}")
    fields.append((number, value))
  return fields


def _block(data: bytes, handle: bytes) -> list[tuple[bytes, bytes]]:
  """The (key, value) entries of the table block a BlockHandle points to."""
  offset, pos = _varint(handle, 0)
  size, _ = _varint(handle, pos)
  if data[offset + size] != 0:
    raise ValueError("compressed checkpoint index blocks are not supported")
  block = data[offset:offset + size]
  (num_restarts,) = struct.unpack("<I", block[-4:])
  end = len(block) - 4 - 4 * num_restarts
  entries, pos, key = [], 0, b""
  while pos < end:
    shared, pos = _varint(block, pos)
    unshared, pos = _varint(block, pos)
    value_size, pos = _varint(block, pos)
    key = key[:shared] + block[pos:pos + unshared]
    pos += unshared
    entries.append((key, block[pos:pos + value_size]))
    pos += value_size
  return entries


def _entry(value: bytes) -> dict:
  """A BundleEntryProto as {'dtype', 'shape', 'shard', 'offset', 'size'}."""
  entry = {"dtype": 0, "shape": (), "shard": 0, "offset": 0, "size": 0}
  for number, field in _proto_fields(value):
    if number == 1:
      entry["dtype"] = field
    elif number == 2:
      dims = [dict(_proto_fields(dim)).get(1, 0)
              for n, dim in _proto_fields(field) if n == 2]
      entry["shape"] = tuple(dims)
    elif number in (3, 4, 5):
      entry[{3: "shard", 4: "offset", 5: "size"}[number]] = field
    elif number == 7:
      raise ValueError("partitioned (sliced) checkpoint variables are not "
                       "supported")
  return entry


def read_index(prefix: str) -> tuple[dict, dict[str, dict]]:
  """(header {'num_shards', 'big_endian'}, {tensor name: entry})."""
  path = prefix + ".index"
  if not os.path.isfile(path):
    raise FileNotFoundError(f"No TensorFlow checkpoint index {path}")
  with open(path, "rb") as f:
    data = f.read()
  footer = data[-FOOTER_SIZE:]
  if len(data) < FOOTER_SIZE or struct.unpack("<Q", footer[-8:])[0] != (
      TABLE_MAGIC):
    raise ValueError(f"{path} is not a TensorFlow checkpoint index "
                     f"(TensorBundle V2)")
  _, pos = _varint(footer, 0)
  _, pos = _varint(footer, pos)  # metaindex handle (unused)
  entries = {}
  for _, handle in _block(data, footer[pos:]):
    entries.update(_block(data, handle))
  header = dict(_proto_fields(entries.pop(b"", b"")))
  return ({"num_shards": header.get(1, 1), "big_endian": header.get(2) == 1},
          {k.decode(): _entry(v) for k, v in entries.items()})


def load(prefix: str) -> dict[str, np.ndarray]:
  """{variable name: array} of the checkpoint `prefix` (no extension).

  Raises FileNotFoundError / ValueError naming the file that is wrong.
  """
  header, entries = read_index(prefix)
  shards: dict[int, bytes] = {}
  tensors = {}
  for name, entry in entries.items():
    if entry["dtype"] not in DTYPES:
      raise ValueError(f"{prefix}: variable {name} has dtype enum "
                       f"{entry['dtype']}, which this reader does not read")
    shard = entry["shard"]
    if shard not in shards:
      path = f"{prefix}.data-{shard:05d}-of-{header['num_shards']:05d}"
      if not os.path.isfile(path):
        raise FileNotFoundError(f"Missing checkpoint data file {path}")
      with open(path, "rb") as f:
        shards[shard] = f.read()
    dtype = np.dtype(DTYPES[entry["dtype"]])
    raw = shards[shard][entry["offset"]:entry["offset"] + entry["size"]]
    if len(raw) != int(np.prod(entry["shape"])) * dtype.itemsize:
      raise ValueError(f"{prefix}: variable {name} {entry['shape']} has "
                       f"{len(raw)} bytes of data")
    order = ">" if header["big_endian"] else "<"
    tensors[name] = np.frombuffer(raw, dtype.newbyteorder(order)).astype(
        dtype).reshape(entry["shape"])
  return tensors
