"""SMPL-layout body models as immutable pytrees, and their loaders.

A `BodyModel` holds the arrays of one SMPL-layout model (or, stacked, of several
models sharing a topology) in the layout the forward pass wants, so that the
jitted forward does no per-call reshaping of the large blend-shape matrices:

  * `blend_dirs` [S + P, 3 * V] (planar, coordinate-major): shape directions (S rows) followed by the pose
    corrective directions (P = 9 * (J - 1) rows, or none at all when the model
    has no pose correctives, e.g. the embedded default model).
  * `joint_template` / `joint_shape_dirs`: the joint regressor applied once, at
    load time, to the template and the shape directions (J is linear in the
    rest vertices, so J(betas) = J_template + betas @ J_shape_dirs exactly).

Files understood by `load_body_model`:
  * official SMPL `.pkl` files (latin-1 pickles holding chumpy arrays and a scipy
    sparse `J_regressor`), read WITHOUT chumpy installed, by an unpickler
    that admits only numpy, scipy-sparse, chumpy and container globals: a
    crafted pickle is refused before any code of its runs;
  * smplx-style `.npz` files with the same keys;
  * a folder holding `SMPL_{NEUTRAL,MALE,FEMALE}.{npz,pkl}` (or the official
    `basicmodel_*` file names).
"""

from __future__ import annotations

import builtins
import codecs
import copyreg
import glob
import importlib
import io
import os
import pathlib
import pickle
import zipfile
from typing import Any, Mapping, Sequence

import flax.struct
import jax.numpy as jnp
import numpy as np

from smplr_jax import resources

GENDERS = ('neutral', 'male', 'female')

# SMPL vertex ids of the 18 SMPLR landmarks, in the order of the paper's Fig. 3
# (from the authors' code); used for real SMPL files, which do not carry them.
SMPL_LANDMARK_VERTEX_IDS = (3042, 4428, 3503, 4311, 822, 4361, 877, 4386, 898,
                            3222, 6620, 2544, 2820, 1258, 4116, 5365, 5989, 331)
SMPL_NUM_VERTICES = 6890

# Name of the embedded, freely licensed default model under third_party/.
DEFAULT_MODEL_NAME = 'anny_smpl'
BODY_MODEL_DIR_ENV = 'SMPLR_JAX_BODY_MODEL_DIR'

_REQUIRED_KEYS = ('v_template', 'shapedirs', 'posedirs', 'J_regressor',
                  'weights', 'kintree_table', 'f')


@flax.struct.dataclass
class BodyModel:
  """An SMPL-layout body model. Arrays may carry a leading [G] model axis.

  Attributes:
    v_template: [V, 3] rest-pose template vertices (metres).
    blend_dirs: [S + P, 3 * V] shape directions then pose-corrective
      directions, planar: column c * V + v is coordinate c of vertex v.
    J_regressor: [J, V] dense joint regressor.
    joint_template: [J, 3] J_regressor @ v_template.
    joint_shape_dirs: [S, J * 3] J_regressor applied to each shape direction.
    lbs_weights: [V, J] linear-blend-skinning weights.
    faces: [F, 3] int32 triangle indices.
    landmark_vertex_ids: [L] int32 vertex ids of the SMPLR surface landmarks
      (L = 18, or 0 when the model does not define them).
    parents: static tuple of J parent indices (-1 for the root).
    num_betas: static S, the number of shape directions.
    num_pose_dirs: static P, 9 * (J - 1), or 0 when the model has no pose
      correctives (then the forward skips that matrix product entirely).
  """
  v_template: jnp.ndarray
  blend_dirs: jnp.ndarray
  J_regressor: jnp.ndarray
  joint_template: jnp.ndarray
  joint_shape_dirs: jnp.ndarray
  lbs_weights: jnp.ndarray
  faces: jnp.ndarray
  landmark_vertex_ids: jnp.ndarray
  parents: tuple[int, ...] = flax.struct.field(pytree_node=False)
  num_betas: int = flax.struct.field(pytree_node=False)
  num_pose_dirs: int = flax.struct.field(pytree_node=False)

  @property
  def num_vertices(self) -> int:
    return self.v_template.shape[-2]

  @property
  def num_joints(self) -> int:
    return len(self.parents)

  @property
  def is_stacked(self) -> bool:
    """True when the arrays carry a leading [G] axis (`stack_body_models`)."""
    return self.v_template.ndim == 3

  @property
  def shapedirs(self) -> jnp.ndarray:
    """[V, 3, S] shape directions in the file layout."""
    dirs = self.blend_dirs[..., :self.num_betas, :]
    dirs = dirs.reshape(dirs.shape[:-2] + (self.num_betas, 3, -1))
    return jnp.moveaxis(dirs, (-3, -2), (-1, -2))

  @property
  def posedirs(self) -> jnp.ndarray:
    """[V, 3, 9 * (J - 1)] pose-corrective directions in the file layout."""
    num_pose = 9 * (self.num_joints - 1)
    if self.num_pose_dirs == 0:
      return jnp.zeros(self.v_template.shape + (num_pose,),
                       self.v_template.dtype)
    dirs = self.blend_dirs[..., self.num_betas:, :]
    dirs = dirs.reshape(dirs.shape[:-2] + (num_pose, 3, -1))
    return jnp.moveaxis(dirs, (-3, -2), (-1, -2))


