"""A body's gender: Psi's probability of male made honest, 'unknown' where
it cannot tell, or the gender the user states.

Psi (`nets.smplr`) reads gender from bone lengths; it is right on bare
synthetic bodies but near chance on clothed people seen by BlazePose, where
its raw probability still says 0.999. `GenderSettings` holds a Platt
scaling of its logit, fitted on clothed renders of a tuning seed through
the photo path (`experiments/calibrate_gender.py`; figures in
docs/photo_path.md, "Gender"), and the band of calibrated probabilities
where the body is 'unknown' and posed with the neutral model.

Gender indices (`gendered`): 0 female, 1 male, 2 neutral. A prediction's
keys (`prediction`): `gender` (the index of the body model used),
`male_probability` (calibrated), `gender_label` ('female', 'male',
'unknown'; or 'neutral' when stated) and `gender_source` ('estimated' or
'stated').
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import numpy as np

from smplr_jax.body import gendered

FEMALE, MALE, NEUTRAL = gendered.FEMALE, gendered.MALE, gendered.NEUTRAL
# A user's word -> the body model's index.
STATED = {'female': FEMALE, 'male': MALE, 'neutral': NEUTRAL}
# The label of an estimated gender, by index.
ESTIMATED_LABELS = ('female', 'male', 'unknown')
CHOICES = ('auto',) + tuple(STATED)  # what a command line or the app offers
# The SMPL outputs a change of body model changes.
_POSED_KEYS = {'jl_body': 'jl', 'joints': 'joints', 'landmarks': 'landmarks',
               'vertices': 'vertices'}
_EPS = 1e-7  # float32 sigmoid outputs are clipped here before the logit


@dataclasses.dataclass(frozen=True)
class GenderSettings:
  """The calibration of Psi's male probability and the 'unknown' band.

  Fitted on the 176 people found in 200 clothed renders of seed 7 through
  the photo path by `python -m experiments.calibrate_gender
  --num_renders=200 --tune_seed=7 --eval_seed=2024`, which prints these
  values and the held-out figures (seed 2024; docs/photo_path.md,
  "Gender"). Psi's logit carries almost nothing on clothed people
  (scale 0.03): the calibrated probability of male stays within 0.35-0.62
  for any raw one, so every estimated gender is 'unknown' and posed with
  the neutral body; a stated gender is the way to a gendered body.

  Attributes:
    scale: calibrated logit = scale x Psi's male logit + bias (Platt
      scaling, maximum likelihood on the tuning seed).
    bias: see `scale`.
    unknown_low: a calibrated probability of male in [unknown_low,
      unknown_high] is 'unknown' (the neutral body); below it female,
      above it male. Not tuned: a gender is said only when the calibrated
      probability gives it at least 80 %.
    unknown_high: see `unknown_low`.
    unknown_beta_sigma: the fit's betas prior (std around the mean shape)
      for neutral bodies, in place of the fit's own `beta_sigma` when
      tighter (`fit_options`): BlazePose's landmarks do not measure the
      shape (the fitted bodies stand ~10 cm short), so the neutral body
      keeps close to the mean shape. Chosen on seed 7 from the sweep that
      `experiments.calibrate_gender` prints (1.0, 0.3, 0.1, 0.03): 0.1
      nearly halves the height error for ~2 mm of P1-23.
  """
  scale: float = 0.0345
  bias: float = -0.0784
  unknown_low: float = 0.2
  unknown_high: float = 0.8
  unknown_beta_sigma: float = 0.1

  def __post_init__(self):
    if not 0.0 <= self.unknown_low <= self.unknown_high <= 1.0:
      raise ValueError('the unknown band must satisfy 0 <= unknown_low <= '
                       f'unknown_high <= 1, got [{self.unknown_low}, '
                       f'{self.unknown_high}].')


def check_stated(gender: str | None) -> str | None:
  """A user's gender: None or 'auto' (estimate it) -> None, else 'female',
  'male' or 'neutral' (case-insensitive); ValueError otherwise."""
  if gender is None:
    return None
  name = str(gender).strip().lower()
  if name == 'auto':
    return None
  if name not in STATED:
    raise ValueError(f"gender must be None, 'auto', 'female', 'male' or "
                     f"'neutral', got {gender!r}.")
  return name


def raw_logit(raw_probability: Any) -> np.ndarray:
  """[...] Psi's male logit from its float32 sigmoid (clipped to 1e-7 from
  0 and 1: |logit| <= 16.1, beyond which float32 holds no more)."""
  p = np.clip(np.asarray(raw_probability, np.float64), _EPS, 1 - _EPS)
  return np.log(p) - np.log1p(-p)


def fit_platt(raw_probability: np.ndarray,
              male: np.ndarray) -> tuple[float, float]:
  """Platt scaling: (scale, bias) maximising the likelihood of
  sigmoid(scale x logit + bias) of Psi's raw probabilities [N] for the true
  genders [N] (1 male); `GenderSettings.scale` and `bias`
  (experiments/calibrate_gender.py)."""
  import scipy.optimize  # pylint: disable=g-import-not-at-top
  logit = raw_logit(raw_probability)
  male = np.asarray(male, np.float64)

  def nll(params):
    z = params[0] * logit + params[1]
    return np.mean(np.logaddexp(0.0, z) - male * z)

  result = scipy.optimize.minimize(nll, np.array([1.0, 0.0]),
                                   method='Nelder-Mead',
                                   options={'xatol': 1e-6, 'fatol': 1e-9})
  return float(result.x[0]), float(result.x[1])


def calibrate(raw_probability: Any, settings: GenderSettings) -> np.ndarray:
  """[...] Psi's raw probability of male -> the calibrated one (float32)."""
  logit = settings.scale * raw_logit(raw_probability) + settings.bias
  return (1.0 / (1.0 + np.exp(-logit))).astype(np.float32)


