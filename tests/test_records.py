"""The record contract (smplr_jax.data.records): one spec, checked everywhere."""

import numpy as np
import pytest

from smplr_jax.data import augment, records
from smplr_jax.data.datasets import common


def _record(height=32, width=40):
  rng = np.random.default_rng(0)
  mask = np.zeros((height, width), np.uint8)
  mask[5:20, 10:30] = 1
  return {
      'image': rng.integers(0, 255, (height, width, 3)).astype(np.uint8),
      'mask': mask, 'has_mask': np.int32(1),
      'jl_cam': (rng.normal(size=(42, 3)) + [0, 0, 4]).astype(np.float32),
      'jl_valid': np.ones(42, np.float32),
      'focal': np.float32([50.0, 50.0]), 'principal': np.float32([20, 16]),
      'pose': np.zeros((24, 3), np.float32),
      'betas': np.zeros(10, np.float32),
      'gender': np.int32(1), 'has_smpl': np.int32(1)}


def test_record_check_names_the_bad_key():
  record = _record()
  records.check_record(record)
  with pytest.raises(ValueError, match='jl_cam must have shape'):
    records.check_record(dict(record, jl_cam=np.zeros((41, 3), np.float32)))
  with pytest.raises(ValueError, match='gender must be int32'):
    records.check_record(dict(record, gender=np.int64(1)))


@pytest.mark.parametrize('change, message', [
    (dict(focal=None), r"missing keys \['focal'\]"),
    (dict(mask=np.zeros((31, 40), np.uint8)), 'must match the image size'),
    (dict(mask=np.full((32, 40), 2, np.uint8)), 'mask must hold 0/1'),
    (dict(image=np.zeros((32, 40), np.uint8)), 'image must have shape'),
    (dict(betas=np.float32([0] * 9 + [np.inf])), 'betas holds NaN or Inf'),
    # A NaN pose gives NaN JL: the pose is named, not its consequence.
    (dict(pose=np.full((24, 3), np.nan, np.float32),
          jl_cam=np.full((42, 3), np.nan, np.float32)),
     'pose holds NaN or Inf'),
])
def test_record_errors_name_the_source_and_problem(change, message):
  record = dict(_record(), **change)
  record = {k: v for k, v in record.items() if v is not None}
  with pytest.raises(ValueError, match=message) as error:
    records.check_record(record, source='train.array_record index 7')
  assert str(error.value).startswith('train.array_record index 7: ')


def test_one_contract_for_datasets_and_augmentation():
  assert common.RECORD_SPEC is records.RECORD_SPEC  # the builders' features
  assert records.RECORD_KEYS == tuple(records.RECORD_SPEC)
  # The augmentation refuses what the contract refuses.
  with pytest.raises(ValueError, match='gender must be int32'):
    augment.process_example(dict(_record(), gender=np.int64(1)),
                            augment.augment_config(), train=False)
