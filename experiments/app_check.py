r"""The web app checked as its users meet it, and under load.

    python -m experiments.app_check --screenshot=docs/app.png \
        --clients=8 --photos_per_client=25

Starts `smplr-jax app` in its own process (it warms up before serving),
then

  1. drives headless Chromium: uploads the shipped example photo, presses
     the button, times the first result, turns the 3D view, saves a
     screenshot; then the shipped clip;
  2. one API client sends --photos_per_client photos in turn (the
     baseline), then --clients concurrent clients send as many each (four
     variants of the example photo: as is, mirrored, shrunk, padded); every
     answer is compared with that photo's answer to a lone request (same
     status, betas within 1e-3);
  3. reports latency (median, 95th percentile), throughput against the
     lone client's, errors, and the server's resident memory after 10
     requests and after all.

Needs the [app], [detector] and [test] extras and Debian's chromium and
chromium-driver.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import os
import pathlib
import tempfile
import threading
import time

import numpy as np
from absl import app, flags
from PIL import Image, ImageOps

from smplr_jax.app import harness, service

_SCREENSHOT = flags.DEFINE_string('screenshot', None, 'Where to save the '
                                  'page after the photo (.png or .jpg).')
_COLD = flags.DEFINE_bool('cold', False, 'Start the app with an empty '
                          'compilation cache (a first start).')
_CLIENTS = flags.DEFINE_integer('clients', 8, 'Concurrent API clients.')
_PHOTOS = flags.DEFINE_integer('photos_per_client', 25, 'Photos each.')
_TIMEOUT = flags.DEFINE_float('timeout', 900.0, 'Bound on one load test, '
                              's.')
_OUTPUT = flags.DEFINE_string('output', None, 'JSON summary to write.')


def photo_variants(folder: pathlib.Path) -> list[pathlib.Path]:
  """Four different photos made from the shipped example."""
  photo = Image.open(service.example_path('person.jpg')).convert('RGB')
  variants = {'as_is': photo, 'mirrored': ImageOps.mirror(photo),
              'shrunk': photo.resize((384, 384), Image.BILINEAR),
              'padded': ImageOps.expand(photo, border=96, fill=(128,) * 3)}
  paths = []
  for name, image in variants.items():
    paths.append(folder / f'{name}.jpg')
    image.save(paths[-1], quality=92)
  return paths


def browser_check(url: str, screenshot: str | None) -> dict:
  page = harness.Page(url)
  try:
    page.upload(service.example_path('person.jpg'))
    status, seconds = page.recover()
    model_before = page.model_png()
    if screenshot:
      page.screenshot(screenshot)
    page.drag_model()
    turned = page.model_png(settle=1.0) != model_before
    page.clear_upload()
    page.upload(service.example_path('walk.mp4'))
    clip_status, clip_seconds = page.recover(timeout=300)
    return {'photo_status': status, 'photo_seconds': seconds,
            'model_turns': turned, 'links': len(page.download_links()),
            'clip_status': clip_status, 'clip_seconds': clip_seconds}
  finally:
    page.close()


def load_test(url: str, process, photos: list[pathlib.Path], clients: int,
              per_client: int, timeout: float, served: list[int],
              memory: dict) -> dict:
  """`served` counts the app's requests over the whole run; `memory`
  receives its RSS once 10 have been served ('after_10')."""
  from gradio_client import Client  # pylint: disable=g-import-not-at-top
  reference = {}
  client = Client(url, verbose=False)
  for path in photos:  # lone requests: the answers to compare with
    reference[path] = harness.request_photo(client, path)
  lock = threading.Lock()
  served[0] += len(photos)

  def one_client(number: int) -> list[dict]:
    own = Client(url, verbose=False)
    rows = []
    for k in range(per_client):
      path = photos[(number + k) % len(photos)]
      start = time.perf_counter()
      try:
        status, parameters = harness.request_photo(own, path)
        error = None
      except Exception as e:  # pylint: disable=broad-except
        status, parameters, error = '', {}, f'{type(e).__name__}: {e}'
      seconds = time.perf_counter() - start
      want_status, want = reference[path]
      correct = error is None and status.split(' · ')[:3] == \
          want_status.split(' · ')[:3] and np.allclose(
              parameters.get('betas', np.inf), want['betas'], atol=1e-3)
      rows.append({'seconds': seconds, 'correct': bool(correct),
                   'error': error})
      with lock:
        served[0] += 1
        if served[0] >= 10 and 'after_10' not in memory:
          memory['after_10'] = harness.resident_mb(process.pid)
        if served[0] % 25 == 0:
          memory.setdefault('trajectory', []).append(
              (served[0], round(harness.resident_mb(process.pid))))
    return rows

  start = time.perf_counter()
  with concurrent.futures.ThreadPoolExecutor(clients) as pool:
    futures = [pool.submit(one_client, n) for n in range(clients)]
    rows = [row for f in futures for row in f.result(timeout=timeout)]
  wall = time.perf_counter() - start
  seconds = np.array([r['seconds'] for r in rows])
  rss = harness.resident_mb(process.pid)
  return {'requests': len(rows) + len(photos), 'served_so_far': served[0],
          'errors': sum(r['error'] is not None for r in rows),
          'wrong': sum(not r['correct'] for r in rows),
          'first_error': next((r['error'] for r in rows if r['error']),
                              None),
          'median_s': float(np.median(seconds)),
          'p95_s': float(np.percentile(seconds, 95)),
          'wall_s': wall, 'photos_per_s': len(rows) / wall,
          'rss_after_10_mb': memory['after_10'], 'rss_now_mb': rss,
          'rss_every_25': list(memory.get('trajectory', [])),
          'rss_growth_mb': rss - memory['after_10']}


def main(argv):
  del argv
  logging.getLogger('httpx').setLevel(logging.WARNING)  # one line a call
  summary = {}
  with tempfile.TemporaryDirectory() as folder:
    if _COLD.value:
      os.environ['SMPLR_JAX_CACHE'] = str(pathlib.Path(folder) / 'xla')
    photos = photo_variants(pathlib.Path(folder))
    log = pathlib.Path(folder) / 'app.log'
    started = time.perf_counter()
    with harness.running_app(log=log) as (url, process):
      summary['start_s'] = time.perf_counter() - started
      print(f'app serving after {summary["start_s"]:.0f} s', flush=True)
      if harness.browser_availability() is None:
        summary['browser'] = browser_check(url, _SCREENSHOT.value)
        print('browser:', json.dumps(summary['browser'], indent=1))
      served, memory = [2 if 'browser' in summary else 0], {}
      for clients in (1, _CLIENTS.value):
        load = load_test(url, process, photos, clients, _PHOTOS.value,
                         _TIMEOUT.value, served, memory)
        summary[f'clients_{clients}'] = load
        print(f'{clients} client(s) x {_PHOTOS.value} photos: '
              f'{load["errors"]} errors, {load["wrong"]} wrong; median '
              f'{load["median_s"]:.2f} s, p95 {load["p95_s"]:.2f} s, '
              f'{load["photos_per_s"]:.2f} photos/s; server RSS '
              f'{load["rss_after_10_mb"]:.0f} MB after 10 requests, '
              f'{load["rss_now_mb"]:.0f} MB after {load["served_so_far"]} '
              f'({load["rss_growth_mb"]:+.0f} MB)', flush=True)
  print('server RSS (requests, MB):', summary[f'clients_{_CLIENTS.value}']
        ['rss_every_25'])
  ratio = (summary[f'clients_{_CLIENTS.value}']['photos_per_s'] /
           summary['clients_1']['photos_per_s'])
  print(f'throughput, {_CLIENTS.value} clients / 1 client: {ratio:.2f}x')
  if _OUTPUT.value:
    pathlib.Path(_OUTPUT.value).write_text(json.dumps(summary, indent=1))


if __name__ == '__main__':
  app.run(main)
