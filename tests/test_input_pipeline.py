"""The image input pipeline (smplr_jax.data.input_pipeline): deterministic,
resumable batches and the paper's 100 mm subsampling."""

import numpy as np
import pytest
from helpers import AUGMENTATIONS, augment_config_with, stick_records

from smplr_jax.data import input_pipeline


def _take(iterator, n):
  return [next(iterator) for _ in range(n)]


def _assert_batches_equal(a, b):
  assert len(a) == len(b)
  for x, y in zip(a, b):
    assert x.keys() == y.keys()
    for key in x:
      np.testing.assert_array_equal(x[key], y[key], err_msg=key)


@pytest.fixture(scope='module')
def source():
  return stick_records(10, image_size=64)


def test_iterator_shapes(source):
  batch = next(input_pipeline.make_iterator(
      source,
      augment_config_with(crop_size=32, on=AUGMENTATIONS, probability=0.5), 4,
      seed=0))
  assert batch['image'].shape == (4, 32, 32, 3)
  assert batch['image'].dtype == np.float32
  assert batch['mask'].shape == (4, 32, 32)
  assert batch['jl_cube'].shape == batch['jl_crop'].shape == (4, 42, 3)
  assert batch['pose'].shape == (4, 24, 3)
  assert batch['gender'].dtype == np.int32
  np.testing.assert_array_equal(batch['valid'], 1.0)


def test_iterator_is_deterministic_across_threads_and_resumes(source):
  config = augment_config_with(crop_size=24, on=AUGMENTATIONS, probability=0.5)
  make = lambda **kw: input_pipeline.make_iterator(source, config, 3, seed=7,
                                                   **kw)
  # 10 records, batches of 3: 3 batches per epoch; 7 batches = 3 epochs.
  reference = _take(make(num_threads=0), 7)
  _assert_batches_equal(_take(make(num_threads=3, prefetch=4), 7), reference)
  _assert_batches_equal(_take(make(num_threads=1, start_step=2), 5),
                        reference[2:])
  other = next(input_pipeline.make_iterator(source, config, 3, seed=8,
                                            num_threads=0))
  assert not np.array_equal(other['image'], reference[0]['image'])
  # Every epoch reads distinct records, in a new order.
  ids = [b['jl_cam'][:, 1, 0] for b in reference[:3]]
  assert len(np.unique(np.concatenate(ids))) == 9
  assert not np.array_equal(reference[0]['jl_cam'], reference[3]['jl_cam'])


def test_evaluation_iterator_pads_the_last_batch(source):
  batches = list(input_pipeline.make_iterator(
      source, augment_config_with(crop_size=16), 4, seed=0, train=False,
      shuffle=False, num_epochs=1))
  assert len(batches) == 3
  np.testing.assert_array_equal(batches[-1]['valid'], [1, 1, 0, 0])
  cams = np.concatenate([b['jl_cam'] for b in batches])[:10]
  np.testing.assert_allclose(cams, np.stack([r['jl_cam'] for r in source]),
                             atol=1e-6)


