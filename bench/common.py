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


def cpu() -> str:
    """The CPU model and its vector extensions that decide int8 speed (AVX2, AVX-512, VNNI), from /proc/cpuinfo."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "?")
    flags = next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), [])
    return f"{model} ({' '.join(f for f in ('avx2', 'avx512f', 'avx512_vnni', 'avx_vnni') if f in flags) or 'no AVX2'})"


def write_result(name: str, payload: dict, command: str) -> Path:
    """Write zoo/results/<name>.json with the command and machine that produced it."""
    import tensorflow as tf

    payload = {**payload, "command": command, "machine": f"{platform.machine()}, {os.cpu_count()} cpus, {cpu()}",
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


DEMO_MODEL = "efficientnet_lite0 fine-tuned on sign digits (kerastl demo, plain two-phase), 224 px"
# The export benches (quantization, mobile) train their models with this fixed recipe, not the current
# default, so their figures stay comparable when the default recipe changes: plain two-phase (no
# augmentation), the default when their committed results were measured.
PLAIN_TWO_PHASE = ROOT / "zoo" / "efficientnet_lite0_two_phase.toml"


def plain_two_phase() -> dict:
    """The options of PLAIN_TWO_PHASE, for `train_run` / `demo.run`."""
    from kerastl.train.options import read_recipe

    return read_recipe(PLAIN_TWO_PHASE)


def demo_model(scratch: Path):
    """Train the demo model (`kerastl.demo.run`, plain two-phase) in `scratch` -> (model, its image_folder data)."""
    import keras

    from kerastl import demo
    from kerastl.data import image_folder

    demo.run(scratch / "demo", export=False, **plain_two_phase())
    return keras.models.load_model(scratch / "demo" / "model.keras"), image_folder(demo.DATA, image_size=(224, 224))


def int8_data(model, data: Path, batch_size: int = 32):
    """-> (every training image, held-out images, held-out labels, `model`'s held-out outputs) of the image
    folder `data` at the model's input size; the first 100 training images calibrate int8, as a run's export."""
    import numpy as np

    from kerastl.data import image_folder

    images = image_folder(data, image_size=tuple(model.inputs[0].shape[1:3]))
    train = np.concatenate([x.numpy() for x, _ in images.train])
    held_out = np.concatenate([x.numpy() for x, _ in images.val])
    labels = np.concatenate([y.numpy() for _, y in images.val])
    return train, held_out, labels, model.predict(held_out, verbose=0, batch_size=batch_size)


def int8_files(model, calibration, scratch: Path, rules: dict[str, dict]) -> dict[str, Path]:
    """{variant: int8 file in `scratch`} for each of `rules` (variant -> keyword arguments of
    `tflite.quantize_int8`: blocks, head), all from one rounding (kerastl's, on the first ROUNDING_IMAGES of `calibration`,
    whose SavedModel stays in `scratch/rounded`) and one calibration on `calibration`, as an image model's
    export (uint8 input)."""
    from kerastl.export import tflite
    from kerastl.export.rounding import int8_rounded

    tflite._save_graph(int8_rounded(model, calibration[:tflite.ROUNDING_IMAGES]), f"{scratch}/rounded")
    calibrated = tflite.converter(f"{scratch}/rounded", "int8", calibration).convert()
    files = {}
    for i, (variant, rule) in enumerate(rules.items()):
        files[variant] = Path(scratch) / f"int8_{i}.tflite"
        files[variant].write_bytes(tflite.quantize_int8(calibrated, **rule))
    return files


def accuracy(model, x, y) -> float:
    return float((model.predict(x, batch_size=64, verbose=0).argmax(1) == y).mean())
