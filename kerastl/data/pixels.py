"""One image -> pixels convention, from file to prediction: the one the mobile runtime implements.

kerastl's loaders, `kerastl predict`, the `serving_bytes` signature and the bench all call `load`, so
a model sees at training time the pixels it will see in MediaPipe Tasks on a phone:

- decode: JPEG with libjpeg's accurate integer IDCT (`INTEGER_ACCURATE`; TensorFlow's default is the
  fast one, 1.4 levels off on average); PNG, GIF and BMP with `tf.io.decode_image`; always 3 channels.
- resize: bilinear at source coordinate x_src = x_dst · W / w (no half-pixel offset), edge pixels
  repeated, in OpenCV's fixed point: x_src rounded to 1/32 pixel, integer weights, the sum rounded to a
  whole uint8 level. That is what MediaPipe's ImageToTensor computes (warpPerspective, INTER_LINEAR)
  before it hands the tensor to the model; `tests/test_export.py` checks the two are bit-identical.

Pixels come out float32 in [0, 255] (whole numbers): models normalise them themselves.
"""
from __future__ import annotations

import tensorflow as tf


def decode(encoded: tf.Tensor) -> tf.Tensor:
    """uint8 (height, width, 3) of an encoded JPEG/PNG/GIF (first frame)/BMP."""
    image = tf.cond(
        tf.io.is_jpeg(encoded),
        lambda: tf.io.decode_jpeg(encoded, channels=3, dct_method="INTEGER_ACCURATE"),
        lambda: tf.io.decode_image(encoded, channels=3, expand_animations=False))
    image.set_shape([None, None, 3])
    return image


def resize(image: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
    """float32 (*size, 3) of whole-number pixels from `image` (height, width, 3), as MediaPipe resizes."""
    shape = tf.shape(image)
    y0, y1, wy0, wy1 = _taps(shape[0], size[0])
    x0, x1, wx0, wx1 = _taps(shape[1], size[1])
    pixels = tf.cast(image, tf.float32)
    rows = tf.gather(pixels, y0) * wy0[:, None, None] + tf.gather(pixels, y1) * wy1[:, None, None]
    both = tf.gather(rows, x0, axis=1) * wx0[:, None] + tf.gather(rows, x1, axis=1) * wx1[:, None]
    return tf.floor((both + 512.0) / 1024.0)  # weights sum to 32 · 32; every value is exact in float32


def _taps(source: tf.Tensor, target: int) -> tuple[tf.Tensor, ...]:
    """For each of `target` output positions: the two source indices (edges repeated) and their integer
    weights in 32nds, from x_src = x_dst · source / target rounded to 1/32 (half to even, as cvRound)."""
    position = tf.cast(tf.range(target), tf.float64) * tf.cast(source, tf.float64) / float(target)
    fixed = tf.cast(tf.round(position * 32.0), tf.int32)
    first, fraction = fixed // 32, fixed % 32
    return (tf.clip_by_value(first, 0, source - 1), tf.clip_by_value(first + 1, 0, source - 1),
            tf.cast(32 - fraction, tf.float32), tf.cast(fraction, tf.float32))


def load(encoded: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
    """`resize(decode(encoded), size)`: the pixels every kerastl path feeds a model."""
    return resize(decode(encoded), size)


def files(paths: list[str], size: tuple[int, int]) -> tf.data.Dataset:
    """Unbatched pixels (`load`) of the image files `paths`, in order, decoded in parallel."""
    return tf.data.Dataset.from_tensor_slices(tf.constant([str(p) for p in paths], tf.string)).map(
        lambda path: load(tf.io.read_file(path), size), num_parallel_calls=tf.data.AUTOTUNE)
