"""A folder of class-per-folder images -> streaming tf.data pipelines whose memory does not grow with it.

Pixels follow `kerastl.data.pixels` (3 channels: grayscale, palette, CMYK and RGBA/alpha images become
RGB; MediaPipe's resize), the convention of `kerastl predict`, the exported `serving_bytes` signature and
the mobile runtime.

- Indexing lists the files and reads their first bytes: a file that is not a JPEG/PNG/GIF/BMP (empty,
  text, another format) is skipped and counted at once.
- Decoding happens in the tf.data map, in parallel. A file that fails there (a truncated JPEG) is
  dropped from the stream and counted when the first full pass over its split ends (`ImageData.skipped`,
  with a warning naming the files).
- Decoded images are cached as uint8 in RAM when a split fits `memory_bytes`, else on disk under
  `cache_dir` when one is given, else not at all (decoded again every epoch). Training files are
  shuffled by name before decoding, and again after a cache.
"""
from __future__ import annotations

import random
import warnings
from pathlib import Path

import tensorflow as tf

from kerastl.data import pixels
from kerastl.data.labelled import LabelledData
from kerastl.errors import InvalidArgumentError
from kerastl.io import MEMORY_BYTES
from kerastl.progress import logger

SPLIT_NAMES = {"train": ("train", "training"), "val": ("val", "validation", "valid"), "test": ("test",)}
IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png")  # what keras' loader accepts
MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM")  # what pixels.decode reads
EVALUATION_SPLITS = ("test", "val", "all")
SHUFFLE_BUFFER = 4096  # images shuffled after a disk cache (a RAM cache shuffles the whole split)
_END = "\0end-of-pass"  # a path no file has: marks the end of a pass through the stream


class ImageData(LabelledData):
    """Batched (pixels float32 [0, 255], label int32) datasets and the class names (index order)."""


def _split_dir(root: Path, split: str) -> Path | None:
    return next((root / n for n in SPLIT_NAMES[split] if (root / n).is_dir()), None)


def _looks_like_image(path: Path) -> bool:
    """The file starts like a JPEG, PNG, GIF or BMP (the only bytes indexing reads)."""
    try:
        with open(path, "rb") as f:
            return f.read(8).startswith(MAGIC)
    except OSError:
        return False


