"""(prediction, ground truth) JL pairs for the DAE
(smplr_jax.data.datasets.paired)."""

import numpy as np
import pytest
from helpers import write_pairs

from smplr_jax.data.datasets import paired


def test_paired_dataset_loads_root_relative(tmp_path):
  arrays = write_pairs(tmp_path / 'pairs.npz')
  data = paired.PairedJLDataset.load(tmp_path / 'pairs.npz')
  assert len(data) == 40 and data.pred_jl.dtype == np.float32
  np.testing.assert_array_equal(data.gt_jl[:, 0], 0.0)
  np.testing.assert_allclose(data.gt_jl,
                             arrays['gt_jl'] - arrays['gt_jl'][:, :1],
                             atol=1e-6)
  train_part, held = data.split(0.25)
  assert (len(train_part), len(held)) == (30, 10)
  np.testing.assert_array_equal(held.pred_jl, data.pred_jl[30:])


@pytest.mark.parametrize('overrides, message', [
    (dict(gt_jl=np.zeros((40, 24, 3), np.float32)),
     r'gt_jl must be \[N, 42, 3\]'),
    (dict(pred_jl=np.zeros((39, 42, 3), np.float32)), 'must be pairs'),
    (dict(pred_jl=np.full((40, 42, 3), np.nan, np.float32)),
     'pred_jl has NaN/Inf values in 40 of 40'),
    (dict(gt_jl=np.zeros((40, 42, 3), np.int32)), 'floating point'),
])
def test_paired_dataset_errors(tmp_path, overrides, message):
  write_pairs(tmp_path / 'bad.npz', **overrides)
  with pytest.raises(ValueError, match=message):
    paired.PairedJLDataset.load(tmp_path / 'bad.npz')


def test_paired_dataset_missing_file_or_key(tmp_path):
  with pytest.raises(ValueError, match='not found; expected an .npz'):
    paired.PairedJLDataset.load(tmp_path / 'nope.npz')
  np.savez(tmp_path / 'one.npz', pred_jl=np.zeros((2, 42, 3)))
  with pytest.raises(ValueError, match=r"missing arrays \['gt_jl'\]"):
    paired.PairedJLDataset.load(tmp_path / 'one.npz')