@pytest.mark.parametrize('drop_remainder', [True, False])
def test_processes_share_each_batch_and_read_every_record_once(
    drop_remainder):
  """37 records, batches of 12: the P processes' shares of batch k, in
  process order, are the single-process batch k, and over an epoch every
  record is read once (by one process)."""
  plan = lambda p, n: list(input_pipeline.batch_plan(
      37, 12, 5, 0, True, drop_remainder, 2, process_index=p,
      process_count=n))
  whole = plan(0, 1)
  assert len(whole) == (6 if drop_remainder else 8)  # 2 epochs
  for count in (2, 3, 4):
    shares = [plan(p, count) for p in range(count)]
    for k, (epoch, indices, valid) in enumerate(whole):
      assert all(len(s[k][1]) == 12 // count for s in shares)
      assert all(s[k][0] == epoch for s in shares)
      np.testing.assert_array_equal(
          np.concatenate([s[k][1] for s in shares]), indices)
      np.testing.assert_array_equal(
          np.concatenate([s[k][2] for s in shares]), valid)
    for epoch in (0, 1):
      read = np.concatenate([idx[val > 0] for s in shares
                             for e, idx, val in s if e == epoch])
      assert len(read) == len(set(read.tolist()))  # none twice
      expected = 36 if drop_remainder else 37  # the remainder is dropped
      assert len(read) == expected  # none skipped
  with pytest.raises(ValueError, match='not divisible by the 5 processes'):
    plan(0, 5)


def test_process_shares_assemble_the_global_batch(source):
  config = augment_config_with(crop_size=16, on=AUGMENTATIONS)
  make = lambda **kw: input_pipeline.make_iterator(source, config, 4, seed=3,
                                                   num_threads=0, **kw)
  whole = _take(make(), 3)
  shares = [_take(make(process_index=p, process_count=2), 3)
            for p in (0, 1)]
  for k in range(3):
    for key in whole[k]:
      np.testing.assert_array_equal(
          np.concatenate([shares[0][k][key], shares[1][k][key]]),
          whole[k][key], err_msg=key)


def test_corrupt_records_are_named_or_skipped_and_counted(source, caplog):
  records = list(source)
  records[3] = dict(records[3], jl_cam=records[3]['jl_cam'][:41])
  records[6] = dict(records[6], image=records[6]['image'][..., 0])
  config = augment_config_with(crop_size=16)
  make = lambda **kw: input_pipeline.make_iterator(
      records, config, 5, seed=0, train=False, shuffle=False, num_epochs=1,
      num_threads=2, **kw)
  with pytest.raises(input_pipeline.CorruptRecordError,
                     match=r'record 3 of the source \(list\): jl_cam must '
                     r'have shape \(42, 3\).*skip_corrupt_records'):
    list(make())
  with caplog.at_level('WARNING'):
    batches = list(make(skip_corrupt=True))
  skips = [r.getMessage() for r in caplog.records
           if r.getMessage().startswith('Skipped a corrupt record')]
  assert len(skips) == 2 and '(2 so far)' in ' '.join(skips)
  for index in (3, 6):
    assert any(f'record {index} of the source (list)' in m for m in skips)
  cams = np.concatenate([b['jl_cam'] for b in batches])
  assert cams.shape == (10, 42, 3)
  # Each stand-in is the next readable record.
  expected = [records[i + (i in (3, 6))]['jl_cam'] for i in range(10)]
  np.testing.assert_allclose(cams, np.stack(expected), atol=1e-6)


def _brute_force_subsample(jl, min_distance):
  kept = []
  for i in range(len(jl)):
    if all(np.linalg.norm(jl[i] - jl[k], axis=-1).max() >= min_distance
           for k in kept):
      kept.append(i)
  return np.asarray(kept)


@pytest.mark.parametrize('num_joints, step', [(5, 0.03), (24, 0.02)])
def test_subsampling_equals_brute_force(num_joints, step):
  rng = np.random.default_rng(num_joints)
  # Random walks: consecutive frames close, as in videos.
  jl = np.cumsum(rng.normal(0.0, step, (700, num_joints, 3)), axis=0)
  jl -= jl[:, :1]
  kept = input_pipeline.subsample_min_distance(jl, 0.1)
  np.testing.assert_array_equal(kept, _brute_force_subsample(jl, 0.1))
  assert 20 < len(kept) < 690


def test_subsampling_semantics():
  frames = np.zeros((4, 2, 3))
  frames[1, 1] = [0.099, 0, 0]  # too close to frame 0 at every joint
  frames[2, 1] = [0.1, 0, 0]  # 100 mm away from frame 0 at joint 1
  frames[3, 0] = [0.05, 0, 0]  # close to frame 0
  frames[3, 1] = [0.05, 0, 0]
  np.testing.assert_array_equal(
      input_pipeline.subsample_min_distance(frames, 0.1), [0, 2])