def body_model_from_arrays(arrays: Mapping[str, Any],
                           source: str = '<arrays>',
                           dtype=jnp.float32) -> BodyModel:
  """Validates SMPL-layout arrays (file keys) and builds a `BodyModel`.

  Args:
    arrays: mapping with the official keys `v_template` [V, 3], `shapedirs`
      [V, 3, S], `posedirs` [V, 3, 9(J-1)], `J_regressor` [J, V] (dense or scipy
      sparse), `weights` [V, J], `kintree_table` [2, J], `f` [F, 3]; optionally
      `landmark_vertex_ids` [L].
    source: where the arrays came from, used in error messages.
    dtype: floating dtype of the model's arrays.

  Returns:
    The `BodyModel`.

  Raises:
    ValueError: naming `source`, the key and what was expected, when a key is
      missing or has a wrong shape, dtype or non-finite values.
  """

  def fail(key, message):
    raise ValueError(f'{source}: key {key!r}: {message}')

  missing = [k for k in _REQUIRED_KEYS if k not in arrays]
  if missing:
    raise ValueError(
        f'{source}: missing key(s) {missing}; an SMPL-layout model needs '
        f'{list(_REQUIRED_KEYS)} (found {sorted(arrays)}).')

  def as_float(key, ndim):
    value = arrays[key]
    if hasattr(value, 'toarray'):  # scipy sparse
      value = value.toarray()
    try:
      value = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as e:
      fail(key, f'expected a numeric array, got {type(value).__name__} ({e})')
    if value.ndim != ndim:
      fail(key, f'expected {ndim} dimensions, got shape {value.shape}')
    if not np.all(np.isfinite(value)):
      bad = int(np.size(value) - np.count_nonzero(np.isfinite(value)))
      fail(key, f'{bad} non-finite (NaN or Inf) value(s)')
    return value

  v_template = as_float('v_template', 2)
  if v_template.shape[1] != 3:
    fail('v_template', f'expected shape [V, 3], got {v_template.shape}')
  num_vertices = v_template.shape[0]

  kintree = np.asarray(arrays['kintree_table'])
  if kintree.ndim != 2 or kintree.shape[0] != 2 or not np.issubdtype(
      kintree.dtype, np.integer) and not np.issubdtype(kintree.dtype,
                                                       np.floating):
    fail('kintree_table', f'expected an integer array [2, J], got '
         f'shape {kintree.shape} dtype {kintree.dtype}')
  num_joints = kintree.shape[1]
  parents = [int(p) for p in kintree[0].astype(np.int64)]
  parents[0] = -1  # the official files store 2**32 - 1 for the root
  for j, p in enumerate(parents[1:], start=1):
    if not 0 <= p < j:
      fail('kintree_table', f'joint {j} has parent {p}; parents must precede '
           'their children (topological order)')

  shapedirs = as_float('shapedirs', 3)
  if shapedirs.shape[:2] != (num_vertices, 3):
    fail('shapedirs', f'expected shape [V, 3, S] = [{num_vertices}, 3, S], '
         f'got {shapedirs.shape}')
  num_betas = shapedirs.shape[2]

  posedirs = as_float('posedirs', 3)
  num_pose = 9 * (num_joints - 1)
  if posedirs.shape != (num_vertices, 3, num_pose):
    fail('posedirs', f'expected shape [V, 3, 9 * (J - 1)] = '
         f'{(num_vertices, 3, num_pose)}, got {posedirs.shape}')

  j_regressor = as_float('J_regressor', 2)
  if j_regressor.shape != (num_joints, num_vertices):
    fail('J_regressor', f'expected shape [J, V] = {(num_joints, num_vertices)},'
         f' got {j_regressor.shape}')

  weights = as_float('weights', 2)
  if weights.shape != (num_vertices, num_joints):
    fail('weights', f'expected shape [V, J] = {(num_vertices, num_joints)}, '
         f'got {weights.shape}')

  faces = np.asarray(arrays['f'])
  if faces.ndim != 2 or faces.shape[1] != 3:
    fail('f', f'expected shape [F, 3], got {faces.shape}')
  if faces.size and (faces.min() < 0 or faces.max() >= num_vertices):
    fail('f', f'face indices must lie in [0, {num_vertices}), got '
         f'[{faces.min()}, {faces.max()}]')

  if 'landmark_vertex_ids' in arrays:
    landmarks = np.asarray(arrays['landmark_vertex_ids']).reshape(-1)
  elif num_vertices == SMPL_NUM_VERTICES and num_joints == 24:
    landmarks = np.asarray(SMPL_LANDMARK_VERTEX_IDS)
  else:
    landmarks = np.zeros([0], np.int32)
  if landmarks.size and (landmarks.min() < 0 or
                         landmarks.max() >= num_vertices):
    fail('landmark_vertex_ids', f'ids must lie in [0, {num_vertices})')

  # Pose correctives that are all zero are skipped: a [B, 207] x [207, 3V]
  # product with zeros would otherwise dominate the forward's cost.
  has_pose_dirs = bool(np.any(posedirs != 0.0))
  # Planar (coordinate-major) columns: the product then yields [B, 3, V],
  # the layout in which skinning is a plain matrix product (see smpl.py).
  blend = [shapedirs.transpose(2, 1, 0).reshape(num_betas, -1)]
  if has_pose_dirs:
    blend.append(posedirs.transpose(2, 1, 0).reshape(num_pose, -1))
  joint_shape_dirs = np.einsum('jv,vcs->sjc', j_regressor, shapedirs)

  def to(x):
    return jnp.asarray(x, dtype=dtype)

  return BodyModel(
      v_template=to(v_template),
      blend_dirs=to(np.concatenate(blend, axis=0)),
      J_regressor=to(j_regressor),
      joint_template=to(j_regressor @ v_template),
      joint_shape_dirs=to(joint_shape_dirs.reshape(num_betas, -1)),
      lbs_weights=to(weights),
      faces=jnp.asarray(faces, dtype=jnp.int32),
      landmark_vertex_ids=jnp.asarray(landmarks, dtype=jnp.int32),
      parents=tuple(parents),
      num_betas=num_betas,
      num_pose_dirs=num_pose if has_pose_dirs else 0,
  )


