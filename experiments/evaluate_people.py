r"""Finding everyone in photo-like compositions of our renders.

    python -m experiments.evaluate_people [--num_renders=24] [--seed=5] \
        [--num_empty=50] [--output=results.json]

Needs the detector extra (`pip install -e ".[detector]"`). We have no real
photos: the test photos are made from held-out renders (`renders.
render_set`, unseen style) of people BlazePose finds in their own render
(so that a miss is the composition's doing, not a body seen from behind):

  * full_body: the render itself (one person, ~200 px tall in 512 px);
  * two_side_by_side: two people, each ~80% of the height, in 1280 x 720;
  * two_waist_up: two people from the waist up side by side in 1280 x 720
    (the user's failing photo);
  * closeup_waist_up: one person from the waist up filling 1280 x 720;
  * group_3: three people side by side in 1280 x 720;
  * small_90px: two people ~90 px tall pasted on an empty 1280 x 720
    background;
  * grayscale, dark (x 0.25), bright (0.35 x + 165): the render recoloured;
  * phone_4000x3000: the render upscaled into a 4000 x 3000 frame;
  * empty: photos without a person (scikit-image's photographs without
    people, and the render backgrounds away from their person).

With --wild=N, also N photos per category of `wild.render_wild_set` (seed
--wild_seed, 50 empty photos): found among its findable people
(`wild.is_findable`: >= 100 px tall, head or shoulders in view), false
people against everyone in the photo (`--num_renders=0`: the wild set
only).

For each, with two detectors, 'before' (`--before`, default `PhotoSettings(
extra_looks=False)`: the whole photo, and the grey border when nothing is
found) and 'after' (`--after`, default the default settings): people
found by `detect_people` (a true person counts once when a detection's box
overlaps its box, IoU >= 0.3), false people, and ms per photo; and
`__call__` (one person) found and ms. On the wild set also the
findable people BlazePose reads on a square crop centred on each (1.3x
their box, the other people left in view; `centred_crop_ceiling`): what a
perfect crop proposal alone would find (painting found people out can
find more). E.g. painting found people's boxes
against their bodies, on the wild set's tuning seed only:

    python -m experiments.evaluate_people --num_renders=0 --wild=10 \
        --before='blank="box"'   # repeat --before for more fields
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import time

import numpy as np
from absl import app, flags
from PIL import Image

from smplr_jax.evaluation import renders as renders_lib
from smplr_jax.predict import detector as detector_lib
from smplr_jax.predict import settings as settings_lib

FLAGS = flags.FLAGS
flags.DEFINE_integer('num_renders', 24, 'renders drawn (people kept: '
                     'those BlazePose finds in their own render).')
flags.DEFINE_integer('seed', 5, 'render seed (not a held-out set).')
flags.DEFINE_integer('num_empty', 50, 'photos without a person.')
flags.DEFINE_integer('per_case', 8, 'photos per case.')
flags.DEFINE_string('output', '', 'optional JSON of the results.')
flags.DEFINE_integer('wild', 0, 'also (or, with --num_renders=0, only) '
                     'this many photos per category of '
                     '`wild.render_wild_set` (seed --wild_seed, 50 empty).')
flags.DEFINE_integer('wild_seed', 8, 'the wild set\'s seed (8: its tuning '
                     'seed).')
flags.DEFINE_list('everyone_looks', list(
    settings_lib.PhotoSettings.everyone_looks), 'PhotoSettings.'
                  'everyone_looks of the "after" detector.')
flags.DEFINE_multi_string('before', ['extra_looks=False'], 'a PhotoSettings '
                          'field of the "before" detector, as name=value (a '
                          'Python literal; repeat the flag for more: '
                          '--before=\'blank="box"\' --before=look_rounds=1).')
flags.DEFINE_multi_string('after', [], 'a PhotoSettings field of the "after" '
                          'detector (default: the default settings).')

FRAME = (1280, 720)  # width, height
GREY = 128
# scikit-image photographs without a person ('astronaut' and 'camera'
# show one).
EMPTY_PHOTOS = ('coffee', 'chelsea', 'rocket', 'hubble_deep_field',
                'immunohistochemistry', 'retina', 'stereo_motorcycle',
                'brick', 'grass', 'gravel', 'moon', 'coins', 'cell', 'clock',
                'colorwheel', 'page', 'text')


def person_box(record: dict) -> np.ndarray:
  """[4] (x0, y0, x1, y1) the person's pixels in its render (mask)."""
  ys, xs = np.nonzero(record['mask'] > 0.5)
  return np.asarray([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], float)


