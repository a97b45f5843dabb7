"""Held-out renders with ground truth, and the errors the photo and video
evaluations report (`experiments/evaluate_photo_path.py`,
`experiments/evaluate_video.py`, and the tests that bound them).

Photos: `render_set` (unseen style: clothes and backgrounds never used in
training). Clips: `render_motion_clip` (one person, one camera,
`motion.smooth_motion`). Errors: root-relative camera-frame joints (P1
over the 23 joints below the root, P2 after Procrustes), the surface, the
12 limb joints hip-aligned, and the overlay (the body projected with the
returned root and focal against the true joints' pixels, as a fraction of
the person's height).
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from smplr_jax.body import gendered, rotations, smpl
from smplr_jax.body import jl as jl_lib
from smplr_jax.body import keypoints as kp_lib
from smplr_jax.data import motion, synthetic
from smplr_jax.evaluation import metrics as metrics_lib

# The 12 limb joints' indices among the 24 joints (and the 42 JL).
LIMB_JOINTS = np.asarray([jl_lib.JOINT_NAMES.index(n)
                          for n in kp_lib.LIMB_JOINT_NAMES])
_HIPS = (6, 7)  # left and right hip in `LIMB_JOINTS`


def _config(image_size: int, jitter: bool = True) -> dict:
  """The unseen style at `image_size`, the focal range scaled with it."""
  scale = image_size / synthetic.SyntheticConfig.image_size
  return {'style': 'unseen', 'image_size': image_size,
          'focal_range': tuple(scale * f for f in
                               synthetic.SyntheticConfig.focal_range),
          'root_jitter_px': 16.0 * scale if jitter else 0.0}


def detect_all(detector, images) -> tuple[list, np.ndarray, np.ndarray]:
  """(detections, indices of the images with a person [N], ms per image
  [len(images)]) of a `detector.BlazePoseDetector` over images."""
  from smplr_jax.predict import detector as detector_lib  # pylint: disable=g-import-not-at-top
  detections, found, ms = [], [], []
  for i, image in enumerate(images):
    start = time.perf_counter()
    try:
      detections.append(detector(image))
      found.append(i)
    except detector_lib.NoPersonError:
      pass
    ms.append(1000 * (time.perf_counter() - start))
  return detections, np.asarray(found, int), np.asarray(ms)


def render_motion_clip(seed: int, num_frames: int,
                       image_size: int = 512) -> list[dict]:
  """One rendered motion clip (records with ground truth, per frame)."""
  models = gendered.load_gendered_models()
  return synthetic.render_clip(models, motion.smooth_motion(seed,
                                                            num_frames),
                               seed, _config(image_size, jitter=False))


def render_set(num: int, seed: int, image_size: int = 512) -> list[dict]:
  """The held-out renders (unseen style) with their ground truth."""
  models = gendered.load_gendered_models()
  return list(synthetic.render_examples(models, num, seed,
                                        config=_config(image_size)))


def ground_truth(records: list[dict], body) -> dict[str, np.ndarray]:
  """Root-relative joints, mesh and BlazePose keypoints, and each person's
  true joint pixels and height in the photo."""
  pose = rotations.axis_angle_to_matrix(
      jnp.asarray(np.stack([r['pose'] for r in records])))
  betas = jnp.asarray(np.stack([r['betas'] for r in records]))
  gender = jnp.asarray(np.stack([r['gender'] for r in records]))
  out = jax.device_get(smpl.smpl_forward(body.gendered, pose, betas,
                                         gender=gender))
  root = out.joints[:, :1]
  keypoints = np.asarray(kp_lib.keypoints_from_mesh(
      kp_lib.BLAZEPOSE33, body.gendered, out.joints, out.vertices))
  camera_root = np.stack([r['jl_cam'][0] for r in records])[:, None]
  focal = np.stack([r['focal'] for r in records])[:, None]
  principal = np.stack([r['principal'] for r in records])[:, None]

  def pixels(points):  # root-relative points of the records' cameras
    cam = points + camera_root
    return cam[..., :2] / cam[..., 2:] * focal + principal

  vertex_pixels = pixels(out.vertices - root)
  return {'joints': out.joints - root, 'vertices': out.vertices - root,
          'keypoints': keypoints - root,
          'joint_pixels': pixels(out.joints - root),
          'height_px': np.ptp(vertex_pixels[..., 1], axis=1)}


def limb_errors(pred: np.ndarray, truth: np.ndarray) -> dict[str, np.ndarray]:
  """P1 / P2 [B] (metres) of 12 limb points after aligning hip midpoints."""
  pred = pred - pred[:, _HIPS, :].mean(1, keepdims=True)
  truth = truth - truth[:, _HIPS, :].mean(1, keepdims=True)
  aligned = np.asarray(metrics_lib.procrustes_align(jnp.asarray(pred),
                                                    jnp.asarray(truth)))
  return {'limb_p1': np.linalg.norm(pred - truth, axis=-1).mean(-1),
          'limb_p2': np.linalg.norm(aligned - truth, axis=-1).mean(-1)}


def body_errors(outs: list[dict], truth: dict, records: list[dict]
                ) -> dict[str, np.ndarray]:
  """Per-photo errors of predictions against the truth (same order)."""
  joints = np.stack([o['joints'] for o in outs])
  vertices = np.stack([o['vertices'] for o in outs])
  aligned = np.asarray(metrics_lib.procrustes_align(
      jnp.asarray(joints), jnp.asarray(truth['joints'])))
  errors = {
      'p1': np.linalg.norm(joints - truth['joints'],
                           axis=-1)[:, 1:].mean(-1),
      'p2': np.linalg.norm(aligned - truth['joints'], axis=-1).mean(-1),
      'surface': np.linalg.norm(vertices - truth['vertices'],
                                axis=-1).mean(-1)}
  errors.update(limb_errors(joints[:, LIMB_JOINTS],
                            truth['joints'][:, LIMB_JOINTS]))
  overlay = []
  for out, record, true_px, height in zip(outs, records,
                                          truth['joint_pixels'],
                                          truth['height_px']):
    cam = out['joints'] + out['root_cam']
    size = record['image'].shape[1::-1]
    principal = (np.asarray(size) - 1) / 2
    px = cam[:, :2] / cam[:, 2:] * out['focal'] + principal
    overlay.append(np.linalg.norm(px - true_px, axis=-1).mean() / height)
  errors['overlay'] = np.asarray(overlay)
  return errors
