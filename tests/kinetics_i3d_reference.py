"""An independent I3D forward pass in TensorFlow ops, written from
deepmind/kinetics-i3d's i3d.py (names, SAME padding, pools, BN without
scale, logits averaged over time), and a checkpoint of random weights under
its variable names, written by TensorFlow's own SaveV2.

`width` scales every channel count as our models' `width` option does
(max(int(c * width), 8)); `blocks` keeps the first n Inception blocks of
stages 3, 4, 5 (the tiny variants); (2, 5, 2) and width 1 is the release.
"""
from __future__ import annotations

import numpy as np

# i3d.py's Inception blocks: (b0, b1a, b1b, b2a, b2b, b3) per stage.
STAGES = (
    (("Mixed_3b", (64, 96, 128, 16, 32, 32)),
     ("Mixed_3c", (128, 128, 192, 32, 96, 64))),
    (("Mixed_4b", (192, 96, 208, 16, 48, 64)),
     ("Mixed_4c", (160, 112, 224, 24, 64, 64)),
     ("Mixed_4d", (128, 128, 256, 24, 64, 64)),
     ("Mixed_4e", (112, 144, 288, 32, 64, 64)),
     ("Mixed_4f", (256, 160, 320, 32, 128, 128))),
    (("Mixed_5b", (256, 160, 320, 32, 128, 128)),
     ("Mixed_5c", (384, 192, 384, 48, 128, 128))),
)
POOLS = (None, ("MaxPool3d_4a_3x3", (3, 3, 3), (2, 2, 2)),
         ("MaxPool3d_5a_2x2", (2, 2, 2), (2, 2, 2)))


def _units(in_channels: int, num_classes: int, width: float, blocks):
  """(name, kernel, in, out, stride) of every Unit3D, in build order."""
  c = lambda n: max(int(n * width), 8)
  units = [("Conv3d_1a_7x7", 7, in_channels, c(64), 2),
           ("Conv3d_2b_1x1", 1, c(64), c(64), 1),
           ("Conv3d_2c_3x3", 3, c(64), c(192), 1)]
  channels = c(192)
  for stage, count in zip(STAGES, blocks):
    for name, widths in stage[:count]:
      b0, b1a, b1b, b2a, b2b, b3 = (c(n) for n in widths)
      b2 = "Conv3d_0a_3x3" if name == "Mixed_5b" else "Conv3d_0b_3x3"
      units += [(f"{name}/Branch_0/Conv3d_0a_1x1", 1, channels, b0, 1),
                (f"{name}/Branch_1/Conv3d_0a_1x1", 1, channels, b1a, 1),
                (f"{name}/Branch_1/Conv3d_0b_3x3", 3, b1a, b1b, 1),
                (f"{name}/Branch_2/Conv3d_0a_1x1", 1, channels, b2a, 1),
                (f"{name}/Branch_2/{b2}", 3, b2a, b2b, 1),
                (f"{name}/Branch_3/Conv3d_0b_1x1", 1, channels, b3, 1)]
      channels = b0 + b1b + b2b + b3
  units.append(("Logits/Conv3d_0c_1x1", 1, channels, num_classes, 1))
  return units


def random_checkpoint(scope: str, in_channels: int, num_classes: int,
                      width: float, blocks, seed: int = 0):
  """{kinetics-i3d name: array} of random weights and BN statistics."""
  rng = np.random.default_rng(seed)
  values = {}
  for name, k, c_in, c_out, _ in _units(in_channels, num_classes, width,
                                        blocks):
    prefix = f"{scope}/inception_i3d/{name}"
    values[f"{prefix}/conv_3d/w"] = (rng.standard_normal(
        (k, k, k, c_in, c_out)) * np.sqrt(2 / (k ** 3 * c_in))).astype(
            np.float32)
    if name.startswith("Logits"):
      values[f"{prefix}/conv_3d/b"] = rng.standard_normal(c_out).astype(
          np.float32)
      continue
    values[f"{prefix}/batch_norm/beta"] = (0.1 * rng.standard_normal(c_out)
                                           ).astype(np.float32)
    values[f"{prefix}/batch_norm/moving_mean"] = (
        0.1 * rng.standard_normal(c_out)).astype(np.float32)
    values[f"{prefix}/batch_norm/moving_variance"] = rng.uniform(
        0.5, 2.0, c_out).astype(np.float32)
  return values


def save_checkpoint(prefix: str, values) -> None:
  """Writes `values` with TensorFlow's SaveV2 (a TensorBundle V2)."""
  import tensorflow as tf
  names = sorted(values)
  tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names,
                    shape_and_slices=[""] * len(names),
                    tensors=[tf.constant(values[n]) for n in names])


def logits(values, scope: str, x: np.ndarray, blocks) -> np.ndarray:
  """kinetics-i3d's forward pass (eval mode) on x [B, T, H, W, C].

  The final average pool is i3d.py's [2, 7, 7] VALID at 224 x 224; on
  smaller clips its window shrinks to the feature map, as in our head.
  """
  import tensorflow as tf
  w = lambda name: tf.constant(values[f"{scope}/inception_i3d/{name}"])

  def unit(net, name, k_stride=1, bn=True, relu=True):
    net = tf.nn.conv3d(net, w(f"{name}/conv_3d/w"),
                       [1, k_stride, k_stride, k_stride, 1], "SAME")
    if not bn:
      return net + w(f"{name}/conv_3d/b")
    net = tf.nn.batch_normalization(
        net, w(f"{name}/batch_norm/moving_mean"),
        w(f"{name}/batch_norm/moving_variance"),
        w(f"{name}/batch_norm/beta"), None, 1e-3)
    return tf.nn.relu(net)

  pool = lambda net, k, s: tf.nn.max_pool3d(net, [1, *k, 1], [1, *s, 1],
                                            "SAME")
  net = unit(tf.constant(x), "Conv3d_1a_7x7", 2)
  net = pool(net, (1, 3, 3), (1, 2, 2))
  net = unit(unit(net, "Conv3d_2b_1x1"), "Conv3d_2c_3x3")
  net = pool(net, (1, 3, 3), (1, 2, 2))
  for stage, stage_pool, count in zip(STAGES, POOLS, blocks):
    if stage_pool is not None:
      net = pool(net, stage_pool[1], stage_pool[2])
    for name, _ in stage[:count]:
      b2 = "Conv3d_0a_3x3" if name == "Mixed_5b" else "Conv3d_0b_3x3"
      branches = [
          unit(net, f"{name}/Branch_0/Conv3d_0a_1x1"),
          unit(unit(net, f"{name}/Branch_1/Conv3d_0a_1x1"),
               f"{name}/Branch_1/Conv3d_0b_3x3"),
          unit(unit(net, f"{name}/Branch_2/Conv3d_0a_1x1"),
               f"{name}/Branch_2/{b2}"),
          unit(pool(net, (3, 3, 3), (1, 1, 1)),
               f"{name}/Branch_3/Conv3d_0b_1x1")]
      net = tf.concat(branches, 4)
  window = [1, min(2, net.shape[1]), min(7, net.shape[2]),
            min(7, net.shape[3]), 1]
  net = tf.nn.avg_pool3d(net, window, [1, 1, 1, 1, 1], "VALID")
  net = unit(net, "Logits/Conv3d_0c_1x1", bn=False, relu=False)
  net = tf.squeeze(net, [2, 3])
  return tf.reduce_mean(net, axis=1).numpy()
