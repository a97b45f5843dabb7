"""Loading SMPL-layout models: official pickles without chumpy, npz, folders,
and clear errors on every kind of bad file."""

import os
import pickle
import sys

import jax.numpy as jnp
import numpy as np
import pytest
from conftest import write_official_pickle

from smplr_jax import load_body_model, smpl_forward, testing
from smplr_jax.body import body_model as bm
from smplr_jax.data.datasets import up3d
from smplr_jax.tools import convert_model


def _assert_matches_arrays(model, arrays):
  np.testing.assert_allclose(model.v_template, arrays['v_template'],
                             atol=1e-6)
  np.testing.assert_allclose(model.shapedirs, arrays['shapedirs'], atol=1e-6)
  np.testing.assert_allclose(model.posedirs, arrays['posedirs'], atol=1e-6)
  np.testing.assert_allclose(model.J_regressor, arrays['J_regressor'],
                             atol=1e-6)
  np.testing.assert_allclose(model.lbs_weights, arrays['weights'], atol=1e-6)
  np.testing.assert_array_equal(model.faces, arrays['f'])
  assert model.parents == (-1,) + tuple(arrays['kintree_table'][0, 1:])
  np.testing.assert_allclose(
      model.joint_template, arrays['J_regressor'] @ arrays['v_template'],
      atol=1e-5)


def test_official_pickle_loads_without_chumpy(official_pkl, smpl_arrays):
  assert 'chumpy' not in sys.modules
  with pytest.raises(ModuleNotFoundError):
    with open(official_pkl, 'rb') as f:  # plain pickle needs chumpy...
      pickle.load(f, encoding='latin1')
  model = load_body_model(official_pkl)  # ...ours does not
  assert 'chumpy' not in sys.modules
  _assert_matches_arrays(model, smpl_arrays)
  # SMPL-sized files get the authors' landmark vertex ids.
  np.testing.assert_array_equal(model.landmark_vertex_ids,
                                bm.SMPL_LANDMARK_VERTEX_IDS)


def test_npz_and_folder_loading(model_dir):
  for gender in ('neutral', 'male', 'female'):
    model = load_body_model(model_dir, gender=gender)
    arrays = dict(np.load(model_dir / f'SMPL_{gender.upper()}.npz'))
    _assert_matches_arrays(model, arrays)
    assert model.landmark_vertex_ids.shape == (0,)  # none defined, not SMPL
  direct = load_body_model(model_dir / 'SMPL_MALE.npz')
  np.testing.assert_array_equal(direct.v_template,
                                load_body_model(model_dir, 'MALE').v_template)


def test_official_file_names_in_folder(official_pkl):
  model = load_body_model(official_pkl.parent, 'neutral')
  assert model.num_vertices == 6890
  with pytest.raises(ValueError, match=r'no female model found.*SMPL_FEMALE'):
    load_body_model(official_pkl.parent, 'female')


def test_dtype_is_respected(model_dir):
  model = load_body_model(model_dir, dtype=jnp.bfloat16)
  assert model.v_template.dtype == jnp.bfloat16
  assert model.faces.dtype == jnp.int32


@pytest.mark.slow  # ~7 s; the pickle reading it runs is tested above
def test_convert_tool_roundtrip(official_pkl, tmp_path, smpl_arrays, capsys):
  dst = tmp_path / 'SMPL_NEUTRAL.npz'
  assert convert_model.main(['convert_model', str(official_pkl),
                             str(dst)]) == 0
  assert 'V=6890, J=24, betas=10' in capsys.readouterr().out
  converted = load_body_model(dst)
  _assert_matches_arrays(converted, smpl_arrays)
  original = load_body_model(official_pkl)
  pose = jnp.full((1, 24, 3), 0.2)
  betas = jnp.ones((1, 10))
  np.testing.assert_allclose(
      smpl_forward(converted, pose, betas).vertices,
      smpl_forward(original, pose, betas).vertices, atol=1e-6)
  # A bad source is reported, not written.
  bad = tmp_path / 'bad.pkl'
  bad.write_bytes(b'not a pickle')
  assert convert_model.main(['convert_model', str(bad),
                             str(tmp_path / 'out.npz')]) == 1
  assert 'not a readable SMPL pickle' in capsys.readouterr().err
  assert not (tmp_path / 'out.npz').exists()