def hip_y(record: dict) -> float:
  """The pelvis's row in the render (projected true root)."""
  root = record['jl_cam'][0]
  return float(root[1] / root[2] * record['focal'][0] + record['principal'][1])


def _view(image: np.ndarray, region, size) -> np.ndarray:
  """The image inside region (x0, y0, x1, y1; may leave the image: grey)
  resized to size (width, height)."""
  x0, y0, x1, y1 = region
  scale_x, scale_y = size[0] / (x1 - x0), size[1] / (y1 - y0)
  # An affine map from output pixels to image pixels (PIL's transform).
  out = Image.fromarray(image).transform(
      tuple(size), Image.AFFINE, (1 / scale_x, 0, x0, 0, 1 / scale_y, y0),
      Image.BILINEAR, fillcolor=(GREY,) * 3)
  return np.asarray(out)


def _map_box(box, region, size) -> np.ndarray:
  """A render box through `_view`'s map, clipped to the output."""
  x0, y0, x1, y1 = region
  sx, sy = size[0] / (x1 - x0), size[1] / (y1 - y0)
  out = np.asarray([(box[0] - x0) * sx, (box[1] - y0) * sy,
                    (box[2] - x0) * sx, (box[3] - y0) * sy])
  return np.clip(out, 0, [size[0], size[1], size[0], size[1]])


def tile(record: dict, size, height_fraction: float = 0.8,
         waist_up: bool = False):
  """(image [h, w, 3], true box [4]) one person framed in a size
  (width, height) tile: the whole body at height_fraction of the height,
  or head to hips filling it (waist_up)."""
  box = person_box(record)
  width, height = size
  if waist_up:
    top = box[1] - 0.04 * (box[3] - box[1])
    scale = height / (hip_y(record) - top)
  else:
    scale = height_fraction * height / (box[3] - box[1])
    top = (box[1] + box[3]) / 2 - height / scale / 2
  cx = (box[0] + box[2]) / 2
  region = (cx - width / scale / 2, top, cx + width / scale / 2,
            top + height / scale)
  return _view(record['image'], region, size), _map_box(box, region, size)


def side_by_side(records, size=FRAME, waist_up: bool = False):
  """(photo, true boxes [N, 4]) len(records) people side by side."""
  width = size[0] // len(records)
  tiles, boxes = [], []
  for i, record in enumerate(records):
    image, box = tile(record, (width, size[1]), waist_up=waist_up)
    tiles.append(image)
    boxes.append(box + [i * width, 0, i * width, 0])
  return np.concatenate(tiles, axis=1), np.asarray(boxes)


def closeup(record: dict, size=FRAME):
  """(photo, true boxes [1, 4]) one person from the waist up."""
  image, box = tile(record, size, waist_up=True)
  return image, box[None]


