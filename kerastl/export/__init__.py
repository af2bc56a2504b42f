"""`export`: a kerastl model -> SavedModel (TF Serving), TFLite and ONNX, each verified in a fresh process.

Layout of one export (`<out>/<name>/<version>/`, the directory TF Serving loads; it ignores the rest):
    saved_model.pb, variables/, assets.extra/tf_serving_warmup_requests   SavedModel, 3 signatures
    tflite/<name>_{fp32,fp16,int8}.tflite (dynamic on request)             TFLite, with TFLite Metadata
    onnx/<name>.onnx                                                       ONNX (opset 17)
    labels.txt (classification/segmentation), export_report.json         class names, parity report
Image models take RGB pixels, audio models (task audio_classification) mono waveforms: see
`saved_model` for the signatures of each.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from kerastl.errors import ExportVerificationError, InvalidArgumentError
from kerastl.heads import HUB_TASKS, head_of, task_of
from kerastl.data import pixels
from kerastl.data.audio_folder import fit_length, read_wav
from kerastl.export import hub_tasks, runners
from kerastl.export.onnx_format import write_onnx
from kerastl.export.saved_model import SIGNATURES, write_saved_model
from kerastl.export.tflite import MODES, NEAR_TIE, disagreements, write_tflite
from kerastl.io import atomic_dir
from kerastl.models import sample_rate_of
from kerastl.progress import logger, phase

FORMATS = ("saved_model", "tflite", "onnx")
# TFLite modes of argmax tasks by input. Audio has no "dynamic": dynamic-range quantisation would round the
# log-mel frontend's DFT and mel matrices to int8 too (MediaPipe then agreed with Keras on 0.34 of the held-out
# clips), and TFLite's dynamic-range converter cannot keep chosen ops in float as int8's can.
QUANTIZE = {"image": MODES, "waveform": ("fp32", "fp16", "int8")}
# Written unless `quantize` says otherwise: "dynamic" only on request. Its hybrid kernels quantise every
# layer's input at run time, none kept in float: in the exports of three models (`zoo/results/mobile_ties.json`,
# x86) it took 11.4-11.8 ms at batch 1 against fp32's 5.2-9.5 and missed its bound on one, while int8 (30 % of
# fp32, dynamic 28 %) took 2.6-3.3 ms and met it on all three.
DEFAULT_QUANTIZE = ("fp32", "fp16", "int8")
MEDIAPIPE_TASKS = ("classification", "audio_classification")  # run end to end in ImageClassifier / AudioClassifier
_NOUNS = {"image": "images", "waveform": "waveforms"}
VERIFY_IMAGES = 256  # enough that one disagreement in a hundred shows
# artefact -> (measure, bound): fp32 paths must match Keras, quantised ones must agree on the class, ties excused
# (`tie_tolerant_agreement`: a class the float model scores within 5 % of its best counts as agreeing, NEAR_TIE).
THRESHOLDS = {
    "saved_model": ("max_abs_diff", 1e-4), "onnx": ("max_abs_diff", 1e-4), "tflite_fp32": ("max_abs_diff", 1e-4),
    "tflite_fp16": ("max_abs_diff", 1e-2), "tflite_dynamic": ("tie_tolerant_agreement", 0.99),
    "tflite_int8": ("tie_tolerant_agreement", 0.99),
    # fp32 in MediaPipe (its resize or resampling of the files, decoded as a phone decodes them) vs kerastl predict
    # on the same files; the quantised variants are reported end to end and bounded tensor-level above
    "mediapipe_fp32": ("top1_agreement", 0.99),
}
AGREEMENTS = {"top1_agreement": 0.0, "tie_tolerant_agreement": NEAR_TIE}  # measure -> its `tflite.disagreements` tie
MEASURES = ("max_abs_diff", *AGREEMENTS)


def export(
    model: keras.Model,
    out_dir: str | os.PathLike,
    formats: tuple[str, ...] = FORMATS,
    *,
    name: str = "model",
    version: int = 1,
    labels: list[str] | None = None,
    quantize: tuple[str, ...] | None = None,
    representative_data=None,
    verify_data=None,
    verify_files: list[tuple[str | os.PathLike, int]] | None = None,
    thresholds: dict[str, tuple[str, float]] | None = None,
    strict: bool = True,
) -> dict:
    """Export `model` to `<out_dir>/<name>/<version>/` and verify every artefact; returns the report.

    `representative_data`: real training inputs (images, or waveforms for audio models; an array or a
    dataset of (inputs, labels)) that calibrate int8 (first 100) and choose how fp16/int8 kernels round
    (first 32, see `kerastl.export.rounding`); `verify_data`: real inputs the artefacts are compared on
    (first 256; default: the representative ones). A classifier's int8 keeps one downsampling block in
    float, or more (up to `tflite.INT8_BLOCKS[-1]`) where int8's error on the calibration inputs that rounded
    no kernel predicts it would miss its bound on the verify inputs (`tflite.select_int8`; the report's
    `float_ops` says which and why). `verify_files`: held-out image (or WAV) files with
    their class index; a classifier's TFLite files then also run end to end in MediaPipe Tasks'
    ImageClassifier (AudioClassifier), file -> label as on a phone, compared with `kerastl predict` on
    the same files (needs mediapipe: `pip install 'kerastl[mobile]'`); images are decoded by
    libjpeg-turbo (as phones' decoders are), and fp32 also by MediaPipe's Python file reader (reported only).
    `quantize`: TFLite modes (QUANTIZE); default ("fp32", "fp16", "int8") for argmax tasks (classification,
    segmentation), which are checked on argmax agreement ("dynamic" on request, images only: see
    DEFAULT_QUANTIZE), and ("fp32", "fp16") for tasks with continuous outputs.
    `thresholds` overrides entries of THRESHOLDS with a measure of MEASURES and its bound, e.g.
    {"tflite_int8": ("top1_agreement", 0.99)} to count a near-tie flipped as a disagreement too.
    Raises ExportVerificationError (and writes nothing) when an artefact misses its threshold; with
    `strict=False` everything is written, the report marks the misses (`"passed": false`) and a
    warning names them.
    """
    if set(thresholds or {}) - set(THRESHOLDS):
        raise InvalidArgumentError(f"thresholds keys must be among {sorted(THRESHOLDS)}, got {sorted(thresholds)}")
    unknown = sorted({measure for measure, _ in (thresholds or {}).values()} - set(MEASURES))
    if unknown:
        raise InvalidArgumentError(f"thresholds measures must be among {list(MEASURES)}, got {unknown}")
    if any(measure != "top1_agreement" for key, (measure, _) in (thresholds or {}).items() if key.startswith("mediapipe_")):
        raise InvalidArgumentError("MediaPipe end-to-end thresholds are on top1_agreement (its class on the files)")
    bounds = {**THRESHOLDS, **(thresholds or {})}
    if task_of(model) in HUB_TASKS:
        return _warn_misses(hub_tasks.export_saved_model(
            model, out_dir, formats, name=_checked_name(name, version), version=version, verify_data=verify_data,
            threshold=bounds["saved_model"], strict=strict))
    task = head_of(model)
    if not task.argmax and any(measure in AGREEMENTS for measure, _ in (thresholds or {}).values()):
        raise InvalidArgumentError(f"a {task_of(model)} model has no classes to agree on: its thresholds are on "
                                   "max_abs_diff")
    modes = QUANTIZE[task.input] if task.argmax else ("fp32", "fp16")
    formats, quantize = tuple(formats), tuple(quantize or [m for m in modes if m in DEFAULT_QUANTIZE])
    _check(formats, FORMATS, "formats")
    _check(quantize, modes, "quantize")
    _checked_name(name, version)
    num_classes = model.outputs[0].shape[-1]
    if task.argmax:
        labels = [str(i) for i in range(num_classes)] if labels is None else [str(label) for label in labels]
        if len(labels) != num_classes:
            raise InvalidArgumentError(f"{len(labels)} labels for a model with {num_classes} outputs")
    elif labels is not None:
        raise InvalidArgumentError(f"labels name classes; a {task_of(model)} model has none (drop labels=)")
    calibration = _inputs(representative_data, model, limit=100) if representative_data is not None else None
    if "tflite" in formats and "int8" in quantize and calibration is None:
        raise InvalidArgumentError(f"int8 needs representative_data: ~100 real training {_NOUNS[task.input]} "
                                   "(or drop 'int8')")
    source = verify_data if verify_data is not None else representative_data
    if source is None:
        raise InvalidArgumentError(f"pass verify_data (real {_NOUNS[task.input]}) so every artefact can be checked "
                                   "against Keras")
    images = _inputs(source, model, limit=VERIFY_IMAGES)
    reference = model.predict(images, batch_size=32, verbose=0)

    with atomic_dir(Path(out_dir) / name / str(version)) as tmp:
        artefacts, int8_choice = {}, None
        if "saved_model" in formats:
            with phase(f"export: SavedModel ({len(SIGNATURES[task.input])} signatures, warm-up requests)"):
                write_saved_model(model, task, tmp, labels, name, images)
            artefacts["saved_model"] = "."
        if "tflite" in formats:
            (tmp / "tflite").mkdir()
            written, int8_choice = write_tflite(model, tmp / "tflite", name, quantize, calibration,
                                                _metadata(model, name, version, labels), task.input,
                                                _int8_target(reference, bounds["tflite_int8"]))
            for mode, path in written.items():
                artefacts[f"tflite_{mode}"] = str(path.relative_to(tmp))
        if "onnx" in formats:
            (tmp / "onnx").mkdir()
            with phase("export: ONNX"):
                write_onnx(model, tmp / "onnx" / f"{name}.onnx", task.key, kind=task.input)
            artefacts["onnx"] = f"onnx/{name}.onnx"
        if labels is not None:
            (tmp / "labels.txt").write_text("\n".join(labels) + "\n")
        report = {"name": name, "version": version, "task": task_of(model), "images": len(images),
                  "artefacts": verify(model, tmp, artefacts, images, bounds,
                                      verify_files if task_of(model) in MEDIAPIPE_TASKS else None, reference)}
        if int8_choice:
            report["artefacts"]["tflite_int8"]["float_ops"] = int8_choice
        finish(tmp, report, strict)
    return _warn_misses(report)


def check_formats(formats: tuple[str, ...], quantize: tuple[str, ...] | None = None, *, kind: str = "image") -> None:
    """InvalidArgumentError for an unknown format or TFLite mode (of a classifier taking `kind` inputs): lets a
    caller refuse them before any work."""
    _check(tuple(formats), FORMATS, "formats")
    if quantize is not None:
        _check(tuple(quantize), QUANTIZE[kind], "quantize")


def finish(tmp: Path, report: dict, strict: bool) -> dict:
    """Write `tmp/export_report.json`; on a missed threshold with `strict`, raise (so `atomic_dir`
    keeps nothing). Returns `report`."""
    (tmp / "export_report.json").write_text(json.dumps(report, indent=2) + "\n")
    failed = [a for a, row in report["artefacts"].items() if not row["passed"]]
    if failed and strict:
        refused = "".join(f"\nMediaPipe refused {a}: {report['artefacts'][a]['mediapipe']['refused']}" for a in failed
                          if "refused" in report["artefacts"][a].get("mediapipe", {}))
        raise ExportVerificationError(f"export failed verification for {failed}; nothing written.\n{table(report)}"
                                      + refused + "".join(_int8_note(report, a) for a in failed))
    return report


def _int8_note(report: dict, artefact: str) -> str:
    """For an int8 file that missed its agreement bound: what `select_int8` predicted of it on these inputs,
    and what avoids the miss."""
    row = report["artefacts"][artefact]
    if "float_ops" not in row:
        return ""
    ((measure, bound),) = row["threshold"].items()
    if passes(row[measure], measure, bound):
        return ""  # it missed for another reason (MediaPipe refused it)
    choice = row["float_ops"]
    chosen = next(t for t in choice["tried"] if t["blocks"] == choice["float_blocks"])
    n, last = report["images"], max(t["blocks"] for t in choice["tried"])
    why = (f"which meets the bound on average; the agreement measured on {n} inputs was predicted to meet it with "
           f"probability {chosen['p_meets_bound']:.2f}" if choice["predicted_to_meet_bound"] else
           f"more than the bound allows on {n} inputs with every rule tried (up to {last} downsampling "
           f"block{'s' if last > 1 else ''} in float)")
    ties = " (ties excused)" if choice.get("near_tie") else ""
    return (f"\n{artefact}: {chosen['expected_disagreements']:.1f} disagreements with Keras{ties} were predicted, {why}. "
            f"fp16, or an int8 bound below {bound:g} (thresholds={{'tflite_int8': ('{measure}', ...)}}), avoids that.")


def passes(value: float, measure: str, bound: float) -> bool:
    """Whether `value` of `measure` meets `bound`: at most for max_abs_diff, at least for the agreements."""
    return value <= bound if measure == "max_abs_diff" else value >= bound


def _warn_misses(report: dict) -> dict:
    failed = [a for a, row in report["artefacts"].items() if not row["passed"]]
    if failed:  # stacklevel: the caller of export()
        warnings.warn(f"exported with strict=False although {failed} missed their thresholds (see "
                      "export_report.json)", stacklevel=3)
    return report


def verify(model: keras.Model, root: Path, artefacts: dict[str, str], images: np.ndarray,
           thresholds: dict[str, tuple[str, float]] = THRESHOLDS,
           files: list[tuple[str, int]] | None = None, reference: np.ndarray | None = None) -> dict[str, dict]:
    """Run every artefact in a fresh Python process on `images` (the model's inputs); compare with
    `model.predict` (`reference`, when already computed). With `files` (image or WAV files, class index),
    TFLite artefacts also classify the files in MediaPipe."""
    task = head_of(model)
    reference = model.predict(images, batch_size=32, verbose=0) if reference is None else reference
    end_to_end = [(str(f), int(y)) for f, y in files] if files and importlib.util.find_spec("mediapipe") else None
    with phase(f"verifying {len(artefacts)} artefact(s) on {len(images)} {_NOUNS[task.input]} in a fresh process"
               + (f", TFLite also end to end in MediaPipe on {len(end_to_end)} files" if end_to_end else "")):
        measured = run_fresh(root, artefacts, images, task.key, [f for f, _ in end_to_end or []], task.input,
                             _sample_rate(model))
    predicted = _predict_files(model, [f for f, _ in end_to_end]) if end_to_end else None
    rows = {}
    for artefact, relpath in artefacts.items():
        got = np.asarray(measured[artefact].pop("outputs"))
        row = {"path": relpath, "size_bytes": _size(root / relpath), "max_abs_diff": float(np.abs(got - reference).max()),
               **agreements(got, reference, task.argmax), **measured[artefact]}
        measure, bound = thresholds[artefact]
        signatures_ok = all(d <= 1e-4 for d in row.get("signatures_max_abs_diff", {}).values())
        passed = passes(row[measure], measure, bound) and signatures_ok
        if "mediapipe" in row:
            row["mediapipe"] = _end_to_end(row["mediapipe"], predicted, np.array([y for _, y in end_to_end]),
                                           row.pop("mediapipe_file_reader", None))
            passed = passed and "refused" not in row["mediapipe"] and (
                row["mediapipe"]["agreement"] >= _mediapipe_bound(thresholds, artefact))
        rows[artefact] = {**row, "threshold": {measure: bound}, "passed": bool(passed)}
        logger.info("  %s: %s %.4g (bound %g)%s: %s (checked in %.1f s)", artefact, measure, row[measure], bound,
                    _mediapipe_note(row.get("mediapipe"), _mediapipe_bound(thresholds, artefact)), "ok" if passed else "MISSED", row["seconds"])
    return rows


def agreements(got: np.ndarray, reference: np.ndarray, argmax: bool = True) -> dict[str, float | None]:
    """Each of AGREEMENTS of outputs `got` with the float model's `reference` (class scores on the last axis):
    the share of `got`'s top classes that are no `tflite.disagreements` at its tie; None for outputs that are
    not scores."""
    return {measure: float((~disagreements(reference, got.argmax(-1), tie)).mean()) if argmax else None
            for measure, tie in AGREEMENTS.items()}


def _int8_target(reference: np.ndarray, threshold: tuple[str, float]) -> tuple[np.ndarray, float, float] | None:
    """`write_tflite`'s int8 target: a classifier's (class scores, top-1 agreement bound, tie margin); None for
    other outputs (a segmenter's per-pixel scores keep INT8_BLOCKS[0]) or a measure that is no agreement."""
    measure, bound = threshold
    return (reference, bound, AGREEMENTS[measure]) if measure in AGREEMENTS and reference.ndim == 2 else None


def _predict_files(model: keras.Model, files: list[str]) -> np.ndarray:
    """`kerastl predict`'s class index for each file: images as `kerastl.data.pixels`, WAV files as
    `kerastl.data.audio_folder` (resampled, the first window)."""
    return model.predict(file_inputs(model, files).batch(32), verbose=0).argmax(-1)


def file_inputs(model: keras.Model, files: list[str]) -> tf.data.Dataset:
    """The inputs `model` sees for `files`, in order, unbatched: an image model's pixels (`pixels.files`), or an
    audio model's waveforms (`read_wav` at its sample rate, `fit_length`'s first window). ValueError for a WAV
    file that is none."""
    if head_of(model).input == "image":
        return pixels.files(files, tuple(model.inputs[0].shape[1:3]))
    rate, length = _sample_rate(model), model.inputs[0].shape[1]
    return tf.data.Dataset.from_tensor_slices(np.stack([fit_length(read_wav(f, rate), length) for f in files]))


def _sample_rate(model: keras.Model) -> int | None:
    """An audio model's sample rate; None for image models."""
    return sample_rate_of(model) if head_of(model).input == "waveform" else None


def _end_to_end(measured: dict, predicted: np.ndarray, labels: np.ndarray, file_reader: dict | None = None) -> dict:
    """MediaPipe's classes on the files -> agreement with kerastl predict, both accuracies, latency; with
    `file_reader` (its classes of the files as its Python reader decodes them), that agreement too (reported)."""
    if "refused" in measured:
        return measured
    classes = np.asarray(measured["classes"])
    row = {"files": len(classes), "agreement": float((classes == predicted).mean()),
           "accuracy": float((classes == labels).mean()), "kerastl_accuracy": float((predicted == labels).mean()),
           "p50_ms": measured["p50_ms"]}
    if file_reader and "classes" in file_reader:
        row["file_reader_agreement"] = float((np.asarray(file_reader["classes"]) == predicted).mean())
    return row


def _mediapipe_bound(thresholds: dict[str, tuple[str, float]], artefact: str) -> float:
    return thresholds.get(artefact.replace("tflite_", "mediapipe_"), ("top1_agreement", 0.0))[1]


def _mediapipe_note(row: dict | None, bound: float | None) -> str:
    if row is None:
        return ""
    if "refused" in row:
        return f"; MediaPipe refused it: {row['refused']}"
    return (f"; MediaPipe end to end: agreement {row['agreement']:.3f}" + (f" (bound {bound:g})" if bound else "")
            + (f", {row['file_reader_agreement']:.3f} from its Python file reader" if "file_reader_agreement" in row else ""))


def _metadata(model: keras.Model, name: str, version: int, labels: list[str] | None) -> dict | None:
    """`with_metadata`'s arguments for the TFLite files, or None (with a warning) without mediapipe."""
    if importlib.util.find_spec("mediapipe") is None:
        warnings.warn("TFLite files written without TFLite Metadata, so MediaPipe Tasks will refuse them: "
                      "pip install 'kerastl[mobile]'", stacklevel=3)
        return None
    if head_of(model).input == "waveform":
        rate = _sample_rate(model)
        return {"task": task_of(model), "name": name, "version": version, "labels": labels, "sample_rate": rate,
                "description": f"kerastl {task_of(model)} model: mono waveform, {model.inputs[0].shape[1]} samples "
                               f"at {rate} Hz, in [-1, 1] (log-mel spectrogram inside the model)."}
    height, width = model.inputs[0].shape[1:3]
    return {"task": task_of(model), "name": name, "version": version, "labels": labels,
            "description": f"kerastl {task_of(model)} model: RGB image {height}x{width}, pixels 0-255 "
                           "(normalised inside the model)."}


def _checked_name(name: str, version: int) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", str(name)):
        raise InvalidArgumentError(f"name must be letters, digits, '_', '.', '-', got {name!r}")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InvalidArgumentError(f"version must be a positive int (TF Serving's version folder), got {version!r}")
    return name


def run_fresh(root: Path, artefacts: dict[str, str], inputs: np.ndarray, key: str,
              files: list[str] = (), kind: str = "image", sample_rate: int | None = None) -> dict:
    """`python -m kerastl.export.fresh_process` on `inputs`: each artefact's outputs and latencies,
    measured in a process that never saw the Keras model; with `files` (of the model's input `kind`,
    "image" or "waveform" at `sample_rate` Hz), MediaPipe's classes of them."""
    with tempfile.TemporaryDirectory() as scratch:
        np.save(Path(scratch) / "inputs.npy", inputs)
        (Path(scratch) / runners.INPUTS).write_text(json.dumps({"kind": kind, "files": list(files),
                                                                "sample_rate": sample_rate}))
        out = Path(scratch) / "out.json"
        command = [sys.executable, "-m", "kerastl.export.fresh_process", str(root), str(Path(scratch) / "inputs.npy"),
                   str(out), key, *(f"{a}={p}" for a, p in artefacts.items())]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise ExportVerificationError(f"the exported artefacts did not load in a fresh process:\n{done.stderr[-3000:]}")
        return json.loads(out.read_text())


def table(report: dict) -> str:
    """The parity report as a Markdown table."""
    lines = ["| artefact | size (MB) | max abs diff | top-1 agreement (ties excused) | p50 b1 (ms) | p50 b32 (ms) "
             "| threshold | MediaPipe: agreement / accuracy (kerastl) / ms | ok |", "|---|---|---|---|---|---|---|---|---|"]
    for artefact, row in report["artefacts"].items():
        (measure, bound), = row["threshold"].items()
        lines.append(f"| {artefact} | {row['size_bytes'] / 1e6:.2f} | {row['max_abs_diff']:.2e} | "
                     f"{agreement_cell(row)} | {row['p50_ms_b1']:.2f} | {row['p50_ms_b32']:.1f} | "
                     f"{measure} {'≤' if measure == 'max_abs_diff' else '≥'} {bound:g} | {_mediapipe_cell(row.get('mediapipe'))} "
                     f"| {'yes' if row['passed'] else 'NO'} |")
    return "\n".join(lines)


def agreement_cell(row: dict) -> str:
    """A report row's top-1 agreement and, in brackets, the same with ties excused ('–' for non-classifiers)."""
    if row["top1_agreement"] is None:
        return "–"
    return f"{row['top1_agreement']:.3f} ({row['tie_tolerant_agreement']:.3f})"


def _mediapipe_cell(row: dict | None) -> str:
    if row is None:
        return "–"
    if "refused" in row:
        return "refused"
    return f"{row['agreement']:.3f} / {row['accuracy']:.3f} ({row['kerastl_accuracy']:.3f}) / {row['p50_ms']:.2f}"


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and f.suffix not in (".tflite", ".onnx"))


def _check(given: tuple[str, ...], allowed: tuple[str, ...], arg: str) -> None:
    unknown = [g for g in given if g not in allowed]
    if unknown or not given:
        raise InvalidArgumentError(f"{arg} must be a non-empty subset of {allowed}, got {given!r}")


def _inputs(data, model: keras.Model, limit: int) -> np.ndarray:
    """Up to `limit` of the model's inputs as float32 (n, ...) from an array or a dataset of inputs / (inputs,
    labels)."""
    if not isinstance(data, np.ndarray):
        batches = []
        for element in data:
            batches.append(np.asarray(element[0] if isinstance(element, tuple) else element))
            if sum(len(b) for b in batches) >= limit:
                break
        data = np.concatenate(batches) if batches else np.zeros((0,))
    expected = tuple(model.inputs[0].shape[1:])
    if data.shape[1:] != expected or not len(data):
        raise InvalidArgumentError(f"export data must be {_NOUNS[head_of(model).input]} of shape "
                                   f"(n, {', '.join(map(str, expected))}), got shape {data.shape}")
    return data[:limit].astype("float32")
