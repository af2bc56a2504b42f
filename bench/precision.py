"""float32 vs mixed_bfloat16 (and mixed_float16) on this CPU: fine-tuning step time and accuracy, side by side.

    .venv/bin/python bench/precision.py [--shots 20] [--size 112] [--epochs 3]

A float32 head is first trained on frozen features (50 epochs); then, for every precision, Lite0 is
rebuilt under that policy with the top 3 blocks trainable, given those same weights, and fine-tuned at
lr 1e-4 with the same data order; step time = median wall time of a training epoch after the first (compiled) one, divided by its steps.
"""
import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import keras

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import HELD_OUT, accuracy, sign_digits, write_result  # noqa: E402

import kerastl  # noqa: E402
from kerastl.models import compile_task  # noqa: E402


class EpochTimer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = [*getattr(self, "seconds", []), time.perf_counter() - self.start]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shots", type=int, default=20)
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    data, xh, yh = sign_digits(args.shots, args.size)
    steps = sum(1 for _ in data)
    keras.utils.set_random_seed(0)
    head = kerastl.build("efficientnet_lite0", num_classes=10, input_shape=(args.size, args.size, 3))
    kerastl.fine_tune(head, data, recipe="feature_extraction", head_epochs=50, verbose=0)
    start = Path(tempfile.mkdtemp()) / "head.weights.h5"
    head.save_weights(start)
    rows = [{"precision": "float32 head only (start)", "step_ms": None, "accuracy": round(accuracy(head, xh, yh), 4)}]
    for precision in ("float32", "mixed_bfloat16", "mixed_float16"):
        keras.utils.set_random_seed(0)
        model = kerastl.build("efficientnet_lite0", num_classes=10, input_shape=(args.size, args.size, 3),
                              freeze="block4", precision=precision, compile=False)
        model.load_weights(start)  # before compiling: the file also holds the head's optimizer state
        compile_task(model, 1e-4)
        timer = EpochTimer()
        model.fit(data, epochs=args.epochs, verbose=0, callbacks=[timer])
        rows.append({"precision": precision, "step_ms": round(1000 * statistics.median(timer.seconds[1:]) / steps, 1),
                     "accuracy": round(accuracy(model, xh, yh), 4)})
        print(rows[-1], flush=True)
        keras.backend.clear_session()
    base = rows[1]["step_ms"]
    for row in rows[1:]:
        row["speedup_vs_float32"] = round(base / row["step_ms"], 2)
    write_result("precision", {"backbone": "efficientnet_lite0", "shots_per_class": args.shots, "input_size": args.size,
                               "held_out": HELD_OUT, "epochs": args.epochs, "trainable": "block5..top", "rows": rows},
                 command="python bench/precision.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
