"""Pooled code features: what K-means clusters and the relevance function reads.

The paper clusters "the differences' feature representations" of the pairs,
taken from the SCAE's hidden maps. A hidden map is too large to cluster as is
(Table 2: 22x22x20 at the top), so each map is summarised per cell of a
`grid` x `grid` partition by one or more statistics:

  mean          the cell's average activation: keeps colour and brightness, but
                a blur leaves it almost unchanged (blurring preserves means);
  std           the cell's standard deviation of the activation;
  contrast      local contrast: mean |h - (3x3 box mean of h)| over the cell, the
                energy of the map's finest detail (what a blur removes);
  log_contrast  log(contrast + eps): an adjective that scales detail (blur,
                colour gain) then shifts every pair's difference by about the
                same amount whatever the content's own contrast, so the
                difference of a pair is a log-ratio that K-means can group.

All functions are pure and jittable; statistics are computed in float32.
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxvis.errors import InputError

POOLINGS = ("mean", "std", "contrast", "log_contrast")
CONTRAST_EPS = 1e-4     # well below the contrast of any textured sigmoid map


def check_pooling(pooling: str | Sequence[str]) -> tuple[str, ...]:
  """Normalises `pooling` to a non-empty tuple of names in `POOLINGS`."""
  stats = (pooling,) if isinstance(pooling, str) else tuple(pooling)
  bad = [s for s in stats if s not in POOLINGS]
  if not stats or bad:
    raise InputError("pooling", f"expected one or more of {POOLINGS}, got {pooling!r}")
  return stats


def check_grid_pooling(grid: int | None, pooling: str | Sequence[str]) -> tuple[str, ...]:
  """`check_pooling`, plus: whole maps (grid=None) are only taken as they are ("mean")."""
  stats = check_pooling(pooling)
  if grid is None and stats != ("mean",):
    raise InputError("pooling", f"grid=None keeps the raw maps, so pooling must be 'mean', "
                     f"got {pooling!r}")
  return stats


def local_contrast(maps: jax.Array) -> jax.Array:
  """|h - mean of its 3x3 neighbourhood| for (N, H, W, C) maps (edges padded by replication)."""
  padded = jnp.pad(maps, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
  box = jax.lax.reduce_window(padded, 0.0, jax.lax.add, (1, 3, 3, 1), (1, 1, 1, 1),
                              "VALID") / 9.0
  return jnp.abs(maps - box)


def _cells(h: int, w: int, grid: int):
  if grid < 1 or grid > min(h, w):
    raise InputError("grid", f"expected 1 <= grid <= {min(h, w)}, got {grid}")
  ys = np.linspace(0, h, grid + 1).round().astype(int)
  xs = np.linspace(0, w, grid + 1).round().astype(int)
  return [(slice(ys[i], ys[i + 1]), slice(xs[j], xs[j + 1]))
          for i in range(grid) for j in range(grid)]


def pool_to_grid(maps: jax.Array, grid: int, stat: str = "mean") -> jax.Array:
  """Pools (N, H, W, C) maps into (N, grid, grid, C) cells with one statistic.

  Args:
    maps: hidden maps (any float dtype; pooled in float32).
    grid: cells per side (uneven edges allowed).
    stat: one of `POOLINGS`.
  """
  check_pooling(stat)
  maps = maps.astype(jnp.float32)
  n, h, w, c = maps.shape
  source = local_contrast(maps) if stat in ("contrast", "log_contrast") else maps
  reduce = jnp.std if stat == "std" else jnp.mean
  cells = jnp.stack([reduce(source[:, ys, xs], axis=(1, 2)) for ys, xs in _cells(h, w, grid)], 1)
  if stat == "log_contrast":
    cells = jnp.log(cells + CONTRAST_EPS)
  return cells.reshape(n, grid, grid, c)


def pooled_features(codes: Sequence[jax.Array], grid: int | None,
                    pooling: str | Sequence[str] = "mean") -> jax.Array:
  """Flattened features of several levels' codes: for each level, each statistic.

  Args:
    codes: (N, H_k, W_k, C_k) maps, one per level.
    grid: cells per side; None keeps the whole maps (then `pooling` must be "mean").
    pooling: statistic name(s), concatenated in the order given.

  Returns:
    (N, D) float32 features.
  """
  stats = check_grid_pooling(grid, pooling)
  flat = []
  for code in codes:
    for stat in stats:
      x = code.astype(jnp.float32) if grid is None else pool_to_grid(code, grid, stat)
      flat.append(x.reshape(x.shape[0], -1))
  return jnp.concatenate(flat, axis=1)


# ----------------------------------------------------------- trivial baseline

IMAGE_STATISTICS = ("mean_r", "mean_g", "mean_b", "std_r", "std_g", "std_b",
                    "log_gradient_r", "log_gradient_g", "log_gradient_b")


def image_statistics(images: jax.Array) -> jax.Array:
  """Nine hand-made numbers per image: the trivial-feature baseline.

  Per colour channel: the mean, the standard deviation, and the log of the mean
  gradient magnitude (forward differences, `log(mean sqrt(dx^2 + dy^2) + 1e-4)`).
  Everything a colour cast, a gamma change or a blur does to an image moves
  these; a rearrangement of its content (a flip, a mirror) leaves them almost
  unchanged. The pipeline reads them in place of the auto-encoder's codes.

  Args:
    images: (N, H, W, 3) float images (values in [0, 1]).

  Returns:
    (N, 9) float32, in the order of `IMAGE_STATISTICS`.
  """
  shape = np.shape(images)
  if len(shape) != 4 or shape[-1] != 3 or min(shape[1:3]) < 2:
    raise InputError("images", f"expected (N, H, W, 3) RGB images with H, W >= 2, got shape "
                     f"{tuple(shape)}")
  return _image_statistics(jnp.asarray(images))


@jax.jit
def _image_statistics(images: jax.Array) -> jax.Array:
  x = images.astype(jnp.float32)
  mean = x.mean(axis=(1, 2))
  std = x.std(axis=(1, 2))
  dy = x[:, 1:, :-1] - x[:, :-1, :-1]
  dx = x[:, :-1, 1:] - x[:, :-1, :-1]
  gradient = jnp.log(jnp.sqrt(dx ** 2 + dy ** 2).mean(axis=(1, 2)) + CONTRAST_EPS)
  return jnp.concatenate([mean, std, gradient], axis=1)
