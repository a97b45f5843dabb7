r"""Anatomical joint limits of the 24 SMPL joints (degrees, intrinsic Euler
angles per joint), used by the body sampler (`smplr_jax.data.sampler`) and
by the fit's joint-limit prior (`smplr_jax.fitting`).

Joint frames and signs
----------------------
Angles are in SMPL's joint frames, which are world aligned in the rest pose
(the T-pose, arms along +-x, palms down): x to the body's left, y up,
z forward. Rotations are relative to the parent and right handed, so for
example a positive x rotation bends the spine forward, swings a leg backward
(hip extension) and bends a knee. Each joint composes its three angles in an
intrinsic order chosen so that the first angle is the main hinge axis and the
last one twists the segment about its own long axis (the joint-coordinate-
system convention of Grood & Suntay, J. Biomech. Eng. 1983, and of the ISB
recommendations): 'XZY' for legs, spine, neck and head (long axis y), 'XYZ'
for ankles and toes (long axis z), 'YZX' / 'ZYX' for the arm chain (long axis
x in the T-pose). Angles are stored per axis (x, y, z) whatever the order.
Right-side limits are the left ones mirrored through the sagittal plane
(x kept, y and z negated and swapped).

Ranges of motion (degrees, left side and centre; source below)
---------------------------------------------------------------
| joint | order | x | y | z | anatomical meaning |
|---|---|---|---|---|---|
| hip | XZY | -120 .. 30 | -45 .. 45 | -30 .. 45 | flexion 120 / extension 30; internal / external rotation 45 / 45; adduction 30 / abduction 45 |
| knee | XZY | 0 .. 135 | -10 .. 10 | 0 | flexion 135; small axial rotation (ours) |
| ankle | XYZ | -20 .. 50 | -15 .. 15 | -35 .. 15 | dorsiflexion 20 / plantar flexion 50; forefoot ab/adduction (ours); inversion 35 / eversion 15 |
| foot (toes) | XYZ | -70 .. 45 | 0 | 0 | first MTP extension 70 / flexion 45 |
| spine1-3 (each) | XZY | -8.3 .. 26.7 | -15 .. 15 | -11.7 .. 11.7 | thoracolumbar flexion 80 / extension 25, rotation 45, lateral bending 35, split equally over 3 joints |
| neck, head (each) | XZY | -22.5 .. 22.5 | -30 .. 30 | -22.5 .. 22.5 | cervical flexion 45 / extension 45, rotation 60, lateral bending 45, split over 2 joints |
| collar | YZX | -10 .. 10 | -15 .. 15 | -10 .. 30 | clavicle axial roll; protraction / retraction; depression 10 / elevation 30 |
| shoulder | YZX | -90 .. 70 | -120 .. 30 | -80 .. 60 | external 90 / internal 70 rotation; horizontal flexion / extension 135 / 45 and abduction 180 from the arms-down pose, less the collar's share (from the T-pose: up 90 = 60 + 30, down 90 = 80 + 10, in line with the 2:1 scapulohumeral rhythm) |
| elbow | YZX | -160 .. 0 | -150 .. 0 | 0 | supination from the palm-down (pronated) T-pose 160 (pronation 80 + supination 80); flexion 150 |
| wrist | ZYX | 0 | -20 .. 30 | -80 .. 70 | radial 20 / ulnar 30 deviation; flexion 80 / extension 70 |
| hand | ZYX | 0 | 0 | -90 .. 45 | MCP flexion 90 / hyperextension 45 (all fingers as one) |

Source: average normal ranges of motion of the American Academy of
Orthopaedic Surgeons (AAOS, "Joint Motion: Method of Measuring and
Recording", 1965; reprinted in Greene & Heckman, "The Clinical Measurement of
Joint Motion", AAOS 1994), including horizontal flexion / extension of the
shoulder (135 / 45). Entries marked "ours" and the collar (sternoclavicular)
ranges are our own approximations; the splits over several SMPL joints are
equal shares (spine, neck) or follow the scapulohumeral rhythm (shoulder).
"""

from __future__ import annotations

import numpy as np

from smplr_jax.body import jl as jl_lib

# (order, (x_lo, x_hi), (y_lo, y_hi), (z_lo, z_hi)) in degrees; left side and
# centre. See the module docstring for meanings and sources.
_LEFT_AND_CENTRE_LIMITS = {
    'left_hip': ('XZY', (-120, 30), (-45, 45), (-30, 45)),
    'left_knee': ('XZY', (0, 135), (-10, 10), (0, 0)),
    'left_ankle': ('XYZ', (-20, 50), (-15, 15), (-35, 15)),
    'left_foot': ('XYZ', (-70, 45), (0, 0), (0, 0)),
    'spine1': ('XZY', (-25 / 3, 80 / 3), (-15, 15), (-35 / 3, 35 / 3)),
    'spine2': ('XZY', (-25 / 3, 80 / 3), (-15, 15), (-35 / 3, 35 / 3)),
    'spine3': ('XZY', (-25 / 3, 80 / 3), (-15, 15), (-35 / 3, 35 / 3)),
    'neck': ('XZY', (-22.5, 22.5), (-30, 30), (-22.5, 22.5)),
    'head': ('XZY', (-22.5, 22.5), (-30, 30), (-22.5, 22.5)),
    'left_collar': ('YZX', (-10, 10), (-15, 15), (-10, 30)),
    'left_shoulder': ('YZX', (-90, 70), (-120, 30), (-80, 60)),
    'left_elbow': ('YZX', (-160, 0), (-150, 0), (0, 0)),
    'left_wrist': ('ZYX', (0, 0), (-20, 30), (-80, 70)),
    'left_hand': ('ZYX', (0, 0), (0, 0), (-90, 45)),
}


def _mirror(limits):
  order, x, y, z = limits
  return order, x, (-y[1], -y[0]), (-z[1], -z[0])


def _build_joint_limits() -> dict[str, tuple]:
  table = {}
  for name in jl_lib.JOINT_NAMES[1:]:
    if name in _LEFT_AND_CENTRE_LIMITS:
      table[name] = _LEFT_AND_CENTRE_LIMITS[name]
    else:
      table[name] = _mirror(_LEFT_AND_CENTRE_LIMITS['left' +
                                                    name[len('right'):]])
  return table


# name -> (intrinsic order, x range, y range, z range), degrees, for the 23
# non-root SMPL joints in SMPL order.
JOINT_LIMITS = _build_joint_limits()

# Global orientation (joint 0): yaw about y, then pitch (x) and roll (z).
GLOBAL_ORIENTATION_ORDER = 'YXZ'
GLOBAL_ORIENTATION_LIMITS = ((-20, 20), (-180, 180), (-20, 20))  # x, y, z

# Per-joint Euler order of all 24 joints (joint 0: global orientation).
JOINT_EULER_ORDERS = (GLOBAL_ORIENTATION_ORDER,) + tuple(
    JOINT_LIMITS[name][0] for name in jl_lib.JOINT_NAMES[1:])


def joint_limits_degrees() -> np.ndarray:
  """[24, 3, 2] (lower, upper) per joint and axis x, y, z; joint 0 global."""
  limits = [GLOBAL_ORIENTATION_LIMITS] + [
      JOINT_LIMITS[name][1:] for name in jl_lib.JOINT_NAMES[1:]]
  return np.asarray(limits, np.float64)
