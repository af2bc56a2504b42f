"""Source-only vs DANN vs CORAL on a real appearance shift of the sign-digit photos.

    .venv/bin/python bench/domain_adaptation.py [--size 112] [--epochs 10]

Source: 50 labelled photos per class. Target: 50 *other* photos per class under `shift` (grayscale,
inverted, colour cast), labels unused; scored on 500 held-out photos under the same shift. Every method
starts from the same Lite0 state (head trained on cached frozen source features), then trains blocks
6–7 + top and the head for `--epochs` epochs with the same source batches: source-only with Adam at lr
1e-4, DANN and CORAL with `kerastl.adapt`'s SGD (momentum 0.9) at lr 1e-3 (`weight`: DANN's final λ or
CORAL's loss weight).
"""
import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import HELD_OUT, SIGN_DIGITS, accuracy, write_result  # noqa: E402

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import kerastl  # noqa: E402
from kerastl.data import few_shot_split, load_images  # noqa: E402
from kerastl.models import compile_task  # noqa: E402

CAST = np.array([1.0, 0.7, 0.4], "float32")
SHIFT = "y = (255 - gray(x)) * (1.0, 0.7, 0.4) + (0, 20, 60): grayscale, inverted, orange-brown cast"


def shift(images: np.ndarray) -> np.ndarray:
    gray = images.mean(-1, keepdims=True)
    return np.clip((255.0 - gray) * CAST + np.array([0, 20, 60], "float32"), 0, 255).astype("float32")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    train_pairs, held_pairs = few_shot_split(SIGN_DIGITS, 100, HELD_OUT, seed=0)
    (x, y), (xh, yh) = load_images(train_pairs, args.size), load_images(held_pairs, args.size)
    xs, ys, xt = x[0::2], y[0::2], shift(x[1::2])  # disjoint photos: labelled source, unlabelled target
    xh_target = shift(xh)
    source = tf.data.Dataset.from_tensor_slices((xs, ys)).shuffle(len(xs), seed=0).batch(32)
    target = tf.data.Dataset.from_tensor_slices(xt).shuffle(len(xt), seed=1).batch(32)

    keras.utils.set_random_seed(0)
    shape = (args.size, args.size, 3)
    head = kerastl.build("efficientnet_lite0", num_classes=10, input_shape=shape)
    kerastl.fine_tune(head, source, recipe="feature_extraction", head_epochs=50, verbose=0)
    start = Path(tempfile.mkdtemp()) / "head.weights.h5"
    head.save_weights(start)
    rows = [{"method": "frozen backbone, head on source", "source_accuracy": accuracy(head, xh, yh),
             "target_accuracy": accuracy(head, xh_target, yh)}]
    for method, weight in (("source_only", 0.0), ("dann", 1.0), ("dann", 0.1), ("coral", 1.0)):
        keras.utils.set_random_seed(0)
        model = kerastl.build("efficientnet_lite0", num_classes=10, input_shape=shape, freeze="block5", compile=False)
        model.load_weights(start)
        if method == "source_only":
            compile_task(model, 1e-4)
            model.fit(source, epochs=args.epochs, verbose=0)
        else:
            kerastl.adapt(model, source, target, method=method, epochs=args.epochs, weight=weight)  # SGD, lr 1e-3
        rows.append({"method": method, "weight": weight, "source_accuracy": accuracy(model, xh, yh),
                     "target_accuracy": accuracy(model, xh_target, yh)})
        print(rows[-1], flush=True)
    for row in rows:
        row["source_accuracy"], row["target_accuracy"] = round(row["source_accuracy"], 4), round(row["target_accuracy"], 4)
    write_result("domain_adaptation", {
        "backbone": "efficientnet_lite0", "input_size": args.size, "source_per_class": 50, "target_per_class": 50,
        "held_out": HELD_OUT, "shift": SHIFT, "epochs": args.epochs, "trainable": "block6..top + head", "rows": rows},
        command="python bench/domain_adaptation.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
