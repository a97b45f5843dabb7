r"""Writes the example inputs that ship with the package (the web app's
first click works offline): renders of our own, no third-party photos.

    python -m experiments.tools.make_examples \
        --output=third_party/examples

  * person.jpg: the first render of --seed (unseen style: clothes and
    background photos never used in training, 512 px) whose person faces
    the camera (the body's forward axis within 45 degrees of the camera's)
    and whom BlazePose finds, when the [detector] extra is installed;
  * walk.mp4: a rendered motion clip (--clip_seed, --clip_frames frames at
    30 frames/s, 384 px; `evaluation.renders.render_motion_clip`), H.264.

The seeds are not those of any evaluation (2024 is the held-out set, 7 and
8 the tuning clips).
"""

from __future__ import annotations

import json
import pathlib

import numpy as np
from absl import app, flags
from PIL import Image
from scipy.spatial.transform import Rotation

from smplr_jax.evaluation import renders

_OUTPUT = flags.DEFINE_string('output', 'third_party/examples',
                              'Folder to write.')
_SEED = flags.DEFINE_integer('seed', 31, 'Render seed of the photo.')
_CANDIDATES = flags.DEFINE_integer('candidates', 16, 'Renders to look at.')
_CLIP_SEED = flags.DEFINE_integer('clip_seed', 33, 'Seed of the clip.')
_CLIP_FRAMES = flags.DEFINE_integer('clip_frames', 60, 'Frames of the clip.')
_CLIP_SIZE = flags.DEFINE_integer('clip_size', 384, 'Side of the clip.')


def _faces_camera(record: dict) -> bool:
  # Joint 0's rotation is in the camera frame; the body faces +z in its own
  # frame and the camera looks along +z, so facing it means -z.
  forward = Rotation.from_rotvec(record['pose'][0]).apply([0.0, 0.0, 1.0])
  return bool(forward[2] < -np.cos(np.deg2rad(45)))


def _found(image: np.ndarray) -> bool:
  try:
    from smplr_jax.predict import detector  # pylint: disable=g-import-not-at-top
    find = detector.BlazePoseDetector()
  except ImportError:
    return True  # no extra: the orientation alone chooses
  try:
    find(image)
    return True
  except detector.NoPersonError:
    return False


def _write_clip(path: pathlib.Path, frames: list[np.ndarray]) -> None:
  import av  # pylint: disable=g-import-not-at-top

  from smplr_jax.predict import draw  # pylint: disable=g-import-not-at-top
  height, width = frames[0].shape[:2]
  with av.open(str(path), 'w') as container:
    stream = draw._encoder(container, width, height, 30.0)  # pylint: disable=protected-access
    for frame in frames:
      image = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame),
                                         format='rgb24')
      for packet in stream.encode(image):
        container.mux(packet)
    for packet in stream.encode():
      container.mux(packet)


def main(argv):
  del argv
  output = pathlib.Path(_OUTPUT.value)
  output.mkdir(parents=True, exist_ok=True)
  records = renders.render_set(_CANDIDATES.value, _SEED.value)
  chosen = next((i for i, r in enumerate(records)
                 if _faces_camera(r) and _found(r['image'])), None)
  if chosen is None:
    raise SystemExit(f'none of the {len(records)} renders of seed '
                     f'{_SEED.value} qualifies; try another --seed.')
  Image.fromarray(records[chosen]['image']).save(output / 'person.jpg',
                                                 quality=92)
  clip = renders.render_motion_clip(_CLIP_SEED.value, _CLIP_FRAMES.value,
                                    _CLIP_SIZE.value)
  _write_clip(output / 'walk.mp4', [r['image'] for r in clip])
  truth = {'person.jpg': {'seed': _SEED.value, 'index': chosen,
                          'focal_px': records[chosen]['focal'].tolist()},
           'walk.mp4': {'seed': _CLIP_SEED.value,
                        'frames': _CLIP_FRAMES.value,
                        'size': _CLIP_SIZE.value, 'fps': 30}}
  (output / 'examples.json').write_text(json.dumps(truth, indent=1) + '\n')
  for name in ('person.jpg', 'walk.mp4', 'examples.json'):
    size = (output / name).stat().st_size
    print(f'wrote {output / name} ({size / 1024:.0f} KiB)')


if __name__ == '__main__':
  app.run(main)
