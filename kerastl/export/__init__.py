"""`export`: a kerastl model -> SavedModel (TF Serving), TFLite and ONNX, each verified in a fresh process.

Layout of one export (`<out>/<name>/<version>/`, the directory TF Serving loads; it ignores the rest):
    saved_model.pb, variables/, assets.extra/tf_serving_warmup_requests   SavedModel, 3 signatures
    tflite/<name>_{fp32,fp16,dynamic,int8}.tflite                          TFLite
    onnx/<name>.onnx                                                       ONNX (opset 17)
    labels.txt (classification/segmentation), export_report.json         class names, parity report
"""
from __future__ import annotations

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

from kerastl.errors import ExportVerificationError, InvalidArgumentError
from kerastl.heads import HUB_TASKS, head_of, task_of
from kerastl.export import hub_tasks
from kerastl.export.onnx_format import write_onnx
from kerastl.export.saved_model import write_saved_model
from kerastl.export.tflite import MODES, write_tflite
from kerastl.io import atomic_dir
from kerastl.progress import logger, phase

FORMATS = ("saved_model", "tflite", "onnx")
VERIFY_IMAGES = 256  # enough that one disagreement in a hundred shows
# artefact -> (measure, bound): fp32 paths must match Keras, quantised ones must agree on the class.
THRESHOLDS = {
    "saved_model": ("max_abs_diff", 1e-4), "onnx": ("max_abs_diff", 1e-4), "tflite_fp32": ("max_abs_diff", 1e-4),
    "tflite_fp16": ("max_abs_diff", 1e-2), "tflite_dynamic": ("top1_agreement", 0.99),
    "tflite_int8": ("top1_agreement", 0.99),
}


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
    uint8_input: bool = False,
    thresholds: dict[str, tuple[str, float]] | None = None,
    strict: bool = True,
) -> dict:
    """Export `model` to `<out_dir>/<name>/<version>/` and verify every artefact; returns the report.

    `representative_data`: real training images (array or dataset of (images, labels)) that calibrate
    int8 (first 100) and choose how fp16/int8 kernels round (first 32, see `kerastl.export.rounding`);
    `verify_data`: real images the artefacts are compared on (first 256; default: the representative ones).
    `quantize`: TFLite modes; default all four for argmax tasks (classification, segmentation), which
    are checked on argmax agreement, and ("fp32", "fp16") for tasks with continuous outputs.
    `thresholds` overrides entries of THRESHOLDS, e.g. {"tflite_int8": ("top1_agreement", 0.98)}.
    Raises ExportVerificationError (and writes nothing) when an artefact misses its threshold; with
    `strict=False` everything is written, the report marks the misses (`"passed": false`) and a
    warning names them.
    """
    if set(thresholds or {}) - set(THRESHOLDS):
        raise InvalidArgumentError(f"thresholds keys must be among {sorted(THRESHOLDS)}, got {sorted(thresholds)}")
    bounds = {**THRESHOLDS, **(thresholds or {})}
    if task_of(model) in HUB_TASKS:
        return _warn_misses(hub_tasks.export_saved_model(
            model, out_dir, formats, name=_checked_name(name, version), version=version, verify_data=verify_data,
            threshold=bounds["saved_model"], strict=strict))
    task = head_of(model)
    continuous = ("fp32", "fp16")
    formats, quantize = tuple(formats), tuple(quantize or (MODES if task.argmax else continuous))
    _check(formats, FORMATS, "formats")
    _check(quantize, MODES if task.argmax else continuous, "quantize")
    _checked_name(name, version)
    num_classes = model.outputs[0].shape[-1]
    if task.argmax:
        labels = [str(i) for i in range(num_classes)] if labels is None else [str(label) for label in labels]
        if len(labels) != num_classes:
            raise InvalidArgumentError(f"{len(labels)} labels for a model with {num_classes} outputs")
    elif labels is not None:
        raise InvalidArgumentError(f"labels name classes; a {task_of(model)} model has none (drop labels=)")
    calibration = _images(representative_data, model, limit=100) if representative_data is not None else None
    if "tflite" in formats and "int8" in quantize and calibration is None:
        raise InvalidArgumentError("int8 needs representative_data: ~100 real training images (or drop 'int8')")
    source = verify_data if verify_data is not None else representative_data
    if source is None:
        raise InvalidArgumentError("pass verify_data (real images) so every artefact can be checked against Keras")
    images = _images(source, model, limit=VERIFY_IMAGES)

    with atomic_dir(Path(out_dir) / name / str(version)) as tmp:
        artefacts = {}
        if "saved_model" in formats:
            with phase("export: SavedModel (3 signatures, warm-up requests)"):
                write_saved_model(model, task, tmp, labels, name, images)
            artefacts["saved_model"] = "."
        if "tflite" in formats:
            (tmp / "tflite").mkdir()
            for mode, path in write_tflite(model, tmp / "tflite", name, quantize, calibration, uint8_input).items():
                artefacts[f"tflite_{mode}"] = str(path.relative_to(tmp))
        if "onnx" in formats:
            (tmp / "onnx").mkdir()
            with phase("export: ONNX"):
                write_onnx(model, tmp / "onnx" / f"{name}.onnx", task.key)
            artefacts["onnx"] = f"onnx/{name}.onnx"
        if labels is not None:
            (tmp / "labels.txt").write_text("\n".join(labels) + "\n")
        report = {"name": name, "version": version, "task": task_of(model), "images": len(images),
                  "artefacts": verify(model, tmp, artefacts, images, bounds)}
        finish(tmp, report, strict)
    return _warn_misses(report)


def check_formats(formats: tuple[str, ...], quantize: tuple[str, ...] | None = None) -> None:
    """InvalidArgumentError for an unknown format or TFLite mode: lets a caller refuse them before any work."""
    _check(tuple(formats), FORMATS, "formats")
    if quantize is not None:
        _check(tuple(quantize), MODES, "quantize")


