"""A generated data set of coloured circles, squares and triangles, with masks and boxes (for dense heads)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CLASSES = ("circle", "square", "triangle")  # mask values 1, 2, 3 (0 = background); box labels 0, 1, 2


@dataclass(frozen=True)
class Shapes:
    images: np.ndarray  # float32 (n, size, size, 3), RGB in [0, 255]
    masks: np.ndarray  # int32 (n, size, size): 0 background, 1 + CLASSES index
    boxes: np.ndarray  # float32 (n, max_shapes, 4): yxyx pixels, rows of -1 where there is no shape
    labels: np.ndarray  # int32 (n, max_shapes): CLASSES index, -1 where there is no shape


def _inside(kind: int, ys, xs, cy: float, cx: float, r: float) -> np.ndarray:
    if kind == 0:
        return (ys - cy) ** 2 + (xs - cx) ** 2 <= r ** 2
    if kind == 1:
        return (np.abs(ys - cy) <= r) & (np.abs(xs - cx) <= r)
    return (ys <= cy + r) & (np.abs(xs - cx) <= (ys - (cy - r)) / 2)  # apex at the top


def shapes(n: int, size: int = 64, *, max_shapes: int = 2, seed: int = 0) -> Shapes:
    """`n` images of 1..`max_shapes` non-overlapping shapes (radius size/8..size/4) on noisy backgrounds."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:size, 0:size].astype("float32")
    images = np.empty((n, size, size, 3), "float32")
    masks = np.zeros((n, size, size), "int32")
    boxes = np.full((n, max_shapes, 4), -1.0, "float32")
    labels = np.full((n, max_shapes), -1, "int32")
    for i in range(n):
        images[i] = rng.uniform(0, 255, 3) + rng.normal(0, 12, (size, size, 3))
        placed: list[tuple[float, float, float]] = []
        for j in range(rng.integers(1, max_shapes + 1)):
            for _ in range(50):  # rejection sampling for a free spot
                r = rng.uniform(size / 8, size / 4)
                cy, cx = rng.uniform(r, size - r, 2)
                if all(np.hypot(cy - y, cx - x) > (r + q) * 1.5 for y, x, q in placed):
                    break
            else:
                break
            kind = int(rng.integers(len(CLASSES)))
            inside = _inside(kind, ys, xs, cy, cx, r)
            colour = (rng.uniform(0, 255, 3) + images[i].mean((0, 1)) + 128) % 256  # away from the background
            images[i][inside] = colour
            masks[i][inside] = kind + 1
            boxes[i, j] = (cy - r, cx - r, cy + r, cx + r)
            labels[i, j] = kind
            placed.append((cy, cx, r))
    return Shapes(np.clip(images, 0, 255), masks, boxes, labels)
