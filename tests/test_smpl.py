"""The JAX SMPL forward: parity with smplx, gradients, mixed genders."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from scipy.spatial.transform import Rotation

from smplr_jax import load_body_model, smpl_forward, stack_body_models
from smplr_jax.body import body_model as bm

torch = pytest.importorskip('torch', reason='needs torch (the [test] extra)')
smplx = pytest.importorskip('smplx', reason='needs smplx (the [test] extra)')
from smplx.utils import Struct  # pylint: disable=g-import-not-at-top,wrong-import-position

BATCH = 8


def _poses(kind: str, rng: np.random.Generator) -> np.ndarray:
  """[BATCH, 24, 3] axis-angle poses of a named kind."""
  if kind == 'zero':
    return np.zeros((BATCH, 24, 3))
  axes = rng.normal(size=(BATCH, 24, 3))
  axes /= np.linalg.norm(axes, axis=-1, keepdims=True)
  if kind == 'random':
    return rng.normal(0.0, 0.5, (BATCH, 24, 3))
  if kind == 'near_pi':  # angles within 1e-3 of pi, and exactly pi
    angles = np.pi - rng.uniform(0.0, 1e-3, (BATCH, 24, 1))
    angles[0] = np.pi
    return axes * angles
  if kind == 'tiny':  # around the Taylor-series switch of Rodrigues
    return axes * rng.uniform(0.0, 2e-4, (BATCH, 24, 1))
  if kind == 'extreme':  # any angle up to 2 pi
    return axes * rng.uniform(0.0, 2 * np.pi, (BATCH, 24, 1))
  raise ValueError(kind)


def _reference(arrays, pose, betas, transl, rotmat: bool):
  model = smplx.SMPL(model_path='unused', data_struct=Struct(**arrays),
                     num_betas=arrays['shapedirs'].shape[-1],
                     dtype=torch.float64)
  if rotmat:
    mats = torch.from_numpy(Rotation.from_rotvec(
        pose.reshape(-1, 3)).as_matrix().reshape(BATCH, 24, 3, 3))
    out = model(global_orient=mats[:, :1], body_pose=mats[:, 1:],
                betas=torch.from_numpy(betas), transl=torch.from_numpy(transl),
                pose2rot=False)
  else:
    flat = torch.from_numpy(pose.reshape(BATCH, -1))
    out = model(global_orient=flat[:, :3], body_pose=flat[:, 3:],
                betas=torch.from_numpy(betas), transl=torch.from_numpy(transl))
  return out.vertices.numpy(), out.joints[:, :24].numpy()


@pytest.mark.parametrize('kind', ['random', 'zero', 'near_pi', 'tiny',
                                  'extreme'])
@pytest.mark.parametrize('rotmat', [False, True])
def test_parity_with_smplx(smpl_arrays, kind, rotmat):
  """float32 forward vs smplx in float64 on the same model: <= 1e-5 m."""
  rng = np.random.default_rng(hash(kind) % 2**32)
  pose = _poses(kind, rng)
  betas = rng.normal(0.0, 1.5, (BATCH, 10))
  transl = rng.normal(0.0, 1.0, (BATCH, 3))
  ref_vertices, ref_joints = _reference(smpl_arrays, pose, betas, transl,
                                        rotmat)
  model = bm.body_model_from_arrays(smpl_arrays)
  assert model.num_pose_dirs == 207  # pose correctives are exercised
  pose_in = (Rotation.from_rotvec(pose.reshape(-1, 3)).as_matrix().reshape(
      BATCH, 24, 3, 3) if rotmat else pose)
  out = jax.jit(smpl_forward)(model, jnp.asarray(pose_in, jnp.float32),
                              jnp.asarray(betas, jnp.float32),
                              jnp.asarray(transl, jnp.float32))
  assert out.vertices.shape == (BATCH, 6890, 3)
  assert out.joints.shape == (BATCH, 24, 3)
  assert out.joint_transforms.shape == (BATCH, 24, 4, 4)
  np.testing.assert_allclose(out.vertices, ref_vertices, rtol=0, atol=1e-5)
  np.testing.assert_allclose(out.joints, ref_joints, rtol=0, atol=1e-5)
  np.testing.assert_allclose(out.joint_transforms[..., :3, 3], out.joints,
                             atol=1e-6)


def test_check_grads_through_forward(smpl_arrays):
  with jax.enable_x64(True):
    small = {k: v for k, v in smpl_arrays.items()}
    model = bm.body_model_from_arrays(small, dtype=jnp.float64)
    rng = np.random.default_rng(3)
    pose = jnp.asarray(rng.normal(0.0, 0.5, (2, 24, 3)))
    pose = pose.at[0, 5].set(0.0)  # a joint exactly at zero angle
    betas = jnp.asarray(rng.normal(size=(2, 10)))
    weights = jnp.asarray(rng.normal(size=(2, 6890, 3)))

    def loss(pose, betas):
      out = smpl_forward(model, pose, betas)
      return jnp.sum(out.vertices * weights) + jnp.sum(out.joints**2)

    # Jitted: check_grads calls it several times, op by op otherwise.
    check_grads(jax.jit(loss), (pose, betas), order=1, modes=('rev',),
                atol=1e-5, rtol=1e-5)


@pytest.mark.slow  # ~6 s
def test_fewer_betas_are_zero_padded(smpl_arrays):
  model = bm.body_model_from_arrays(smpl_arrays)
  rng = np.random.default_rng(0)
  pose = jnp.asarray(rng.normal(0, 0.3, (2, 24, 3)), jnp.float32)
  betas = jnp.asarray(rng.normal(size=(2, 4)), jnp.float32)
  short = smpl_forward(model, pose, betas)
  full = smpl_forward(model, pose, jnp.pad(betas, ((0, 0), (0, 6))))
  np.testing.assert_allclose(short.vertices, full.vertices, atol=1e-6)


def test_bad_inputs_raise(smpl_arrays):
  model = bm.body_model_from_arrays(smpl_arrays)
  with pytest.raises(ValueError, match=r'pose must be'):
    smpl_forward(model, jnp.zeros((2, 23, 3)), jnp.zeros((2, 10)))
  with pytest.raises(ValueError, match=r'only 10 shape directions'):
    smpl_forward(model, jnp.zeros((2, 24, 3)), jnp.zeros((2, 11)))
  with pytest.raises(ValueError, match=r'betas must be'):
    smpl_forward(model, jnp.zeros((2, 24, 3)), jnp.zeros((3, 10)))
  with pytest.raises(ValueError, match=r'stacked'):
    smpl_forward(model, jnp.zeros((2, 24, 3)), jnp.zeros((2, 10)),
                 gender=jnp.zeros(2, jnp.int32))


@pytest.mark.slow  # ~7 s
def test_mixed_gender_batch_equals_per_gender_calls(model_dir):
  models = [load_body_model(model_dir, g) for g in ('neutral', 'male',
                                                    'female')]
  stacked = stack_body_models(models)
  rng = np.random.default_rng(0)
  pose = jnp.asarray(rng.normal(0, 0.5, (6, 24, 3)), jnp.float32)
  betas = jnp.asarray(rng.normal(size=(6, 10)), jnp.float32)
  traces = []

  def counted_forward(*args):
    traces.append(1)  # runs once per trace (compilation), not per call
    return smpl_forward(*args)

  forward = jax.jit(counted_forward)
  for gender in ([0, 1, 2, 2, 1, 0], [2, 2, 2, 2, 2, 2], [1, 0, 1, 0, 1, 0]):
    gender = jnp.asarray(gender, jnp.int32)
    mixed = forward(stacked, pose, betas, None, gender)
    for b in range(6):
      single = smpl_forward(models[int(gender[b])], pose[b:b + 1],
                            betas[b:b + 1])
      np.testing.assert_allclose(mixed.vertices[b], single.vertices[0],
                                 atol=2e-6)
      np.testing.assert_allclose(mixed.joints[b], single.joints[0], atol=2e-6)
  assert len(traces) == 1  # the three mixes shared one compilation


def test_stacking_rejects_other_topologies(model_dir, smpl_arrays):
  small = load_body_model(model_dir, 'male')
  big = bm.body_model_from_arrays(smpl_arrays)
  with pytest.raises(ValueError, match='topology'):
    stack_body_models([small, big])


@pytest.mark.parametrize('stacked', [False, True])
def test_select_vertices_matches_full_forward(model_dir, stacked):
  models = [load_body_model(model_dir, g) for g in ('female', 'male')]
  model = stack_body_models(models) if stacked else models[0]
  gender = jnp.asarray([0, 1, 1], jnp.int32) if stacked else None
  ids = jnp.asarray([3, 77, 499, 0, 77])
  rng = np.random.default_rng(5)
  pose = jnp.asarray(rng.normal(0, 0.5, (3, 24, 3)), jnp.float32)
  betas = jnp.asarray(rng.normal(size=(3, 10)), jnp.float32)
  full = smpl_forward(model, pose, betas, gender=gender)
  part = jax.jit(lambda m, i: smpl_forward(bm.select_vertices(m, i), pose,
                                           betas, gender=gender))(model, ids)
  np.testing.assert_allclose(part.vertices, full.vertices[:, ids], atol=1e-6)
  np.testing.assert_allclose(part.joints, full.joints, atol=1e-6)


@pytest.mark.parametrize('gender', ['neutral', 'male', 'female'])
@pytest.mark.parametrize('rotmat', [False, True])
def test_parity_with_smplx_on_default_model(gender, rotmat):
  """The embedded model (no pose correctives: that product is skipped)."""
  path = bm.default_body_model_dir() / f'SMPL_{gender.upper()}.npz'
  arrays = bm.read_model_arrays(path)
  rng = np.random.default_rng(11)
  pose = _poses('extreme', rng)
  pose[:4] = _poses('random', rng)[:4]
  betas = rng.normal(0.0, 1.5, (BATCH, 10))
  transl = rng.normal(0.0, 1.0, (BATCH, 3))
  ref_vertices, ref_joints = _reference(arrays, pose, betas, transl, rotmat)
  model = load_body_model(None, gender)
  assert model.num_pose_dirs == 0
  pose_in = (Rotation.from_rotvec(pose.reshape(-1, 3)).as_matrix().reshape(
      BATCH, 24, 3, 3) if rotmat else pose)
  out = jax.jit(smpl_forward)(model, jnp.asarray(pose_in, jnp.float32),
                              jnp.asarray(betas, jnp.float32),
                              jnp.asarray(transl, jnp.float32))
  np.testing.assert_allclose(out.vertices, ref_vertices, rtol=0, atol=1e-5)
  np.testing.assert_allclose(out.joints, ref_joints, rtol=0, atol=1e-5)
