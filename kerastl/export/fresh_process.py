"""Run exported artefacts in this (fresh) process: predictions on real images and p50 latencies.

    python -m kerastl.export.fresh_process EXPORT_DIR INPUTS.npy OUT.json KEY ARTEFACT=RELPATH ...

Beside INPUTS.npy, `inputs.json` says what the inputs are: {"kind": "image" or "waveform", "files": [...],
"sample_rate": Hz of a waveform}. Each TFLite artefact also classifies those files in MediaPipe Tasks'
ImageClassifier (image files) or AudioClassifier (WAV files), as a phone app would: its class per file
and p50 ms; fp32 also on the images as MediaPipe's own Python file reader decodes them.
"""
from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from kerastl.export import runners


def p50_ms(run, x: np.ndarray, repeats: int) -> float:
    run(x)  # warm-up (graph tracing, tensor allocation)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(x)
        times.append(time.perf_counter() - start)
    return round(1000 * statistics.median(times), 3)


def predict(run, images: np.ndarray, batch: int = 32) -> tuple[np.ndarray, float | None]:
    """(outputs on `images` in batches of `batch`, p50 ms of a full batch when there are 3 or more)."""
    run(images[:batch])  # warm-up
    outputs, times = [], []
    for i in range(0, len(images), batch):
        start = time.perf_counter()
        outputs.append(run(images[i:i + batch]))
        if len(outputs[-1]) == batch:
            times.append(time.perf_counter() - start)
    return np.concatenate(outputs), round(1000 * statistics.median(times), 3) if len(times) >= 3 else None


def _signatures(path: Path, images: np.ndarray, key: str, rate: int | None) -> dict[str, float]:
    """Max |Δ| of serving_uint8 (integer pixels) and serving_bytes (PNG, same size) vs serving_default;
    for waveforms at `rate` Hz, of serving_wav (16-bit WAV files) vs serving_default on the same samples."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))  # once, for every signature
    if rate is not None:
        samples = np.round(np.clip(images, -1, 32767 / 32768) * 32768) / 32768  # what 16-bit PCM holds exactly
        default = runners.saved_model(path, key, loaded=loaded)(samples.astype("float32"))
        wavs = tf.constant([tf.audio.encode_wav(s[:, None], rate).numpy() for s in samples.astype("float32")])
        return {"serving_wav": float(np.abs(loaded.signatures["serving_wav"](wav_bytes=wavs)[key].numpy() - default).max())}
    pixels = np.clip(np.round(images), 0, 255).astype("uint8")
    default = runners.saved_model(path, key, loaded=loaded)(pixels.astype("float32"))
    as_uint8 = runners.saved_model(path, key, "serving_uint8", loaded=loaded)(pixels)
    function = loaded.signatures["serving_bytes"]
    encoded = tf.constant([tf.io.encode_png(p).numpy() for p in pixels])
    as_bytes = function(image_bytes=encoded)[key].numpy()
    return {"serving_uint8": float(np.abs(as_uint8 - default).max()),
            "serving_bytes": float(np.abs(as_bytes - default).max())}


def mediapipe_inputs(kind: str, files: list[str]) -> list:
    """The files as a phone app hands them to MediaPipe: images decoded by libjpeg-turbo (Pillow; the
    library phones' and browsers' decoders are built on, bit-identical to `kerastl.data.pixels.decode`) into
    `mp.Image` RGB pixels, WAV files as their samples at the file's own rate (`AudioData`; MediaPipe
    resamples them to the model's rate)."""
    if kind == "image":
        import mediapipe as mp
        from PIL import Image

        def rgb(path: str) -> np.ndarray:
            with Image.open(path) as image:
                return np.asarray(image.convert("RGB"))

        return [mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb(f)) for f in files]
    from mediapipe.tasks.python.components.containers.audio_data import AudioData

    from kerastl.data.audio_folder import read_pcm

    return [AudioData.create_from_array(*read_pcm(f)) for f in files]


def mediapipe_file_reader(files: list[str]) -> list:
    """The image files as MediaPipe's own Python reader decodes them (`mp.Image.create_from_file`, stb_image:
    not libjpeg's IDCT nor its chroma upsampling, so JPEG pixels differ from every phone decoder's)."""
    import mediapipe as mp

    return [mp.Image.create_from_file(f) for f in files]


def mediapipe_classes(path: Path, kind: str, inputs: list) -> dict:
    """{"classes": the top class MediaPipe's ImageClassifier (AudioClassifier: of the first window) gives
    each of `mediapipe_inputs`, "p50_ms": per input}, or {"refused": its message}."""
    from mediapipe.tasks.python import audio, vision
    from mediapipe.tasks.python.core.base_options import BaseOptions

    task = vision.ImageClassifier if kind == "image" else audio.AudioClassifier
    options = (vision.ImageClassifierOptions if kind == "image" else audio.AudioClassifierOptions)(
        base_options=BaseOptions(model_asset_path=str(path)), max_results=1)
    try:
        classifier = task.create_from_options(options)
    except (RuntimeError, ValueError, OSError) as error:  # MediaPipe raises FileNotFoundError for bad metadata
        return {"refused": str(error).strip().splitlines()[-1][:500]}
    with classifier:
        classes, times = [], []
        for item in inputs:
            start = time.perf_counter()
            result = classifier.classify(item)
            times.append(time.perf_counter() - start)
            classes.append((result if kind == "image" else result[0]).classifications[0].categories[0].index)
    return {"classes": classes, "p50_ms": round(1000 * statistics.median(times[1:] or times), 3)}


def main(argv: list[str]) -> None:
    root, images, out, key = Path(argv[0]), np.load(argv[1]), Path(argv[2]), argv[3]
    listed = json.loads(Path(argv[1]).with_name(runners.INPUTS).read_text())
    files = mediapipe_inputs(listed["kind"], listed["files"]) if listed["files"] else []
    batch32 = np.resize(images, (32, *images.shape[1:]))
    results = {}
    for item in argv[4:]:
        artefact, relpath = item.split("=", 1)
        start = time.perf_counter()
        run = runners.load(artefact, root / relpath, key)
        outputs, batch_ms = predict(run, images)
        results[artefact] = {"outputs": outputs.tolist(), "p50_ms_b32": batch_ms or p50_ms(run, batch32, 3),
                             "p50_ms_b1": p50_ms(run, images[:1], 20)}
        if files and artefact.startswith("tflite"):
            results[artefact]["mediapipe"] = mediapipe_classes(root / relpath, listed["kind"], files)
        if files and artefact == "tflite_fp32" and listed["kind"] == "image":
            results[artefact]["mediapipe_file_reader"] = mediapipe_classes(
                root / relpath, "image", mediapipe_file_reader(listed["files"]))
        if artefact == "saved_model" and ":" not in key and images.dtype.kind == "f":  # image and audio models
            results[artefact]["signatures_max_abs_diff"] = _signatures(root / relpath, images[:8], key,
                                                                       listed.get("sample_rate"))
        results[artefact]["seconds"] = round(time.perf_counter() - start, 2)
    out.write_text(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1:])
