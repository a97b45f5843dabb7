"""Shared test helpers: small fabricated files and workdirs (no training)."""

import json
import pathlib

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
from scipy.spatial import transform

from experiments.dae.configs import structured as dae_config
from experiments.smplr.configs import smplr as smplr_config
from experiments.tools import draw_augmentations
from smplr_jax.body import jl as jl_lib
from smplr_jax.data import augment
from smplr_jax.nets import dae, smplr, weights_io
from smplr_jax.predict import write
from smplr_jax.training import checkpoints


def write_pairs(path, n=40, **overrides):
  """Writes an .npz of `n` (pred_jl, gt_jl) pairs [n, 42, 3], not root-relative;
  `overrides` replace arrays. Returns the arrays written."""
  rng = np.random.default_rng(0)
  gt = rng.normal(0.0, 0.3, (n, 42, 3)).astype(np.float32) + 1.0
  arrays = dict(pred_jl=gt + rng.normal(0.0, 0.03, gt.shape), gt_jl=gt)
  arrays.update(overrides)
  np.savez(path, **arrays)
  return arrays


def write_workdir(workdir: pathlib.Path, config: ml_collections.ConfigDict,
                  variables: dict, step: int = 1,
                  val_loss: float = 1.0) -> pathlib.Path:
  """A training workdir as `train.train_and_evaluate` leaves it (config.json
  and one orbax checkpoint of {'params', 'batch_stats', 'step'}), made
  without training."""
  workdir = pathlib.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  checkpoints.save_config(config, workdir)
  state = {'params': variables['params'],
           'batch_stats': variables.get('batch_stats', {}),
           'step': jax.numpy.asarray(step, jax.numpy.int32)}
  manager = weights_io.checkpoint_manager(workdir)
  manager.save(step, args=ocp.args.StandardSave(state),
               metrics={'val_loss': val_loss})
  manager.wait_until_finished()
  manager.close()
  return workdir


AUGMENTATIONS = ('scale', 'rotation', 'flip', 'colour', 'background',
                 'occluders', 'garments', 'shadow', 'blur')


def augment_config_with(crop_size=64, on=(), probability=1.0):
  """An augmentation config with only the augmentations in `on`, each with
  the given probability."""
  config = augment.augment_config()
  config.crop_size = crop_size
  for name in AUGMENTATIONS:
    config[name].enabled = name in on
    if 'probability' in config[name]:
      config[name].probability = probability
  return config


def random_body(seed=0, root=(0.1, -0.05, 4.0)):
  """[42, 3] a plausible body (camera frame) from a seeded random walk."""
  rng = np.random.default_rng(seed)
  offsets = rng.normal(0.0, 0.12, (42, 3)) * np.array([1.0, 1.0, 0.5])
  points = np.zeros((42, 3))
  for i, parent in enumerate(jl_lib.JL_PARENTS):
    if parent >= 0:
      points[i] = points[parent] + offsets[i]
  return points + np.asarray(root)


def stick_records(num, image_size=96, seed=0):
  """`num` records of stick figures of `random_body`s (the record contract)."""
  return [draw_augmentations.stick_figure_record(
      random_body(seed + i), image_size=image_size, focal=image_size * 1.2,
      seed=seed + i) for i in range(num)]


def garble_image_of_record(path, index):
  """Rewrites the ArrayRecord file `path` with the first image (PNG or JPEG)
  of record `index` garbled in place: the record still parses, its image
  does not decode."""
  # pylint: disable-next=g-import-not-at-top
  from array_record.python import array_record_module
  reader = array_record_module.ArrayRecordReader(str(path))
  options = reader.writer_options_string()
  records = list(reader.read_all())
  reader.close()
  data = bytearray(records[index])
  starts = [data.find(magic) for magic in (b'\x89PNG', b'\xff\xd8\xff')]
  start = min(s for s in starts if s >= 0)
  data[start:start + 64] = bytes(64)
  records[index] = bytes(data)
  writer = array_record_module.ArrayRecordWriter(str(path), options)
  for record in records:
    writer.write(record)
  writer.close()


def write_untrained_smplr_and_dae(folder: pathlib.Path) -> None:
  """Workdirs `folder/smplr` (6D SMPLR) and `folder/dae` (a small DAE) of
  untrained networks, the stages an end-to-end run starts from."""
  smplr_cfg = smplr_config.get_config()
  smplr_cfg.smplr.rotation = '6d'
  write_workdir(folder / 'smplr', smplr_cfg,
                smplr.from_config(smplr_cfg.smplr).init_variables(jax.random.PRNGKey(1)))
  dae_cfg = dae_config.get_config()
  dae_cfg.dae.encoder, dae_cfg.dae.decoder = (16, 12, 8), (12, 16)
  write_workdir(folder / 'dae', dae_cfg, dae.make_dae(dae_cfg.dae).init(
      {'params': jax.random.PRNGKey(2)}, jnp.zeros((1, 42, 3)), train=False))


# --- Reading back what users take away (mesh.obj, body.json, .glb) ---------


def obj_vertices(path) -> np.ndarray:
  """[N, 3] every `v` line of a Wavefront OBJ, in file order."""
  return np.array([[float(v) for v in line.split()[1:4]]
                   for line in pathlib.Path(path).read_text().splitlines()
                   if line.startswith('v ')])


