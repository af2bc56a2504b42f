"""A whole training run on an image folder -> a run directory (what `kerastl train` and the demo do).

    <out>/model.keras  best.keras  labels.txt  metrics.json  history.csv  curves.png  confusion.png  MODEL_CARD.md
    <out>/export/<name>/1/   (with export=True: SavedModel, TFLite, ONNX and export_report.json)

`<out>` appears only when the whole run has succeeded (it is built under a temporary name). While the
run trains, `<out>.work/` holds its state, stamped with the run's fingerprint (the data listing, the
options, the kerastl version): the same call after an interruption resumes from it (phase 2 from its
last finished epoch; a finished training goes straight to evaluation and export); any other run is
refused that directory unless it passes `overwrite=True`, which discards it.

On a cluster (`strategy="multi_worker"`, or "auto" with TF_CONFIG set), every worker runs the same call:
each reads its own share of the training files, and only the chief writes `<out>` and `<out>.work/`
(the others keep their caches in a temporary directory). A restarted cluster resumes from the chief's
`<out>.work/`: every worker takes the chief's restored state.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from kerastl.data import audio_folder, image_folder, tfds_images
from kerastl.data.audio_folder import looks_like_audio, speaker_list
from kerastl.distribute import get_strategy, is_chief, is_multi_worker, sum_over_workers, worker_shard
from kerastl.errors import ClusterError, InvalidArgumentError, first_line
from kerastl.export import FORMATS, agreement_cell, check_formats, table
from kerastl.export import export as export_model
from kerastl.io import atomic_dir, atomic_file, write_text
from kerastl.heads import task_of
from kerastl.models import build
from kerastl.progress import logger, phase
from kerastl.train.callbacks import read_history, run_callbacks
from kerastl.train.options import describe, resolve
from kerastl.train.recipes import fine_tune, selection
from kerastl.train.reports import confusion_matrix, predict_labels, save_confusion, save_curves
from kerastl.zoo import get

FINGERPRINT = "fingerprint.json"
TRAINED = "trained.keras"  # in <out>.work/: training finished, only evaluation and export remain
CACHE = "cache"  # in <out>.work/: decoded images and phase-1 features that exceed memory_gb
BATCH_SIZE = 32  # global: on a cluster each replica takes BATCH_SIZE / replicas


def train_run(data: str | Path, out: str | Path, *, export: bool = True, formats: tuple[str, ...] | None = None,
              quantize: tuple[str, ...] | None = None, overwrite: bool = False, **options: Any) -> dict:
    """Train on `data` and write the run directory `out`; returns metrics.json's content.

    `data`: a folder (<class>/<image>, or train/ + val/), or "tfds:<name>" (TFDS train/test splits,
    prepared in `tfds_dir`), or a folder of WAV files (<class>/<clip>.wav, or named by `label_pattern`),
    which trains an audio_classification model (`sample_rate`, `seconds`; `image_size` is then the
    spectrogram image's size). `options`: kerastl.train.options.OPTIONS (backbone, recipe, epochs, ...),
    all checked before any data is read (unset ones: IMAGE_DEFAULTS in a two_phase run on images). An
    existing `out` is refused unless `overwrite`. `export`: verified exports in `out/export/` (`formats`
    and `quantize` as in kerastl.export, with its defaults).
    """
    audio = not str(data).startswith("tfds:") and looks_like_audio(data)
    options = resolve(options, "train_run", images=not audio)
    spec = get(options["backbone"])
    out, work = Path(out), Path(f"{out}.work")
    _check_out(out, data, overwrite)
    if export:
        check_formats(formats or FORMATS, quantize, kind="waveform" if audio else "image")
    fingerprint = _fingerprint(data, options)
    resumed = _resumes(work, fingerprint, overwrite)
    strategy = get_strategy(options["strategy"])  # the run's first TensorFlow op: a cluster connects here
    chief, (worker, workers) = is_chief(strategy), worker_shard(strategy)
    if not chief:  # a cluster's other workers write nothing of the run: caches only, in a directory of their own
        work, resumed = Path(tempfile.mkdtemp(prefix=f"kerastl-worker{worker}-")), False
    started = time.perf_counter()
    keras.utils.set_random_seed(options["seed"])
    size = options["image_size"] or spec.input_size
    batch_size = BATCH_SIZE // strategy.num_replicas_in_sync if is_multi_worker(strategy) else BATCH_SIZE
    noun = "clips" if audio else "images"
    with phase(f"indexing the {noun}" + (f" (worker {worker} of {workers} reads its share: 1 training file in "
                                         f"{workers})" if workers > 1 else "")):
        if audio:
            images = audio_folder(data, sample_rate=options["sample_rate"], seconds=options["clip_seconds"],
                                  label_pattern=options["label_pattern"], seed=options["seed"], batch_size=batch_size,
                                  held_out_speakers=speaker_list(options["held_out_speakers"]), shard=(worker, workers))
        elif str(data).startswith("tfds:"):
            images = tfds_images(str(data)[5:], data_dir=options["tfds_dir"], image_size=(size, size),
                                 seed=options["seed"], batch_size=batch_size, shard=(worker, workers),
                                 memory_bytes=int(options["memory_gb"] * 1e9))
        else:
            images = image_folder(data, image_size=(size, size), seed=options["seed"], cache_dir=work / CACHE,
                                  memory_bytes=int(options["memory_gb"] * 1e9), batch_size=batch_size,
                                  shard=(worker, workers))
    monitor = "val_accuracy" if images.val is not None else "accuracy"
    if chief and not resumed:  # the data loaded: from here on this run has state worth keeping
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        write_text(work / FINGERPRINT, json.dumps(fingerprint, sort_keys=True))
    shutil.rmtree(work / CACHE, ignore_errors=True)  # a killed process's caches: never complete, never reused
    (work / CACHE).mkdir()
    finished = (work / TRAINED).is_file()  # training finished before an interruption
    if workers > 1:  # every worker takes the chief's word
        finished = sum_over_workers(strategy, chief and finished) > 0
    if finished and not chief:
        return _worker_done(work, worker, workers)
    if finished:
        logger.info("training finished before the interruption: resuming at evaluation (%s)", work)
        model = keras.models.load_model(work / TRAINED)
        histories = json.loads((work / "histories.json").read_text())
    else:
        if resumed:
            logger.info("resuming the interrupted run from %s", work)
        model = build(options["backbone"], num_classes=len(images.class_names), input_shape=(size, size, 3),
                      task="audio_classification" if audio else "classification", sample_rate=options["sample_rate"],
                      seconds=options["clip_seconds"], precision=options["precision"], strategy=strategy)
        with phase(f"training {spec.name} on {len(images.files.get('train', [])) or 'the'} {noun} "
                   f"({describe(options)})" + (f" on {workers} workers" if workers > 1 else "")):
            try:
                share = images.files.get("train", [])[worker::workers]  # this worker's files (none listed: TFDS)
                histories = fine_tune(
                    model, images.train, images.val, verbose=0, cache_dir=work / CACHE,
                    steps_per_epoch=-(-len(share) // batch_size) or None,
                    callbacks=run_callbacks(work if chief else None, monitor=monitor, patience=options["patience"],
                                            resume=options["recipe"] != "gradual"),
                    **{k: v for k, v in options.items() if k in inspect.signature(fine_tune).parameters})
            except (tf.errors.UnavailableError, tf.errors.CancelledError) as error:
                if workers == 1:
                    raise
                raise ClusterError(
                    f"lost contact with a worker of the {workers}-worker cluster ({first_line(error)[:200]}); "
                    f"the state of the last finished epoch is in the chief's {Path(f'{out}.work')}: start every "
                    "worker again with the same command to resume (a TFJob does so)") from None
        if not chief:
            return _worker_done(work, worker, workers)
        if "fine_tune" in histories:  # the log written across resumes, not only this process's epochs
            histories["fine_tune"] = read_history(work / "history.csv")
            if resumed and images.val is not None and selection(histories)[0] == "fine_tune":
                # the best epoch may predate the interruption, which fine_tune's selection did not see
                model.set_weights(keras.models.load_model(work / "best.keras").get_weights())
        write_text(work / "histories.json", json.dumps(histories, default=float))
        with atomic_file(work / TRAINED) as tmp:
            model.save(tmp)
        if workers > 1:  # evaluation and export on the chief alone, on a copy outside the cluster's strategy
            model = keras.models.load_model(work / TRAINED)
    train_seconds = time.perf_counter() - started
    n_train, n_val = images.count("train"), images.count("val")

    with phase(f"evaluating on {n_val or n_train} {'held-out' if n_val else 'training'} {noun}"):
        evaluated = images.val if images.val is not None else images.train
        y_true, y_pred = predict_labels(model, evaluated)
    matrix = confusion_matrix(y_true, y_pred, len(images.class_names))
    if images.test is not None:  # the model was chosen on val: test/ gives the unbiased figure
        with phase("scoring the test split"):
            t_true, t_pred = predict_labels(model, images.test)
    metrics = {
        **options, "task": task_of(model), "backbone": spec.name, "weights": "imagenet", "data": str(data),
        "image_size": size,
        "train_images": n_train, "val_images": n_val, "skipped_files": images.skipped,
        "val_accuracy_frozen": round(histories["head"]["val_accuracy"][-1], 4)
        if histories["head"].get("val_accuracy") else None,
        "val_accuracy": round(float((y_true == y_pred).mean()), 4),
        "selected": dict(zip(("phase", "epoch", "value", "monitor"), selection(histories))) if n_val else None,
        **({"test_images": len(t_true), "test_accuracy": round(float((t_true == t_pred).mean()), 4)}
           if images.test is not None else {}),
        "seconds": {"training": round(train_seconds, 1)},
        "class_names": images.class_names, "confusion_matrix": matrix.tolist(),
    }
    with atomic_dir(out, overwrite=overwrite) as tmp:
        model.save(tmp / "model.keras")
        if (work / "best.keras").is_file():  # best fine-tuning epoch by held-out accuracy
            shutil.copy(work / "best.keras", tmp / "best.keras")
        (tmp / "labels.txt").write_text("\n".join(images.class_names) + "\n")
        _write_history(histories, tmp / "history.csv")
        save_curves(histories, tmp / "curves.png")
        save_confusion(matrix, images.class_names, tmp / "confusion.png")
        report = None
        if export:
            with warnings.catch_warnings():  # the misses are in metrics.json, the card and the summary
                warnings.filterwarnings("ignore", message="exported with strict=False")
                report = export_model(model, tmp / "export", formats or FORMATS, name=options["name"],
                                      labels=images.class_names, quantize=quantize, representative_data=images.train,
                                      verify_data=evaluated, verify_files=images.val_files, strict=False)
            metrics["export"] = {a: {k: row[k] for k in ("max_abs_diff", "top1_agreement", "tie_tolerant_agreement", "size_bytes", "passed")}
                                 for a, row in report["artefacts"].items()}
        metrics["seconds"]["total"] = round(time.perf_counter() - started, 1)
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2))
        (tmp / "MODEL_CARD.md").write_text(model_card(metrics, spec, report, options["name"]))
    shutil.rmtree(work, ignore_errors=True)
    logger.info("wrote %s/", out)
    return metrics


def _worker_done(work: Path, worker: int, workers: int) -> dict:
    """A non-chief worker's end: its caches removed; the chief evaluates and writes the run."""
    shutil.rmtree(work, ignore_errors=True)
    logger.info("worker %d of %d: training done; the chief evaluates and writes the run directory", worker, workers)
    return {"worker": worker, "workers": workers}


def _check_out(out: Path, data: str | Path, overwrite: bool) -> None:
    """Refuse an `out` that exists (unless `overwrite`), is a file, has no name, or holds the data."""
    resolved = out.resolve()
    if out.name in ("", ".", ".."):
        raise InvalidArgumentError(f"--out {str(out)!r} names no directory; pass e.g. runs/NAME")
    if out.exists() and not overwrite:
        raise InvalidArgumentError(f"{str(out)!r} already exists; choose another --out or pass --overwrite")
    if out.exists() and not out.is_dir():
        raise InvalidArgumentError(f"--out {str(out)!r} is a file; pass a directory path")
    if not str(data).startswith("tfds:") and (resolved == Path(data).resolve()
                                             or resolved in Path(data).resolve().parents):
        raise InvalidArgumentError(f"--out {str(out)!r} would replace the data folder {str(data)!r}; choose another --out")


def _fingerprint(data: str | Path, options: dict) -> dict:
    """What makes a run the same run: the data's file listing (names, sizes, times), the options that
    shape training, and the kerastl version."""
    import kerastl

    listing = hashlib.sha256()
    if str(data).startswith("tfds:"):
        listing.update(f"{data}\0{options['tfds_dir']}".encode())
    else:
        root = Path(data)
        if not root.is_dir():
            raise InvalidArgumentError(f"--data {str(root)!r} is not a folder; expected <path>/<class>/<image>")
        for folder, subfolders, files in os.walk(root):
            subfolders.sort()
            for name in sorted(files):
                stat = os.stat(os.path.join(folder, name))
                listing.update(f"{os.path.relpath(os.path.join(folder, name), root)}\0{stat.st_size}\0"
                               f"{stat.st_mtime_ns}\n".encode())
    where = str(data) if str(data).startswith("tfds:") else str(Path(data).resolve())
    return {"data": where, "listing": listing.hexdigest(), "kerastl": kerastl.__version__,
            "options": {k: v for k, v in options.items() if k != "name"}}


def _resumes(work: Path, fingerprint: dict, overwrite: bool) -> bool:
    """True when `work` holds an interrupted attempt of this very run; refuses another run's state
    unless `overwrite` (then it is discarded once the data has loaded)."""
    stamp = work / FINGERPRINT
    if not work.exists() or (work.is_dir() and not any(work.iterdir())):  # none, or killed before its stamp
        return False
    previous = json.loads(stamp.read_text()) if stamp.is_file() else None
    if previous == fingerprint:
        return True
    if not overwrite:
        before = (previous or {}).get("options", {})
        differs = [f"{key} {(previous or {}).get(key)!r} -> {fingerprint[key]!r}" for key in ("data", "kerastl")
                   if previous and previous.get(key) != fingerprint[key]]
        differs += ["the data files"] if previous and previous.get("listing") != fingerprint["listing"] else []
        differs += [f"{k} {before.get(k)!r} -> {v!r}" for k, v in fingerprint["options"].items()
                    if previous and before.get(k) != v]
        raise InvalidArgumentError(
            f"{str(work)!r} holds the state of a different interrupted run ({'; '.join(differs[:4]) or 'no fingerprint'}"
            f"{'; ...' if len(differs) > 4 else ''}); rerun that exact command to resume it, or pass --overwrite to "
            "discard it")
    return False


def _write_history(histories: dict[str, dict[str, list[float]]], path: Path) -> None:
    import csv

    keys = sorted({k for h in histories.values() for k in h})
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["phase", "epoch", *keys])
        for phase_name, history in histories.items():
            for epoch in range(len(history.get("loss", []))):
                writer.writerow([phase_name, epoch + 1, *(history[k][epoch] if k in history else "" for k in keys)])


