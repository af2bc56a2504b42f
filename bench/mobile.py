"""Mobile deployment of three trained models: every TFLite variant's size, LiteRT batch-1 latency, agreement
with Keras (tensor level) and with `kerastl predict` end to end in MediaPipe Tasks, and accuracy.

    .venv/bin/python bench/mobile.py [--recipe plain|default] [--result mobile]

Each model is a whole `kerastl.train_run` (what `kerastl train` does) with the plain two-phase recipe
(`common.PLAIN_TWO_PHASE`: fixed, so the figures stay comparable across changes of the default) or, with
`--recipe default`, kerastl's current default (the augmented recipe on images), asked for all four TFLite
variants (kerastl writes "dynamic" only on request). Its export verifies every variant in a fresh process
on the held-out photos and runs the TFLite files through MediaPipe's ImageClassifier on the held-out photo
*files* (decoded by libjpeg-turbo, as phones do; fp32 also by MediaPipe's Python file reader):
- demo: the bundled 500 + 200 sign digits (the data `make demo` trains on);
- sign digits, all 2062 photos, 20 % held out;
- shifted sign digits: another appearance of other photos (`bench/domain_adaptation.shift`: grayscale,
  inverted, colour cast), 50 photos per class to train and 200 held out, written as JPEG files.
Per model, this process then converts five 8-bit files from one calibration and one rounding (kernels
rounded in one pass, with bias correction), scores them on the same held-out photos (top-1 agreement plainly
and with ties excused, `kerastl.export.agreements`; how far they move the log scores) and times them and
fp32 at batch 1, interleaved (5 rounds of 10 calls each): int8 with one downsampling block in float (`tflite.float_ops`: the input
normalisation, the stem stage, the first downsampling block and the head; what kerastl ships unless
`select_int8` predicts a miss); the same through the second downsampling block (`float_ops(blocks=2)`,
its next rule); the same with the head in int8
(`float_ops(head=False)`); int8 with only the normalisation and the stem stage in float
(`float_ops(blocks=0, head=False)`, kerastl's rule before); int16x8 (16-bit activations; kerastl
does not ship it). For scale, the float model is also scored against itself on its held-out photos saved
again as JPEG and moved by one pixel (`input_changes`).
"""
import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (PLAIN_TWO_PHASE, ROOT, SIGN_DIGITS, int8_data, int8_files, plain_two_phase,  # noqa: E402
                    write_result)
from domain_adaptation import shift  # noqa: E402
from int8_latency import interleaved_ms, p50  # noqa: E402
from quantization import converter  # noqa: E402

import tensorflow as tf  # noqa: E402

from kerastl import demo  # noqa: E402
from kerastl.data import few_shot_split, load_images  # noqa: E402
from kerastl.data.image_folder import index_folder  # noqa: E402
from kerastl.export import agreements, runners, tflite  # noqa: E402
from kerastl.export.fresh_process import predict  # noqa: E402
from kerastl.train.run import train_run  # noqa: E402

import keras  # noqa: E402

VARIANTS = ("fp32", "fp16", "dynamic", "int8")
# side-by-side int8 variant -> keyword arguments of tflite.quantize_int8
INT8_RULES = {"int8": {}, "int8, two blocks in float": {"blocks": 2}, "int8, head in int8": {"head": False},
              "int8, stem stage alone in float": {"blocks": 0, "head": False}}


def shifted_folder(root: Path, per_class: int = 50, held_out: int = 200) -> Path:
    """train/ and val/ class folders of shifted sign-digit JPEGs (photos disjoint from each other)."""
    for split, pairs in zip(("train", "val"), few_shot_split(SIGN_DIGITS, per_class, held_out, seed=1)):
        _write_shifted(pairs, root / split)
    return root


def unseen_photos(data: str, scratch: Path) -> list[tuple[Path, int]]:
    """(file, class index) of every sign-digit photo that the bench's data set `data` does not use: "demo"
    (the bundled 500 + 200) or "shifted" (`shifted_folder`'s; these are written shifted into `scratch`, as
    `shifted_folder` writes its own)."""
    classes, pairs, _ = index_folder(SIGN_DIGITS)
    everything = [(Path(f), classes.index(name)) for f, name in pairs]
    if data == "demo":
        used = {f.name for f in demo.DATA.rglob("*") if f.is_file()}
        return [(f, label) for f, label in everything if f.name not in used]
    used = {f for pairs in few_shot_split(SIGN_DIGITS, 50, 200, seed=1) for f, _ in pairs}
    _, pairs, _ = index_folder(_write_shifted([(f, label) for f, label in everything if f not in used], scratch / "unseen"))
    return [(Path(f), int(name)) for f, name in pairs]


def _write_shifted(pairs: list[tuple[Path, int]], folder: Path) -> Path:
    """`folder/<class index>/<i>.jpg`: the photos of `pairs` shifted (`domain_adaptation.shift`), JPEG quality 95."""
    images, labels = load_images(pairs, 100)
    for i, (image, label) in enumerate(zip(shift(images), labels)):
        path = folder / str(label) / f"{i}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(tf.io.encode_jpeg(image.astype("uint8"), quality=95).numpy())
    return folder


