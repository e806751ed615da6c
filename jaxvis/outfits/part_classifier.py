"""A part classifier on item features, trained with the grader on the dataset's own parts.

For closet photos whose file names carry no clothing term: the published categories of
the training data (`semantic_category`, Maryland `categoryid`, or name terms) label the
training items, and a ridge-regression classifier on their grader-space features
(one-hot targets, closed form, deterministic) predicts one of the six parts. It is
saved beside the grader (`part_classifier.npz`) and used by `jaxvis outfits recommend
--infer-parts`.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from jaxvis.outfits import parts as parts_lib


@dataclasses.dataclass(frozen=True)
class PartClassifier:
  weights: np.ndarray   # (D + 1, 6): features plus a bias column -> part scores
  FILE = "part_classifier.npz"

  @classmethod
  def fit(cls, feats: np.ndarray, labels, l2: float = 1.0) -> "PartClassifier":
    """Ridge regression to one-hot parts (`l2` scaled by the mean feature energy)."""
    x = np.concatenate([np.asarray(feats, np.float64), np.ones((len(feats), 1))], 1)
    y = np.zeros((len(labels), len(parts_lib.PARTS)))
    y[np.arange(len(labels)), [parts_lib.PART_INDEX[p] for p in labels]] = 1.0
    gram = x.T @ x
    reg = l2 * np.trace(gram) / len(gram) * np.eye(len(gram))
    reg[-1, -1] = 0.0                                   # the bias is not shrunk
    return cls(np.linalg.solve(gram + reg, x.T @ y).astype(np.float32))

  def predict(self, feats: np.ndarray) -> list[str]:
    x = np.asarray(feats, np.float32)
    scores = x @ self.weights[:-1] + self.weights[-1]
    return [parts_lib.PARTS[i] for i in np.argmax(scores, 1)]

  def save(self, workdir: str) -> None:
    np.savez(os.path.join(workdir, self.FILE), weights=self.weights)

  @classmethod
  def load(cls, workdir: str) -> "PartClassifier | None":
    path = os.path.join(workdir, cls.FILE)
    if not os.path.isfile(path):
      return None
    with np.load(path) as f:
      return cls(f["weights"])
