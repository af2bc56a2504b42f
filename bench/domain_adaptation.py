"""Source-only vs DANN vs CORAL on a real appearance shift of the sign-digit photos, several seeds.

    .venv/bin/python bench/domain_adaptation.py [--size 112] [--epochs 10] [--seeds 0 1 2]

Per seed: source, 50 labelled photos per class; target, 50 *other* photos per class under `shift`
(grayscale, inverted, colour cast), labels unused; source validation, 10 more labelled photos per class;
scored on 500 held-out photos under the same shift. Every method starts from the same Lite0 state (head
trained on cached frozen source features), then trains blocks 6–7 + top and the head for `--epochs`
epochs with the same source batches: source-only with Adam at lr 1e-4, DANN and CORAL with
`kerastl.adapt`'s SGD (momentum 0.9) at lr 1e-3 (`weight`: DANN's final λ or CORAL's loss weight).
No target label chooses anything: every method keeps its epoch of lowest source validation loss, and
"dann, λ chosen" is the DANN weight with the lowest such loss.
"""
import argparse
import sys
import tempfile
import time
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
PAIRED, VALIDATION = 100, 10  # photos per class: source and target alternate in PAIRED; VALIDATION more are source
METHODS = (("source_only", 0.0), ("dann", 1.0), ("dann", 0.1), ("coral", 1.0))
SHIFT = "y = (255 - gray(x)) * (1.0, 0.7, 0.4) + (0, 20, 60): grayscale, inverted, orange-brown cast"


def shift(images: np.ndarray) -> np.ndarray:
    gray = images.mean(-1, keepdims=True)
    return np.clip((255.0 - gray) * CAST + np.array([0, 20, 60], "float32"), 0, 255).astype("float32")


def splits(size: int, seed: int):
    """-> source (x, y), unlabelled shifted target x, source validation (x, y), held-out (x, y): disjoint photos."""
    train_pairs, held_pairs = few_shot_split(SIGN_DIGITS, PAIRED + VALIDATION, HELD_OUT, seed=seed)
    (x, y), held_out = load_images(train_pairs, size), load_images(held_pairs, size)
    within = np.arange(len(x)) % (PAIRED + VALIDATION)  # few_shot_split lists each class's photos in a run
    source, target = (within < PAIRED) & (within % 2 == 0), (within < PAIRED) & (within % 2 == 1)
    return (x[source], y[source]), shift(x[target]), (x[within >= PAIRED], y[within >= PAIRED]), held_out


def one_seed(size: int, epochs: int, seed: int) -> list[dict]:
    (xs, ys), xt, (xv, yv), (xh, yh) = splits(size, seed)
    xh_target = shift(xh)
    source = tf.data.Dataset.from_tensor_slices((xs, ys)).shuffle(len(xs), seed=seed).batch(32)
    target = tf.data.Dataset.from_tensor_slices(xt).shuffle(len(xt), seed=seed + 1).batch(32)
    validation = tf.data.Dataset.from_tensor_slices((xv, yv)).batch(64)

    keras.utils.set_random_seed(seed)
    shape = (size, size, 3)
    head = kerastl.build("efficientnet_lite0", num_classes=10, input_shape=shape)
    kerastl.fine_tune(head, source, recipe="feature_extraction", head_epochs=50, verbose=0)
    start = Path(tempfile.mkdtemp()) / "head.weights.h5"
    head.save_weights(start)
    rows = [{"method": "frozen backbone, head on source", "source_accuracy": accuracy(head, xh, yh),
             "target_accuracy": accuracy(head, xh_target, yh)}]
    for method, weight in METHODS:
        keras.utils.set_random_seed(seed)
        model = kerastl.build("efficientnet_lite0", num_classes=10, input_shape=shape, freeze="block5", compile=False)
        model.load_weights(start)
        began = time.perf_counter()
        if method == "source_only":
            compile_task(model, 1e-4)
            keep_best = keras.callbacks.EarlyStopping("val_loss", patience=epochs, restore_best_weights=True)
            history = model.fit(source, epochs=epochs, validation_data=validation, callbacks=[keep_best], verbose=0)
            losses = history.history["val_loss"]
        else:  # SGD, lr 1e-3; keeps the epoch of lowest source validation loss
            history = kerastl.adapt(model, source, target, method=method, epochs=epochs, weight=weight,
                                    validation=validation)
            losses = history.history["val_task_loss"]
        kept = int(np.nanargmin(losses))  # the epoch EarlyStopping restored (a NaN never counts as best)
        rows.append({"method": method, "weight": weight, "source_accuracy": accuracy(model, xh, yh),
                     "target_accuracy": accuracy(model, xh_target, yh), "source_val_loss": losses[kept],
                     "epoch": kept + 1, "train_seconds": time.perf_counter() - began})
        print(seed, rows[-1], flush=True)
        keras.backend.clear_session()
    chosen = min((row for row in rows if row["method"] == "dann"), key=lambda row: row["source_val_loss"])
    rows.append({**chosen, "method": "dann, λ chosen by source validation loss"})
    return [{**row, "seed": seed} for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    rows = [row for seed in args.seeds for row in one_seed(args.size, args.epochs, seed)]

    def group_of(row):  # the chosen DANN's weight differs between seeds
        return row["method"], None if row["method"].startswith("dann, λ chosen") else row.get("weight")

    summary = []
    for method, weight in dict.fromkeys(map(group_of, rows)):
        picked = [row for row in rows if group_of(row) == (method, weight)]
        summary.append({"method": method, "weight": weight, **{
            f"{field}_{stat}": round(float(fn([row[field] for row in picked])), 4)
            for field in ("source_accuracy", "target_accuracy") for stat, fn in (("mean", np.mean), ("std", np.std))},
            "target_per_seed": [round(row["target_accuracy"], 4) for row in picked]})
    for row in rows:
        for field in ("source_accuracy", "target_accuracy", "source_val_loss", "train_seconds"):
            if field in row:
                row[field] = round(row[field], 4)
    write_result("domain_adaptation", {
        "backbone": "efficientnet_lite0", "input_size": args.size, "source_per_class": PAIRED // 2,
        "target_per_class": PAIRED // 2, "source_validation_per_class": VALIDATION, "held_out": HELD_OUT,
        "shift": SHIFT, "epochs": args.epochs, "trainable": "block6..top + head", "summary": summary, "rows": rows},
        command="python bench/domain_adaptation.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
