"""A folder of class-per-folder images -> tf.data pipelines, with unreadable files skipped up front.

Pixels follow `kerastl.data.pixels` (3 channels: grayscale, palette, CMYK and RGBA/alpha images become
RGB; MediaPipe's resize), the convention of `kerastl predict`, the exported `serving_bytes` signature and
the mobile runtime. Every file is decoded once while indexing, so a corrupt or
truncated image is skipped with a counted warning instead of failing deep inside tf.data.
"""
from __future__ import annotations

import dataclasses
import random
import warnings
from pathlib import Path

import tensorflow as tf

from kerastl.data import pixels
from kerastl.errors import InvalidArgumentError
from kerastl.progress import logger

SPLIT_NAMES = {"train": ("train", "training"), "val": ("val", "validation", "valid"), "test": ("test",)}
IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png")  # what keras' loader accepts
EVALUATION_SPLITS = ("test", "val", "all")


@dataclasses.dataclass
class ImageData:
    """Batched (pixels float32 [0, 255], label int32) datasets and the class names (index order)."""

    train: tf.data.Dataset
    val: tf.data.Dataset | None
    class_names: list[str]
    skipped: list[str] = dataclasses.field(default_factory=list)  # unreadable files left out
    val_files: list[tuple[str, int]] = dataclasses.field(default_factory=list)  # (file, class index) of `val`
    test: tf.data.Dataset | None = None  # the folder's test/ split: scored, never used to choose a model


def _split_dir(root: Path, split: str) -> Path | None:
    return next((root / n for n in SPLIT_NAMES[split] if (root / n).is_dir()), None)


def _readable(path: Path) -> bool:
    try:
        pixels.decode(tf.io.read_file(str(path)))
        return True
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError):
        return False


