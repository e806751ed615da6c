"""Exact top-k outfits from a closet: enumeration, a naive and a decomposed scorer.

A closet's outfits follow the paper's three configurations (outer + upper +
lower + feet, upper + lower + feet, full + feet), each with 0 to 3 distinct
accessories. Accessories fill the three accessory slots in closet order (the
paper concatenates them "ignoring the order"; a fixed order makes every
unordered set one outfit).

The slot grader's first layer is linear, so its pre-activation is a sum of
one vector per slot: `h = sum_s W_s x_s + b`. Each item is projected once per
slot it can take (BatchNorm's inference affine folded in), and an outfit costs
one sum, ReLU and a dot with `w1 - w0` (the 2-way softmax's P(good) is
`sigmoid(z1 - z0)`), instead of a 16384 x 4096 matrix product. Outfits are
scored in tiles of (bodies x accessory sets) on device, keeping a running
exact top-k.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from typing import Sequence

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from jaxvis.errors import InputError
from jaxvis.outfits import models
from jaxvis.outfits import parts as parts_lib

CONFIGURATIONS = (("outer", "upper", "lower", "feet"), ("upper", "lower", "feet"),
                  ("full", "feet"))
BODY_SLOTS = parts_lib.SLOTS[:5]
_ACC_SLOTS = (5, 6, 7)


@dataclasses.dataclass(frozen=True)
class Outfit:
  configuration: int            # index into CONFIGURATIONS
  items: tuple[int, ...]        # closet indices, body parts in slot order then accessories
  score: float                  # P(good outfit)


def items_by_part(part_labels: Sequence[str], exclude: Sequence[int] = ()
                  ) -> dict[str, np.ndarray]:
  """Closet indices of each part (every part present, possibly empty), `exclude` left out."""
  out = {p: [] for p in parts_lib.PARTS}
  skip = set(int(i) for i in exclude)
  for n, p in enumerate(part_labels):
    part = parts_lib.check_part(p, f"parts[{n}]")
    if n not in skip:
      out[part].append(n)
  return {p: np.asarray(v, np.int64) for p, v in out.items()}


@dataclasses.dataclass(frozen=True)
class ClosetParts:
  """A closet's items by part after "with" / "without" constraints.

  `by_part` holds the candidates per part (an included body item is its part's only
  candidate); `required_accessories` are positions in `by_part["accessory"]` every
  outfit must wear; `required_parts` are the body parts an outfit must have.
  """
  by_part: dict[str, np.ndarray]
  required_accessories: tuple[int, ...] = ()
  required_parts: tuple[str, ...] = ()


def closet_parts(part_labels: Sequence[str], include: Sequence[int] = (),
                 exclude: Sequence[int] = ()) -> ClosetParts:
  """Applies "complete my outfit around these items" (`include`) and "not these" (`exclude`)."""
  include = [int(i) for i in include]
  for i in list(include) + [int(i) for i in exclude]:
    if not 0 <= i < len(part_labels):
      raise InputError("include/exclude", f"item index {i} is outside the closet "
                                          f"(0..{len(part_labels) - 1})")
  if set(include) & set(int(i) for i in exclude):
    raise InputError("include/exclude", "an item cannot be both included and excluded")
  by_part = items_by_part(part_labels, exclude)
  required_parts = []
  for i in include:
    part = part_labels[i]
    if part != "accessory":
      if part in required_parts:
        raise InputError("include", f"two included {part} items cannot share one outfit")
      required_parts.append(part)
      by_part[part] = np.asarray([i], np.int64)
  acc = list(by_part["accessory"])
  required_acc = tuple(acc.index(i) for i in include if part_labels[i] == "accessory")
  if len(required_acc) > parts_lib.MAX_ACCESSORIES:
    raise InputError("include", f"at most {parts_lib.MAX_ACCESSORIES} accessories per outfit")
  return ClosetParts(by_part, required_acc, tuple(required_parts))


def accessory_sets(num_accessories: int, max_accessories: int = parts_lib.MAX_ACCESSORIES,
                   required: Sequence[int] = ()) -> np.ndarray:
  """All sets of 0..max distinct accessories (each holding every `required` position) as
  (num_sets, 3) positions, -1 = none."""
  rows = []
  need = set(required)
  for k in range(max_accessories + 1):
    for combo in itertools.combinations(range(num_accessories), k):
      if need <= set(combo):
        rows.append(list(combo) + [-1] * (parts_lib.MAX_ACCESSORIES - k))
  return np.asarray(rows, np.int32).reshape(-1, parts_lib.MAX_ACCESSORIES)


def _as_closet_parts(cp) -> ClosetParts:
  return cp if isinstance(cp, ClosetParts) else ClosetParts(cp)


def closet_sets(cp: ClosetParts) -> np.ndarray:
  return accessory_sets(len(cp.by_part["accessory"]), required=cp.required_accessories)


def fillable(cp) -> list[tuple[int, str]]:
  """(configuration, message) for each configuration the closet cannot fill."""
  cp = _as_closet_parts(cp)
  out = []
  for c, config in enumerate(CONFIGURATIONS):
    missing = [p for p in config if len(cp.by_part[p]) == 0]
    unplaced = [p for p in cp.required_parts if p not in config]
    if missing:
      out.append((c, f"configuration {'+'.join(config)} skipped: the closet has no "
                     f"{' and no '.join(missing)} item"))
    elif unplaced:
      out.append((c, f"configuration {'+'.join(config)} skipped: it has no place for the "
                     f"included {' and '.join(unplaced)} item"))
  return out


def count_outfits(cp) -> int:
  cp = _as_closet_parts(cp)
  sets = len(closet_sets(cp))
  skipped = {c for c, _ in fillable(cp)}
  return sum(int(np.prod([len(cp.by_part[p]) for p in config])) * sets
             for c, config in enumerate(CONFIGURATIONS) if c not in skipped)


def enumerate_outfits(cp, configuration: int) -> np.ndarray:
  """Every outfit of one configuration as (N, 8) closet indices per slot (-1 empty).

  Row order is the decomposed scorer's: body combinations (mixed radix over
  the configuration's parts in slot order) major, accessory sets minor.
  """
  cp = _as_closet_parts(cp)
  by_part = cp.by_part
  config = CONFIGURATIONS[configuration]
  body_lists = [by_part[p] if p in config else np.array([-1]) for p in BODY_SLOTS]
  bodies = np.array(list(itertools.product(*body_lists)), np.int64).reshape(-1, 5)
  acc = by_part["accessory"]
  sets = closet_sets(cp)
  acc_items = np.where(sets >= 0, acc[np.maximum(sets, 0)] if len(acc) else -1, -1)
  out = np.concatenate([np.repeat(bodies, len(sets), 0), np.tile(acc_items, (len(bodies), 1))], 1)
  return out


# --------------------------------------------------------------------------- naive

def make_naive_scorer(model, batch_size: int = 256):
  """`score(variables, features (N, D), mean_feature, slots (K, 8)) -> P(good) (K,)` by running
  the full grader on every outfit's 8 x D input."""
  part_ids = jnp.asarray(parts_lib.SLOT_PART_IDS, jnp.int32)

  @jax.jit
  def score_batch(variables, feats, mean_feature, slots):
    x = jnp.where((slots >= 0)[..., None], feats[jnp.maximum(slots, 0)], mean_feature)
    b = slots.shape[0]
    return models.good_probability(model.apply(variables, x, jnp.broadcast_to(part_ids, (b, 8)),
                                               slots >= 0))

  def score(variables, feats, mean_feature, slots):
    slots = np.asarray(slots, np.int32)
    out = []
    for start in range(0, len(slots), batch_size):
      chunk = slots[start:start + batch_size]
      n = len(chunk)
      if n < batch_size:
        chunk = np.concatenate([chunk, np.repeat(chunk[-1:], batch_size - n, 0)])
      out.append(np.asarray(score_batch(variables, feats, mean_feature, chunk))[:n])
    return np.concatenate(out) if out else np.zeros((0,), np.float32)

  return score


