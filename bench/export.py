"""Every export of the demo model (Lite0 fine-tuned on sign digits, 224 px) side by side with Keras.

    .venv/bin/python bench/export.py

Trains the demo model (`kerastl.demo.run`, two-phase), exports all formats with `kerastl.export`
(each run in a fresh process on the 200 held-out images) and times Keras `predict` in this process.
A benchmark measures: it exports with strict=False and records which thresholds were met.
"""
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEMO_MODEL, demo_model, write_result  # noqa: E402

import kerastl  # noqa: E402
from kerastl.export import table  # noqa: E402
from kerastl.export.fresh_process import p50_ms  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        model, images = demo_model(Path(scratch))
        report = kerastl.export(model, Path(scratch) / "export", name="sign_digits", labels=images.class_names,
                                representative_data=images.train, verify_data=images.val, strict=False)
    held_out = np.concatenate([x.numpy() for x, _ in images.val])
    batch32 = np.resize(held_out, (32, *held_out.shape[1:]))
    predict = lambda x: model.predict(x, verbose=0)  # noqa: E731
    keras_row = {"p50_ms_b1": p50_ms(predict, held_out[:1], 20), "p50_ms_b32": p50_ms(predict, batch32, 5)}
    rows = report["artefacts"]
    fp32, int8 = rows["tflite_fp32"], rows["tflite_int8"]
    print(table(report))
    write_result("export", {
        "model": DEMO_MODEL,
        "verify_images": report["images"], "keras_predict": keras_row, "artefacts": rows,
        "int8_size_vs_fp32": round(int8["size_bytes"] / fp32["size_bytes"], 3),
        "int8_top1_agreement": int8["top1_agreement"],
        "thresholds_missed": [a for a, row in rows.items() if not row["passed"]],
        "tflite_fp32_b1_speedup_vs_keras_predict": round(keras_row["p50_ms_b1"] / fp32["p50_ms_b1"], 1),
    }, command="python bench/export.py")


if __name__ == "__main__":
    main()