def index_folder(root: Path, every_class: bool = True) -> tuple[list[str], list[tuple[str, str]], list[str]]:
    """-> (class names, [(file, class name)] of readable images, [unreadable files]) for `root/<class>/**`.

    `every_class`: a class folder without readable images is an error (a class that cannot be learned).
    """
    names = sorted(d.name for d in root.iterdir() if d.is_dir())
    if not names:
        raise InvalidArgumentError(f"{str(root)!r} has no class folders; expected <path>/<class>/<image>")
    pairs, skipped, empty = [], [], []
    for name in names:
        files = sorted(f for f in (root / name).rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
        readable = [f for f in files if _readable(f)]
        skipped += [str(f) for f in files if f not in readable]
        pairs += [(str(f), name) for f in readable]
        if not readable:
            empty.append(name)
    if empty and every_class:
        raise InvalidArgumentError(
            f"class folders without readable images in {str(root)!r}: {empty}; add images (.jpg/.png/.bmp/.gif) "
            "or remove those folders")
    return [n for n in names if n not in empty], pairs, skipped


def labelled_splits(path: str | Path, *, validation_split: float = 0.2,
                    seed: int = 0) -> tuple[list[str], dict[str, list[tuple[str, str]]], list[str]]:
    """-> (training class names, {split: [(file, class name)]}, [unreadable files]).

    `path/train/` (+ `val/`, `test/`): those splits; `path/<class>/`: "train" and a seeded
    `validation_split` "val". Held-out classes must be training classes.
    """
    root = Path(path)
    if not root.is_dir():
        raise InvalidArgumentError(f"image folder {str(root)!r} does not exist; expected <path>/<class>/<image>")
    if not 0 <= validation_split < 1:
        raise InvalidArgumentError(f"validation_split must be in [0, 1), got {validation_split!r}")
    dirs = {split: _split_dir(root, split) for split in SPLIT_NAMES}
    if not dirs["train"]:
        if dirs["val"] or dirs["test"]:
            found = [d.name for d in dirs.values() if d]
            raise InvalidArgumentError(f"{str(root)!r} has {found} but no train/ folder; put the training images "
                                       "in train/<class>/ (or pass the split folder itself)")
        class_names, pairs, skipped = index_folder(root)
        random.Random(seed).shuffle(pairs)
        n_val = int(len(pairs) * validation_split)
        return class_names, {"train": pairs[n_val:], "val": pairs[:n_val]}, skipped
    class_names, pairs, skipped = index_folder(dirs["train"])
    splits = {"train": pairs}
    for split in ("val", "test"):
        if dirs[split]:
            names, splits[split], unreadable = index_folder(dirs[split], every_class=False)
            skipped += unreadable
            unknown = sorted(set(names) - set(class_names))
            if unknown:
                raise InvalidArgumentError(f"{str(dirs[split])!r} has classes {unknown} that train/ lacks")
    return class_names, splits, skipped


def files_dataset(pairs: list[tuple[str, str]], class_names: list[str],
                  image_size: tuple[int, int]) -> tf.data.Dataset:
    """Unbatched (pixels, label index into `class_names`) of [(file, class name)], decoded and resized once."""
    index = {name: i for i, name in enumerate(class_names)}
    labels = tf.data.Dataset.from_tensor_slices(tf.constant([index[name] for _, name in pairs], tf.int32))
    return tf.data.Dataset.zip(pixels.files([f for f, _ in pairs], image_size), labels).cache()


def image_folder(
    path: str | Path,
    *,
    image_size: tuple[int, int] = (224, 224),
    batch_size: int = 32,
    validation_split: float = 0.2,
    seed: int = 0,
) -> ImageData:
    """Load `path/<class>/*.jpg`, or `path/train/<class>` + `path/val/<class>` (+ `path/test/<class>`)
    when those exist.

    Without split folders, `validation_split` of the images (seeded) form `val` (0 = no val set). The
    training set is reshuffled every epoch; decoded images are cached in memory.
    """
    class_names, splits, skipped = labelled_splits(path, validation_split=validation_split, seed=seed)
    if skipped:
        warnings.warn(f"skipped {len(skipped)} unreadable image file(s) under {str(path)!r} (corrupt or truncated), "
                      f"e.g. {skipped[:3]}", stacklevel=2)
    train_pairs, val_pairs, test_pairs = splits["train"], splits.get("val", []), splits.get("test", [])
    logger.info("%d training / %d held-out%s images, %d classes (%s)", len(train_pairs), len(val_pairs),
                f" / {len(test_pairs)} test" if test_pairs else "", len(class_names), path)
    size = tuple(image_size)
    train = files_dataset(train_pairs, class_names, size).shuffle(len(train_pairs), seed=seed,
                                                                  reshuffle_each_iteration=True)
    batched = lambda ds: ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)  # noqa: E731
    val = batched(files_dataset(val_pairs, class_names, size)) if val_pairs else None
    index = {name: i for i, name in enumerate(class_names)}
    test = batched(files_dataset(test_pairs, class_names, size)) if test_pairs else None
    return ImageData(batched(train), val, class_names, skipped, [(f, index[name]) for f, name in val_pairs], test)


def evaluation_files(path: str | Path, split: str | None = None, *,
                     seed: int = 0) -> tuple[str, list[tuple[str, str]], list[str]]:
    """-> (the split scored, [(file, class name)], [unreadable files]) for evaluating on `path`.

    `split`: "test" or "val" (the folder's `test/` / `val/`; for a plain `<class>/` folder "val" is the
    seeded 20 % that training held out with the same `seed`), or "all". Default: `test/` if present,
    else `val/`, else every image of a plain folder.
    """
    if split not in (None, *EVALUATION_SPLITS):
        raise InvalidArgumentError(f"split must be one of {EVALUATION_SPLITS}, got {split!r}")
    _, splits, skipped = labelled_splits(path, seed=seed)
    plain = _split_dir(Path(path), "train") is None
    if split is None:
        split = "all" if plain else next((s for s in ("test", "val") if s in splits), "all")
    if split == "all":
        return split, [pair for pairs in splits.values() for pair in pairs], skipped
    if split not in splits or (plain and split == "test"):
        raise InvalidArgumentError(f"{str(path)!r} has no {split}/ folder; choose --split all"
                                   + (" or val" if "val" in splits else ""))
    return split, splits[split], skipped
