"""Alternative readings of one detection, for the fit to choose between.

Monocular detectors make two mistakes that a single reading cannot undo:
they swap left and right (the labels of both arms and legs), and they
confuse front and back (a person seen from behind is read as facing the
camera: the 2D labels are swapped and the depths are mirrored). The 2D
pixels of every reading below are the same points with other labels, so
the reprojection cannot tell them apart; the 3D points, the joint limits
and the body prior can. `readings` makes the alternatives as a batch;
`predict.detector` fits each one and keeps the lowest cost.

| name | labels | depth (3D points about their hip midpoint) |
|---|---|---|
| `detected` | as detected | as detected |
| `left_right_swapped` | left <-> right | as detected |
| `depth_mirrored` | as detected | z -> -z |
| `turned_around` | left <-> right | z -> -z |
| `mirrored_photo` | the detector run on the mirrored photo, mapped back | |
| `fused` | the mean of the detected and `mirrored_photo` readings (`fuse`; made by the photo path, not asked for) | |

Frames: 3D points in the camera frame (x right, y down, z forward), metres,
any origin; pixels (u right, v down).
"""

from __future__ import annotations

import numpy as np

DETECTED = 'detected'
LEFT_RIGHT_SWAPPED = 'left_right_swapped'
DEPTH_MIRRORED = 'depth_mirrored'
TURNED_AROUND = 'turned_around'
MIRRORED_PHOTO = 'mirrored_photo'
# Not a reading one asks for: the photo path fuses the detected and the
# mirrored photo's readings when it has both (`fuse`).
FUSED = 'fused'
ALL = (DETECTED, LEFT_RIGHT_SWAPPED, DEPTH_MIRRORED, TURNED_AROUND,
       MIRRORED_PHOTO)
ONE_PASS = (DETECTED, LEFT_RIGHT_SWAPPED, DEPTH_MIRRORED, TURNED_AROUND)
# What the photo path fits by default: the detection and, when its fit is
# ambiguous, the detector's reading of the mirrored photo (a second pass).
# The other one-pass readings lost on the tuning renders
# (docs/photo_path.md).
DEFAULT = (DETECTED, MIRRORED_PHOTO)


def check_names(names) -> tuple[str, ...]:
  """The hypotheses' names as a tuple, 'detected' first; ValueError on an
  unknown name or without 'detected'."""
  names = (names,) if isinstance(names, str) else tuple(names)
  unknown = [n for n in names if n not in ALL]
  if unknown or DETECTED not in names:
    raise ValueError(f'unknown hypotheses {unknown}; known: {", ".join(ALL)}'
                     f' (with {DETECTED!r}).')
  return (DETECTED,) + tuple(n for n in dict.fromkeys(names)
                             if n != DETECTED)


def _mirror_depth(points: np.ndarray, centre_ids) -> np.ndarray:
  centre = points[list(centre_ids)].mean(axis=0)
  out = points.copy()
  out[:, 2] = 2 * centre[2] - points[:, 2]
  return out


def readings(names, points_3d: np.ndarray, pixels: np.ndarray,
             visibility: np.ndarray, left_right, centre_ids,
             mirrored: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
             ) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
  """Each hypothesis' (points_3d [K, 3], pixels [K, 2], visibility [K]).

  Args:
    names: hypotheses to make (`ALL`).
    points_3d: [K, 3] the detector's 3D points.
    pixels: [K, 2] its 2D points.
    visibility: [K] its confidences.
    left_right: [K] keypoint i of a mirrored body is keypoint
      left_right[i] (`keypoints.KeypointSet.left_right_permutation`).
    centre_ids: the hip keypoints (the depth mirror's centre).
    mirrored: the reading of the mirrored photo already mapped back
      (`unmirror`), needed for 'mirrored_photo'.

  Returns:
    dict name -> arrays, in the order of `names`; 'mirrored_photo' is left
    out when `mirrored` is None (no person found in the mirrored photo).
  """
  perm = np.asarray(left_right)
  out = {}
  for name in check_names(names):
    if name == DETECTED:
      out[name] = (points_3d, pixels, visibility)
    elif name == LEFT_RIGHT_SWAPPED:
      out[name] = (points_3d[perm], pixels[perm], visibility[perm])
    elif name == DEPTH_MIRRORED:
      out[name] = (_mirror_depth(points_3d, centre_ids), pixels, visibility)
    elif name == TURNED_AROUND:
      out[name] = (_mirror_depth(points_3d, centre_ids)[perm], pixels[perm],
                   visibility[perm])
    elif mirrored is not None:
      out[name] = mirrored
  return {k: tuple(np.asarray(a, np.float64) for a in v)
          for k, v in out.items()}


def unmirror(points_3d: np.ndarray, pixels: np.ndarray,
             visibility: np.ndarray, left_right,
             width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """A detection of the horizontally mirrored photo, mapped back to the
  photo: pixels u -> width - 1 - u, 3D x -> -x, labels left <-> right."""
  perm = np.asarray(left_right)
  points_3d = np.asarray(points_3d, np.float64) * [-1.0, 1.0, 1.0]
  pixels = np.asarray(pixels, np.float64).copy()
  pixels[:, 0] = width - 1 - pixels[:, 0]
  return points_3d[perm], pixels[perm], np.asarray(visibility)[perm]


def fuse(readings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """One reading from several of the same person (e.g. the detection and
  the mirrored photo's, `unmirror`ed): the mean of their 3D points [K, 3]
  (each about its own hips: BlazePose's world landmarks are), pixels
  [K, 2] and visibilities [K]. Fitting one body to the mean is fitting it
  to all of them with equal weights (least squares)."""
  readings = list(readings)
  if not readings:
    raise ValueError('fuse needs at least one reading.')
  return tuple(np.mean([np.asarray(r[i], np.float64) for r in readings],
                       axis=0) for i in range(3))
