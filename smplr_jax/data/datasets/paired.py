"""(prediction, ground truth) JL pairs of a real network, for the DAE.

`PairedJLDataset` holds JL predicted by an image network next to their
ground truth, both root-relative camera-frame metres [N, 42, 3]. The
image-network task writes them (`predictions.npz` in its workdir) and the DAE
task learns that network's errors from them (`data='paired'`).
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from smplr_jax.body import jl as jl_lib


@dataclasses.dataclass(frozen=True)
class PairedJLDataset:
  """JL predicted by a network and their ground truth, root-relative.

  Attributes:
    pred_jl: [N, 42, 3] float32 predictions (metres, root-relative).
    gt_jl: [N, 42, 3] float32 ground truth (metres, root-relative).
  """
  pred_jl: np.ndarray
  gt_jl: np.ndarray

  def __post_init__(self):
    for name in ('pred_jl', 'gt_jl'):
      array = getattr(self, name)
      jl_lib.check_jl(array, name, batch='N')
      if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f'{name} must be floating point, got {array.dtype}')
      bad = ~np.isfinite(array).all(axis=(1, 2))
      if bad.any():
        raise ValueError(f'{name} has NaN/Inf values in {bad.sum()} of '
                         f'{len(array)} samples (first: index '
                         f'{int(np.argmax(bad))}); drop or fix them.')
    if len(self.pred_jl) != len(self.gt_jl):
      raise ValueError(f'pred_jl has {len(self.pred_jl)} samples, gt_jl '
                       f'{len(self.gt_jl)}; they must be pairs.')
    if not len(self.pred_jl):
      raise ValueError('the dataset is empty')

  @classmethod
  def load(cls, path: str | os.PathLike[str]) -> 'PairedJLDataset':
    """Reads an .npz with `pred_jl` and `gt_jl`, both [N, 42, 3] in metres.

    Both are made root-relative (point 0 subtracted) and cast to float32.

    Raises:
      ValueError: a missing file or key, wrong shapes, NaN/Inf values.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
      raise ValueError(
          f'paired JL file {path!r} not found; expected an .npz with arrays '
          "'pred_jl' and 'gt_jl' of shape [N, 42, 3] (metres), e.g. "
          "np.savez(path, pred_jl=predictions, gt_jl=ground_truth).")
    with np.load(path, allow_pickle=False) as data:  # data only, no code
      missing = {'pred_jl', 'gt_jl'} - set(data.files)
      if missing:
        raise ValueError(f'{path}: missing arrays {sorted(missing)} (has '
                         f'{sorted(data.files)}); expected pred_jl and gt_jl, '
                         'both [N, 42, 3].')
      pred, gt = data['pred_jl'], data['gt_jl']
    cls(pred, gt)  # validates before the root subtraction
    return cls(
        (pred - pred[:, :1]).astype(np.float32),
        (gt - gt[:, :1]).astype(np.float32))

  def __len__(self) -> int:
    return len(self.pred_jl)

  def split(self, held_out_fraction: float
            ) -> tuple['PairedJLDataset', 'PairedJLDataset']:
    """(train, held-out): the last `held_out_fraction` of the samples are
    held out (at least one sample in each part)."""
    n = len(self)
    held = round(n * held_out_fraction)
    if n < 2 or not 0 < held < n:
      raise ValueError(f'cannot hold out {held_out_fraction:.0%} of {n} '
                       'samples and keep both parts non-empty')
    return (PairedJLDataset(self.pred_jl[:-held], self.gt_jl[:-held]),
            PairedJLDataset(self.pred_jl[-held:], self.gt_jl[-held:]))