def pasted(records, background: np.ndarray, height_px: float,
           rng: np.random.Generator):
  """(photo, true boxes) each person cut out by its mask, scaled to
  height_px tall, pasted at a random place on background."""
  photo = background.copy()
  boxes = []
  slots = np.linspace(0, photo.shape[1], len(records) + 1)
  for i, record in enumerate(records):
    box = person_box(record).astype(int)
    cut = record['image'][box[1]:box[3], box[0]:box[2]]
    mask = record['mask'][box[1]:box[3], box[0]:box[2]]
    scale = height_px / cut.shape[0]
    size = (max(1, round(cut.shape[1] * scale)), round(height_px))
    cut = np.asarray(Image.fromarray(cut).resize(size, Image.BILINEAR))
    alpha = np.asarray(Image.fromarray((255 * mask).astype(np.uint8))
                       .resize(size, Image.BILINEAR))[..., None] / 255.0
    x = int(rng.uniform(slots[i], max(slots[i], slots[i + 1] - size[0])))
    y = int(rng.uniform(0, photo.shape[0] - size[1]))
    region = photo[y:y + size[1], x:x + size[0]]
    photo[y:y + size[1], x:x + size[0]] = np.round(
        alpha * cut + (1 - alpha) * region).astype(np.uint8)
    boxes.append([x, y, x + size[0], y + size[1]])
  return photo, np.asarray(boxes, float)


def grayscale(image: np.ndarray) -> np.ndarray:
  return np.repeat(np.round(image.mean(-1, keepdims=True)).astype(np.uint8),
                   3, axis=-1)


def dark(image: np.ndarray) -> np.ndarray:
  return np.round(image * 0.25).astype(np.uint8)


def bright(image: np.ndarray) -> np.ndarray:
  return np.round(image * 0.35 + 165).astype(np.uint8)


def phone(record: dict):
  """(4000 x 3000 photo, true boxes) the render upscaled to 3000 px."""
  image = np.asarray(Image.fromarray(record['image']).resize(
      (3000, 3000), Image.BILINEAR))
  photo = np.full((3000, 4000, 3), GREY, np.uint8)
  photo[:, 500:3500] = image
  box = person_box(record) * 3000 / record['image'].shape[0] + [500, 0,
                                                                 500, 0]
  return photo, box[None]