def summary(metrics: dict) -> str:
    """The run's result as printed by `kerastl train` and the demo: accuracy per phase, exports."""
    split = "held-out" if metrics["val_images"] else "training (no held-out split)"
    lines = [f"| phase | {split} accuracy |", "|---|---|"]
    if metrics["val_accuracy_frozen"] is not None:
        lines.append(f"| 1: head on frozen (cached) features | {metrics['val_accuracy_frozen']:.3f} |")
    kept = metrics.get("selected") or {}
    kept = {"head": " (phase 2 did not beat phase 1: the phase-1 model is kept)",
            "fine_tune": f" (fine-tuning epoch {kept.get('epoch')}, the best on the held-out split)"}.get(kept.get("phase"), "")
    lines.append(f"| final: {describe(metrics)}{kept} | {metrics['val_accuracy']:.3f} |")
    if "test_accuracy" in metrics:
        lines.append(f"| final on the test split ({metrics['test_images']} images, never used to choose) | "
                     f"{metrics['test_accuracy']:.3f} |")
    if "export" in metrics:
        lines += ["", f"exports in export/{metrics['name']}/1/ (parity report: export_report.json):", "",
                  "| artefact | size (MB) | max abs diff | top-1 agreement (ties excused) | meets its threshold |",
                  "|---|---|---|---|---|"]
        for artefact, row in metrics["export"].items():
            lines.append(f"| {artefact} | {row['size_bytes'] / 1e6:.2f} | {row['max_abs_diff']:.2e} | {agreement_cell(row)} | "
                         f"{'yes' if row['passed'] else 'NO (kept, marked in the report)'} |")
    return "\n".join(lines)


