"""Checks of arrays that enter from outside (files, callers, the command line).

Inside the library arrays are trusted, so that jitted functions stay pure
(`smpl.smpl_forward` lets a NaN pose propagate); where they come in,
loaders and predictors call these host-side (numpy) checks, whose messages
name the array and the first bad example.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def first_bad(bad: np.ndarray, name: str, total: int | None = None) -> str:
  """'name[i] (k of n examples)' for a [B] boolean mask with a True."""
  bad = np.asarray(bad, bool).reshape(-1)
  total = bad.size if total is None else total
  return (f'{name}[{int(np.argmax(bad))}] ({int(bad.sum())} of {total} '
          'examples)')


def check_finite(array: Any, name: str, batched: bool = True) -> None:
  """Raises ValueError when `array` holds NaN or Inf.

  Args:
    array: [B, ...] a batch (`batched`), or one example of any shape.
    name: the array's name in the message.
    batched: name the first bad example along axis 0.

  Raises:
    ValueError: e.g. 'pose[3] (2 of 8 examples) holds NaN or Inf values'.
  """
  values = np.asarray(array)
  if not np.issubdtype(values.dtype, np.inexact):  # ints cannot be NaN
    return
  finite = np.isfinite(values)
  if finite.all():
    return
  if batched and values.ndim >= 1 and values.shape[0]:
    where = first_bad(~finite.reshape(values.shape[0], -1).all(axis=1), name)
  else:
    where = name
  raise ValueError(f'{where} holds NaN or Inf values; fix or drop them '
                   'before they reach the networks.')
