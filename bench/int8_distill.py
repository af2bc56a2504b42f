"""int8 from quantisation-aware distillation against kerastl's post-training int8, side by side.

    .venv/bin/python bench/int8_distill.py RUN DATA [RUN DATA ...] [--distill 150:1e-5:calibration ...]
                                           [--rounding-images 100 ...] [--result int8_distill]

RUN: a `kerastl train` run directory (its model.keras), DATA: the image folder it trained on. Per model,
the calibration images are the first 100 training images (as `bench/mobile.py`), the scores are on the
held-out split: top-1 agreement and max |dp| of each int8 file against the Keras model, and the
distillation's seconds. Variants: int8 as kerastl ships it (one-pass rounded kernels, `tflite.float_ops` in
float: first ops and head), the same with the head in int8 too (`float_ops(head=False)`), the same with its kernels
rounded on the first N calibration images (shipped: `tflite.ROUNDING_IMAGES`) per `--rounding-images N`, and one
`qat.int8_distilled` copy per `--distill STEPS:LR:IMAGES` (IMAGES: the 100 calibration images or all
training images, which also set the simulation's activation ranges; the file is calibrated on the 100),
converted like the shipped one but from its own kernels (already on the int8 grid; its simulation keeps
only the stem stage in float, `qat.with_fake_quant(float_stem=True)`).
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import int8_data, write_result  # noqa: E402
from qat import int8_distilled  # noqa: E402

import keras  # noqa: E402

from kerastl.export import agreements, runners, tflite  # noqa: E402
from kerastl.export.fresh_process import predict  # noqa: E402
from kerastl.export.rounding import int8_rounded  # noqa: E402


def scores(path: Path, held_out: np.ndarray, reference: np.ndarray) -> dict:
    outputs, _ = predict(runners.tflite(path), held_out)
    return {**agreements(outputs, reference),
            "max_abs_diff": round(float(np.abs(outputs - reference).max()), 4),
            "mean_squared_diff": float(((outputs - reference) ** 2).sum(-1).mean()),
            "size_bytes": path.stat().st_size}


def model_rows(run: Path, data: Path, distill: list[str], rounding_images: list[int]) -> dict:
    model = keras.models.load_model(run / "model.keras")
    train, held_out, labels, reference = int8_data(model, data)
    calibration = train[:100]
    rows = {}
    with tempfile.TemporaryDirectory() as scratch:
        def int8_file(source: keras.Model, label: str, head: bool = True) -> None:
            graph = f"{scratch}/{len(rows)}"
            tflite._save_graph(source, graph)
            calibrated = tflite.converter(graph, "int8", calibration).convert()
            path = Path(scratch) / f"{len(rows)}.tflite"
            path.write_bytes(tflite.quantize_int8(calibrated, head=head))
            rows[label] = scores(path, held_out, reference)
            print(label, rows[label], flush=True)

        rounded = int8_rounded(model, calibration[:tflite.ROUNDING_IMAGES])
        int8_file(rounded, "int8 as shipped")
        int8_file(rounded, "int8, head in int8 too", head=False)
        for n in rounding_images:
            int8_file(int8_rounded(model, calibration[:n]), f"int8, kernels rounded on {n} calibration images")
        for spec in distill:
            steps, learning_rate, source = spec.split(":")
            pool = calibration if source == "calibration" else train
            start = time.perf_counter()
            distilled, losses = int8_distilled(model, pool, steps=int(steps), learning_rate=float(learning_rate))
            seconds = round(time.perf_counter() - start, 1)
            label = f"int8, distilled {steps} steps at lr {learning_rate} on {len(pool)} images"
            int8_file(distilled, label)
            tenth = max(1, len(losses) // 10)
            rows[label].update({
                "distill_seconds": seconds, "loss_first_tenth": round(float(np.mean(losses[:tenth])), 4),
                "loss_last_tenth": round(float(np.mean(losses[-tenth:])), 4),
                "float_student_agreement": float((distilled.predict(held_out, verbose=0).argmax(-1)
                                                  == reference.argmax(-1)).mean())})
    return {"held_out": len(held_out), "keras_accuracy": float((reference.argmax(-1) == labels).mean()), "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("pairs", nargs="+", help="RUN DATA pairs")
    parser.add_argument("--distill", nargs="*", default=["150:1e-5:calibration"],
                        help="STEPS:LR:IMAGES, IMAGES calibration or train")
    parser.add_argument("--rounding-images", type=int, nargs="*", default=[],
                        help="also int8 with the kernels rounded on this many calibration images (at most 100)")
    parser.add_argument("--result", default="int8_distill")
    args = parser.parse_args()
    if len(args.pairs) % 2:
        parser.error("give RUN DATA pairs")
    for spec in args.distill:
        if len(spec.split(":")) != 3 or spec.split(":")[2] not in ("calibration", "train"):
            parser.error(f"--distill takes STEPS:LR:IMAGES with IMAGES calibration or train, got {spec!r}")
    results = {}
    for run, data in zip(args.pairs[::2], args.pairs[1::2]):
        results[run] = model_rows(Path(run), Path(data), args.distill, args.rounding_images)
    write_result(args.result, {"models": results}, command=" ".join(["python bench/int8_distill.py", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