def body_model_to_arrays(model: BodyModel) -> dict[str, np.ndarray]:
  """The inverse of `body_model_from_arrays`: official-layout numpy arrays."""
  if model.is_stacked:
    raise ValueError('body_model_to_arrays expects a single (unstacked) model.')
  kintree = np.stack([np.asarray(model.parents, np.int64),
                      np.arange(model.num_joints, dtype=np.int64)])
  kintree[0, 0] = 2**32 - 1  # the official files' root marker
  return {
      'v_template': np.asarray(model.v_template),
      'shapedirs': np.asarray(model.shapedirs),
      'posedirs': np.asarray(model.posedirs),
      'J_regressor': np.asarray(model.J_regressor),
      'weights': np.asarray(model.lbs_weights),
      'kintree_table': kintree,
      'f': np.asarray(model.faces, dtype=np.int64),
      'landmark_vertex_ids': np.asarray(model.landmark_vertex_ids),
  }


# ----------------------------------------------------------------------------
# Reading files.


class _ChumpyStandIn:
  """Takes the place of any chumpy class while unpickling official SMPL files.

  chumpy objects pickle as `copyreg._reconstructor(cls, object, None)` followed
  by a BUILD with their `__dict__`; the array value lives under key 'x'.
  """

  def __init__(self, *args, **kwargs):
    del args, kwargs
    self.state = {}

  def __setstate__(self, state):
    self.state = state if isinstance(state, dict) else {'state': state}


