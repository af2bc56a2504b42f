"""SavedModel in TF Serving layout: signatures over one Keras model, plus warm-up requests.

Image models:
- serving_default: `image` float32 (batch, H, W, 3), RGB pixels in [0, 255]
- serving_uint8:   `image` uint8 (batch, H, W, 3)
- serving_bytes:   `image_bytes` string (batch,), encoded JPEG/PNG/GIF/BMP, decoded and resized inside
                   as `kerastl.data.pixels` (the convention of training, predict and MediaPipe)
Audio models:
- serving_default: `waveform` float32 (batch, samples), mono, in [-1, 1], at the model's sample rate
- serving_wav:     `wav_bytes` string (batch,), 16-bit PCM WAV files of any rate and channels, mixed to
                   mono, resampled and windowed inside as `kerastl.data.audio_folder` (`decode_wav`)
Each returns the model output under the task's key (`probabilities`, `values`, `embedding`); argmax
tasks add `class_id` int32 (per image, or per pixel for segmentation), classification adds `label`.
A request with NaN or Inf values, or of another size, fails with INVALID_ARGUMENT (HTTP 400)
instead of returning a made-up class.
"""
from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from kerastl.data import pixels
from kerastl.data.audio_folder import decode_wav
from kerastl.heads import Task
from kerastl.models import sample_rate_of

WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"
SIGNATURES = {"image": ("serving_default", "serving_uint8", "serving_bytes"),
              "waveform": ("serving_default", "serving_wav")}
_NOT_FINITE = {"image": "image pixels must be finite numbers (found NaN or Inf)",
               "waveform": "waveform samples must be finite numbers (found NaN or Inf)"}


def _signatures(model: keras.Model, task: Task, labels: list[str] | None) -> dict:
    shape = list(model.inputs[0].shape[1:])
    spec = tf.TensorSpec([None, *shape], tf.float32, name=task.input)

    @tf.function(input_signature=[spec])  # traced once; the other signatures call it
    def predict(inputs):
        # A clear INVALID_ARGUMENT for a wrong size (runtimes do not check placeholder shapes).
        inputs = tf.debugging.assert_all_finite(tf.ensure_shape(inputs, [None, *shape]), _NOT_FINITE[task.input])
        outputs = {task.key: tf.cast(model(inputs, training=False), tf.float32)}
        if task.argmax:
            outputs["class_id"] = tf.argmax(outputs[task.key], axis=-1, output_type=tf.int32)
        if task.argmax and labels is not None and len(outputs["class_id"].shape) == 1:
            outputs["label"] = tf.gather(tf.constant(labels), outputs["class_id"])
        return outputs

    def decoded(decode):
        return lambda encoded: predict(tf.map_fn(decode, encoded, fn_output_signature=tf.float32))

    if task.input == "waveform":
        rate = sample_rate_of(model)
        return {"serving_default": (predict, spec),
                "serving_wav": (decoded(lambda wav: decode_wav(wav, rate, shape[0])),
                                tf.TensorSpec([None], tf.string, name="wav_bytes"))}
    return {
        "serving_default": (predict, spec),
        "serving_uint8": (lambda image: predict(tf.cast(image, tf.float32)),
                          tf.TensorSpec([None, *shape], tf.uint8, name="image")),
        "serving_bytes": (decoded(lambda encoded: pixels.load(encoded, shape[:2])),
                          tf.TensorSpec([None], tf.string, name="image_bytes")),
    }


def write_saved_model(model: keras.Model, task: Task, path: Path, labels: list[str] | None, name: str,
                      warmup: np.ndarray) -> None:
    """Write the SavedModel to `path` (a version directory) with warm-up requests for model `name`."""
    archive = keras.export.ExportArchive()  # add_endpoint tracks the variables the endpoints use (tracking the
    # whole model too, which only lookup tables need, made each export 2 s slower)
    for signature, (fn, spec) in _signatures(model, task, labels).items():
        archive.add_endpoint(signature, fn, input_signature=[spec])
    archive.write_out(str(path), verbose=False)
    _write_warmup(path / WARMUP_FILE, name, task.input, warmup)


def _write_warmup(path: Path, name: str, kind: str, inputs: np.ndarray) -> None:
    """TF Serving replays these PredictRequests at load time, so the first real request is not slow."""
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "image":
        pixels = np.clip(np.round(inputs[:8]), 0, 255)
        requests = [("serving_default", pixels[:1].astype("float32")), ("serving_uint8", pixels.astype("uint8"))]
    else:
        requests = [("serving_default", inputs[:1].astype("float32"))]
    with tf.io.TFRecordWriter(str(path)) as writer:
        for signature, batch in requests:
            request = predict_pb2.PredictRequest(model_spec=model_pb2.ModelSpec(name=name, signature_name=signature))
            request.inputs[kind].CopyFrom(tf.make_tensor_proto(batch))
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())