# --------------------------------------------------------------------------- decomposed

@flax.struct.dataclass
class SlotProjections:
  """Per-slot projections of a closet through the slot grader's first layer + BN."""
  tables: jax.Array   # (8, R, H): slot s, row r < n_part(s) = closet item; row n_part(s) = empty
  bias: jax.Array     # (H,) first-layer bias with BN folded in
  w: jax.Array        # (H,) last-layer weight difference (good - bad)
  w0: jax.Array       # () last-layer bias difference


def _bucket(n: int) -> int:
  """Rows rounded up (to 8, then powers of two) so closets of similar size share one compile."""
  return max(8, 1 << (n - 1).bit_length())


def project(variables, feats: jax.Array, mean_feature: jax.Array,
            by_part: dict[str, np.ndarray], eps: float = 1e-5) -> SlotProjections:
  """Projects every item once per slot of its part (BatchNorm's inference affine folded in)."""
  p = variables["params"]
  stats = variables["batch_stats"]["bn"]
  kernel = p["fc1"]["kernel"]
  d = feats.shape[-1]
  if kernel.shape[0] != parts_lib.NUM_SLOTS * d:
    raise InputError("feats", f"expected item features of width {kernel.shape[0] // 8} for this "
                     f"grader, got {d}")
  rows = _bucket(max(len(v) for v in by_part.values()) + 1)
  index = np.zeros((parts_lib.NUM_SLOTS, rows), np.int32)
  for s, part in enumerate(parts_lib.SLOTS):
    n = len(by_part[part])
    index[s, :n] = by_part[part]
    index[s, n:] = len(feats)          # the appended mean feature
  return _project(p, stats, jnp.asarray(feats, jnp.float32),
                  jnp.asarray(mean_feature, jnp.float32), jnp.asarray(index), eps)