def glb_accessor(document: dict, binary: bytes, index: int) -> np.ndarray:
  """[count, size] the numbers of one glTF accessor (`write.read_glb`'s
  document and binary chunk)."""
  accessor = document['accessors'][index]
  view = document['bufferViews'][accessor['bufferView']]
  dtype = {5126: np.float32, 5123: np.uint16, 5125: np.uint32}[
      accessor['componentType']]
  size = {'SCALAR': 1, 'VEC3': 3, 'VEC4': 4, 'MAT4': 16}[accessor['type']]
  return np.frombuffer(binary, dtype, accessor['count'] * size,
                       view.get('byteOffset', 0) +
                       accessor.get('byteOffset', 0)).reshape(-1, size)


def assert_files_hold_the_body(paths: dict, body: dict) -> None:
  """mesh.obj, body.json and (when written) body.glb of one person hold
  `body` (`Predictor.predict_image`'s), to the precision each file prints:
  the mesh placed at the root (OBJ: 5 decimals; glTF: float32 in the y-up
  frame, `write.FLIP`), the pose (axis-angle, 5 decimals, read back as
  matrices by scipy), betas (5 decimals), gender, probability of male,
  root (4 decimals) and focal length."""
  placed = (np.asarray(body['vertices'], np.float64) +
            np.asarray(body['root_cam'], np.float64))
  np.testing.assert_allclose(obj_vertices(paths['obj']), placed, rtol=0,
                             atol=6e-6)
  record = json.loads(pathlib.Path(paths['json']).read_text())
  pose = transform.Rotation.from_rotvec(
      np.asarray(record['pose_axis_angle'])).as_matrix()
  np.testing.assert_allclose(pose, body['pose'], rtol=0, atol=3e-5)
  np.testing.assert_allclose(record['betas'], body['betas'], rtol=0,
                             atol=6e-6)
  assert record['gender'] == int(body['gender'])
  assert record['male_probability'] == float(body['male_probability'])
  np.testing.assert_allclose(record['root_cam_m'], body['root_cam'], rtol=0,
                             atol=6e-5)
  assert record['focal_px'] == float(body['focal'])
  assert record['front_end'] == body['front_end']
  if 'glb' in paths:
    document, binary = write.read_glb(paths['glb'])
    (mesh,) = document['meshes']
    primitive = mesh['primitives'][0]
    positions = glb_accessor(document, binary,
                             primitive['attributes']['POSITION'])
    np.testing.assert_allclose(positions, placed * [1.0, -1.0, -1.0],
                               rtol=0, atol=2e-6)
    np.testing.assert_array_equal(
        glb_accessor(document, binary, primitive['indices']).reshape(-1, 3),
        body['faces'])


def app_files(result) -> dict:
  """The mesh.obj, body.json and body.glb of an `AppService.photo` answer,
  as `assert_files_hold_the_body` takes them."""
  by_name = {path.name: path for path in result.downloads}
  return {'obj': by_name['mesh.obj'], 'json': by_name['body.json'],
          'glb': by_name['body.glb']}


def assert_same_record(got: dict, want: dict, atol: float = 1e-4) -> None:
  """Two body.json records (or the app's parameters) hold the same body:
  the same keys, the same words, the numbers within `atol` (the files
  print 4-5 decimals)."""
  assert sorted(got) == sorted(want)
  for key, value in want.items():
    if isinstance(value, (str, bool)) or value is None:
      assert got[key] == value, key
    else:
      np.testing.assert_allclose(got[key], value, rtol=1e-6, atol=atol,
                                 err_msg=key)


# The Khronos glTF validator (npm `gltf-validator`), run with Node.js on one
# file: prints {"errors", "warnings", "codes"}.
_VALIDATE_JS = r"""
const validator = require(process.argv[1] + '/node_modules/gltf-validator');
const data = new Uint8Array(require('fs').readFileSync(process.argv[2]));
validator.validateBytes(data, {maxIssues: 10000}).then((report) => {
  const codes = {};
  for (const m of report.issues.messages) {
    codes[m.code] = (codes[m.code] || 0) + 1;
  }
  console.log(JSON.stringify({errors: report.issues.numErrors,
                              warnings: report.issues.numWarnings, codes}));
});
"""


def gltf_validator() -> str:
  """The folder holding the Khronos glTF validator (npm
  `gltf-validator`), from $GLTF_VALIDATOR_DIR (`npm install --prefix DIR
  gltf-validator`; .ci/run installs it), with Node.js on the PATH; the
  test skips saying so without them (call it before the work it checks)."""
  import os  # pylint: disable=g-import-not-at-top
  import shutil  # pylint: disable=g-import-not-at-top

  import pytest  # pylint: disable=g-import-not-at-top
  folder = os.environ.get('GLTF_VALIDATOR_DIR')
  if not folder or not shutil.which('node') or not (
      pathlib.Path(folder) / 'node_modules' / 'gltf-validator').is_dir():
    pytest.skip('needs the [validator]: Node.js and the Khronos glTF '
                'validator (npm install --prefix DIR gltf-validator, then '
                'GLTF_VALIDATOR_DIR=DIR)')
  return folder


def gltf_validator_report(folder: str, path) -> dict:
  """The Khronos glTF validator's counts for one .glb: {'errors',
  'warnings', 'codes': {code: count}}; folder: `gltf_validator()`."""
  import subprocess  # pylint: disable=g-import-not-at-top
  out = subprocess.run(['node', '-e', _VALIDATE_JS, folder, str(path)],
                       capture_output=True, text=True, check=True, timeout=120)
  return json.loads(out.stdout.strip().splitlines()[-1])
