"""Variable trees addressed by '/'-joined paths ('params/conv1/kernel').

Shared by the code that maps one tree onto another by path
(transfer.merge_variables, inflation.inflate_variables; weight import from
other frameworks belongs here too), so they flatten alike and report a
mismatch alike: every missing, unexpected and mis-shaped path, with shapes.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import flax


def flatten(tree: Mapping[str, Any]) -> dict[str, Any]:
  """{'params': {'conv1': {'kernel': x}}} -> {'params/conv1/kernel': x}."""
  return flax.traverse_util.flatten_dict(flax.core.unfreeze(tree), sep="/")


def unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
  """The inverse of `flatten`."""
  return flax.traverse_util.unflatten_dict(dict(flat), sep="/")


def raise_if_mismatched(message: str, source_name: str, *,
                        missing: Sequence[str], unexpected: Sequence[str],
                        misshaped: Sequence[str]) -> None:
  """Raises ValueError(`message` + one section per non-empty list), e.g.
  "missing in the checkpoint (2):\\n  params/head/kernel (64, 10)"."""
  sections = ((f"missing in the {source_name}", missing),
              (f"unexpected in the {source_name}", unexpected),
              ("mis-shaped", misshaped))
  parts = [f"{title} ({len(items)}):\n  " + "\n  ".join(items)
           for title, items in sections if items]
  if parts:
    raise ValueError(message + "\n" + "\n".join(parts))