@functools.partial(jax.jit, static_argnames="eps")
def _project(p, stats, feats, mean_feature, index, eps):
  d = feats.shape[-1]
  a = p["bn"]["scale"] * jax.lax.rsqrt(stats["var"] + eps)
  bias = (p["fc1"]["bias"] - stats["mean"]) * a + p["bn"]["bias"]
  w_slots = p["fc1"]["kernel"].reshape(parts_lib.NUM_SLOTS, d, -1) * a
  x = jnp.concatenate([feats, mean_feature[None]], 0)[index]          # (8, R, D)
  tables = jnp.einsum("srd,sdh->srh", x, w_slots, precision=jax.lax.Precision.HIGHEST)
  w2, b2 = p["fc2"]["kernel"], p["fc2"]["bias"]
  return SlotProjections(tables, bias, w2[:, 1] - w2[:, 0], b2[1] - b2[0])


def project_deepsets(model, variables, feats: jax.Array, part_labels: Sequence[str],
                     by_part: dict[str, np.ndarray]) -> SlotProjections:
  """The same tables for a sum-pooling DeepSets grader, which decomposes alike.

  Its score is `out(relu(rho(sum_i phi_i)))` with `phi_i` a function of item i alone and
  `rho` linear before its ReLU, so `rho(sum_i phi_i) = sum_i W_rho phi_i + b_rho`: each
  item's `W_rho phi_i` is computed once, an absent item adds nothing (the zero row).
  """
  if not isinstance(model, models.DeepSetsGrader) or model.pool != "sum":
    raise InputError("model", "decomposed scoring needs a slot grader or a sum-pooling "
                              "DeepSets grader")
  n = len(part_labels)
  part_ids = jnp.asarray([parts_lib.PART_INDEX[p] for p in part_labels], jnp.int32)[None]
  _, inter = model.apply(variables, jnp.asarray(feats, jnp.float32)[None], part_ids,
                         jnp.ones((1, n), bool), capture_intermediates=lambda m, _: m.name == "phi")
  phi = jax.nn.relu(inter["intermediates"]["phi"]["__call__"][0][0])            # (N, H)
  p = variables["params"]
  y = jnp.dot(phi, p["rho"]["kernel"], precision=jax.lax.Precision.HIGHEST)     # (N, H)
  rows = _bucket(max(len(v) for v in by_part.values()) + 1)
  index = np.full((parts_lib.NUM_SLOTS, rows), n, np.int32)                    # n: the zero row
  for slot, part in enumerate(parts_lib.SLOTS):
    index[slot, :len(by_part[part])] = by_part[part]
  tables = jnp.concatenate([y, jnp.zeros((1, y.shape[1]), y.dtype)], 0)[jnp.asarray(index)]
  w2, b2 = p["out"]["kernel"], p["out"]["bias"]
  return SlotProjections(tables, p["rho"]["bias"], w2[:, 1] - w2[:, 0], b2[1] - b2[0])


