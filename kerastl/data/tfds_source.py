"""TensorFlow Datasets image classification sets (`tfds:<name>`) as kerastl ImageData."""
from __future__ import annotations

import tensorflow as tf

from kerastl.data import pixels
from kerastl.data.image_folder import SHUFFLE_BUFFER, ImageData
from kerastl.errors import DataUnavailableError, InvalidArgumentError
from kerastl.io import MEMORY_BYTES
from kerastl.progress import logger


def tfds_images(
    name: str,
    *,
    data_dir: str | None = None,
    splits: tuple[str, str | None] = ("train", "test"),
    image_size: tuple[int, int] = (224, 224),
    batch_size: int = 32,
    download: bool = True,
    seed: int = 0,
    shard: tuple[int, int] = (0, 1),
    memory_bytes: int = MEMORY_BYTES,
) -> ImageData:
    """`tfds.load(name, data_dir=...)` -> batched (pixels float32 [0, 255] RGB, int label) datasets.

    A split whose resized uint8 pixels fit what is left of `memory_bytes` is cached in RAM (the
    training split then shuffled whole); a larger one is decoded from TFDS's files every epoch, shuffled
    in a buffer of SHUFFLE_BUFFER images.
    Without a network, prepare the set elsewhere (`tfds build NAME --data_dir DIR`), copy DIR here and
    pass `data_dir=DIR, download=False` (a missing set then fails at once instead of retrying).
    `shard=(i, n)`: the training split holds only every n-th example from the i-th (worker i's share).
    """
    import tensorflow_datasets as tfds

    try:
        loaded, info = tfds.load(name, split=[s for s in splits if s], data_dir=data_dir, as_supervised=True,
                                 with_info=True, download=download)
    except tfds.core.registered.DatasetNotFoundError as error:
        raise InvalidArgumentError(f"unknown TFDS data set {name!r}: {str(error).splitlines()[0]}") from None
    except (AssertionError, OSError) as error:  # not prepared (download=False) / download failed
        raise DataUnavailableError(
            f"TFDS data set {name!r} is not prepared in {data_dir or '~/tensorflow_datasets'} and could not be "
            f"downloaded ({str(error).splitlines()[0][:200]}). On a machine with internet run "
            f"`tfds build {name} --data_dir DIR`, copy DIR here and pass data_dir='DIR' (CLI: --data tfds:{name} "
            "--tfds-dir DIR).") from None

    def prepare(image, label):
        image = tf.cast(pixels.resize(image, image_size), tf.uint8)  # whole numbers: uint8 is exact
        return (tf.image.grayscale_to_rgb(image) if image.shape[-1] == 1 else image), tf.cast(label, tf.int32)

    left = memory_bytes

    def batched(ds, split, examples, shuffle):
        nonlocal left
        size = examples * image_size[0] * image_size[1] * 3
        cached = size <= left
        ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
        if cached:
            ds, left = ds.cache(), left - size
        logger.info("%s: %d images, %.2f GB decoded: %s", split, examples, size / 1e9,
                    "cached in RAM" if cached else "decoded every epoch")
        if shuffle:
            ds = ds.shuffle(examples if cached else min(examples, SHUFFLE_BUFFER), seed=seed, reshuffle_each_iteration=True)
        return ds.batch(batch_size).map(lambda x, y: (tf.cast(x, tf.float32), y)).prefetch(tf.data.AUTOTUNE)

    counts = [info.splits[s].num_examples for s in splits if s]
    train = batched(loaded[0].shard(shard[1], shard[0]), splits[0], -(-(counts[0] - shard[0]) // shard[1]), True)
    val = batched(loaded[1], splits[1], counts[1], False) if len(loaded) > 1 else None
    return ImageData(train, val, list(info.features["label"].names))