def empty_photos(num: int, records, seed: int) -> list[np.ndarray]:
  """num photos without a person: random crops of scikit-image's
  photographs without people (half) and of the renders' backgrounds away
  from their person (half), at 640 x 480 to 1280 x 720."""
  from skimage import data as skdata  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(seed)
  sources = []
  for name in EMPTY_PHOTOS:
    image = getattr(skdata, name)()
    if name == 'stereo_motorcycle':
      image = image[0]  # (left, right, disparity)
    image = np.asarray(image)
    if image.dtype != np.uint8:
      image = (255 * (image.astype(np.float64) / max(image.max(), 1))
               ).astype(np.uint8)
    if image.ndim == 2:
      image = np.repeat(image[..., None], 3, axis=-1)
    sources.append(np.ascontiguousarray(image[..., :3]))
  photos = []
  for i in range(num):
    size = ((640, 480), (1280, 720), (720, 960))[i % 3]
    if i % 2 == 0:
      image = sources[(i // 2) % len(sources)]
      height, width = image.shape[:2]
      side = rng.uniform(0.6, 1.0)
      w, h = width * side, height * side
      x0, y0 = rng.uniform(0, width - w), rng.uniform(0, height - h)
      region = (x0, y0, x0 + w, y0 + h)
    else:
      record = records[(i // 2) % len(records)]
      box = person_box(record)
      side = record['image'].shape[0]
      # The widest strip left, right, above or below the person.
      strips = [(0, 0, box[0], side), (box[2], 0, side, side),
                (0, 0, side, box[1]), (0, box[3], side, side)]
      region = max(strips, key=lambda s: min(s[2] - s[0], s[3] - s[1]))
      image = record['image']
    photos.append(_view(image, region, size))
  return photos


def match(found, truth: np.ndarray, min_iou: float = 0.3):
  """(true people found, false people) greedy one-to-one by box IoU."""
  if len(truth) == 0:
    return 0, len(found)
  ious = np.asarray([[detector_lib.box_iou(d.box, t) for t in truth]
                     for d in found]).reshape(len(found), len(truth))
  hits, used = 0, set()
  for i in np.argsort(-ious.max(axis=1) if len(found) else []):
    j = int(np.argmax(np.where([k in used for k in range(len(truth))],
                               -1, ious[i])))
    if ious[i, j] >= min_iou and j not in used:
      used.add(j)
      hits += 1
  return hits, len(found) - hits


def make_cases(records, num_empty: int, per_case: int, seed: int):
  """{case: [(photo, true boxes [N, 4])]}."""
  rng = np.random.default_rng(seed)
  n = len(records)
  pick = lambda k, i: [records[(i * k + j) % n] for j in range(k)]  # noqa
  empties = empty_photos(num_empty, records, seed)
  backgrounds = [e for e in empties if e.shape[:2] == (720, 1280)]
  cases = {
      'full_body': [(r['image'], person_box(r)[None])
                    for r in records[:per_case]],
      'two_side_by_side': [side_by_side(pick(2, i)) for i in range(per_case)],
      'two_waist_up': [side_by_side(pick(2, i), waist_up=True)
                       for i in range(per_case)],
      'closeup_waist_up': [closeup(records[i % n]) for i in range(per_case)],
      'group_3': [side_by_side(pick(3, i)) for i in range(per_case)],
      'small_90px': [pasted(pick(2, i), backgrounds[i % len(backgrounds)],
                            90, rng) for i in range(per_case)],
      'grayscale': [(grayscale(r['image']), person_box(r)[None])
                    for r in records[:per_case]],
      'dark': [(dark(r['image']), person_box(r)[None])
               for r in records[:per_case]],
      'bright': [(bright(r['image']), person_box(r)[None])
                 for r in records[:per_case]],
      'phone_4000x3000': [phone(r) for r in records[:2]],
      'empty': [(e, np.zeros((0, 4))) for e in empties],
  }
  return cases


def evaluate(detector, cases) -> dict:
  """Per case: people, found, false people, ms (detect_people and
  __call__)."""
  out = {}
  for name, photos in cases.items():
    people = found = false = single = 0
    ms_all, ms_one = [], []
    for photo, truth in photos:
      start = time.perf_counter()
      everyone = detector.detect_people(photo)
      ms_all.append(1000 * (time.perf_counter() - start))
      hits, misses = match(everyone, truth)
      people, found, false = people + len(truth), found + hits, false + misses
      start = time.perf_counter()
      try:
        one = [detector(photo)]
      except detector_lib.NoPersonError:
        one = []
      ms_one.append(1000 * (time.perf_counter() - start))
      single += match(one, truth)[0] if len(truth) else len(one)
    out[name] = {'photos': len(photos), 'people': people, 'found': found,
                 'false': false, 'ms_everyone': float(np.median(ms_all)),
                 'single_found': single, 'ms_single': float(np.median(ms_one))}
  return out


def found_in_own_render(records) -> list[dict]:
  detector = detector_lib.BlazePoseDetector(
      settings_lib.PhotoSettings(extra_looks=False))
  kept = []
  for record in records:
    try:
      detection = detector(record['image'])
    except detector_lib.NoPersonError:
      continue
    if detector_lib.box_iou(detection.box, person_box(record)) >= 0.3:
      kept.append(record)
  detector.close()
  return kept


def wild_cases(seed: int, per_category: int):
  """{category: [(photo, findable true boxes, every true box, findable
  true boxes unclipped)]} of the wild set (`wild.render_wild_set`)."""
  from smplr_jax.evaluation import wild  # pylint: disable=g-import-not-at-top
  cases = {}
  for photo in wild.render_wild_set(seed, per_category):
    boxes = np.asarray([p['box'] for p in photo.people], float).reshape(-1, 4)
    full = np.asarray([p['box_full'] for p in photo.people],
                      float).reshape(-1, 4)
    findable = np.asarray([wild.is_findable(p) for p in photo.people], bool)
    cases.setdefault('wild_' + photo.category, []).append(
        (photo.image, boxes[findable], boxes, full[findable]))
  return cases


def centred_crop_ceiling(detector, cases, side: float = 1.3) -> dict:
  """Per category: the findable people BlazePose reads on a square crop
  centred on each (side x their unclipped box's longer side; the other
  people left in view): what a perfect crop proposal alone finds."""
  out = {}
  for name, photos in cases.items():
    hits = 0
    for photo, findable, _, full in photos:
      for box, whole in zip(findable, full):
        centre = (whole[:2] + whole[2:]) / 2
        half = side * np.max(whole[2:] - whole[:2]) / 2
        reading = detector.read_crop(photo, np.concatenate(
            [centre - half, centre + half]))
        hits += reading is not None and (
            detector_lib.box_iou(reading.box, box) >= 0.3)
    out[name] = hits
  return out


def evaluate_wild(detector, cases) -> dict:
  """Per category: findable people, found (IoU >= 0.3), false people (a
  detection on no true person, findable or not), ms of detect_people."""
  out = {}
  for name, photos in cases.items():
    people = found = false = 0
    ms = []
    for photo, findable, everyone, _ in photos:
      start = time.perf_counter()
      detections = detector.detect_people(photo)
      ms.append(1000 * (time.perf_counter() - start))
      people += len(findable)
      found += match(detections, findable)[0]
      false += match(detections, everyone)[1]
    out[name] = {'photos': len(photos), 'people': people, 'found': found,
                 'false': false, 'ms_everyone': float(np.median(ms))}
  return out


def main(argv):
  del argv
  cases = {}
  if FLAGS.num_renders:
    records = renders_lib.render_set(FLAGS.num_renders, FLAGS.seed, 512)
    records = found_in_own_render(records)
    print(f'{len(records)} of {FLAGS.num_renders} renders: person found in '
          'its own render')
    cases = make_cases(records, FLAGS.num_empty, FLAGS.per_case, FLAGS.seed)
  wild_set = wild_cases(FLAGS.wild_seed, FLAGS.wild) if FLAGS.wild else {}
  results = {}
  for label, items in (('before', FLAGS.before), ('after', FLAGS.after)):
    detector = detector_lib.BlazePoseDetector(settings_lib.from_strings(
        settings_lib.PhotoSettings, items,
        everyone_looks=tuple(FLAGS.everyone_looks)))
    detector.detect_people(np.full((480, 640, 3), GREY, np.uint8))  # warm up
    results[label] = evaluate(detector, cases)
    results[label].update(evaluate_wild(detector, wild_set))
    if label == 'after' and wild_set:
      for name, hits in centred_crop_ceiling(detector, wild_set).items():
        results[label][name]['centred_crop'] = hits
    detector.close()
  print(f'{"case":18s} {"people":>6s} | found before -> after | false '
        'before -> after | ms everyone before -> after | one person: found, '
        'ms before -> after')
  for name in list(cases) + list(wild_set):
    b, a = results['before'][name], results['after'][name]
    line = (f'{name:18s} {a["people"]:6d} | {b["found"]:5d} -> '
            f'{a["found"]:5d} | {b["false"]:5d} -> {a["false"]:5d} | '
            f'{b["ms_everyone"]:7.0f} -> {a["ms_everyone"]:7.0f}')
    if 'single_found' in a:
      line += (f' | {b["single_found"]:3d} -> {a["single_found"]:3d}, '
               f'{b["ms_single"]:5.0f} -> {a["ms_single"]:5.0f}')
    if 'centred_crop' in a:
      line += f' | a crop centred on each: {a["centred_crop"]:3d}'
    print(line)
  if FLAGS.output:
    pathlib.Path(FLAGS.output).write_text(json.dumps(results, indent=1))


if __name__ == '__main__':
  app.run(main)
