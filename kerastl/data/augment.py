"""Training-time image augmentation: Keras' own preprocessing layers, mapped over a tf.data pipeline.

The model itself stays free of augmentation layers (so exports and `predict` see plain images); only the
training stream is augmented, with a new draw every epoch. Policies (`AUGMENTATIONS`):

- "none": the images as they are.
- "crop": a random crop of 80–100 % of each side (a zoom-in, `RandomZoom`) and a shift of up to 10 %
  (`RandomTranslation`), edges reflected. Safe for any data set.
- "crop_flip": "crop" plus horizontal flips (`RandomFlip`): only where a mirrored image keeps its class
  (not for hand signs, text or digits).
"""
from __future__ import annotations

import keras
import tensorflow as tf

from kerastl.errors import InvalidArgumentError

AUGMENTATIONS = ("none", "crop", "crop_flip")


def check_augment(policy: str) -> None:
    """InvalidArgumentError unless `policy` is one of AUGMENTATIONS."""
    if policy not in AUGMENTATIONS:
        raise InvalidArgumentError(f"augment must be one of {AUGMENTATIONS}, got {policy!r}")


def augmenter(policy: str, seed: int = 0) -> keras.Sequential | None:
    """The preprocessing layers of `policy` (one of AUGMENTATIONS), or None for "none"."""
    check_augment(policy)
    if policy == "none":
        return None
    layers = [keras.layers.RandomZoom((-0.2, 0.0), fill_mode="reflect", seed=seed),
              keras.layers.RandomTranslation(0.1, 0.1, fill_mode="reflect", seed=seed + 1)]
    if policy == "crop_flip":
        layers.append(keras.layers.RandomFlip("horizontal", seed=seed + 2))
    return keras.Sequential(layers, name=f"augment_{policy}")


def augmented(dataset: tf.data.Dataset, policy: str, seed: int = 0) -> tf.data.Dataset:
    """`dataset` of batched (images, labels) with `policy` applied to the images, drawn anew on every pass."""
    layers = augmenter(policy, seed)
    if layers is None:
        return dataset
    return dataset.map(lambda images, labels: (layers(images, training=True), labels),
                       num_parallel_calls=tf.data.AUTOTUNE)
