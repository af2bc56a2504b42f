"""A folder of class-per-folder images -> tf.data pipelines (keras.utils.image_dataset_from_directory)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import keras
import tensorflow as tf

from kerastl.errors import InvalidArgumentError

SPLIT_NAMES = {"train": ("train", "training"), "val": ("val", "validation", "valid")}


@dataclasses.dataclass
class ImageData:
    """Batched (pixels float32 [0, 255], label int32) datasets and the class names (index order)."""

    train: tf.data.Dataset
    val: tf.data.Dataset | None
    class_names: list[str]


def _split_dir(root: Path, split: str) -> Path | None:
    return next((root / n for n in SPLIT_NAMES[split] if (root / n).is_dir()), None)


def image_folder(
    path: str | Path,
    *,
    image_size: tuple[int, int] = (224, 224),
    batch_size: int = 32,
    validation_split: float = 0.2,
    seed: int = 0,
) -> ImageData:
    """Load `path/<class>/*.jpg`, or `path/train/<class>` + `path/val/<class>` when those exist.

    Without split folders, `validation_split` of the images (seeded) form `val` (0 = no val set).
    """
    root = Path(path)
    if not root.is_dir():
        raise InvalidArgumentError(f"image folder {str(root)!r} does not exist; expected <path>/<class>/<image>")
    options = dict(image_size=tuple(image_size), batch_size=None, label_mode="int", seed=seed)
    train_dir, val_dir = _split_dir(root, "train"), _split_dir(root, "val")
    if train_dir:
        train = keras.utils.image_dataset_from_directory(train_dir, shuffle=True, **options)
        val = keras.utils.image_dataset_from_directory(
            val_dir, shuffle=False, class_names=train.class_names, **options) if val_dir else None
    elif validation_split:
        train, val = keras.utils.image_dataset_from_directory(
            root, validation_split=validation_split, subset="both", shuffle=True, **options)
    else:
        train, val = keras.utils.image_dataset_from_directory(root, shuffle=True, **options), None
    class_names = list(train.class_names)
    train = train.cache().shuffle(train.cardinality(), seed=seed, reshuffle_each_iteration=True)
    batched = lambda ds: ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)  # noqa: E731
    return ImageData(batched(train), batched(val.cache()) if val is not None else None, class_names)
