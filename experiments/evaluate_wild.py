r"""The photo path on photos as people take them (`smplr_jax.evaluation.wild`).

    python -m experiments.evaluate_wild [--seed=2025] [--per_category=10] \
        [--categories=full_body,cut_by_edge] [--empty_photos=50] \
        [--output=wild.json] [--save_photos=DIR] [--plot=wild.png]

Needs the detector extra (`pip install -e ".[detector]"`). Renders the wild
set (`wild.render_wild_set`: close-ups, people cut by the frame, pairs and
groups, grey / dark / bright photos, 4000 x 3000 phone photos, empty
photos; seed 2025 is the held-out set docs/wild.md reports, seed 8 the one
to tune on) and runs `load_pipeline().predict_people` (everyone, the
default settings, the default field of view: the focal length is not
given) on each photo. One row per category:

  * people: true people at least 100 px tall with the head or both
    shoulders in view (`wild.is_findable`); found %: of them, those a
    prediction matches (greedy, box IoU >= 0.3 of the prediction's
    projected mesh or detector box with the true projected box); false
    people: predictions matched to no one (on 'empty': all of them);
  * P1 / P2 (mm, matched people): over the true joints inside the photo
    (P1 root-aligned; P2 after Procrustes on them) and over all joints
    (P1-23, P2-24);
  * overlay IoU: the mask the overlay draws of each predicted mesh
    (`draw.silhouette`) against PIL's polygons of the same mesh
    (`wild.polygon_silhouette`), at the overlay picture's size (mean; min);
  * gender %: right among the predictions with a known gender; unknown:
    predictions with gender 'unknown'; ECE: expected calibration error of
    male_probability (10 bins); wrong > 0.9: people whose wrong gender had
    a probability above 0.9;
  * height err: |standing height (rest pose) of the predicted shape - the
    truth's| (mm); bone err: mean |bone length error| over the 41 JL bones
    (mm);
  * ms / photo: the median time of `predict_people` on this machine (after
    one untimed call).
"""

from __future__ import annotations

import json
import math
import pathlib
import time

import jax
import numpy as np
from absl import app, flags, logging
from PIL import Image, ImageDraw

from smplr_jax.evaluation import wild

_SEED = flags.DEFINE_integer('seed', wild.HELD_OUT_SEED,
                             f'Render seed ({wild.HELD_OUT_SEED}: the '
                             f'held-out set; {wild.TUNING_SEED}: the tuning '
                             'set).')
_PER_CATEGORY = flags.DEFINE_integer('per_category', 10,
                                     'Photos per category.')
_EMPTY = flags.DEFINE_integer('empty_photos', wild.EMPTY_PHOTOS,
                              'Photos of the empty category.')
_CATEGORIES = flags.DEFINE_list('categories', None,
                                f'Categories (default all: '
                                f'{",".join(wild.CATEGORIES)}).')
_OUTPUT = flags.DEFINE_string('output', None, 'Write the rows as JSON.')
_SAVE_PHOTOS = flags.DEFINE_string('save_photos', None,
                                   'Write the photos as JPEGs here.')
_PLOT = flags.DEFINE_string('plot', None, 'Write a PNG grid of a few photos '
                            'per category with the predicted overlays.')
_PLOT_PER_CATEGORY = 3
_PLOT_TILE_HEIGHT = 220


def _json_safe(value):
  if isinstance(value, dict):
    return {k: _json_safe(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [_json_safe(v) for v in value]
  if isinstance(value, float) and math.isnan(value):
    return None
  if isinstance(value, (np.floating, np.integer, np.bool_)):
    return _json_safe(value.item())
  return value


def plot(shown: dict[str, list], path: str) -> str:
  """A grid: one row per category, its first photos with the predicted
  people drawn over them (`draw.overlay_picture`)."""
  from smplr_jax.predict import draw  # pylint: disable=g-import-not-at-top
  rows = []
  for category, items in shown.items():
    tiles = []
    for photo, people in items:
      picture = Image.fromarray(draw.overlay_picture(photo.image, people))
      scale = _PLOT_TILE_HEIGHT / picture.height
      tiles.append(picture.resize((round(picture.width * scale),
                                   _PLOT_TILE_HEIGHT), Image.BILINEAR))
    width = sum(t.width for t in tiles) + 4 * len(tiles)
    row = Image.new('RGB', (max(width, 300), _PLOT_TILE_HEIGHT + 16),
                    (255, 255, 255))
    found = ', '.join(f'{len(p)} found / {len(ph.people)} true'
                      for ph, p in items)
    ImageDraw.Draw(row).text((2, 2), f'{category}: {found}', fill=(0, 0, 0))
    x = 0
    for tile in tiles:
      row.paste(tile, (x, 16))
      x += tile.width + 4
    rows.append(row)
  sheet = Image.new('RGB', (max(r.width for r in rows),
                            sum(r.height for r in rows)), (255, 255, 255))
  y = 0
  for row in rows:
    sheet.paste(row, (0, y))
    y += row.height
  sheet.save(path)
  return path


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  jax.config.update('jax_platforms', 'cpu')
  from smplr_jax.predict import predictor as predictor_lib  # pylint: disable=g-import-not-at-top
  start = time.perf_counter()
  photos = wild.render_wild_set(_SEED.value, _PER_CATEGORY.value,
                                _CATEGORIES.value,
                                empty_photos=_EMPTY.value)
  render_s = time.perf_counter() - start
  if _SAVE_PHOTOS.value:
    folder = pathlib.Path(_SAVE_PHOTOS.value)
    folder.mkdir(parents=True, exist_ok=True)
    for photo in photos:
      Image.fromarray(photo.image).save(
          folder / f'{photo.category}_{photo.index:03d}.jpg', quality=92)
  predictor = predictor_lib.load_pipeline()
  predictor.check_photo_path()
  # One untimed call first: the times are of a warm pipeline.
  predictor.predict_people(next((p.image for p in photos if p.people),
                                photos[0].image))
  results: dict[str, list] = {}
  shown: dict[str, list] = {}
  for photo in photos:
    begin = time.perf_counter()
    people = predictor.predict_people(photo.image)
    ms = 1000 * (time.perf_counter() - begin)
    result = dict(wild.evaluate_photo(photo, people), ms=ms)
    results.setdefault(photo.category, []).append(result)
    if len(shown.setdefault(photo.category, [])) < _PLOT_PER_CATEGORY:
      shown[photo.category].append((photo, people))
  rows = {category: wild.summarise(r) for category, r in results.items()}
  total_s = time.perf_counter() - start
  print(f'\nwild set, seed {_SEED.value}: {len(photos)} photos '
        f'({_PER_CATEGORY.value} per category, {_EMPTY.value} empty; '
        f'rendered in {render_s:.0f} s, all in {total_s:.0f} s); '
        'lengths in mm:')
  print(wild.format_table(rows))
  if 'empty' in rows:
    print(f"empty photos: {rows['empty']['false']} false people in "
          f"{rows['empty']['photos']} photos (target: at most "
          f"{rows['empty']['photos'] // 50 or 1}).")
  if _PLOT.value:
    print('plot:', plot(shown, _PLOT.value))
  if _OUTPUT.value:
    pathlib.Path(_OUTPUT.value).write_text(json.dumps(_json_safe(
        {'seed': _SEED.value, 'rows': rows,
         'photos': {c: [{'counts': r['counts'], 'people': r['people'],
                         'silhouette_iou': r['silhouette_iou'],
                         'ms': r['ms']} for r in v]
                    for c, v in results.items()}}), indent=1))


if __name__ == '__main__':
  app.run(main)