class UnsafePickleError(ValueError):
  """A pickle names a global that SMPL files and UP-3D fits never hold."""


def _reconstructor(cls, base, state):
  """`copyreg._reconstructor` for admitted classes only.

  Python-2 pickles build chumpy objects as `_reconstructor(Ch, object,
  None)`; it calls `base.__new__(cls)` (and `base.__init__`), so both
  classes are checked here, whatever reached the unpickler's stack.
  """
  if not (isinstance(cls, type) and
          (issubclass(cls, _ChumpyStandIn) or cls in _admitted_classes())):
    raise UnsafePickleError(f'copyreg._reconstructor refused to build {cls!r}')
  if base not in _RECONSTRUCTOR_BASES:
    raise UnsafePickleError(f'copyreg._reconstructor refused base {base!r}')
  return copyreg._reconstructor(cls, base, state)  # pylint: disable=protected-access


def _encode(text, encoding='utf-8', errors='strict'):
  """`_codecs.encode` as protocol-2 pickles use it for bytes (latin-1)."""
  if not isinstance(text, str) or encoding not in ('latin1', 'latin-1'):
    raise UnsafePickleError(f'_codecs.encode refused ({encoding!r})')
  return codecs.encode(text, encoding, errors)


# Plain containers (set: chumpy's `_dirty_vars`; bytes(): empty bytes in a
# protocol-2 pickle) and the bases `_reconstructor` may use.
_BUILTINS = ('object', 'dict', 'list', 'tuple', 'set', 'frozenset', 'bytes')
_RECONSTRUCTOR_BASES = (object, dict, list, tuple, set, frozenset)
# numpy: arrays (`_reconstruct`, or `_frombuffer` from protocol 5), dtypes
# and scalars, under their numpy 1 (`numpy.core`) and 2 (`numpy._core`)
# module paths.
_NUMPY_MODULES = ('numpy', 'numpy.core.multiarray', 'numpy._core.multiarray',
                  'numpy.core.numeric', 'numpy._core.numeric')
_NUMPY_NAMES = ('ndarray', 'dtype', '_reconstruct', 'scalar', '_frombuffer')
_SPARSE_NAMES = ('csc_matrix', 'csr_matrix', 'coo_matrix')


def _numpy_global(name: str):
  if name in ('ndarray', 'dtype'):
    return getattr(np, name)
  core = 'numpy._core' if hasattr(np, '_core') else 'numpy.core'
  module = 'numeric' if name == '_frombuffer' else 'multiarray'
  return getattr(importlib.import_module(f'{core}.{module}'), name)


def _admitted_classes() -> tuple[type, ...]:
  import scipy.sparse  # pylint: disable=g-import-not-at-top
  return (tuple(getattr(builtins, n) for n in _BUILTINS) +
          (np.ndarray, np.dtype) +
          tuple(getattr(scipy.sparse, n) for n in _SPARSE_NAMES))


class _ModelUnpickler(pickle.Unpickler):
  """Unpickler of SMPL files and UP-3D fits that runs no code of theirs.

  `find_class` admits only what those files hold: numpy arrays, dtypes and
  scalars, scipy sparse matrices (old `scipy.sparse.csc` and new
  `scipy.sparse._csc` paths), chumpy objects (as inert stand-ins, so
  chumpy is not needed), plain containers and a checked
  `copyreg._reconstructor`. Any other global (`os.system`, `builtins.eval`,
  `subprocess.Popen`, ...) raises `UnsafePickleError` before anything from
  the file is called. Names arrive as written (Python 2's `__builtin__`,
  `copy_reg`).
  """

  def find_class(self, module, name):
    if module.split('.')[0] == 'chumpy':
      return type(name, (_ChumpyStandIn,), {'chumpy_module': module})
    if module in _NUMPY_MODULES and name in _NUMPY_NAMES:
      return _numpy_global(name)
    if (module == 'scipy.sparse' or module.startswith('scipy.sparse.')) and \
        name in _SPARSE_NAMES:
      import scipy.sparse  # pylint: disable=g-import-not-at-top
      return getattr(scipy.sparse, name)
    if module in ('builtins', '__builtin__') and name in _BUILTINS:
      return getattr(builtins, name)
    if module in ('copyreg', 'copy_reg') and name == '_reconstructor':
      return _reconstructor
    if module == '_codecs' and name == 'encode':
      return _encode
    raise UnsafePickleError(
        f'the pickle asks for {module}.{name}, which SMPL model files and '
        'UP-3D fits never hold (admitted: numpy arrays, scipy sparse '
        'matrices, chumpy arrays, plain containers); refused before running '
        'anything from the file')


