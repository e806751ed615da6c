"""Colour science as pure, jittable JAX ops: sRGB -> CIELAB, CIEDE2000, colour naming.

    lab = srgb_to_lab(rgb)                       # (..., 3) sRGB in [0, 1] -> L*a*b* (D65)
    de = ciede2000(lab1, lab2)                   # (..., 3), (..., 3) -> (...) Delta E 2000
    table = named_colors("xkcd")                 # bundled XKCD (CC0) or CSS colour names
    idx, de = nearest_color(lab, table.lab)      # index of the nearest named colour

CIEDE2000 follows Sharma, Wu & Dalal, "The CIEDE2000 color-difference formula:
implementation notes, supplementary test data, and mathematical observations",
Color Res. Appl. 30(1), 2005 (their eqs. 1-22, including the hue-angle
conventions that their test data exercise).
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import importlib.resources

import jax
import jax.numpy as jnp
import numpy as np

# CIE 1931 2-degree D65 white point (X, Y, Z) with Y = 1, as in IEC 61966-2-1.
D65_WHITE = (0.95047, 1.0, 1.08883)

# Linear sRGB -> XYZ (D65), derived from the sRGB primaries and the D65 white
# (6 decimals, so that sRGB white maps to the white point above).
_SRGB_TO_XYZ = np.array([[0.412453, 0.357580, 0.180423],
                         [0.212671, 0.715160, 0.072169],
                         [0.019334, 0.119193, 0.950227]], np.float32)

COLOR_TABLES = ("xkcd", "css")


def _as_float(x) -> jax.Array:
  x = jnp.asarray(x)
  if not jnp.issubdtype(x.dtype, jnp.floating) or x.dtype in (jnp.bfloat16, jnp.float16):
    x = x.astype(jnp.float32)
  return x


def _check_last3(x, name: str) -> None:
  if x.ndim < 1 or x.shape[-1] != 3:
    raise ValueError(f"{name}: expected an array of shape (..., 3), got shape {x.shape}")


# ------------------------------------------------------------------ conversions

def srgb_to_linear(rgb: jax.Array) -> jax.Array:
  """Undoes the sRGB transfer curve; `rgb` in [0, 1]."""
  rgb = _as_float(rgb)
  return jnp.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)


def srgb_to_xyz(rgb: jax.Array) -> jax.Array:
  """(..., 3) sRGB in [0, 1] -> (..., 3) CIE XYZ (D65, Y of white = 1)."""
  rgb = _as_float(rgb)
  _check_last3(rgb, "rgb")
  return srgb_to_linear(rgb) @ jnp.asarray(_SRGB_TO_XYZ, rgb.dtype).T


def xyz_to_lab(xyz: jax.Array, white=D65_WHITE) -> jax.Array:
  """(..., 3) CIE XYZ -> (..., 3) CIELAB relative to `white` (CIE 15 formulas)."""
  xyz = _as_float(xyz)
  _check_last3(xyz, "xyz")
  t = xyz / jnp.asarray(white, xyz.dtype)
  eps, kappa = 216.0 / 24389.0, 24389.0 / 27.0
  f = jnp.where(t > eps, jnp.cbrt(jnp.maximum(t, eps)), (kappa * t + 16.0) / 116.0)
  l = 116.0 * f[..., 1] - 16.0
  a = 500.0 * (f[..., 0] - f[..., 1])
  b = 200.0 * (f[..., 1] - f[..., 2])
  return jnp.stack([l, a, b], axis=-1)


def srgb_to_lab(rgb: jax.Array) -> jax.Array:
  """(..., 3) sRGB -> CIELAB (D65).

  Args:
    rgb: floats in [0, 1], or uint8 in [0, 255] (scaled by 1/255).

  Returns:
    (..., 3) float L* in [0, 100], a*, b*.
  """
  rgb = jnp.asarray(rgb)
  _check_last3(rgb, "rgb")
  if rgb.dtype == jnp.uint8:
    rgb = rgb.astype(jnp.float32) / 255.0
  return _srgb_to_lab(_as_float(rgb))


@jax.jit
def _srgb_to_lab(rgb):
  return xyz_to_lab(srgb_to_xyz(rgb))


# ------------------------------------------------------------------ CIEDE2000

def ciede2000(lab1: jax.Array, lab2: jax.Array, kl: float = 1.0, kc: float = 1.0,
              kh: float = 1.0) -> jax.Array:
  """CIEDE2000 colour difference (Sharma, Wu & Dalal 2005), broadcasting.

  Args:
    lab1: (..., 3) CIELAB colours.
    lab2: (..., 3) CIELAB colours, broadcastable against `lab1`
      (e.g. `lab1[:, None]` and `table[None]` for all pairs).
    kl, kc, kh: parametric weights (1 for the reference conditions).

  Returns:
    (...) Delta E_00, symmetric in its arguments.
  """
  lab1, lab2 = _as_float(lab1), _as_float(lab2)
  _check_last3(lab1, "lab1")
  _check_last3(lab2, "lab2")
  try:
    jnp.broadcast_shapes(lab1.shape, lab2.shape)
  except ValueError:
    raise ValueError(f"lab1, lab2: shapes {lab1.shape} and {lab2.shape} do not broadcast"
                     ) from None
  return _ciede2000(lab1, lab2, float(kl), float(kc), float(kh))


@functools.partial(jax.jit, static_argnums=(2, 3, 4))
def _ciede2000(lab1, lab2, kl, kc, kh):
  dtype = jnp.result_type(lab1.dtype, lab2.dtype)
  lab1, lab2 = lab1.astype(dtype), lab2.astype(dtype)
  l1, a1, b1 = lab1[..., 0], lab1[..., 1], lab1[..., 2]
  l2, a2, b2 = lab2[..., 0], lab2[..., 1], lab2[..., 2]

  # Eqs. 2-7: a' stretched by G, then C' and h' (degrees in [0, 360)).
  c_bar = 0.5 * (_safe_hypot(a1, b1) + _safe_hypot(a2, b2))
  c7 = c_bar ** 7
  g = 0.5 * (1.0 - _safe_sqrt(c7 / (c7 + 25.0 ** 7)))
  a1p, a2p = (1.0 + g) * a1, (1.0 + g) * a2
  c1p, c2p = _safe_hypot(a1p, b1), _safe_hypot(a2p, b2)
  h1p, h2p = _hue_degrees(b1, a1p), _hue_degrees(b2, a2p)

  # Eqs. 8-12: differences; the hue difference is 0 when either chroma is 0.
  dlp = l2 - l1
  dcp = c2p - c1p
  chroma_zero = (c1p * c2p) == 0
  dh = h2p - h1p
  dh = jnp.where(dh > 180.0, dh - 360.0, jnp.where(dh < -180.0, dh + 360.0, dh))
  dh = jnp.where(chroma_zero, 0.0, dh)
  dhp = 2.0 * _safe_sqrt(c1p * c2p) * jnp.sin(jnp.deg2rad(dh) / 2.0)

  # Eqs. 13-14: means; the mean hue takes the short way round the circle.
  lp_bar = 0.5 * (l1 + l2)
  cp_bar = 0.5 * (c1p + c2p)
  h_sum = h1p + h2p
  far = jnp.abs(h1p - h2p) > 180.0
  hp_bar = jnp.where(far, jnp.where(h_sum < 360.0, h_sum + 360.0, h_sum - 360.0), h_sum) / 2.0
  hp_bar = jnp.where(chroma_zero, h_sum, hp_bar)

  # Eqs. 15-22: weighting functions and the rotation term.
  t = (1.0 - 0.17 * _cosd(hp_bar - 30.0) + 0.24 * _cosd(2.0 * hp_bar)
       + 0.32 * _cosd(3.0 * hp_bar + 6.0) - 0.20 * _cosd(4.0 * hp_bar - 63.0))
  d_theta = 30.0 * jnp.exp(-(((hp_bar - 275.0) / 25.0) ** 2))
  cp7 = cp_bar ** 7
  r_c = 2.0 * _safe_sqrt(cp7 / (cp7 + 25.0 ** 7))
  l50 = (lp_bar - 50.0) ** 2
  s_l = 1.0 + 0.015 * l50 / jnp.sqrt(20.0 + l50)
  s_c = 1.0 + 0.045 * cp_bar
  s_h = 1.0 + 0.015 * cp_bar * t
  r_t = -jnp.sin(jnp.deg2rad(2.0 * d_theta)) * r_c
  tl, tc, th = dlp / (kl * s_l), dcp / (kc * s_c), dhp / (kh * s_h)
  return _safe_sqrt(tl ** 2 + tc ** 2 + th ** 2 + r_t * tc * th)


# Gradient-safe primitives. At identical colours (or zero chroma) sqrt, hypot and
# atan2 sit at their non-differentiable point and jnp's derivative is inf * 0 = NaN.
# Each helper feeds the primitive a harmless value there (the "double where"), so the
# forward value is unchanged and the gradient there is 0, the natural subgradient of
# a distance at its minimum.

def _safe_sqrt(x):
  pos = x > 0
  return jnp.where(pos, jnp.sqrt(jnp.where(pos, x, 1.0)), 0.0)


def _safe_hypot(x, y):
  return _safe_sqrt(x * x + y * y)


def _hue_degrees(b, ap):
  """atan2 in degrees mapped to [0, 360); 0 where a' = b = 0 (eq. 7)."""
  origin = (b == 0) & (ap == 0)
  h = jnp.rad2deg(jnp.arctan2(jnp.where(origin, 0.0, b), jnp.where(origin, 1.0, ap)))
  h = jnp.where(h < 0, h + 360.0, h)
  return jnp.where(origin, 0.0, h)


