"""TFDS builders on Apache Beam (smplr_jax.data.datasets, `beam_options`):
the same examples as the in-process build, on the multi-process runner."""

from __future__ import annotations

import sys

import jax
import numpy as np
import pytest
from test_datasets import write_h36m_sequence, write_surreal_clip, write_up3d_image

from smplr_jax.data import datasets as datasets_lib
from smplr_jax.data.datasets import common, human36m, smplr_synthetic, surreal, up3d

# Two worker processes: every unit of work is pickled to another process.
BEAM = dict(beam_runner='DirectRunner',
            beam_options='--direct_num_workers=2 '
            '--direct_running_mode=multi_processing')
SKIP_REASON = 'needs the [beam] extra: pip install -e ".[test,beam]"'


@pytest.fixture(scope='module')
def release(tmp_path_factory):
  """Fake SURREAL, Human3.6M and UP-3D releases, several units per split."""
  pytest.importorskip('apache_beam', reason=SKIP_REASON)  # before writing
  root = tmp_path_factory.mktemp('release')
  rng = np.random.default_rng(0)
  points = common.SmplPoints(common.load_models(None, 'gendered'))
  manual = root / 'surreal'
  write_surreal_clip(manual, 'train', '01_01', 1, rng, points, 5, gender=1)
  write_surreal_clip(manual, 'train', '01_02', 2, rng, points, 4, gender=0,
                     segm=False)
  write_surreal_clip(manual, 'val', '02_01', 2, rng, points, 3, gender=0)
  write_surreal_clip(manual, 'test', '03_01', 1, rng, points, 3, gender=1,
                     segm=False)
  manual = root / 'h36m'
  for subject in human36m.TRAIN_SUBJECTS + human36m.TEST_SUBJECTS:
    write_h36m_sequence(manual, subject, 'Directions 1.54138969',
                        'Directions 1.54138969')
  write_h36m_sequence(manual, 'S1', 'TakingPhoto.55011271', 'Photo.55011271')
  manual = root / 'up3d'
  manual.mkdir()
  for image_id, render in (('00001', True), ('00002', False),
                           ('00003', True), ('00004', False)):
    write_up3d_image(manual, image_id, rng, render=render)
  (manual / 'train.txt').write_text('/00001_image.png\n/00002_image.png\n')
  (manual / 'val.txt').write_text('/00003_image.png\n')
  (manual / 'test.txt').write_text('/00004_image.png\n')
  return root


# name -> (config, manual folder in `release`).
BUILDS = {
    'smplr_synthetic': (smplr_synthetic.custom_config(5, 3, 2, seed=1), None),
    'surreal': (surreal.SurrealConfig(name='stride2', frame_stride=2,
                                      runs=('run0',)), 'surreal'),
    'human36m': (human36m.Human36mConfig(name='strides23', train_stride=2,
                                         test_stride=3), 'h36m'),
    'up3d': (up3d.Up3dConfig(name='png', image_format='png'), 'up3d'),
}


@pytest.mark.parametrize('name', list(BUILDS))
def test_beam_build_writes_the_in_process_examples(name, release, tmp_path,
                                                   monkeypatch):
  pytest.importorskip('apache_beam', reason=SKIP_REASON)
  # The workers are new processes: hand them this run's compilation cache
  # and device count (part of a program's cache key), which the in-process
  # build fills, or each compiles the renderer or the SMPL forward again
  # (the synthetic build took 36 s instead of 21 s).
  for option in ('jax_compilation_cache_dir',
                 'jax_persistent_cache_min_compile_time_secs',
                 'jax_num_cpu_devices'):
    value = getattr(jax.config, option)
    if value is not None:
      monkeypatch.setenv(option.upper(), str(value))
  # Ranges of 2 synthetic examples: several units per split, each rendered
  # in its own (padded) batch.
  monkeypatch.setattr(smplr_synthetic.SmplrSynthetic, 'BEAM_UNIT_SIZE', 2)
  config, folder = BUILDS[name]
  manual = None if folder is None else release / folder
  local = datasets_lib.build_dataset(name, tmp_path / 'local', config, manual)
  beam = datasets_lib.build_dataset(name, tmp_path / 'beam', config, manual,
                                    **BEAM)

  splits = {split: info.num_examples
            for split, info in local.info.splits.items()}
  assert {split: info.num_examples
          for split, info in beam.info.splits.items()} == splits
  assert splits == {
      'smplr_synthetic': {'train': 5, 'validation': 3, 'test': 2},
      # Frames 0, 2, 4 and 0, 2 of the two train clips; 0, 2 of the others.
      'surreal': {'train': 5, 'validation': 2, 'test': 2},
      # 6 train sequences x frames 0, 2, 4; 2 test sequences x 0, 3.
      'human36m': {'train': 18, 'test': 4},
      'up3d': {'train': 2, 'validation': 1, 'test': 1},
  }[name]
  local_sources, beam_sources = local.as_data_source(), beam.as_data_source()
  for split in splits:
    # Keys sort as the in-process build yields: the same examples in the
    # same order, whichever worker built which unit.
    for i in range(splits[split]):
      want, got = local_sources[split][i], beam_sources[split][i]
      assert set(got) == set(want)
      for key, value in want.items():
        np.testing.assert_array_equal(got[key], value,
                                      err_msg=f'{name} {split}[{i}] {key}')
        assert got[key].dtype == value.dtype


def test_beam_keys_follow_units_then_frames():
  assert common.unit_key(0, 7) < common.unit_key(1, 0) < common.unit_key(1, 1)
  assert common.unit_key(3, 5) == 3 * common.UNIT_KEYS + 5
  with pytest.raises(ValueError, match='outside'):
    common.unit_key(0, common.UNIT_KEYS)
  assert smplr_synthetic.ranges(5, 5, 2) == [(5, 2), (7, 2), (9, 1)]
  assert smplr_synthetic.ranges(5, 5, None) == [(5, 5)]


def test_beam_options_without_beam_name_the_extra(tmp_path, monkeypatch):
  monkeypatch.setitem(sys.modules, 'apache_beam', None)  # import fails
  with pytest.raises(ValueError, match=r"pip install 'smplr_jax\[beam\]'"):
    datasets_lib.build_dataset('smplr_synthetic', tmp_path, 'tiny',
                               beam_options='--direct_num_workers=2')
  assert not tmp_path.joinpath('smplr_synthetic').exists()
  # Without Beam settings nothing imports it: the in-process build runs.
  assert common.beam_download_kwargs(None, None) == {}
