"""Binary-classification and fill-in-the-blank metrics for outfit grading."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from jaxvis.errors import InputError


def _check(scores, labels) -> tuple[np.ndarray, np.ndarray]:
  scores = np.asarray(scores, np.float64).reshape(-1)
  labels = np.asarray(labels).reshape(-1)
  if scores.shape != labels.shape:
    raise ValueError(f"scores/labels: expected equal lengths, got {scores.shape} and {labels.shape}")
  if not np.isin(labels, (0, 1)).all():
    raise InputError("labels", "expected only 0 and 1")
  if not np.isfinite(scores).all():
    raise InputError("scores", "contains NaN or infinity")
  return scores, labels.astype(bool)


def accuracy(scores, labels, threshold: float = 0.5) -> float:
  """Share of outfits whose P(good) >= threshold agrees with the label."""
  scores, labels = _check(scores, labels)
  return float(np.mean((scores >= threshold) == labels)) if len(scores) else float("nan")


def precision(scores, labels, threshold: float = 0.5) -> float:
  """Of the outfits called good, the share that are good (NaN if none is called good)."""
  scores, labels = _check(scores, labels)
  called = scores >= threshold
  return float(labels[called].mean()) if called.any() else float("nan")


def auc(scores, labels) -> float:
  """Area under the ROC curve (Mann-Whitney U, ties count one half)."""
  scores, labels = _check(scores, labels)
  n_pos, n_neg = int(labels.sum()), int((~labels).sum())
  if n_pos == 0 or n_neg == 0:
    raise InputError("labels", "AUC needs both positive and negative outfits")
  order = np.argsort(scores, kind="mergesort")
  ranks = np.empty(len(scores), np.float64)
  sorted_scores = scores[order]
  # average ranks over runs of equal scores
  starts = np.r_[0, np.flatnonzero(np.diff(sorted_scores)) + 1]
  ends = np.r_[starts[1:], len(scores)]
  for s, e in zip(starts, ends):
    ranks[order[s:e]] = (s + e + 1) / 2.0
  return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def fitb_accuracy(candidate_scores: Sequence[Sequence[float]], answers: Sequence[int]) -> float:
  """Share of questions where the best-scored candidate is the answer.

  A tie for the best score shares the credit (1 / number tied, the expected hit rate of a
  random pick among them), so candidates that score alike (e.g. non-clothing ones, which
  leave the outfit unchanged) never win by their position.
  """
  if len(candidate_scores) != len(answers):
    raise ValueError("candidate_scores/answers: expected one answer per question")
  if not len(answers):
    return float("nan")
  hits = []
  for s, a in zip(candidate_scores, answers):
    s = np.asarray(s, np.float64)
    best = s == s.max()
    hits.append(best[int(a)] / best.sum())
  return float(np.mean(hits))