def side_by_side(run_dir: Path, name: str, data: Path) -> dict:
    """fp32 and five 8-bit files timed at batch 1 in this process, interleaved (5 rounds of 10 calls); the 8-bit
    ones, converted here from one rounding and calibration, scored on the held-out photos: the int8 files of
    INT8_RULES, int16x8. Also the float model on its held-out photos re-saved and moved (`input_changes`)."""
    model = keras.models.load_model(run_dir / "model.keras")
    train, held_out, _, reference = int8_data(model, data)
    calibration = train[:100]
    files = {"fp32": run_dir / "export" / name / "1" / "tflite" / f"{name}_fp32.tflite"}
    with tempfile.TemporaryDirectory() as scratch:
        files.update(int8_files(model, calibration, Path(scratch), INT8_RULES))
        files["int16x8"] = Path(scratch) / "int16x8.tflite"
        files["int16x8"].write_bytes(converter(f"{scratch}/rounded", "int16x8", calibration).convert())
        runs = {m: runners.tflite(path) for m, path in files.items()}
        times = interleaved_ms(runs, held_out[:1], rounds=5, per_round=10)
        latency = {m: round(ms, 3) for m, ms in p50(times).items()}
        scores = {}
        for m in files:
            outputs, _ = predict(runs[m], held_out)
            scores[m] = {"size_vs_fp32": round(files[m].stat().st_size / files["fp32"].stat().st_size, 3),
                         **agreements(outputs, reference), "max_abs_diff": float(np.abs(outputs - reference).max()),
                         "mean_squared_diff": float(((outputs - reference) ** 2).sum(-1).mean()),
                         "log_score_rms": log_score_rms(outputs, reference)}
    return {"p50_ms_b1": latency, "speedup_vs_fp32": {m: round(latency["fp32"] / ms, 2) for m, ms in latency.items()},
            "scores": scores, "float_input_changes": input_changes(model, held_out, reference)}


def input_changes(model, held_out: np.ndarray, reference: np.ndarray) -> dict:
    """The float model against itself on the held-out photos saved again as JPEG (quality 95, as phones and
    `_write_shifted` save) and moved one pixel to the right (edge repeated): how far its log scores move
    (`log_score_rms`) and how often its top class changes, plainly and with ties excused."""
    pixels = held_out.round().clip(0, 255).astype("uint8")
    changed = {"saved again as JPEG, quality 95": np.stack(
                   [tf.io.decode_jpeg(tf.io.encode_jpeg(image, quality=95)).numpy() for image in pixels]),
               "moved one pixel": np.concatenate([held_out[:, :, :1], held_out[:, :, :-1]], axis=2)}
    rows = {}
    for change, images in changed.items():
        outputs = model.predict(images.astype("float32"), batch_size=32, verbose=0)
        rows[change] = {**agreements(outputs, reference), "log_score_rms": log_score_rms(outputs, reference)}
    return rows


def log_score_rms(outputs: np.ndarray, reference: np.ndarray) -> float:
    """The root mean square of the change in log scores, each photo's changes centred over its classes (a
    shift common to every class moves no decision)."""
    change = tflite._log(outputs) - tflite._log(reference)
    return round(float(np.sqrt(((change - change.mean(-1, keepdims=True)) ** 2).mean())), 4)


def model_rows(data: Path, out: Path, name: str, options: dict) -> dict:
    metrics = train_run(data, out, name=name, quantize=VARIANTS, **options)
    artefacts = json.loads((out / "export" / name / "1" / "export_report.json").read_text())["artefacts"]
    fp32 = artefacts["tflite_fp32"]["size_bytes"]
    rows = {}
    for mode in VARIANTS:
        row = artefacts[f"tflite_{mode}"]
        mediapipe = row.get("mediapipe", {})
        rows[mode] = {"size_mb": round(row["size_bytes"] / 1e6, 2), "size_vs_fp32": round(row["size_bytes"] / fp32, 3),
                      "p50_ms_b1": row["p50_ms_b1"], "top1_agreement": row["top1_agreement"],
                      "tie_tolerant_agreement": row["tie_tolerant_agreement"],
                      "max_abs_diff": row["max_abs_diff"], "threshold": row["threshold"],
                      "mediapipe_agreement": mediapipe.get("agreement"), "mediapipe_accuracy": mediapipe.get("accuracy"),
                      "mediapipe_p50_ms": mediapipe.get("p50_ms"), "refused": mediapipe.get("refused"),
                      "mediapipe_file_reader_agreement": mediapipe.get("file_reader_agreement"),
                      "passed": row["passed"], **({"float_ops": row["float_ops"]} if "float_ops" in row else {})}
    return {"train_images": metrics["train_images"], "held_out": metrics["val_images"],
            "keras_accuracy": metrics["val_accuracy"], "rows": rows, "side_by_side": side_by_side(out, name, data)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipe", choices=("plain", "default"), default="plain",
                        help="plain: common.PLAIN_TWO_PHASE; default: train_run's own defaults")
    parser.add_argument("--result", default="mobile", help="writes zoo/results/<result>.json")
    args = parser.parse_args()
    options = plain_two_phase() if args.recipe == "plain" else {}
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        models = {
            "demo (bundled 500 + 200 sign digits)": (demo.DATA, "sign_digits"),
            "sign digits, all 2062 photos": (SIGN_DIGITS, "sign_digits_full"),
            "shifted sign digits, 50 per class": (shifted_folder(scratch / "shifted"), "shifted_digits"),
        }
        results = {}
        for label, (data, name) in models.items():
            results[label] = model_rows(data, scratch / name, name, options)
            print(label, json.dumps(results[label], indent=1), flush=True)
    recipe = (f"plain two-phase, {PLAIN_TWO_PHASE.relative_to(ROOT)}" if args.recipe == "plain"
              else "kerastl's default (train_run without options: the augmented two-phase recipe on images)")
    recipe += " (efficientnet_lite0, 224 px)"
    write_result(args.result, {"recipe": recipe, "models": results},
                 command=" ".join(["python bench/mobile.py", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