def finish(tmp: Path, report: dict, strict: bool) -> dict:
    """Write `tmp/export_report.json`; on a missed threshold with `strict`, raise (so `atomic_dir`
    keeps nothing). Returns `report`."""
    (tmp / "export_report.json").write_text(json.dumps(report, indent=2) + "\n")
    failed = [a for a, row in report["artefacts"].items() if not row["passed"]]
    if failed and strict:
        raise ExportVerificationError(f"export failed verification for {failed}; nothing written.\n{table(report)}")
    return report


def passes(value: float, measure: str, bound: float) -> bool:
    """Whether `value` of `measure` meets `bound`: at most for max_abs_diff, at least for top1_agreement."""
    return value <= bound if measure == "max_abs_diff" else value >= bound


def _warn_misses(report: dict) -> dict:
    failed = [a for a, row in report["artefacts"].items() if not row["passed"]]
    if failed:  # stacklevel: the caller of export()
        warnings.warn(f"exported with strict=False although {failed} missed their thresholds (see "
                      "export_report.json)", stacklevel=3)
    return report


def verify(model: keras.Model, root: Path, artefacts: dict[str, str], images: np.ndarray,
           thresholds: dict[str, tuple[str, float]] = THRESHOLDS) -> dict[str, dict]:
    """Run every artefact in a fresh Python process on `images`; compare with `model.predict`."""
    task = head_of(model)
    reference = model.predict(images, batch_size=32, verbose=0)
    with phase(f"verifying {len(artefacts)} artefact(s) on {len(images)} images in a fresh process"):
        measured = run_fresh(root, artefacts, images, task.key)
    rows = {}
    for artefact, relpath in artefacts.items():
        got = np.asarray(measured[artefact].pop("outputs"))
        row = {"path": relpath, "size_bytes": _size(root / relpath), "max_abs_diff": float(np.abs(got - reference).max()),
               "top1_agreement": float((got.argmax(-1) == reference.argmax(-1)).mean()) if task.argmax else None,
               **measured[artefact]}
        measure, bound = thresholds[artefact]
        signatures_ok = all(d <= 1e-4 for d in row.get("signatures_max_abs_diff", {}).values())
        rows[artefact] = {**row, "threshold": {measure: bound},
                          "passed": bool(passes(row[measure], measure, bound) and signatures_ok)}
        logger.info("  %s: %s %.4g (bound %g): %s (checked in %.1f s)", artefact, measure, row[measure], bound,
                    "ok" if rows[artefact]["passed"] else "MISSED", row["seconds"])
    return rows


def _checked_name(name: str, version: int) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", str(name)):
        raise InvalidArgumentError(f"name must be letters, digits, '_', '.', '-', got {name!r}")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InvalidArgumentError(f"version must be a positive int (TF Serving's version folder), got {version!r}")
    return name


def run_fresh(root: Path, artefacts: dict[str, str], inputs: np.ndarray, key: str) -> dict:
    """`python -m kerastl.export.fresh_process` on `inputs`: each artefact's outputs and latencies,
    measured in a process that never saw the Keras model."""
    with tempfile.TemporaryDirectory() as scratch:
        np.save(Path(scratch) / "inputs.npy", inputs)
        out = Path(scratch) / "out.json"
        command = [sys.executable, "-m", "kerastl.export.fresh_process", str(root), str(Path(scratch) / "inputs.npy"),
                   str(out), key, *(f"{a}={p}" for a, p in artefacts.items())]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise ExportVerificationError(f"the exported artefacts did not load in a fresh process:\n{done.stderr[-3000:]}")
        return json.loads(out.read_text())


def table(report: dict) -> str:
    """The parity report as a Markdown table."""
    lines = ["| artefact | size (MB) | max abs diff | top-1 agreement | p50 b1 (ms) | p50 b32 (ms) | threshold | ok |",
             "|---|---|---|---|---|---|---|---|"]
    for artefact, row in report["artefacts"].items():
        (measure, bound), = row["threshold"].items()
        lines.append(f"| {artefact} | {row['size_bytes'] / 1e6:.2f} | {row['max_abs_diff']:.2e} | "
                     f"{'–' if row['top1_agreement'] is None else format(row['top1_agreement'], '.3f')} | {row['p50_ms_b1']:.2f} | {row['p50_ms_b32']:.1f} | "
                     f"{measure} {'≤' if measure == 'max_abs_diff' else '≥'} {bound:g} | {'yes' if row['passed'] else 'NO'} |")
    return "\n".join(lines)


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and f.suffix not in (".tflite", ".onnx"))


def _check(given: tuple[str, ...], allowed: tuple[str, ...], arg: str) -> None:
    unknown = [g for g in given if g not in allowed]
    if unknown or not given:
        raise InvalidArgumentError(f"{arg} must be a non-empty subset of {allowed}, got {given!r}")


def _images(data, model: keras.Model, limit: int) -> np.ndarray:
    """Up to `limit` images as float32 (n, H, W, 3) from an array or a dataset of images / (images, labels)."""
    if not isinstance(data, np.ndarray):
        batches = []
        for element in data:
            batches.append(np.asarray(element[0] if isinstance(element, tuple) else element))
            if sum(len(b) for b in batches) >= limit:
                break
        data = np.concatenate(batches) if batches else np.zeros((0,))
    expected = tuple(model.inputs[0].shape[1:])
    if data.ndim != 4 or data.shape[1:] != expected or not len(data):
        raise InvalidArgumentError(f"export data must be images of shape (n, {', '.join(map(str, expected))}), "
                                   f"got shape {data.shape}")
    return data[:limit].astype("float32")