def model_card(metrics: dict, spec, report: dict | None, name: str) -> str:
    """MODEL_CARD.md: backbone and weights provenance, data, recipe, metrics, export artefacts."""
    audio = metrics.get("task") == "audio_classification"
    frozen = "" if metrics["val_accuracy_frozen"] is None else f" (head only: {metrics['val_accuracy_frozen']:.3f})"
    lines = [
        f"# Model card: {name}", "",
        f"- **Task**: {'audio' if audio else 'image'} classification, {len(metrics['class_names'])} classes: "
        f"{', '.join(metrics['class_names'])}",
        f"- **Backbone**: `{spec.name}` ({spec.description}); licence: {spec.licence}",
        f"- **Data**: `{metrics['data']}` — {metrics['train_images']} training / {metrics['val_images']} held-out "
        + ("clips" if audio else "images"),
        f"- **Recipe**: {describe(metrics)}; {metrics['image_size']} px; {metrics['precision']}; seed {metrics['seed']}",
        f"- **{'Held-out' if metrics['val_images'] else 'Training (no held-out split)'} accuracy**: "
        f"{metrics['val_accuracy']:.3f}{frozen}" + (" (this split also chose the model: phase 1 or the best "
                                                    "fine-tuning epoch)" if metrics.get("selected") else ""),
        *([f"- **Test accuracy** ({metrics['test_images']} images of test/, never used to choose): "
           f"{metrics['test_accuracy']:.3f}"] if "test_accuracy" in metrics else []),
        ("- **Input**: a mono waveform, float32 in [-1, 1], {clip_seconds:g} s at {sample_rate} Hz (the first {clip_seconds:g} s "
         "of a clip, zero-padded); its log-mel spectrogram is computed inside the model".format(**metrics) if audio else
         "- **Input**: RGB pixels 0–255, preprocessing inside the model") + "; output: class probabilities (float32)",
        "- **Limits**: measured only on the held-out split above; accuracy on other "
        + ("microphones, rooms, accents or speakers" if audio else "cameras, lighting or populations") + " is unknown.",
    ]
    if report:
        lines += ["", "## Exports (`export/`, each checked against Keras in a fresh process)", "", table(report)]
        choice = report["artefacts"].get("tflite_int8", {}).get("float_ops")
        if choice:
            lines += ["", f"int8 keeps {choice['float_blocks']} downsampling block(s) in float: "
                      f"{choice['expected_disagreements']:.1f} disagreements with Keras"
                      f"{' (ties excused)' if choice.get('near_tie') else ''} were predicted on the held-out images "
                      "before they were run (`export_report.json`, `float_ops`)."]
    return "\n".join(lines) + "\n"
