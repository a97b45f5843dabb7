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


def as_rgb(image: Any, name: str = 'image') -> np.ndarray:
  """An image as uint8 [H, W, 3]: grayscale is replicated, RGBA loses its
  alpha, floats in [0, 1] and 16-bit integers are scaled.

  Raises:
    ValueError: not an image array (wrong rank or channels, NaN, empty).
  """
  image = np.asarray(image)
  if image.ndim == 3 and image.shape[-1] == 1:
    image = image[..., 0]
  if image.ndim == 2:
    image = np.repeat(image[..., None], 3, axis=-1)
  if image.ndim != 3 or image.shape[-1] not in (3, 4):
    raise ValueError(f'{name} must be [H, W], [H, W, 3] or [H, W, 4], got '
                     f'shape {image.shape}.')
  image = image[..., :3]
  if min(image.shape[:2]) < 8:
    raise ValueError(f'{name} is too small ({image.shape[1]} x '
                     f'{image.shape[0]} pixels).')
  if np.issubdtype(image.dtype, np.floating):
    if not np.all(np.isfinite(image)):
      raise ValueError(f'{name} contains NaN or Inf values.')
    if image.min() < 0.0 or image.max() > 1.0:
      raise ValueError(f'{name}: float images must lie in [0, 1], got '
                       f'[{image.min():.3g}, {image.max():.3g}].')
    image = np.round(image * 255.0)
  elif image.dtype == np.uint16:  # 16-bit photos: scaled to 8 bits
    image = np.round(image / 257.0)
  elif image.dtype != np.uint8:
    if image.min() < 0 or image.max() > 255:
      raise ValueError(f'{name}: integer images must lie in [0, 255].')
  return image.astype(np.uint8)
