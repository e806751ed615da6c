"""jaxvis's gradient, SmoothGrad, Integrated Gradients and Grad-CAM against Google PAIR's
`saliency.core` on the same small Flax model (PAIR calls it through `jaxvis.saliency.pair`)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxvis.nn.classifiers import SmallCNN
from jaxvis.saliency import attribution as A
from jaxvis.saliency import methods as M
from jaxvis.saliency import pair

sc = pytest.importorskip("saliency.core")

CNN = SmallCNN(num_classes=4, widths=(8, 16), group_norm=False)
VARS = CNN.init(jax.random.key(0), jnp.zeros((1, 16, 16, 3)))
CLF = lambda x: CNN.apply(VARS, x)
FEATS = lambda x: CNN.apply(VARS, x, method=SmallCNN.features)
HEAD = lambda f: CNN.apply(VARS, f, method=SmallCNN.head)
CALL = pair.call_model_function(CLF, FEATS, HEAD)
X = np.asarray(jax.random.uniform(jax.random.key(1), (2, 16, 16, 3)), np.float32)
IDS = np.array([1, 3])


def _corr(a, b):
  return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


def test_gradient_equals_pair():
  ours = A.input_gradients(CLF, jnp.asarray(X), jnp.asarray(IDS))
  theirs = np.stack([sc.GradientSaliency().GetMask(x, CALL, {"class_id": int(c)}) for x, c in zip(X, IDS)])
  assert float(np.max(np.abs(theirs))) > 1e-3  # a real gradient, not zeros on both sides
  np.testing.assert_allclose(ours, theirs, atol=1e-5, rtol=0)


def test_integrated_gradients_with_pairs_rule():
  ours = A.integrated_gradients_attribution(CLF, jnp.asarray(X), jnp.asarray(IDS), num_steps=10,
                                            rule="linspace", chunk_size=8)
  theirs = np.stack([sc.IntegratedGradients().GetMask(x, CALL, {"class_id": int(c)}, x_steps=10, batch_size=4)
                     for x, c in zip(X, IDS)])
  assert _corr(ours, theirs) >= 0.999
  np.testing.assert_allclose(ours, theirs, atol=1e-5 * float(np.max(np.abs(theirs))) + 1e-7)
  # the default (midpoint) rule is a different quadrature: close, not equal
  mid = A.integrated_gradients_attribution(CLF, jnp.asarray(X), jnp.asarray(IDS), num_steps=10)
  assert float(np.max(np.abs(mid - theirs))) > 1e-4


def test_smoothgrad_with_pairs_aggregation_and_the_same_noise():
  n = 6
  np.random.seed(7)
  theirs = np.stack([sc.GradientSaliency().GetSmoothedMask(x, CALL, {"class_id": int(c)}, nsamples=n)
                     for x, c in zip(X, IDS)])
  # PAIR draws np.random.normal(0, sigma, x.shape) per sample, image after image: the same stream
  np.random.seed(7)
  eps = np.stack([np.stack([np.random.normal(0, 1, x.shape) for _ in range(n)]) for x in X], axis=1)
  ours = A.smoothgrad_attribution(CLF, jnp.asarray(X), jnp.asarray(IDS), noise=eps, aggregation="mean_square")
  assert _corr(ours, theirs) >= 0.999
  np.testing.assert_allclose(ours, theirs, rtol=1e-3, atol=1e-4 * float(np.max(theirs)))
  # PAIR's magnitude=False is our "mean"
  np.random.seed(8)
  theirs_mean = sc.GradientSaliency().GetSmoothedMask(X[0], CALL, {"class_id": int(IDS[0])}, nsamples=n,
                                                      magnitude=False)
  np.random.seed(8)
  eps0 = np.stack([np.random.normal(0, 1, X[0].shape) for _ in range(n)])[:, None]
  ours_mean = A.smoothgrad_attribution(CLF, jnp.asarray(X[:1]), jnp.asarray(IDS[:1]), noise=eps0, aggregation="mean")
  assert _corr(ours_mean[0], theirs_mean) >= 0.999


def test_grad_cam_with_pairs_normalisation():
  raw = M.grad_cam(FEATS, HEAD, jnp.asarray(X), jnp.asarray(IDS), normalisation="none", resize=False)
  theirs_raw = np.stack([sc.GradCam().GetMask(x, CALL, {"class_id": int(c)}, should_resize=False, three_dims=False)
                         for x, c in zip(X, IDS)])
  assert float(np.max(theirs_raw)) > 0
  np.testing.assert_allclose(raw, theirs_raw, atol=1e-5 * float(np.max(theirs_raw)))
  theirs = np.stack([sc.GradCam().GetMask(x, CALL, {"class_id": int(c)}, three_dims=False) for x, c in zip(X, IDS)])
  ours = M.grad_cam(FEATS, HEAD, jnp.asarray(X), jnp.asarray(IDS), normalisation="before_resize", border="mirror")
  np.testing.assert_allclose(ours, theirs, atol=1e-5)
  # jax's resize clamps at the border instead: equal inside, different at the edge
  clamp = M.grad_cam(FEATS, HEAD, jnp.asarray(X), jnp.asarray(IDS), normalisation="before_resize")
  np.testing.assert_allclose(clamp[:, 2:-2, 2:-2], theirs[:, 2:-2, 2:-2], atol=1e-5)
  assert float(np.max(np.abs(clamp - theirs))) > 1e-2


def test_occlusion_equals_pair():
  for kw in ({"size": 5}, {"size": 7, "value": 0.5}):
    theirs = np.stack([sc.Occlusion().GetMask(x, CALL, {"class_id": int(c)}, **kw) for x, c in zip(X, IDS)])
    ours = A.occlusion_attribution(CLF, jnp.asarray(X), jnp.asarray(IDS), chunk_size=24, **kw)
    assert float(np.max(np.abs(theirs))) > 1e-3
    np.testing.assert_allclose(ours, theirs, atol=1e-5 * float(np.max(np.abs(theirs))), rtol=0)


def test_blur_ig_equals_pair():
  for kw, bs in (({"steps": 12, "max_sigma": 8.0}, 4), ({"steps": 8, "max_sigma": 8.0, "sqrt": True}, 1)):
    theirs = np.stack([sc.BlurIG().GetMask(x, CALL, {"class_id": int(c)}, batch_size=bs, **kw)
                       for x, c in zip(X, IDS)])
    mine = dict(kw, num_steps=kw["steps"])
    del mine["steps"]
    ours = A.blur_ig_attribution(CLF, jnp.asarray(X), jnp.asarray(IDS), chunk_size=8, **mine)
    assert float(np.max(np.abs(theirs))) > 1e-3
    assert _corr(ours, theirs) >= 0.999
    # PAIR's sigma derivative is a float32 forward difference of 0.01: ~1e-4 relative noise
    np.testing.assert_allclose(ours, theirs, atol=2e-3 * float(np.max(np.abs(theirs))))


def test_xrai_segments_ranking_and_maps_equal_pair():
  from saliency.core import xrai as pair_xrai
  from jaxvis.saliency import xrai
  masks, counts = xrai.segments(X)
  for i, x in enumerate(X):
    theirs = pair_xrai._get_segments_felzenszwalb(x)
    assert counts[i] == len(theirs) and not masks[i, counts[i]:].any()
    assert all(np.array_equal(a, b) for a, b in zip(masks[i], theirs))
  attr = np.asarray(jax.random.normal(jax.random.key(5), X.shape[:3]), np.float32)
  for algorithm, rank in (("full", sc.XRAI._xrai), ("fast", sc.XRAI._xrai_fast)):
    ours = xrai.rank_segments(attr, masks, min_pixel_diff=10, algorithm=algorithm)
    for i in range(len(X)):
      theirs, _ = rank(attr[i], list(masks[i, :counts[i]]), min_pixel_diff=10)
      np.testing.assert_allclose(ours[i], theirs, atol=1e-6)
  # end to end: IG from the min and max images (10 steps), the same segments, the full ranking
  ours = xrai.xrai_attribution(CLF, jnp.asarray(X), jnp.asarray(IDS), num_steps=10, masks=masks, chunk_size=20)
  params = pair_xrai.XRAIParameters(steps=10)
  theirs = np.stack([sc.XRAI().GetMask(x, CALL, {"class_id": int(c)}, batch_size=10, extra_parameters=params)
                     for x, c in zip(X, IDS)])
  assert _corr(ours, theirs) >= 0.999
  np.testing.assert_allclose(ours, theirs, atol=1e-5 * float(np.max(np.abs(theirs))))
