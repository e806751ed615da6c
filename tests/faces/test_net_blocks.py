"""The block forms of P-, R- and O-Net (3x3 convs on 2x2 blocks, the CPU default) equal the plain ones."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxvis.faces import nets


@pytest.mark.parametrize("shape,masked", [((2, 12, 12, 3), False), ((1, 37, 51, 3), False),
                                          ((1, 120, 90, 3), False), ((1, 37, 51, 3), True),
                                          ((1, 120, 90, 3), True)])
def test_block_form_equals_plain_form_with_the_real_weights(mtcnn_params, shape, masked):
  rng = np.random.default_rng(shape[1])
  x = jnp.asarray(rng.uniform(-1, 1, shape).astype(np.float32))
  mask = None
  if masked:  # a level-like mask: a rectangle of valid conv1 outputs, the rest padding
    m = np.zeros((shape[0], shape[1] - 2, shape[2] - 2), bool)
    m[:, : (shape[1] - 2) * 3 // 4, : (shape[2] - 2) * 2 // 3 + 1] = True
    mask = jnp.asarray(m)
  variables = {"params": mtcnn_params["pnet"]}
  plain = nets.PNet(conv_impl="plain").apply(variables, x, conv1_mask=mask)
  blocks = nets.PNet(conv_impl="blocks").apply(variables, x, conv1_mask=mask)
  for a, b in zip(plain, blocks):
    assert a.shape == b.shape
    a, b = np.asarray(a), np.asarray(b)
    # Cells whose window reaches fully masked pool windows are -inf / NaN in the plain form
    # and finite in the block form (those windows pool to 0 there); no cascade uses them.
    finite = np.isfinite(a)
    assert np.isfinite(b).all()
    assert finite.mean() > (0.3 if masked else 0.999)
    np.testing.assert_allclose(b[finite], a[finite], atol=2e-5)
    assert np.abs(a[finite]).max() > 0.1                      # real activations, not zeros


def test_auto_picks_blocks_on_cpu_and_rejects_unknown(mtcnn_params):
  x = jnp.zeros((1, 12, 12, 3))
  variables = {"params": mtcnn_params["pnet"]}
  assert jax.default_backend() == "cpu"
  jaxpr = str(jax.make_jaxpr(lambda v: nets.PNet().apply(v, x))(variables))
  convs = [line.split("=")[0].strip() for line in jaxpr.splitlines() if "conv_general_dilated[" in line]
  # conv1 and conv3 on 2x2 blocks (4 x 10 and 4 x 32 outputs), conv2 plain; the 1x1 heads are dots
  assert [c.split(":")[1] for c in convs] == ["f32[1,5,5,40]", "f32[1,3,3,16]", "f32[1,1,1,128]"]
  with pytest.raises(ValueError, match="conv_impl"):
    nets.PNet(conv_impl="fast").apply(variables, x)


@pytest.mark.parametrize("net,size,key", [(nets.RNet, 24, "rnet"), (nets.ONet, 48, "onet")])
def test_rnet_onet_block_conv1_equals_plain(mtcnn_params, net, size, key):
  x = jnp.asarray(np.random.default_rng(size).uniform(-1, 1, (5, size, size, 3)).astype(np.float32))
  variables = {"params": mtcnn_params[key]}
  plain = net(conv_impl="plain").apply(variables, x)
  blocks = net(conv_impl="blocks").apply(variables, x)
  for a, b in zip(plain, blocks):
    np.testing.assert_allclose(np.asarray(b), np.asarray(a), atol=2e-5)
    assert np.abs(np.asarray(a)).max() > 0.1