def test_default_model_missing_is_a_clear_error(monkeypatch, tmp_path):
  monkeypatch.setenv(bm.BODY_MODEL_DIR_ENV, str(tmp_path / 'nowhere'))
  with pytest.raises(ValueError, match=r'default body model folder .*nowhere'
                     r'.* does not exist'):
    load_body_model()


def test_unknown_gender(model_dir):
  with pytest.raises(ValueError, match=r"gender must be one of.*'child'"):
    load_body_model(model_dir, 'child')


# --- Bad files: each error names the file, the key and what was expected. ---


def _write_npz(path, arrays):
  np.savez(path, **arrays)
  return path


def test_missing_file(tmp_path):
  with pytest.raises(ValueError, match=r'nope\.npz: no such model file'):
    load_body_model(tmp_path / 'nope.npz')


def test_garbage_file(tmp_path):
  path = tmp_path / 'garbage.pkl'
  path.write_bytes(b'\x00\x01 this is not a model')
  with pytest.raises(ValueError, match=r'garbage\.pkl: not a readable SMPL'):
    load_body_model(path)


def test_truncated_pickle(official_pkl, tmp_path):
  path = tmp_path / 'truncated.pkl'
  path.write_bytes(official_pkl.read_bytes()[:100_000])
  with pytest.raises(ValueError, match=r'truncated\.pkl: not a readable SMPL'):
    load_body_model(path)


def test_truncated_npz(model_dir, tmp_path):
  path = tmp_path / 'truncated.npz'
  path.write_bytes((model_dir / 'SMPL_MALE.npz').read_bytes()[:5000])
  with pytest.raises(ValueError, match=r'truncated\.npz: not a readable \.npz'):
    load_body_model(path)


def test_pickle_of_wrong_type(tmp_path):
  path = tmp_path / 'list.pkl'
  path.write_bytes(pickle.dumps([1, 2, 3]))
  with pytest.raises(ValueError, match=r'list\.pkl: expected a pickled dict'):
    load_body_model(path)


@pytest.mark.parametrize('key', ['v_template', 'shapedirs', 'posedirs',
                                 'J_regressor', 'weights', 'kintree_table',
                                 'f'])
def test_missing_key(smpl_arrays, tmp_path, key):
  arrays = {k: v for k, v in smpl_arrays.items() if k != key}
  path = _write_npz(tmp_path / 'm.npz', arrays)
  with pytest.raises(ValueError, match=rf"m\.npz: missing key\(s\) \['{key}'\]"):
    load_body_model(path)


@pytest.mark.parametrize('key,shape,expected', [
    ('v_template', (6890, 4), r'expected shape \[V, 3\]'),
    ('shapedirs', (6000, 3, 10), r'expected shape \[V, 3, S\] = \[6890, 3'),
    ('posedirs', (6890, 3, 200), r'expected shape \[V, 3, 9 \* \(J - 1\)\]'),
    ('J_regressor', (24, 6000), r'expected shape \[J, V\] = \(24, 6890\)'),
    ('weights', (6890, 23), r'expected shape \[V, J\] = \(6890, 24\)'),
    ('weights', (6890,), r'expected 2 dimensions'),
])
def test_wrong_shape(smpl_arrays, tmp_path, key, shape, expected):
  arrays = dict(smpl_arrays)
  arrays[key] = np.zeros(shape)
  path = _write_npz(tmp_path / 'm.npz', arrays)
  with pytest.raises(ValueError, match=rf"m\.npz: key '{key}': {expected}"):
    load_body_model(path)


@pytest.mark.parametrize('key', ['v_template', 'shapedirs', 'posedirs',
                                 'J_regressor', 'weights'])
@pytest.mark.parametrize('bad', [np.nan, np.inf])
def test_non_finite_values(smpl_arrays, tmp_path, key, bad):
  arrays = {k: np.array(v, copy=True) for k, v in smpl_arrays.items()}
  arrays[key].reshape(-1)[7] = bad
  path = _write_npz(tmp_path / 'm.npz', arrays)
  with pytest.raises(ValueError,
                     match=rf"m\.npz: key '{key}': 1 non-finite"):
    load_body_model(path)


def test_bad_faces_and_tree(smpl_arrays, tmp_path):
  arrays = dict(smpl_arrays)
  arrays['f'] = smpl_arrays['f'].copy()
  arrays['f'][0, 0] = 6890
  with pytest.raises(ValueError, match=r"key 'f': face indices must lie"):
    load_body_model(_write_npz(tmp_path / 'a.npz', arrays))
  arrays = dict(smpl_arrays)
  arrays['kintree_table'] = smpl_arrays['kintree_table'].copy()
  arrays['kintree_table'][0, 3] = 5
  with pytest.raises(ValueError, match=r"key 'kintree_table': joint 3 has "
                     r'parent 5'):
    load_body_model(_write_npz(tmp_path / 'b.npz', arrays))


