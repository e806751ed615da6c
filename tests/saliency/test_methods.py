"""Comparison methods on a classifier whose evidence location is known."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxvis.errors import InputError
from jaxvis.saliency import attribution as A

from jaxvis.saliency import methods as M
from jaxvis.saliency import objective as O


def _local_classifier(images):
  """Class 0 evidence lives in rows 2..5 x cols 2..5 of the red channel; class 1 is a constant."""
  patch = jnp.sum(images[:, 2:6, 2:6, 0] ** 2, axis=(1, 2))
  return jnp.stack([patch - 2.0, jnp.zeros_like(patch)], -1)


def _features(images):
  """A fixed stride-2 'conv map': channel 0 detects red in rows/cols 2..5, channel 1 is green anywhere."""
  sub = images[:, ::2, ::2, :]
  detector = jnp.zeros((8, 8)).at[1:3, 1:3].set(1.0)
  return jnp.stack([sub[..., 0] * detector, sub[..., 1]], -1)


def _head(fmap):
  # class 0 uses the detector channel; class 1 is a constant (no evidence anywhere)
  return jnp.stack([jnp.sum(fmap[..., 0], axis=(1, 2)), jnp.zeros(fmap.shape[0])], -1)


def _inside_fraction(maps):
  inside = jnp.zeros((16, 16), bool).at[2:6, 2:6].set(True)
  return jnp.sum(maps * inside, axis=(1, 2)) / jnp.maximum(jnp.sum(maps, axis=(1, 2)), 1e-9)


X = jax.random.uniform(jax.random.key(0), (2, 16, 16, 3), minval=0.5, maxval=1.0)
IDS = jnp.array([0, 0])


def test_gradient_family_finds_the_evidence():
  for maps in (M.gradient(_local_classifier, X, IDS),
               M.smoothgrad(_local_classifier, X, IDS, jax.random.key(1), num_samples=4),
               M.integrated_gradients(_local_classifier, X, IDS, num_steps=4)):
    assert maps.shape == (2, 16, 16)
    np.testing.assert_allclose(jnp.max(maps, axis=(1, 2)), 1.0, rtol=1e-6)
    assert float(jnp.min(_inside_fraction(maps))) > 0.99
  # IG completeness, through the library's IG: attributions sum to f(x) - f(baseline)
  for rule in ("midpoint", "trapezoid"):
    a = A.integrated_gradients_attribution(_local_classifier, X, IDS, num_steps=64, rule=rule)
    np.testing.assert_allclose(jnp.sum(a, axis=(1, 2, 3)), _local_classifier(X)[:, 0] + 2.0, rtol=1e-3)
  # ... and a far-off baseline breaks it for a crude rule (the check can fail)
  a = A.integrated_gradients_attribution(_local_classifier, X, IDS, num_steps=2, rule="right")
  assert float(jnp.max(jnp.abs(jnp.sum(a, axis=(1, 2, 3)) - (_local_classifier(X)[:, 0] + 2.0)))) > 0.1


def test_chunking_changes_nothing_but_the_batching():
  key = jax.random.key(3)
  full = A.smoothgrad_attribution(_local_classifier, X, IDS, key, num_samples=5)
  for chunk in (2, 4, 7):  # 1, 2 and 3 samples per call; 5 % 2 != 0 pads the last chunk
    np.testing.assert_allclose(A.smoothgrad_attribution(_local_classifier, X, IDS, key, num_samples=5,
                                                        chunk_size=chunk), full, rtol=1e-5, atol=1e-7)
  ig = A.integrated_gradients_attribution(_local_classifier, X, IDS, num_steps=5, rule="linspace")
  np.testing.assert_allclose(A.integrated_gradients_attribution(_local_classifier, X, IDS, num_steps=5,
                                                                rule="linspace", chunk_size=4), ig, rtol=1e-5)


def test_smoothgrad_aggregations_on_a_quadratic():
  # f = sum over the patch of x^2: g = 2x in the patch, so with noise n: mean g = 2x + 2 mean(n),
  # mean g^2 = mean (2x + 2n)^2; explicit noise makes both exact.
  noise = jax.random.normal(jax.random.key(4), (3,) + X.shape)
  span = (jnp.max(X, axis=(1, 2, 3)) - jnp.min(X, axis=(1, 2, 3)))[None, :, None, None, None]
  noisy = X[None] + 0.2 * span * noise
  inside = jnp.zeros(X.shape, bool).at[:, 2:6, 2:6, 0].set(True)
  g = jnp.where(inside[None], 2 * noisy, 0.0)
  for agg, want in (("mean", g.mean(0)), ("mean_square", (g ** 2).mean(0)), ("mean_abs", jnp.abs(g).mean(0))):
    got = A.smoothgrad_attribution(_local_classifier, X, IDS, noise_level=0.2, aggregation=agg, noise=noise)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_ig_rules_place_their_points():
  for rule, alphas in (("linspace", [0, 0.5, 1]), ("midpoint", [1 / 6, 0.5, 5 / 6]), ("left", [0, 1 / 3, 2 / 3])):
    np.testing.assert_allclose(A.path_rule(rule, 3)[0], alphas, atol=1e-7)
  np.testing.assert_allclose(A.path_rule("trapezoid", 3)[1], [0.25, 0.5, 0.25], atol=1e-7)


def test_bad_options_name_the_argument():
  for call, where in ((lambda: A.smoothgrad_attribution(_local_classifier, X, IDS, jax.random.key(0),
                                                        aggregation="max"), "aggregation"),
                      (lambda: A.integrated_gradients_attribution(_local_classifier, X, IDS, rule="gauss"), "rule"),
                      (lambda: A.smoothgrad_attribution(_local_classifier, X, IDS, jax.random.key(0),
                                                        chunk_size=0), "chunk_size"),
                      (lambda: M.grad_cam(_features, _head, X, IDS, normalisation="l2"), "normalisation")):
    with pytest.raises(InputError, match=where):
      call()


def test_grad_cam_weights_the_used_channels():
  cam = M.grad_cam(_features, _head, X, IDS)
  assert cam.shape == (2, 16, 16)
  assert float(jnp.min(_inside_fraction(cam))) > 0.6  # bilinear upsampling spreads it a little
  assert float(jnp.max(M.grad_cam(_features, _head, X, jnp.array([1, 1])))) == 0.0
  low = M.grad_cam(_features, _head, X, IDS, normalisation="none", resize=False)
  # raw map by hand: d logit_0 / d A_0 = 1 everywhere, so alpha_0 = 1, alpha_1 = 0 and cam = A_0
  np.testing.assert_allclose(low, _features(X)[..., 0], atol=1e-6)
  pair = M.grad_cam(_features, _head, X, IDS, normalisation="before_resize")
  np.testing.assert_allclose(pair, jax.image.resize(low / jnp.max(low, axis=(1, 2), keepdims=True),
                                                    (2, 16, 16), "bilinear"), atol=1e-6)


def test_iterative_mask_keeps_the_evidence():
  # A red square at rows/cols 2..5 on black: the only evidence for class 0.
  x = jnp.zeros((2, 16, 16, 3)).at[:, 2:6, 2:6, 0].set(1.0)
  clf = lambda im: jnp.stack([4 * jnp.sum(im[:, 2:6, 2:6, 0], axis=(1, 2)) - 32, jnp.zeros(im.shape[0])], -1)
  cfg = M.IterativeMaskConfig(num_iterations=80, learning_rate=0.2, mask_stride=2,
                              objective=O.ObjectiveConfig(removal=O.EvidenceRemoval(blur_sigma=3.0)))
  masks = jax.jit(lambda im, c: M.iterative_mask(clf, im, c, jax.random.key(2), cfg))(x, IDS)
  assert masks.shape == (2, 16, 16) and bool(jnp.all((masks >= 0) & (masks <= 1)))
  inside = float(jnp.mean(masks[:, 2:6, 2:6]))
  far = float(jnp.mean(masks[:, 9:, 9:]))
  assert inside > 0.5 and far < 0.2


def test_occlusion_and_blur_ig_find_the_evidence_and_chunking_changes_nothing():
  occ = A.occlusion_attribution(_local_classifier, X, IDS, size=3)
  assert occ.shape == X.shape and bool(jnp.all(occ[..., 0] == occ[..., 2]))
  # only windows touching rows/cols 2..5 change the logit; each covers pixels up to 2 further
  np.testing.assert_array_equal(occ[:, 8:, :, 0], 0.0)
  assert float(jnp.min(occ[:, 2:6, 2:6, 0])) > 0  # occluding red evidence lowers the class-0 logit
  np.testing.assert_allclose(A.occlusion_attribution(_local_classifier, X, IDS, size=3, chunk_size=7), occ, rtol=1e-6)
  # under jax.jit the chunks are a rolled scan instead of separate calls: the same values
  jitted = jax.jit(lambda x, c: A.occlusion_attribution(_local_classifier, x, c, size=3, chunk_size=7))
  np.testing.assert_allclose(jitted(X, IDS), occ, rtol=1e-6)
  # stride 2: only the windows at even corners, each still adds its drop to all its pixels
  strided = A.occlusion_attribution(_local_classifier, X, IDS, size=2, stride=2)
  drop = _local_classifier(X)[:, 0:1] - _local_classifier(X.at[:, 2:4, 2:4, :].set(0.0))[:, 0:1]
  np.testing.assert_allclose(strided[:, 2:4, 2:4, 0], jnp.broadcast_to(drop[:, :, None], (2, 2, 2)), rtol=1e-5)
  maps = M.occlusion(_local_classifier, X, IDS, size=3)
  assert maps.shape == (2, 16, 16) and float(jnp.min(_inside_fraction(maps))) > 0.6
  blur = A.blur_ig_attribution(_local_classifier, X, IDS, max_sigma=6.0, num_steps=8)
  np.testing.assert_allclose(A.blur_ig_attribution(_local_classifier, X, IDS, max_sigma=6.0, num_steps=8,
                                                   chunk_size=3), blur, rtol=1e-4, atol=1e-6)
  assert float(jnp.min(_inside_fraction(M.blur_ig(_local_classifier, X, IDS, max_sigma=6.0, num_steps=8)))) > 0.8


def test_blur_matrix_is_scipys_gaussian_filter():
  from scipy import ndimage
  img = np.asarray(jax.random.uniform(jax.random.key(6), (12, 9)), np.float64)
  for sigma in (0.0, 0.01, 0.7, 2.3, 40.0):
    want = ndimage.gaussian_filter(img, sigma, mode="constant") if sigma else img
    got = A.gaussian_blur_matrix(sigma, 12, max_sigma=40.0) @ img @ A.gaussian_blur_matrix(sigma, 9, max_sigma=40.0).T
    np.testing.assert_allclose(got, want, atol=1e-6)
  # Blur IG's sigma derivative: the matrix change over a 0.01 step, to float32 precision of the
  # change itself (subtracting two float32 blurs leaves ~3 digits), incl. a step that widens the kernel
  eye = np.eye(12)
  for sigma in (0.0, 0.5, 0.6225, 3.0, 30.0):
    m = lambda s: np.stack([ndimage.gaussian_filter1d(e, s, mode="constant") if s else e for e in eye], 1)
    want = m(sigma + 0.01) - m(sigma)
    got = np.asarray(A.gaussian_blur_difference(sigma, 0.01, 12, max_sigma=30.0), np.float64)
    np.testing.assert_allclose(got, want, atol=1e-6 * np.max(np.abs(want)) + 1e-12)


def test_sample_loops_reuse_their_buffers_on_the_cpu():
  """Compiled with `compiler_options()`, 8 images' IG needs about one image's temporaries: the
  groups run one after another in the same buffers (XLA:CPU's default scheduler gave each group
  its own, and mmap-ed them afresh on every call)."""
  if jax.default_backend() != "cpu":
    pytest.skip("a CPU scheduler option")
  from jaxvis.nn.classifiers import SmallCNN
  cnn = SmallCNN(num_classes=3, widths=(8, 16), group_norm=False)
  v = cnn.init(jax.random.key(0), jnp.zeros((1, 16, 16, 3)))
  clf = lambda x: cnn.apply(v, x)

  def temp(n, options):
    f = lambda x, c: A.integrated_gradients_attribution(clf, x, c, num_steps=16, chunk_size=16)
    x, c = jnp.ones((n, 16, 16, 3)), jnp.zeros((n,), jnp.int32)
    return jax.jit(f).lower(x, c).compile(options or None).memory_analysis().temp_size_in_bytes

  one, eight = temp(1, A.compiler_options()), temp(8, A.compiler_options())
  assert eight < 1.5 * one, (one, eight)
  assert temp(8, {}) > 3 * one  # what the option fixes


def test_new_methods_bad_options_name_the_argument():
  for call, where in ((lambda: A.occlusion_attribution(_local_classifier, X, IDS, size=17), "size"),
                      (lambda: A.occlusion_attribution(_local_classifier, X, IDS, stride=0), "stride"),
                      (lambda: A.occlusion_attribution(_local_classifier, X, IDS, value=jnp.zeros(2)), "value"),
                      (lambda: A.blur_ig_attribution(_local_classifier, X, IDS, num_steps=0), "num_steps"),
                      (lambda: A.blur_ig_attribution(_local_classifier, X, IDS, max_sigma=0), "max_sigma"),
                      (lambda: A.integrated_gradients_attribution(_local_classifier, X, IDS, jnp.zeros((5, 3))),
                       "baseline")):
    with pytest.raises(InputError, match=where):
      call()
