"""Held-out renders with ground truth, and the errors the photo and video
evaluations report (`experiments/evaluate_photo_path.py`,
`experiments/evaluate_video.py`, and the tests that bound them).

Photos: `render_set` (unseen style: clothes and backgrounds never used in
training). Clips: `render_motion_clip` (one person, one camera,
`motion.smooth_motion`). Errors, all through `metrics` (which names each
joint set): root-relative camera-frame joints (P1-23: the 23 joints below
the root; P2-24: all 24 after Procrustes), the surface, the 12 limb joints
(limb P1-12 hip-aligned, limb P2-12), and the overlay (the body projected
with the returned root and focal against the true joints' pixels, as a
fraction of the person's height).
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from smplr_jax import camera
from smplr_jax.body import gendered, rotations, smpl
from smplr_jax.body import keypoints as kp_lib
from smplr_jax.data import motion, synthetic
from smplr_jax.evaluation import metrics as metrics_lib

# The 12 limb joints' indices among the 24 joints (and the 42 JL):
# `metrics.JOINTS_12_LIMBS` (this name is used by
# experiments/adapter/evaluate_detector.py).
LIMB_JOINTS = np.asarray(metrics_lib.JOINTS_12_LIMBS)
# The joint sets of the columns `body_errors` returns, and their labels
# (`metrics.metric_name`): P1-23, P2-24, limb P1-12, limb P2-12.
P1_JOINTS = metrics_lib.JOINTS_23
P2_JOINTS = metrics_lib.JOINTS_24
# Every point of a [B, 12, 3] limb array (`metrics.JOINTS_12_LIMBS` order).
LIMB_POINTS = tuple(range(len(metrics_lib.JOINTS_12_LIMBS)))
COLUMN_NAMES = {'p1': metrics_lib.metric_name('P1', P1_JOINTS),
                'p2': metrics_lib.metric_name('P2', P2_JOINTS),
                'limb_p1': 'limb ' + metrics_lib.metric_name('P1',
                                                             LIMB_POINTS),
                'limb_p2': 'limb ' + metrics_lib.metric_name('P2',
                                                             LIMB_POINTS)}


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
  """Limb P1-12 and P2-12 of the 12 limb points.

  Args:
    pred, truth: [B, 12, 3] points in `metrics.JOINTS_12_LIMBS` order (SMPL
      joints, or another skeleton's points of the same names).

  Returns:
    'limb_p1' [B]: P1-12 after aligning the hip midpoints
    (`metrics.LIMB_HIPS`); 'limb_p2' [B]: P2-12 (metres).
  """
  return {'limb_p1': np.asarray(metrics_lib.mpjpe(
              pred, truth, joints=LIMB_POINTS,
              center_on=metrics_lib.LIMB_HIPS)),
          'limb_p2': np.asarray(metrics_lib.pa_mpjpe(pred, truth,
                                                     joints=LIMB_POINTS))}


def body_errors(outs: list[dict], truth: dict, records: list[dict]
                ) -> dict[str, np.ndarray]:
  """Per-photo errors of predictions against the truth (same order).

  Args:
    outs: predictions, each with root-relative 'joints' [24, 3] and
      'vertices' [V, 3], 'root_cam' [3] and 'focal'.
    truth: `ground_truth` of the same photos.
    records: the photos' records (for the image size).

  Returns:
    [B] arrays (metres; overlay a fraction of the height): 'p1' (P1-23:
    root-aligned, `P1_JOINTS`), 'p2' (P2-24: Procrustes on and mean over
    `P2_JOINTS`), 'surface', 'limb_p1', 'limb_p2' (`limb_errors`) and
    'overlay'; `COLUMN_NAMES` labels the P1 / P2 ones.
  """
  joints = np.stack([o['joints'] for o in outs])
  vertices = np.stack([o['vertices'] for o in outs])
  errors = {
      'p1': np.asarray(metrics_lib.mpjpe(joints, truth['joints'],
                                         joints=P1_JOINTS)),
      'p2': np.asarray(metrics_lib.pa_mpjpe(joints, truth['joints'],
                                            joints=P2_JOINTS)),
      'surface': np.asarray(metrics_lib.point_errors(
          vertices, truth['vertices']).mean(axis=1))}
  errors.update(limb_errors(joints[:, LIMB_JOINTS],
                            truth['joints'][:, LIMB_JOINTS]))
  overlay = []
  for out, record, true_px, height in zip(outs, records,
                                          truth['joint_pixels'],
                                          truth['height_px']):
    cam = out['joints'] + out['root_cam']
    principal = camera.principal_point(record['image'].shape[1::-1])
    px = cam[:, :2] / cam[:, 2:] * out['focal'] + principal
    overlay.append(np.linalg.norm(px - true_px, axis=-1).mean() / height)
  errors['overlay'] = np.asarray(overlay)
  return errors
