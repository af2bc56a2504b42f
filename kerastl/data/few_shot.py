"""Few-shot splits of a class-folder image set: k images per class to train, a fixed held-out set."""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from kerastl.errors import InvalidArgumentError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif")


def few_shot_split(path: str | Path, per_class: int, held_out: int, seed: int = 0):
    """-> (train [(file, label)], held-out [(file, label)]), disjoint; labels index sorted class names.

    The held-out set depends only on `seed` and the images left after the largest `per_class` you
    use, so compare shot counts with the same `held_out` and `seed`.
    """
    root = Path(path)
    classes = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    if not classes:
        raise InvalidArgumentError(f"{str(root)!r} has no class folders; expected <path>/<class>/<image>")
    rng = random.Random(seed)
    train, rest = [], []
    for label, name in enumerate(classes):
        files = sorted(f for f in (root / name).iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        rng.shuffle(files)
        train += [(f, label) for f in files[:per_class]]
        rest += [(f, label) for f in files[per_class:]]
    rng.shuffle(rest)
    return train, rest[:held_out]


def load_images(pairs, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(float32 pixels [0, 255] of shape (n, size, size, 3), int32 labels) for [(file, label)]."""
    import keras

    x = [keras.utils.img_to_array(keras.utils.load_img(f, target_size=(size, size))) for f, _ in pairs]
    return np.stack(x).astype("float32"), np.array([label for _, label in pairs], dtype="int32")
