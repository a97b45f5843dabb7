"""The one output vocabulary of every predictor: dicts of numpy arrays whose
keys all appear below, whatever the path (crop, photo, JL, clip).

Batched vs single is said by the method's name: `predict_crops` and
`load_smplr`'s predictor return [B, ...] arrays; `predict_image` and each
of `predict_people`'s dicts one body (no batch axis). All points are in the
camera frame (x right, y down, z forward), metres, root-relative; `root_cam`
places the root in the camera.

Every body (`BODY_KEYS`):

| key | shape | what |
|---|---|---|
| `jl_front_end` | [B, 42, 3] | the front end's JL: the image network's (crop), the adapter's (keypoints) or the given JL |
| `jl_smplr_input` | [B, 42, 3] | what SMPLR saw: after the DAE, or `jl_front_end` without one |
| `jl_body` | [B, 42, 3] | the recovered body's JL (its SMPL forward) |
| `joints` | [B, 24, 3] | the body's joints (`jl_body[:, :24]`) |
| `landmarks` | [B, 18, 3] | the body's landmarks (`jl_body[:, 24:]`) |
| `vertices` | [B, V, 3] | the body's mesh |
| `pose` | [B, 24, 3, 3] | relative rotations (joint 0: global orientation) |
| `betas` | [B, 10] | shape |
| `gender` | [B] int | the body model used: 0 female, 1 male, 2 neutral (`gender`: unknown or stated neutral) |
| `male_probability` | [B] | Psi's probability of male; calibrated (`gender.calibrate`) on the photo path and in clips; Psi's raw one on the crop path (`box=`, `predict_crops`) and from `load_smplr`, whose estimated `gender` is the raw > 0.5 |
| `faces` | [F, 3] | the mesh's triangles (never batched) |

A fitted body (`FIT_KEYS`): `fit_cost` [B], the fit's final objective
(whitened units; `fitting.fit_body`).

A photo's body (`PHOTO_KEYS`, `predict_image` / `predict_people`):

| key | shape | what |
|---|---|---|
| `front_end` | str | 'crop' (the image network on a box's crop) or 'detector' (the photo path) |
| `used_dae` | bool | whether the DAE ran before SMPLR |
| `box` | [4] | (x0, y0, x1, y1) pixels: the given box, or the detected landmarks' extent plus a margin |
| `crop` | [S, S, 3] uint8 | what the front end read: the network's input crop, or the detected box's square (display) |
| `root_cam` | [3] | the root in the camera frame (metres) |
| `focal` | float | focal length (pixels) used |

A photo's gender (`GENDER_KEYS`, `predict_image` / `predict_people`, and
each track): `gender_label` (str: 'female', 'male' or 'unknown' when
estimated, the calibrated probability inside the unknown band giving the
neutral body; 'female', 'male' or 'neutral' when stated) and
`gender_source` ('estimated' or 'stated': the user's `gender=`).

The photo path adds (`DETECTOR_KEYS`): `keypoints_2d` [33, 2] pixels,
`keypoints_3d` [33, 3] BlazePose's world landmarks (metres, hip-centred),
`visibility` [33], `hypothesis` (the reading kept, `hypotheses.ALL`, or
'fused': the mean of the detected and mirrored-photo readings),
`hypothesis_costs` (name -> fit cost), `joint_seen` [24] bool (True: the
joint is inside the photo and BlazePose saw a landmark near it; False:
inferred from the prior; `visibility.joint_seen`); and `fit_cost` when it
fits.

A clip's track (`TRACK_KEYS`, `predict_video`'s 'tracks'): `frames` [T]
(indices into the clip), `times` [T] (seconds), `pose` [T, 24, 3, 3], `betas` [T, 10] (the track's
shape), `gender` [T], `male_probability` [T], `root_cam` [T, 3], `joints`
[T, 24, 3], `per_frame_joints` [T, 24, 3] (the per-frame fit, before the
temporal fit), `fit_cost` [T], `keypoints_2d` [T, 33, 2], `joint_seen`
[T, 24] (per frame, as a photo's), `gender_label` and `gender_source` (the
track's: its last frame's vote). Its mesh is one call away:
`Predictor.track_vertices(track)`.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

BODY_KEYS = ('jl_front_end', 'jl_smplr_input', 'jl_body', 'joints',
             'landmarks', 'vertices', 'pose', 'betas', 'gender',
             'male_probability', 'faces')
FIT_KEYS = ('fit_cost',)
PHOTO_KEYS = ('front_end', 'used_dae', 'box', 'crop', 'root_cam', 'focal')
GENDER_KEYS = ('gender_label', 'gender_source')
DETECTOR_KEYS = ('keypoints_2d', 'keypoints_3d', 'visibility', 'hypothesis',
                 'hypothesis_costs', 'joint_seen')
TRACK_KEYS = ('frames', 'times', 'pose', 'betas', 'gender',
              'male_probability', 'root_cam', 'joints', 'per_frame_joints',
              'fit_cost', 'keypoints_2d', 'joint_seen') + GENDER_KEYS
ALL_KEYS = tuple(dict.fromkeys(BODY_KEYS + FIT_KEYS + PHOTO_KEYS +
                               GENDER_KEYS + DETECTOR_KEYS + TRACK_KEYS))


def from_chain(chain: dict[str, Any], faces: Any,
               jl_front_end: Any | None = None) -> dict[str, np.ndarray]:
  """The batched prediction of a `pipeline.denoise_and_recover`-style
  output.

  Args:
    chain: jl_input, jl, joints, landmarks, vertices, pose, betas, gender
      (int), male_prob and, from an image, jl_image.
    faces: [F, 3] the mesh's triangles.
    jl_front_end: the front end's JL when `chain` has no jl_image (an
      adapter's, or the JL given to SMPLR).

  Returns:
    dict with `BODY_KEYS` (numpy, [B, ...]).
  """
  chain = jax.device_get(chain)
  front = chain['jl_image'] if jl_front_end is None else jl_front_end
  return {
      'jl_front_end': np.asarray(front),
      'jl_smplr_input': np.asarray(chain['jl_input']),
      'jl_body': np.asarray(chain['jl']),
      'joints': np.asarray(chain['joints']),
      'landmarks': np.asarray(chain['landmarks']),
      'vertices': np.asarray(chain['vertices']),
      'pose': np.asarray(chain['pose']),
      'betas': np.asarray(chain['betas']),
      'gender': np.asarray(chain['gender'], np.int32),
      'male_probability': np.asarray(chain['male_prob']),
      'faces': np.asarray(faces),
  }


def one_body(batched: dict[str, Any], index: int = 0) -> dict[str, Any]:
  """Body `index` of a batched prediction (`faces` stays as it is)."""
  return {k: v if k == 'faces' else v[index] for k, v in batched.items()}


def path_of(prediction: dict[str, Any]) -> str:
  """The chain a photo's body went through, from its own keys, e.g.
  'detector -> adapter -> DAE -> SMPLR -> fit'."""
  if prediction['front_end'] == 'crop':
    stages = ['box', 'image network']
  else:
    stages = ['detector', 'adapter']
  if prediction['used_dae']:
    stages.append('DAE')
  stages.append('SMPLR')
  if 'fit_cost' in prediction:
    stages.append('fit')
  return ' -> '.join(stages)


def unknown_keys(prediction: dict[str, Any]) -> list[str]:
  """The keys of a prediction that this module does not document."""
  return sorted(set(prediction) - set(ALL_KEYS))