def _cosd(deg):
  return jnp.cos(jnp.deg2rad(deg))


# ------------------------------------------------------------------ naming

@dataclasses.dataclass(frozen=True)
class ColorTable:
  """A named-colour table.

  Attributes:
    name: which table ("xkcd" or "css").
    names: colour names, one per row.
    rgb: (K, 3) float32 sRGB in [0, 1].
    lab: (K, 3) float32 CIELAB (D65) of `rgb`.
    source: where the names and values come from, and their licence.
  """
  name: str
  names: tuple[str, ...]
  rgb: np.ndarray
  lab: np.ndarray
  source: str

  def __len__(self) -> int:
    return len(self.names)


_SOURCES = {
    "xkcd": "XKCD colour survey (R. Munroe, 2010), rgb.txt, CC0 1.0; "
            "the 949 entries as shipped in matplotlib._color_data.XKCD_COLORS",
    "css": "CSS Color Module Level 4 named colours (W3C), 148 names",
}


@functools.lru_cache(maxsize=None)
def named_colors(table: str = "xkcd") -> ColorTable:
  """Loads a bundled named-colour table (`jaxvis/assets/colors/<table>.csv`).

  Args:
    table: "xkcd" (949 survey names such as "dusty rose"; CC0) or "css" (148).

  Returns:
    A `ColorTable` with sRGB and Lab values.
  """
  if table not in COLOR_TABLES:
    raise ValueError(f"table: expected one of {COLOR_TABLES}, got {table!r}")
  path = importlib.resources.files("jaxvis") / "assets" / "colors" / f"{table}.csv"
  names, rgb = [], []
  with path.open("r", encoding="utf-8") as f:
    for row in csv.DictReader(f):
      names.append(row["name"])
      hexv = row["hex"].lstrip("#")
      rgb.append([int(hexv[i:i + 2], 16) / 255.0 for i in (0, 2, 4)])
  rgb_arr = np.asarray(rgb, np.float32)
  lab = np.asarray(srgb_to_lab(rgb_arr), np.float32)
  return ColorTable(table, tuple(names), rgb_arr, lab, _SOURCES[table])