def test_chumpy_object_without_array(tmp_path, smpl_arrays):
  """A chumpy object that is not a plain Ch array is reported by key."""
  import types  # pylint: disable=g-import-not-at-top
  module = types.ModuleType('chumpy.reordering')

  class Select:
    def __init__(self):
      self.a = 1

  Select.__module__ = 'chumpy.reordering'
  Select.__qualname__ = 'Select'
  module.Select = Select
  package = types.ModuleType('chumpy')
  package.reordering = module
  sys.modules.update({'chumpy': package, 'chumpy.reordering': module})
  try:
    data = dict(smpl_arrays)
    data['shapedirs'] = Select()
    payload = pickle.dumps(data, protocol=2)
  finally:
    del sys.modules['chumpy.reordering'], sys.modules['chumpy']
  path = tmp_path / 'odd.pkl'
  path.write_bytes(payload)
  with pytest.raises(ValueError, match=r"odd\.pkl: key 'shapedirs': chumpy "
                     r'object of class Select holds no array'):
    load_body_model(path)


# --- Untrusted pickles: only model data is admitted, no code runs. ---


class _Payload:
  """Unpickles as `function(*args)`: what a crafted pickle would run."""

  def __init__(self, function, *args):
    self.call = (function, args)

  def __reduce__(self):
    return self.call


def _touch_payloads(marker):
  import subprocess  # pylint: disable=g-import-not-at-top
  return {
      'posix.system': _Payload(os.system, f'touch {marker}'),
      'subprocess.Popen': _Payload(subprocess.Popen, ['touch', str(marker)]),
      'builtins.eval': _Payload(
          eval, f"__import__('pathlib').Path({str(marker)!r}).touch()"),
  }


@pytest.mark.parametrize('name', ['posix.system', 'subprocess.Popen',
                                  'builtins.eval'])
def test_crafted_pickle_runs_nothing(tmp_path, name):
  marker = tmp_path / 'ran'
  # Before the fix the command ran before the loader saw missing keys.
  payload = pickle.dumps({'v_template': _touch_payloads(marker)[name]},
                         protocol=4)
  # The payload is live: plain pickle runs it.
  ran = pickle.loads(payload)['v_template']
  if hasattr(ran, 'wait'):  # subprocess.Popen
    ran.wait()
  assert marker.exists()
  marker.unlink()
  path = tmp_path / 'evil.pkl'
  path.write_bytes(payload)
  with pytest.raises(bm.UnsafePickleError,
                     match=rf'evil\.pkl: the pickle asks for {name}, which'):
    load_body_model(path)
  with pytest.raises(ValueError, match=rf'asks for {name}'):
    up3d.read_fit(path)  # the UP-3D reader shares the unpickler
  assert not marker.exists()


def test_reconstructor_builds_admitted_classes_only(tmp_path):
  # Protocol-0 text: copy_reg._reconstructor(numpy.ndarray, numpy.ndarray,
  # None), then the same with a numpy function as the class.
  for text, refused in [
      (b'ccopy_reg\n_reconstructor\n(cnumpy\nndarray\ncnumpy\nndarray\nNtR.',
       'refused base'),
      ((b'ccopy_reg\n_reconstructor\n(cnumpy.core.multiarray\nscalar\n'
        b'c__builtin__\nobject\nNtR.'), 'refused to build'),
  ]:
    path = tmp_path / 'odd.pkl'
    path.write_bytes(text)
    with pytest.raises(bm.UnsafePickleError, match=refused):
      load_body_model(path)


@pytest.mark.parametrize('protocol', [0, 1, 2, 5])
def test_official_layout_loads_at_every_protocol(tmp_path, protocol):
  # Python 2 wrote chumpy objects with copy_reg._reconstructor (protocols 0
  # and 1); protocol 5 stores arrays with numpy's _frombuffer.
  arrays = testing.random_smpl_arrays(seed=3, num_vertices=50, num_faces=30)
  path = tmp_path / f'model_p{protocol}.pkl'
  write_official_pickle(arrays, path, protocol=protocol)
  _assert_matches_arrays(load_body_model(path), arrays)