def _unwrap_chumpy(value, key: str, source: str):
  if isinstance(value, _ChumpyStandIn):
    if 'x' not in value.state:
      raise ValueError(
          f'{source}: key {key!r}: chumpy object of class '
          f'{type(value).__name__} holds no array (state keys '
          f'{sorted(value.state)}); expected a chumpy Ch array.')
    return np.asarray(value.state['x'])
  return value


def _read_pickle(path: pathlib.Path) -> dict[str, Any]:
  try:
    with open(path, 'rb') as f:
      data = _ModelUnpickler(f, encoding='latin1').load()
  except UnsafePickleError as e:
    raise UnsafePickleError(f'{path}: {e}.') from None
  except (pickle.UnpicklingError, EOFError, AttributeError, ImportError,
          IndexError, TypeError, ValueError, UnicodeDecodeError,
          MemoryError) as e:
    raise ValueError(
        f'{path}: not a readable SMPL pickle ({type(e).__name__}: {e}); '
        'expected an official SMPL .pkl file or an smplx-style .npz.') from e
  if not isinstance(data, dict):
    raise ValueError(f'{path}: expected a pickled dict of model arrays, '
                     f'got {type(data).__name__}.')
  return {k: _unwrap_chumpy(v, k, str(path)) for k, v in data.items()}


def _read_npz(path: pathlib.Path) -> dict[str, Any]:
  try:
    with np.load(path, allow_pickle=False) as data:
      return {k: data[k] for k in data.files}
  except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
    raise ValueError(
        f'{path}: not a readable .npz model ({type(e).__name__}: {e}).') from e


def read_model_arrays(path: str | os.PathLike[str]) -> dict[str, Any]:
  """Reads the raw arrays of an SMPL `.pkl` or `.npz` file (no validation)."""
  path = pathlib.Path(path)
  if not path.is_file():
    raise ValueError(f'{path}: no such model file.')
  with open(path, 'rb') as f:
    magic = f.read(4)
  if magic.startswith(b'PK'):
    return _read_npz(path)
  if path.suffix == '.npz':
    raise ValueError(f'{path}: not a readable .npz model (no zip header).')
  return _read_pickle(path)


def default_body_model_dir() -> pathlib.Path:
  """Folder of the default models: $SMPLR_JAX_BODY_MODEL_DIR or the embedded."""
  if os.environ.get(BODY_MODEL_DIR_ENV):
    return pathlib.Path(os.environ[BODY_MODEL_DIR_ENV])
  return resources.body_models_dir() / DEFAULT_MODEL_NAME


def _model_file_in_dir(folder: pathlib.Path, gender: str) -> pathlib.Path:
  """Finds the file of `gender` in a folder of SMPL models."""
  patterns = [f'SMPL_{gender.upper()}.npz', f'SMPL_{gender.upper()}.pkl',
              f'smpl_{gender}.npz', f'smpl_{gender}.pkl']
  official = {'neutral': 'neutral', 'male': 'm', 'female': 'f'}[gender]
  patterns += [f'basic[Mm]odel_{official}_lbs_*.pkl']
  for pattern in patterns:
    matches = sorted(glob.glob(str(folder / pattern)))
    if matches:
      return pathlib.Path(matches[0])
  raise ValueError(
      f'{folder}: no {gender} model found; looked for {patterns}. Put the '
      'official SMPL files there (or convert them with `python -m '
      'smplr_jax.tools.convert_model`).')


def load_body_model(path: str | os.PathLike[str] | None = None,
                    gender: str = 'neutral',
                    dtype=jnp.float32) -> BodyModel:
  """Loads an SMPL-layout body model.

  Args:
    path: an official SMPL `.pkl`, an smplx-style `.npz`, or a folder holding
      `SMPL_{NEUTRAL,MALE,FEMALE}.{npz,pkl}`. None means the embedded default
      model (or the folder named by $SMPLR_JAX_BODY_MODEL_DIR).
    gender: 'neutral', 'male' or 'female'; used when `path` is a folder.
    dtype: floating dtype of the model's arrays.

  Returns:
    The `BodyModel`.

  Raises:
    ValueError: on an unknown gender, a missing, unreadable or malformed file.
  """
  gender = gender.lower()
  if gender not in GENDERS:
    raise ValueError(f'gender must be one of {GENDERS}, got {gender!r}.')
  if path is None:
    folder = default_body_model_dir()
    if not folder.is_dir():
      raise ValueError(
          f'The default body model folder {folder} does not exist. Pass the '
          'path of an SMPL model file or folder, or set '
          f'${BODY_MODEL_DIR_ENV}.')
    path = folder
  path = pathlib.Path(path)
  if path.is_dir():
    path = _model_file_in_dir(path, gender)
  return body_model_from_arrays(read_model_arrays(path), str(path), dtype)


