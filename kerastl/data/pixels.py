"""One image -> pixels convention, from file to prediction: the one the mobile runtime implements.

kerastl's loaders, `kerastl predict`, the `serving_bytes` signature and the bench all call `load`, so
a model sees at training time the pixels it will see in MediaPipe Tasks on a phone:

- decode: JPEG with libjpeg's accurate integer IDCT (`INTEGER_ACCURATE`; TensorFlow's default is the
  fast one, 1.4 levels off on average); PNG, GIF and BMP with `tf.io.decode_image`; always 3 channels.
- resize: bilinear with source coordinate x_src = x_dst · W / w (no half-pixel offset), edge pixels
  repeated, each value rounded to a whole uint8 level: what MediaPipe's ImageToTensor computes with
  OpenCV (warpPerspective, INTER_LINEAR) before it hands the tensor to the model.

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
    scaled = tf.raw_ops.ResizeBilinear(images=tf.cast(image, tf.float32)[None], size=list(size),
                                       align_corners=False, half_pixel_centers=False)[0]
    return tf.clip_by_value(tf.round(scaled), 0.0, 255.0)


def load(encoded: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
    """`resize(decode(encoded), size)`: the pixels every kerastl path feeds a model."""
    return resize(decode(encoded), size)


def files(paths: list[str], size: tuple[int, int]) -> tf.data.Dataset:
    """Unbatched pixels (`load`) of the image files `paths`, in order, decoded in parallel."""
    return tf.data.Dataset.from_tensor_slices(tf.constant([str(p) for p in paths], tf.string)).map(
        lambda path: load(tf.io.read_file(path), size), num_parallel_calls=tf.data.AUTOTUNE)
