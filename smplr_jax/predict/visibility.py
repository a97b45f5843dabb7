"""Which of a body's joints the photo shows, and which the prior inferred.

A joint is seen when its pixel (the body's joint projected with the
returned root and focal) lies inside the photo and BlazePose saw a landmark
near it (visibility above `MIN_VISIBILITY`); otherwise the body's joint was
inferred: from the other joints, SMPLR's pose and the fit's priors.
`JOINT_LANDMARKS` maps each of SMPL's 24 joints to the BlazePose landmarks
(`keypoints.BLAZEPOSE33`) at or around it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from smplr_jax import camera
from smplr_jax.body import jl as jl_lib
from smplr_jax.body import keypoints as kp_lib

# mediapipe's usual threshold for a visible landmark (not tuned here).
MIN_VISIBILITY = 0.5

_NEAR = {
    'pelvis': ('left_hip', 'right_hip'),
    'left_hip': ('left_hip',),
    'right_hip': ('right_hip',),
    'spine1': ('left_hip', 'right_hip'),
    'left_knee': ('left_knee',),
    'right_knee': ('right_knee',),
    'spine2': ('left_hip', 'right_hip', 'left_shoulder', 'right_shoulder'),
    'left_ankle': ('left_ankle',),
    'right_ankle': ('right_ankle',),
    'spine3': ('left_shoulder', 'right_shoulder'),
    'left_foot': ('left_heel', 'left_foot_index'),
    'right_foot': ('right_heel', 'right_foot_index'),
    'neck': ('left_shoulder', 'right_shoulder', 'left_mouth', 'right_mouth'),
    'left_collar': ('left_shoulder',),
    'right_collar': ('right_shoulder',),
    'head': ('nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear'),
    'left_shoulder': ('left_shoulder',),
    'right_shoulder': ('right_shoulder',),
    'left_elbow': ('left_elbow',),
    'right_elbow': ('right_elbow',),
    'left_wrist': ('left_wrist',),
    'right_wrist': ('right_wrist',),
    'left_hand': ('left_pinky', 'left_index', 'left_thumb'),
    'right_hand': ('right_pinky', 'right_index', 'right_thumb'),
}
# JOINT_LANDMARKS[j]: the BlazePose landmark indices near SMPL joint j.
JOINT_LANDMARKS = tuple(
    tuple(kp_lib.BLAZEPOSE33.names.index(name) for name in _NEAR[joint])
    for joint in jl_lib.JOINT_NAMES)


def project(points_cam: Any, focal: float, principal: Any) -> np.ndarray:
  """[..., N, 2] pixels of camera-frame points [..., N, 3] (metres), NaN
  where a point is not in front of the camera."""
  points = np.asarray(points_cam, np.float64)
  depth = points[..., 2:]
  depth = np.where(depth > 1e-6, depth, np.nan)
  return points[..., :2] / depth * focal + np.asarray(principal, np.float64)


def joint_seen(joint_pixels: Any, image_size: tuple[int, int],
               visibility: Any,
               min_visibility: float = MIN_VISIBILITY) -> np.ndarray:
  """[..., 24] True where a joint is in the photo and BlazePose saw it.

  Args:
    joint_pixels: [..., 24] x 2 the body's joints in the photo (pixels;
      NaN: behind the camera), e.g. `project(joints + root_cam, ...)`.
    image_size: (width, height) of the photo.
    visibility: [..., 33] BlazePose's per-landmark visibility.
    min_visibility: a landmark counts as seen above this.

  Returns:
    bool [..., 24]: True where the joint's pixel is inside the photo and a
    landmark near it (`JOINT_LANDMARKS`) has visibility above
    `min_visibility`; False where the body's joint is inferred.
  """
  pixels = np.asarray(joint_pixels, np.float64)
  visibility = np.asarray(visibility, np.float64)
  if pixels.shape[-2:] != (len(JOINT_LANDMARKS), 2):
    raise ValueError(f'joint_pixels must be [..., 24, 2], got '
                     f'{pixels.shape}.')
  if visibility.shape[-1] != len(kp_lib.BLAZEPOSE33.names):
    raise ValueError(f'visibility must be [..., 33] (BlazePose), got '
                     f'{visibility.shape}.')
  inside = camera.inside_image(pixels, image_size)
  near = np.stack([visibility[..., list(ids)].max(axis=-1)
                   for ids in JOINT_LANDMARKS], axis=-1)
  return inside & (near > min_visibility)


def photo_joint_seen(prediction: dict[str, Any],
                     image_size: tuple[int, int]) -> np.ndarray:
  """[24] `joint_seen` of one photo-path body (`predict_image`'s dict:
  joints, root_cam, focal, visibility) in a photo of `image_size` (width,
  height), the principal point at its centre (`camera.principal_point`)."""
  pixels = project(np.asarray(prediction['joints']) +
                   np.asarray(prediction['root_cam']),
                   float(prediction['focal']),
                   camera.principal_point(image_size))
  return joint_seen(pixels, image_size, prediction['visibility'])
