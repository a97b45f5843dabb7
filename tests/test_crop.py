"""The crop and camera geometry (smplr_jax.crop)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from smplr_jax import crop
from smplr_jax.body import gendered
from smplr_jax.body import jl as jl_lib
from smplr_jax.data import augment, sampler


def _records(num, seed=0, size=96):
  """Records with real body JL in front of a camera, random pixels."""
  models = gendered.load_gendered_models()
  bodies = sampler.sample_jl(jax.random.PRNGKey(seed), models, num)
  rng = np.random.default_rng(seed)
  out = []
  for i in range(num):
    root = np.array([rng.uniform(-0.3, 0.3), rng.uniform(-0.3, 0.3),
                     rng.uniform(3.0, 6.0)])
    jl = np.asarray(bodies['jl'][i]) + root  # sampled in the camera frame
    out.append(dict(
        image=rng.integers(0, 256, (size, size, 3), dtype=np.uint8),
        mask=np.zeros((size, size), np.uint8), has_mask=np.int32(0),
        jl_cam=jl.astype(np.float32), jl_valid=np.ones(42, np.float32),
        focal=np.float32([120.0, 120.0]), principal=np.float32([50.0, 45.0]),
        pose=np.zeros((24, 3), np.float32), betas=np.zeros(10, np.float32),
        gender=np.int32(bodies['gender'][i]), has_smpl=np.int32(0)))
  return out


@pytest.mark.slow  # ~7 s
def test_cube_to_camera_inverts_the_plain_crop():
  config = augment.augment_config()
  config.crop_size = 64
  for record in _records(4):
    example = augment.process_example(record, config, (0,), train=False)
    np.testing.assert_allclose(example['jl_cube'][0], 0.0, atol=1e-6)
    back = crop.cube_to_camera(example['jl_cube'][None],
                              example['jl_cam'][None, 0])[0]
    np.testing.assert_allclose(back, example['jl_cam'], atol=1e-4)


def test_cube_and_camera_invert_each_other_with_zoom():
  """The augmented crop (zoom, rotation, flip): jl_cube <-> jl_cam."""
  config = augment.augment_config()
  config.crop_size = 64
  config.scale.max_relative = 0.3
  for i, record in enumerate(_records(4, seed=1)):
    example = augment.process_example(record, config, (i, 3), train=True)
    cube, cam = example['jl_cube'][None], example['jl_cam'][None]
    zoom = example['zoom'][None]
    np.testing.assert_allclose(crop.camera_to_cube(cam, zoom), cube,
                               atol=1e-4)
    np.testing.assert_allclose(crop.cube_to_camera(cube, cam[:, 0], zoom),
                               cam, atol=1e-4)
    relative = crop.cube_to_root_relative(cube, cam[:, 0], zoom)
    np.testing.assert_allclose(relative, cam - cam[:, :1], atol=1e-4)
    # Weak perspective (no root known): bone lengths ~5% off on average.
    weak = np.asarray(crop.cube_to_root_relative(cube, None, zoom))
    ratio = (np.asarray(jl_lib.bone_lengths(weak)) /
             np.asarray(jl_lib.bone_lengths(cam - cam[:, :1])))
    assert np.mean(np.abs(ratio - 1.0)) < 0.08, ratio


def test_uncrop_pixels_inverts_the_crop_pixel_map():
  root = np.array([0.2, -0.1, 4.0])
  focal, principal = np.array([1000.0, 1010.0]), np.array([320.0, 240.0])
  _, pixels = crop.crop_transform(root, focal, principal, 64, zoom=1.2,
                                  rotation=0.3, flip=True)
  photo = np.array([[100.0, 50.0], [320.0, 240.0], [400.0, 300.0]])
  mapped = np.concatenate([photo, np.ones((3, 1))], axis=1) @ pixels.T
  in_crop = mapped[:, :2] / mapped[:, 2:]
  np.testing.assert_allclose(crop.uncrop_pixels(in_crop, pixels), photo,
                             atol=1e-8)
  # The root's pixel lands at the crop centre.
  root_pixel = (root[:2] / root[2]) * focal + principal
  centre = np.concatenate([root_pixel, [1.0]]) @ pixels.T
  np.testing.assert_allclose(centre[:2] / centre[2], [32.0, 32.0], atol=1e-8)


def test_mirroring_is_one_function_for_numpy_and_jax():
  points = np.random.default_rng(0).normal(size=(2, 42, 3)).astype(
      np.float32)
  mirrored = crop.mirror_points(points)
  assert isinstance(mirrored, np.ndarray) and mirrored.dtype == np.float32
  np.testing.assert_allclose(mirrored[:, 0, 0], -points[:, 0, 0])
  np.testing.assert_allclose(mirrored[:, 1], points[:, 2] * [-1, 1, 1])
  traced = jax.jit(crop.mirror_points)(jnp.asarray(points))
  assert isinstance(traced, jax.Array)
  np.testing.assert_allclose(traced, mirrored)
  np.testing.assert_allclose(crop.mirror_points(mirrored), points)
  pose = np.random.default_rng(1).normal(size=(24, 3))
  np.testing.assert_allclose(crop.mirror_pose(crop.mirror_pose(pose)), pose)
  np.testing.assert_allclose(jax.jit(crop.mirror_pose)(jnp.asarray(pose)),
                             crop.mirror_pose(pose), atol=1e-6)