def index_folder(root: Path, every_class: bool = True) -> tuple[list[str], list[tuple[str, str]], list[str]]:
    """-> (class names, [(file, class name)] of image files, [files that are no image]) for `root/<class>/**`.

    `every_class`: a class folder without readable images is an error (a class that cannot be learned).
    """
    names = sorted(d.name for d in root.iterdir() if d.is_dir())
    if not names:
        raise InvalidArgumentError(f"{str(root)!r} has no class folders; expected <path>/<class>/<image>")
    pairs, skipped, empty = [], [], []
    for name in names:
        files = sorted(f for f in (root / name).rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
        readable = [f for f in files if _looks_like_image(f)]
        skipped += [str(f) for f in sorted(set(files) - set(readable))]
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


class _Tally:
    """Which listed files a stream decoded; when its first full pass ends, the others are skipped."""

    def __init__(self, files: list[str], skipped: list[str], where: str):
        self.files, self.skipped, self.where = files, skipped, where
        self.seen: set[str] = set()
        self.done = False

    def passes(self, path: tf.Tensor) -> bool:
        """The `filter` predicate: records `path`; False (drop it) for the end-of-pass marker."""
        path = path.numpy().decode()
        if path != _END:
            self.seen.add(path)
            return True
        if not self.done:
            self.done = True
            failed = [f for f in self.files if f not in self.seen]
            if failed:
                self.skipped += failed
                message = (f"skipped {len(failed)} image file(s) of {self.where} that failed to decode (corrupt or "
                           f"truncated): {failed[:5]}")
                logger.warning(message)
                warnings.warn(message, stacklevel=1)
        return False


def stream(pairs: list[tuple[str, int]], image_size: tuple[int, int], *, batch_size: int, skipped: list[str],
           where: str, shuffle_seed: int | None = None, cache: str | None = None) -> tf.data.Dataset:
    """Batched (pixels float32, label) of [(file, class index)], decoded in the map; files that fail are
    dropped and, after the first full pass, appended to `skipped`. `shuffle_seed`: reshuffled every pass.
    `cache`: None (decode every pass), "" (uint8 in RAM) or a file prefix (uint8 on disk)."""
    tally = _Tally([f for f, _ in pairs], skipped, where)
    ds = tf.data.Dataset.from_tensor_slices((tf.constant([f for f, _ in pairs], tf.string),
                                             tf.constant([y for _, y in pairs], tf.int32)))
    if shuffle_seed is not None:
        ds = ds.shuffle(len(pairs), seed=shuffle_seed, reshuffle_each_iteration=True)
    ds = ds.map(lambda path, label: (tf.cast(pixels.load(tf.io.read_file(path), image_size), tf.uint8), label, path),
                num_parallel_calls=tf.data.AUTOTUNE).ignore_errors()
    end = tf.data.Dataset.from_tensors((tf.zeros([*image_size, 3], tf.uint8), tf.constant(-1), tf.constant(_END)))
    ds = ds.concatenate(end).filter(
        lambda image, label, path: tf.reshape(tf.py_function(tally.passes, [path], tf.bool), []))
    ds = ds.map(lambda image, label, path: (image, label))
    if cache is not None:
        ds = ds.cache(cache)
        if shuffle_seed is not None:
            ds = ds.shuffle(len(pairs) if cache == "" else min(len(pairs), SHUFFLE_BUFFER), seed=shuffle_seed,
                            reshuffle_each_iteration=True)
    return ds.batch(batch_size).map(lambda images, labels: (tf.cast(images, tf.float32), labels)).prefetch(
        tf.data.AUTOTUNE)


def image_folder(
    path: str | Path,
    *,
    image_size: tuple[int, int] = (224, 224),
    batch_size: int = 32,
    validation_split: float = 0.2,
    seed: int = 0,
    memory_bytes: int = MEMORY_BYTES,
    cache_dir: str | Path | None = None,
    shard: tuple[int, int] = (0, 1),
) -> ImageData:
    """Load `path/<class>/*.jpg`, or `path/train/<class>` + `path/val/<class>` (+ `path/test/<class>`)
    when those exist.

    Without split folders, `validation_split` of the images (seeded) form `val` (0 = no val set). The
    training set is reshuffled every epoch. A split whose decoded uint8 pixels fit the RAM left of
    `memory_bytes` is cached in RAM; otherwise on disk in `cache_dir` (a directory kerastl creates and
    owns: remove it after the run) when given, else not cached. `shard=(i, n)`: `train` streams only
    every n-th training file from the i-th (worker i's share, chosen before any file is read); `files`
    still lists them all.
    """
    class_names, splits, skipped = labelled_splits(path, validation_split=validation_split, seed=seed)
    if skipped:
        warnings.warn(f"skipped {len(skipped)} file(s) under {str(path)!r} that are no JPEG/PNG/GIF/BMP image, "
                      f"e.g. {skipped[:3]}", stacklevel=2)
    index = {name: i for i, name in enumerate(class_names)}
    files = {split: [(f, index[name]) for f, name in pairs] for split, pairs in splits.items() if pairs}
    logger.info("%d training / %d held-out%s images, %d classes (%s)", len(files["train"]),
                len(files.get("val", [])), f" / {len(files['test'])} test" if "test" in files else "",
                len(class_names), path)
    left = memory_bytes
    datasets = {}
    for split, pairs in files.items():
        pairs = pairs[shard[0]::shard[1]] if split == "train" else pairs
        size = len(pairs) * image_size[0] * image_size[1] * 3
        cache = "" if size <= left else None if cache_dir is None else str(Path(cache_dir) / split)
        left -= size if cache == "" else 0
        if cache:
            Path(cache_dir).mkdir(parents=True, exist_ok=True)
        logger.info("%s: %d images, %.2f GB decoded: %s", split, len(pairs), size / 1e9,
                    {"": "cached in RAM", None: "decoded every epoch"}.get(cache, f"cached on disk ({cache_dir})"))
        datasets[split] = stream(pairs, tuple(image_size), batch_size=batch_size, skipped=skipped,
                                 where=f"{path} ({split})", shuffle_seed=seed if split == "train" else None,
                                 cache=cache)
    return ImageData(datasets["train"], datasets.get("val"), class_names, skipped, files, datasets.get("test"))


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
