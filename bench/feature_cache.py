"""Frozen-phase training with the feature cache vs the plain Keras loop, side by side.

    .venv/bin/python bench/feature_cache.py [--shots 20] [--epochs 10]

Both train the same head on the frozen pretrained EfficientNet-Lite0 (224 px) from the same initial
weights; the plain loop recomputes the backbone every epoch, the cache runs it once. Accuracy is the
mean over --seeds runs (one run's figure moves by a point or two with data order and dropout).
Order effects are cancelled: each model runs one untimed backbone pass first, and the two loops take
turns going first (seed 0 cached first, seed 1 plain first, ...).
"""
import argparse
import sys
import time

import keras
import numpy as np

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from common import HELD_OUT, accuracy, sign_digits, write_result  # noqa: E402

import kerastl  # noqa: E402
from kerastl.train import fit_head  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shots", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=4, help="runs averaged (head init, order, dropout)")
    args = parser.parse_args()
    train, xh, yh = sign_digits(args.shots, 224)

    seconds = {"cached": [], "plain": []}
    acc = {"cached": [], "plain": []}
    for seed in range(args.seeds):
        keras.utils.set_random_seed(seed)
        model = kerastl.build("efficientnet_lite0", num_classes=10)
        model.predict(xh[:32], verbose=0)  # untimed: one-off kernel set-up is paid by neither loop
        initial = model.get_weights()
        order = ("cached", "plain") if seed % 2 == 0 else ("plain", "cached")
        for loop in order:
            keras.utils.set_random_seed(seed)
            model.set_weights(initial)
            start = time.perf_counter()
            if loop == "cached":
                fit_head(model, train, epochs=args.epochs)
            else:
                kerastl.models.compile_task(model, 1e-3)
                model.fit(train, epochs=args.epochs, verbose=0)
            seconds[loop].append(time.perf_counter() - start)
            acc[loop].append(accuracy(model, xh, yh))
        keras.backend.clear_session()

    write_result("feature_cache", {
        "backbone": "efficientnet_lite0", "shots_per_class": args.shots, "held_out": HELD_OUT,
        "epochs": args.epochs, "seeds": args.seeds,
        "seconds_cached": round(float(np.mean(seconds["cached"])), 2),
        "seconds_plain": round(float(np.mean(seconds["plain"])), 2),
        "speedup": round(sum(seconds["plain"]) / sum(seconds["cached"]), 2),
        "acc_cached": round(float(np.mean(acc["cached"])), 4), "acc_plain": round(float(np.mean(acc["plain"])), 4),
        "acc_cached_per_seed": [round(a, 4) for a in acc["cached"]],
        "acc_plain_per_seed": [round(a, 4) for a in acc["plain"]],
    }, command="python bench/feature_cache.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
