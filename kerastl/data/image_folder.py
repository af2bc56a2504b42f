"""A folder of class-per-folder images -> tf.data pipelines, with unreadable files skipped up front.

Decoding is TensorFlow's (`tf.io.decode_image`, 3 channels: grayscale, palette, CMYK and RGBA/alpha
images become RGB) followed by a bilinear resize — the same ops as `keras.utils.image_dataset_from_directory`
and the exported `serving_bytes` signature. Every file is decoded once while indexing, so a corrupt or
truncated image is skipped with a counted warning instead of failing deep inside tf.data.
"""
from __future__ import annotations

import dataclasses
import random
import warnings
from pathlib import Path

import tensorflow as tf

from kerastl.errors import InvalidArgumentError

SPLIT_NAMES = {"train": ("train", "training"), "val": ("val", "validation", "valid")}
IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png")  # what keras' loader accepts


@dataclasses.dataclass
class ImageData:
    """Batched (pixels float32 [0, 255], label int32) datasets and the class names (index order)."""

    train: tf.data.Dataset
    val: tf.data.Dataset | None
    class_names: list[str]
    skipped: list[str] = dataclasses.field(default_factory=list)  # unreadable files left out


def _split_dir(root: Path, split: str) -> Path | None:
    return next((root / n for n in SPLIT_NAMES[split] if (root / n).is_dir()), None)


def _readable(path: Path) -> bool:
    try:
        tf.io.decode_image(tf.io.read_file(str(path)), channels=3, expand_animations=False)
        return True
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError):
        return False


def index_folder(root: Path, class_names: list[str] | None = None,
                 every_class: bool = True) -> tuple[list[str], list[tuple[str, int]], list[str]]:
    """-> (class names, [(file, label)] of readable images, [unreadable files]) for `root/<class>/**`.

    `every_class`: a class folder without readable images is an error (a class that cannot be learned).
    """
    names = class_names or sorted(d.name for d in root.iterdir() if d.is_dir())
    if not names:
        raise InvalidArgumentError(f"{str(root)!r} has no class folders; expected <path>/<class>/<image>")
    pairs, skipped, empty = [], [], []
    for label, name in enumerate(names):
        files = sorted(f for f in (root / name).rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file()) \
            if (root / name).is_dir() else []
        readable = {f for f in files if _readable(f)}
        skipped += [str(f) for f in files if f not in readable]
        pairs += [(str(f), label) for f in files if f in readable]
        if not readable:
            empty.append(name)
    if empty and every_class:
        raise InvalidArgumentError(
            f"class folders without readable images in {str(root)!r}: {empty}; add images (.jpg/.png/.bmp/.gif) "
            "or remove those folders")
    return names, pairs, skipped


def _dataset(pairs: list[tuple[str, int]], image_size: tuple[int, int]) -> tf.data.Dataset:
    def load(path, label):
        image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        return tf.image.resize(image, image_size), label

    paths, labels = zip(*pairs)
    data = tf.data.Dataset.from_tensor_slices((list(paths), tf.constant(labels, tf.int32)))
    return data.map(load, num_parallel_calls=tf.data.AUTOTUNE).cache()


def image_folder(
    path: str | Path,
    *,
    image_size: tuple[int, int] = (224, 224),
    batch_size: int = 32,
    validation_split: float = 0.2,
    seed: int = 0,
) -> ImageData:
    """Load `path/<class>/*.jpg`, or `path/train/<class>` + `path/val/<class>` when those exist.

    Without split folders, `validation_split` of the images (seeded) form `val` (0 = no val set). The
    training set is reshuffled every epoch; decoded images are cached in memory.
    """
    root = Path(path)
    if not root.is_dir():
        raise InvalidArgumentError(f"image folder {str(root)!r} does not exist; expected <path>/<class>/<image>")
    if not 0 <= validation_split < 1:
        raise InvalidArgumentError(f"validation_split must be in [0, 1), got {validation_split!r}")
    train_dir, val_dir = _split_dir(root, "train"), _split_dir(root, "val")
    if train_dir:
        class_names, train_pairs, skipped = index_folder(train_dir)
        val_pairs = []
        if val_dir:
            _, val_pairs, val_skipped = index_folder(val_dir, class_names, every_class=False)
            skipped += val_skipped
    else:
        class_names, pairs, skipped = index_folder(root)
        random.Random(seed).shuffle(pairs)
        n_val = int(len(pairs) * validation_split)
        train_pairs, val_pairs = pairs[n_val:], pairs[:n_val]
    if skipped:
        warnings.warn(f"skipped {len(skipped)} unreadable image file(s) under {str(root)!r} (corrupt or truncated), "
                      f"e.g. {skipped[:3]}", stacklevel=2)
    print(f"{len(train_pairs)} training / {len(val_pairs)} held-out images, {len(class_names)} classes ({root})")
    train = _dataset(train_pairs, tuple(image_size)).shuffle(len(train_pairs), seed=seed, reshuffle_each_iteration=True)
    batched = lambda ds: ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)  # noqa: E731
    val = batched(_dataset(val_pairs, tuple(image_size))) if val_pairs else None
    return ImageData(batched(train), val, class_names, skipped)