def _tile_scores(proj: SlotProjections, radix, offset, body_ids, sets, per_body: bool):
  """Logit margins (Tb, Ta) of body combinations x accessory sets."""
  rem = body_ids
  body = jnp.broadcast_to(proj.bias, (body_ids.shape[0], proj.bias.shape[0]))
  for s in reversed(range(5)):      # mixed radix, last body slot fastest
    body = body + proj.tables[s][offset[s] + rem % radix[s]]
    rem = rem // radix[s]
  acc = sum(proj.tables[_ACC_SLOTS[k]][sets[:, k]] for k in range(3))
  if per_body:
    # CPU: one (Ta, H) add + ReLU and a matrix-vector product per body is ~40x faster than
    # XLA:CPU's fused 3-D reduction.
    return jax.lax.map(lambda b: jnp.dot(jnp.maximum(b + acc, 0), proj.w), body) + proj.w0
  # GPU/TPU: add + ReLU + weighted sum fuse into one reduction, no (Tb, Ta, H) buffer.
  return (jnp.maximum(body[:, None, :] + acc[None, :, :], 0) * proj.w).sum(-1) + proj.w0


def _range_top_k(proj: SlotProjections, radix, offset, body_lo, body_hi, sets, num_sets, *,
                 k: int, tb: int, ta: int, per_body: bool):
  """Exact top-k over bodies [body_lo, body_hi) x num_sets accessory sets of one configuration.

  `sets` (accessory-table rows, (S, 3)) is padded to at least ceil(num_sets / ta) * ta
  rows; the padding's size only buckets shapes so that closets share compiles.
  """
  n_btiles = (jnp.maximum(body_hi - body_lo, 0) + tb - 1) // tb
  n_atiles = (num_sets + ta - 1) // ta

  def body_step(bt, carry):
    def set_step(at, carry):
      vals, bids, sids = carry
      b_ids = body_lo + bt * tb + jnp.arange(tb)
      s_ids = at * ta + jnp.arange(ta)
      tile_sets = jax.lax.dynamic_slice_in_dim(sets, at * ta, ta)
      scores = _tile_scores(proj, radix, offset, jnp.minimum(b_ids, body_hi - 1), tile_sets,
                            per_body)
      valid = (b_ids < body_hi)[:, None] & (s_ids < num_sets)[None, :]
      scores = jnp.where(valid, scores, -jnp.inf).reshape(-1)
      tv, ti = jax.lax.top_k(scores, min(k, scores.shape[0]))
      all_v = jnp.concatenate([vals, tv])
      all_b = jnp.concatenate([bids, b_ids[ti // ta]])
      all_s = jnp.concatenate([sids, s_ids[ti % ta]])
      best_v, best = jax.lax.top_k(all_v, k)
      return best_v, all_b[best], all_s[best]
    return jax.lax.fori_loop(0, n_atiles, set_step, carry)

  init = (jnp.full((k,), -jnp.inf, jnp.float32), jnp.full((k,), -1, jnp.int32),
          jnp.full((k,), -1, jnp.int32))
  return jax.lax.fori_loop(0, n_btiles, body_step, init)


_config_top_k = jax.jit(_range_top_k, static_argnames=("k", "tb", "ta", "per_body"))


@functools.lru_cache(maxsize=16)
def _sharded_top_k(mesh, k: int, tb: int, ta: int, per_body: bool):
  """`_range_top_k` with the body range split over the mesh's `data` axis: each device keeps
  its own top-k, (devices, k) candidates come back to be merged."""
  P = jax.sharding.PartitionSpec

  def local(proj, radix, offset, lo, hi, sets, num_sets):
    v, b, s = _range_top_k(proj, radix, offset, lo[0], hi[0], sets, num_sets, k=k, tb=tb, ta=ta,
                           per_body=per_body)
    return v[None], b[None], s[None]

  repl = P()
  # check_vma=False: the loop carry starts replicated and becomes per-device.
  return jax.jit(jax.shard_map(local, mesh=mesh,
                               in_specs=(repl, repl, repl, P("data"), P("data"), repl, repl),
                               out_specs=(P("data"), P("data"), P("data")), check_vma=False))


def decomposed_top_k(variables, feats, mean_feature, part_labels: Sequence[str], k: int = 10,
                     tile: tuple[int, int] = (64, 256), messages: list[str] | None = None,
                     per_body: bool | None = None, mesh=None, model=None,
                     include: Sequence[int] = (), exclude: Sequence[int] = ()) -> list[Outfit]:
  """The exact top-k outfits of a closet under a slot or sum-DeepSets grader (decomposed).

  Args:
    variables: the grader's variables.
    feats: (N, D) closet item features in the grader's feature space.
    mean_feature: (D,) the empty-slot feature.
    part_labels: the part of each closet item.
    k: how many outfits to return (fewer if the closet has fewer).
    tile: (bodies, accessory sets) scored per device step.
    messages: receives one line per configuration skipped.
    per_body: score a tile body by body (fast on CPU) or as one fused reduction
      (GPU/TPU); None picks by the default backend.
    mesh: a mesh with a `data` axis (e.g. `jaxvis.train.make_mesh()`): body combinations are
      split over its devices. None: one device.
    model: None or a SlotGrader: the slot decomposition; a DeepSetsGrader (sum pooling):
      `project_deepsets`.
    include: closet indices every outfit must wear ("complete my outfit around these").
    exclude: closet indices no outfit may wear.

  Returns:
    Outfits sorted by score, best first.
  """
  feats = jnp.asarray(feats, jnp.float32)
  if feats.ndim != 2 or feats.shape[0] != len(part_labels):
    raise InputError("feats", f"expected ({len(part_labels)}, D) for {len(part_labels)} items, "
                     f"got {feats.shape}")
  if k < 1:
    raise InputError("k", f"expected >= 1, got {k}")
  cp = closet_parts(part_labels, include, exclude)
  by_part = cp.by_part
  if model is None or isinstance(model, models.SlotGrader):
    proj = project(variables, feats, jnp.asarray(mean_feature, jnp.float32), by_part)
  else:
    proj = project_deepsets(model, variables, feats, part_labels, by_part)
  acc = by_part["accessory"]
  sets = closet_sets(cp)
  n_sets = len(sets)
  tb, ta = tile
  if per_body is None:
    per_body = jax.default_backend() == "cpu"
  padded = np.full((_bucket(-(-max(n_sets, 1) // ta)) * ta, 3), -1, np.int32)
  padded[:n_sets] = sets
  padded = np.where(padded >= 0, padded, len(acc)).astype(np.int32)   # -1 -> the empty row
  skipped = dict(fillable(cp))
  if messages is not None:
    messages.extend(skipped.values())
  found: list[Outfit] = []
  for c, config in enumerate(CONFIGURATIONS):
    if c in skipped:
      continue
    radix = np.array([len(by_part[p]) if p in config else 1 for p in BODY_SLOTS], np.int32)
    offset = np.array([0 if p in config else len(by_part[p]) for p in BODY_SLOTS], np.int32)
    n_bodies = int(np.prod(radix))
    args = (proj, jnp.asarray(radix), jnp.asarray(offset))
    if mesh is None or mesh.devices.size == 1:
      vals, bids, sids = _config_top_k(*args, jnp.int32(0), jnp.int32(n_bodies),
                                       jnp.asarray(padded), jnp.int32(n_sets), k=k, tb=tb, ta=ta,
                                       per_body=per_body)
    else:
      n_dev = mesh.devices.size
      share = -(-n_bodies // n_dev)
      lo = np.minimum(np.arange(n_dev) * share, n_bodies).astype(np.int32)
      hi = np.minimum(lo + share, n_bodies).astype(np.int32)
      vals, bids, sids = _sharded_top_k(mesh, k, tb, ta, per_body)(
          *args, jnp.asarray(lo), jnp.asarray(hi), jnp.asarray(padded), jnp.int32(n_sets))
      vals, bids, sids = (np.asarray(x).reshape(-1) for x in (vals, bids, sids))
    vals, bids, sids = (np.asarray(x) for x in (vals, bids, sids))
    for v, b, s in zip(vals, bids, sids):
      if not np.isfinite(v):
        continue
      found.append(Outfit(c, _decode(by_part, config, radix, int(b), sets[s]),
                          float(jax.nn.sigmoid(v))))
  found.sort(key=lambda o: -o.score)
  return found[:k]


def _decode(by_part, config, radix, body_id: int, acc_set) -> tuple[int, ...]:
  picks = []
  for s in reversed(range(5)):
    picks.append(body_id % int(radix[s]))
    body_id //= int(radix[s])
  picks = picks[::-1]
  items = [int(by_part[p][picks[s]]) for s, p in enumerate(BODY_SLOTS) if p in config]
  return tuple(items + [int(by_part["accessory"][a]) for a in acc_set if a >= 0])


def naive_top_k(model, variables, feats, mean_feature, part_labels: Sequence[str], k: int = 10,
                batch_size: int = 256, messages: list[str] | None = None,
                include: Sequence[int] = (), exclude: Sequence[int] = ()) -> list[Outfit]:
  """The same top-k by running the full grader on every outfit (any grader; small closets)."""
  cp = closet_parts(part_labels, include, exclude)
  score = make_naive_scorer(model, batch_size)
  skipped = dict(fillable(cp))
  if messages is not None:
    messages.extend(skipped.values())
  found: list[Outfit] = []
  for c in range(len(CONFIGURATIONS)):
    if c in skipped:
      continue
    slots = enumerate_outfits(cp, c)
    if not len(slots):
      continue
    s = score(variables, jnp.asarray(feats, jnp.float32), jnp.asarray(mean_feature, jnp.float32),
              slots)
    for r in np.argsort(-s, kind="stable")[:k]:
      found.append(Outfit(c, tuple(int(i) for i in slots[r] if i >= 0), float(s[r])))
  found.sort(key=lambda o: -o.score)
  return found[:k]


def recommend_closet(grader, closet, k: int = 10, messages: list[str] | None = None,
                     tile: tuple[int, int] = (64, 256), include: Sequence[int] = (),
                     exclude: Sequence[int] = (), beam: int = 64, exact: bool = False,
                     feats: np.ndarray | None = None) -> list[Outfit]:
  """Top-k outfits of a `closet.Closet` under a `training.TrainedGrader`.

  The slot grader and sum-pooling DeepSets are scored exactly by decomposition; the
  attention grader by beam search (`beam.beam_top_k`), or by brute force with `exact`.
  `feats`: the closet's raw backbone features when already extracted.
  """
  from jaxvis.outfits import beam as beam_lib
  from jaxvis.outfits import closet as closet_lib
  raw = feats if feats is not None else closet_lib.closet_features(closet,
                                                                   grader.cfg.feature_config())
  feats = grader.to_grader_space(raw)
  args = dict(messages=messages, include=include, exclude=exclude)
  decomposable = grader.cfg.model == "slot" or (
      isinstance(grader.model, models.DeepSetsGrader) and grader.model.pool == "sum")
  if decomposable:
    from jaxvis import train
    mesh = train.make_mesh() if jax.device_count() > 1 else None
    return decomposed_top_k(grader.variables, feats, grader.mean_feature, closet.parts, k, tile,
                            mesh=mesh, model=grader.model, **args)
  if exact:
    return naive_top_k(grader.model, grader.variables, feats, grader.mean_feature, closet.parts,
                       k, **args)
  return beam_lib.beam_top_k(grader.model, grader.variables, feats, grader.mean_feature,
                             closet.parts, k, beam=beam, **args)
