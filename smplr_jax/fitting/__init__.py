"""Fitting: SMPL parameters (and the root) fitted to keypoints, from a start
body, by batched Levenberg-Marquardt.

SMPLR's networks give a body in one pass; a short optimisation from that
start matches the evidence much more closely. This layer sits above
`smplr_jax.body` and below `smplr_jax.predict`; it keeps no state between
calls. One entry does every fit:

    points = fitting.fit_points_for(body, 'blazepose33')  # or None: 42 JL
    fitted = fitting.fit_body(points, pose, betas, gender, points_3d=...,
                              pixels=..., intrinsics=...)
    bodies = fitting.with_mesh(body, fitted, init)  # + the mesh

`fit_body` fits 3D points (root-relative, or hip-aligned as BlazePose's
world landmarks are), pixels of a camera with known intrinsics, or both,
for any keypoint set (`points.FitPoints`: a points model and a linear
readout); `refine_prediction` refines a predictor's output to the JL it
saw. The modules: `points` (the points model and its Jacobian), `priors`
(joint limits, robust weights), `solver` (the objective and LM).

Unknowns, per body: 24 local rotation increments d_j (axis-angle, applied
on the right, R_j <- R_j exp([d_j]x): no singularity near the current pose),
the betas, and with pixels the root in the camera frame (x, y, z; or x, y
with `solve_depth=False`, its depth kept from `root_cam`). Gender stays as
given. Residuals, each divided by its sigma (`FitOptions`):

  * data: fitted minus target point (3D), or the reprojection error times
    root depth / focal (2D: metres at the start root's depth), per point
    weighted by the caller's weights (a NaN keypoint or a weight of 0 is
    missing) and a Geman-McClure IRLS weight;
  * betas: (betas - prior mean) / beta_sigma, the sampler's N(0, 1) shapes
    by default;
  * pose: log(R0_j^T R_j) / pose_sigma, toward the start (SMPLR's pose);
  * limits: how far each joint's Euler angles leave the sampler's ranges of
    motion (`limits.JOINT_LIMITS`, widened by `limit_margin_deg`).

Jacobians are analytic. Turning joint j by d (in its own frame) turns its
subtree about the posed joint p_j by the world vector G_j d, so a joint x
below j moves by (G_j d) x (x - p_j), and a vertex (skinned by weights w_k)
by (G_j d) x sum_{k below j} w_k (T_k v - p_j); points are affine in the
betas for a fixed pose. Pose correctives (real SMPL files) enter the
residuals, not the Jacobian. Each iteration solves (H + lambda diag(H)) d =
-g by Cholesky ([P, P] per body, P = 82, 84 or 85 with 10 betas) and keeps
the step per body only when the cost drops (then lambda / 3, else lambda x
5): a fixed number of iterations in `lax.fori_loop`, one compilation per
batch size and kind of evidence.
"""

from smplr_jax.fitting.points import FitPoints, fit_points_for
from smplr_jax.fitting.solver import (
    FitOptions,
    fit_body,
    gender_index,
    refine_prediction,
    with_mesh,
)

__all__ = [
    'FitOptions', 'FitPoints', 'fit_body', 'fit_points_for', 'gender_index',
    'refine_prediction', 'with_mesh',
]
