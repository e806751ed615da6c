"""The reader's `crop_all` path: every O-Net candidate is crop-read, the ones the verifier rejected
included, and the verifier gates only the `unreadable` reports. The image is 480x640 and read one per
program, as in test_qr_reader.py (the same compiled detector; thresholds are traced)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import segno

from jaxvis.faces.qr import decode, pipeline, reader

PAYLOAD = "crop only 0123456789 abc"
# A verifier threshold no probability passes: the verifier rejects every O-Net candidate.
REJECT_ALL = (0.6, 0.7, 0.7, 1.5)


@pytest.fixture(scope="module")
def weights():
  return pipeline.load_weights()


def _small_blurred(m: np.ndarray):
  """Code matrix `m` at 1.8 px per module with a 4-module quiet zone, turned 20 degrees and blurred
  (sigma 0.9) on a 480x640 ground. Returns the RGB image, the code's corners (clockwise from its
  top-left) and its box."""
  big = cv2.resize(((1 - np.pad(m, 4)) * 220 + 20).astype(np.uint8), None, fx=8, fy=8,
                   interpolation=cv2.INTER_NEAREST)
  s = big.shape[0]
  half = s * 1.8 / 8 / 2
  a = np.deg2rad(20.0)
  rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
  dst = np.float32([(300, 200) + rot @ np.array(p) for p in [(-half, -half), (half, -half), (half, half), (-half, half)]])
  src = np.float32([[-.5, -.5], [s - .5, -.5], [s - .5, s - .5], [-.5, s - .5]])
  hom = cv2.getPerspectiveTransform(src, dst)
  gray = cv2.GaussianBlur(cv2.warpPerspective(big, hom, (640, 480), flags=cv2.INTER_AREA, borderValue=200), (0, 0), 0.9)
  e0, e1 = 4 * 8 - 0.5, (4 + m.shape[0]) * 8 - 0.5
  quad = cv2.perspectiveTransform(np.float32([[[e0, e0], [e1, e0], [e1, e1], [e0, e1]]]), hom)[0]
  return np.repeat(gray[..., None], 3, -1), quad, np.r_[quad.min(0), quad.max(0)].astype(np.float32)


def _crop_only_code():
  """A version-2 code zxing-cpp misses on the whole image; its up-sampled crop reads."""
  return _small_blurred(np.asarray(segno.make(PAYLOAD, error="m", micro=False, boost_error=False).matrix, np.uint8))


def _crop_only_damaged_code(seed: int = 0):
  """A version-3 L code, data scrambled beyond correction: zxing-cpp locates nothing on the whole
  image; on the crop it locates the symbol (finder patterns + format bits) and fails the checksum."""
  m = np.asarray(segno.make("https://example.com/damaged/code/0123456789", error="l", micro=False,
                            boost_error=False).matrix, np.uint8).copy()
  n = m.shape[0]
  m[9:n - 8, 9:n - 9] = np.random.default_rng(seed).integers(0, 2, (n - 17, n - 18))
  return _small_blurred(m)


def test_read_image_reads_rejected_candidates_but_reports_no_unreadable_from_them():
  image, quad, box = _crop_only_code()
  gray = decode.as_gray(image)
  assert not [f for f in decode.zxing_find(gray) if f.decoded]          # the whole image alone: nothing
  assert reader.read_image(gray) == []
  # the verifier rejected the code's candidate: crop-read anyway, decoded from the crop
  codes = reader.read_image(gray, candidates=[], rejected=[(box, quad, 0.3)])
  assert [(c["status"], c["payload"], c["source"], c["format"]) for c in codes] == [
      ("decoded", PAYLOAD, "crop", "QR")]
  assert codes[0]["bytes"] == PAYLOAD.encode() and codes[0]["detector_score"] is None  # no kept support
  assert np.abs(np.asarray(codes[0]["corners"]) - quad).max() < 3.0
  # a confident candidate on empty ground: `unreadable` if the verifier kept it, nothing if it rejected it
  ground = np.float32([60, 300, 140, 380])
  ground_quad = np.float32([[60, 300], [140, 300], [140, 380], [60, 380]])
  kept = reader.read_image(gray, candidates=[(ground, ground_quad, 0.99)])
  assert [(c["status"], c["source"], c["score"]) for c in kept] == [("unreadable", "detector", 0.99)]
  assert reader.read_image(gray, candidates=[], rejected=[(ground, ground_quad, 0.99)]) == []
  # both: the code decoded from its rejected candidate, the kept one on the ground still reported
  both = reader.read_image(gray, candidates=[(ground, ground_quad, 0.99)], rejected=[(box, quad, 0.3)])
  assert [c["status"] for c in both] == ["decoded", "unreadable"] and both[0]["payload"] == PAYLOAD


def test_a_symbol_located_only_in_a_rejected_crop_is_not_reported():
  image, quad, box = _crop_only_damaged_code()
  gray = decode.as_gray(image)
  assert decode.zxing_find(gray, errors=True) == []                  # nothing located on the whole image
  # kept candidate (score under unreadable_score): zxing-cpp locates the damaged symbol in its crop
  kept = reader.read_image(gray, candidates=[(box, quad, 0.3)])
  assert [(c["status"], c["source"], c["format"], c["version"]) for c in kept] == [("unreadable", "crop", "QR", 3)]
  assert np.abs(np.asarray(kept[0]["corners"]) - quad).max() < 3.0
  # the verifier rejected it: crop-read too (nothing decodes), but no `unreadable` report
  assert reader.read_image(gray, candidates=[], rejected=[(box, quad, 0.3)]) == []


def test_detector_reports_proposals_beside_the_verifier(weights):
  image, _, box = _crop_only_code()
  det = pipeline.detect_codes(weights, image[None])
  proposed, valid = np.asarray(det.proposed), np.asarray(det.valid)
  pscore, score = np.asarray(det.proposal_scores), np.asarray(det.scores)
  assert proposed.shape == valid.shape == pscore.shape
  assert not (valid & ~proposed).any()                     # the verifier keeps a subset
  np.testing.assert_allclose(pscore[valid], score[valid])
  assert (pscore[~proposed] == 0).all() and (pscore[proposed] > 0).all()
  # O-Net proposes the code (IoU >= 0.5 with its box)
  boxes = np.asarray(det.boxes)[proposed]
  ix = np.clip(np.minimum(boxes[:, 2:], box[2:]) - np.maximum(boxes[:, :2], box[:2]), 0, None).prod(1)
  union = (boxes[:, 2:] - boxes[:, :2]).prod(1) + (box[2:] - box[:2]).prod() - ix
  assert (ix / union).max() >= 0.5
  # a verifier that rejects everything: no valid slot, the same proposals
  shut = pipeline.detect_codes(weights, image[None], thresholds=REJECT_ALL)
  assert not np.asarray(shut.valid).any()
  np.testing.assert_array_equal(np.asarray(shut.proposed), proposed)
  np.testing.assert_allclose(np.asarray(shut.proposal_scores), pscore, rtol=1e-5)
  # without the verifier the proposals are the kept codes
  off = pipeline.detect_codes(weights, image[None], use_verifier=False)
  np.testing.assert_array_equal(np.asarray(off.proposed), np.asarray(off.valid))


def test_crop_all_reads_what_the_verifier_rejected(weights):
  image, quad, _ = _crop_only_code()
  kept_only = reader.read_codes(weights, [image], batch_size=1, thresholds=REJECT_ALL, crop_all=False)[0]
  assert kept_only == []                                    # no kept candidate, zxing-cpp alone reads nothing
  codes = reader.read_codes(weights, [image], batch_size=1, thresholds=REJECT_ALL, crop_all=True)[0]
  assert [(c["status"], c["payload"], c["source"]) for c in codes] == [("decoded", PAYLOAD, "crop")]
  assert np.abs(np.asarray(codes[0]["corners"]) - quad).max() < 3.0
  # the default verifier: the code read either way, never twice, no `unreadable` beside it
  for crop_all in (False, True):
    got = reader.read_codes(weights, [image], batch_size=1, crop_all=crop_all)[0]
    assert [(c["status"], c["payload"]) for c in got] == [("decoded", PAYLOAD)]