def nearest_color(lab: jax.Array, table_lab: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Nearest table colour by CIEDE2000 for every query colour.

  Args:
    lab: (..., 3) query colours in CIELAB.
    table_lab: (K, 3) table colours in CIELAB (e.g. `named_colors().lab`).

  Returns:
    index (...) int32 into the table and the Delta E_00 to it (...).
  """
  lab, table_lab = _as_float(lab), _as_float(table_lab)
  _check_last3(lab, "lab")
  if table_lab.ndim != 2 or table_lab.shape[-1] != 3 or table_lab.shape[0] == 0:
    raise ValueError(f"table_lab: expected shape (K, 3) with K >= 1, got {table_lab.shape}")
  return _nearest(lab, table_lab)


@jax.jit
def _nearest(lab, table_lab):
  d = _ciede2000(lab[..., None, :], table_lab, 1.0, 1.0, 1.0)      # (..., K)
  idx = jnp.argmin(d, axis=-1).astype(jnp.int32)
  return idx, jnp.take_along_axis(d, idx[..., None], axis=-1)[..., 0]


def name_colors(rgb, table: str | ColorTable = "xkcd") -> list[str]:
  """Names of the nearest table colours for (N, 3) sRGB colours in [0, 1] (or uint8)."""
  tab = named_colors(table) if isinstance(table, str) else table
  rgb = jnp.asarray(rgb)
  _check_last3(rgb, "rgb")
  idx, _ = nearest_color(srgb_to_lab(rgb.reshape(-1, 3)), tab.lab)
  return [tab.names[i] for i in np.asarray(idx)]
