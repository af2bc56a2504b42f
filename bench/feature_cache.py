"""Frozen-phase training with the feature cache vs the plain Keras loop, side by side.

    .venv/bin/python bench/feature_cache.py [--shots 20] [--epochs 10]

Both train the same head on the frozen pretrained EfficientNet-Lite0 (224 px) from the same initial
weights; the plain loop recomputes the backbone every epoch, the cache runs it once.
"""
import argparse
import sys
import time

import keras
import numpy as np
import tensorflow as tf

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from common import HELD_OUT, SIGN_DIGITS, write_result  # noqa: E402

import kerastl  # noqa: E402
from kerastl.data import few_shot_split, load_images  # noqa: E402
from kerastl.train import fit_head  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shots", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    train_pairs, held_pairs = few_shot_split(SIGN_DIGITS, args.shots, HELD_OUT, seed=0)
    (x, y), (xh, yh) = load_images(train_pairs, 224), load_images(held_pairs, 224)
    train = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=0).batch(32)

    keras.utils.set_random_seed(0)
    model = kerastl.build("efficientnet_lite0", num_classes=10)
    initial = model.get_weights()
    accuracy = lambda m: float((m.predict(xh, batch_size=64, verbose=0).argmax(1) == yh).mean())  # noqa: E731

    start = time.perf_counter()
    fit_head(model, train, epochs=args.epochs)
    cached_seconds = time.perf_counter() - start
    acc_cached = accuracy(model)

    model.set_weights(initial)
    kerastl.models.compile_classifier(model, 1e-3)
    start = time.perf_counter()
    model.fit(train, epochs=args.epochs, verbose=0)
    plain_seconds = time.perf_counter() - start
    acc_plain = accuracy(model)

    write_result("feature_cache", {
        "backbone": "efficientnet_lite0", "shots_per_class": args.shots, "held_out": HELD_OUT,
        "epochs": args.epochs, "seconds_cached": round(cached_seconds, 2), "seconds_plain": round(plain_seconds, 2),
        "speedup": round(plain_seconds / cached_seconds, 2), "acc_cached": round(acc_cached, 4),
        "acc_plain": round(acc_plain, 4),
    }, command="python bench/feature_cache.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
