"""TensorFlow Datasets image classification sets (`tfds:<name>`) as kerastl ImageData."""
from __future__ import annotations

import tensorflow as tf

from kerastl.data import pixels
from kerastl.data.image_folder import ImageData
from kerastl.errors import DataUnavailableError, InvalidArgumentError


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
) -> ImageData:
    """`tfds.load(name, data_dir=...)` -> batched (pixels float32 [0, 255] RGB, int label) datasets.

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
        image = pixels.resize(image, image_size)
        return (tf.image.grayscale_to_rgb(image) if image.shape[-1] == 1 else image), tf.cast(label, tf.int32)

    def batched(ds, shuffle):
        ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE).cache()
        if shuffle:
            ds = ds.shuffle(10_000, seed=seed, reshuffle_each_iteration=True)
        return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)

    val = batched(loaded[1], False) if len(loaded) > 1 else None
    return ImageData(batched(loaded[0].shard(shard[1], shard[0]), True), val, list(info.features["label"].names))
