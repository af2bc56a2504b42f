"""Shared set-up of the benchmarks: the real data in ../shared, fixed splits, JSON output."""
from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent
SIGN_DIGITS = ROOT.parent / "shared" / "data" / "sign_digits"
RESULTS = ROOT / "zoo" / "results"
HELD_OUT = 500


def write_result(name: str, payload: dict, command: str) -> Path:
    """Write zoo/results/<name>.json with the command and machine that produced it."""
    import tensorflow as tf

    payload = {**payload, "command": command, "machine": f"{platform.machine()}, {os.cpu_count()} cpus",
               "tensorflow": tf.__version__, "date": time.strftime("%Y-%m-%d")}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print(json.dumps(payload, indent=2))
    return path


def sign_digits(shots: int, size: int, seed: int = 0):
    """-> (train tf.data (batched 32, reshuffled each epoch), held-out pixels, held-out labels)."""
    import tensorflow as tf

    from kerastl.data import few_shot_split, load_images

    train_pairs, held_pairs = few_shot_split(SIGN_DIGITS, shots, HELD_OUT, seed=seed)
    (x, y), (xh, yh) = load_images(train_pairs, size), load_images(held_pairs, size)
    return tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=seed).batch(32), xh, yh


def accuracy(model, x, y) -> float:
    return float((model.predict(x, batch_size=64, verbose=0).argmax(1) == y).mean())