def decide(male_probability: Any, settings: GenderSettings) -> np.ndarray:
  """[...] int32 gender index of calibrated probabilities: female below the
  unknown band, male above it, neutral inside it."""
  p = np.asarray(male_probability, np.float64)
  return np.where(p < settings.unknown_low, FEMALE,
                  np.where(p > settings.unknown_high, MALE,
                           NEUTRAL)).astype(np.int32)


def resolve(raw_probability: Any, settings: GenderSettings,
            stated: str | None = None) -> tuple[np.ndarray, np.ndarray]:
  """(gender index [...] int32, calibrated male probability [...]): the
  stated gender's index where one is stated (`check_stated`), else the
  calibrated decision."""
  p = calibrate(raw_probability, settings)
  stated = check_stated(stated)
  if stated is None:
    return decide(p, settings), p
  return np.full(p.shape, STATED[stated], np.int32), p


def labels(gender: Any, stated: str | None = None) -> dict[str, Any]:
  """{'gender_label', 'gender_source'} of one body's gender index, or of a
  track's [T] indices (its first: a track has one gender)."""
  stated = check_stated(stated)
  if stated is not None:
    return {'gender_label': stated, 'gender_source': 'stated'}
  index = int(np.asarray(gender).reshape(-1)[0])
  return {'gender_label': ESTIMATED_LABELS[index],
          'gender_source': 'estimated'}


def fit_options(options: Any, gender: Any, settings: GenderSettings) -> Any:
  """The fit's `fitting.FitOptions` for a batch of bodies of gender indices
  [B]: when every one is neutral, their betas prior tightened to
  `settings.unknown_beta_sigma` (the shape falls back to the mean one);
  else `options` as given."""
  if (np.all(np.asarray(gender) == NEUTRAL) and
      settings.unknown_beta_sigma < options.beta_sigma):
    return dataclasses.replace(options,
                               beta_sigma=settings.unknown_beta_sigma)
  return options


def apply(batched: dict[str, Any], models: Any, settings: GenderSettings,
          stated: str | None = None,
          calibrated: bool = True) -> dict[str, Any]:
  """A batched prediction (`prediction.from_chain`: Psi's raw
  `male_probability` [B] and its hard `gender` [B]) with its gender
  resolved (`resolve`): `gender` and `male_probability` replaced, and the
  SMPL outputs (jl_body, joints, landmarks, vertices) posed again with the
  new body model where it changed.

  Args:
    batched: the prediction ([B] gender and male_probability; pose [B, 24,
      3, 3], betas [B, S]).
    models: the stacked [female, male, neutral] `BodyModel`
      (`GenderedModels.gendered`).
    settings: the calibration.
    stated: the user's gender, or None to estimate it.
    calibrated: False keeps Psi's raw probability and hard gender where
      none is stated (the crop path, whose calibration is not measured).

  Returns:
    the prediction's dict with the resolved gender (numpy).
  """
  if calibrated:
    index, p = resolve(batched['male_probability'], settings, stated)
  else:
    p = np.asarray(batched['male_probability'])
    index = np.asarray(batched['gender'], np.int32)
    if check_stated(stated) is not None:
      index = np.full(index.shape, STATED[check_stated(stated)], np.int32)
  out = dict(batched, gender=index, male_probability=p)
  changed = index != np.asarray(batched['gender'])
  if changed.any() and any(k in batched for k in _POSED_KEYS):
    posed = jax.device_get(gendered.posed_body(
        models, np.asarray(batched['pose'], np.float32),
        np.asarray(batched['betas'], np.float32), index))
    for key, name in _POSED_KEYS.items():
      if key in batched:
        out[key] = np.where(changed.reshape((-1,) + (1,) * (
            np.ndim(batched[key]) - 1)), np.asarray(posed[name]),
                            np.asarray(batched[key]))
  return out
