"""Shared fixtures: synthetic SMPL-layout models written in official formats."""

import os
import pathlib
import pickle
import sys
import types

# One XLA CPU thread per test process: the suite runs on two pytest-xdist
# workers on two cores, and each worker's own thread pool over both cores
# oversubscribes them (one worker alone ran test_smpl + test_heatmaps in
# 66 s single-threaded against 72 s with its pool). Set before JAX starts.
os.environ.setdefault('XLA_FLAGS', '--xla_cpu_multi_thread_eigen=false '
                      'intra_op_parallelism_threads=1')

import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position
import pytest  # pylint: disable=g-import-not-at-top,wrong-import-position

# Two fake CPU devices for the data-parallel tests (before any computation).
jax.config.update('jax_num_cpu_devices', 2)

from smplr_jax import testing


def pytest_configure(config):
  # The multi-process tests are all `slow`; asking for them by name
  # (`pytest -k multiprocess`) runs them despite the default -m "not slow".
  if ('multiprocess' in (config.option.keyword or '') and
      config.option.markexpr == 'not slow'):
    config.option.markexpr = ''


# A skip for want of an extra names it in its reason ('needs the [detector]
# extra: ...', 'needs torch (the [test] extra)'). Where the extras are
# installed to be tested, such a skip is a failure: SMPLR_REQUIRE_EXTRAS=1
# requires every extra below (.ci/run's extras environment), a comma list
# only those named (SMPLR_REQUIRE_EXTRAS=test: .ci/run's main environment,
# installed with [test]).
EXTRA_TAGS = ('[test]', '[detector]', '[app]', '[browser]', '[validator]',
              '[beam]', '[fbx]')


def required_tags(value: str | None) -> tuple[str, ...]:
  """The tags whose skips fail, from SMPLR_REQUIRE_EXTRAS's value."""
  if value == '1':
    return EXTRA_TAGS
  names = [name.strip() for name in (value or '').split(',') if name.strip()]
  unknown = [n for n in names if f'[{n}]' not in EXTRA_TAGS]
  if unknown:
    raise ValueError(f'SMPLR_REQUIRE_EXTRAS={value!r}: unknown extras '
                     f'{unknown}; use 1 or some of {EXTRA_TAGS}.')
  return tuple(f'[{name}]' for name in names)


REQUIRED_TAGS = required_tags(os.environ.get('SMPLR_REQUIRE_EXTRAS'))


def _fail_required_skip(report) -> None:
  if report.skipped and any(tag in str(report.longrepr)
                            for tag in REQUIRED_TAGS):
    report.outcome = 'failed'
    report.longrepr = ('SMPLR_REQUIRE_EXTRAS='
                       f'{os.environ.get("SMPLR_REQUIRE_EXTRAS")}, yet it '
                       f'skipped: {report.longrepr}')


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
  del item, call
  _fail_required_skip((yield).get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
  """A whole module skipped at import (`pytest.importorskip`)."""
  del collector
  _fail_required_skip((yield).get_result())


@pytest.fixture(scope='session', autouse=True)
def shared_compilation_cache(tmp_path_factory):
  """One persistent XLA compilation cache for this run, shared by the
  pytest-xdist workers: many tests build the same programs (the shipped
  pipeline, the SMPL forward, the tiny tasks' steps) and a 2-core CPU spends
  most of the suite compiling. Fresh per run, so nothing stale is read."""
  base = tmp_path_factory.getbasetemp()
  if base.name.startswith('popen-gw'):  # an xdist worker: share the parent
    base = base.parent
  options = {'jax_compilation_cache_dir': str(base / 'xla_cache'),
             # Every program: the many small ones each worker would
             # compile again cost more than writing them (the suite took
             # 6:21 with a 0.5 s floor, 5:36 with none).
             'jax_persistent_cache_min_compile_time_secs': 0.0}
  saved = {name: getattr(jax.config, name) for name in options}
  for name, value in options.items():
    jax.config.update(name, value)
  yield
  for name, value in saved.items():
    jax.config.update(name, value)


@pytest.fixture(scope='session')
def smpl_arrays():
  """Random SMPL-sized model with non-zero pose correctives (official keys)."""
  return testing.random_smpl_arrays(seed=0)


def write_official_pickle(arrays: dict, path: pathlib.Path,
                          protocol: int = 2) -> None:
  """Writes `arrays` like an official SMPL .pkl: chumpy arrays, sparse J.

  A stand-in `chumpy` module is registered only while pickling, so the file
  references `chumpy.ch.Ch` exactly as the official files do, and is removed
  again so that reading has to work without chumpy.
  """
  import scipy.sparse  # pylint: disable=g-import-not-at-top

  chumpy = types.ModuleType('chumpy')
  chumpy_ch = types.ModuleType('chumpy.ch')

  class Ch:  # mimics chumpy.ch.Ch's pickled state
    def __init__(self, x):
      self.x = np.asarray(x)
      self._dirty_vars = set()

  Ch.__module__ = 'chumpy.ch'
  Ch.__qualname__ = 'Ch'
  chumpy_ch.Ch = Ch
  chumpy.ch = chumpy_ch
  saved = {k: sys.modules.get(k) for k in ('chumpy', 'chumpy.ch')}
  sys.modules['chumpy'] = chumpy
  sys.modules['chumpy.ch'] = chumpy_ch
  try:
    data = {
        'v_template': arrays['v_template'],
        'shapedirs': Ch(arrays['shapedirs']),
        'posedirs': arrays['posedirs'],
        'J_regressor': scipy.sparse.csc_matrix(arrays['J_regressor']),
        'weights': Ch(arrays['weights']),
        'kintree_table': arrays['kintree_table'],
        'f': arrays['f'].astype(np.uint32),
        # Extra keys that official files carry.
        'J': Ch(arrays['J_regressor'] @ arrays['v_template']),
        'weights_prior': Ch(arrays['weights']),
        'vert_sym_idxs': np.arange(arrays['v_template'].shape[0]),
        'bs_style': 'lbs',
        'bs_type': 'lrotmin',
    }
    with open(path, 'wb') as f:
      pickle.dump(data, f, protocol=protocol)
  finally:
    for k, v in saved.items():
      if v is None:
        sys.modules.pop(k, None)
      else:
        sys.modules[k] = v


@pytest.fixture(scope='session')
def official_pkl(smpl_arrays, tmp_path_factory):
  path = tmp_path_factory.mktemp('smpl') / 'basicmodel_neutral_lbs_10_207_0_v1.1.0.pkl'
  write_official_pickle(smpl_arrays, path)
  return path


@pytest.fixture(scope='session')
def model_dir(tmp_path_factory):
  """A folder with SMPL_{NEUTRAL,MALE,FEMALE}.npz of three different models."""
  folder = tmp_path_factory.mktemp('models')
  for seed, gender in enumerate(('NEUTRAL', 'MALE', 'FEMALE')):
    arrays = testing.random_smpl_arrays(seed=seed, num_vertices=500,
                                        num_faces=900)
    np.savez(folder / f'SMPL_{gender}.npz', **arrays)
  return folder
