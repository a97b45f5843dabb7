"""Timing helpers shared by the benchmarks."""

from __future__ import annotations

import time
from typing import Callable


def median_seconds(fn: Callable[[int], object], min_time: float,
                   min_calls: int = 5) -> float:
  """Median wall time of `fn(i)` over calls i = 1, 2, ... after two warm-ups.

  `fn` must block until its work is done (e.g. `block_until_ready`); it gets
  the call index so that it can vary its input (e.g. fold it into a key).
  """
  fn(0)  # compilation
  fn(0)  # allocator, caches
  times, i = [], 1
  start = time.perf_counter()
  while time.perf_counter() - start < min_time or len(times) < min_calls:
    t0 = time.perf_counter()
    fn(i)
    times.append(time.perf_counter() - t0)
    i += 1
  return sorted(times)[len(times) // 2]


def matmul_peak_gflops(min_time: float, n: int = 2048) -> float:
  """The machine's measured float32 matmul rate (XLA, n x n x n), GFLOP/s."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  a = jnp.ones((n, n), jnp.float32)
  matmul = jax.jit(lambda x: x @ x)
  seconds = median_seconds(lambda _: matmul(a).block_until_ready(), min_time)
  return 2 * n**3 / seconds / 1e9