def stack_body_models(models: Sequence[BodyModel]) -> BodyModel:
  """Stacks models of one topology along a leading [G] axis.

  With `smpl_forward(..., gender=g)` each sample of a batch then uses model
  `g[b]`, in one compiled call whatever the mix.

  Args:
    models: G single models with the same vertex count, faces, parents and
      number of shape directions.

  Returns:
    A `BodyModel` whose arrays have a leading [G] axis.
  """
  if not models:
    raise ValueError('stack_body_models needs at least one model.')
  first = models[0]
  for i, m in enumerate(models):
    if m.is_stacked:
      raise ValueError(f'model {i} is already stacked.')
    if (m.parents != first.parents or m.num_betas != first.num_betas or
        m.faces.shape != first.faces.shape or
        m.v_template.shape != first.v_template.shape or
        not np.array_equal(np.asarray(m.faces), np.asarray(first.faces))):
      raise ValueError(
          f'model {i} does not share model 0\'s topology (vertices, faces, '
          'parents, number of betas); only such models can be stacked.')
  num_pose_dirs = max(m.num_pose_dirs for m in models)

  def pose_padded(m):
    if m.num_pose_dirs == num_pose_dirs:
      return m.blend_dirs
    zeros = jnp.zeros((num_pose_dirs, m.blend_dirs.shape[1]),
                      m.blend_dirs.dtype)
    return jnp.concatenate([m.blend_dirs, zeros], axis=0)

  def stack(name):
    return jnp.stack([getattr(m, name) for m in models])

  return first.replace(
      v_template=stack('v_template'),
      blend_dirs=jnp.stack([pose_padded(m) for m in models]),
      J_regressor=stack('J_regressor'),
      joint_template=stack('joint_template'),
      joint_shape_dirs=stack('joint_shape_dirs'),
      lbs_weights=stack('lbs_weights'),
      faces=first.faces,
      landmark_vertex_ids=first.landmark_vertex_ids,
      num_pose_dirs=num_pose_dirs,
  )


def save_body_model_npz(arrays: Mapping[str, np.ndarray],
                        path: str | os.PathLike[str]) -> None:
  """Writes official-layout arrays as a compressed smplx-style `.npz`."""
  buffer = io.BytesIO()
  np.savez_compressed(buffer, **{k: np.asarray(v) for k, v in arrays.items()})
  pathlib.Path(path).write_bytes(buffer.getvalue())


def select_vertices(model: BodyModel, vertex_ids) -> BodyModel:
  """The same model restricted to a few vertices (jit-able).

  `smpl_forward` on the result computes exactly those vertices of the full
  model's output, and the same joints, at a fraction of the cost: the way to
  get SMPLR's 18 landmarks inside a training loss.

  Args:
    model: a single or stacked `BodyModel`.
    vertex_ids: [K] int vertex indices.

  Returns:
    A `BodyModel` with K vertices, no faces and no landmark ids.
  """
  vertex_ids = jnp.asarray(vertex_ids, jnp.int32)
  num_vertices = model.num_vertices
  # Planar blend columns of coordinate c of vertex v sit at c * V + v.
  columns = (jnp.arange(3)[:, None] * num_vertices + vertex_ids[None]).reshape(-1)
  return model.replace(
      v_template=jnp.take(model.v_template, vertex_ids, axis=-2),
      blend_dirs=jnp.take(model.blend_dirs, columns, axis=-1),
      J_regressor=jnp.take(model.J_regressor, vertex_ids, axis=-1),
      lbs_weights=jnp.take(model.lbs_weights, vertex_ids, axis=-2),
      faces=jnp.zeros((0, 3), jnp.int32),
      landmark_vertex_ids=jnp.zeros((0,), jnp.int32),
  )
