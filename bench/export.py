"""Every export of a real `kerastl train` run (Lite0 fine-tuned on the 2062 sign digits) beside Keras.

    .venv/bin/python bench/export.py

Runs `kerastl train --recipe zoo/efficientnet_lite0_two_phase.toml` on ../shared/data/sign_digits
(1650 training / 412 held-out photos), whose export verifies every artefact in a fresh process on the
first 256 held-out photos, then times Keras `predict` on the trained model in this process.
A benchmark measures: the run exports with strict=False and the JSON records which thresholds were met.
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, SIGN_DIGITS, write_result  # noqa: E402

import keras  # noqa: E402

from kerastl.data import image_folder  # noqa: E402
from kerastl.export import table  # noqa: E402
from kerastl.export.fresh_process import p50_ms  # noqa: E402

RECIPE = "zoo/efficientnet_lite0_two_phase.toml"


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        run = Path(scratch) / "run"
        subprocess.run([sys.executable, "-m", "kerastl", "train", "--data", str(SIGN_DIGITS), "--out", str(run),
                        "--recipe", RECIPE, "--name", "sign_digits"], check=True, cwd=ROOT)
        report = json.loads((run / "export" / "sign_digits" / "1" / "export_report.json").read_text())
        metrics = json.loads((run / "metrics.json").read_text())
        model = keras.models.load_model(run / "model.keras")
    held_out = next(iter(image_folder(SIGN_DIGITS, image_size=(224, 224)).val))[0].numpy()
    batch32 = np.resize(held_out, (32, *held_out.shape[1:]))
    predict = lambda x: model.predict(x, verbose=0)  # noqa: E731
    keras_row = {"p50_ms_b1": p50_ms(predict, held_out[:1], 20), "p50_ms_b32": p50_ms(predict, batch32, 5)}
    rows = report["artefacts"]
    fp32, int8 = rows["tflite_fp32"], rows["tflite_int8"]
    print(table(report))
    write_result("export", {
        "model": f"efficientnet_lite0, {RECIPE}, trained by `kerastl train` on {metrics['train_images']} sign digits "
                 f"(held-out accuracy {metrics['val_accuracy']})",
        "verify_images": report["images"], "keras_predict": keras_row, "artefacts": rows,
        "int8_size_vs_fp32": round(int8["size_bytes"] / fp32["size_bytes"], 3),
        "int8_top1_agreement": int8["top1_agreement"],
        "thresholds_missed": [a for a, row in rows.items() if not row["passed"]],
        "tflite_fp32_b1_speedup_vs_keras_predict": round(keras_row["p50_ms_b1"] / fp32["p50_ms_b1"], 1),
    }, command="python bench/export.py")


if __name__ == "__main__":
    main()
